"""fabnode diag against the virtual node: the app answers while sampling; without it, the REPL does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import serial

from fabnode.boards import get_board
from fabnode.deploy import app_version, deploy
from fabnode.diag import diagnose
from fabnode.errors import PortError
from fabnode.ports import prepare_url
from fabnode.repl import NodeRepl

BOARD = get_board("esp32-devkitc")
FAST_BAUD = BOARD.max_baud


@pytest.fixture
def node(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    return "sim://diag-test"


def test_bare_micropython_is_read_from_the_repl(node):
    found = diagnose(node, FAST_BAUD, timeout=1.0)
    assert not found.app_running
    assert "not running" in (found.note or "")
    assert found.repl is not None
    assert found.repl["micropython"] == "1.27.0" and found.repl["app_version"] is None
    assert found.repl["reset_cause"] == "PWRON_RESET"


def test_running_app_answers_without_stopping(node):
    with NodeRepl(node, FAST_BAUD) as repl:
        deploy(repl, BOARD, node_id="diag-1")
        repl.restart_app()
        # The same session stays open: diag uses the console while the app runs.
        repl.close()
    found = diagnose(node, FAST_BAUD)
    assert found.app_running and found.repl is None
    assert found.hello is not None and found.status is not None and found.selftest is not None
    assert (found.hello["node"], found.hello["fw"], found.hello["board"]) == ("diag-1", app_version(), BOARD.id)
    assert found.status["odr_hz"] == 3200
    assert found.selftest["sensor"] == "pass"


def test_cli_json_falls_back_to_the_repl(node):
    result = subprocess.run([sys.executable, "-m", "fabnode", "diag", "-p", node, "-b", str(FAST_BAUD),
                             "--timeout", "1", "--json"], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["app_running"] is False and report["repl"]["platform"] == "webassembly"


@pytest.mark.micropython
def test_a_node_another_program_holds_is_reported_busy(node):
    busy = r"^cannot open sim://diag-test: another program has it open \(process \d+\)$"
    with serial.serial_for_url(prepare_url(node), FAST_BAUD):  # this test is the other program
        with pytest.raises(PortError, match=busy):
            NodeRepl(node, FAST_BAUD)  # mpremote alone only says "failed to access"
        with pytest.raises(PortError, match=busy):
            diagnose(node, FAST_BAUD, timeout=1.0)
