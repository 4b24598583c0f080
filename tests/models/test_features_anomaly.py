"""The node's anomaly Detector: normalize, quantize, tfl, dequantize, reconstruction error."""

from __future__ import annotations

import json
from array import array
from typing import Any

import numpy as np
import pytest
from monitor import anomaly, fixmath

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


def expected_scores(manifest: dict[str, Any], model: bytes, q: np.ndarray) -> np.ndarray:
    """The score definition in numpy, for int8 inputs ``q``, with TFLM as the interpreter."""
    source, target = manifest["input"], manifest["output"]
    out = runtimes.tflm_outputs(model, q)
    x_in = (q.astype(np.float64) - source["zero_point"]) * source["scale"]
    x_out = (out.astype(np.float64) - target["zero_point"]) * target["scale"]
    return np.mean((x_out - x_in) ** 2, axis=1)


def float_inputs(manifest: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """The int8 inputs by the float definition: clamp(floor(z / scale + 0.5) + zero_point)."""
    norm, source = manifest["normalization"], manifest["input"]
    z = (rows.astype(np.float64) - norm["mean"]) / norm["std"]
    return np.clip(np.floor(z / source["scale"] + 0.5) + source["zero_point"], -128, 127).astype(np.int8)


def vectors(rows: np.ndarray) -> list[array]:
    """Feature rows as the node's Q12 vectors; ``rows`` are rounded to Q12 in place."""
    q12 = np.rint(rows * fixmath.ONE).astype(np.int32)
    rows[...] = q12 / fixmath.ONE
    return [array("i", row.tobytes()) for row in q12]


def test_score_is_the_reconstruction_error_of_the_dequantized_tensors():
    manifest, model = make_model()
    rows = np.random.default_rng(1).normal(0, 3, (50, SIZE))
    detector = anomaly.Detector(manifest, model)
    vs = vectors(rows)
    q = np.array([np.frombuffer(bytes(detector.quantize(v)), np.int8) for v in vs])
    got = [fixmath.to_float(detector.score(v)) for v in vs]
    # A Q12 log2 (3.4e-4) of a sum in integer units (each scale to 12 bits).
    np.testing.assert_allclose(got, expected_scores(manifest, model, q), rtol=1e-3)
    assert detector.threshold == 0.5 and detector.size == SIZE


def test_integer_quantization_is_the_float_definition_but_at_half_steps():
    manifest, model = make_model()
    rows = np.random.default_rng(5).normal(0, 3, (2000, SIZE))
    detector = anomaly.Detector(manifest, model)
    node = np.array([np.frombuffer(bytes(detector.quantize(v)), np.int8) for v in vectors(rows)]).astype(int)
    steps = np.abs(node - float_inputs(manifest, rows))
    assert steps.max() <= 1 and np.mean(steps) < 1e-2  # only near half steps (Q12 features, 15-bit multiplier)


def test_decisions_are_the_threshold_on_the_score_values():
    manifest, model = make_model()
    for threshold in (0.5, 0.25, 0.266, 1e-3, 7.0):
        detector = anomaly.Detector({**manifest, "threshold": threshold}, model)
        for score in range(detector.threshold_log2 - 20, detector.threshold_log2 + 20):
            assert detector.is_anomalous(score) == (fixmath.to_float(score) > threshold)


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
    data = detector.quantize(vectors(np.array([[0.25, -0.25, 0.74, 100.0, -100.0, -0.76]]))[0])
    assert np.frombuffer(bytes(data), np.int8).tolist() == [4, 3, 4, 127, -128, 1]
    assert detector.quantize(array("i", [0] * SIZE)) is data  # the one preallocated buffer


def test_bad_manifest_or_vector_is_rejected():
    manifest, model = make_model()
    with pytest.raises(ValueError, match="score type"):
        anomaly.Detector({**manifest, "score": {"type": "likelihood"}}, model)
    with pytest.raises(ValueError, match="as many outputs as inputs"):
        anomaly.Detector({**manifest, "output": {**manifest["output"], "shape": [1, 1]}}, model)
    with pytest.raises(ValueError, match="threshold"):
        anomaly.Detector({**manifest, "threshold": 0.0}, model)
    with pytest.raises(ValueError, match="positive"):
        anomaly.Detector({**manifest, "normalization": {"mean": [0.0] * SIZE, "std": [0.0] * SIZE}}, model)
    with pytest.raises(ValueError, match="wrong length"):
        anomaly.Detector(manifest, model).score(array("i", [0] * (SIZE + 1)))


@pytest.mark.micropython
def test_micropython_scores_what_cpython_scores_to_the_bit(micropython):
    manifest, model = make_model(3)
    rows = np.random.default_rng(4).normal(0, 3, (20, SIZE))
    vs = vectors(rows)
    code = """
from array import array
import json, gc
from monitor import anomaly, fixmath
with open("/manifest.json") as f:
    manifest = json.load(f)
detector = anomaly.Detector(manifest, "/model.tflite")
with open("/rows.bin", "rb") as f:
    data = array("i", f.read())
vector = array("i", bytearray(4 * detector.size))
for start in range(0, len(data), detector.size):
    for i in range(detector.size):
        vector[i] = data[start + i]
    gc.collect()
    before = gc.mem_alloc()
    score = detector.score(vector)
    print(score, gc.mem_alloc() - before)
"""
    result = micropython(code, files={"/manifest.json": json.dumps(manifest).encode(), "/model.tflite": model,
                                      "/rows.bin": b"".join(bytes(v) for v in vs)})
    node = [tuple(int(v) for v in line.split()) for line in result.stdout.splitlines()]
    detector = anomaly.Detector(manifest, model)
    assert node == [(detector.score(v), 0) for v in vs]  # the same integers, and nothing allocated
