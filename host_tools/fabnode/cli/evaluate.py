"""``fabnode evaluate``: ROC AUC, detection delay and false alarms of a package on labelled recordings."""

from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.options import json_option
from fabnode.cli.recording_options import rate_option, recordings_option
from fabnode.cli.score import model_option
from fabnode.models.evaluation import FILE_COLUMNS, check_plot_path, evaluate, format_cell, write_plot
from fabnode.models.package import load_package
from fabnode.output import emit_json, table


@click.command("evaluate")
@model_option
@recordings_option("--normal", help="Recordings of the healthy machine.")
@recordings_option("--faulty", help="Recordings of the machine with a fault.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="PLOT",
              help="Write score traces and the ROC curve to a .png, or an .html page with the table too.")
@click.option("--equal-rms", is_flag=True, help="Scale every recording to the healthy recordings' mean RMS first.")
@rate_option
@json_option
def evaluate_cmd(package_path: Path, normal: tuple[str, ...], faulty: tuple[str, ...], out: Path | None,
                 equal_rms: bool, rate: float | None, as_json: bool) -> None:
    """Score healthy and faulty recordings as the node would and report how well they separate.

    \b
    AUC: faulty windows against all healthy windows (per faulty file and overall).
    Detection delay: seconds from the start of a faulty file to its first alarm (k of n windows).
    False alarms per hour: alarms raised on the healthy recordings per hour of recording.
    """
    if out is not None:
        check_plot_path(out)  # fail before scoring, not after
    package = load_package(package_path)
    result = evaluate(package, normal, faulty, rate=rate, equal_rms=equal_rms)
    if out is not None:
        write_plot(result, out)
    if as_json:
        emit_json({**result.to_json(), "plot": str(out) if out else None})
        return
    click.echo(f"model {result.model}, threshold {result.threshold:.4g}"
               + (", every recording scaled to the same RMS" if equal_rms else ""))
    click.echo(f"AUC {result.auc:.4f}; healthy windows over threshold {result.healthy_over_threshold:.1%}, "
               f"faulty {result.faulty_over_threshold:.1%}; false alarms {result.false_alarms_per_hour:.3g} per hour")
    rows = [{key: format_cell(key, value) for key, value in f.to_json().items()} for f in result.files]
    click.echo(table(rows, FILE_COLUMNS))
    if out is not None:
        click.echo(f"plot: {out}")

