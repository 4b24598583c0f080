"""Flash tests run the real esptool against the ROM bootloader through the in-process test port."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
import rom_harness

from fabnode.boards import get_board

rom_harness.register()

MakeChip = Callable[[str], rom_harness.Chip]


@pytest.fixture
def make_chip(tmp_path: Path) -> Iterator[MakeChip]:
    """A chip behind ``romtest://NAME`` with an erased flash, on the given board."""
    made: list[rom_harness.Chip] = []

    def make(board_id: str) -> rom_harness.Chip:
        chip = rom_harness.Chip(f"{tmp_path.name}-{len(made)}", get_board(board_id), tmp_path / f"{len(made)}.flash")
        made.append(chip)
        return chip

    yield make
    for chip in made:
        chip.close()
