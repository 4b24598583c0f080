"""Firmware budgets under the MicroPython WebAssembly port: time per window, allocation, buffers.

    python bench/bench_firmware.py [--windows N]

Runs the app (monitor.app.App) on an allocation-free stand-in sensor with the test model
``synthetic-v1`` (tests/firmware/make_test_model.py; 1024-sample windows, 3 axes, 3200 Hz) and prints a
Markdown table for docs/firmware.md. Allocation is every byte allocated over all the windows (that
port's gc.collect() reclaims nothing within a run); its ticks_us ticks in milliseconds, so time
enough windows (``--windows 200``) for the short stages. The buffer sizes are counted under CPython from the same
objects (array and bytearray sizes are the same on the node).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tempfile
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "firmware"))

from fwrun import check_files  # noqa: E402

from fabnode.mpwasm import run_micropython, tree_files  # noqa: E402
from fabnode.resources import firmware_dir, firmware_lib_dir, use_firmware_lib  # noqa: E402

use_firmware_lib()



def micropython_figures(windows: int, model: Path) -> dict[str, Any]:
    files = {**tree_files(firmware_lib_dir(), "/lib"), **check_files()}
    for name in ("model.tflite", "manifest.json"):
        files[f"/models/active/{name}"] = (model / name).read_bytes()
    code = f"import sys\nsys.path.append('/fwchecks')\nimport budget\nprint(budget.measure('/models', {windows}))\n"
    return dict(ast.literal_eval(run_micropython(code, files).stdout.strip()))


def _buffer_bytes(obj: object, seen: set[int]) -> int:
    """Bytes of the arrays and byte buffers reachable from ``obj`` through attributes and containers."""
    if id(obj) in seen or isinstance(obj, (str, int, float, bool, type(None), memoryview)):
        return 0
    seen.add(id(obj))
    if isinstance(obj, array):
        return len(obj) * obj.itemsize
    if isinstance(obj, (bytes, bytearray)):
        return len(obj)
    if isinstance(obj, dict):
        return sum(_buffer_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_buffer_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("monitor", "tfl", "drivers", "fakes",
                                                                          "budget"):
        return sum(_buffer_bytes(v, seen) for v in vars(obj).values())
    return 0


def buffer_figures(model: Path) -> dict[str, int]:
    import shutil

    import budget
    import pipeline

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(model, Path(tmp) / "active")
        app, _ = pipeline.make_app(tmp, sensor=budget.ConstSensor())
    seen: set[int] = set()
    parts = {
        "sampler ring (int16 counts)": app.sampler,
        "window of counts + feature vector": (app.samples, app.features),
        "feature extractor (FFT, spectra)": app.extractor,
        "model (weights + arena) and detector": (app.loaded.model, app.loaded.detector),
    }
    return {name: _buffer_bytes(obj, seen) for name, obj in parts.items()}


def bytecode_share() -> str:
    """How many functions carry a native/viper emitter decorator (the rest run as bytecode)."""
    sources = sorted(firmware_dir().rglob("*.py"))
    native = sum(len(re.findall(r"@micropython\.(native|viper)", p.read_text())) for p in sources)
    defs = sum(len(re.findall(r"^\s*def ", p.read_text(), re.M)) for p in sources)
    return f"{native} of {defs} firmware functions have a native/viper variant"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=30)
    args = parser.parse_args()
    from make_test_model import build

    with tempfile.TemporaryDirectory() as tmp:
        model = build("synthetic-v1", Path(tmp))
        mp = micropython_figures(args.windows, model)
        buffers = buffer_figures(model)
    print(f"| stage, per window | µs | bytes allocated over all {args.windows} windows (gross) |")
    print("| --- | ---: | ---: |")
    for key, label in (("loop", "whole loop (drain, take, features, score, alarms)"), ("take", "window of counts"),
                       ("features", "features.compute"), ("score", "detector.score"),
                       ("drain_16_frames", "FIFO drain, 16 frames (interrupt handler)")):
        allocated, us = mp[key]
        print(f"| {label} | {us} | {allocated} |")
    print()
    print("| pipeline buffers | bytes |")
    print("| --- | ---: |")
    for name, size in buffers.items():
        print(f"| {name} | {size} |")
    print(f"| total | {sum(buffers.values())} |")
    print()
    print(bytecode_share() + "; the WebAssembly port has no native emitter, so all of the above is bytecode.")


if __name__ == "__main__":
    main()
