"""CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (TFLM ConvPerChannel / DepthwiseConvPerChannel).

TFLM skips filter taps outside the image. Here the input is copied into a buffer bordered with
the input zero point, whose offset-corrected value is 0: the same sums, with no bounds tests in
the loops, and the input offset folds into the bias.
"""

from array import array

from tfl import ModelError, loops
from tfl.common import INT32_MAX, INT32_MIN, calculate_activation_range_quantized
from tfl.kernel_util import (
    check,
    check_counts,
    compute_out_size,
    compute_padding,
    const_ints,
    op_name,
    option,
    requantization,
    scale,
    scratch,
    split_multipliers,
    tensor,
)
from tfl.schema import INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor


class _Geometry:
    """Shapes, strides and padding of a 2-D window operator over an NHWC input."""

    def __init__(self, g: "Graph", op: "Operator", input_t: "Tensor", output_t: "Tensor", filter_h: int,
                 filter_w: int, options: "tuple[int, int, int, int, int]") -> None:
        padding, stride_w, stride_h, dilation_w, dilation_h = options
        check(len(input_t.shape) == 4 and len(output_t.shape) == 4, op, "input and output must be 4-D (NHWC)")
        check(stride_w > 0 and stride_h > 0 and dilation_w > 0 and dilation_h > 0, op,
              "strides and dilations must be positive")
        check(padding in (0, 1), op, f"padding type {padding} is not supported")
        self.batches, self.in_h, self.in_w, self.in_c = input_t.shape
        out_b, self.out_h, self.out_w, self.out_c = output_t.shape
        check(out_b == self.batches, op, "input and output batch sizes differ")
        expected = (compute_out_size(padding, self.in_h, filter_h, stride_h, dilation_h),
                    compute_out_size(padding, self.in_w, filter_w, stride_w, dilation_w))
        check(expected == (self.out_h, self.out_w), op,
              f"output is {self.out_h}x{self.out_w}, but the window gives {expected[0]}x{expected[1]}")
        self.stride_h, self.stride_w = stride_h, stride_w
        self.dilation_h, self.dilation_w = dilation_h, dilation_w
        self.pad_top = compute_padding(stride_h, dilation_h, self.in_h, filter_h, self.out_h)
        self.pad_left = compute_padding(stride_w, dilation_w, self.in_w, filter_w, self.out_w)
        # Rows and columns the windows reach, padding included.
        self.rows = max(self.in_h + self.pad_top, (self.out_h - 1) * stride_h + (filter_h - 1) * dilation_h + 1)
        self.cols = max(self.in_w + self.pad_left, (self.out_w - 1) * stride_w + (filter_w - 1) * dilation_w + 1)

    def padded_input(self, g: "Graph", source: "Any", zero_point: int) -> "tuple[Any, list[tuple[Any, Any]]]":
        """The buffer the windows read and the (target, source) row views to copy on every invoke."""
        if self.rows == self.in_h and self.cols == self.in_w:
            return source, []
        row = self.in_w * self.in_c
        padded = scratch(g, self.batches * self.rows * self.cols * self.in_c, zero_point)
        copies = []
        for b in range(self.batches):
            for y in range(self.in_h):
                start = ((b * self.rows + y + self.pad_top) * self.cols + self.pad_left) * self.in_c
                src = (b * self.in_h + y) * row
                copies.append((padded[start:start + row], source[src:src + row]))
        return padded, copies


def _options(g: "Graph", op: "Operator", dilation_fields: "tuple[int, int]") -> "tuple[int, int, int, int, int]":
    return (option(g, op, 0, "<b", 1, 0), option(g, op, 1, "<i", 4, 0), option(g, op, 2, "<i", 4, 0),
            option(g, op, dilation_fields[0], "<i", 4, 1), option(g, op, dilation_fields[1], "<i", 4, 1))


def _quantization(g: "Graph", op: "Operator", input_t: "Tensor", filter_t: "Tensor", output_t: "Tensor",
                  bias_index: int, channels: int, activation: int) -> "tuple[Any, list[int], int, int]":
    """Per-channel multipliers and shifts (PopulateConvolutionQuantizationParams), biases, clamp range."""
    count = len(filter_t.scale_bits)
    check(count in (1, channels), op, f"filter has {count} scales for {channels} output channels")
    check(all(zp == 0 for zp in filter_t.zero_points), op, "filter zero points must be 0")
    in_scale = scale(input_t)
    pairs = []
    for c in range(channels):
        w_scale = scale(filter_t, c)
        pairs.append(requantization(op, (in_scale[0] * w_scale[0], in_scale[1] + w_scale[1]), scale(output_t)))
    if bias_index >= 0:
        biases = const_ints(g, bias_index)
        check(len(biases) == channels, op, f"bias has {len(biases)} values for {channels} channels")
    else:
        biases = [0] * channels
    bounds = calculate_activation_range_quantized(activation, output_t.scale, output_t.zero_point)
    if bounds is None:
        raise ModelError(f"{op_name(op)}: fused activation {activation} is not supported")
    return split_multipliers(pairs), biases, bounds[0], bounds[1]


def _fold(op: "Operator", biases: "list[int]", weight_sums: "list[int]", input_offset: int) -> "Any":
    folded = array("i", bytes(4 * len(biases)))
    for c in range(len(biases)):
        total = biases[c] + input_offset * weight_sums[c]
        check(INT32_MIN <= total <= INT32_MAX, op, "bias plus input offset overflows int32")
        folded[c] = total
    return folded


def prepare_conv(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (2, 3))
    x, input_t = tensor(g, op, 0, "input")
    w, filter_t = tensor(g, op, 1, "filter")
    b, _ = tensor(g, op, 2, "bias", (INT32,), optional=True)
    y, output_t = tensor(g, op, -1, "output")
    check(filter_t.is_constant and len(filter_t.shape) == 4, op, "the filter must be a constant 4-D tensor")
    out_c, filter_h, filter_w, filter_c = filter_t.shape
    geo = _Geometry(g, op, input_t, output_t, filter_h, filter_w, _options(g, op, (4, 5)))
    check(filter_c == geo.in_c, op, "grouped convolution is not supported")
    check(out_c == geo.out_c, op, "filter and output channel counts differ")
    check(len(filter_t.scale_bits) == 1 or filter_t.quantized_dimension == 0, op,
          "per-channel scales must run along the output channels")
    multipliers, biases, lo, hi = _quantization(g, op, input_t, filter_t, output_t, b, out_c,
                                                option(g, op, 3, "<b", 1, 0))
    weights = g.storage[w]
    taps = filter_h * filter_w * filter_c
    sums = [sum(weights[c * taps:(c + 1) * taps]) for c in range(out_c)]
    padded, copies = geo.padded_input(g, g.storage[x], input_t.zero_point)
    # The filter's rows as runs of the padded input, relative to a window's top-left element:
    # a whole filter row is contiguous unless the columns are dilated.
    row_stride = geo.cols * geo.in_c
    if geo.dilation_w == 1:
        runs = [fy * geo.dilation_h * row_stride for fy in range(filter_h)]
        run = filter_w * filter_c
    else:
        runs = [fy * geo.dilation_h * row_stride + fx * geo.dilation_w * geo.in_c
                for fy in range(filter_h) for fx in range(filter_w)]
        run = filter_c
    bias = _fold(op, biases, sums, -input_t.zero_point)
    if len(runs) == 1:
        # Each window is one contiguous run of the padded input: a dot product per output.
        batch_step = geo.rows * row_stride
        positions = array("i", [n * batch_step + (oy * geo.stride_h * geo.cols + ox * geo.stride_w) * geo.in_c
                                for n in range(geo.batches) for oy in range(geo.out_h) for ox in range(geo.out_w)])
        rows = [weights[c * taps:(c + 1) * taps] for c in range(out_c)]
        return loops.dot_rows, (copies, padded, weights, positions, rows, bias, multipliers, g.storage[y], out_c, run,
                                output_t.zero_point, lo, hi, array("i", [0] * 4))
    # Each output channel's filter as views, one per run.
    filter_runs = [[weights[c * taps + r * run:c * taps + (r + 1) * run] for r in range(len(runs))]
                   for c in range(out_c)]
    return loops.conv, (copies, padded, weights, filter_runs, bias, multipliers, g.storage[y], geo.batches,
                        geo.rows * row_stride, geo.out_h, geo.out_w, out_c, geo.stride_h * row_stride,
                        geo.stride_w * geo.in_c, array("i", runs), run, output_t.zero_point, lo, hi)


def prepare_depthwise_conv(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (2, 3))
    x, input_t = tensor(g, op, 0, "input")
    w, filter_t = tensor(g, op, 1, "filter")
    b, _ = tensor(g, op, 2, "bias", (INT32,), optional=True)
    y, output_t = tensor(g, op, -1, "output")
    check(filter_t.is_constant and len(filter_t.shape) == 4 and filter_t.shape[0] == 1, op,
          "the filter must be a constant 1 x H x W x C tensor")
    _, filter_h, filter_w, out_c = filter_t.shape
    geo = _Geometry(g, op, input_t, output_t, filter_h, filter_w, _options(g, op, (5, 6)))
    check(out_c == geo.out_c and out_c % geo.in_c == 0, op, "output channels must be a multiple of input channels")
    multiplier = out_c // geo.in_c
    check(option(g, op, 3, "<i", 4, multiplier) in (multiplier, 0), op,
          "depth multiplier does not match the shapes")
    check(len(filter_t.scale_bits) == 1 or filter_t.quantized_dimension == 3, op,
          "per-channel scales must run along the output channels")
    multipliers, biases, lo, hi = _quantization(g, op, input_t, filter_t, output_t, b, out_c,
                                                option(g, op, 4, "<b", 1, 0))
    weights = g.storage[w]
    taps = filter_h * filter_w
    sums = [sum(weights[t * out_c + c] for t in range(taps)) for c in range(out_c)]
    padded, copies = geo.padded_input(g, g.storage[x], input_t.zero_point)
    row_stride = geo.cols * geo.in_c
    input_taps = array("i", [fy * geo.dilation_h * row_stride + fx * geo.dilation_w * geo.in_c
                             for fy in range(filter_h) for fx in range(filter_w)])
    filter_taps = array("i", [t * out_c for t in range(taps)])
    bias = _fold(op, biases, sums, -input_t.zero_point)
    return loops.depthwise_conv, (copies, padded, weights, bias, multipliers, g.storage[y], geo.batches,
                                  geo.rows * row_stride, geo.out_h, geo.out_w, geo.in_c, multiplier,
                                  geo.stride_h * row_stride, geo.stride_w * geo.in_c, input_taps, filter_taps,
                                  output_t.zero_point, lo, hi)
