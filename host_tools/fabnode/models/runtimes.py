"""Run an int8 .tflite on a batch of raw inputs with the node's interpreter (``tfl``), TFLM or LiteRT.

Each function takes the model bytes and an int8 array (windows, *input shape without batch*)
and returns the int8 outputs, one row per window. ``tfl`` is what the node runs; TFLM is the
reference it must match bit for bit; LiteRT is a second opinion that the file is a valid model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabnode.errors import FabnodeError
from fabnode.resources import use_firmware_lib

Int8Array = NDArray[np.int8]


class InterpreterError(FabnodeError):
    """A model cannot be loaded or run by one of the interpreters."""


def load_tfl(model: bytes | bytearray) -> Any:
    """The node's interpreter (``tfl.Model``) on ``model``; ModelError becomes InterpreterError."""
    use_firmware_lib()
    import tfl

    try:
        return tfl.Model(model)
    except tfl.ModelError as exc:
        raise InterpreterError(f"the node's interpreter cannot run this model: {exc}") from None


def tfl_outputs(model: bytes | Any, inputs: Int8Array) -> Int8Array:
    """Outputs of the node's interpreter (``model`` is .tflite bytes or a loaded ``tfl.Model``)."""
    interpreter = load_tfl(model) if isinstance(model, (bytes, bytearray)) else model
    rows = [np.frombuffer(bytes(interpreter.invoke(np.ascontiguousarray(row, np.int8).tobytes())), np.int8)
            for row in inputs]
    return np.array(rows, dtype=np.int8).reshape(len(inputs), -1)


def tflm_outputs(model: bytes, inputs: Int8Array) -> Int8Array:
    """Outputs of TensorFlow Lite Micro (``tflite_micro.runtime``), the bit-exact reference."""
    from tflite_micro import runtime

    try:
        interpreter = runtime.Interpreter.from_bytes(model)
    except (RuntimeError, ValueError) as exc:
        raise InterpreterError(f"TFLM cannot load the model: {exc}") from None
    rows = []
    for row in inputs:
        interpreter.set_input(np.asarray(row, np.int8)[None, ...], 0)
        interpreter.invoke()
        rows.append(np.array(interpreter.get_output(0), dtype=np.int8).reshape(-1))
    return np.array(rows, dtype=np.int8).reshape(len(inputs), -1)


def litert_outputs(model: bytes, inputs: Int8Array) -> Int8Array:
    """Outputs of LiteRT (``ai_edge_litert``); its FULLY_CONNECTED may round differently by 1."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=model)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise InterpreterError(f"LiteRT cannot load the model: {exc}") from None
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    rows = []
    for row in inputs:
        interpreter.set_tensor(input_index, np.asarray(row, np.int8)[None, ...])
        interpreter.invoke()
        rows.append(np.array(interpreter.get_tensor(output_index), dtype=np.int8).reshape(-1))
    return np.array(rows, dtype=np.int8).reshape(len(inputs), -1)
