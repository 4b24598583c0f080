"""CONCATENATION and PACK: copies of contiguous blocks (TFLM reference_ops::Concatenation / Pack).

Inputs and output must share their quantization, as the converter emits them; the blocks are
views made at prepare time, so Eval is a list of slice copies.
"""

from tfl import loops
from tfl.kernel_util import check, check_counts, option, same_quantization, tensor
from tfl.schema import INT8, INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor


def _copies(g: "Graph", op: "Operator", inputs: "list[tuple[int, Tensor]]", out: "Any", outer: int,
            blocks: "list[int]") -> "list[tuple[Any, Any]]":
    """(target, source) views: for each outer index, each input's block in turn."""
    copies = []
    o = 0
    for n in range(outer):
        for k in range(len(inputs)):
            size = blocks[k]
            source = g.storage[inputs[k][0]]
            copies.append((out[o:o + size], source[n * size:(n + 1) * size]))
            o += size
    return copies


def _inputs(g: "Graph", op: "Operator") -> "tuple[list[tuple[int, Tensor]], int, Tensor]":
    types = (INT8, INT32)
    inputs = [tensor(g, op, i, "input", types) for i in range(len(op.inputs))]
    y, output_t = tensor(g, op, -1, "output", types)
    for _, t in inputs:
        check(t.dtype == output_t.dtype and (t.dtype != INT8 or same_quantization(t, output_t)), op,
              "inputs and output must share type and quantization")
    return inputs, y, output_t


def _outer(shape: "tuple[int, ...]", axis: int) -> int:
    outer = 1
    for d in shape[:axis]:
        outer *= d
    return outer


def prepare(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (1, 64))
    inputs, y, output_t = _inputs(g, op)
    rank = len(output_t.shape)
    axis = option(g, op, 0, "<i", 4, 0)
    axis = axis + rank if axis < 0 else axis
    check(0 <= axis < rank and option(g, op, 1, "<b", 1, 0) == 0, op, "axis out of range or fused activation")
    total = 0
    for _, t in inputs:
        check(len(t.shape) == rank and all(t.shape[i] == output_t.shape[i] for i in range(rank) if i != axis), op,
              "input shapes do not match the output")
        total += t.shape[axis]
    check(total == output_t.shape[axis], op, "input sizes along the axis do not add up to the output")
    outer = _outer(output_t.shape, axis)
    blocks = [t.size // outer for _, t in inputs]
    return loops.copy_blocks, _copies(g, op, inputs, g.storage[y], outer, blocks)


def prepare_pack(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (1, 64))
    inputs, y, output_t = _inputs(g, op)
    rank = len(output_t.shape)
    axis = option(g, op, 1, "<i", 4, 0)
    axis = axis + rank if axis < 0 else axis
    shape = inputs[0][1].shape
    check(0 <= axis < rank and output_t.shape[axis] == len(inputs), op, "axis does not match the input count")
    check(all(t.shape == shape for _, t in inputs) and output_t.shape[:axis] + output_t.shape[axis + 1:] == shape,
          op, "input shapes do not match the output")
    outer = _outer(output_t.shape, axis)
    blocks = [t.size // outer for _, t in inputs]
    return loops.copy_blocks, _copies(g, op, inputs, g.storage[y], outer, blocks)
