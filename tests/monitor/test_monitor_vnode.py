"""End to end against the virtual node: the real firmware under MicroPython on simulated sensors,
reached as ``sim://NAME`` through pyserial, exactly as `fabnode monitor` / `collect` reach it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fabnode.cli import cli
from fabnode.collect import collect
from fabnode.monitor import Disconnected, Monitor, PortEvent, Reconnected
from fabnode.mpwasm import tree_files
from fabnode.report import report
from fabnode.resources import boards_dir, firmware_dir, models_dir
from fabnode.telemetry import Corrupt, Reboot, Record
from fabnode.telemetry_file import TelemetryWriter, read_saved

pytestmark = pytest.mark.micropython

NODE_ID = "press-7"
BOARD = "esp32-devkitc"


@pytest.fixture
def vnode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A virtual node with the firmware, a model and a looping synthetic signal; yields its name."""
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware, node

    name = "mon"
    node_state = node.create_node(name, BOARD)
    files = tree_files(firmware_dir(), "/")
    files.update(tree_files(models_dir() / "bearing-hit-mfs-v1", "/models/active"))
    files["/config/board.json"] = (boards_dir() / f"{BOARD}.json").read_bytes()
    # 20 °C limit below the simulated 24 °C ambient: a temperature alarm starts right away.
    files["/config/node.json"] = json.dumps({"node_id": NODE_ID, "telemetry_s": 1, "temp_max_c": 20}).encode()
    node.write_files(node_state, files)
    node.VirtualNode(node_state).set_signal(hardware.SignalSource(fault=None, duration_s=2.0))
    yield name


def watch_until(mon: Monitor, wanted: set[str], timeout: float = 20.0) -> list[PortEvent]:
    """Events until every record type in ``wanted`` was seen (or the timeout)."""
    seen: list[PortEvent] = []
    for item in mon.watch(duration=timeout):
        seen.append(item)
        if wanted <= {i.event.type for i in seen if isinstance(i.event, Record)}:
            break
    return seen


def test_monitor_shows_hello_status_score_and_alarm_and_the_report_plots_them(vnode: str, tmp_path: Path) -> None:
    with Monitor([f"sim://{vnode}"]) as mon:
        events = watch_until(mon, {"hello", "status", "score", "alarm"})
    records = {e.event.type: e.event for e in events if isinstance(e.event, Record)}
    assert {"hello", "status", "score", "alarm"} <= set(records)
    hello = records["hello"].payload
    assert records["hello"].seq == 0 and records["hello"].node == NODE_ID
    assert hello["board"] == BOARD and hello["model"] == "bearing-hit-mfs-v1" and hello["platform"] == "webassembly"
    # The temperature limit is below ambient, the synthetic machine's velocity sits in ISO zone C, and its
    # shape is not the reference model's healthy machine: whichever of the three comes first.
    assert records["alarm"].payload["kind"] in ("temperature", "iso", "anomaly")
    assert records["alarm"].payload["event"] == "start"
    assert records["status"].payload["threshold"] == records["score"].payload["threshold"] is not None
    assert not [e for e in events if isinstance(e.event, Corrupt)]
    saved = tmp_path / "t.csv"
    with TelemetryWriter(saved) as writer:
        for item in events:
            writer.write(item)
    has_temperature = any(e.event.payload.get("temp_c") is not None for e in events
                          if isinstance(e.event, Record) and e.event.type == "status")
    expected = ["velocity", "temperature", "score"] if has_temperature else ["velocity", "score"]
    assert report([saved], tmp_path / "r.html")["plots"] == expected


def test_send_status_gets_the_node_reply(vnode: str) -> None:
    result = CliRunner().invoke(cli, ["monitor", "-p", f"sim://{vnode}", "--send", "status", "--json",
                                      "--timeout", "20"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.output)
    assert reply["payload"]["cmd"] == "status" and reply["payload"]["ok"] is True
    assert reply["payload"]["data"]["odr_hz"] == 3200


def test_line_noise_is_counted_and_no_bad_record_is_saved(vnode: str, tmp_path: Path) -> None:
    from fabnode.sim import control

    save = tmp_path / "noisy.jsonl"
    with Monitor([f"sim://{vnode}"]) as mon:
        watch_until(mon, {"hello"})
        control.request(vnode, "noise", bit_flip_rate=2e-3, seed=5)
        events = [*mon.watch(duration=4)]
    with TelemetryWriter(save) as writer:
        for item in events:
            writer.write(item)
    corrupt = [e for e in events if isinstance(e.event, Corrupt)]
    assert corrupt, "2e-3 bit flips per byte over 4 s of telemetry must hit some lines"
    saved = [e for e in read_saved(save) if e["kind"] == "record"]
    assert saved and all(e["node"] == NODE_ID and e["type"] in {"status", "features", "score", "alarm"}
                         for e in saved)
    assert len({e["seq"] for e in saved}) == len(saved)
    assert mon.summary()[0]["corrupt"] >= len(corrupt)  # the count goes on until the port is closed


def test_unplug_replug_is_reported_with_the_gap_and_the_reboot(vnode: str) -> None:
    from fabnode.sim import control

    with Monitor([f"sim://{vnode}"]) as mon:
        events = watch_until(mon, {"hello", "status"})
        threading.Timer(0.1, control.request, args=(vnode, "usb-disconnect"), kwargs={"seconds": 1.0}).start()
        for item in mon.watch(duration=20):
            events.append(item)
            if isinstance(item.event, Reboot):
                break  # the replugged node booted and said hello again
    kinds = [type(e.event) for e in events]
    assert Disconnected in kinds and Reconnected in kinds and Reboot in kinds
    assert kinds.index(Disconnected) < kinds.index(Reconnected) < kinds.index(Reboot)
    reconnected = next(e.event for e in events if isinstance(e.event, Reconnected))
    assert reconnected.gap_s >= 0.9 and reconnected.device == f"sim://{vnode}"
    reboot = next(e.event for e in events if isinstance(e.event, Reboot))
    assert reboot.node == NODE_ID and reboot.seq == 0 and reboot.hello_seen


def test_escape_sequences_are_neutralised_and_tracebacks_shown(vnode: str) -> None:
    from fabnode.sim import control

    def inject() -> None:
        control.request(vnode, "exec", code="import sys\nsys.stdout.write('\\x1b[2J\\x1b]0;pwned\\x07owned\\r\\n')\n"
                                            "try:\n    raise ValueError('boom')\nexcept ValueError as e:\n"
                                            "    sys.print_exception(e, sys.stdout)")

    threading.Timer(3.0, inject).start()
    result = CliRunner().invoke(cli, ["monitor", "-p", f"sim://{vnode}", "--duration", "5"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J\\x1b]0;pwned\\x07owned" in result.stdout
    assert f"{NODE_ID} ! ValueError: boom" in result.stdout  # a traceback, shown as an error of the node


def test_collect_raw_matches_the_signal_source(vnode: str, tmp_path: Path) -> None:
    from fabnode.sim import signals, state

    [(_, path)] = collect([f"sim://{vnode}"], tmp_path, mode="raw", duration=3, baud=921600, label="ok")
    data = np.load(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sensor"] == "adxl345" and meta["sample_rate_hz"] == 3200 and meta["board"] == BOARD
    assert meta["label"] == "ok" and meta["firmware"] and meta["sensor_overruns"] is not None
    assert len(data) >= 1024 and data.shape[1] == 3
    # The sensor plays the signal file in a loop. Under WebAssembly the node falls behind now and
    # then and its FIFO overruns (frames lost in the sensor, counted in sensor_overruns), so compare
    # piece by piece: a 64-frame piece must be a run of the signal to the sensor's resolution (one
    # count), unless it holds one of the overruns.
    signal = signals.read_signal(state.load(vnode).sim_data_dir / "vibration.fnsig").segment_g(0)
    scale = meta["scale_g"]
    looped = np.round(np.concatenate([signal, signal[:64]]) / scale)
    runs = np.lib.stride_tricks.sliding_window_view(looped, (64, 3))[:, 0]  # every 64-frame run
    counts = np.round(data / scale)
    pieces = [counts[i:i + 64] for i in range(0, len(counts) - 63, 64)]
    found = [bool((np.abs(runs - piece).max(axis=(1, 2)) <= 1).any()) for piece in pieces]
    assert found.count(False) <= meta["sensor_overruns"] + 1, f"{found.count(False)} of {len(found)} pieces"
    assert found.count(True) >= len(found) // 4
    drawn = report([path], tmp_path / "spectrum.png")
    assert drawn["plots"] == ["spectrum"] and (tmp_path / "spectrum.png").read_bytes()[:4] == b"\x89PNG"


def test_collect_features_from_the_node(vnode: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["collect", "-p", f"sim://{vnode}", "--out", str(tmp_path), "--mode", "features",
                                      "--duration", "3", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)
    data = np.load(summary["file"])
    meta = json.loads(Path(summary["file"]).with_suffix(".json").read_text())
    manifest = json.loads((models_dir() / "bearing-hit-mfs-v1" / "manifest.json").read_text())
    assert summary["node"] == NODE_ID and len(data) >= 2 and np.isfinite(data).all()
    assert data.shape[1] == len(manifest["features"]["names"]) and meta["model"] == manifest["id"]
