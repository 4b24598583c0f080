"""Full-integer post-training quantization of a float dense network, the way TFLite's converter does it.

Weights: symmetric int8 (zero point 0), one scale per output channel or one for the tensor.
Bias: int32 at scale ``input_scale * weight_scale``. Activations, model input and output:
asymmetric int8 with ranges calibrated on data, nudged so that 0.0 is exactly representable.
Scales are float32 values, as the flatbuffer stores them, so everything derived here matches what
TFLM and ``tfl`` read back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fabnode.errors import FabnodeError
from fabnode.models.dense import FloatArray, FloatDenseModel

INT8_MIN, INT8_MAX = -128, 127
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Scale of an all-zero weight channel or a constant activation: any positive value quantizes 0 exactly.
_TINY_RANGE = 1e-6


@dataclass(frozen=True)
class QuantParams:
    """Affine int8 quantization: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    def quantize(self, x: NDArray[np.floating] | float) -> NDArray[np.int8]:
        q = np.round(np.asarray(x, dtype=np.float64) / self.scale) + self.zero_point
        return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)

    def dequantize(self, q: NDArray[np.integer]) -> FloatArray:
        return ((np.asarray(q, dtype=np.float64) - self.zero_point) * self.scale).astype(np.float32)

    def to_json(self) -> dict[str, float | int]:
        return {"scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class QuantizedDense:
    """One int8 FULLY_CONNECTED layer in TFLite layout: weights are (outputs, inputs)."""

    weights: NDArray[np.int8]
    weight_scales: NDArray[np.float32]  # (outputs,) per channel, or (1,) per tensor
    bias: NDArray[np.int32]
    activation: str
    output: QuantParams

    @property
    def per_channel(self) -> bool:
        return len(self.weight_scales) > 1


@dataclass(frozen=True)
class QuantizedDenseModel:
    input: QuantParams
    layers: tuple[QuantizedDense, ...]

    @property
    def output(self) -> QuantParams:
        return self.layers[-1].output

    @property
    def input_size(self) -> int:
        return int(self.layers[0].weights.shape[1])

    @property
    def output_size(self) -> int:
        return int(self.layers[-1].weights.shape[0])


def activation_params(low: float, high: float) -> QuantParams:
    """int8 parameters covering [low, high] (widened to include 0), zero point nudged as TFLite does."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low < _TINY_RANGE:
        high = low + _TINY_RANGE
    scale = float(np.float32((high - low) / (INT8_MAX - INT8_MIN)))
    zero_point_from_min = INT8_MIN - low / scale
    zero_point = int(np.clip(np.round(zero_point_from_min), INT8_MIN, INT8_MAX))
    return QuantParams(scale, zero_point)


def quantize_weights(kernel: FloatArray, per_channel: bool) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Symmetric int8 weights (outputs, inputs) and their float32 scales from a Keras-layout kernel."""
    weights = np.asarray(kernel, dtype=np.float64).T
    peak = np.abs(weights).max(axis=1) if per_channel else np.array([np.abs(weights).max()])
    scales = (np.maximum(peak, _TINY_RANGE) / INT8_MAX).astype(np.float32)
    per_row = scales.astype(np.float64)[:, None] if per_channel else float(scales[0])
    q = np.clip(np.round(weights / per_row), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scales


def quantize_bias(bias: FloatArray, input_scale: float, weight_scales: NDArray[np.float32]) -> NDArray[np.int32]:
    scales = np.float64(np.float32(input_scale)) * weight_scales.astype(np.float64)
    q = np.round(np.asarray(bias, dtype=np.float64) / scales)
    if np.any(q < _INT32_MIN) or np.any(q > _INT32_MAX):
        raise FabnodeError("a bias does not fit in int32 at its quantization scale",
                           hint="the layer's weights or inputs are nearly zero; retrain with regularization")
    return q.astype(np.int32)


def quantize_dense(model: FloatDenseModel, calibration: FloatArray, per_channel: bool = True,
                   input_range: tuple[float, float] | None = None) -> QuantizedDenseModel:
    """Quantize ``model`` to full int8, calibrating activation ranges on ``calibration`` (n, inputs).

    ``input_range`` overrides the calibrated input range, to leave headroom for the unusual
    inputs an anomaly model exists to see.
    """
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 2 or calibration.shape[1] != model.input_size or len(calibration) == 0:
        raise FabnodeError(f"calibration data must be (windows, {model.input_size}), not {calibration.shape}")
    if not np.all(np.isfinite(calibration)):
        raise FabnodeError("calibration data contains NaN or infinite values")
    low, high = input_range if input_range is not None else (calibration.min(), calibration.max())
    input_params = activation_params(low, high)
    layers = []
    layer_input = input_params
    for layer, outputs in zip(model.layers, model.activations(calibration), strict=True):
        weights, scales = quantize_weights(layer.kernel, per_channel)
        output_params = activation_params(float(outputs.min()), float(outputs.max()))
        bias = quantize_bias(layer.bias, layer_input.scale, scales)
        layers.append(QuantizedDense(weights, scales, bias, layer.activation, output_params))
        layer_input = output_params
    return QuantizedDenseModel(input_params, tuple(layers))
