"""The simulated hardware as the host sees it: its files, its configuration, its signal.

The MicroPython modules under ``fabnode/sim/hw/`` (``machine``, ``esp32``, ``onewire``,
``ds18x20``, ``simhw``, the sensor models) go to ``/.sim/`` in a virtual node (``hw_files``);
``/.sim/hw.json`` (``hw_config``) wires them as the node's board, and the vibration they measure
comes from a signal file (``render_signal``) at ``/.sim/data/vibration.fnsig``. Under CPython the
same modules run in-process (``load_cpython``), which is how fast tests drive them.

``demo_source`` is a real machine for the demo and end-to-end tests: excerpts of the bearing
recordings shipped in ``sim/data/`` (made by ``bench/make_sim_excerpts.py``), healthy, then with a
bearing fault, at levels an ADXL345 measures.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fabnode.boards import Board
from fabnode.mpwasm import tree_files
from fabnode.recordings import Recording, load_recording
from fabnode.sim import signals

HW_DIR = Path(__file__).with_name("hw")
NODE_DIR = "/.sim"
CONFIG_PATH = f"{NODE_DIR}/hw.json"
SIGNAL_PATH = f"{NODE_DIR}/data/vibration.fnsig"
RESET_CAUSES = ("power_on", "brownout", "hard", "wdt", "deepsleep", "soft")
FAULTS = ("unplugged", "nack", "stuck", "wrong_id", "overrun", "bearing", "temp_ramp")
# module names the simulated hardware defines at the top level of the node's sys.path
MODULES = ("machine", "esp32", "onewire", "ds18x20", "simhw", "simsignal", "simdev")
EXCERPTS_DIR = Path(__file__).with_name("data")
# demo faults -> shipped excerpt (3200 Hz mono WAV, peak-normalized; bench/make_sim_excerpts.py)
HEALTHY_EXCERPT = "healthy_900rpm.wav"
FAULT_EXCERPTS = {"outer_race": "outer_race_900rpm.wav", "inner_race": "inner_race_900rpm.wav"}


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
    level_g: float | None = None  # RMS (g) the healthy recording is replayed at; None: its own unit is g
    fault_level_g: float | None = None  # the same for the fault recording

    def describe(self) -> str:
        """One line saying what the sensor measures, for people watching a node."""
        if self.recording is None:
            machine = f"a synthetic machine, shaft {self.machine.shaft_hz:g} Hz"
            if self.fault is None:
                return machine
            fault = f"{self.fault.kind.upper()} bearing fault of severity {self.fault.severity:g}"
            return f"{machine}; {fault}" + ("" if self.onset_s is None else f" from {self.onset_s:g} s on")
        healthy = _replay_label(self.recording, self.level_g)
        if self.fault_recording is None:
            return f"the recording {healthy} on {self.axis}, looped"
        fault = _replay_label(self.fault_recording, self.fault_level_g)
        when = "its fault segment" if self.onset_s is None else f"from {self.onset_s:g} s on"
        return f"the recording {healthy} on {self.axis}, looped; then {fault} {when}"


def _replay_label(path: str, level_g: float | None) -> str:
    return Path(path).stem + ("" if level_g is None else f" at {level_g:g} g RMS")


def demo_source(onset_s: float | None, fault: str = "outer_race", level_g: float = 0.05,
                fault_level_g: float = 0.1) -> SignalSource:
    """A real machine from the shipped excerpts: healthy bearing at 900 rpm, then ``fault`` from ``onset_s``.

    Levels are RMS in g on z (gravity added by the replay): 0.05 g is a smooth medium machine, ISO
    10816 zone A; the fault is louder, as a developing defect is. ``onset_s`` None leaves the fault for
    a ``bearing`` sensor fault to switch on.
    """
    if fault not in FAULT_EXCERPTS:
        raise signals.SignalError(f"no excerpt of a {fault!r} fault", hint=f"use {' or '.join(FAULT_EXCERPTS)}")
    return SignalSource(recording=str(EXCERPTS_DIR / HEALTHY_EXCERPT),
                        fault_recording=str(EXCERPTS_DIR / FAULT_EXCERPTS[fault]), onset_s=onset_s,
                        level_g=level_g, fault_level_g=fault_level_g)


def _replay(path: str, source: SignalSource, rate_hz: float, level_g: float | None) -> signals.FloatArray:
    """A recording as the sensor measures it, scaled to ``level_g`` RMS when given."""
    recording = load_recording(path, source.recording_rate_hz)
    if level_g is None:
        return signals.replay(recording, rate_hz, source.axis)
    # The level is the one the sensor sees: in its band, after the anti-alias filter.
    recording = recording.resampled(rate_hz)
    return signals.replay(recording, rate_hz, source.axis, level_g / _rms(recording))


def _rms(recording: Recording) -> float:
    """RMS about the mean, over all of the recording's channels."""
    centred = recording.samples - recording.samples.mean(axis=0)
    rms = float(np.sqrt(np.mean(centred * centred)))
    if rms == 0:
        raise signals.SignalError(f"{recording.source or 'the recording'} is silent: it has no level to scale")
    return rms


def render_signal(path: str | Path, rate_hz: float, source: SignalSource = SignalSource()) -> signals.SignalFile:
    """Write the signal file a node's sensor model streams, at the sensor's ``rate_hz``."""
    if source.recording is not None:
        healthy = _replay(source.recording, source, rate_hz, source.level_g)
        fault = (_replay(source.fault_recording, source, rate_hz, source.fault_level_g)
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
