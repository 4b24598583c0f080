"""QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> float32), as TFLM."""

from array import array

from tfl import loops
from tfl.common import multiply_by_quantized_multiplier, to_float32
from tfl.kernel_util import check, check_counts, requantization, scale, tensor
from tfl.schema import FLOAT32, INT8

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator


def prepare_quantize(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, 1)
    x, input_t = tensor(g, op, 0, "input", (FLOAT32, INT8))
    y, output_t = tensor(g, op, -1, "output")
    check(input_t.size == output_t.size, op, "input and output sizes differ")
    if input_t.dtype == INT8:
        # Requantize: MultiplyByQuantizedMultiplier by input_scale / output_scale.
        multiplier, shift = requantization(op, scale(input_t), scale(output_t))
        in_zp = input_t.zero_point
        out_zp = output_t.zero_point
        table = array("b", [
            max(-128, min(127, out_zp + multiply_by_quantized_multiplier((v if v < 128 else v - 256) - in_zp,
                                                                          multiplier, shift)))
            for v in range(256)])
        return loops.lookup_table, (g.storage[x], g.storage[y], table)
    # AffineQuantize: round(value / float(scale)) + zero_point, the division in float32.
    return loops.quantize_float, (g.storage[x], g.storage[y], output_t.size, output_t.scale, output_t.zero_point)


def prepare_dequantize(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, 1)
    x, input_t = tensor(g, op, 0, "input")
    y, output_t = tensor(g, op, -1, "output", (FLOAT32,))
    check(input_t.size == output_t.size, op, "input and output sizes differ")
    # scale * (value - zero_point) in double, cast to float: exact product, one rounding.
    zp = input_t.zero_point
    s = input_t.scale
    table = [to_float32(s * ((v if v < 128 else v - 256) - zp)) for v in range(256)]
    return loops.dequantize, (g.storage[x], g.storage[y], input_t.size, table)
