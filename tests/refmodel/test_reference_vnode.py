"""The shipped reference model on the virtual node, end to end: real bearing vibration, healthy then faulty.

The app is deployed and the model pushed with fabnode's own code over ``sim://``; the node's
simulated ADXL345 measures the shipped recording excerpts (``hardware.demo_source``) and the
firmware computes features and scores under the WebAssembly MicroPython.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fabnode.boards import get_board
from fabnode.deploy import deploy
from fabnode.models.package import load_package
from fabnode.models.push import push_model
from fabnode.monitor import Monitor
from fabnode.repl import NodeRepl
from fabnode.resources import models_dir
from fabnode.telemetry import Record

BOARD = get_board("esp32-devkitc")
ONSET_S = 8.0  # simulated seconds of healthy machine after the monitor powers the node on


@pytest.mark.micropython
@pytest.mark.slow
def test_healthy_machine_stays_quiet_and_a_bearing_fault_raises_the_anomaly_alarm(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware
    from fabnode.sim.node import VirtualNode, create_node

    reference = load_package(models_dir() / "bearing-hit-mfs-v1")
    port = "sim://refmodel"
    node_state = create_node("refmodel", BOARD.id)
    VirtualNode(node_state).set_signal(hardware.demo_source(ONSET_S))
    with NodeRepl(port, BOARD.max_baud) as repl:
        deploy(repl, BOARD, node_id="press-7", settings={"telemetry_s": 1})
    [pushed] = push_model(reference, [port], BOARD.max_baud)
    assert pushed.ok, pushed.detail

    records: list[Record] = []
    with Monitor([port], BOARD.max_baud) as monitor:  # opening the port powers the node on: signal time 0
        for item in monitor.watch(duration=ONSET_S + 30):
            if isinstance(item.event, Record):
                records.append(item.event)
                if item.event.type == "alarm":
                    break
    seen = [(r.type, r.payload) for r in records]
    hello = records[0]
    assert hello.type == "hello" and hello.payload["model"] == reference.id, seen
    alarm = records[-1]
    assert (alarm.type, alarm.payload["kind"], alarm.payload["event"]) == ("alarm", "anomaly", "start"), seen

    def since_hello_s(record: Record) -> float:
        return (record.ticks_ms - hello.ticks_ms) / 1000

    # Score records that cover healthy windows only (a window is 0.32 s, a record 1 s of them).
    healthy = [r.payload for r in records if r.type == "score" and since_hello_s(r) < ONSET_S - 1.0]
    assert len(healthy) >= 4, seen
    # The node loses no samples (its clock stands still while a window is computed), so no healthy
    # window is over the threshold, as on the host (docs/reference-model.md).
    assert sum(s["over"] for s in healthy) == 0, healthy
    assert [r for r in records if r.type == "alarm"] == [alarm]  # nothing before: neither model nor ISO zone
    assert ONSET_S - 1.0 <= since_hello_s(alarm) <= ONSET_S + 4.0, since_hello_s(alarm)
