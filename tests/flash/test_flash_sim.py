"""fabnode flash against virtual nodes (sim://): the whole path, MicroPython's REPL included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from fabnode import flashing
from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.errors import FabnodeError, PortError
from fabnode.ports import prepare_url
from fabnode.sim import control
from fabnode.sim.node import create_node

ESP32 = get_board("esp32-devkitc")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.micropython
def test_blank_node_to_micropython_repl(home: Path) -> None:
    create_node("blank", "esp32-devkitc", blank=True)
    firmware = flashing.load_firmware(ESP32, None, "sim://blank")
    result = flashing.flash_firmware(ESP32, firmware, "sim://blank")
    assert result.written and result.micropython_version == "v1.27.0"
    assert result.repl_banner is not None and result.repl_banner.startswith("MicroPython v1.27.0")


def test_busy_port_is_reported(home: Path) -> None:
    create_node("busy", "esp32-devkitc", blank=True)
    with serial.serial_for_url(prepare_url("sim://busy")), pytest.raises(PortError, match="another program") as error:
        flashing.flash_firmware(ESP32, flashing.load_firmware(ESP32, None, "sim://busy"), "sim://busy",
                                wait_repl=False)
    assert "fabnode monitor" in (error.value.hint or "")
    assert str(error.value).startswith("cannot open sim://busy: another program has it open")  # as any other open


def test_missing_port_is_reported_as_missing(home: Path) -> None:
    with pytest.raises(PortError, match="cannot open /dev/ttyFABNODE9: there is no such port") as error:
        flashing.flash_firmware(ESP32, flashing.load_firmware(ESP32, None, "sim://any"), "/dev/ttyFABNODE9",
                                wait_repl=False)
    assert "fabnode ports" in (error.value.hint or "")


def test_all_flashes_in_parallel_and_one_failure_does_not_stop_the_others(home: Path) -> None:
    create_node("line1", "esp32-devkitc", blank=True)
    create_node("line2", "esp32-devkitc", blank=True)
    create_node("wrong", "esp32s3-devkitc", blank=True)  # an S3 board on the ESP32 bench
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32-devkitc", "--all", "--no-wait", "--json",
                                   "-p", "sim://line1", "-p", "sim://wrong", "-p", "sim://line2"])
    assert run.exit_code == 1
    report = json.loads(run.output.splitlines()[-1])
    assert report["event"] == "result" and report["ok"] is False
    by_port = {entry["port"]: entry for entry in report["ports"]}
    assert by_port["sim://line1"]["ok"] and by_port["sim://line2"]["ok"]
    assert by_port["sim://line1"]["result"]["written"] is True
    assert not by_port["sim://wrong"]["ok"]
    assert "has an ESP32-S3, but board esp32-devkitc is an ESP32" in by_port["sim://wrong"]["error"]
    assert by_port["sim://wrong"]["hint"]


@pytest.mark.micropython
def test_power_loss_mid_flash_then_reflash(home: Path) -> None:
    create_node("cut", "esp32-devkitc", blank=True)
    firmware = flashing.load_firmware(ESP32, None, "sim://cut")
    cut = []

    def cut_power_a_third_into_the_write(task: str, done: int, total: int) -> None:
        if task == "write" and done > total // 3 and not cut:
            cut.append(done)
            control.request("cut", "power-loss", off_seconds=0.2)  # as `fabnode sim fault cut power-loss`

    with pytest.raises(FabnodeError, match="at 115200 baud"):
        flashing.flash_firmware(ESP32, firmware, "sim://cut", baud=115200, wait_repl=False,
                                on_progress=cut_power_a_third_into_the_write)
    assert cut
    result = flashing.flash_firmware(ESP32, firmware, "sim://cut", baud=115200)
    assert result.written and result.repl_banner is not None
