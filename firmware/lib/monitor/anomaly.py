"""Anomaly score of a feature vector with the installed int8 model, the same code on node and host.

Per the manifest: normalize (``(x - mean) / std``), quantize to the model's int8 input, run the
model with ``tfl``, dequantize its output. The score (``reconstruction_mse``) is the mean squared
difference between the dequantized input and output: an autoencoder trained on healthy windows
reconstructs them well and anything else badly. ``score`` allocates no buffers.

Quantization is ``floor(z / scale + 0.5) + zero_point``, clamped to int8, so CPython (double) and
the ESP32 (single precision) agree except when ``z / scale`` lies within float rounding of a
half step; docs/features.md bounds the effect.
"""

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCORE_TYPES = ("reconstruction_mse",)


class Detector:
    """Scores feature vectors; ``threshold`` is the manifest's alarm threshold."""

    def __init__(self, manifest: "dict[str, Any]", model: "Any") -> None:
        score_type = manifest["score"]["type"]
        if score_type not in SCORE_TYPES:
            raise ValueError(f"score type {score_type} is not supported")
        self.threshold = float(manifest["threshold"])
        norm = manifest["normalization"]
        self.size = len(norm["mean"])
        self._mean = [float(v) for v in norm["mean"]]
        self._inverse_std = [1.0 / float(v) for v in norm["std"]]
        source = manifest["input"]
        self._in_scale = float(source["scale"])
        self._in_inverse_scale = 1.0 / self._in_scale
        self._in_zero = int(source["zero_point"])
        target = manifest["output"]
        outputs = 1
        for dimension in target.get("shape", (1, self.size)):
            outputs *= dimension
        if outputs != self.size:
            raise ValueError(f"{score_type} needs as many outputs as inputs, not {outputs} for {self.size}")
        self._out_scale = float(target["scale"])
        self._out_zero = int(target["zero_point"])
        self._input = bytearray(self.size)
        self._model = model if hasattr(model, "invoke") else _load(model)

    def quantize(self, features: "list[float]") -> bytearray:
        """The model's int8 input (raw bytes) for one feature vector."""
        if len(features) != self.size:
            raise ValueError("feature vector has the wrong length for this model")
        mean = self._mean
        inverse_std = self._inverse_std
        inverse_scale = self._in_inverse_scale
        zero = self._in_zero
        data = self._input
        for i in range(self.size):
            q = math.floor((features[i] - mean[i]) * inverse_std[i] * inverse_scale + 0.5) + zero
            if q > 127:
                q = 127
            elif q < -128:
                q = -128
            data[i] = q & 0xFF
        return data

    def score(self, features: "list[float]") -> float:
        """Anomaly score of one feature vector (higher is more anomalous)."""
        data = self.quantize(features)
        out = self._model.invoke(data)
        in_zero = self._in_zero
        out_zero = self._out_zero
        in_scale = self._in_scale
        out_scale = self._out_scale
        total = 0.0
        for i in range(self.size):
            q = data[i]
            r = out[i]
            # Raw bytes may read back unsigned (CPython views) or signed (MicroPython arrays).
            if q > 127:
                q -= 256
            if r > 127:
                r -= 256
            d = (r - out_zero) * out_scale - (q - in_zero) * in_scale
            total += d * d
        return total / self.size


def _load(model: "Any") -> "Any":
    import tfl

    if isinstance(model, str):
        return tfl.Model.load(model)  # type: ignore[no-untyped-call]
    return tfl.Model(model)  # type: ignore[no-untyped-call]
