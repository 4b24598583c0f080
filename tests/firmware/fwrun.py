"""Firmware checks that run twice: under CPython and under the MicroPython WebAssembly port.

A module in ``fwchecks/`` holds plain ``check_*`` functions written in the subset both run. The
CPython side collects each as a test; the MicroPython side runs a whole module in one process
(each MicroPython start costs node.js start-up).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from fabnode.resources import models_dir

CHECKS = Path(__file__).with_name("fwchecks")
if str(CHECKS) not in sys.path:
    sys.path.insert(0, str(CHECKS))  # the checks import each other (``fakes``) as on MicroPython


def check_module(name: str) -> ModuleType:
    return importlib.import_module(name)


def check_functions(name: str) -> list[tuple[str, Callable[[], None]]]:
    module = check_module(name)
    return [(attr, getattr(module, attr)) for attr in sorted(vars(module)) if attr.startswith("check_")]


def check_files() -> dict[str, bytes]:
    """The check modules (``/fwchecks``) and the reference model package (``/fwdata/ref``)."""
    files = {f"/fwchecks/{path.name}": path.read_bytes() for path in sorted(CHECKS.glob("*.py"))}
    reference = models_dir() / "bearing-hit-mfs-v1"
    for name in ("model.tflite", "manifest.json"):
        files[f"/fwdata/ref/{name}"] = (reference / name).read_bytes()
    return files


def micropython_runner(name: str) -> str:
    """MicroPython code running every ``check_*`` of ``fwchecks/<name>.py`` and printing ``ok <check>``."""
    return (
        "import sys\nsys.path.append('/fwchecks')\n"
        f"import {name} as m\n"
        "for attr in sorted(dir(m)):\n"
        "    if attr.startswith('check_'):\n"
        "        getattr(m, attr)()\n"
        "        print('ok', attr)\n"
    )
