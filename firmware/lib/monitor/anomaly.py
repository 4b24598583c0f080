"""Anomaly score of a feature vector with the installed int8 model, in integers, the same code on node and host.

Per the manifest: normalize (``(x - mean) / std``), quantize to the model's int8 input, run the
model with ``tfl``, dequantize its output. The score (``reconstruction_mse``) is the mean squared
difference between the dequantized input and output: an autoencoder trained on healthy windows
reconstructs them well and anything else badly.

Features arrive in Q12 (``monitor.features``). Normalization and quantization are one integer
multiply per feature, ``q = zero_point + round_half_up((x - offset) * multiplier / 2**shift)``,
and the score is a Q12 log2 (``fixmath``), compared with the threshold's. The constants are the
manifest's ``fixed_point`` integers (``fixed_point()`` makes them from its floats on the host):
a window allocates nothing and every platform computes the same bits.
``docs/features.md`` gives the arithmetic.
"""

from monitor import fixmath
from monitor.fixmath import SMALL_INT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCORE_TYPES = ("reconstruction_mse",)
_SCORE_UNIT_BITS = 12  # the larger of the two tensor scales is 2**12 score units


def fixed_point(manifest: "dict[str, Any]") -> "dict[str, Any]":
    """The detector's integer constants, made from the manifest's floats (the package's ``fixed_point``).

    Packages carry them so a node reads integers: a single-precision port would round the floats
    (and their JSON parsing) differently. The host makes them once, in double precision.
    """
    threshold = float(manifest["threshold"])
    if not threshold > 0.0:
        raise ValueError("threshold must be positive")
    # The largest log whose value is at most the threshold: score > threshold_log2 exactly when
    # the score's value (fixmath.to_float) is over the threshold, so hosts may compare either.
    threshold_log2 = fixmath.log2_of_float(threshold)
    while fixmath.to_float(threshold_log2 + 1) <= threshold:
        threshold_log2 += 1
    while fixmath.to_float(threshold_log2) > threshold:
        threshold_log2 -= 1
    norm = manifest["normalization"]
    size = len(norm["mean"])
    if len(norm["std"]) != size:
        raise ValueError("normalization mean and std differ in length")
    in_scale = float(manifest["input"]["scale"])
    out_scale = float(manifest["output"]["scale"])
    if not (in_scale > 0.0 and out_scale > 0.0):
        raise ValueError("tensor scales must be positive")
    offset, limit, multiplier, shift = [], [], [], []
    for i in range(size):
        std = float(norm["std"][i])
        if not std > 0.0:
            raise ValueError("normalization std must be positive")
        offset.append(_round(float(norm["mean"][i]) * fixmath.ONE))
        # q - zero = (x - offset) / (std * scale * 4096) = (x - offset) * multiplier / 2**shift
        per_step = std * in_scale * fixmath.ONE
        limit.append(int(256 * per_step) + 2)  # |x - offset| beyond this saturates the input
        mantissa, exponent = _multiplier(1.0 / per_step, limit[i])
        multiplier.append(mantissa)
        shift.append(exponent)
    # Input and output differences in common integer units: the larger scale is 2**12 units.
    unit = max(in_scale, out_scale) / (1 << _SCORE_UNIT_BITS)
    return {"offset": offset, "limit": limit, "multiplier": multiplier, "shift": shift,
            "in_units": _round(in_scale / unit), "out_units": _round(out_scale / unit),
            "score_log2": 2 * fixmath.log2_of_float(unit) - fixmath.log2(size), "threshold_log2": threshold_log2}


class Detector:
    """Scores Q12 feature vectors: ``score`` gives a Q12 log2, ``is_anomalous`` compares it with the threshold.

    The integer constants come from the manifest's ``fixed_point`` (made by ``fixed_point`` when
    the manifest has none: a package being built on the host).
    """

    def __init__(self, manifest: "dict[str, Any]", model: "Any") -> None:
        score_type = manifest["score"]["type"]
        if score_type not in SCORE_TYPES:
            raise ValueError(f"score type {score_type} is not supported")
        self.threshold = float(manifest["threshold"])
        constants = manifest.get("fixed_point") or fixed_point(manifest)
        self.size = len(manifest["normalization"]["mean"])
        for name in ("offset", "limit", "multiplier", "shift"):
            if len(constants[name]) != self.size:
                raise ValueError(f"fixed_point {name} has {len(constants[name])} values for {self.size} features")
        self.threshold_log2 = int(constants["threshold_log2"])
        self._offset = [int(v) for v in constants["offset"]]
        self._limit = [int(v) for v in constants["limit"]]
        self._multiplier = [int(v) for v in constants["multiplier"]]
        self._shift = [int(v) for v in constants["shift"]]
        for i in range(self.size):
            if not (1 <= self._shift[i] <= 29 and 0 < self._multiplier[i] < 1 << 15
                    and 0 < self._limit[i] * self._multiplier[i] < 1 << 29):
                raise ValueError(f"fixed_point constants of feature {i} would leave the small ints")
        self._in_units = int(constants["in_units"])
        self._out_units = int(constants["out_units"])
        self._unit_log2 = int(constants["score_log2"])
        self._in_zero = int(manifest["input"]["zero_point"])
        target = manifest["output"]
        outputs = 1
        for dimension in target.get("shape", (1, self.size)):
            outputs *= dimension
        if outputs != self.size:
            raise ValueError(f"{score_type} needs as many outputs as inputs, not {outputs} for {self.size}")
        self._out_zero = int(target["zero_point"])
        self._input = bytearray(self.size)
        self._model = model if hasattr(model, "invoke") else _load(model)

    def quantize(self, features: "Any") -> bytearray:
        """The model's int8 input (raw bytes) for one Q12 feature vector."""
        if len(features) != self.size:
            raise ValueError("feature vector has the wrong length for this model")
        offset = self._offset
        limit = self._limit
        multiplier = self._multiplier
        shift = self._shift
        zero = self._in_zero
        data = self._input
        for i in range(self.size):
            d = features[i] - offset[i]
            if d > limit[i]:
                d = limit[i]
            elif d < -limit[i]:
                d = -limit[i]
            q = ((d * multiplier[i] + (1 << (shift[i] - 1))) >> shift[i]) + zero
            if q > 127:
                q = 127
            elif q < -128:
                q = -128
            data[i] = q & 0xFF
        return data

    def score(self, features: "Any") -> int:
        """Q12 log2 of the anomaly score of one Q12 feature vector (higher is more anomalous)."""
        data = self.quantize(features)
        out = self._model.invoke(data)
        in_zero = self._in_zero
        out_zero = self._out_zero
        in_units = self._in_units
        out_units = self._out_units
        # Sum of squared differences as a block floating-point number total * 2**exponent.
        total = 0
        exponent = 0
        for i in range(self.size):
            q = data[i]
            r = out[i]
            # Raw bytes may read back unsigned (CPython views) or signed (MicroPython arrays).
            if q > 127:
                q -= 256
            if r > 127:
                r -= 256
            d = (r - out_zero) * out_units - (q - in_zero) * in_units
            if d < 0:
                d = -d
            if d < 32768:
                term = d * d
                term_exponent = 0
            else:  # |d| < 2**22: square its top bits
                d = (d + 128) >> 8
                term = d * d
                term_exponent = 16
            if term_exponent > exponent:
                total >>= term_exponent - exponent
                exponent = term_exponent
            total += term >> (exponent - term_exponent)
            while total >= SMALL_INT:
                total >>= 1
                exponent += 1
        if not total:
            return fixmath.LOG_ZERO
        return fixmath.log2(total, exponent) + self._unit_log2

    def is_anomalous(self, score: int) -> bool:
        """Whether a ``score`` (Q12 log2) is over the manifest's threshold."""
        return score > self.threshold_log2


def _multiplier(value: float, limit: int) -> "tuple[int, int]":
    """``value`` as ``multiplier * 2**-shift``, as many bits (up to 15) as keep ``limit * multiplier`` below 2**29."""
    import math

    bits = 15
    while bits > 4 and limit >= 1 << (29 - bits):
        bits -= 1
    mantissa, exponent = math.frexp(value)
    multiplier = _round(mantissa * (1 << bits))
    shift = bits - exponent
    if multiplier == 1 << bits:
        multiplier >>= 1
        shift -= 1
    if not 1 <= shift <= 29 or limit >= 1 << (29 - bits):
        raise ValueError("normalization std times input scale is out of range for Q12 features")
    return multiplier, shift


def _round(value: float) -> int:
    """Round half up (set-up only)."""
    import math

    return math.floor(value + 0.5)


def _load(model: "Any") -> "Any":
    import tfl

    if isinstance(model, str):
        return tfl.Model.load(model)  # type: ignore[no-untyped-call]
    return tfl.Model(model)  # type: ignore[no-untyped-call]
