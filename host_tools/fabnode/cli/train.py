"""``fabnode train``: an anomaly model package from recordings of the healthy machine."""

from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.model import describe
from fabnode.cli.options import json_option
from fabnode.cli.recording_options import rate_option, recordings_option
from fabnode.models.build import train_package
from fabnode.output import emit_json


@click.command("train")
@recordings_option("--normal", help="Recordings of the healthy machine (.npy, .wav, .csv, collect output).")
@click.option("--board", "board_id", required=True, metavar="BOARD", help="Board the model is for (fabnode boards).")
@click.option("--out", required=True, type=click.Path(path_type=Path), metavar="PKG",
              help="Package to write: a directory, or a .zip file.")
@rate_option
@click.option("--id", "model_id", metavar="ID", help="Model id (default: the name of --out).")
@click.option("--epochs", type=click.IntRange(min=1), default=3000, show_default=True, help="Training epochs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the weight initialization.")
@json_option
def train(normal: tuple[str, ...], board_id: str, out: Path, rate: float | None, model_id: str | None,
          epochs: int, seed: int, as_json: bool) -> None:
    """Train an autoencoder on healthy recordings and package it as a full-int8 model.

    \b
    Recordings are resampled to the board's sensor rate with an anti-alias filter, turned into
    features by the firmware's own code, and an autoencoder is trained in numpy (no TensorFlow).
    The threshold is set on held-out healthy windows, scored by the int8 model as the node does.
    """
    package = train_package(normal, board_id, out, rate=rate, model_id=model_id, seed=seed, epochs=epochs)
    if as_json:
        emit_json({"path": str(out), "manifest": package.manifest})
        return
    click.echo(f"wrote {out}")
    click.echo("\n".join(describe(package)))
