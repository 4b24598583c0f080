"""int8 TFLite interpreter, bit-exact with TensorFlow Lite Micro.

    import tfl
    m = tfl.Model.load("/models/active/model.tflite")
    out = m.invoke(window_bytes)          # raw int8/float32 data of the single input/output

Weights are read in place from the model buffer; activations live in one planned int8 arena;
invoke allocates nothing for int8 models. Kernel modules are imported when a model needs them.
"""

from array import array

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Tensor


class ModelError(ValueError):
    """The model is malformed, inconsistent or uses something this interpreter does not support."""


class TensorInfo:
    """Public description of a model input or output."""

    def __init__(self, tensor: "Tensor") -> None:
        self.shape = tensor.shape
        self.dtype = tensor.type_name
        self.scale = tensor.scale
        self.zero_point = tensor.zero_point

    def __repr__(self) -> str:
        return (f"TensorInfo(shape={self.shape!r}, dtype={self.dtype!r}, scale={self.scale!r}, "
                f"zero_point={self.zero_point!r})")


def _byte_view(storage: "Any") -> "Any":
    """A view of ``storage`` that raw bytes can be assigned to and read from."""
    # CPython only copies between views of one format; MicroPython copies raw bytes regardless
    # and has no cast().
    return memoryview(storage).cast("B") if _CAN_CAST else memoryview(storage)


def _signed(buf: "Any") -> "Any":
    """The model bytes as signed int8 elements, so int8 weights read correctly in place."""
    if _CAN_CAST:
        view = memoryview(buf)
        return view if view.format == "b" else view.cast("B").cast("b")
    # MicroPython cannot reinterpret a buffer: copy once (Model.load avoids this).
    return array("b", buf)


class _SignedBuffer:
    """Marks a buffer already holding the model as int8 elements (what Model.load reads into)."""

    def __init__(self, data: "array[int]") -> None:
        self.data = data


class Model:
    """A loaded model ready to invoke: tensors planned, kernels prepared."""

    def __init__(self, buf: "Any", max_arena_bytes: int = 1 << 20) -> None:
        self._build(buf.data if isinstance(buf, _SignedBuffer) else _signed(buf), max_arena_bytes)

    @classmethod
    def load(cls, path: str, max_arena_bytes: int = 1 << 20) -> "Model":
        """Load a .tflite file, reading it straight into the buffer the weights stay in."""
        import os

        size = os.stat(path)[6]
        buf = array("b", bytes(size))
        with open(path, "rb") as f:
            if f.readinto(buf) != size:
                raise ModelError(f"could not read all {size} bytes of {path}")
        return cls(_SignedBuffer(buf), max_arena_bytes)

    def _build(self, buf: "Any", max_arena_bytes: int) -> None:
        from tfl import graph

        self._buf = buf
        g = graph.build(buf, max_arena_bytes)
        self._graph = g
        self._steps = g.steps
        self.arena_bytes = g.arena_bytes
        self.inputs = [TensorInfo(g.tensors[i]) for i in g.inputs]
        self.outputs = [TensorInfo(g.tensors[i]) for i in g.outputs]
        self._input_bytes = [_byte_view(g.storage[i]) for i in g.inputs]
        self._output_bytes = [_byte_view(g.storage[i]) for i in g.outputs]
        # What invoke returns, made once: a tuple built per invoke would allocate.
        self._result = self._output_bytes[0] if len(g.outputs) == 1 else tuple(self._output_bytes)

    def input_buffer(self, index: int = 0) -> "Any":
        """Writable raw bytes of input ``index``: fill it and call ``invoke()`` to avoid a copy."""
        return self._input_bytes[index]

    def output_buffer(self, index: int = 0) -> "Any":
        return self._output_bytes[index]

    def invoke(self, inp: "Any" = None) -> "Any":
        """Run the model on ``inp`` (raw bytes of the single input, or a sequence of them, one per
        input; None: the input buffers as they are). Returns the raw bytes of the single output
        (a view, valid until the next invoke), or a tuple of them for several outputs."""
        inputs = self._input_bytes
        if inp is not None:
            if len(inputs) == 1:
                _copy_into(inputs[0], inp)
            elif len(inp) != len(inputs):
                raise ValueError(f"model has {len(inputs)} inputs, got {len(inp)}")
            else:
                for i in range(len(inputs)):
                    _copy_into(inputs[i], inp[i])
        for step, data in self._steps:
            step(data)
        return self._result


def _copy_into(target: "Any", data: "Any") -> None:
    if _CAN_CAST:
        data = memoryview(data).cast("B")
    if len(data) != len(target):
        raise ValueError(f"input must be {len(target)} bytes, got {len(data)}")
    target[:] = data


_CAN_CAST = hasattr(memoryview(b""), "cast")
