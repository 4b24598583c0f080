"""Operator registry: builtin code -> (kernel module, prepare function), imported on first use.

Each prepare(g, op) checks the operator like TFLM's Prepare, precomputes what Eval needs and
returns (eval function, op data); the interpreter calls eval(data) on every invoke.
"""

from tfl import ModelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Operator

_KERNELS = {
    0: ("elementwise", "prepare_add"),
    1: ("pooling", "prepare_average_pool"),
    2: ("concatenation", "prepare"),
    3: ("conv", "prepare_conv"),
    4: ("conv", "prepare_depthwise_conv"),
    6: ("quantize", "prepare_dequantize"),
    9: ("fully_connected", "prepare"),
    14: ("activations", "prepare_logistic"),
    17: ("pooling", "prepare_max_pool"),
    18: ("elementwise", "prepare_mul"),
    19: ("activations", "prepare_relu"),
    21: ("activations", "prepare_relu6"),
    22: ("reshape", "prepare"),
    25: ("softmax", "prepare"),
    28: ("activations", "prepare_tanh"),
    40: ("reduce", "prepare_mean"),
    41: ("elementwise", "prepare_sub"),
    43: ("reshape", "prepare"),
    45: ("shape", "prepare_strided_slice"),
    70: ("reshape", "prepare"),
    77: ("shape", "prepare_shape"),
    83: ("concatenation", "prepare_pack"),
    114: ("quantize", "prepare_quantize"),
}


def lookup(op: "Operator") -> "Any":
    """The prepare function for ``op``; ModelError naming the operator when unsupported."""
    entry = _KERNELS.get(op.code)
    if entry is None:
        from tfl.kernel_util import op_name

        raise ModelError(f"operator {op_name(op)} is not supported by this interpreter")
    module = __import__("tfl.ops." + entry[0], None, None, (entry[1],))
    return getattr(module, entry[1])
