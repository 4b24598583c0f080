"""The firmware, unchanged, on the virtual node: boot, telemetry, commands, and safe mode after crash boots."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fabnode.resources import boards_dir, firmware_dir
from fabnode.telemetry import Decoder, Record

REFERENCE_MODEL = Path(__file__).resolve().parents[2] / "models" / "bearing-hit-mfs-v1"


def _install(fs: Path, board: str = "esp32-devkitc", model: bool = True) -> None:
    """What a deploy puts on the node: boot.py, main.py, /lib, the board file, node.json, a model."""
    for name in ("boot.py", "main.py"):
        shutil.copy(firmware_dir() / name, fs / name)
    shutil.copytree(firmware_dir() / "lib", fs / "lib", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (fs / "config").mkdir(exist_ok=True)
    shutil.copy(boards_dir() / f"{board}.json", fs / "config" / "board.json")
    (fs / "config" / "node.json").write_text(json.dumps({"node_id": "fw-e2e", "telemetry_s": 2}))
    if model:
        shutil.copytree(REFERENCE_MODEL, fs / "models" / "active", dirs_exist_ok=True)


def _read_until(node: object, decoder: Decoder, done: Callable[[list[Record]], bool],
                timeout: float = 60.0) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records += [e for e in decoder.feed(node.rx.take(4096, timeout=0.2)) if isinstance(e, Record)]  # type: ignore[attr-defined]
        if done(records):
            return records
    raise AssertionError(f"timed out; got {[(r.type, r.payload) for r in records]}")


@pytest.mark.micropython
@pytest.mark.slow
def test_firmware_runs_on_the_virtual_node_ctrl_c_and_safe_mode_after_crash_boots(tmp_path, monkeypatch):
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware
    from fabnode.sim import node as virtual

    node = virtual.open_node("fw-e2e", "esp32-devkitc")  # opened and powered on
    try:
        node.wait_ready(60)
        _install(node.state.fs_dir)
        node.set_signal(hardware.SignalSource(fault=None, duration_s=4.0))
        decoder = Decoder()
        node.power_on("wdt")  # the app keeps crashing: watchdog resets, one after another
        records = _read_until(node, decoder, lambda rs: sum(r.type == "status" for r in rs) >= 1)
        hello = records[0]
        assert hello.type == "hello" and hello.seq == 0 and hello.node == "fw-e2e"
        assert hello.payload["model"] == "bearing-hit-mfs-v1", records[:3]
        assert hello.payload["safe_mode"] is False
        assert hello.payload["platform"] == "webassembly" and hello.payload["crash_boots"] == 1
        assert hello.payload["sensor"] == "adxl345" and hello.payload["sensor_selftest"] == "pass"
        status = next(r.payload for r in records if r.type == "status")
        assert status["windows"] > 0 and status["rate_hz"] > 1000 and status["faults"] == []
        assert status["velocity_mm_s"] > 0 and status["temp_c"] is not None

        node.write(b"!status\n")
        reply = _read_until(node, decoder, lambda rs: any(r.type == "reply" for r in rs), 20)[-1]
        assert reply.payload["cmd"] == "status" and reply.payload["ok"]

        node.write(b"\x03")  # Ctrl-C: the app stops and the REPL is the host's
        seen = b""
        deadline = time.monotonic() + 20
        while b">>> " not in seen and time.monotonic() < deadline:
            seen += node.rx.take(4096, timeout=0.2)
        assert b"KeyboardInterrupt" in seen and seen.endswith(b">>> "), seen[-300:]

        # Two more crash resets before the app has run stably: the third boot in a row is in safe mode.
        node.power_on("wdt")
        hello = _read_until(node, decoder, lambda rs: any(r.type == "hello" for r in rs))[0]
        assert hello.payload["crash_boots"] == 2 and hello.payload["safe_mode"] is False
        node.power_on("wdt")
        records = _read_until(node, decoder, lambda rs: any(r.type == "log" for r in rs))
        hello, log = records[0], records[-1]
        assert hello.type == "hello" and hello.payload["crash_boots"] == 3 and hello.payload["safe_mode"] is True
        assert log.payload["level"] == "error" and "safe mode" in log.payload["msg"]
        assert [r.type for r in records] == ["hello", "log"]  # and nothing else: the app did not start
    finally:
        node.close()


@pytest.mark.micropython
@pytest.mark.slow
@pytest.mark.parametrize(("board", "sensor", "temp_sensor"), [("esp32c3-xiao", "mpu6050", "mcu"),
                                                              ("esp32s3-devkitc", "adxl355", "mcu")])
def test_firmware_reads_each_boards_sensors_on_the_virtual_node(tmp_path, monkeypatch, board, sensor, temp_sensor):
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware
    from fabnode.sim import node as virtual

    node = virtual.open_node("fw-board", board)
    try:
        node.wait_ready(60)
        _install(node.state.fs_dir, board, model=False)
        node.set_signal(hardware.SignalSource(fault=None, duration_s=4.0))
        node.hard_reset()
        records = _read_until(node, Decoder(), lambda rs: sum(r.type == "features" for r in rs) >= 1)
        hello = records[0].payload
        assert (hello["board"], hello["sensor"], hello["temp_sensor"], hello["model"]) == (board, sensor, temp_sensor,
                                                                                          None)
        status = next(r.payload for r in records if r.type == "status")
        assert status["faults"] == [] and status["windows"] > 0 and status["temp_c"] is not None
        # Not the full rate: the virtual node delivers pin interrupts only between ticks and bus
        # transfers, so a FIFO shorter than a window's computation overruns (on a chip the handler
        # runs between bytecodes), and how much depends on the load of the machine running it.
        assert 0 < status["rate_hz"] <= 1.05 * hello["odr_hz"]
        features = next(r.payload for r in records if r.type == "features")
        assert 0.05 < features["rms_g"][2] < 0.08  # the synthetic machine's radial axis: about 0.062 g RMS
    finally:
        node.close()


@pytest.mark.micropython
@pytest.mark.slow
def test_bearing_fault_onset_raises_the_anomaly_alarm_on_the_virtual_node(tmp_path, monkeypatch, synthetic_model):
    # The MPU6050 board: its 170-frame FIFO outlasts a window's computation, so no sample is lost
    # in the virtual node (see docs/firmware.md) and healthy windows stay healthy.
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware, signals
    from fabnode.sim import node as virtual

    onset_s = 5.0
    node = virtual.open_node("fw-fault", "esp32c3-xiao")
    try:
        node.wait_ready(60)
        fs = node.state.fs_dir
        _install(fs, "esp32c3-xiao", model=False)
        shutil.copytree(synthetic_model("synthetic-1k-v1"), fs / "models" / "active")
        (fs / "config" / "node.json").write_text(json.dumps({"node_id": "fw-fault", "telemetry_s": 1,
                                                            "machine_class": "III"}))
        node.set_signal(hardware.SignalSource(fault=signals.BearingFault("bpfo", 0.5), duration_s=12.0,
                                              onset_s=onset_s))
        node.hard_reset()
        # The impacts raise the velocity too: the ISO zone alarm may come first, in the same windows.
        records = _read_until(node, Decoder(),
                              lambda rs: any(r.type == "alarm" and r.payload["kind"] == "anomaly" for r in rs), 40)
        hello, alarm = records[0], records[-1]
        assert hello.payload["model"] == "synthetic-1k-v1" and hello.payload["sensor"] == "mpu6050", records[:3]
        assert (alarm.payload["kind"], alarm.payload["event"]) == ("anomaly", "start"), alarm
        # Not before the fault (healthy windows stay under the threshold), and a few windows after it.
        since_boot_s = (alarm.ticks_ms - hello.ticks_ms) / 1000
        assert onset_s - 0.5 <= since_boot_s <= onset_s + 3.5, since_boot_s
        statuses = [r.payload for r in records if r.type == "status"]
        assert statuses and all(s["overruns"] == 0 for s in statuses)
    finally:
        node.close()
