"""Fixtures of the model-tool tests: synthetic recordings and a package trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_builders import SIGNAL_RATE_HZ, write_signal

from fabnode.models.build import train_package


@pytest.fixture(scope="session")
def signals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic recordings at SIGNAL_RATE_HZ: healthy for training, healthy and faulty for testing."""
    folder = tmp_path_factory.mktemp("signals")
    return {
        "train": write_signal(folder / "healthy_train.npy", 10, seed=1),
        "healthy": write_signal(folder / "healthy_test.npy", 4, seed=2),
        "faulty": write_signal(folder / "faulty.npy", 4, fault=True, seed=3),
    }


@pytest.fixture(scope="session")
def trained_package(signals: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small package trained by ``fabnode train``'s library function on the healthy signal."""
    out = tmp_path_factory.mktemp("packages") / "synthetic"
    train_package([signals["train"]], "esp32-devkitc", out, rate=SIGNAL_RATE_HZ, epochs=400)
    return out
