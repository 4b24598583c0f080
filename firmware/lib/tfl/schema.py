"""Reads the parts of a .tflite (schema.fbs) the interpreter needs: tensors, operators, I/O.

Field numbers are the schema's; everything read is checked, so a malformed model raises
ModelError here or in the graph checks of tfl.Model.
"""

from tfl import ModelError
from tfl.flatbuffer import FlatBuffer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# TensorType values and the element sizes of the types the kernels handle.
FLOAT32 = 0
INT32 = 2
INT8 = 9
TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
              7: "int16", 8: "complex64", 9: "int8", 10: "float64"}
TYPE_SIZES = {FLOAT32: 4, INT32: 4, INT8: 1}

MAX_RANK = 6
# No tensor on an ESP32 gets near this; larger claims are malformed models, refused before any
# arithmetic on them.
MAX_ELEMENTS = 1 << 24


class Tensor:
    """A tensor of the graph: shape, type, quantization and, for constants, where its data is."""

    def __init__(self, shape: "tuple[int, ...]", dtype: int, data_pos: int, data_len: int, scale_bits: "list[int]",
                 scales: "list[float]", zero_points: "list[int]", quantized_dimension: int) -> None:
        self.shape = shape
        self.dtype = dtype
        self.data_pos = data_pos
        self.data_len = data_len
        self.scale_bits = scale_bits
        self.scales = scales
        self.zero_points = zero_points
        self.quantized_dimension = quantized_dimension
        size = 1
        for dim in shape:
            size *= dim
        self.size = size

    @property
    def is_constant(self) -> bool:
        return self.data_len > 0

    @property
    def scale(self) -> float:
        return self.scales[0] if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return self.zero_points[0] if self.zero_points else 0

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.dtype, f"type {self.dtype}")


class Operator:
    """One node: builtin operator code, tensor indices (-1: optional input left out), options table."""

    def __init__(self, code: int, custom_name: str, inputs: "list[int]", outputs: "list[int]", options: int) -> None:
        self.code = code
        self.custom_name = custom_name
        self.inputs = inputs
        self.outputs = outputs
        self.options = options


class Graph:
    def __init__(self, buf: "Any", fb: FlatBuffer, tensors: "list[Tensor]", operators: "list[Operator]",
                 inputs: "list[int]", outputs: "list[int]") -> None:
        self.buf = buf
        self.fb = fb
        self.tensors = tensors
        self.operators = operators
        self.inputs = inputs
        self.outputs = outputs
        # Set by tfl.graph.build: a view per tensor, the arena, the prepared (eval, data) steps.
        self.storage: list[Any] = []
        self.arena: Any = None
        self.arena_bytes = 0
        self.max_arena_bytes = 0
        self.steps: list[tuple[Any, Any]] = []


def parse(buf: "Any") -> Graph:
    """The first subgraph of the .tflite in ``buf``."""
    fb = FlatBuffer(buf)
    if fb.size < 8:
        raise ModelError(f"model is {fb.size} bytes, too short to be a .tflite file")
    if bytes(memoryview(buf)[4:8]) != b"TFL3":
        raise ModelError("not a .tflite model: the file identifier is not TFL3")
    model = fb.root()
    version = fb.scalar(model, 0, "<I", 4, 0)
    if version != 3:
        raise ModelError(f"model schema version {version} is not supported (need 3)")
    buffers = [_buffer(fb, table) for table in fb.tables(model, 4, "the buffer list")]
    opcodes = [_opcode(fb, table) for table in fb.tables(model, 1, "the operator code list")]
    subgraphs = fb.tables(model, 2, "the subgraph list")
    if not subgraphs:
        raise ModelError("model has no subgraph")
    graph = subgraphs[0]
    tensors = [_tensor(fb, table, buffers, i) for i, table in enumerate(fb.tables(graph, 0, "the tensor list"))]
    operators = [_operator(fb, table, opcodes, len(tensors)) for table in fb.tables(graph, 3, "the operator list")]
    inputs = _indices(fb.scalars(graph, 1, "<i", 4, "the graph inputs"), len(tensors), "graph input")
    outputs = _indices(fb.scalars(graph, 2, "<i", 4, "the graph outputs"), len(tensors), "graph output")
    if not inputs or not outputs:
        raise ModelError("model declares no inputs or no outputs")
    return Graph(buf, fb, tensors, operators, inputs, outputs)


def _indices(values: "list[int]", count: int, what: str, optional: bool = False) -> "list[int]":
    for value in values:
        if not (0 <= value < count or (optional and value == -1)):
            raise ModelError(f"{what} refers to tensor {value}, but the model has {count} tensors")
    return values


def _buffer(fb: FlatBuffer, table: int) -> "tuple[int, int]":
    if fb.scalar(table, 1, "<Q", 8, 0) > 1:
        raise ModelError("model keeps buffers outside the flatbuffer (over 2 GB layout); not supported")
    return fb.vector(table, 0, 1, "a buffer")


def _opcode(fb: FlatBuffer, table: int) -> "tuple[int, str]":
    # deprecated_builtin_code is an int8 that saturates at 127; builtin_code holds the full value.
    deprecated = fb.scalar(table, 0, "<b", 1, 0)
    code = fb.scalar(table, 3, "<i", 4, 0)
    code = max(code, deprecated)
    custom = fb.string(table, 1, "a custom operator name") if code == 32 else ""
    return code, custom


def _tensor(fb: FlatBuffer, table: int, buffers: "list[tuple[int, int]]", index: int) -> Tensor:
    shape = tuple(fb.scalars(table, 0, "<i", 4, "a tensor shape"))
    if len(shape) > MAX_RANK:
        raise ModelError(f"tensor {index} has rank {len(shape)}; at most {MAX_RANK} is supported")
    size = 1
    for dim in shape:
        if dim <= 0:
            raise ModelError(f"tensor {index} has shape {shape}; every dimension must be positive")
        size *= dim
        if size > MAX_ELEMENTS:
            raise ModelError(f"tensor {index} has shape {shape}, too large for a microcontroller")
    dtype = fb.scalar(table, 1, "<b", 1, 0)
    buffer_index = fb.scalar(table, 2, "<I", 4, 0)
    if buffer_index >= len(buffers):
        raise ModelError(f"tensor {index} refers to buffer {buffer_index}, but the model has {len(buffers)}")
    data_pos, data_len = buffers[buffer_index]
    if data_len and data_len != size * TYPE_SIZES.get(dtype, 0):
        raise ModelError(f"tensor {index} holds {data_len} bytes of data, "
                         f"but its shape {shape} needs {size * TYPE_SIZES.get(dtype, 0)}")
    scale_bits = []
    zero_points = []
    quantized_dimension = 0
    quantization = fb.table(table, 4, "tensor quantization")
    if quantization:
        scale_bits = fb.scalars(quantization, 2, "<I", 4, "quantization scales")
        zero_points = fb.scalars(quantization, 3, "<q", 8, "quantization zero points")
        quantized_dimension = fb.scalar(quantization, 6, "<i", 4, 0)
        if len(zero_points) not in (0, len(scale_bits)):
            raise ModelError(f"tensor {index} has {len(scale_bits)} scales but {len(zero_points)} zero points")
        if len(scale_bits) > 1 and not 0 <= quantized_dimension < len(shape):
            raise ModelError(f"tensor {index} is quantized along dimension {quantized_dimension} "
                             f"of a rank-{len(shape)} shape")
    scales = [_float32(bits) for bits in scale_bits]
    return Tensor(shape, dtype, data_pos, data_len, scale_bits, scales, zero_points, quantized_dimension)


def _float32(bits: int) -> float:
    import struct

    value: float = struct.unpack("<f", struct.pack("<I", bits))[0]
    return value


def _operator(fb: FlatBuffer, table: int, opcodes: "list[tuple[int, str]]", tensor_count: int) -> Operator:
    index = fb.scalar(table, 0, "<I", 4, 0)
    if index >= len(opcodes):
        raise ModelError(f"an operator uses operator code {index}, but the model has {len(opcodes)}")
    code, custom = opcodes[index]
    inputs = _indices(fb.scalars(table, 1, "<i", 4, "operator inputs"), tensor_count, "an operator input", True)
    outputs = _indices(fb.scalars(table, 2, "<i", 4, "operator outputs"), tensor_count, "an operator output")
    options = fb.table(table, 4, "operator options")
    return Operator(code, custom, inputs, outputs, options)
