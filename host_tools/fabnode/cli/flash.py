"""``fabnode flash``: MicroPython onto a board (or every board of a kind), checked and verified."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from fabnode import flashing
from fabnode.boards import get_board
from fabnode.cli.options import baud_option, json_option, ports_option
from fabnode.errors import FabnodeError, UsageError
from fabnode.output import Progress, emit_json, table


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
@click.option("--erase", is_flag=True, help="Erase the whole flash first (the filesystem too).")
@baud_option
@click.option("--before", type=click.Choice(flashing.BEFORE_MODES), default="default-reset", show_default=True,
              help="How to enter the bootloader; no-reset when you put the board in download mode by hand.")
@click.option("--all", "all_ports", is_flag=True, help="Flash every detected board of this type, in parallel.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the MicroPython REPL after the reset.")
@json_option
def flash(board_id: str, ports: tuple[str, ...], firmware: Path | None, erase: bool, baud: int | None, before: str,
          all_ports: bool, no_wait: bool, as_json: bool) -> None:
    """Flash MicroPython: check the image, write it with esptool (verified), reset into the REPL."""
    board = get_board(board_id)
    if all_ports:
        targets = flashing.ports_for_all(board, ports)
        image = flashing.load_firmware(board, firmware, targets[0])
        outcomes = flashing.flash_all(board, image, targets, erase=erase, baud=baud, before=before,
                                      wait_repl=not no_wait)
        _report_all(outcomes, as_json)
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
        result = flashing.flash_firmware(board, image, port, erase=erase, baud=baud, before=before,
                                         wait_repl=not no_wait, on_progress=bars)
    finally:
        bars.close()
    if as_json:
        emit_json({"event": "result", "ok": True, **result.to_json()})
        return
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.written:
        done = f"wrote {result.image_size} bytes at {result.baud} baud, verified"
    else:
        done = "the image is already in flash (MD5 match), nothing written"
    click.echo(f"{result.port}: {result.chip}, MAC {result.mac}, {result.flash_size} flash: "
               f"{done} ({result.seconds:.1f} s)")
    if result.repl_banner:
        click.echo(f"{result.port}: {result.repl_banner}")


def _report_all(outcomes: list[flashing.PortOutcome], as_json: bool) -> None:
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        emit_json({"event": "result", "ok": not failed, "ports": [o.to_json() for o in outcomes]})
    else:
        rows = [
            {"port": o.port, "result": "ok" if o.result else "FAILED",
             "detail": (f"{o.result.micropython_version or '-'}, {'written' if o.result.written else 'unchanged'}, "
                        f"{o.result.seconds:.1f} s") if o.result else f"{o.error} ({o.hint})" if o.hint else o.error}
            for o in outcomes
        ]
        click.echo(table(rows, ["port", "result", "detail"]))
    if failed:
        raise FabnodeError(f"{len(failed)} of {len(outcomes)} nodes failed to flash")
