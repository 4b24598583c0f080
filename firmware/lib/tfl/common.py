"""Integer arithmetic shared by the kernels, named after TFLM's so the two read side by side.

TFLM (kernels/internal/common.h, quantization_util.cc) computes requantization multipliers in
double precision. The ESP32 port of MicroPython has single-precision floats, so multipliers are
derived here by exact integer arithmetic from the float32 bit patterns stored in the model: the
result is the same on every MicroPython build and under CPython.

Eval-time helpers keep every intermediate below 2**30 (MicroPython's small-int range on 32-bit
ports), so they allocate nothing on the heap for the values int8 kernels produce.
"""

from array import array

INT32_MIN = -2147483648
INT32_MAX = 2147483647

# Fused activation codes of the schema (ActivationFunctionType).
ACT_NONE = 0
ACT_RELU = 1
ACT_RELU_N1_TO_1 = 2
ACT_RELU6 = 3

_f32 = array("f", [0.0])


def to_float32(x: float) -> float:
    """``x`` rounded to the nearest float32 (a no-op where floats are single precision)."""
    _f32[0] = x
    return _f32[0]


def round_half_away(x: float) -> int:
    """TfLiteRound (std::round): nearest integer, halves away from zero; exact in any precision.

    Results only feed int8 clamps, so values beyond +-1e9 saturate there (and NaN gives 0)
    instead of raising as int() would; C leaves those cases undefined.
    """
    if not -1e9 < x < 1e9:
        return 0 if x != x else -1000000000 if x < 0 else 1000000000
    whole = int(x)
    frac = x - whole
    if frac >= 0.5:
        return whole + 1
    if frac <= -0.5:
        return whole - 1
    return whole


def float32_parts(bits: int) -> "tuple[int, int]":
    """A positive finite float32 given by its bit pattern, as (m, e) with value m * 2**e exactly."""
    exponent = (bits >> 23) & 0xFF
    mantissa = bits & 0x7FFFFF
    if exponent == 0:
        return mantissa, -149
    return mantissa | 0x800000, exponent - 150


def _bit_length(x: int) -> int:
    # MicroPython ints have no bit_length().
    n = 0
    while x >> (n + 16):
        n += 16
    while x >> n:
        n += 1
    return n


def exact_round(num: "tuple[int, int]", den: "tuple[int, int]", bits: int) -> "tuple[int, int]":
    """The quotient num/den of exact values (m, e), rounded to ``bits`` significant bits, nearest-even.

    Returns (m, e) with 2**(bits-1) <= m < 2**bits: what a float with a ``bits``-bit significand
    (53: double, 24: float32) holds after one correctly rounded division.
    """
    num_m, num_e = num
    den_m, den_e = den
    shift = bits - (_bit_length(num_m) - _bit_length(den_m))
    while True:
        if shift >= 0:
            q, r = divmod(num_m << shift, den_m)
            d = den_m
        else:
            d = den_m << -shift
            q, r = divmod(num_m, d)
        if q >> bits:
            shift -= 1
        elif not q >> (bits - 1):
            shift += 1
        else:
            break
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
        if q >> bits:
            q >>= 1
            shift -= 1
    return q, num_e - den_e - shift


def quantize_multiplier(value: "tuple[int, int]") -> "tuple[int, int]":
    """QuantizeMultiplier: a positive double (m, e) -> (quantized_multiplier, shift), as TFLM.

    frexp gives q in [0.5, 1); q * 2**31 is rounded half away from zero (TfLiteRound).
    """
    m, e = value
    if m == 0:
        return 0, 0
    m, e = exact_round((m, e), (1, 0), 53)
    shift = e + 53
    q_fixed = (m + (1 << 21)) >> 22
    if q_fixed == 1 << 31:
        q_fixed >>= 1
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def double_multiplier(num: "tuple[int, int]", den: "tuple[int, int]") -> "tuple[int, int]":
    """QuantizeMultiplier(double(num) / double(den)) for exact values num, den given as (m, e).

    The product of two float32 values is exact in double, so only the division rounds.
    """
    return quantize_multiplier(exact_round(num, den, 53))


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2**31), a, b int32."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    if b < 0:
        a = -a
        b = -b
    return multiply_by_split_multiplier(a, b >> 15, b & 0x7FFF, 0)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: x / 2**exponent, rounding half away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def wrap_int32(x: int) -> int:
    """x as the int32 a C multiplication would leave (two's complement wrap-around)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def multiply_by_quantized_multiplier(x: int, quantized_multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding, TFLM's default build)."""
    return multiply_by_split_multiplier(x, quantized_multiplier >> 15, quantized_multiplier & 0x7FFF, shift)


def multiply_by_split_multiplier(x: int, multiplier_high: int, multiplier_low: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier(x, multiplier, shift) with the multiplier given as
    (multiplier >> 15, multiplier & 0x7FFF): what kernels call once per output value.

    SaturatingRoundingDoublingHighMul then RoundingDivideByPOT, in one frame. A quantized
    multiplier lies in [2**30, 2**31), beyond MicroPython's small ints on 32-bit ports, so kernels
    keep it split; the 62-bit product is formed in 15-bit limbs and no intermediate leaves the
    small-int range, so nothing is allocated.
    """
    if shift > 0:
        x <<= shift
        if not INT32_MIN <= x <= INT32_MAX:
            x = wrap_int32(x)
        shift = 0
    negative = x < 0
    if negative:
        x = -x
    if multiplier_high >> 15 == 1 and x < 0x40000000:
        # Common case, multiplier in [2**30, 2**31) and |x| < 2**30: with b = 2**30 + b',
        # x * b = x * 2**30 + x * b', and only x * b' (15-bit limbs) needs splitting.
        a0 = x & 0x7FFF
        a1 = x >> 15
        b1 = multiplier_high & 0x7FFF
        s1 = a1 * multiplier_low
        s2 = a0 * b1
        # Low limbs plus the nudge, in units of 2**15 (2**30 - 1 for a negative product).
        low = ((a0 * multiplier_low - 1) >> 15) + 0x8000 if negative else ((a0 * multiplier_low) >> 15) + 0x8000
        upper = a1 * b1 + (s1 >> 15) + (s2 >> 15) + (((s1 & 0x7FFF) + (s2 & 0x7FFF) + low) >> 15)
        # (x + upper) >> 1 without forming x + upper, which reaches 2**30 for results near 2**29.
        high = (x >> 1) + (upper >> 1) + (x & upper & 1)
        if negative:
            high = -high
        if shift == 0:
            return high
        mask = (1 << -shift) - 1
        threshold = (mask >> 1) + (1 if high < 0 else 0)
        return (high >> -shift) + (1 if high & mask > threshold else 0)
    return multiply_split_by_split(x >> 15, x & 0x7FFF, multiplier_high, multiplier_low, shift, negative)


def multiply_split_by_split(a_high: int, a_low: int, b_high: int, b_low: int, shift: int, negative: bool) -> int:
    """MultiplyByQuantizedMultiplier's rounding (SaturatingRoundingDoublingHighMul then
    RoundingDivideByPOT(-shift), shift <= 0) of a * b, negated if ``negative``, for a, b in
    [0, 2**31] both given split as (v >> 15, v & 0x7FFF).

    The product is formed in 15-bit limbs; with shift <= -15 the rounding divide is folded into
    its top limbs, so the high half itself (up to 2**31) is never formed and nothing leaves the
    small-int range.
    """
    a1 = a_high & 0x7FFF
    a2 = a_high >> 15
    b1 = b_high & 0x7FFF
    b2 = b_high >> 15
    # The nudge (2**30 for a positive product, 2**30 - 1 for the magnitude of a negative one,
    # since C division truncates toward zero) enters as limb digits.
    if negative:
        t = a_low * b_low + 0x7FFF
        t = (t >> 15) + a_low * b1 + 0x7FFF
        nudge2 = 0
    else:
        t = a_low * b_low
        t = (t >> 15) + a_low * b1
        nudge2 = 1
    u = (t & 0x7FFF) + a1 * b_low
    v = a1 * b1 + (t >> 15)
    w = (v & 0x7FFF) + (u >> 15) + a_low * b2 + a2 * b_low + nudge2
    # The magnitude of the high half is ((w & 0x7FFF) >> 1) + (upper << 14).
    upper = (v >> 15) + (w >> 15) + a1 * b2 + a2 * b1 + ((a2 * b2) << 15)
    if shift <= -15:
        # RoundingDivideByPOT rounds magnitudes half up; (w & 0x7FFF) >> 1 < 2**14 cannot carry.
        magnitude = (upper + (1 << (-shift - 15))) >> (-shift - 14)
        return -magnitude if negative else magnitude
    high = ((w & 0x7FFF) >> 1) + (upper << 14)
    if negative:
        high = -high
    if shift == 0:
        return high
    # RoundingDivideByPOT(high, -shift), inlined: a call per output value costs in bytecode.
    mask = (1 << -shift) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> -shift) + (1 if high & mask > threshold else 0)


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """zero_point + TfLiteRound(value / scale) with the division in float32, as TFLM's kernels."""
    return zero_point + round_half_away(to_float32(value / scale))


def calculate_activation_range_quantized(activation: int, scale: float, zero_point: int, qmin: int = -128,
                                         qmax: int = 127) -> "tuple[int, int] | None":
    """CalculateActivationRangeQuantized: the clamp bounds a fused activation implies."""
    if activation == ACT_NONE:
        return qmin, qmax
    if activation == ACT_RELU:
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if activation == ACT_RELU6:
        return (max(qmin, quantize_value(0.0, scale, zero_point)),
                min(qmax, quantize_value(6.0, scale, zero_point)))
    if activation == ACT_RELU_N1_TO_1:
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    return None
