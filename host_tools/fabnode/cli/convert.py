"""``fabnode convert``: a float Keras / SavedModel / .tflite autoencoder -> a checked int8 package."""

from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.model import describe
from fabnode.cli.options import json_option
from fabnode.cli.recording_options import rate_option, recordings_option
from fabnode.models.convert import Check, convert_package
from fabnode.output import emit_json


@click.command("convert")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, path_type=Path))
@recordings_option("--calibration", help="Healthy recordings: normalization, int8 calibration, threshold.")
@click.option("--board", "board_id", required=True, metavar="BOARD", help="Board the model is for (fabnode boards).")
@click.option("--out", required=True, type=click.Path(path_type=Path), metavar="PKG",
              help="Package to write: a directory, or a .zip file.")
@click.option("--force", is_flag=True, help="Write the package even if it exceeds the board's RAM or flash budget.")
@click.option("--threshold", type=click.FloatRange(min=0, min_open=True),
              help="Score threshold (default: from the int8 scores of the calibration windows).")
@click.option("--id", "model_id", metavar="ID", help="Model id (default: the name of --out).")
@rate_option
@json_option
def convert(model_path: Path, calibration: tuple[str, ...], board_id: str, out: Path, force: bool,
            threshold: float | None, model_id: str | None, rate: float | None, as_json: bool) -> None:
    """Quantize a trained float autoencoder to full int8 and package it for a board.

    \b
    MODEL: a Keras .keras/.h5 file, a SavedModel directory or a float .tflite whose input and
    output are the board's feature vector, normalized as fabnode train normalizes it (fitted on
    the calibration recordings). Needs TensorFlow: pip install 'fabnode[convert]'.
    Checks: shapes, operators tfl runs, tfl bit-exact with TFLM, float vs int8 agreement,
    the board's budget (--force skips only this one).
    """
    checks: list[Check] = []
    package = convert_package(model_path, calibration, board_id, out, rate=rate, force=force, model_id=model_id,
                              threshold=threshold, report=checks.append)
    if as_json:
        emit_json({"path": str(out), "checks": {c.name: c.detail for c in checks}, "manifest": package.manifest})
        return
    for check in checks:
        click.echo(f"ok  {check.name}: {check.detail}")
    click.echo(f"wrote {out}")
    click.echo("\n".join(describe(package)))
