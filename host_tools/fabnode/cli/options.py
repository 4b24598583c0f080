"""Options every node-facing command shares, so they read the same everywhere."""

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

port_option = click.option(
    "-p", "--port", envvar="FABNODE_PORT", metavar="PORT",
    help="Serial device, socket://HOST:PORT, rfc2217://HOST:PORT or sim://NAME (env FABNODE_PORT).",
)
ports_option = click.option(
    "-p", "--port", "ports", envvar="FABNODE_PORT", multiple=True, metavar="PORT",
    help="Serial device or URL; repeat for several nodes (env FABNODE_PORT).",
)
baud_option = click.option(
    "-b", "--baud", envvar="FABNODE_BAUD", type=click.IntRange(9600, 5_000_000), metavar="BAUD",
    help="Baud rate (env FABNODE_BAUD). Default: 115200, MicroPython's console; for flash, the board's.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
