import click

from fabnode.cli.options import json_option
from fabnode.output import emit_json, table
from fabnode.ports import list_serial_ports


@click.command()
@json_option
def ports(as_json: bool) -> None:
    """List serial ports with USB ids and a guess of the board behind each."""
    found = list_serial_ports()
    if as_json:
        emit_json([p.to_json() for p in found])
        return
    if not found:
        click.echo("No serial ports found. Is the board plugged in with a data (not charge-only) cable?")
        return
    rows = [
        {"port": p.device, "usb id": p.usb_id or "-", "serial": p.serial_number or "-",
         "bridge": p.bridge or p.description, "boards": ", ".join(p.boards) or "-"}
        for p in found
    ]
    click.echo(table(rows, ["port", "usb id", "serial", "bridge", "boards"]))
