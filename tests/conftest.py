"""Shared fixtures: firmware under real MicroPython, and the firmware importable under CPython."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fabnode.mpwasm import MicroPythonResult, run_micropython, tree_files
from fabnode.resources import firmware_lib_dir, use_firmware_lib

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bearing-hit-mfs"

use_firmware_lib()

RunMicroPython = Callable[..., MicroPythonResult]


@pytest.fixture(scope="session")
def firmware_files() -> dict[str, bytes]:
    """The firmware's /lib as it is copied onto the node."""
    return tree_files(firmware_lib_dir(), "/lib")


@pytest.fixture
def micropython(firmware_files: dict[str, bytes]) -> RunMicroPython:
    """Run a snippet under the MicroPython WebAssembly port with the firmware's /lib in place.

    ``micropython(code, files={...})`` returns stdout/stderr; an uncaught exception fails with
    MicroPython's traceback.
    """

    def run(code: str | list[str], files: dict[str, bytes] | None = None, **kwargs: object) -> MicroPythonResult:
        return run_micropython(code, {**firmware_files, **(files or {})}, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture(scope="session")
def bearing_data() -> Path:
    """The real bearing-fault recordings shared with the project (skips where absent)."""
    if not (DATA / "index.json").is_file():
        pytest.skip(f"bearing recordings not found at {DATA}")
    return DATA
