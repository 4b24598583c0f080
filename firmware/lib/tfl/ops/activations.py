"""RELU, RELU6, LOGISTIC, TANH on int8: TFLM's arithmetic evaluated once per possible input
value at prepare time into a 256-entry table, so Eval is a lookup."""

from array import array

from tfl import fixedpoint, loops
from tfl.common import (
    float32_parts,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantize_value,
    rounding_divide_by_pot,
)
from tfl.kernel_util import check, check_counts, requantization, scale, tensor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor


def _prepare_table(g: "Graph", op: "Operator", function: "Callable[[int], int]") -> "tuple[Any, Any]":
    check_counts(op, 1)
    x, input_t = tensor(g, op, 0, "input")
    y, output_t = tensor(g, op, -1, "output")
    check(input_t.size == output_t.size, op, "input and output sizes differ")
    # Indexed by the input's unsigned byte: entries 0..127 for 0..127, 128..255 for -128..-1.
    table = array("b", [function(v if v < 128 else v - 256) for v in range(256)])
    return loops.lookup_table, (g.storage[x], g.storage[y], table)


def prepare_relu(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """CalculateReluOpData / ReluQuantized: requantize, then clamp at the output's zero."""
    check_counts(op, 1)
    _, input_t = tensor(g, op, 0, "input")
    _, output_t = tensor(g, op, -1, "output")
    multiplier, shift = requantization(op, scale(input_t), scale(output_t))
    in_zp = input_t.zero_point
    out_zp = output_t.zero_point
    lo = max(-128, out_zp)

    def relu(v: int) -> int:
        return int(max(lo, min(127, out_zp + multiply_by_quantized_multiplier(v - in_zp, multiplier, shift))))

    return _prepare_table(g, op, relu)


def prepare_relu6(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """Relu6Quantized: clamp between the input's quantized 0 and 6."""
    check_counts(op, 1)
    _, input_t = tensor(g, op, 0, "input")
    zero = input_t.zero_point
    six = max(-128, min(127, quantize_value(6.0, input_t.scale, zero)))
    return _prepare_table(g, op, lambda v: max(zero, min(six, v)))


def _input_rescaling(op: "Operator", input_t: "Tensor") -> "tuple[int, int, int]":
    """Multiplier, left shift and input radius mapping int8 inputs to Q4.27 (TFLM Logistic/Tanh Prepare):
    frexp(input_scale * 2**27), and the largest offset input that does not saturate."""
    m, e = float32_parts(input_t.scale_bits[0])
    multiplier, shift = quantize_multiplier((m, e + 27))
    radius = (15 << 27) >> shift if shift >= 0 else (15 << 27) << -shift
    return multiplier, shift, radius


def prepare_logistic(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """reference_integer_ops::Logistic: gemmlowp logistic on Q4.27, output scale 1/256, zero point -128."""
    check_counts(op, 1)
    _, input_t = tensor(g, op, 0, "input")
    _, output_t = tensor(g, op, -1, "output")
    check(output_t.zero_point == -128 and output_t.scale_bits[0] == 0x3B800000, op,
          "int8 output must have scale 1/256 and zero point -128")
    multiplier, shift, radius = _input_rescaling(op, input_t)
    zp = input_t.zero_point

    def logistic(v: int) -> int:
        offset = v - zp
        if offset <= -radius:
            return -128
        if offset >= radius:
            return 127
        q = fixedpoint.logistic(multiply_by_quantized_multiplier(offset, multiplier, shift), 4)
        return max(-128, min(127, rounding_divide_by_pot(q, 23) - 128))

    return _prepare_table(g, op, logistic)


def prepare_tanh(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """reference_integer_ops::Tanh: gemmlowp tanh on Q4.27, output scale 1/128, zero point 0."""
    check_counts(op, 1)
    _, input_t = tensor(g, op, 0, "input")
    _, output_t = tensor(g, op, -1, "output")
    check(output_t.zero_point == 0 and output_t.scale_bits[0] == 0x3C000000, op,
          "int8 output must have scale 1/128 and zero point 0")
    multiplier, shift, radius = _input_rescaling(op, input_t)
    zp = input_t.zero_point

    def tanh(v: int) -> int:
        offset = v - zp
        if offset <= -radius:
            return -128
        if offset >= radius:
            return 127
        q = fixedpoint.tanh(multiply_by_quantized_multiplier(offset, multiplier, shift), 4)
        return max(-128, min(127, rounding_divide_by_pot(q, 24)))

    return _prepare_table(g, op, tanh)
