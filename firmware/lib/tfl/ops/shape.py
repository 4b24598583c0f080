"""SHAPE and STRIDED_SLICE, which Keras' Flatten emits around a dynamic batch dimension
(SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE). Shapes are static here, so both reduce to
copying elements chosen at prepare time."""

from array import array

from tfl import loops
from tfl.kernel_util import check, check_counts, const_ints, index_array, option, tensor
from tfl.schema import INT8, INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator

_INT_MAX = 2147483647


def prepare_shape(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, 1)
    _, input_t = tensor(g, op, 0, "input", (INT8, INT32))
    y, output_t = tensor(g, op, -1, "output", (INT32,))
    check(output_t.size == len(input_t.shape), op, "output size must equal the input rank")
    return loops.fill, (g.storage[y], array("i", input_t.shape))


def _clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def prepare_strided_slice(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    """StridedSlice with begin/end/shrink-axis masks (StartForAxis / StopForAxis)."""
    check_counts(op, 4)
    x, input_t = tensor(g, op, 0, "input", (INT8, INT32))
    y, output_t = tensor(g, op, -1, "output", (INT8, INT32))
    check(input_t.dtype == output_t.dtype, op, "input and output types differ")
    begin = const_ints(g, op.inputs[1])
    end = const_ints(g, op.inputs[2])
    strides = const_ints(g, op.inputs[3])
    rank = len(input_t.shape)
    check(len(begin) == len(end) == len(strides) == rank, op, "begin, end and strides must cover every axis")
    begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask = (option(g, op, i, "<i", 4, 0) for i in range(5))
    check(not ellipsis_mask and not new_axis_mask and not option(g, op, 5, "<b", 1, 0), op,
          "ellipsis, new-axis masks and offset are not supported")
    ranges = []
    for axis in range(rank):
        size = input_t.shape[axis]
        step = strides[axis]
        check(step != 0, op, "stride 0")
        start = begin[axis]
        if begin_mask & (1 << axis):
            start = -_INT_MAX - 1 if step > 0 else _INT_MAX
        if start < 0:
            start += size
        start = _clamp(start, 0, size) if step > 0 else _clamp(start, -1, size - 1)
        if shrink_mask & (1 << axis):
            stop = start + 1
        else:
            stop = end[axis]
            if end_mask & (1 << axis):
                stop = _INT_MAX if step > 0 else -_INT_MAX - 1
            if stop < 0:
                stop += size
            stop = _clamp(stop, 0, size) if step > 0 else _clamp(stop, -1, size - 1)
        span = range(start, stop, step)
        check(all(0 <= i < size for i in span), op, f"the slice leaves axis {axis} of size {size}")
        ranges.append(span)
    index = [0]
    for axis in range(rank):
        stride = 1
        for d in input_t.shape[axis + 1:]:
            stride *= d
        index = [i + k * stride for i in index for k in ranges[axis]]
    check(len(index) == output_t.size, op, f"the slice has {len(index)} elements, the output {output_t.size}")
    return loops.gather, (g.storage[x], g.storage[y], index_array(index))
