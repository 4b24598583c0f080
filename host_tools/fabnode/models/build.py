"""``fabnode train``: healthy recordings -> firmware features -> numpy autoencoder -> int8 .tflite
-> a package, checked against the board and validated before it is written.

Training, quantization and the manifest come from ``training.train`` and ``training.build_package``
(the same path the reference model is made with); this module picks the board's feature spec,
names the package and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fabnode.boards import Board, get_board
from fabnode.errors import UsageError
from fabnode.models import training
from fabnode.models.package import ID_PATTERN, ModelPackage, check_board, write_package
from fabnode.recordings import load_recording


def package_id(out: Path, model_id: str | None) -> str:
    """The package id: as given, or the output's name (``models/bearing.zip`` -> ``bearing``)."""
    chosen = model_id or (out.stem if out.suffix.lower() == ".zip" else out.name)
    if not ID_PATTERN.fullmatch(chosen):
        raise UsageError(f"model id {chosen!r} is not valid: use 1-48 letters, digits, '_', '.' or '-'",
                         hint="pass --id")
    return chosen


def board_spec(board: Board) -> dict[str, Any]:
    """The firmware's default feature spec at the board's vibration sensor rate."""
    rate = board.sensor("vibration").odr_hz
    if rate is None:
        raise UsageError(f"board {board.id} does not give its vibration sensor's rate (odr_hz)")
    return training.default_spec(rate)


def finish_package(manifest: dict[str, Any], model: bytes, board: Board, out: Path,
                   force: bool = False) -> ModelPackage:
    """Check the package fits the board, then write it (``write_package`` validates it first)."""
    package = ModelPackage(manifest, model, out)
    check_board(package, board, force)
    write_package(out, manifest, model)
    return package


def train_package(normal: Sequence[str | Path], board_id: str, out: str | Path, rate: float | None = None,
                  model_id: str | None = None, seed: int = 0, epochs: int = 3000) -> ModelPackage:
    """``fabnode train``: a validated package for ``board_id`` from healthy recordings."""
    out = Path(out)
    board = get_board(board_id)
    chosen_id = package_id(out, model_id)
    recordings = [load_recording(path, rate) for path in normal]
    trained = training.train(recordings, board_spec(board), seed=seed, epochs=epochs)
    manifest, model = training.build_package(trained, board, chosen_id)
    return finish_package(manifest, model, board, out)
