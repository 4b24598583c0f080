"""RESHAPE, SQUEEZE, EXPAND_DIMS: the data is unchanged, only the shape, which the output
tensor already declares. Copied rather than aliased, so the planner stays simple."""

from tfl.kernel_util import check, check_counts, tensor
from tfl.schema import FLOAT32, INT8, INT32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator


def prepare(g: "Graph", op: "Operator") -> "tuple[Any, Any]":
    check_counts(op, (1, 2))
    types = (INT8, INT32, FLOAT32)
    x, input_t = tensor(g, op, 0, "input", types)
    y, output_t = tensor(g, op, -1, "output", types)
    check(input_t.dtype == output_t.dtype, op, "input and output types differ")
    check(input_t.size == output_t.size, op, f"cannot reshape {input_t.shape} into {output_t.shape}")
    return eval_copy, (g.storage[x], g.storage[y])


def eval_copy(d: "Any") -> None:
    source, target = d
    target[:] = source
