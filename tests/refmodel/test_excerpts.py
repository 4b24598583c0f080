"""The recording excerpts shipped for the virtual node, and the demo machine made of them.

The excerpts replace the bearing data set on machines that lack it (``fabnode demo``, these
tests); here they are checked against the data set they come from and against the shipped model,
scored as the node's ADXL345 would measure them.
"""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.resources import models_dir
from fabnode.sim import hardware, signals
from fabnode.sim.measure import measure

REPO = Path(__file__).resolve().parents[2]
RATE_HZ = 3200.0
EXCERPTS = [hardware.HEALTHY_EXCERPT, *hardware.FAULT_EXCERPTS.values()]


@pytest.fixture(scope="module")
def reference() -> package.ModelPackage:
    return package.load_package(models_dir() / "bearing-hit-mfs-v1")


def test_excerpts_are_small_3200_hz_mono_pcm():
    total = 0
    for name in EXCERPTS:
        path = hardware.EXCERPTS_DIR / name
        with wave.open(str(path)) as handle:
            assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (3200, 1, 2)
            assert 2.0 <= handle.getnframes() / 3200 <= 3.0
        total += path.stat().st_size
    assert total < 64 * 1024


def test_script_regenerates_the_shipped_excerpts(bearing_data, tmp_path):
    subprocess.run([sys.executable, str(REPO / "bench" / "make_sim_excerpts.py"), "--data", str(bearing_data),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    for name in EXCERPTS:
        assert (tmp_path / name).read_bytes() == (hardware.EXCERPTS_DIR / name).read_bytes(), name


@pytest.mark.parametrize("fault", sorted(hardware.FAULT_EXCERPTS))
def test_demo_machine_is_healthy_then_faulty_for_the_shipped_model(fault, reference, tmp_path):
    onset_s = 12.0
    source = hardware.demo_source(onset_s, fault)
    played = hardware.render_signal(tmp_path / "vibration.fnsig", RATE_HZ, source)
    assert played.onset_s == onset_s and len(played.segments) == 2
    healthy, faulty = played.segment_g(0), played.segment_g(1)
    assert np.mean(healthy[:, 2]) == pytest.approx(1.0, abs=1e-3)  # gravity on z
    assert np.std(healthy[:, 2]) == pytest.approx(source.level_g, rel=1e-3)
    assert np.std(faulty[:, 2]) == pytest.approx(source.fault_level_g, rel=1e-3)
    assert np.all(healthy[:, :2] == 0)

    spec = reference.feature_spec
    window = spec["window"]

    def scores(start_s: float, frames: int) -> np.ndarray:
        measured = measure(get_board("esp32-devkitc"), source, frames, start_s)  # as the node's ADXL345 reads it
        features = training.feature_matrix(measured.counts, spec, hop=window // 4, scale_g=measured.scale_g)
        return training.node_scores(reference.manifest, reference.model, features)

    # Twice round the loop: windows across the seam, where the excerpt starts again, are healthy too.
    assert np.all(scores(0.0, 2 * len(healthy)) < reference.threshold)
    assert np.all(scores(onset_s, 2 * len(faulty)) > reference.threshold)


def test_demo_source_says_what_the_sensor_measures():
    assert hardware.demo_source(12.0).describe() == (
        "the recording healthy_900rpm at 0.05 g RMS on z, looped; then outer_race_900rpm at 0.1 g RMS from 12 s on")
    assert hardware.SignalSource(fault=None).describe() == "a synthetic machine, shaft 24.75 Hz"
    assert hardware.SignalSource(onset_s=3).describe() == (
        "a synthetic machine, shaft 24.75 Hz; BPFO bearing fault of severity 0.5 from 3 s on")
    with pytest.raises(signals.SignalError, match="no excerpt of a 'cage' fault"):
        hardware.demo_source(None, "cage")


def test_level_is_the_one_the_sensor_sees_after_the_anti_alias_filter(tmp_path):
    """A recording at a higher rate with energy above the sensor's band is scaled on what remains."""
    rate_in = 12800
    t = np.arange(4 * rate_in) / rate_in
    recording = tmp_path / "wideband.wav"
    pcm = (8000 * (np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 3000 * t))).astype("<i2")
    with wave.open(str(recording), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate_in)
        handle.writeframes(pcm.tobytes())
    source = hardware.SignalSource(recording=str(recording), level_g=0.2)
    played = hardware.render_signal(tmp_path / "vibration.fnsig", RATE_HZ, source)
    z = played.segment_g(0)[:, 2]
    assert np.std(z[1000:-1000]) == pytest.approx(0.2, rel=0.01)  # the 3 kHz tone is gone, 100 Hz at 0.2 g
