"""The shipped reference model: a valid package for its board that tells healthy from faulty bearings.

A smoke version of bench/reference_model.py (the full evaluation, figures in docs/reference-model.md):
a few windows of every recording, scored exactly as the node scores them.
"""

from __future__ import annotations

import numpy as np
import pytest
from monitor import fixmath

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.recordings import load_recording
from fabnode.resources import models_dir

REFERENCE = models_dir() / "bearing-hit-mfs-v1"
WINDOWS = 4
# What a node's ADXL345 (full resolution, 256 LSB/g; the driver reads 3.9 mg per count) reports
# for the recordings played at a machine's level, with gravity on z.
ADXL345_LSB_G = 1 / 256
DRIVER_SCALE_G = 0.0039
LEVELS_G = (0.01, 0.05, 0.5)


@pytest.fixture(scope="module")
def reference() -> package.ModelPackage:
    return package.load_package(REFERENCE)


def test_reference_package_is_valid_for_its_board(reference):
    package.check_board(reference, get_board("esp32-devkitc"))
    assert reference.manifest["score"]["type"] == training.SCORE_TYPE
    assert reference.manifest["agreement"]["decision_agreement"] == 1.0
    assert [s["name"] for s in reference.manifest["training"]["sources"]] == [
        "Normal_600.npy", "Normal_900.npy", "Normal_1200.npy"]


@pytest.mark.parametrize("speed", [600, 900, 1200])
def test_reference_model_separates_healthy_from_faulty(reference, bearing_data, speed):
    spec = reference.feature_spec
    threshold = reference.threshold
    window = spec["window"]
    for condition in ("Normal", "IR2", "IR5", "IR8", "OR2", "OR5", "OR8"):
        recording = load_recording(bearing_data / f"{condition}_{speed}.npy")
        # The last windows: the part each healthy file's threshold was checked on, not fitted.
        samples = training.node_samples(recording, spec)[-WINDOWS * window:]
        scores = training.node_scores(reference.manifest, reference.model,
                                          training.feature_matrix(samples, spec, hop=window))
        if condition == "Normal":
            assert np.all(scores < threshold), (condition, speed, scores)
        else:
            assert np.all(scores > threshold), (condition, speed, scores)


def as_measured(samples: np.ndarray, channel: int, rms_g: float) -> np.ndarray:
    """The channel scaled to ``rms_g`` and quantized as the node's ADXL345 and driver report it."""
    z = samples[:, channel].astype(np.float64)
    z *= rms_g / np.sqrt(np.mean(z * z))
    measured = samples.copy()
    measured[:, channel] = np.floor((z + 1.0) / ADXL345_LSB_G) * DRIVER_SCALE_G
    return measured


def test_shipped_model_judges_shape_at_any_level_a_node_measures(reference, bearing_data):
    """The level is not a model input: healthy recordings at 0.01-0.5 g RMS, quantized by an ADXL345,
    stay under the threshold (the data set's healthy files are at ~5e-5 g, below one LSB), and every
    fault file at the same levels is over it."""
    spec = reference.feature_spec
    assert not any(name.endswith("log_rms") for name in spec["names"])
    window, channel = spec["window"], spec["channels"][0]
    for condition in ("Normal", "IR2", "IR5", "IR8", "OR2", "OR5", "OR8"):
        for speed in (600, 900, 1200):
            samples = training.node_samples(load_recording(bearing_data / f"{condition}_{speed}.npy"), spec)
            # Healthy: the held-out last quarter; the model never fitted these windows.
            samples = samples[-WINDOWS * window:]
            for level in LEVELS_G:
                scores = training.node_scores(reference.manifest, reference.model, training.feature_matrix(
                    as_measured(samples, channel, level), spec, hop=window))
                if condition == "Normal":
                    assert np.all(scores < reference.threshold), (condition, speed, level, scores)
                else:
                    assert np.all(scores > reference.threshold), (condition, speed, level, scores)


def test_recipe_generalizes_to_an_unseen_speed(bearing_data):
    """Bar 2 in small: trained on 600 and 1200 rpm healthy only, judged at 900 rpm."""
    spec = training.default_spec(3200.0)
    trained = training.train([load_recording(bearing_data / f"Normal_{rpm}.npy") for rpm in (600, 1200)], spec,
                             epochs=1500)
    manifest, model = training.build_package(trained, get_board("esp32-devkitc"), "bar2-smoke")

    def scores(name: str) -> np.ndarray:
        samples = training.node_samples(load_recording(bearing_data / f"{name}_900.npy"), spec)
        return training.node_scores(manifest, model, training.feature_matrix(samples, spec, hop=2048))

    assert np.all(scores("Normal") < manifest["threshold"])
    for fault in ("IR2", "OR2", "OR8"):
        assert np.all(scores(fault) > manifest["threshold"]), fault


@pytest.mark.micropython
def test_node_interpreter_scores_recordings_as_the_host_does(reference, bearing_data, micropython):
    """Features and int8 score of real windows under MicroPython are the host's, to the bit (docs/features.md)."""
    spec = reference.feature_spec
    windows = [training.as_counts(training.node_samples(load_recording(bearing_data / f"{name}_900.npy"), spec)
                                  [:spec["window"]]) for name in ("Normal", "OR2", "IR8")]
    code = """
import json
from array import array
from monitor import anomaly, features
with open("/models/active/manifest.json") as f:
    manifest = json.load(f)
extractor = features.FeatureExtractor(manifest["features"])
detector = anomaly.Detector(manifest, "/models/active/model.tflite")
out = array("i", bytearray(4 * extractor.size))
with open("/windows.bin", "rb") as f:
    data = f.read()
size = 4 * extractor.window * extractor.axes
for start in range(0, len(data), size):
    extractor.compute(array("i", data[start:start + size]), out)
    print(detector.score(out))
"""
    files = {"/models/active/manifest.json": (REFERENCE / "manifest.json").read_bytes(),
             "/models/active/model.tflite": reference.model,
             "/windows.bin": b"".join(np.ascontiguousarray(counts, np.int32).tobytes() for counts, _ in windows)}
    node = [fixmath.to_float(int(line)) for line in micropython(code, files=files).stdout.split()]
    host = training.node_scores(reference.manifest, reference.model,
                                np.vstack([training.feature_matrix(counts, spec) for counts, _ in windows]))
    assert node == host.tolist()
    assert node[0] < reference.threshold < min(node[1:])
