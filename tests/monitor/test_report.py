"""``fabnode report``: saved telemetry and collected raw data rendered to HTML and PNG."""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from telemetry_streams import HELLO, status

from fabnode.cli import cli
from fabnode.errors import FabnodeError
from fabnode.monitor import PortEvent
from fabnode.report import load_inputs, report
from fabnode.telemetry import Gap, Record
from fabnode.telemetry_file import TelemetryWriter

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """Ten minutes of a node whose vibration rises into zone C with an anomaly alarm in between."""
    path = tmp_path / "telemetry.csv"
    t0, seq = 1_750_000_000.0, 0
    with TelemetryWriter(path) as writer:
        def put(kind: str, payload: dict[str, object], t: float) -> None:
            nonlocal seq
            writer.write(PortEvent("sim://n1", t0 + t, Record(kind, "n1", seq, int(t * 1000), payload)))
            seq += 1
        put("hello", HELLO, 0)
        for i in range(60):
            velocity = 1.0 + 0.08 * i
            put("status", status(velocity=velocity, score=0.1 + 0.01 * i, temp=25 + i / 10), 10 * i)
            put("score", {"score": 0.1 + 0.01 * i, "max": 0.12 + 0.01 * i, "threshold": 0.5}, 10 * i + 5)
        put("alarm", {"kind": "anomaly", "event": "start", "window": 300, "value": 0.55, "limit": 0.5}, 400)
        put("alarm", {"kind": "anomaly", "event": "clear", "window": 400, "value": 0.2, "limit": 0.5}, 500)
        put("alarm", {"kind": "iso", "event": "start", "window": 500, "value": 4.6, "limit": 4.5, "zone": "D"}, 560)
        writer.write(PortEvent("sim://n1", t0 + 590, Gap("n1", 5, 7)))
    return path


@pytest.fixture
def raw_dataset(tmp_path: Path) -> Path:
    n = np.arange(8192)
    samples = np.stack([0.5 * np.sin(2 * np.pi * 250 * n / 3200), 0.01 * np.ones(8192), np.zeros(8192)], axis=1)
    path = tmp_path / "n1-raw.npy"
    np.save(path, samples.astype(np.float32))
    path.with_suffix(".json").write_text(json.dumps({"mode": "raw", "sample_rate_hz": 3200, "node": "n1",
                                                     "label": "healthy", "start_time": "2025-06-15T15:06:40"}))
    return path


def test_inputs_are_read_into_trends_alarms_and_a_spectrum(saved: Path, raw_dataset: Path) -> None:
    data = load_inputs([saved, raw_dataset])
    node = data.nodes["n1"]
    assert len(node.velocity) == len(node.temperature) == len(node.score) == len(node.score_max) == 60
    assert node.threshold == 0.5 and node.machine_class == "I"
    assert [(kind, end is None) for kind, _, end in node.alarms] == [("anomaly", False), ("iso", True)]
    [spectrum] = data.spectra
    peak = spectrum.freqs_hz[np.argmax(spectrum.amplitude_g[:, 0])]
    assert peak == pytest.approx(250, abs=1) and spectrum.amplitude_g[:, 0].max() == pytest.approx(0.5, rel=0.02)


def test_html_report_embeds_every_plot(saved: Path, raw_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(saved), str(raw_dataset), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plots"] == ["velocity", "temperature", "score", "spectrum"]
    page = out.read_text()
    images = re.findall(r'<figure id="(\w+)"><img alt="\w+" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [kind for kind, _ in images] == ["velocity", "temperature", "score", "spectrum"]
    for _, data in images:
        width, height = png_size(base64.b64decode(data))
        assert width == 1000 and height >= 300
    assert "<td>n1</td><td>124</td>" in page and "src=\"http" not in page  # nothing fetched from elsewhere
    assert "<td>anomaly</td><td>2025-06-15 15:13:20+00:00</td><td>2025-06-15 15:15:00+00:00</td><td>100 s</td>" in page
    assert "<td>iso</td><td>2025-06-15 15:16:00+00:00</td><td>still active</td>" in page


def test_png_report_stacks_the_plots(saved: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "report.png"  # its folder is made, as train and collect make theirs
    assert report([saved], out)["plots"] == ["velocity", "temperature", "score"]
    width, height = png_size(out.read_bytes())
    assert width == 1000 and height == 360 + 300 + 360


def test_unusable_inputs_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(FabnodeError, match="no telemetry records and no raw data"):
        report([empty], tmp_path / "r.html")
    with pytest.raises(FabnodeError, match=r"use a \.html or \.png"):
        report([empty], tmp_path / "r.pdf")
    features = tmp_path / "n1-features.npy"
    np.save(features, np.zeros((4, 10), np.float32))
    features.with_suffix(".json").write_text(json.dumps({"mode": "features", "node": "n1"}))
    with pytest.raises(FabnodeError, match="holds features data; a spectrum needs raw data") as err:
        report([features], tmp_path / "r.html")
    assert err.value.hint is not None and "--mode raw" in err.value.hint


def test_a_single_status_is_drawn_as_a_point_on_a_minute_not_years(tmp_path: Path) -> None:
    from fabnode.report import MIN_TIME_SPAN_DAYS, _figures

    path = tmp_path / "one.jsonl"
    with TelemetryWriter(path) as writer:
        writer.write(PortEvent("sim://n1", 1_750_000_000.0, Record("status", "n1", 1, 10, status())))
    figures = dict(_figures(load_inputs([path])))
    assert set(figures) == {"velocity", "temperature", "score"}
    for figure in figures.values():
        ax = figure.axes[0]
        start, end = ax.get_xlim()
        assert end - start == pytest.approx(MIN_TIME_SPAN_DAYS)
        assert ax.lines[0].get_marker() == "."  # one point: a line alone would draw nothing
