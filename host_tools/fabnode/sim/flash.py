"""A NOR flash chip: programming only clears bits, erasing sets a whole 4 KiB sector to 0xFF.

The contents live in a file (memory-mapped), so a virtual node keeps its flash across sessions
and whatever was written before a simulated power loss stays written, as on the real chip.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

import numpy as np

SECTOR_SIZE = 0x1000
ERASED = 0xFF


class FlashRangeError(ValueError):
    """An access outside the chip, or an erase that is not sector-aligned."""


class NorFlash:
    """``size`` bytes of NOR flash backed by ``path`` (created erased when missing)."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        if not self.path.exists() or self.path.stat().st_size != size:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._create_erased()
        self._file = open(self.path, "r+b")  # noqa: SIM115  (closed in close())
        self._map = mmap.mmap(self._file.fileno(), size)
        self._cells = np.frombuffer(self._map, dtype=np.uint8)

    def _create_erased(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            block = bytes([ERASED]) * (1 << 20)
            for start in range(0, self.size, len(block)):
                out.write(block[: self.size - start])
        os.replace(tmp, self.path)

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlashRangeError(f"{offset:#x}+{length:#x} is outside the {self.size:#x}-byte flash")

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return bytes(self._map[offset : offset + length])

    def program(self, offset: int, data: bytes) -> None:
        """Page-program ``data``: each bit can only go from 1 to 0 (AND with what is there)."""
        self._check(offset, len(data))
        self._cells[offset : offset + len(data)] &= np.frombuffer(data, dtype=np.uint8)

    def erase(self, offset: int, length: int) -> None:
        """Sector erase of ``[offset, offset + length)``; both must be sector-aligned."""
        self._check(offset, length)
        if offset % SECTOR_SIZE or length % SECTOR_SIZE:
            raise FlashRangeError(f"erase of {offset:#x}+{length:#x} is not aligned to {SECTOR_SIZE:#x}-byte sectors")
        self._cells[offset : offset + length] = ERASED

    def erase_all(self) -> None:
        self._cells[:] = ERASED

    def md5(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return hashlib.md5(self._map[offset : offset + length]).digest()

    def is_erased(self, offset: int, length: int) -> bool:
        self._check(offset, length)
        return bool((self._cells[offset : offset + length] == ERASED).all())

    def flush(self) -> None:
        self._map.flush()

    def close(self) -> None:
        if self._map.closed:
            return
        del self._cells  # the numpy view holds the map's buffer; release it before closing
        self._map.flush()
        self._map.close()
        self._file.close()

    def __enter__(self) -> NorFlash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
