from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.options import json_option
from fabnode.output import emit_json
from fabnode.report import report


@click.command("report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="report.html (self-contained, plots embedded) or report.png.")
@json_option
def report_cmd(inputs: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Plot saved telemetry and collected raw data: velocity with ISO zones, temperature,
    anomaly score with threshold and alarm periods, spectrum snapshot.

    INPUTS are files from `fabnode monitor --save` (.jsonl/.csv) and `fabnode collect` (.npy).
    """
    result = report(list(inputs), out)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"wrote {result['out']}: {', '.join(result['plots'])}")
