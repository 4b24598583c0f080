"""Fixtures of the firmware tests: model packages trained on the virtual node's synthetic machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from make_test_model import build


@pytest.fixture(scope="session")
def synthetic_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``synthetic_model("synthetic-v1")`` -> the package folder, trained once per session."""
    out = tmp_path_factory.mktemp("models")
    made: dict[str, Path] = {}

    def get(model_id: str) -> Path:
        if model_id not in made:
            made[model_id] = build(model_id, out)
        return made[model_id]

    return get
