"""The README's first command: `fabnode demo` flashes a virtual node and catches a bearing fault."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.micropython
@pytest.mark.slow
def test_demo_flashes_monitors_and_alarms_on_the_fault(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fabnode", "demo", "--home", str(tmp_path / "home")],
                            capture_output=True, text=True, check=False, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "[1/3] fabnode flash" in out and "model bearing-hit-mfs-v1" in out
    assert "== press-7 (sim://demo)" in out  # the monitor's header from the node's hello
    healthy, _, after = out.partition("ALARM anomaly")
    assert after, "no anomaly alarm shown"
    assert "zone A" in healthy and "score 0." in healthy  # status lines of the healthy machine
    assert "ALARM iso" not in healthy  # the healthy machine is in ISO zone A: no alarm of any kind before the fault
    assert "the node raised its anomaly alarm" in out


@pytest.mark.micropython
@pytest.mark.slow
def test_demo_json(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fabnode", "demo", "--home", str(tmp_path / "home"), "--json"],
                            capture_output=True, text=True, check=False, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert 0 <= report["alarm_after_fault_s"] < 5
    assert set(report["phases"]) == {"flash", "deploy", "model", "hello"}
