"""The .tflite writer: files TFLM and LiteRT load and run close to the float model, and the node's
interpreter (tfl) runs bit-exactly as TFLM."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from model_builders import random_model

from fabnode.models.dense import FloatDenseModel
from fabnode.models.quantize import quantize_dense
from fabnode.models.runtimes import litert_outputs, tfl_outputs, tflm_outputs
from fabnode.models.tflite_reader import ModelFileError, summarize
from fabnode.models.tflite_writer import write_dense_tflite

SIZES = [16, 8, 4, 8, 16]


@pytest.fixture(scope="module")
def calibration() -> np.ndarray:
    return np.random.default_rng(7).normal(0, 1, (200, SIZES[0])).astype(np.float32)


@pytest.mark.parametrize("per_channel", [True, False])
def test_written_model_runs_in_tflm_and_litert_close_to_float(calibration: np.ndarray, per_channel: bool) -> None:
    model = random_model(SIZES)
    quantized = quantize_dense(model, calibration, per_channel=per_channel)
    data = write_dense_tflite(quantized)
    inputs = quantized.input.quantize(calibration)
    tflm = tflm_outputs(data, inputs)
    litert = litert_outputs(data, inputs)
    assert tflm.shape == (len(calibration), SIZES[-1])
    # LiteRT's reference FULLY_CONNECTED rounds differently from TFLM's, by at most one step.
    assert np.abs(tflm.astype(int) - litert).max() <= 1
    error = np.abs(quantized.output.dequantize(tflm) - model.predict(calibration))
    span = quantized.output.scale * 255
    assert error.max() < 0.05 * span


def test_reader_sees_what_the_writer_wrote(calibration: np.ndarray) -> None:
    quantized = quantize_dense(random_model(SIZES), calibration)
    summary = summarize(write_dense_tflite(quantized))
    assert summary.ops == ("FULLY_CONNECTED",)
    assert (summary.inputs, summary.outputs) == (1, 1)
    assert summary.input.shape == (1, 16) and summary.output.shape == (1, 16)
    assert summary.input.dtype == summary.output.dtype == "int8"
    assert (summary.input.scale, summary.input.zero_point) == (quantized.input.scale, quantized.input.zero_point)
    assert (summary.output.scale, summary.output.zero_point) == (quantized.output.scale, quantized.output.zero_point)


def test_writing_is_deterministic(calibration: np.ndarray) -> None:
    quantized = quantize_dense(random_model(SIZES), calibration)
    assert write_dense_tflite(quantized) == write_dense_tflite(quantized)


@pytest.mark.parametrize("data", [b"", b"1234TFL", b"\0\0\0\0XXXX" + bytes(64), b"\x08\0\0\0TFL3" + bytes(8)])
def test_reader_rejects_what_is_not_a_model(data: bytes) -> None:
    with pytest.raises(ModelFileError):
        summarize(data)


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("activation", ["relu", "relu6", "linear"])
def test_node_interpreter_matches_tflm_bit_for_bit(calibration: np.ndarray, per_channel: bool,
                                                   activation: str) -> None:
    base = random_model(SIZES, seed=3)
    layers = tuple(replace(layer, activation=activation) for layer in base.layers[:-1]) + base.layers[-1:]
    quantized = quantize_dense(FloatDenseModel(layers), calibration, per_channel=per_channel)
    data = write_dense_tflite(quantized)
    inputs = np.random.default_rng(11).integers(-128, 128, (400, SIZES[0])).astype(np.int8)
    inputs[:2] = [[-128] * SIZES[0], [127] * SIZES[0]]
    assert np.array_equal(tfl_outputs(data, inputs), tflm_outputs(data, inputs))
