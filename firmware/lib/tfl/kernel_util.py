"""Helpers kernels use while preparing (TFLM: kernel_util): options, checks, constants, scales."""

import struct

from tfl import ModelError
from tfl.common import double_multiplier, float32_parts
from tfl.schema import INT8, INT32, TYPE_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph, Operator, Tensor


def option(g: "Graph", op: "Operator", index: int, fmt: str, size: int, default: "Any") -> "Any":
    """Field ``index`` of the operator's builtin options table."""
    if not op.options:
        return default
    return g.fb.scalar(op.options, index, fmt, size, default)


def tensor(g: "Graph", op: "Operator", position: int, name: str, dtypes: "tuple[int, ...]" = (INT8,),
           optional: bool = False) -> "tuple[int, Any]":
    """The tensor at input ``position`` (negative: output -position-1), checked for its type."""
    indices = op.inputs if position >= 0 else op.outputs
    slot = position if position >= 0 else -position - 1
    index = indices[slot] if slot < len(indices) else -1
    if index < 0:
        if optional:
            return -1, None
        raise ModelError(f"{op_name(op)} needs its {name} tensor")
    t = g.tensors[index]
    if t.dtype not in dtypes:
        raise ModelError("{}: {} tensor has type {}; supported: {}".format(
            op_name(op), name, t.type_name, ", ".join(TYPE_NAMES[d] for d in dtypes)))
    if t.dtype == INT8 and not t.scale_bits:
        raise ModelError(f"{op_name(op)}: {name} tensor is int8 but not quantized")
    if t.dtype == INT8 and not all(-128 <= zp <= 127 for zp in t.zero_points):
        raise ModelError(f"{op_name(op)}: {name} tensor has a zero point outside int8")
    for bits in t.scale_bits:
        if not 0 < bits < 0x7F800000:
            raise ModelError(f"{op_name(op)}: {name} tensor has a scale that is not a positive finite number")
    return index, t


def check_counts(op: "Operator", inputs: "int | tuple[int, int]", outputs: int = 1) -> None:
    """The operator has ``inputs`` inputs (an int, or a (min, max) pair) and ``outputs`` outputs."""
    low, high = inputs if isinstance(inputs, tuple) else (inputs, inputs)
    if not low <= len(op.inputs) <= high or len(op.outputs) != outputs:
        raise ModelError(f"{op_name(op)} has {len(op.inputs)} inputs and {len(op.outputs)} outputs; "
                         f"expected {inputs} and {outputs}")


def check(condition: bool, op: "Operator", message: str) -> None:
    if not condition:
        raise ModelError(f"{op_name(op)}: {message}")


def same_quantization(a: "Tensor", b: "Tensor") -> bool:
    return a.scale_bits[:1] == b.scale_bits[:1] and a.zero_point == b.zero_point


def scale(t: "Tensor", channel: int = 0) -> "tuple[int, int]":
    """Scale of ``t`` (for ``channel`` when per-channel) as an exact value (m, e)."""
    return float32_parts(t.scale_bits[channel if len(t.scale_bits) > 1 else 0])


def requantization(op: "Operator", num: "tuple[int, int]", den: "tuple[int, int]") -> "tuple[int, int]":
    """QuantizeMultiplier(num / den), refused when the factor is beyond what int32 requantization can shift."""
    quantized, shift = double_multiplier(num, den)
    if shift > 30:
        raise ModelError(f"{op_name(op)}: a requantization factor is out of range (shift {shift})")
    return quantized, shift


def split_multipliers(pairs: "list[tuple[int, int]]") -> "tuple[Any, Any, Any]":
    """Per-channel (multiplier, shift) pairs as the arrays kernels read: multiplier >> 15,
    multiplier & 0x7FFF (see tfl.common.multiply_by_split_multiplier) and shift."""
    from array import array

    return (array("H", [m >> 15 for m, _ in pairs]), array("H", [m & 0x7FFF for m, _ in pairs]),
            array("b", [s for _, s in pairs]))


def index_array(indices: "list[int]") -> "Any":
    """Element indices a kernel follows, two bytes each when they fit."""
    from array import array

    return array("H" if not indices or max(indices) < 0x10000 else "i", indices)


def const_ints(g: "Graph", index: int) -> "list[int]":
    """Values of a constant int32 tensor."""
    t = g.tensors[index] if index >= 0 else None
    if t is None or not t.is_constant or t.dtype != INT32:
        raise ModelError(f"tensor {index} must be a constant int32 tensor")
    return [struct.unpack_from("<i", g.buf, t.data_pos + 4 * i)[0] for i in range(t.size)]


def op_name(op: "Operator") -> str:
    from tfl.opnames import name

    return name(op)


def scratch(g: "Graph", size: int, fill: int = 0) -> "Any":
    """A kernel's own int8 buffer (TFLM: scratch buffer), counted in the model's arena bytes."""
    from array import array

    g.arena_bytes += size
    if g.arena_bytes > g.max_arena_bytes:
        raise ModelError(f"model needs more than the {g.max_arena_bytes} bytes of activations allowed")
    return memoryview(array("b", bytes([fill & 0xFF]) * size))


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """ComputePaddingWithOffset: the padding before the first element (SAME), 0 when none is needed."""
    effective = (filter_size - 1) * dilation + 1
    total = (out_size - 1) * stride + effective - in_size
    return total // 2 if total > 0 else 0


def compute_out_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """ComputeOutSize: output length for SAME (0) or VALID (1) padding."""
    effective = (filter_size - 1) * dilation + 1
    if padding == 0:
        return (in_size + stride - 1) // stride
    return (in_size - effective + stride) // stride
