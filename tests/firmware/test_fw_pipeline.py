"""The whole app on a synthetic machine: a bearing-fault impulse train raises an alarm, recovery clears it.

The signal comes from the virtual node's signal generator (fabnode.sim.signals), the model is
trained on its healthy machine (make_test_model.py, the ``synthetic_model`` fixture); the app
runs with a fake sensor and clock (fwchecks/pipeline.py) under CPython and under MicroPython,
and the host decoder reads its output.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from fwrun import CHECKS, check_files

from fabnode.sim import signals
from fabnode.telemetry import Decoder, Record

RATE = 3200
WINDOW, HOP = 1024, 512
SCALE_G = 0.0039
# healthy (first window + 5 hops), fault (8 hops), healthy again (12 hops)
SEGMENTS = [WINDOW + 5 * HOP, 8 * HOP, 12 * HOP]


def _signal_file(path: Path) -> Path:
    machine = signals.Machine()
    parts = [signals.synthetic(machine, RATE, frames / RATE, fault, seed=11 + i)
             for i, (frames, fault) in enumerate(zip(SEGMENTS, [None, signals.BearingFault("bpfo", 0.5), None],
                                                      strict=True))]
    counts = np.clip(np.round(np.vstack(parts) / SCALE_G), -32768, 32767).astype("<i2")
    path.write_bytes(counts.tobytes())
    return path


def _records(output: bytes) -> list[Record]:
    decoder = Decoder()
    events = decoder.feed(output)
    assert decoder.stats.corrupt == 0
    return [e for e in events if isinstance(e, Record)]


def _check_alarm_story(records: list[Record]) -> None:
    hello = records[0]
    assert hello.type == "hello" and hello.seq == 0
    assert hello.payload["model"] == "synthetic-v1" and hello.payload["safe_mode"] is False
    assert hello.payload["sensor"] == "adxl345" and hello.payload["window"] == WINDOW
    alarms = [(r.payload["kind"], r.payload["event"], r.payload["window"]) for r in records if r.type == "alarm"]
    anomaly = [(event, window) for kind, event, window in alarms if kind == "anomaly"]
    fault_windows = range(1 + 5, 1 + 5 + 8 + 1)  # windows that hold fault frames (1-based counts)
    assert [event for event, _ in anomaly] == ["start", "clear"], alarms
    assert anomaly[0][1] in fault_windows, alarms
    assert anomaly[1][1] > fault_windows[-1], alarms
    statuses = [r.payload for r in records if r.type == "status"]
    assert statuses and statuses[-1]["threshold"] > 0 and statuses[-1]["alarm"] is False
    scores = [r.payload for r in records if r.type == "score"]
    assert max(s["max"] for s in scores) > scores[0]["threshold"]
    assert all(s["model"] == "synthetic-v1" for s in scores)
    assert {r.type for r in records} >= {"hello", "status", "features", "score", "alarm"}


def test_fault_raises_and_recovery_clears_the_alarm_under_cpython(tmp_path, synthetic_model):
    sys.path.insert(0, str(CHECKS))
    import pipeline

    shutil.copytree(synthetic_model("synthetic-v1"), tmp_path / "models" / "active")
    output = pipeline.scenario(str(_signal_file(tmp_path / "signal.bin")), str(tmp_path / "models"), SEGMENTS)
    _check_alarm_story(_records(output))


@pytest.mark.micropython
def test_fault_raises_and_recovery_clears_the_alarm_under_micropython(tmp_path, micropython, synthetic_model):
    files = {**check_files(), "/fwdata/signal.bin": _signal_file(tmp_path / "signal.bin").read_bytes()}
    for name in ("model.tflite", "manifest.json"):
        files[f"/models/active/{name}"] = (synthetic_model("synthetic-v1") / name).read_bytes()
    code = ("import sys\nsys.path.append('/fwchecks')\nimport pipeline\n"
            f"sys.stdout.write(pipeline.scenario('/fwdata/signal.bin', '/models', {SEGMENTS}).decode())\n")
    _check_alarm_story(_records(micropython(code, files=files).stdout.encode()))
