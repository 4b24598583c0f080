"""What a .tflite declares, read on the host with the schema module shipped in tflite-micro:
operator names, and the input and output tensors with their quantization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from fabnode.errors import FabnodeError

_OPERATOR_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TYPE_NAMES = {code: name.lower() for name, code in vars(schema.TensorType).items() if not name.startswith("_")}


class ModelFileError(FabnodeError):
    """A .tflite file is not a readable TensorFlow Lite flatbuffer."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelSummary:
    ops: tuple[str, ...]  # distinct operator names, in order of first use
    input: TensorInfo
    output: TensorInfo
    inputs: int
    outputs: int


def summarize(model: bytes) -> ModelSummary:
    """Operators and single input/output of a .tflite; a ModelFileError says what is wrong."""
    if len(model) < 8 or model[4:8] != b"TFL3":
        raise ModelFileError("not a TensorFlow Lite model (no TFL3 file identifier)")
    try:
        root = schema.ModelT.InitFromPackedBuf(model, 0)
        graph = root.subgraphs[0]
        ops = []
        for operator in graph.operators:
            code = root.operatorCodes[operator.opcodeIndex]
            # as TFLite's GetBuiltinCode: codes above 127 live only in builtin_code
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin == schema.BuiltinOperator.CUSTOM:
                name = _custom_name(code)
            else:
                name = _OPERATOR_NAMES.get(builtin, f"builtin {builtin}")
            if name not in ops:
                ops.append(name)
        tensors = [_tensor_info(graph.tensors[i]) for i in (graph.inputs[0], graph.outputs[0])]
        counts = len(graph.inputs), len(graph.outputs)
    except Exception as exc:  # a corrupt flatbuffer fails anywhere inside the generated reader
        raise ModelFileError(f"the .tflite flatbuffer is malformed ({type(exc).__name__}: {exc})") from None
    return ModelSummary(tuple(ops), tensors[0], tensors[1], *counts)


def _custom_name(code: Any) -> str:
    custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
    return f"CUSTOM:{custom}"


def _tensor_info(tensor: Any) -> TensorInfo:
    quantization = tensor.quantization
    scales = list(quantization.scale) if quantization is not None and quantization.scale is not None else []
    zero_points = (list(quantization.zeroPoint)
                   if quantization is not None and quantization.zeroPoint is not None else [])
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
    return TensorInfo(
        name=name,
        shape=tuple(int(d) for d in (tensor.shape if tensor.shape is not None else [])),
        dtype=_TYPE_NAMES.get(tensor.type, f"type {tensor.type}"),
        scale=float(scales[0]) if scales else 0.0,
        zero_point=int(zero_points[0]) if zero_points else 0,
    )
