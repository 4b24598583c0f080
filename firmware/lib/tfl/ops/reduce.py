"""MEAN on int8 (TFLM reduce: QuantizedMeanOrSum with an integer rescale, or a plain Mean when
input and output quantization agree)."""

from array import array

from tfl import loops
from tfl.kernel_util import (
    check,
    check_counts,
    const_ints,
    index_array,
    option,
    requantization,
    same_quantization,
    scale,
    tensor,
)
from tfl.schema import INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator


def prepare_mean(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, 2)
    x, input_t = tensor(g, op, 0, "input")
    a, _ = tensor(g, op, 1, "axis", (INT32,))
    y, output_t = tensor(g, op, -1, "output")
    rank = len(input_t.shape)
    axes = sorted({axis + rank if axis < 0 else axis for axis in const_ints(g, a)})
    check(all(0 <= axis < rank for axis in axes), op, f"axes {axes} out of range for rank {rank}")
    kept = [d for i, d in enumerate(input_t.shape) if i not in axes]
    count = 1
    for axis in axes:
        count *= input_t.shape[axis]
    check(output_t.size * count == input_t.size, op, f"output shape {output_t.shape} does not match the reduction")
    check(option(g, op, 0, "<b", 1, 0) in (0, 1), op, "keep_dims must be a boolean")
    # Output element each input element adds to, in input order.
    strides = [0] * rank
    stride = 1
    for axis in range(rank - 1, -1, -1):
        if axis not in axes:
            strides[axis] = stride
            stride *= input_t.shape[axis]
    index = [0]
    for axis in range(rank):
        index = [i + k * strides[axis] for i in index for k in range(input_t.shape[axis])]
    check(stride == output_t.size and len(kept) <= rank, op, "output size does not match the reduction")
    sums = array("i", bytes(4 * output_t.size))
    if same_quantization(input_t, output_t):
        return loops.mean_same_scale, (g.storage[x], g.storage[y], index_array(index), sums, count)
    # QuantizedMeanOrSum: input_scale / output_scale, divided by the count with the extra bits
    # a shift of floor(log2(count)) (at most 32) leaves room for.
    multiplier, shift = requantization(op, scale(input_t), scale(output_t))
    bits = 0
    while count >> (bits + 1):
        bits += 1
    bits = min(bits, 32, 31 + shift)
    multiplier = (multiplier << bits) // count
    shift -= bits
    return loops.mean, (g.storage[x], g.storage[y], index_array(index), sums,
                        input_t.zero_point * count, multiplier >> 15, multiplier & 0x7FFF, shift, output_t.zero_point)
