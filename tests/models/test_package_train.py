"""fabnode train: recordings in, a validated package out, on the base install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from model_builders import SIGNAL_RATE_HZ, write_signal

from fabnode.cli import cli
from fabnode.errors import UsageError
from fabnode.models.build import train_package
from fabnode.recordings import RecordingError


def test_train_cli_takes_a_list_of_recordings(tmp_path: Path, signals: dict[str, Path]) -> None:
    second = write_signal(tmp_path / "healthy_more.npy", 3, seed=4)
    out = tmp_path / "two-sources.zip"
    result = CliRunner().invoke(cli, ["train", "--normal", str(signals["train"]), str(second), "--board",
                                      "esp32-devkitc", "--out", str(out), "--rate", str(SIGNAL_RATE_HZ),
                                      "--epochs", "50", "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)["manifest"]
    assert manifest["id"] == "two-sources"
    assert [s["name"] for s in manifest["training"]["sources"]] == ["healthy_train.npy", "healthy_more.npy"]
    assert manifest["features"]["rate_hz"] == 3200  # the board's sensor rate, whatever the recordings'
    assert out.is_file()


def test_unknown_board_and_bad_id_are_usage_errors(tmp_path: Path, signals: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="unknown board"):
        train_package([signals["train"]], "no-such-board", tmp_path / "x", rate=SIGNAL_RATE_HZ)
    with pytest.raises(UsageError, match="model id 'bad name' is not valid"):
        train_package([signals["train"]], "esp32-devkitc", tmp_path / "bad name", rate=SIGNAL_RATE_HZ)


def test_recording_too_short_to_train_on(tmp_path: Path) -> None:
    short = write_signal(tmp_path / "short.npy", 0.5)
    with pytest.raises(Exception, match="too short"):
        train_package([short], "esp32-devkitc", tmp_path / "short-model", rate=SIGNAL_RATE_HZ, epochs=10)


def test_rate_is_required_for_bare_npy(tmp_path: Path, signals: dict[str, Path]) -> None:
    with pytest.raises(RecordingError, match="sample rate"):
        train_package([signals["train"]], "esp32-devkitc", tmp_path / "m")
