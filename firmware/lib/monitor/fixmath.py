"""Integer helpers of the window pipeline: base-2 logarithms and powers in Q12, integer square root.

Features and scores are computed in integers that stay small ints (|v| < 2**30) on a 32-bit
MicroPython, so a window allocates nothing (a float result is a heap object on the ESP32 port)
and the node and CPython compute the same bits. Quantities of wide range travel as logarithms:
``log2(m, e)`` is log2(m * 2**e) as an integer in units of 1/4096 (Q12).
"""

try:
    from micropython import const
except ImportError:  # CPython: the host tools import this module too

    def const(value):  # type: ignore[no-redef,misc,no-untyped-def]
        return value


FRAC_BITS = const(12)
ONE = const(4096)  # 1.0 in Q12
LOG_ZERO = const(-(1 << 29))  # the logarithm of 0 (and of anything not positive)
SMALL_INT = const(1 << 29)  # values are kept below this, with a factor of 2 to spare
LOG10_2_Q12 = const(1233)  # log10(2) in Q12 (1233.02)

# 2**(2**-j) in Q14, j = 1..12: one factor per fractional bit of an exponent (tests recompute them).
EXP2_FRACTION_Q14 = (23170, 19484, 17867, 17109, 16743, 16562, 16473, 16428, 16406, 16395, 16390, 16387)


def log2(m: int, e: int = 0) -> int:
    """log2(m * 2**e) in Q12 for 0 < m < 2**30 (LOG_ZERO when m <= 0), within 2/4096.

    (Any larger m works too, as long ints: at set-up, not in a window.)

    m is normalised to 15 bits, then each fractional bit comes from squaring the mantissa:
    (m / 2**14)**2 >= 2 means the next bit is 1 (products stay below 2**30).
    """
    if m <= 0:
        return LOG_ZERO
    while m >= 32768:
        m >>= 1
        e += 1
    while m < 16384:
        m <<= 1
        e -= 1
    result = (e + 14) << FRAC_BITS
    bit = ONE >> 1
    while bit:
        m = (m * m) >> 14
        if m >= 32768:
            m >>= 1
            result += bit
        bit >>= 1
    return result


def log10(m: int, e: int = 0) -> int:
    """log10(m * 2**e) in Q12 (LOG_ZERO when m <= 0)."""
    return log2_to_log10(log2(m, e))


def log2_to_log10(value: int) -> int:
    """A Q12 base-2 logarithm as a Q12 base-10 one (LOG_ZERO stays LOG_ZERO)."""
    if value == LOG_ZERO:
        return LOG_ZERO
    return (value * LOG10_2_Q12 + (ONE >> 1)) >> FRAC_BITS


def exp2(value: int) -> int:
    """2**(value / 4096) in Q12, rounded; saturates at 2**29, 0 below 2**-13."""
    whole = value >> FRAC_BITS
    fraction = value & (ONE - 1)
    m = 16384  # 1.0 in Q14
    bit = ONE >> 1
    for factor in EXP2_FRACTION_Q14:
        if fraction & bit:
            m = (m * factor + 8192) >> 14
        bit >>= 1
    shift = whole - 2  # Q14 -> Q12
    if shift >= 0:
        return m << shift if shift < 15 else SMALL_INT
    if shift < -16:
        return 0
    return (m + (1 << (-shift - 1))) >> -shift


def isqrt(value: int, guess: int = 1) -> int:
    """floor(sqrt(value)) by Newton's method from ``guess`` (> 0; a near one saves steps)."""
    if value <= 0:
        return 0
    x = (guess + value // guess) >> 1  # from here on x >= isqrt(value): the steps only go down
    while True:
        y = (x + value // x) >> 1
        if y >= x:
            return x
        x = y


def log2_of_float(value: float) -> int:
    """Q12 log2 of a positive float, for constants made at set-up.

    From its mantissa rounded to 24 bits: a float32 (the ESP32's floats) is that already, and a
    double rounds to the same bits (ties to even, as float32 arithmetic rounds).
    """
    if not value > 0.0:
        raise ValueError("log2 of a value that is not positive")
    import math

    mantissa, exponent = math.frexp(value)
    return log2(round(mantissa * 16777216.0), exponent - 24)


def to_float(log_q12: int) -> float:
    """The value of a Q12 base-2 logarithm (0.0 for LOG_ZERO), for reports: this allocates."""
    if log_q12 <= LOG_ZERO:
        return 0.0
    value: float = 2.0 ** (log_q12 / ONE)
    return value
