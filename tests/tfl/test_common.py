"""tfl.common's integer arithmetic against TFLM's formulas evaluated with CPython doubles and big ints."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tfl.common import (
    double_multiplier,
    exact_round,
    float32_parts,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

INT32 = st.integers(-(1 << 31), (1 << 31) - 1)
# Positive float32 scales from tiny to large, as bit patterns.
SCALE_BITS = st.integers(0x30000000, 0x48000000)


def as_float(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def tflm_quantize_multiplier(value: float) -> tuple[int, int]:
    """quantization_util.cc QuantizeMultiplier, in double precision as TFLM runs it."""
    if value == 0.0:
        return 0, 0
    q, shift = math.frexp(value)
    q_fixed = math.floor(q * (1 << 31) + 0.5)  # std::round of a positive value; exact in double
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@settings(max_examples=3000)
@given(INT32, INT32)
def test_saturating_rounding_doubling_high_mul(a, b):
    if a == b == -(1 << 31):
        expected = (1 << 31) - 1
    else:
        ab = a * b
        nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
        expected = c_div(ab + nudge, 1 << 31)
    assert saturating_rounding_doubling_high_mul(a, b) == expected


@settings(max_examples=2000)
@given(INT32, st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away_from_zero(x, exponent):
    exact = abs(x) / (1 << exponent)
    nearest = math.floor(exact + 0.5)
    assert rounding_divide_by_pot(x, exponent) == (nearest if x >= 0 else -nearest)


@settings(max_examples=3000)
@given(SCALE_BITS, SCALE_BITS, SCALE_BITS)
def test_per_channel_multiplier_is_tflm_double_arithmetic(a, b, c):
    ma, ea = float32_parts(a)
    mb, eb = float32_parts(b)
    expected = tflm_quantize_multiplier(as_float(a) * as_float(b) / as_float(c))
    assert double_multiplier((ma * mb, ea + eb), float32_parts(c)) == expected


@settings(max_examples=3000)
@given(SCALE_BITS, SCALE_BITS, SCALE_BITS)
def test_per_tensor_multiplier_rounds_the_product_to_float32(a, b, c):
    ma, ea = float32_parts(a)
    mb, eb = float32_parts(b)
    product32 = float(np.float32(as_float(a)) * np.float32(as_float(b)))
    expected = tflm_quantize_multiplier(product32 / as_float(c))
    product = exact_round((ma * mb, ea + eb), (1, 0), 24)
    assert double_multiplier(product, float32_parts(c)) == expected


@given(st.integers(1, (1 << 53) - 1), st.integers(-80, 40))
def test_quantize_multiplier_of_any_double(mantissa, exponent):
    assert quantize_multiplier((mantissa, exponent)) == tflm_quantize_multiplier(math.ldexp(mantissa, exponent))


@settings(max_examples=4000)
@given(st.one_of(INT32, st.integers(-(1 << 20), 1 << 20)), st.integers(0, (1 << 31) - 1), st.integers(-31, 8))
def test_multiply_by_quantized_multiplier(x, multiplier, shift):
    """Against TFLM's MultiplyByQuantizedMultiplier written out with big integers."""
    shifted = ((x << max(shift, 0)) + (1 << 31)) % (1 << 32) - (1 << 31)
    ab = shifted * multiplier
    high = c_div(ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30)), 1 << 31)
    exact = abs(high) / (1 << max(-shift, 0))
    expected = math.floor(exact + 0.5) * (1 if high >= 0 else -1)
    assert multiply_by_quantized_multiplier(x, multiplier, shift) == expected


def test_round_half_away_from_zero_and_saturation():
    assert [round_half_away(v) for v in (0.5, -0.5, 1.49999, -2.5, 0.49999997)] == [1, -1, 1, -3, 0]
    assert round_half_away(float("nan")) == 0
    assert round_half_away(float("inf")) > 127 and round_half_away(float("-inf")) < -128
