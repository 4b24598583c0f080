"""fabnode evaluate: AUC, detection delay, false alarms per hour, and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from model_builders import SIGNAL_RATE_HZ

from fabnode.cli import cli
from fabnode.errors import UsageError
from fabnode.models.evaluation import evaluate, roc_auc, roc_curve
from fabnode.models.package import load_package

scores = st.lists(st.integers(0, 20).map(float), min_size=1, max_size=30)


@given(scores, scores)
def test_auc_is_the_share_of_pairs_ranked_right(negatives: list[float], positives: list[float]) -> None:
    neg, pos = np.array(negatives)[None, :], np.array(positives)[:, None]
    pairs = np.mean(pos > neg) + 0.5 * np.mean(pos == neg)
    assert roc_auc(np.array(negatives), np.array(positives)) == pytest.approx(pairs)


def test_auc_extremes_and_roc_ends() -> None:
    assert roc_auc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert roc_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 0.0
    fpr, tpr = roc_curve(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    with pytest.raises(UsageError):
        roc_auc(np.array([]), np.array([1.0]))


def test_synthetic_fault_is_separated_detected_early_and_healthy_stays_quiet(
        trained_package: Path, signals: dict[str, Path]) -> None:
    package = load_package(trained_package)
    result = evaluate(package, [signals["healthy"]], [signals["faulty"]], rate=SIGNAL_RATE_HZ)
    assert result.auc == 1.0
    assert result.healthy_over_threshold == 0.0 and result.faulty_over_threshold == 1.0
    assert result.false_alarms_per_hour == 0.0
    healthy, faulty = result.files
    assert (healthy.label, healthy.auc, healthy.false_alarms_per_hour) == ("normal", None, 0.0)
    # k = 3 windows over the threshold: the third window completes at (2 * 512 + 1024) / 3200 s
    assert (faulty.label, faulty.auc, faulty.detection_delay_s) == ("faulty", 1.0, pytest.approx(0.64))
    same_rms = evaluate(package, [signals["healthy"]], [signals["faulty"]], rate=SIGNAL_RATE_HZ, equal_rms=True)
    assert same_rms.equal_rms and same_rms.auc == 1.0


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_evaluate_cli_writes_the_plot_and_json(trained_package: Path, signals: dict[str, Path], tmp_path: Path,
                                               suffix: str) -> None:
    plot = tmp_path / "plots" / f"evaluation{suffix}"  # its folder is made
    result = CliRunner().invoke(cli, [
        "evaluate", "--model", str(trained_package), "--normal", str(signals["healthy"]), str(signals["train"]),
        "--faulty", str(signals["faulty"]), "--rate", str(SIGNAL_RATE_HZ), "--out", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [f["file"] for f in report["files"]] == ["healthy_test.npy", "healthy_train.npy", "faulty.npy"]
    assert report["auc"] == 1.0 and report["plot"] == str(plot)
    data = plot.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"data:image/png;base64," in data and b"<td>faulty.npy</td>" in data


def test_plot_needs_a_known_file_type(trained_package: Path, signals: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "evaluate", "--model", str(trained_package), "--normal", str(signals["healthy"]),
        "--faulty", str(signals["faulty"]), "--rate", str(SIGNAL_RATE_HZ), "--out", str(tmp_path / "plot.pdf")])
    assert isinstance(result.exception, UsageError)


def test_table_shows_the_share_of_windows_over_threshold_as_a_percentage(
        trained_package: Path, signals: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, [
        "evaluate", "--model", str(trained_package), "--normal", str(signals["healthy"]),
        "--faulty", str(signals["faulty"]), "--rate", str(SIGNAL_RATE_HZ)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[3:]}
    # score's OVER_THRESHOLD is a window count: here a share must not read as "1" window
    assert rows["healthy_test.npy"][3] == "0.0%" and rows["faulty.npy"][3] == "100.0%"


def test_a_recording_shorter_than_one_window_cannot_be_evaluated(trained_package: Path, signals: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(400, np.float32))  # 1/32 s at SIGNAL_RATE_HZ
    with pytest.raises(UsageError, match=r"^short.npy is too short to evaluate: 0.0312 s, less than one window"):
        evaluate(load_package(trained_package), [signals["healthy"]], [short], rate=SIGNAL_RATE_HZ)
