"""Loading recordings (.npy/.wav/.csv, sample rate from wherever it is known) and resampling."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from fabnode.recordings import RecordingError, load_recording, resample

RATE_IN, RATE_OUT = 51200, 3200


def amplitude_after_resampling(freq_hz: float, rate_in: float = RATE_IN, rate_out: float = RATE_OUT) -> float:
    t = np.arange(int(rate_in)) / rate_in
    y = resample(np.sin(2 * np.pi * freq_hz * t), rate_in, rate_out)
    edge = len(y) // 10  # skip the filter's start-up and tail
    return float(np.sqrt(2) * np.std(y[edge:-edge]))


@pytest.mark.parametrize("freq_hz", [20.0, 400.0, 1000.0, 1250.0])
def test_sine_below_new_nyquist_keeps_its_amplitude(freq_hz: float) -> None:
    assert amplitude_after_resampling(freq_hz) == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("freq_hz", [1700.0, 2400.0, 3100.0, 6000.0, 20000.0])
def test_sine_above_new_nyquist_is_attenuated_40_db(freq_hz: float) -> None:
    assert 20 * np.log10(amplitude_after_resampling(freq_hz) + 1e-15) < -40


@pytest.mark.parametrize(("rate_in", "rate_out"), [(51200, 1000), (44100, 3200), (3200, 51200), (4000, 3200)])
def test_rational_ratios_keep_time_alignment(rate_in: int, rate_out: int) -> None:
    freq = 90.0
    x = np.sin(2 * np.pi * freq * np.arange(2 * rate_in) / rate_in)
    y = resample(x, rate_in, rate_out)
    assert len(y) == -(-len(x) * rate_out // rate_in)
    expected = np.sin(2 * np.pi * freq * np.arange(len(y)) / rate_out)
    middle = slice(len(y) // 10, -len(y) // 10)
    assert np.max(np.abs(y[middle] - expected[middle])) < 1e-3


def test_multi_axis_resampling_filters_each_axis() -> None:
    t = np.arange(RATE_IN) / RATE_IN
    data = np.stack([np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 9000 * t), np.ones_like(t)], axis=1)
    y = resample(data, RATE_IN, RATE_OUT)
    assert y.shape == (RATE_OUT, 3)
    middle = slice(400, -400)
    assert np.std(y[middle, 0]) * np.sqrt(2) == pytest.approx(1.0, rel=0.01)
    assert np.max(np.abs(y[middle, 1])) < 0.01
    assert np.allclose(y[middle, 2], 1.0, atol=1e-4)


def test_same_rate_is_a_copy() -> None:
    x = np.arange(10.0)
    y = resample(x, 100, 100)
    assert np.array_equal(x, y) and y is not x


def test_bearing_recording_gets_its_rate_from_index_json(bearing_data: Path) -> None:
    rec = load_recording(bearing_data / "OR8_1200.npy")
    assert rec.rate_hz == 51200
    assert rec.samples.shape == (262144, 1)
    assert rec.meta["condition"] == "OR8" and rec.meta["shaft_rpm"] == 1200
    assert rec.duration_s == pytest.approx(5.12)
    down = rec.resampled(3200)
    assert down.rate_hz == 3200 and down.samples.shape == (16384, 1)


def test_npy_without_rate_is_a_clear_error(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros(100, dtype=np.float32))
    with pytest.raises(RecordingError, match=r"sample rate of x\.npy is unknown") as info:
        load_recording(tmp_path / "x.npy")
    assert info.value.hint and "--rate" in info.value.hint
    rec = load_recording(tmp_path / "x.npy", rate=800)
    assert rec.rate_hz == 800 and rec.axes == 1


def test_npy_with_axes(tmp_path: Path) -> None:
    np.save(tmp_path / "xyz.npy", np.arange(30.0).reshape(10, 3))
    rec = load_recording(tmp_path / "xyz.npy", rate=100)
    assert rec.axes == 3 and rec.samples[1, 2] == 5.0
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(RecordingError, match="shape"):
        load_recording(tmp_path / "cube.npy", rate=100)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wav_pcm_widths(tmp_path: Path, width: int) -> None:
    values = np.array([0.0, 0.5, -0.5, -1.0, 0.25, -0.25])
    full = 1 << (8 * width - 1)
    ints = np.round(values * full).astype(np.int64).clip(-full, full - 1)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    path = tmp_path / f"w{width}.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(width)
        wav.setframerate(8000)
        wav.writeframes(raw)
    rec = load_recording(path)
    assert rec.rate_hz == 8000
    assert rec.samples.shape == (3, 2)
    assert np.allclose(rec.samples.ravel(), values, atol=1.0 / 128)
    with pytest.raises(RecordingError, match="8000 Hz but 4000 Hz"):
        load_recording(path, rate=4000)


def test_csv_with_time_column(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    lines = ["time_s,x,y"] + [f"{i / 1000:.6f},{i},{-i}" for i in range(20)]
    path.write_text("\n".join(lines) + "\n")
    rec = load_recording(path)
    assert rec.rate_hz == pytest.approx(1000)
    assert rec.samples.shape == (20, 2) and rec.samples[3, 1] == -3


def test_csv_rate_from_comment_or_argument(tmp_path: Path) -> None:
    commented = tmp_path / "c.csv"
    commented.write_text("# sample_rate_hz: 3200\nz\n1\n2\n3\n")
    assert load_recording(commented).rate_hz == 3200
    bare = tmp_path / "b.csv"
    bare.write_text("1,2\n3,4\n")
    with pytest.raises(RecordingError, match="unknown"):
        load_recording(bare)
    rec = load_recording(bare, rate=250)
    assert rec.rate_hz == 250 and rec.samples.tolist() == [[1, 2], [3, 4]]


def test_index_json_gives_the_rate_to_any_format(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text(json.dumps({"sample_rate_hz": 512, "files": {"a.csv": {"rpm": 3}}}))
    (tmp_path / "a.csv").write_text("0.1\n0.2\n")
    rec = load_recording(tmp_path / "a.csv")
    assert rec.rate_hz == 512 and rec.meta["rpm"] == 3


def test_unreadable_inputs_are_recording_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not exist"):
        load_recording(tmp_path / "missing.npy")
    (tmp_path / "x.mat").write_bytes(b"\0")
    with pytest.raises(RecordingError, match="unknown recording format"):
        load_recording(tmp_path / "x.mat", rate=1)
    (tmp_path / "bad.csv").write_text("1,2\nx,y\n")
    with pytest.raises(RecordingError, match="line 2"):
        load_recording(tmp_path / "bad.csv", rate=1)
    np.save(tmp_path / "nan.npy", np.array([0.0, np.nan]))
    with pytest.raises(RecordingError, match="NaN"):
        load_recording(tmp_path / "nan.npy", rate=1)
    with pytest.raises(RecordingError, match="positive"):
        resample(np.zeros(4), 0, 100)
