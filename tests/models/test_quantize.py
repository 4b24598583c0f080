"""Post-training int8 quantization of dense networks: the arithmetic TFLite's converter uses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from model_builders import random_model

from fabnode.errors import FabnodeError
from fabnode.models.quantize import activation_params, quantize_bias, quantize_dense, quantize_weights


@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_activation_range_represents_zero_exactly_and_covers_the_range(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    params = activation_params(low, high)
    assert params.dequantize(params.quantize(0.0))[()] == 0.0
    assert -128 <= params.zero_point <= 127
    reach = params.dequantize(np.array([-128, 127]))
    assert reach[0] <= min(low, 0.0) + params.scale
    assert reach[1] >= max(high, 0.0) - params.scale
    assert np.float32(params.scale) == params.scale  # stored as float32 in the flatbuffer


def test_relu_output_uses_the_whole_int8_range_from_zero() -> None:
    params = activation_params(0.0, 2.55)
    assert params.zero_point == -128
    assert params.scale == pytest.approx(0.01)


def test_constant_activation_still_gets_a_valid_scale() -> None:
    params = activation_params(0.0, 0.0)
    assert params.scale > 0
    assert params.quantize(0.0) == params.zero_point


@pytest.mark.parametrize("per_channel", [True, False])
def test_weights_are_symmetric_and_within_half_a_step(per_channel: bool) -> None:
    kernel = np.random.default_rng(1).normal(0, 1, (6, 4)).astype(np.float32)
    kernel[:, 2] *= 0.01  # a quiet output channel gains most from its own scale
    q, scales = quantize_weights(kernel, per_channel)
    assert q.shape == (4, 6) and q.dtype == np.int8
    assert q.min() >= -127
    assert scales.shape == ((4,) if per_channel else (1,))
    step = scales[:, None] if per_channel else scales[0]
    assert np.all(np.abs(q * step - kernel.T) <= step / 2 + 1e-9)


def test_all_zero_weight_channel_quantizes_to_zero() -> None:
    kernel = np.zeros((3, 2), np.float32)
    q, scales = quantize_weights(kernel, per_channel=True)
    assert not q.any() and np.all(scales > 0)


def test_bias_is_int32_at_input_times_weight_scale() -> None:
    scales = np.array([0.5, 0.25], np.float32)
    assert quantize_bias(np.array([1.0, -1.0], np.float32), 0.1, scales).tolist() == [20, -40]


def test_bias_that_overflows_int32_is_an_error() -> None:
    with pytest.raises(FabnodeError, match="int32"):
        quantize_bias(np.array([1e9], np.float32), 1e-6, np.array([1e-6], np.float32))


def test_calibration_ranges_follow_each_layer_and_relu_starts_at_zero() -> None:
    model = random_model([8, 4, 8])
    data = np.random.default_rng(2).normal(0, 1, (300, 8)).astype(np.float32)
    quantized = quantize_dense(model, data)
    assert quantized.input_size == 8 and quantized.output_size == 8
    hidden, output = quantized.layers
    assert hidden.output.zero_point == -128  # relu: nothing below zero to represent
    outputs = model.predict(data)
    reach = output.output.dequantize(np.array([-128, 127]))
    assert reach[0] <= outputs.min() + output.output.scale and reach[1] >= outputs.max() - output.output.scale


def test_input_range_override_leaves_headroom() -> None:
    model = random_model([4, 4])
    data = np.random.default_rng(3).normal(0, 1, (50, 4)).astype(np.float32)
    wide = quantize_dense(model, data, input_range=(-20.0, 20.0))
    assert wide.input.dequantize(np.array([127]))[0] >= 19.8


@pytest.mark.parametrize("bad", [np.zeros((0, 4)), np.zeros((5, 3)), np.full((5, 4), np.nan)])
def test_unusable_calibration_data_is_rejected(bad: np.ndarray) -> None:
    with pytest.raises(FabnodeError, match="calibration"):
        quantize_dense(random_model([4, 4]), bad.astype(np.float32))
