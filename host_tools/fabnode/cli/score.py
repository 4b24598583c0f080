"""``fabnode score``: score recordings exactly as a node running the model would."""

from __future__ import annotations

from pathlib import Path

import click

from fabnode.boards import get_board
from fabnode.cli.options import json_option
from fabnode.cli.recording_options import rate_option
from fabnode.errors import UsageError
from fabnode.models.package import load_package
from fabnode.models.scoring import SensorPath, score_files
from fabnode.output import emit_json, table

model_option = click.option("--model", "package_path", required=True, metavar="PKG",
                            type=click.Path(exists=True, path_type=Path), help="Model package (directory or .zip).")


@click.command("score")
@model_option
@click.argument("recordings", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@rate_option
@click.option("--board", "board_id", metavar="BOARD",
              help="Measure the recordings with this board's vibration sensor, as a virtual node replaying "
                   "them does (its counts, then g as the firmware converts them).")
@click.option("--level-g", type=click.FloatRange(min=0, min_open=True), metavar="G",
              help="With --board: replay each recording at this RMS in g (default: its unit is g).")
@json_option
def score(package_path: Path, recordings: tuple[str, ...], rate: float | None, board_id: str | None,
          level_g: float | None, as_json: bool) -> None:
    """Run the node's pipeline over recordings: features, int8 model, score, k-of-n alarm.

    \b
    --board B [--level-g G]: the recordings as B's sensor measures them in a virtual node
    replaying them, so the windows are sample for sample those of such a node.

    \b
    --json: one object per window {"file", "window", "t", "score", "threshold", "anomaly"}
    (t: seconds from the start of the file at which the window is complete), and after the
    window that raised it each alarm event {"file", "window", "t", "alarm": "start"|"clear", ...}.
    """
    if level_g is not None and board_id is None:
        raise UsageError("--level-g needs --board", hint="the level is set on what the board's sensor measures")
    package = load_package(package_path)
    sensor = SensorPath(get_board(board_id), level_g) if board_id else None
    results = score_files(package, recordings, rate, sensor)
    if as_json:
        for result in results:
            for record in result.records():
                emit_json(record)
        return
    rows = [summary | {"max_score": "-" if summary["max_score"] is None else f"{summary['max_score']:.4g}"}
            for summary in (r.summary() for r in results)]  # no max: a recording shorter than one window
    click.echo(f"model {package.id}, threshold {package.threshold:.4g}, alarm "
               f"{package.manifest['alarm']['k']} of {package.manifest['alarm']['n']} windows")
    click.echo(table(rows, ["file", "windows", "duration_s", "max_score", "over_threshold", "alarms"]))
    for result in results:
        for event in result.events:
            click.echo(f"{result.file}: alarm {event.state} at {event.t:.2f} s (window {event.window}, "
                       f"score {event.score:.4g})")
