"""Write an int8 dense model as a .tflite flatbuffer, laid out as TensorFlow's converter lays it out.

Uses the schema module shipped in tflite-micro (object API + ``flatbuffers``), so the base
install writes models without TensorFlow. One subgraph: int8 input -> FULLY_CONNECTED ... ->
int8 output; buffer 0 is the empty sentinel; a ``serving_default`` signature names input and output.
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from numpy.typing import NDArray
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from fabnode.models.quantize import QuantizedDenseModel, QuantParams

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
# The FULLY_CONNECTED version TensorFlow's converter stamps on int8 layers.
_FULLY_CONNECTED_VERSION = 4
_FUSED_ACTIVATION = {
    "linear": schema.ActivationFunctionType.NONE,
    "relu": schema.ActivationFunctionType.RELU,
    "relu6": schema.ActivationFunctionType.RELU6,
}


class _Graph:
    """Collects tensors and their constant buffers while the graph is laid out."""

    def __init__(self) -> None:
        self.buffers: list[Any] = [schema.BufferT()]
        self.tensors: list[Any] = []

    def tensor(self, name: str, shape: tuple[int, ...], tensor_type: int, scales: NDArray[np.float32],
               zero_points: NDArray[np.int64], data: NDArray[Any] | None = None) -> int:
        buffer = schema.BufferT()
        if data is not None:
            buffer.data = np.frombuffer(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes(),
                                        dtype=np.uint8)
        self.buffers.append(buffer)
        quantization = schema.QuantizationParametersT()
        quantization.scale = [float(s) for s in scales]
        quantization.zeroPoint = [int(z) for z in zero_points]
        quantization.quantizedDimension = 0
        tensor = schema.TensorT()
        tensor.name = name
        tensor.shape = list(shape)
        tensor.type = tensor_type
        tensor.buffer = len(self.buffers) - 1
        tensor.quantization = quantization
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def activation(self, name: str, size: int, params: QuantParams) -> int:
        return self.tensor(name, (1, size), schema.TensorType.INT8,
                           np.array([params.scale], np.float32), np.array([params.zero_point]))


def write_dense_tflite(model: QuantizedDenseModel, description: str = "fabnode dense int8") -> bytes:
    """The .tflite bytes of ``model``: int8 input (1, inputs), int8 output (1, outputs)."""
    graph = _Graph()
    operators = []
    current = graph.activation("input", model.input_size, model.input)
    last = len(model.layers) - 1
    for index, layer in enumerate(model.layers):
        outputs, inputs = layer.weights.shape
        scales = layer.weight_scales.astype(np.float32)
        no_offset = np.zeros(len(scales), np.int64)
        weights = graph.tensor(f"dense_{index}/weights", (outputs, inputs), schema.TensorType.INT8,
                               scales, no_offset, layer.weights.astype(np.int8))
        bias_scales = (np.float32(graph.tensors[current].quantization.scale[0]) * scales).astype(np.float32)
        bias = graph.tensor(f"dense_{index}/bias", (outputs,), schema.TensorType.INT32,
                            bias_scales, no_offset, layer.bias.astype(np.int32))
        result = graph.activation("output" if index == last else f"dense_{index}/output", outputs, layer.output)
        options = schema.FullyConnectedOptionsT()
        options.fusedActivationFunction = _FUSED_ACTIVATION[layer.activation]
        operator = schema.OperatorT()
        operator.opcodeIndex = 0
        operator.inputs = [current, weights, bias]
        operator.outputs = [result]
        operator.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
        operator.builtinOptions = options
        operators.append(operator)
        current = result

    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = _FULLY_CONNECTED_VERSION

    subgraph = schema.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors = graph.tensors
    subgraph.inputs = [0]
    subgraph.outputs = [current]
    subgraph.operators = operators

    signature = schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [_tensor_map("input", 0)]
    signature.outputs = [_tensor_map("output", current)]

    root = schema.ModelT()
    root.version = SCHEMA_VERSION
    root.description = description
    root.operatorCodes = [code]
    root.subgraphs = [subgraph]
    root.buffers = graph.buffers
    root.signatureDefs = [signature]

    builder = flatbuffers.Builder(1024)
    builder.Finish(root.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _tensor_map(name: str, index: int) -> Any:
    entry = schema.TensorMapT()
    entry.name = name
    entry.tensorIndex = index
    return entry
