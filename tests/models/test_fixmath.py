"""The integer helpers of the window pipeline against math."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from monitor import fixmath


@given(m=st.integers(1, 2**30 - 1), e=st.integers(-60, 60))
def test_log2_is_within_two_steps_of_math(m, e):
    assert abs(fixmath.log2(m, e) - (math.log2(m) + e) * fixmath.ONE) <= 2


@pytest.mark.parametrize("m", [0, -1, -(2**29)])
def test_log2_of_nothing_positive_is_log_zero(m):
    assert fixmath.log2(m) == fixmath.LOG_ZERO and fixmath.log10(m) == fixmath.LOG_ZERO
    assert fixmath.to_float(fixmath.LOG_ZERO) == 0.0


@given(value=st.integers(-2 * 4096, 16 * 4096))
def test_exp2_is_within_six_in_ten_thousand(value):
    assert fixmath.exp2(value) == pytest.approx(2 ** (value / 4096) * 4096, rel=6e-4)


def test_exp2_saturates_and_vanishes():
    assert fixmath.exp2(40 * 4096) == fixmath.SMALL_INT and fixmath.exp2(-40 * 4096) == 0


def test_exp2_factors_are_the_rounded_roots_of_two():
    assert tuple(round(2 ** (2.0**-j) * 2**14) for j in range(1, 13)) == fixmath.EXP2_FRACTION_Q14


@given(value=st.integers(0, 2**30 - 1), guess=st.integers(1, 2**16))
def test_isqrt_from_any_guess_is_exact(value, guess):
    assert fixmath.isqrt(value, guess) == math.isqrt(value)


@pytest.mark.parametrize("value", [1.0, 0.0039, 1 / 256, 9806.65, 2.0**-40])
def test_log2_of_float_reads_the_24_bit_mantissa(value):
    assert abs(fixmath.log2_of_float(value) - math.log2(value) * 4096) <= 2


def test_log10_is_log2_times_log10_of_two():
    assert abs(fixmath.log10(1000) - 3 * 4096) <= 2
    assert fixmath.log2_to_log10(10 * 4096) == round(10 * 4096 * math.log10(2))


@given(value=st.floats(1e-30, 1e30))
def test_log2_of_float_is_the_same_for_the_value_in_single_precision(value):
    """A set-up constant comes out the same on a float32 port (the ESP32) as in CPython."""
    import numpy as np

    assert fixmath.log2_of_float(float(np.float32(value))) == fixmath.log2_of_float(value)
