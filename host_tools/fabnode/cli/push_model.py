"""``fabnode push-model``: install a model package on one or several nodes, safely."""

from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.options import baud_option, json_option, ports_option
from fabnode.errors import FabnodeError
from fabnode.models.package import load_package
from fabnode.models.push import push_model
from fabnode.output import emit_json, table


@click.command("push-model")
@click.argument("package_path", metavar="PKG", type=click.Path(exists=True, path_type=Path))
@ports_option
@baud_option
@click.option("--dry-run", is_flag=True, help="Check the package against each node; change nothing.")
@json_option
def push_model_cmd(package_path: Path, ports: tuple[str, ...], baud: int | None, dry_run: bool,
                   as_json: bool) -> None:
    """Check, transfer, activate and confirm a model package on nodes (all -p ports at once).

    \b
    Each node: board, firmware and free space are checked; the package is staged compressed and
    sha256-checked; the node verifies it (hash, self-test) and swaps it in; after a restart its
    hello must report the new model. Any failure leaves or puts back the previous model, and a
    cut transfer is finished by running the command again.
    """
    package = load_package(package_path)
    results = push_model(package, ports, baud=baud, dry_run=dry_run)
    if as_json:
        emit_json([r.to_json() for r in results])
    else:
        rows = [{**r.to_json(), "previous": r.previous or "-"} for r in results]
        click.echo(table(rows, ["port", "status", "model", "previous", "seconds", "detail"]))
    failed = [r.port for r in results if not r.ok]
    if failed:
        raise FabnodeError(f"model {package.id} was not installed on {', '.join(failed)}",
                           hint="each node keeps the model it had; see the detail column, then run again")
