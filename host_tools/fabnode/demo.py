"""``fabnode demo``: the whole life of a node in under a minute, with no hardware and no network.

A blank virtual ESP32 node is flashed by ``fabnode flash``'s own code (stand-in MicroPython,
the app, the shipped reference model, proven by the node's hello). Its simulated ADXL345 then
measures a real recording of a healthy machine, and later one of the same machine with an
outer-race bearing fault; the demo shows the telemetry as ``fabnode monitor`` does, until the
node raises its anomaly alarm.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fabnode import bringup, flashing
from fabnode.boards import get_board
from fabnode.errors import FabnodeError
from fabnode.monitor import Monitor, PortEvent
from fabnode.monitor_view import ConsoleView, EventFilter
from fabnode.mpwasm import runtime_dir
from fabnode.sim import hardware
from fabnode.sim.node import create_node, set_signal
from fabnode.sim.state import NodeState
from fabnode.telemetry import Record

BOARD_ID = "esp32-devkitc"
NODE = "demo"
NODE_ID = "press-7"
HEALTHY_S = 12.0  # seconds of healthy machine after the node powers on, then the bearing fault
ALARM_WAIT_S = 30.0
# Telemetry every 2 s instead of 10 s, so the healthy phase shows a few status lines.
SETTINGS = {"telemetry_s": 2}
# What a technician watches (`fabnode monitor --type ...`); feature vectors are for engineers.
SHOWN = EventFilter(types=frozenset({"hello", "status", "score", "alarm", "log", "error"}))


@dataclass
class DemoResult:
    seconds: float
    alarm_after_fault_s: float
    phases: dict[str, float]


@contextmanager
def _home(home: Path | None) -> Iterator[Path]:
    """Run with FABNODE_HOME at ``home``, or at a temporary folder removed afterwards."""
    previous = os.environ.get("FABNODE_HOME")
    with tempfile.TemporaryDirectory(prefix="fabnode-demo-") as scratch:
        os.environ["FABNODE_HOME"] = str(home or scratch)
        try:
            yield Path(os.environ["FABNODE_HOME"])
        finally:
            if previous is None:
                del os.environ["FABNODE_HOME"]
            else:
                os.environ["FABNODE_HOME"] = previous


def _render_machine(node_state: NodeState) -> str:
    """The vibration the node will measure: healthy, then the bearing fault from HEALTHY_S on."""
    source = hardware.demo_source(HEALTHY_S)
    set_signal(node_state, source)
    return source.describe()


def run_demo(out: TextIO, home: Path | None = None, color: bool = False) -> DemoResult:
    """Run the demo, writing what a technician would see to ``out``; FabnodeError if no alarm came."""
    started = time.monotonic()
    runtime_dir()  # node and the MicroPython WebAssembly port first: a missing one is the first thing said
    board = get_board(BOARD_ID)
    port = f"sim://{NODE}"
    with _home(home):
        node_state = create_node(NODE, board.id, blank=True)
        machine = _render_machine(node_state)
        out.write(f"fabnode demo: a virtual {board.name} ({port}), blank flash.\n")
        out.write(f"The machine: {machine}\n\n")
        package = bringup.default_package(board)
        firmware = flashing.load_firmware(board, None, port)
        out.write(f"[1/3] fabnode flash: {firmware.source}, the app and model {package.id if package else 'none'}\n")
        out.flush()
        result = bringup.bring_up(board, firmware, port, node_id=NODE_ID, settings=SETTINGS, package=package,
                                  baud=board.max_baud, repl_baud=board.max_baud)
        summary = result.summary()
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary["phases"].items())
        out.write(f"      {summary['chip']}, MAC {summary['mac']}: node {summary['node']} runs MicroPython "
                  f"{summary['micropython']}, app {summary['app']}, model {summary['model']} ({phases})\n\n")
        out.write(f"[2/3] fabnode monitor -p {port}: healthy machine, the bearing fault starts "
                  f"{HEALTHY_S:g} s after power-on\n")
        out.flush()
        alarm_after = _watch_until_alarm(port, ConsoleView(out, color=color))
    seconds = time.monotonic() - started
    out.write(f"\n[3/3] the node raised its anomaly alarm {alarm_after:.1f} s after the fault began; "
              f"demo done in {seconds:.0f} s.\n")
    out.write("Next: `fabnode flash --board esp32-devkitc` on a real board, `fabnode monitor`, `fabnode --help`.\n")
    out.flush()
    return DemoResult(round(seconds, 1), round(alarm_after, 2), result.phases)


def _watch_until_alarm(port: str, view: ConsoleView) -> float:
    """Show the node's telemetry until its anomaly alarm starts; simulated seconds from fault to alarm.

    The node's ticks count simulated time from power-on, the clock the fault onset is set in.
    """
    with Monitor([port]) as monitor:  # opening the port powers the virtual node on: time 0
        try:
            # The simulated clock runs a little slower than the wall clock while the node computes.
            for item in monitor.watch(duration=2 * HEALTHY_S + ALARM_WAIT_S):
                if SHOWN.accepts(item):
                    view.show(item)
                if _is_anomaly_alarm(item):
                    assert isinstance(item.event, Record)
                    after_fault = item.event.ticks_ms / 1000 - HEALTHY_S
                    if after_fault < 0:
                        raise FabnodeError("the node raised its anomaly alarm on the healthy machine, "
                                           f"{-after_fault:.1f} s before the bearing fault")
                    return after_fault
        finally:
            view.close()
    raise FabnodeError(f"the node raised no anomaly alarm within {ALARM_WAIT_S:g} s of the bearing fault",
                       hint="run `fabnode monitor -p sim://demo` to see what it reports")


def _is_anomaly_alarm(item: PortEvent) -> bool:
    event = item.event
    return (isinstance(event, Record) and event.type == "alarm" and event.payload.get("kind") == "anomaly"
            and event.payload.get("event") == "start")
