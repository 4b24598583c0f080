"""``fabnode deploy``: the fabnode app onto a node running MicroPython, verified file by file.

The firmware is compiled with mpy-cross for the node's own ``.mpy`` format and native
architecture, written over the raw REPL (compressed, SHA-256 checked on the node, renamed into
place), and only what differs is written: a re-deploy of an unchanged app writes nothing. Files
a previous deploy put on the node and the app no longer ships are removed; nothing else on the
node (data, models, user files) is touched. The list of deployed files lives in ``/config/app.json``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fabnode.boards import Board
from fabnode.errors import FabnodeError, UsageError
from fabnode.mpycross import MPY_SUB_VERSION, MPY_VERSION, compile_file
from fabnode.repl import STAGED_SUFFIXES, NodeInfo, NodeRepl
from fabnode.resources import cache_dir, firmware_dir, use_firmware_lib

APP_MANIFEST = "/config/app.json"
NODE_CONFIG = "/config/node.json"
BOARD_CONFIG = "/config/board.json"
# MicroPython runs these two as source at every reset; everything under lib/ ships compiled.
SOURCE_FILES = ("boot.py", "main.py")
# Native code architectures in sys.implementation._mpy (MP_NATIVE_ARCH_*) that fabnode builds for.
NATIVE_ARCHES = {10: "xtensawin", 11: "rv32imc"}
# Optional fast paths (@micropython.native/viper): useless, and uncompilable, without a native emitter.
NATIVE_ONLY_SUFFIXES = ("_viper", "_native")

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class DeployResult:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    payload_bytes: int = 0
    wire_bytes: int = 0
    seconds: float = 0.0
    mpy_arch: str | None = None
    app_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def app_version() -> str:
    """The firmware version the node will report in its hello (``monitor.VERSION``)."""
    text = (firmware_dir() / "lib" / "monitor" / "__init__.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("VERSION"):
            return line.split("=", 1)[1].split("#", 1)[0].strip().strip("\"'")
    raise FabnodeError("firmware/lib/monitor/__init__.py defines no VERSION")


def node_arch(info: NodeInfo, board: Board) -> str | None:
    """The native architecture to compile for (None: bytecode only), checked against the board and its chip."""
    if info.mpy_version != MPY_VERSION or info.mpy_sub_version != MPY_SUB_VERSION:
        raise FabnodeError(
            f"the node runs MicroPython {info.micropython}, which loads .mpy {info.mpy_format}; "
            f"this fabnode compiles .mpy {MPY_VERSION}.{MPY_SUB_VERSION} (MicroPython 1.23 or newer)",
            hint="update the node's MicroPython with `fabnode flash`",
        )
    if info.chip is not None and info.chip != board.chip:
        raise FabnodeError(f"the node is an {info.chip.upper()}, but board {board.id} is an {board.chip.upper()}",
                           hint="is --board right for this node? `fabnode diag` shows what the node is")
    if info.mpy_arch == 0:
        return None
    arch = NATIVE_ARCHES.get(info.mpy_arch)
    if arch != board.mpy_arch:
        raise FabnodeError(f"the node's native code is {arch or f'architecture {info.mpy_arch}'}, "
                           f"but board {board.id} is {board.mpy_arch}", hint="is --board right for this node?")
    return arch


def _compile_cached(source: Path, node_path: str, arch: str | None) -> bytes:
    """mpy-cross output for ``source``, cached by content so re-deploys do not recompile."""
    digest = hashlib.sha256(source.read_bytes() + node_path.encode()).hexdigest()
    mpy_format = f"{MPY_VERSION}.{MPY_SUB_VERSION}"
    cache = cache_dir() / "mpy" / mpy_format / (arch or "bytecode")
    cached = cache / f"{digest}.mpy"
    if cached.is_file():
        return cached.read_bytes()
    compiled = compile_file(source, arch, node_path)
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(compiled)
    return compiled


def app_files(arch: str | None) -> dict[str, bytes]:
    """Node path -> content of every app file, compiled for ``arch`` (None: bytecode only)."""
    root = firmware_dir()
    files = {f"/{name}": (root / name).read_bytes() for name in SOURCE_FILES}
    for source in sorted((root / "lib").rglob("*.py")):
        if arch is None and source.stem.endswith(NATIVE_ONLY_SUFFIXES):
            continue
        relative = source.relative_to(root).with_suffix(".mpy").as_posix()
        files[f"/{relative}"] = _compile_cached(source, relative[:-4] + ".py", arch)
    return files


def node_config(current: dict[str, Any] | None, node_id: str | None,
                settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """``/config/node.json``: the current one kept, with ``node_id`` and ``settings`` applied.

    Keys of the current file that this firmware does not know (another app version's) are dropped:
    the app would refuse to start with them.
    """
    use_firmware_lib()
    from monitor.config import DEFAULTS

    kept = {key: value for key, value in (current or {}).items() if key in DEFAULTS}
    config = {**kept, **(settings or {})}
    if node_id:
        config["node_id"] = node_id
    return config


def check_node_config(board: Board, config: dict[str, Any]) -> None:
    """Refuse a node.json the app would refuse at start (the firmware's own check), before it is written."""
    use_firmware_lib()
    from monitor.config import DEFAULTS, Config

    # The firmware trusts the types (telemetry_s="abc" would become "abc" * 1000): check them here.
    problem = next((f"node.json: {key} must be a number, not {value!r}" for key, value in config.items()
                    if isinstance(DEFAULTS.get(key), (int, float))
                    and (isinstance(value, bool) or not isinstance(value, (int, float)))), None)
    if problem is None:
        try:
            Config(board.to_json(), config)
        except (ValueError, TypeError) as exc:
            problem = str(exc)
    if problem is not None:
        raise UsageError(f"the node settings are not valid, nothing was written: {problem}",
                         hint="fix it with --set KEY=VALUE; keys and values: docs/firmware.md")


def deploy(repl: NodeRepl, board: Board, node_id: str | None = None, settings: dict[str, Any] | None = None,
           progress: ProgressCallback | None = None) -> DeployResult:
    """Make the node's app exactly this fabnode's firmware; return what was done.

    ``settings`` are node.json keys (docs/firmware.md: alarm limits, telemetry period ...).
    """
    started = time.monotonic()
    info = repl.info()
    arch = node_arch(info, board)
    result = DeployResult(mpy_arch=arch, app_version=app_version())
    wanted = app_files(arch)
    on_node = repl.file_hashes("/")

    current_config = _read_json(repl, NODE_CONFIG) if NODE_CONFIG in on_node else None
    config = node_config(current_config, node_id, settings)
    check_node_config(board, config)
    wanted[NODE_CONFIG] = _json_bytes(config)
    wanted[BOARD_CONFIG] = _json_bytes(board.to_json())
    previous = _read_json(repl, APP_MANIFEST) if APP_MANIFEST in on_node else {}
    wanted[APP_MANIFEST] = _json_bytes({"fw": result.app_version, "files": sorted(wanted)})

    changed = {path: data for path, data in wanted.items()
               if on_node.get(path) != hashlib.sha256(data).hexdigest()}
    result.unchanged = sorted(set(wanted) - set(changed))
    total = sum(len(data) for data in changed.values())
    done = 0
    # The manifest goes last: an interrupted deploy is redone, file by file, by the next one.
    for path in sorted(changed, key=lambda p: p == APP_MANIFEST):
        data = changed[path]
        result.wire_bytes += repl.write_file(path, data)
        result.payload_bytes += len(data)
        result.written.append(path)
        done += len(data)
        if progress:
            progress("deploy", done, total)
    leftovers = {path for path in on_node if path.endswith(STAGED_SUFFIXES)}
    for path in sorted(set(previous.get("files", ())) - set(wanted) | leftovers):
        if path in on_node:
            repl.remove(path)
            result.deleted.append(path)
    # Whoever deploys has taken care of the node: resets before this were not the app crashing.
    repl.exec("from monitor import bootguard\nbootguard.clear()")
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _read_json(repl: NodeRepl, path: str) -> dict[str, Any]:
    try:
        data = json.loads(repl.eval(f"open({path!r}).read()"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
