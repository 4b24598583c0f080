"""Where a virtual node keeps what survives power-off: its flash, its filesystem, its settings.

Each node has a directory ``$FABNODE_HOME/nodes/NAME`` (default home: the user's data directory).
While a process has the node open, an exclusive lock on ``NAME/lock`` makes it busy, like a
serial port another program holds.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import platformdirs

from fabnode.boards import Board, get_board
from fabnode.errors import FabnodeError, PortError, UsageError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
DEFAULT_BOARD = "esp32-devkitc"
SETTINGS_FILE = "node.json"


def home() -> Path:
    """fabnode's data directory: ``$FABNODE_HOME`` or the platform's user data directory."""
    return Path(os.environ.get("FABNODE_HOME") or platformdirs.user_data_dir("fabnode"))


def nodes_dir() -> Path:
    return home() / "nodes"


@dataclass(frozen=True)
class NodeSettings:
    """What a node is: its board and how fast its simulated time runs."""

    board: str = DEFAULT_BOARD
    speed: int = 1


@dataclass(frozen=True)
class NodeState:
    name: str
    path: Path
    settings: NodeSettings

    @property
    def board(self) -> Board:
        return get_board(self.settings.board)

    @property
    def flash_path(self) -> Path:
        """The NOR flash contents (``fabnode.sim.flash.NorFlash``)."""
        return self.path / "flash.bin"

    @property
    def fs_dir(self) -> Path:
        """The node's filesystem as files (``/boot.py`` is ``fs/boot.py``)."""
        return self.path / "fs"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space for atomic writes into ``fs`` (same filesystem, so rename is atomic)."""
        return self.path / "tmp"

    @property
    def sim_data_dir(self) -> Path:
        """Data files for the simulated hardware (signals), at ``/.sim/data`` in the node."""
        return self.path / "simdata"

    def fs_usage(self) -> int:
        return sum(p.stat().st_size for p in self.fs_dir.rglob("*") if p.is_file())


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"'{name}' is not a valid virtual node name",
                         hint="use 1-32 letters, digits, '.', '_' or '-'")
    return name


def _node_path(name: str) -> Path:
    return nodes_dir() / check_name(name)


def exists(name: str) -> bool:
    return (_node_path(name) / SETTINGS_FILE).is_file()


def load(name: str) -> NodeState:
    """The state of an existing node."""
    path = _node_path(name)
    settings_file = path / SETTINGS_FILE
    if not settings_file.is_file():
        raise FabnodeError(f"there is no virtual node named '{name}'",
                           hint="list nodes with 'fabnode sim list'; sim://NAME creates one when opened")
    try:
        settings = NodeSettings(**json.loads(settings_file.read_text()))
    except (ValueError, TypeError) as exc:
        raise FabnodeError(f"the settings of virtual node '{name}' ({settings_file}) are unreadable: {exc}") from None
    return NodeState(name, path, settings)


def create(name: str, board: str = DEFAULT_BOARD, speed: int = 1) -> NodeState:
    """Create a node with an erased flash and an empty filesystem."""
    path = _node_path(name)
    if (path / SETTINGS_FILE).is_file():
        raise UsageError(f"virtual node '{name}' already exists", hint=f"remove it with 'fabnode sim rm {name}'")
    get_board(board)
    if speed < 1:
        raise UsageError(f"speed must be at least 1, not {speed}")
    settings = NodeSettings(board, speed)
    for directory in (path, path / "fs", path / "tmp", path / "simdata"):
        directory.mkdir(parents=True, exist_ok=True)
    _write_settings(path, settings)
    return NodeState(name, path, settings)


def open_or_create(name: str, board: str | None = None, speed: int | None = None) -> NodeState:
    """The node ``name``, created with ``board``/``speed`` if new; a given speed updates an existing node.

    A node keeps its board (its flash holds firmware for that chip): asking for another is an error.
    """
    if not exists(name):
        return create(name, board or DEFAULT_BOARD, speed or 1)
    state = load(name)
    if board is not None and board != state.settings.board:
        raise UsageError(f"virtual node '{name}' is a {state.settings.board}, not a {board}",
                         hint=f"use another name, or remove it first with 'fabnode sim rm {name}'")
    if speed is not None and speed != state.settings.speed:
        if speed < 1:
            raise UsageError(f"speed must be at least 1, not {speed}")
        state = NodeState(name, state.path, NodeSettings(state.settings.board, speed))
        _write_settings(state.path, state.settings)
    return state


def _write_settings(path: Path, settings: NodeSettings) -> None:
    tmp = path / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2) + "\n")
    os.replace(tmp, path / SETTINGS_FILE)


def list_nodes() -> list[NodeState]:
    if not nodes_dir().is_dir():
        return []
    return [load(p.name) for p in sorted(nodes_dir().iterdir()) if (p / SETTINGS_FILE).is_file()]


def remove(name: str) -> None:
    """Delete a node and everything it stored; refuses while the node is open somewhere."""
    state = load(name)
    with NodeLock(state):
        shutil.rmtree(state.path)


def unplug(state: NodeState, seconds: float) -> None:
    """Record that the node's USB cable is out until ``seconds`` from now (seen by every process)."""
    (state.path / "unplugged-until").write_text(f"{time.time() + seconds}\n")


def unplugged_for(state: NodeState) -> float:
    """Seconds until the node's USB cable is back (0 when plugged in)."""
    try:
        until = float((state.path / "unplugged-until").read_text())
    except (OSError, ValueError):
        return 0.0
    return max(0.0, until - time.time())


def put_sim_data(state: NodeState, name: str, data: bytes) -> None:
    if "/" in name or name.startswith("."):
        raise UsageError(f"'{name}' is not a plain file name")
    state.sim_data_dir.mkdir(exist_ok=True)
    tmp = state.tmp_dir / ("simdata-" + name)
    tmp.write_bytes(data)
    os.replace(tmp, state.sim_data_dir / name)


def wipe_filesystem(state: NodeState) -> None:
    """What erasing the whole flash does to the filesystem partition."""
    shutil.rmtree(state.fs_dir, ignore_errors=True)
    state.fs_dir.mkdir()


class NodeLock:
    """Exclusive use of a node by one process (released when the process dies, even by SIGKILL)."""

    def __init__(self, state: NodeState) -> None:
        self.state = state
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        lock_path = self.state.path / "lock"
        handle = open(lock_path, "a+")  # noqa: SIM115  (held until release())
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise PortError(f"virtual node '{self.state.name}' is busy (open in {holder})",
                            hint="close the program using it, or stop 'fabnode sim serve'") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> NodeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
