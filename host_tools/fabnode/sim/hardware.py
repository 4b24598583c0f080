"""The simulated hardware as the host sees it: its files, its configuration, its signal.

The MicroPython modules under ``fabnode/sim/hw/`` (``machine``, ``esp32``, ``onewire``,
``ds18x20``, ``simhw``, the sensor models) go to ``/.sim/`` in a virtual node (``hw_files``);
``/.sim/hw.json`` (``hw_config``) wires them as the node's board, and the vibration they measure
comes from a signal file (``render_signal``) at ``/.sim/data/vibration.fnsig``. Under CPython the
same modules run in-process (``load_cpython``), which is how fast tests drive them.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from fabnode.boards import Board
from fabnode.mpwasm import tree_files
from fabnode.recordings import load_recording
from fabnode.sim import signals

HW_DIR = Path(__file__).with_name("hw")
NODE_DIR = "/.sim"
CONFIG_PATH = f"{NODE_DIR}/hw.json"
SIGNAL_PATH = f"{NODE_DIR}/data/vibration.fnsig"
RESET_CAUSES = ("power_on", "brownout", "hard", "wdt", "deepsleep", "soft")
FAULTS = ("unplugged", "nack", "stuck", "wrong_id", "overrun", "bearing", "temp_ramp")
# module names the simulated hardware defines at the top level of the node's sys.path
MODULES = ("machine", "esp32", "onewire", "ds18x20", "simhw", "simsignal", "simdev")


def hw_files(target: str = NODE_DIR) -> dict[str, bytes]:
    """The simulated hardware's modules mapped to their paths in the node's filesystem."""
    return tree_files(HW_DIR, target)


def hw_config(board: Board | dict[str, Any], signal: str | None = SIGNAL_PATH, reset_cause: str = "power_on",
              ambient_c: float = 24.0, unique_id: bytes | None = None,
              faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The contents of ``/.sim/hw.json`` for one power-on of a node (see docs/virtual-node.md)."""
    if reset_cause not in RESET_CAUSES:
        raise ValueError(f"unknown reset cause {reset_cause!r}; known: {', '.join(RESET_CAUSES)}")
    for fault in faults or []:
        if fault.get("name") not in FAULTS:
            raise ValueError(f"unknown fault {fault.get('name')!r}; known: {', '.join(FAULTS)}")
    board_data = board if isinstance(board, dict) else board.raw
    config: dict[str, Any] = {"board": board_data, "signal": signal, "reset_cause": reset_cause,
                              "ambient_c": ambient_c, "faults": list(faults or [])}
    if unique_id is not None:
        config["unique_id"] = unique_id.hex()
    return config


def config_bytes(config: dict[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()


def vibration_rate_hz(board: Board | dict[str, Any]) -> float:
    """The output data rate the board's vibration sensor is specified for."""
    board_data = board if isinstance(board, dict) else board.raw
    for sensor in board_data.get("sensors", []):
        if sensor.get("role") == "vibration":
            return float(sensor["odr_hz"])
    raise signals.SignalError(f"board {board_data.get('id', '?')} has no vibration sensor")


@dataclass(frozen=True)
class SignalSource:
    """What a node's sensor measures: a synthetic machine, or recordings (healthy, bearing fault)."""

    machine: signals.Machine = field(default_factory=signals.Machine)
    fault: signals.BearingFault | None = field(default_factory=signals.BearingFault)
    recording: str | None = None
    fault_recording: str | None = None
    recording_rate_hz: float | None = None
    axis: str = "z"
    duration_s: float = 10.0
    onset_s: float | None = None
    seed: int = 0


def render_signal(path: str | Path, rate_hz: float, source: SignalSource = SignalSource()) -> signals.SignalFile:
    """Write the signal file a node's sensor model streams, at the sensor's ``rate_hz``."""
    if source.recording is not None:
        healthy = signals.replay(load_recording(source.recording, source.recording_rate_hz), rate_hz, source.axis)
        fault = (signals.replay(load_recording(source.fault_recording, source.recording_rate_hz), rate_hz, source.axis)
                 if source.fault_recording else None)
    else:
        healthy = signals.synthetic(source.machine, rate_hz, source.duration_s, seed=source.seed)
        fault = (signals.synthetic(source.machine, rate_hz, source.duration_s, source.fault, seed=source.seed + 1)
                 if source.fault is not None else None)
    return signals.write_signal(path, healthy, rate_hz, fault, source.onset_s if fault is not None else None)


def load_cpython() -> ModuleType:
    """Import the simulated hardware into this CPython process (fresh state); returns ``simhw``.

    Afterwards ``import machine`` (and ``esp32``, ``onewire``, ``ds18x20``) give the simulated
    modules, so firmware code can run against them; ``simhw.configure(board_dict)`` wires a board.
    """
    for name in list(sys.modules):
        if name.split(".")[0] in MODULES:
            del sys.modules[name]
    path = str(HW_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("simhw")
