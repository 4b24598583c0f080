"""SOFTMAX's per-row arithmetic on small integers against gemmlowp / TFLM written out with big
integers, and that it allocates nothing under MicroPython (values near 2**31 are split)."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import pytest
import tfl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tfl import fixedpoint, loops
from tfl.common import multiply_by_split_multiplier, multiply_split_by_split

DATA = Path(__file__).resolve().parents[1] / "data" / "tfl"
INT32_MAX = (1 << 31) - 1
Q0_31 = st.integers(0, INT32_MAX)


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul (never saturating for these operands)."""
    ab = a * b
    return c_div(ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30)), 1 << 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    nearest = (abs(x) + (1 << exponent >> 1)) >> exponent
    return nearest if x >= 0 else -nearest


def saturating_shift_left(x: int, exponent: int) -> int:
    return max(-(1 << 31), min(INT32_MAX, x << exponent))


def gemmlowp_newton(a: int) -> int:
    """fixedpoint.h's Newton-Raphson x ~= 1 / half_denominator (Q2.29) for a in Q0.31."""
    total = a + INT32_MAX
    half_denominator = c_div(total + (1 if total >= 0 else -1), 2)  # RoundingHalfSum(a, One)
    x = 1515870810 + srdhm(half_denominator, -1010580540)
    for _ in range(3):
        one_minus_half_denominator_times_x = (1 << 29) - srdhm(half_denominator, x)
        x += saturating_shift_left(srdhm(x, one_minus_half_denominator_times_x), 2)
    return x


@settings(max_examples=3000)
@given(Q0_31)
@example(0)
@example(1)
@example(INT32_MAX)
@example(1 << 30)
@example((1 << 30) - 1)
def test_reciprocals_match_gemmlowp(a):
    x = gemmlowp_newton(a)
    assert fixedpoint.reciprocal_excess(a >> 1) == x - (1 << 29)
    assert fixedpoint.one_over_one_plus_x_for_x_in_0_1(a) == saturating_shift_left(x, 1)
    assert fixedpoint.one_minus_x_over_one_plus_x_for_x_in_0_1(a) == saturating_shift_left(x - (1 << 29), 2)


@settings(max_examples=3000)
@given(st.integers(0, 1 << 31), st.integers(0, 1 << 31), st.integers(-40, 0), st.booleans())
@example(INT32_MAX, INT32_MAX, -23, False)
@example(INT32_MAX, INT32_MAX, 0, True)
@example(1 << 31, INT32_MAX, -15, True)
def test_multiply_split_by_split(a, b, shift, negative):
    high = srdhm(-a if negative else a, b)
    expected = rounding_divide_by_pot(high, -shift)
    assert multiply_split_by_split(a >> 15, a & 0x7FFF, b >> 15, b & 0x7FFF, shift, negative) == expected


def softmax_step() -> tuple:
    """The prepared SOFTMAX of unary_activations (beta 1, over 256 values): kernel and data."""
    model = tfl.Model((DATA / "unary_activations.tflite").read_bytes())
    (step, data), = [(step, data) for step, data in model._steps if step is loops.softmax]
    return step, data


def tflm_softmax_row(row: list[int], max_negated: int, exps: list[int], accumulated: list[int]) -> list[int]:
    """reference_ops::Softmax (int8) for one row, with gemmlowp's GetReciprocal in big integers."""
    top = max(row)
    total = sum(accumulated[top - v] for v in row if top - v <= max_negated)
    headroom_plus_one = 32 - total.bit_length()
    shifted_scale = saturating_shift_left(gemmlowp_newton((total << headroom_plus_one) - (1 << 31)), 1)
    exponent = 12 - headroom_plus_one + 31 - 8
    return [max(-128, min(127, rounding_divide_by_pot(srdhm(shifted_scale, exps[top - v]), exponent) - 128))
            if top - v <= max_negated else -128 for v in row]


@pytest.mark.parametrize("depth", [1, 2, 5, 256, 2047, 2048, 3000])
def test_softmax_rows_match_big_integer_tflm(depth):
    step, (_, _, _, max_negated, exps_high, exps_low, accumulated) = softmax_step()
    exps = [(high << 15) | low for high, low in zip(exps_high, exps_low, strict=True)]
    rng = random.Random(depth)
    rows = [[127] * depth, [-128] * depth, [rng.randrange(-128, 128) for _ in range(depth)],
            [rng.randrange(100, 128) for _ in range(depth)], [rng.choice((-128, 127)) for _ in range(depth)]]
    x = array("b", [v for row in rows for v in row])
    out = array("b", bytes(len(x)))
    step((x, out, depth, max_negated, exps_high, exps_low, accumulated))
    expected = [v for row in rows for v in tflm_softmax_row(row, max_negated, exps, list(accumulated))]
    assert out.tolist() == expected


@pytest.mark.micropython
def test_small_int_paths_allocate_nothing_and_agree_under_micropython(micropython):
    halves = [0, 1, 12345, 1 << 20, (1 << 29) + 5, (1 << 30) - 1]
    splits = [(0xFFFF, 0x7FFF, 0xFFFF, 0x7FFF, -23), (0x8000, 0, 0xFFFF, 0x7FFF, -34), (0xFFFF, 0x7FFF, 1, 0, -15)]
    # The short path's extremes: |x| just below 2**30 times a multiplier just below 2**31.
    requantize = [((1 << 30) - 1, 0xFFFF, 0x7FFF, 0), (1 - (1 << 30), 0xFFFF, 0x7FFF, 0),
                  ((1 << 30) - 1, 0x8000, 0, -3)]
    code = f"""
import gc
from tfl.fixedpoint import reciprocal_excess
from tfl.common import multiply_by_split_multiplier, multiply_split_by_split
calls = [(reciprocal_excess, (half,)) for half in {halves!r}]
calls += [(multiply_split_by_split, split + (False,)) for split in {splits!r}]
calls += [(multiply_by_split_multiplier, args) for args in {requantize!r}]

def allocated(function, args):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    function(*args)
    grown = gc.mem_alloc() - before
    gc.enable()
    return grown

print(sum(allocated(function, args) for function, args in calls), [function(*args) for function, args in calls])
"""
    expected = [fixedpoint.reciprocal_excess(half) for half in halves]
    expected += [multiply_split_by_split(*split, False) for split in splits]
    expected += [multiply_by_split_multiplier(*args) for args in requantize]
    assert micropython(code).stdout.strip() == f"0 {expected!r}"
