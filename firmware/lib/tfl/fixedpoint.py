"""gemmlowp fixed-point math (fixedpoint.h) on raw int32 values, as TFLM's LOGISTIC, TANH and
SOFTMAX use it. A FixedPoint<int32, I> is passed as its raw value; ``integer_bits`` is I."""

from tfl.common import INT32_MAX, INT32_MIN, multiply_by_split_multiplier, rounding_divide_by_pot, wrap_int32
from tfl.common import saturating_rounding_doubling_high_mul as mul


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def rescale(x: int, src_integer_bits: int, dst_integer_bits: int) -> int:
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """exp(a) for a in [-1/4, 0), Q0.31: a Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = a + (1 << 28)
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(
        wrap_int32(mul(wrap_int32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap_int32(constant_term + mul(constant_term, wrap_int32(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)))


# exp(-2**k) in Q0.31 for the barrel shifter of exp_on_negative_values.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 given with ``integer_bits``, as Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = INT32_MAX
    return result


def reciprocal_excess(half_a: int) -> int:
    """Newton-Raphson's x ~= 1 / half_denominator (Q2.29) minus 1, i.e. raw x - 2**29, where
    half_denominator = RoundingHalfSum(a, 1) for a in [0, 1) in Q0.31, given as half_a = a >> 1.

    half_denominator's raw value, 2**30 + half_a, lies beyond MicroPython's small ints on 32-bit
    ports, so it is used as a split multiplier; x stays below 2**30 except after the last step,
    where it reaches 2**30 for a = 0, hence the excess. Nothing leaves the small-int range (and no
    int32 wrap-around is reachable), so SOFTMAX's per-row reciprocal allocates nothing.
    """
    high = (1 << 15) + (half_a >> 15)
    low = half_a & 0x7FFF
    # x = 48/17 - 32/17 * half_denominator; 978999898 = 1515870810 - 2**29.
    excess = multiply_by_split_multiplier(-1010580540, high, low, 0) + 978999898
    for _ in range(3):
        x = excess + (1 << 29)
        one_minus_half_denominator_times_x = (1 << 29) - multiply_by_split_multiplier(x, high, low, 0)
        excess += rescale(mul(x, one_minus_half_denominator_times_x), 4, 2)
    return excess


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(reciprocal_excess(a >> 1) + (1 << 29), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(reciprocal_excess(a >> 1), 2, 0)


def logistic(a: int, integer_bits: int) -> int:
    if a == 0:
        return 1 << 30
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-a if a > 0 else a, integer_bits))
    return positive if a > 0 else INT32_MAX - positive


def tanh(a: int, integer_bits: int) -> int:
    if a == 0:
        return 0
    # exp(2 * a) for a <= 0: the same raw value with one more integer bit.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(a if a < 0 else -a, integer_bits + 1))
    return -t if a < 0 else t
