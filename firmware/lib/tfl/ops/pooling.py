"""MAX_POOL_2D and AVERAGE_POOL_2D on int8 (TFLM reference_integer_ops::MaxPool / AveragePool).

Windows are clipped to the image as in TFLM: the average divides by the taps inside it.
"""

from array import array

from tfl import ModelError, loops
from tfl.common import calculate_activation_range_quantized
from tfl.kernel_util import (
    check,
    check_counts,
    compute_out_size,
    compute_padding,
    op_name,
    option,
    same_quantization,
    tensor,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator


def _prepare(g: "Graph", op: "Operator") -> "tuple[Any, ...]":
    check_counts(op, 1)
    x, input_t = tensor(g, op, 0, "input")
    y, output_t = tensor(g, op, -1, "output")
    check(same_quantization(input_t, output_t), op, "input and output quantization must match")
    check(len(input_t.shape) == 4 and len(output_t.shape) == 4, op, "input and output must be 4-D (NHWC)")
    padding = option(g, op, 0, "<b", 1, 0)
    stride_w = option(g, op, 1, "<i", 4, 0)
    stride_h = option(g, op, 2, "<i", 4, 0)
    filter_w = option(g, op, 3, "<i", 4, 0)
    filter_h = option(g, op, 4, "<i", 4, 0)
    activation = option(g, op, 5, "<b", 1, 0)
    check(min(stride_w, stride_h, filter_w, filter_h) > 0, op, "strides and window sizes must be positive")
    check(padding in (0, 1), op, f"padding type {padding} is not supported")
    batches, in_h, in_w, channels = input_t.shape
    out_h, out_w = output_t.shape[1:3]
    expected = (batches, compute_out_size(padding, in_h, filter_h, stride_h, 1),
                compute_out_size(padding, in_w, filter_w, stride_w, 1), channels)
    check(output_t.shape == expected, op, f"output shape {output_t.shape} does not match the window ({expected})")
    pad_top = compute_padding(stride_h, 1, in_h, filter_h, out_h)
    pad_left = compute_padding(stride_w, 1, in_w, filter_w, out_w)
    bounds = calculate_activation_range_quantized(activation, output_t.scale, output_t.zero_point)
    if bounds is None:
        raise ModelError(f"{op_name(op)}: fused activation {activation} is not supported")
    # Window of each output row and column, clipped to the image: (first input index, count).
    rows = array("i", [v for oy in range(out_h) for v in _clip(oy * stride_h - pad_top, filter_h, in_h)])
    cols = array("i", [v for ox in range(out_w) for v in _clip(ox * stride_w - pad_left, filter_w, in_w)])
    check(all(rows[i] for i in range(1, len(rows), 2)) and all(cols[i] for i in range(1, len(cols), 2)), op,
          "a pooling window lies entirely in the padding")
    return (g.storage[x], g.storage[y], batches, in_h, in_w, channels, rows, cols, bounds[0], bounds[1])


def _clip(origin: int, size: int, limit: int) -> "tuple[int, int]":
    start = max(0, origin)
    end = min(limit, origin + size)
    return start, max(0, end - start)


def prepare_max_pool(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    return loops.max_pool, _prepare(g, op)


def prepare_average_pool(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    return loops.average_pool, _prepare(g, op)
