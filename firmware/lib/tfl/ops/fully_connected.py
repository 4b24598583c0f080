"""FULLY_CONNECTED, int8 (TFLM reference_integer_ops::FullyConnected / FullyConnectedPerChannel)."""

from array import array

from tfl import ModelError, loops
from tfl.common import INT32_MAX, INT32_MIN, calculate_activation_range_quantized, exact_round
from tfl.kernel_util import (
    check,
    check_counts,
    const_ints,
    op_name,
    option,
    requantization,
    scale,
    split_multipliers,
    tensor,
)
from tfl.schema import INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor


def prepare(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (2, 3))
    x, input_t = tensor(g, op, 0, "input")
    w, filter_t = tensor(g, op, 1, "filter")
    b, bias_t = tensor(g, op, 2, "bias", (INT32,), optional=True)
    y, output_t = tensor(g, op, -1, "output")
    check(filter_t.is_constant and len(filter_t.shape) == 2, op, "the filter must be a constant 2-D tensor")
    check(option(g, op, 1, "<b", 1, 0) == 0, op, "only the default weights format is supported")
    check(all(zp == 0 for zp in filter_t.zero_points), op, "filter zero points must be 0")
    depth, accum = filter_t.shape
    check(input_t.size % accum == 0, op, f"input size {input_t.size} is not a multiple of {accum}")
    batches = input_t.size // accum
    check(output_t.size == batches * depth, op, f"output shape {output_t.shape} does not match {batches} x {depth}")
    per_channel = len(filter_t.scale_bits) > 1
    check(not per_channel or (len(filter_t.scale_bits) == depth and filter_t.quantized_dimension == 0),
          op, "per-channel filter scales must run along the output dimension")
    check(bias_t is None or (bias_t.is_constant and bias_t.size == depth), op,
          f"the bias must be a constant of {depth} values")
    act_min, act_max = _activation_range(g, op, output_t)

    in_scale = scale(input_t)
    out_scale = scale(output_t)
    pairs = []
    for c in range(depth):
        w_scale = scale(filter_t, c)
        if per_channel:
            product = (in_scale[0] * w_scale[0], in_scale[1] + w_scale[1])
        else:
            # GetQuantizedConvolutionMultipler: the product is a float32 before the division.
            product = exact_round((in_scale[0] * w_scale[0], in_scale[1] + w_scale[1]), (1, 0), 24)
        pairs.append(requantization(op, product, out_scale))

    weights = g.storage[w]
    biases = const_ints(g, b) if bias_t is not None else [0] * depth
    # (x + input_offset) . w + bias == x . w + (bias + input_offset * sum(w)): fold the constant part.
    input_offset = -input_t.zero_point
    folded = array("i", bytes(4 * depth))
    for c in range(depth):
        total = biases[c]
        for i in range(c * accum, (c + 1) * accum):
            total += input_offset * weights[i]
        check(INT32_MIN <= total <= INT32_MAX, op, "bias plus input offset overflows int32")
        folded[c] = total

    rows = [weights[c * accum:(c + 1) * accum] for c in range(depth)]
    positions = array("i", [b * accum for b in range(batches)])
    return loops.dot_rows, ([], g.storage[x], weights, positions, rows, folded, split_multipliers(pairs),
                            g.storage[y], depth, accum, output_t.zero_point, act_min, act_max, array("i", [0] * 4))


def _activation_range(g: "Graph", op: "Operator", output_t: "Tensor") -> "tuple[int, int]":
    activation = option(g, op, 0, "<b", 1, 0)
    bounds = calculate_activation_range_quantized(activation, output_t.scale, output_t.zero_point)
    if bounds is None:
        raise ModelError(f"{op_name(op)}: fused activation {activation} is not supported")
    return bounds
