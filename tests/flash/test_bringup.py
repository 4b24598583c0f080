"""fabnode flash end to end on virtual nodes: blank board -> MicroPython -> app -> model -> proven by hello."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabnode import bringup, flashing
from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.deploy import app_version
from fabnode.errors import FabnodeError
from fabnode.sim.node import create_node

ESP32 = get_board("esp32-devkitc")
FAST_BAUD = ESP32.max_baud


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.micropython
def test_blank_node_to_verified_node_then_rerun_changes_nothing(home: Path) -> None:
    create_node("line-a", "esp32-devkitc", blank=True)
    package = bringup.default_package(ESP32)
    assert package is not None and package.id == "bearing-hit-mfs-v1"
    firmware = flashing.load_firmware(ESP32, None, "sim://line-a")
    first = bringup.bring_up(ESP32, firmware, "sim://line-a", node_id="press-7", package=package,
                             baud=FAST_BAUD, repl_baud=FAST_BAUD)
    assert first.flash.written and first.deploy.written and first.model and first.model.status == "activated"
    assert (first.hello["node"], first.hello["fw"], first.hello["board"]) == ("press-7", app_version(), ESP32.id)
    assert first.hello["model_sha256"] == package.sha256 and first.hello["safe_mode"] is False
    summary = first.summary()
    assert summary["chip"].startswith("ESP32") and summary["micropython"] == "1.27.0"
    assert set(summary["phases"]) == {"flash", "deploy", "model", "hello"}

    again = bringup.bring_up(ESP32, firmware, "sim://line-a", package=package, baud=FAST_BAUD, repl_baud=FAST_BAUD)
    assert not again.flash.written and again.deploy.written == []
    assert again.model and again.model.status == "already active"
    assert again.hello["node"] == "press-7"  # the node keeps its name


def test_a_wrong_model_for_the_board_is_refused_before_touching_the_node(home: Path) -> None:
    create_node("c3", "esp32c3-xiao", blank=True)
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32c3-xiao", "-p", "sim://c3",
                                   "--model", str(bringup.default_package(ESP32).source)])  # type: ignore[union-attr]
    assert run.exit_code == 1
    assert "made for esp32-devkitc, not esp32c3-xiao" in str(run.exception)


def test_hello_mismatch_fails_the_command(home: Path) -> None:
    with pytest.raises(FabnodeError, match=r"fw is '0\.0\.1', expected"):
        bringup._check_hello({"fw": "0.0.1", "board": ESP32.id, "safe_mode": False}, ESP32, None, None, "sim://x")


@pytest.mark.micropython
def test_cli_json_result(home: Path) -> None:
    create_node("line-b", "esp32-devkitc", blank=True)
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32-devkitc", "-p", "sim://line-b", "--no-model",
                                   "--node-id", "line-b", "-b", str(FAST_BAUD), "--json"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.splitlines()[-1])
    assert report["event"] == "result" and report["ok"] is True
    assert report["model"] is None and report["hello"]["model"] is None
    assert report["hello"]["node"] == "line-b" and report["deploy"]["app_version"] == app_version()
    assert report["flash"]["written"] is True


@pytest.mark.micropython
@pytest.mark.slow
def test_all_brings_up_every_node_and_one_failure_does_not_stop_the_others(home: Path) -> None:
    create_node("bench-1", "esp32-devkitc", blank=True)
    create_node("bench-s3", "esp32s3-devkitc", blank=True)  # an S3 board on the ESP32 bench
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32-devkitc", "--all", "--no-model", "--json",
                                   "-b", str(FAST_BAUD), "-p", "sim://bench-1", "-p", "sim://bench-s3"])
    assert run.exit_code == 1
    report = json.loads(run.output.splitlines()[-1])
    by_port = {entry["port"]: entry for entry in report["ports"]}
    good = by_port["sim://bench-1"]
    assert good["ok"] and good["result"]["hello"]["fw"] == app_version()
    assert good["result"]["deploy"]["written"]
    assert set(good["result"]["phases"]) == {"flash", "deploy", "model", "hello"}
    assert not by_port["sim://bench-s3"]["ok"] and "ESP32-S3" in by_port["sim://bench-s3"]["error"]


def test_a_skipped_phase_takes_no_time_not_minus_zero() -> None:
    clock = iter([100.0, 103.406, 103.406, 103.9])  # start, flash done, model skipped at once, hello
    lap = bringup._stopwatch(lambda: next(clock))
    laps = [lap(), lap(), lap()]
    assert laps == [3.41, 0.0, 0.49] and f"{laps[1]:.1f}" == "0.0"
