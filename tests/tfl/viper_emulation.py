"""Run tfl.loops_viper under CPython by emulating what viper gives the code: ptr8 reads bytes
unsigned and stores their low byte, ptr16 likewise, ptr32 reads signed words.

This checks the viper kernels' logic (indexing, sign extension, requantization) against the
TFLM goldens on machines without a native-capable MicroPython; what it cannot check is 32-bit
wrap-around, which the kernels are written never to reach.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from fabnode.resources import firmware_lib_dir


class _Pointer:
    def __init__(self, obj: Any, fmt: str, mask: int) -> None:
        self.view = memoryview(obj).cast("B").cast(fmt) if fmt != "B" else memoryview(obj).cast("B")
        self.mask = mask

    def __getitem__(self, index: int) -> int:
        return int(self.view[index])

    def __setitem__(self, index: int, value: int) -> None:
        value &= self.mask
        if self.view.format == "i" and value >= 1 << 31:
            value -= 1 << 32
        self.view[index] = value


def load_viper_loops() -> types.ModuleType:
    source = (Path(firmware_lib_dir()) / "tfl" / "loops_viper.py").read_text()
    fake = types.ModuleType("micropython")
    fake.viper = fake.native = lambda f: f  # type: ignore[attr-defined]
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake
    try:
        module = types.ModuleType("tfl.loops_viper_emulated")
        module.__dict__.update(ptr8=lambda o: _Pointer(o, "B", 0xFF), ptr16=lambda o: _Pointer(o, "H", 0xFFFF),
                               ptr32=lambda o: _Pointer(o, "i", 0xFFFFFFFF))
        exec(compile(source, "loops_viper.py", "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return module
