"""Healthy-only training: node features of recordings, the numpy autoencoder, threshold, package."""

from __future__ import annotations

import numpy as np
import pytest

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.recordings import Recording

RATE = 6400.0  # recorded faster than the sensor: training resamples to 3200 Hz
SPEC = training.default_spec(3200.0)


def machine(seconds: float, shaft_hz: float, fault: bool = False, seed: int = 0) -> Recording:
    """A synthetic vertical accelerometer: shaft harmonics, mains hum, noise, and for a faulty
    bearing outer-race impacts (3.58 x shaft rate) ringing a 1.1 kHz housing resonance."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    signal = 0.002 * rng.normal(size=len(t)) + 0.004 * np.sin(2 * np.pi * 100 * t)
    for order in (1, 2, 3):
        signal += 0.01 / order * np.sin(2 * np.pi * order * shaft_hz * t + rng.uniform(0, 6))
    if fault:
        ring = np.exp(-t[:64] * 900) * np.sin(2 * np.pi * 1100 * t[:64])
        impacts = np.zeros(len(t))
        impacts[(np.arange(0, seconds, 1 / (3.58 * shaft_hz)) * RATE).astype(int)] = 0.2
        signal += np.convolve(impacts, ring)[:len(t)]
    return Recording(signal[:, None], RATE, f"synthetic_{shaft_hz:g}hz{'_fault' if fault else ''}")


@pytest.fixture(scope="module")
def trained() -> training.TrainedModel:
    return training.train([machine(3.0, 15.0, seed=1), machine(3.0, 25.0, seed=2)], SPEC, epochs=1500)


def test_one_axis_recording_goes_into_the_model_channel():
    samples = training.node_samples(machine(1.0, 20.0), SPEC)
    assert samples.shape == (3200, 3) and samples.dtype == np.float32
    assert np.all(samples[:, :2] == 0) and np.std(samples[:, 2]) > 0.005


def test_recording_with_other_axis_count_is_rejected():
    recording = Recording(np.zeros((4096, 2)), 3200.0, "two_axes.npy")
    with pytest.raises(training.TrainingError, match=r"two_axes\.npy has 2 axes"):
        training.node_samples(recording, SPEC)


def test_feature_matrix_has_a_row_per_window():
    samples = training.node_samples(machine(1.0, 20.0), SPEC)
    rows = training.feature_matrix(samples, SPEC, hop=256)
    assert rows.shape == ((3200 - 1024) // 256 + 1, 10)
    assert np.all(np.isfinite(rows))


def test_normalization_spread_has_a_floor():
    norm = training.fit_normalization(np.array([[1.0, 0.0], [1.0, 10.0]]))
    assert norm.mean.tolist() == [1.0, 5.0]
    assert norm.std.tolist() == pytest.approx([training.MIN_SPREAD, 5.0])


def test_autoencoder_learns_to_reconstruct():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 2))
    data = np.tanh(latent @ rng.normal(size=(2, 8)))
    untrained = training.train_autoencoder(data, epochs=1)
    fitted = training.train_autoencoder(data, epochs=1500)
    before = training.reconstruction_error(data, untrained.predict(data)).mean()
    after = training.reconstruction_error(data, fitted.predict(data)).mean()
    assert after < 0.1 * before
    assert [layer.activation for layer in fitted.layers] == ["relu", "relu", "relu", "linear"]


def test_threshold_rule():
    assert training.threshold_from(np.array([0.01, 0.2])) == pytest.approx(0.8)
    assert training.threshold_from(np.array([0.001])) == training.MIN_THRESHOLD
    with pytest.raises(training.TrainingError, match="held-out"):
        training.threshold_from(np.array([]))


def test_short_recording_is_rejected():
    with pytest.raises(training.TrainingError, match="too short"):
        training.train([machine(0.5, 20.0)], SPEC)


def test_trained_package_detects_synthetic_faults_at_an_unseen_speed(trained, tmp_path):
    manifest, model = training.build_package(trained, get_board("esp32-devkitc"), "synthetic-test")
    loaded = package.load_package(package.write_package(tmp_path / "pkg", manifest, model))
    assert loaded.manifest["training"]["windows"]["train"] == len(trained.fit_features)
    assert manifest["agreement"]["decision_agreement"] == 1.0

    def scores(recording: Recording) -> np.ndarray:
        rows = training.feature_matrix(training.node_samples(recording, SPEC), SPEC)
        return training.node_scores(manifest, model, rows)

    healthy = scores(machine(2.0, 20.0, seed=5))
    faulty = scores(machine(2.0, 20.0, fault=True, seed=6))
    assert np.all(healthy < manifest["threshold"])
    assert np.all(faulty > manifest["threshold"])
    float_healthy = trained.float_scores(training.feature_matrix(training.node_samples(machine(2.0, 20.0, seed=5),
                                                                                       SPEC), SPEC))
    assert np.max(np.abs(float_healthy - healthy)) < 0.1 * manifest["threshold"]
