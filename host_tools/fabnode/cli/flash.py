"""``fabnode flash``: a board (or every board of a kind) from blank to a verified, running node."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from fabnode import bringup, flashing
from fabnode.boards import get_board
from fabnode.cli.options import baud_option, json_option, ports_option
from fabnode.errors import FabnodeError, UsageError
from fabnode.models.package import check_board, load_package
from fabnode.output import Progress, emit_json, table
from fabnode.perport import PortOutcome


class _ProgressBars:
    """One fabnode Progress per esptool task (erase, write), opened on its first update."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.stack = ExitStack()
        self.current: Progress | None = None

    def __call__(self, task: str, done: int, total: int) -> None:
        if self.current is None or self.current.label != task or self.current.total != total:
            self.stack.close()
            self.current = self.stack.enter_context(Progress(task, total, self.as_json).running())
        self.current.update(done)

    def close(self) -> None:
        self.stack.close()


@click.command()
@click.option("--board", "board_id", required=True, metavar="BOARD", help="Board id (see fabnode boards).")
@ports_option
@click.option("--firmware", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="MicroPython image (.bin) for the board; a virtual node gets a stand-in image without it.")
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path),
              help="Model package to install (default: the board's default model, if it has one).")
@click.option("--no-model", is_flag=True, help="Install no model (the ISO and temperature alarms still work).")
@click.option("--node-id", metavar="ID", help="Name the node (default: kept, or fab-<last 6 hex of its chip id>).")
@click.option("--erase", is_flag=True, help="Erase the whole flash first (the filesystem too).")
@baud_option
@click.option("--before", type=click.Choice(flashing.BEFORE_MODES), default="default-reset", show_default=True,
              help="How to enter the bootloader; no-reset when you put the board in download mode by hand.")
@click.option("--all", "all_ports", is_flag=True, help="Flash every detected board of this type, in parallel.")
@click.option("--firmware-only", is_flag=True,
              help="Only write MicroPython and wait for its REPL; no app, no model, no hello check.")
@click.option("--no-wait", is_flag=True, help="Only write MicroPython, and do not wait for it to boot.")
@json_option
def flash(board_id: str, ports: tuple[str, ...], firmware: Path | None, model_path: Path | None, no_model: bool,
          node_id: str | None, erase: bool, baud: int | None, before: str, all_ports: bool, firmware_only: bool,
          no_wait: bool, as_json: bool) -> None:
    """Take a board from blank (or anything) to a running, verified node.

    \b
    1. check the image is MicroPython for the board's chip, before touching the device;
    2. write it with esptool (compressed, MD5-verified; skipped when already there);
    3. deploy the app (only what changed), install the model, restart;
    4. exit 0 only when the node's hello reports the app version, board, node id and model.
    """
    board = get_board(board_id)
    firmware_only = firmware_only or no_wait
    if model_path and no_model:
        raise UsageError("--model and --no-model contradict each other")
    package = None if no_model or firmware_only else (
        load_package(model_path) if model_path else bringup.default_package(board))
    if package:
        check_board(package, board)
    if all_ports:
        if node_id:
            raise UsageError("--node-id names one node; with --all every node keeps or derives its own")
        targets = flashing.ports_for_all(board, ports)
        image = flashing.load_firmware(board, firmware, targets[0])
        if firmware_only:
            _report_all(flashing.flash_all(board, image, targets, erase=erase, baud=baud, before=before,
                                           wait_repl=not no_wait), as_json)
        else:
            _report_all(bringup.bring_up_all(board, image, targets, package, erase=erase, baud=baud, before=before),
                        as_json)
        return
    if len(ports) > 1:
        raise UsageError("several ports given without --all", hint="add --all to flash them all")
    port = flashing.choose_port(board, ports[0] if ports else None)
    image = flashing.load_firmware(board, firmware, port)
    if not as_json:
        version = image.version or "not MicroPython"
        click.echo(f"{image.source}: {board.chip} app, {version}, {len(image.data)} bytes -> {port}")
    bars = _ProgressBars(as_json)
    try:
        if firmware_only:
            flashed = flashing.flash_firmware(board, image, port, erase=erase, baud=baud, before=before,
                                              wait_repl=not no_wait, on_progress=bars)
        else:
            result = bringup.bring_up(board, image, port, node_id=node_id, package=package, erase=erase, baud=baud,
                                      before=before, on_progress=bars)
            flashed = result.flash
    finally:
        bars.close()
    if as_json:
        emit_json({"event": "result", "ok": True, **(flashed.to_json() if firmware_only else result.to_json())})
        return
    for note in flashed.notes:
        click.echo(f"note: {note}")
    action = "wrote" if flashed.written else "already in flash, skipped the write of"
    click.echo(f"{flashed.port}: {flashed.chip}, MAC {flashed.mac}, {flashed.flash_size} flash: "
               f"{action} {flashed.image_size} bytes at {flashed.baud} baud, verified ({flashed.seconds:.1f} s)")
    if firmware_only:
        if flashed.repl_banner:
            click.echo(f"{flashed.port}: {flashed.repl_banner}")
        return
    summary = result.summary()
    deployed = result.deploy
    click.echo(f"{flashed.port}: app {deployed.app_version}: {len(deployed.written)} files written, "
               f"{len(deployed.unchanged)} unchanged, {len(deployed.deleted)} removed")
    if result.model:
        click.echo(f"{flashed.port}: model {result.model.model}: {result.model.status}")
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.pop("phases").items())
    click.echo(f"{flashed.port}: node {summary['node']} is up - MicroPython {summary['micropython']}, "
               f"app {summary['app']}, model {summary['model']} ({phases})")


def _report_all(outcomes: list[PortOutcome[flashing.FlashResult]] | list[PortOutcome[bringup.BringUpResult]],
                as_json: bool) -> None:
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        emit_json({"event": "result", "ok": not failed, "ports": [o.to_json() for o in outcomes]})
    else:
        click.echo(table([_row(o) for o in outcomes], ["port", "result", "detail"]))
    if failed:
        raise FabnodeError(f"{len(failed)} of {len(outcomes)} nodes failed to flash")


def _row(outcome: PortOutcome[flashing.FlashResult] | PortOutcome[bringup.BringUpResult]) -> dict[str, str]:
    if outcome.result is None:
        detail = f"{outcome.error} ({outcome.hint})" if outcome.hint else str(outcome.error)
        return {"port": outcome.port, "result": "FAILED", "detail": detail}
    if isinstance(outcome.result, flashing.FlashResult):
        flashed = outcome.result
        state = "written" if flashed.written else "unchanged"
        return {"port": outcome.port, "result": "ok",
                "detail": f"{flashed.micropython_version or '-'}, {state}, {flashed.seconds:.1f} s"}
    summary = outcome.result.summary()
    return {"port": outcome.port, "result": "ok",
            "detail": f"node {summary['node']}, app {summary['app']}, model {summary['model']}, "
                      f"{sum(summary['phases'].values()):.1f} s"}
