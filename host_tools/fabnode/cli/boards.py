import click

from fabnode.boards import get_board, list_boards
from fabnode.cli.options import json_option
from fabnode.output import emit_json, table


@click.command()
@click.argument("board_id", required=False)
@json_option
def boards(board_id: str | None, as_json: bool) -> None:
    """List supported boards, or show one board's data file."""
    if board_id:
        board = get_board(board_id)
        if as_json:
            emit_json(board.to_json())
            return
        click.echo(f"{board.id}: {board.name}")
        click.echo(f"  chip {board.chip}, flash {board.flash_size >> 20} MB, app at {board.app_offset:#x}, "
                   f"filesystem {board.fs_size >> 10} KB, mpy arch {board.mpy_arch}")
        click.echo(f"  baud {board.default_baud} (max {board.max_baud}); USB "
                   + ", ".join(f"{u.vid:04X}:{u.pid:04X} {u.bridge}" for u in board.usb))
        for s in board.sensors:
            where = f"{s.bus}" + (f" @ {s.address:#04x}" if s.address is not None else "")
            rate = f", {s.odr_hz:g} Hz" if s.odr_hz else ""
            click.echo(f"  {s.role}: {s.type} on {where}{rate}")
        return
    found = list_boards()
    if as_json:
        emit_json([b.to_json() for b in found])
        return
    rows = [{"board": b.id, "chip": b.chip, "vibration sensor": b.sensor("vibration").type, "name": b.name}
            for b in found]
    click.echo(table(rows, ["board", "chip", "vibration sensor", "name"]))
