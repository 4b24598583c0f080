"""``fabnode diag``: a node's health, from the running app or, failing that, from its REPL."""

from __future__ import annotations

from typing import Any

import click

from fabnode.cli.options import baud_option, json_option, port_option
from fabnode.diag import diagnose
from fabnode.errors import UsageError
from fabnode.output import emit_json


@click.command()
@port_option
@baud_option
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for each answer from the app.")
@json_option
def diag(port: str | None, baud: int | None, timeout: float, as_json: bool) -> None:
    """Hello, status and self-test from the running app (it keeps sampling); the REPL's view if it is not running."""
    if not port:
        raise UsageError("no port given", hint="pass -p PORT (see `fabnode ports`) or set FABNODE_PORT")
    found = diagnose(port, baud, timeout)
    if as_json:
        emit_json(found.to_json())
        return
    if not found.app_running:
        assert found.repl is not None
        click.echo(f"{port}: {found.note}")
        _show("MicroPython", {k: v for k, v in found.repl.items() if k != "files"})
        click.echo(f"  files: {len(found.repl['files'])} ({', '.join(found.repl['files'][:8])}"
                   f"{', ...' if len(found.repl['files']) > 8 else ''})")
        return
    assert found.hello is not None and found.status is not None and found.selftest is not None
    click.echo(f"{port}: node {found.hello.get('node')} runs fabnode {found.hello.get('fw')} on "
               f"{found.hello.get('board')} (MicroPython {found.hello.get('micropython')})")
    _show("hello", found.hello)
    _show("status", found.status)
    verdict = "PASS" if found.selftest.get("ok") else "FAIL"
    _show(f"self-test {verdict}", found.selftest)


def _show(title: str, values: dict[str, Any]) -> None:
    click.echo(f"  {title}:")
    for key, value in values.items():
        if key != "ok":
            click.echo(f"    {key}: {value}")
