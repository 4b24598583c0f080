"""Run the firmware's viper modules (tfl.loops_viper, monitor.fft_viper) under CPython by emulating
what viper gives the code: ptr8 reads bytes unsigned and stores their low byte, ptr16 likewise,
ptr32 reads signed words.

This checks the viper kernels' logic (indexing, sign extension, requantization) against the
bytecode versions and the TFLM goldens on machines without a native-capable MicroPython; what it
cannot check is 32-bit wrap-around, which the kernels are written never to reach.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
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


def _pointer(fmt: str, mask: int) -> Callable[[Any], _Pointer]:
    def make(obj: Any) -> _Pointer:
        return _Pointer(obj, fmt, mask)

    return make


POINTERS = {"ptr8": _pointer("B", 0xFF), "ptr16": _pointer("H", 0xFFFF), "ptr32": _pointer("i", 0xFFFFFFFF)}


def _viper(function: Callable[..., Any]) -> Callable[..., Any]:
    """@micropython.viper: arguments annotated with a pointer type arrive as that pointer, as in viper."""
    code = function.__code__
    names = code.co_varnames[:code.co_argcount]
    kinds = [function.__annotations__.get(name) for name in names]
    if not any(kind in POINTERS.values() for kind in kinds):
        return function

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        return function(*(kind(arg) if kind in POINTERS.values() else arg  # type: ignore[misc]
                          for kind, arg in zip(kinds, args, strict=False)))

    return call


def load_viper_module(path: str) -> types.ModuleType:
    """The firmware module at ``path`` (under firmware/lib, e.g. ``tfl/loops_viper.py``), viper emulated."""
    source = (Path(firmware_lib_dir()) / path).read_text()
    fake = types.ModuleType("micropython")
    fake.viper = _viper  # type: ignore[attr-defined]
    fake.native = lambda f: f  # type: ignore[attr-defined]
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake
    try:
        module = types.ModuleType(path[:-3].replace("/", ".") + "_emulated")
        module.__dict__.update(POINTERS)
        exec(compile(source, path, "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return module
