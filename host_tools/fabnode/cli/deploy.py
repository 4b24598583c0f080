"""``fabnode deploy``: the fabnode app onto a node that runs MicroPython."""

from __future__ import annotations

import json
from typing import Any

import click

from fabnode.boards import get_board
from fabnode.cli.options import baud_option, json_option, port_option
from fabnode.deploy import deploy as deploy_app
from fabnode.errors import UsageError
from fabnode.output import Progress, emit_json
from fabnode.repl import NodeRepl


@click.command()
@click.option("--board", "board_id", required=True, metavar="BOARD", help="Board id (see fabnode boards).")
@port_option
@baud_option
@click.option("--node-id", metavar="ID", help="Name the node (kept from the node's config when not given).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A node.json setting, e.g. telemetry_s=5 or machine_class=III (repeatable; docs/firmware.md).")
@click.option("--no-start", is_flag=True, help="Leave the node in the REPL instead of starting the app.")
@json_option
def deploy(board_id: str, port: str | None, baud: int | None, node_id: str | None, settings: tuple[str, ...],
           no_start: bool, as_json: bool) -> None:
    """Install or update the app: compile, write only what changed (verified), start it, check its hello."""
    if not port:
        raise UsageError("no port given", hint="pass -p PORT (see `fabnode ports`) or set FABNODE_PORT")
    board = get_board(board_id)
    with NodeRepl(port, baud or 115200) as repl:
        progress = Progress("deploy", 1, as_json)
        with progress.running():
            def on_progress(_task: str, done: int, total: int) -> None:
                progress.total = total
                progress.update(done)

            result = deploy_app(repl, board, node_id, _parse_settings(settings), progress=on_progress)
        hello = None if no_start else repl.restart_app()
    if as_json:
        emit_json({"event": "result", "ok": True, **result.to_json(),
                   "hello": hello.payload if hello else None})
        return
    click.echo(f"{port}: app {result.app_version} ({result.mpy_arch or 'bytecode'}): "
               f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.deleted)} removed; "
               f"{result.payload_bytes} bytes ({result.wire_bytes} on the wire) in {result.seconds:.1f} s")
    if hello:
        click.echo(f"{port}: node {hello.node} says hello: firmware {hello.payload.get('fw')}, "
                   f"board {hello.payload.get('board')}, model {hello.payload.get('model') or 'none'}")


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that reads as JSON (5, 2.5, true) is taken as such, else as text."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, not {pair!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings
