"""The node's anomaly Detector: normalize, quantize, tfl, dequantize, reconstruction error."""

from __future__ import annotations

import json
from array import array
from typing import Any

import numpy as np
import pytest
from monitor import anomaly

from fabnode.models import runtimes
from fabnode.models.dense import DenseLayer, FloatDenseModel
from fabnode.models.quantize import quantize_dense
from fabnode.models.tflite_writer import write_dense_tflite

SIZE = 6


def make_model(seed: int = 0) -> tuple[dict[str, Any], bytes]:
    """A small autoencoder-shaped int8 model and the manifest fields the Detector reads."""
    rng = np.random.default_rng(seed)
    network = FloatDenseModel((
        DenseLayer(rng.normal(0, 0.5, (SIZE, 3)).astype(np.float32), np.zeros(3, np.float32), "relu"),
        DenseLayer(rng.normal(0, 0.5, (3, SIZE)).astype(np.float32), np.zeros(SIZE, np.float32)),
    ))
    quantized = quantize_dense(network, rng.normal(0, 1, (64, SIZE)).astype(np.float32), input_range=(-8, 8))
    manifest = {
        "normalization": {"mean": rng.normal(0, 1, SIZE).tolist(), "std": rng.uniform(0.3, 2, SIZE).tolist()},
        "input": quantized.input.to_json(),
        "output": quantized.output.to_json(),
        "score": {"type": "reconstruction_mse"},
        "threshold": 0.5,
    }
    return manifest, write_dense_tflite(quantized)


def expected_scores(manifest: dict[str, Any], model: bytes, rows: np.ndarray) -> np.ndarray:
    """The score definition, in numpy, with TFLM as the interpreter."""
    norm, source, target = manifest["normalization"], manifest["input"], manifest["output"]
    z = (rows.astype(np.float64) - norm["mean"]) / norm["std"]
    q = np.clip(np.floor(z / source["scale"] + 0.5) + source["zero_point"], -128, 127).astype(np.int8)
    out = runtimes.tflm_outputs(model, q)
    x_in = (q.astype(np.float64) - source["zero_point"]) * source["scale"]
    x_out = (out.astype(np.float64) - target["zero_point"]) * target["scale"]
    return np.mean((x_out - x_in) ** 2, axis=1)


def vectors(rows: np.ndarray) -> list[array]:
    return [array("f", row.astype(np.float32).tobytes()) for row in rows]


def test_score_is_the_reconstruction_error_of_the_dequantized_tensors():
    manifest, model = make_model()
    rows = np.random.default_rng(1).normal(0, 3, (50, SIZE)).astype(np.float32)
    detector = anomaly.Detector(manifest, model)
    got = [detector.score(v) for v in vectors(rows)]
    np.testing.assert_allclose(got, expected_scores(manifest, model, rows), rtol=1e-9)
    assert detector.threshold == 0.5 and detector.size == SIZE


def test_model_loads_from_a_path_a_buffer_or_an_interpreter(tmp_path):
    manifest, model = make_model()
    (tmp_path / "model.tflite").write_bytes(model)
    vector = vectors(np.ones((1, SIZE)))[0]
    scores = {anomaly.Detector(manifest, source).score(vector)
              for source in (str(tmp_path / "model.tflite"), model, bytearray(model), runtimes.load_tfl(model))}
    assert len(scores) == 1


def test_quantization_rounds_half_up_and_clamps():
    manifest, model = make_model()
    manifest["normalization"] = {"mean": [0.0] * SIZE, "std": [1.0] * SIZE}
    manifest["input"] = {"scale": 0.5, "zero_point": 3}
    detector = anomaly.Detector(manifest, model)
    data = detector.quantize(array("f", [0.25, -0.25, 0.74, 100.0, -100.0, -0.76]))
    assert np.frombuffer(bytes(data), np.int8).tolist() == [4, 3, 4, 127, -128, 1]
    assert detector.quantize(array("f", [0.0] * SIZE)) is data  # the one preallocated buffer


def test_bad_manifest_or_vector_is_rejected():
    manifest, model = make_model()
    with pytest.raises(ValueError, match="score type"):
        anomaly.Detector({**manifest, "score": {"type": "likelihood"}}, model)
    with pytest.raises(ValueError, match="as many outputs as inputs"):
        anomaly.Detector({**manifest, "output": {**manifest["output"], "shape": [1, 1]}}, model)
    with pytest.raises(ValueError, match="wrong length"):
        anomaly.Detector(manifest, model).score(array("f", [0.0] * (SIZE + 1)))


def test_single_precision_features_move_inputs_by_at_most_one_step():
    """The ESP32 computes features in float32: bound what that does to the int8 input and the score."""
    manifest, model = make_model()
    rng = np.random.default_rng(2)
    rows = rng.normal(0, 2, (2000, SIZE))
    # A float32 pipeline differs from a float64 one by a few units in the last place of each feature.
    perturbed = (rows.astype(np.float32) * (1 + rng.integers(-8, 9, rows.shape) * 2.0**-23)).astype(np.float32)
    exact, single = anomaly.Detector(manifest, model), anomaly.Detector(manifest, model)
    steps, differences = [], []
    for a, b in zip(vectors(rows), vectors(perturbed), strict=True):
        qa = np.frombuffer(bytes(exact.quantize(a)), np.int8).astype(int)
        qb = np.frombuffer(bytes(single.quantize(b)), np.int8).astype(int)
        steps.append(np.abs(qa - qb).max())
        differences.append(abs(exact.score(a) - single.score(b)))
    assert max(steps) <= 1
    assert np.mean(np.array(steps) > 0) < 0.01
    assert max(differences) < 0.05 * manifest["threshold"]


@pytest.mark.micropython
def test_micropython_scores_what_cpython_scores(micropython):
    manifest, model = make_model(3)
    rows = np.random.default_rng(4).normal(0, 3, (20, SIZE)).astype(np.float32)
    code = """
from array import array
import json
from monitor import anomaly
with open("/manifest.json") as f:
    manifest = json.load(f)
detector = anomaly.Detector(manifest, "/model.tflite")
with open("/rows.bin", "rb") as f:
    data = array("f", f.read())
vector = array("f", bytearray(4 * detector.size))
for start in range(0, len(data), detector.size):
    for i in range(detector.size):
        vector[i] = data[start + i]
    print(repr(detector.score(vector)))
"""
    result = micropython(code, files={"/manifest.json": json.dumps(manifest).encode(), "/model.tflite": model,
                                      "/rows.bin": rows.tobytes()})
    node = [float(line) for line in result.stdout.split()]
    detector = anomaly.Detector(manifest, model)
    np.testing.assert_allclose(node, [detector.score(v) for v in vectors(rows)], rtol=1e-12)
