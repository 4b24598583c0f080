"""From a bare board to a verified, running node: flash, deploy, model, and proof by hello.

``fabnode flash`` runs these steps (issue 5's steps 1-6) through the library functions of each
concern; this module only chains them, times each phase, and checks the end state the node
reports about itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fabnode import flashing
from fabnode.boards import Board, get_board
from fabnode.deploy import DeployResult, app_version, deploy
from fabnode.errors import FabnodeError
from fabnode.models.package import ModelPackage, load_package
from fabnode.models.push import PushResult, push_one
from fabnode.perport import PortOutcome, in_processes
from fabnode.repl import NodeRepl
from fabnode.resources import models_dir


@dataclass
class BringUpResult:
    flash: flashing.FlashResult
    deploy: DeployResult
    model: PushResult | None
    hello: dict[str, Any]
    phases: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"flash": self.flash.to_json(), "deploy": self.deploy.to_json(),
                "model": self.model.to_json() if self.model else None, "hello": self.hello, "phases": self.phases}

    def summary(self) -> dict[str, Any]:
        """What a technician checks: chip, MAC, versions, model, time per phase."""
        return {"port": self.flash.port, "node": self.hello.get("node"), "chip": self.flash.chip,
                "mac": self.flash.mac, "flash_size": self.flash.flash_size,
                "micropython": self.hello.get("micropython"), "app": self.hello.get("fw"),
                "model": self.hello.get("model") or "none", "phases": self.phases}


def default_package(board: Board) -> ModelPackage | None:
    """The board's default model (``default_model`` in its board file), if it names one."""
    model_id = board.raw.get("default_model")
    return load_package(models_dir() / model_id) if model_id else None


def bring_up(board: Board, firmware: flashing.Firmware, port: str, *, node_id: str | None = None,
             settings: dict[str, Any] | None = None, package: ModelPackage | None = None, erase: bool = False,
             baud: int | None = None,
             before: str = "default-reset", repl_baud: int = 115200,
             on_progress: flashing.ProgressCallback | None = None) -> BringUpResult:
    """Flash MicroPython, deploy the app (``settings``: node.json keys), install ``package``, check the hello."""
    phases: dict[str, float] = {}
    lap = _stopwatch()
    flashed = flashing.flash_firmware(board, firmware, port, erase=erase, baud=baud, before=before,
                                      wait_repl=True, on_progress=on_progress)
    port = flashed.port  # a native-USB board may come back under another name
    phases["flash"] = lap()
    with NodeRepl(port, repl_baud) as repl:
        deployed = deploy(repl, board, node_id, settings)
    phases["deploy"] = lap()
    pushed = push_one(package, port, repl_baud) if package else None
    phases["model"] = lap()
    with NodeRepl(port, repl_baud) as repl:
        hello = repl.restart_app().payload
    phases["hello"] = lap()
    _check_hello(hello, board, node_id, package, port)
    return BringUpResult(flashed, deployed, pushed, hello, phases)


def _stopwatch(clock: Callable[[], float] = time.monotonic) -> Callable[[], float]:
    """Seconds since the previous lap (the first: since the start), each measured, not a difference of
    rounded sums (which showed a skipped phase as -0.0 s)."""
    last = clock()

    def lap() -> float:
        nonlocal last
        now = clock()
        seconds, last = now - last, now
        return round(seconds, 2)

    return lap


def _check_hello(hello: dict[str, Any], board: Board, node_id: str | None, package: ModelPackage | None,
                 port: str) -> None:
    expected = {"fw": app_version(), "board": board.id, "safe_mode": False}
    if node_id:
        expected["node"] = node_id
    if package:
        expected["model_sha256"] = package.sha256
    wrong = [f"{key} is {hello.get(key)!r}, expected {value!r}" for key, value in expected.items()
             if hello.get(key) != value]
    if wrong:
        raise FabnodeError(f"{port}: the node's hello does not match what was installed: {'; '.join(wrong)}",
                           hint="see what the node prints with `fabnode monitor`")


def _bring_up_in_child(port: str, board_id: str, firmware: flashing.Firmware, package_path: str | None,
                       options: dict[str, Any]) -> BringUpResult:
    package = load_package(package_path) if package_path else None
    return bring_up(get_board(board_id), firmware, port, package=package, **options)


def bring_up_all(board: Board, firmware: flashing.Firmware, ports: list[str], package: ModelPackage | None,
                 **options: Any) -> list[PortOutcome[BringUpResult]]:
    """``bring_up`` on every port in parallel, one process each (esptool's logger is per process)."""
    package_path = str(package.source) if package else None
    return in_processes(_bring_up_in_child, ports, board.id, firmware, package_path, options)
