"""fabnode score --board: recordings measured by a board's sensor as a virtual node replays them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.errors import FabnodeError, UsageError
from fabnode.models.package import load_package
from fabnode.models.scoring import SensorPath, score_files
from fabnode.resources import models_dir
from fabnode.sim import hardware
from fabnode.sim.measure import measure

ADXL345_BOARD = get_board("esp32-devkitc")
HEALTHY = hardware.EXCERPTS_DIR / hardware.HEALTHY_EXCERPT
REFERENCE = models_dir() / "bearing-hit-mfs-v1"


def test_adxl345_measures_the_signal_file_in_its_counts(tmp_path):
    """Full resolution: 256 counts per g, rounded down (the sensor drops the file's finer bits)."""
    source = hardware.demo_source(1.0)
    played = hardware.render_signal(tmp_path / "vibration.fnsig", 3200, source)
    measured = measure(ADXL345_BOARD, source, 4800)
    healthy, faulty = played.segment_g(0), played.segment_g(1)
    expected = np.vstack([healthy[:3200], faulty[:1600]])  # the onset at 1 s of simulated time
    np.testing.assert_array_equal(measured.counts, np.floor(expected * 256))
    assert measured.counts.dtype == np.int32 and measured.scale_g == 1 / 256


def test_a_later_start_measures_the_same_signal_later_on():
    source = hardware.demo_source(None)
    from_power_on = measure(ADXL345_BOARD, source, 2000)
    later = measure(ADXL345_BOARD, source, 1000, start_s=0.25)
    np.testing.assert_array_equal(later.counts, from_power_on.counts[800:1800])  # 0.25 s is 800 frames at 3200 Hz


def test_without_frames_one_pass_of_the_recording_is_measured():
    measured = measure(ADXL345_BOARD, hardware.SignalSource(recording=str(HEALTHY), level_g=0.05)).g()
    assert measured.shape == (9600, 3)  # the 3 s excerpt at 3200 Hz
    assert np.std(measured[:, 2]) == pytest.approx(0.05, rel=0.01)
    assert np.mean(measured[:, 2]) == pytest.approx(1.0, abs=0.01)  # gravity on z


def test_score_through_the_sensor_scores_the_measured_windows():
    package = load_package(REFERENCE)
    [result] = score_files(package, [HEALTHY], sensor=SensorPath(ADXL345_BOARD, 0.05))
    assert result.file == HEALTHY.name and len(result.scores) == (9600 - 1024) // 512 + 1
    assert not result.anomalous.any() and result.duration_s == 3.0


def test_a_board_whose_sensor_runs_at_another_rate_is_refused():
    package = load_package(REFERENCE)
    with pytest.raises(FabnodeError, match="takes 3200 Hz windows, but the esp32c3-xiao sensor measures at 1000 Hz"):
        score_files(package, [HEALTHY], sensor=SensorPath(get_board("esp32c3-xiao")))


def test_cli_board_and_level_options():
    runner = CliRunner()
    result = runner.invoke(cli, ["score", "--model", str(REFERENCE), str(HEALTHY), "--board", ADXL345_BOARD.id,
                                 "--level-g", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    windows = [json.loads(line) for line in result.output.splitlines()]
    assert len(windows) == 17 and not any(w["anomaly"] for w in windows)
    result = runner.invoke(cli, ["score", "--model", str(REFERENCE), str(HEALTHY), "--level-g", "0.05"])
    assert isinstance(result.exception, UsageError) and "--level-g needs --board" in str(result.exception)
