"""ADD, SUB, MUL on int8 with broadcasting (TFLM reference_integer_ops add/sub/mul).

ADD/SUB rescale each input to a common scale before summing; that rescaling depends on one
int8 value only, so it is tabulated at prepare time (256 entries per input).
"""

from array import array

from tfl import ModelError, loops
from tfl.common import calculate_activation_range_quantized, multiply_by_quantized_multiplier
from tfl.kernel_util import check, check_counts, index_array, op_name, option, requantization, scale, tensor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor

# ADD/SUB: inputs are shifted left by this many bits before rescaling (int8 kernels).
_LEFT_SHIFT = 20


def _broadcast_index(op: "Operator", shape: "tuple[int, ...]", out_shape: "tuple[int, ...]") -> "Any":
    """For each output element, the index of the input element it reads (numpy broadcasting)."""
    check(len(shape) <= len(out_shape), op, f"cannot broadcast {shape} to {out_shape}")
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides = [0] * len(shape)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        check(shape[axis] in (1, out_shape[axis]), op, f"cannot broadcast {shape} to {out_shape}")
        strides[axis] = stride if shape[axis] > 1 else 0
        stride *= shape[axis]
    index = [0]
    for axis in range(len(out_shape)):
        index = [i + k * strides[axis] for i in index for k in range(out_shape[axis])]
    return index_array(index)


def _prepare(g: "Graph", op: "Operator") -> "tuple[Any, Any, Any, Tensor, Tensor, Tensor, int, int]":
    check_counts(op, 2)
    a, first = tensor(g, op, 0, "first input")
    b, second = tensor(g, op, 1, "second input")
    y, output_t = tensor(g, op, -1, "output")
    activation = option(g, op, 0, "<b", 1, 0)
    bounds = calculate_activation_range_quantized(activation, output_t.scale, output_t.zero_point)
    if bounds is None:
        raise ModelError(f"{op_name(op)}: fused activation {activation} is not supported")
    maps = (_broadcast_index(op, first.shape, output_t.shape), _broadcast_index(op, second.shape, output_t.shape))
    return maps[0], maps[1], (g.storage[a], g.storage[b], g.storage[y]), first, second, output_t, bounds[0], bounds[1]


def _prepare_add_sub(g: "Graph", op: "Operator", sign: int) -> "tuple[Any, Any]":
    """CalculateOpDataAdd: both inputs to a common scale of twice the larger input scale."""
    map_a, map_b, views, first, second, output_t, lo, hi = _prepare(g, op)
    scale_a = scale(first)
    scale_b = scale(second)
    # 2 * max(scale_a, scale_b), exactly: positive floats order as their bit patterns, and doubling
    # only raises the exponent.
    larger = scale_a if first.scale_bits[0] >= second.scale_bits[0] else scale_b
    twice_max = (larger[0], larger[1] + 1)
    out = scale(output_t)
    tables = []
    for t, s in ((first, scale_a), (second, scale_b)):
        multiplier, shift = requantization(op, s, twice_max)
        zp = t.zero_point
        tables.append(array("i", [multiply_by_quantized_multiplier(((v if v < 128 else v - 256) - zp) << _LEFT_SHIFT,
                                                                    multiplier, shift) for v in range(256)]))
    out_multiplier, out_shift = requantization(op, twice_max, (out[0], out[1] + _LEFT_SHIFT))
    return loops.add, (views[0], views[1], views[2], map_a, map_b, tables[0], tables[1], sign, out_multiplier >> 15,
                       out_multiplier & 0x7FFF, out_shift, output_t.zero_point, lo, hi)


def prepare_add(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    return _prepare_add_sub(g, op, 1)


def prepare_sub(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    return _prepare_add_sub(g, op, -1)


def prepare_mul(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """MulElementwise: the product of the offset inputs, rescaled by scale_a * scale_b / scale_out."""
    map_a, map_b, views, first, second, output_t, lo, hi = _prepare(g, op)
    scale_a = scale(first)
    scale_b = scale(second)
    multiplier, shift = requantization(op, (scale_a[0] * scale_b[0], scale_a[1] + scale_b[1]), scale(output_t))
    return loops.mul, (views[0], views[1], views[2], map_a, map_b, -first.zero_point, -second.zero_point,
                       multiplier >> 15, multiplier & 0x7FFF, shift, output_t.zero_point, lo, hi)

