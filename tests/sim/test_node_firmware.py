"""The fabnode firmware on a virtual node: telemetry over the console, commands, and the node's faults
as the host sees them in the telemetry (reboots, corrupted lines)."""

from __future__ import annotations

import json
import time

import pytest
from vnode_console import console, fabnode_home  # noqa: F401  (fixture)

from fabnode.mpwasm import tree_files
from fabnode.resources import boards_dir, firmware_dir
from fabnode.sim.node import VirtualNode, create_node, write_files
from fabnode.telemetry import Corrupt, Decoder, Reboot, Record, command_line

pytestmark = [pytest.mark.micropython, pytest.mark.usefixtures("fabnode_home")]


def deploy_firmware(name: str) -> None:
    node_state = create_node(name)
    files = tree_files(firmware_dir(), "")
    files["/config/board.json"] = (boards_dir() / f"{node_state.settings.board}.json").read_bytes()
    files["/config/node.json"] = json.dumps({"node_id": name, "telemetry_s": 1}).encode()
    write_files(node_state, files)


class Telemetry:
    def __init__(self, port: object) -> None:
        self.port = port
        self.decoder = Decoder()

    def until(self, wanted: object, timeout: float = 20.0) -> list[object]:
        """Events until one satisfies ``wanted`` (returned last); fails with what came otherwise."""
        seen: list[object] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.decoder.feed(self.port.read(max(1, self.port.in_waiting))):  # type: ignore[attr-defined]
                seen.append(event)
                if wanted(event):  # type: ignore[operator]
                    return seen
        raise AssertionError(f"no matching event within {timeout} s; saw {seen[-10:]}")


def is_record(kind: str) -> object:
    return lambda event: isinstance(event, Record) and event.type == kind


def test_firmware_telemetry_commands_and_faults_seen_by_the_host() -> None:
    deploy_firmware("fw1")
    with console("sim://fw1") as con:
        node: VirtualNode = con.port.node
        telemetry = Telemetry(con.port)
        hello = telemetry.until(is_record("hello"))[-1]
        assert hello.payload["reset"] == "power_on" and hello.node == "fw1"  # type: ignore[attr-defined]

        con.write(command_line("status"))  # the app reads commands between ticks
        reply = telemetry.until(is_record("reply"))[-1]
        assert reply.payload["ok"] is True  # type: ignore[attr-defined]

        node.brownout_loop(resets=1, period=0.1)
        events = telemetry.until(is_record("hello"))
        assert any(isinstance(event, Reboot) for event in events)

        node.set_line_noise(bit_flip_rate=0.05, seed=3, to_node=False)
        events = telemetry.until(lambda event: isinstance(event, Corrupt))
        node.set_line_noise()
        assert telemetry.decoder.stats.corrupt >= 1 and events


def test_sensor_faults_are_observed_by_the_firmware_and_surface_in_telemetry() -> None:
    deploy_firmware("fw2")
    with console("sim://fw2") as con:
        node: VirtualNode = con.port.node
        telemetry = Telemetry(con.port)
        status = telemetry.until(is_record("status"))[-1]
        overruns = status.payload["overruns"]  # type: ignore[attr-defined]

        node.sensor_fault("unplugged", role="vibration")  # I2C NACKs: the driver's reads fail
        error = telemetry.until(is_record("error"))[-1]
        assert error.payload["where"] == "sensor"  # type: ignore[attr-defined]
        assert "sensor" in telemetry.until(is_record("status"))[-1].payload["faults"]  # type: ignore[attr-defined]
        node.clear_sensor_faults()  # plugged back: retried every 5 s, recovery logged
        recovered = telemetry.until(is_record("log"), timeout=30)[-1]
        assert "answering again" in recovered.payload["msg"]  # type: ignore[attr-defined]

        node.sensor_fault("overrun", ms=200)  # the firmware stalls: the FIFO overflows
        later = telemetry.until(lambda e: is_record("status")(e) and e.payload["overruns"] > overruns)[-1]  # type: ignore[attr-defined,operator]
        assert later.payload["overruns"] > overruns  # type: ignore[attr-defined]

        node.sensor_fault("temp_ramp", c_per_min=900, limit_c=95)  # the machine overheats fast
        alarm = telemetry.until(lambda e: is_record("alarm")(e) and e.payload["kind"] == "temperature",  # type: ignore[attr-defined,operator]
                                timeout=40)[-1]
        assert alarm.payload["event"] == "start" and alarm.payload["value"] > alarm.payload["limit"]  # type: ignore[attr-defined]
