"""fabnode score: the node's pipeline over recordings, and its --json stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from model_builders import SIGNAL_RATE_HZ

from fabnode.cli import cli
from fabnode.models.package import load_package
from fabnode.models.scoring import score_files

WINDOW_KEYS = {"file", "window", "t", "score", "threshold", "anomaly"}


def test_model_trained_on_healthy_signal_flags_the_fault_only(trained_package: Path, signals: dict[str, Path]) -> None:
    package = load_package(trained_package)
    healthy, faulty = score_files(package, [signals["healthy"], signals["faulty"]], SIGNAL_RATE_HZ)
    assert healthy.file == "healthy_test.npy" and len(healthy.scores) == 24  # (4 s x 3200 Hz - 1024) // 512 + 1
    assert not healthy.anomalous.any() and healthy.events == []
    assert faulty.anomalous.all()
    k = package.manifest["alarm"]["k"]
    assert [(e.state, e.window) for e in faulty.events] == [("start", k - 1)]
    assert np.allclose(faulty.times, (np.arange(24) * 512 + 1024) / 3200)


def test_score_json_stream(trained_package: Path, signals: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["score", "--model", str(trained_package), str(signals["healthy"]),
                                      str(signals["faulty"]), "--rate", str(SIGNAL_RATE_HZ), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    windows = [r for r in records if "alarm" not in r]
    alarms = [r for r in records if "alarm" in r]
    assert len(windows) == 48
    assert all(set(r) == WINDOW_KEYS for r in windows)
    assert [r["window"] for r in windows[:24]] == list(range(24))
    assert windows[0]["t"] == 0.32 and windows[0]["file"] == "healthy_test.npy"
    assert all(r["anomaly"] == (r["score"] > r["threshold"]) for r in windows)
    assert alarms == [{"file": "faulty.npy", "window": 2, "t": 0.64, "alarm": "start", "kind": "anomaly",
                       "score": alarms[0]["score"], "threshold": windows[0]["threshold"]}]
    assert records.index(alarms[0]) == 24 + 3  # right after the window that raised it


def test_score_table_for_people(trained_package: Path, signals: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["score", "--model", str(trained_package), str(signals["faulty"]),
                                      "--rate", str(SIGNAL_RATE_HZ)])
    assert result.exit_code == 0, result.output
    assert "faulty.npy: alarm start at 0.64 s" in result.output


def test_recording_without_a_rate_is_a_clear_error(trained_package: Path, signals: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["score", "--model", str(trained_package), str(signals["healthy"])])
    assert result.exit_code == 1
    assert "sample rate of healthy_test.npy is unknown" in str(result.exception)


def test_a_recording_shorter_than_one_window_scores_no_windows(trained_package: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(400, np.float32))  # 1/32 s at SIGNAL_RATE_HZ
    result = CliRunner().invoke(cli, ["score", "--model", str(trained_package), str(short),
                                      "--rate", str(SIGNAL_RATE_HZ)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split() == ["short.npy", "0", "0.031", "-", "0", "0"]
