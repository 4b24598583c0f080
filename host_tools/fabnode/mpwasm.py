"""The official MicroPython WebAssembly port, run by ``node``: real MicroPython on the host.

Used by the test suite to run firmware under the interpreter the node really has, and by the
virtual node. The npm package is pinned; fabnode installs it into its cache on first use.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from fabnode.errors import FabnodeError, RuntimeMissingError

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
NPM_VERSION = "1.27.0"
MIN_NODE_MAJOR = 18
RUNNER = Path(__file__).with_name("mpwasm_run.mjs")
_SOURCE_TREE_RUNTIME = Path(__file__).resolve().parents[2] / "tests" / "mpwasm"


class MicroPythonError(FabnodeError):
    """Code raised an exception under MicroPython; the message is MicroPython's traceback."""


@dataclass(frozen=True)
class MicroPythonResult:
    stdout: str
    stderr: str
    returncode: int


@functools.cache
def node_executable() -> str:
    """Path of a ``node`` new enough for the WebAssembly port, or a clear error."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeMissingError(
            "node (Node.js) is not installed; the virtual node and MicroPython tests need it",
            hint=f"install Node.js >= {MIN_NODE_MAJOR} (Debian: apt-get install nodejs npm)",
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    match = re.match(r"v(\d+)", version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise RuntimeMissingError(f"node {version or '(unknown version)'} is too old; need >= {MIN_NODE_MAJOR}")
    return node


def _package_dir(prefix: Path) -> Path:
    return prefix / "node_modules" / NPM_PACKAGE


def runtime_dir() -> Path:
    """Directory of the pinned MicroPython WebAssembly package, installing it on first use."""
    node_executable()  # without node the package is of no use: say so first
    candidates = []
    if "FABNODE_MPWASM_DIR" in os.environ:
        candidates.append(Path(os.environ["FABNODE_MPWASM_DIR"]))
    candidates.append(_SOURCE_TREE_RUNTIME)
    cache = Path(platformdirs.user_cache_dir("fabnode")) / "mpwasm"
    candidates.append(cache)
    for prefix in candidates:
        if (_package_dir(prefix) / "micropython.mjs").is_file():
            return _package_dir(prefix)
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeMissingError("npm is not installed; fabnode needs it once to fetch MicroPython for WebAssembly")
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), f"{NPM_PACKAGE}@{NPM_VERSION}"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not (_package_dir(cache) / "micropython.mjs").is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeMissingError(f"could not install {NPM_PACKAGE}@{NPM_VERSION} with npm: {last}")
    return _package_dir(cache)


def tree_files(source: Path, target: str) -> dict[str, bytes]:
    """Map every file under ``source`` to its path under ``target`` in the MicroPython filesystem."""
    return {
        f"{target.rstrip('/')}/{path.relative_to(source).as_posix()}": path.read_bytes()
        for path in sorted(source.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def run_micropython(code: str | list[str], files: dict[str, bytes] | None = None, heapsize: int = 2 * 1024 * 1024,
                    timeout: float = 120.0, check: bool = True) -> MicroPythonResult:
    """Run ``code`` under MicroPython with ``files`` placed in its filesystem first.

    ``sys.path`` there has ``/lib``, as on the node. A list of code strings runs them one after
    the other in the same interpreter, each as a top-level run: this port's ``gc.collect()``
    reclaims garbage only at the start of one. With ``check``, an uncaught exception raises
    MicroPythonError carrying MicroPython's traceback.
    """
    job = {
        "heapsize": heapsize,
        "files": {path: base64.b64encode(data).decode() for path, data in (files or {}).items()},
        "steps": [code] if isinstance(code, str) else code,
    }
    try:
        proc = subprocess.run(
            [node_executable(), str(RUNNER), str(runtime_dir())],
            input=json.dumps(job), capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise MicroPythonError(f"MicroPython did not finish within {timeout:g} s") from None
    result = MicroPythonResult(proc.stdout, proc.stderr, proc.returncode)
    if check and proc.returncode != 0:
        raise MicroPythonError(proc.stderr.strip() or f"MicroPython exited with status {proc.returncode}")
    return result
