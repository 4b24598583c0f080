"""SOFTMAX int8 -> int8 (TFLM reference_ops::Softmax with gemmlowp fixed point).

exp() of a difference to the row maximum depends on one of 256 differences, so both forms
the kernel needs (Q0.31, and Q12.19 for the sum) are tabulated at prepare time. The Q0.31 values
reach 2**31 - 1, beyond MicroPython's small ints on 32-bit ports: they are stored split into
15-bit halves, as requantization multipliers are (``tfl.common.multiply_split_by_split``).
"""

from array import array

from tfl import fixedpoint, loops
from tfl.common import float32_parts, quantize_multiplier, saturating_rounding_doubling_high_mul, wrap_int32
from tfl.kernel_util import check, check_counts, option, tensor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator

_SCALED_DIFF_INTEGER_BITS = 5
_ACCUMULATION_INTEGER_BITS = 12


def prepare(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, 1)
    x, input_t = tensor(g, op, 0, "input")
    y, output_t = tensor(g, op, -1, "output")
    check(output_t.zero_point == -128 and output_t.scale_bits[0] == 0x3B800000, op,
          "int8 output must have scale 1/256 and zero point -128")
    check(input_t.shape == output_t.shape and len(input_t.shape) >= 1, op, "input and output shapes differ")
    beta_bits = option(g, op, 0, "<I", 4, 0x3F800000)
    check(0 < beta_bits < 0x7F800000, op, "beta must be a positive finite number")
    # PreprocessSoftmaxScaling: min(beta * input_scale * 2**(31 - 5), 2**31 - 1), exact.
    beta = float32_parts(beta_bits)
    in_scale = float32_parts(input_t.scale_bits[0])
    real = (beta[0] * in_scale[0], beta[1] + in_scale[1] + 31 - _SCALED_DIFF_INTEGER_BITS)
    limit = (1 << 31) - 1
    if (real[0] << real[1] if real[1] >= 0 else real[0] >> -real[1]) >= limit:
        real = (limit, 0)
    multiplier, left_shift = quantize_multiplier(real)
    check(left_shift >= 0, op, "input scale times beta is too small")
    diff_min = -(((1 << _SCALED_DIFF_INTEGER_BITS) - 1) << (31 - _SCALED_DIFF_INTEGER_BITS) >> left_shift)
    exps_high = array("H", bytes(2 * 256))
    exps_low = array("H", bytes(2 * 256))
    accumulated = array("i", bytes(4 * 256))
    # Indexed by -(x - max_in_row), 0..255; differences below diff_min contribute nothing.
    for negated in range(256):
        if -negated >= diff_min:
            rescaled = saturating_rounding_doubling_high_mul(wrap_int32(-negated << left_shift), multiplier)
            e = fixedpoint.exp_on_negative_values(rescaled, _SCALED_DIFF_INTEGER_BITS)
            exps_high[negated] = e >> 15
            exps_low[negated] = e & 0x7FFF
            accumulated[negated] = fixedpoint.rescale(e, 0, _ACCUMULATION_INTEGER_BITS)
    depth = input_t.shape[-1]
    return loops.softmax, (g.storage[x], g.storage[y], depth, -diff_min, exps_high, exps_low, accumulated)
