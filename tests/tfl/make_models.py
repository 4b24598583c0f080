"""Build the interpreter's test models with TensorFlow and their golden vectors with TFLM.

Needs the ``convert`` extra (TensorFlow); the test suite itself only reads what this writes:

    python -m pip install -e ".[convert]"
    python tests/tfl/make_models.py            # all models
    python tests/tfl/make_models.py conv1d     # only the named ones

For every model it writes ``tests/data/tfl/<name>.tflite`` and ``<name>.npz`` holding ``inputs``
and ``outputs``: raw bytes (uint8 rows) of the input and of TFLM's output for each vector,
random ones plus the int8 extremes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf
from tflite_micro import runtime

from fabnode.resources import use_firmware_lib

use_firmware_lib()
from tfl import schema  # noqa: E402 -- after use_firmware_lib()

OUT = Path(__file__).resolve().parents[1] / "data" / "tfl"
VECTORS = 96
keras = tf.keras
layers = keras.layers


def convert(model: keras.Model, float_io: bool = False, per_channel_dense: bool = False,
            seed: int = 0) -> bytes:
    """Full-integer conversion; int8 model I/O unless ``float_io`` (QUANTIZE/DEQUANTIZE ops)."""
    rng = np.random.default_rng(seed)
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    shapes = [[1, *shape[1:]] for shape in shapes]

    def representative():
        # Varied scales per channel, so per-channel quantization differs between channels.
        for _ in range(64):
            yield [(rng.normal(0.0, 1.0, shape) * np.linspace(0.5, 2.0, shape[-1])).astype(np.float32)
                   for shape in shapes]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    return converter.convert()


def sequential(input_shape: tuple[int, ...], *stack: layers.Layer, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(input_shape, batch_size=1), *stack])


def dense_autoencoder() -> bytes:
    return convert(sequential((64,), layers.Dense(32, "relu"), layers.Dense(16, "relu"),
                              layers.Dense(32, "relu"), layers.Dense(64)))


def dense_per_channel() -> bytes:
    return convert(sequential((24,), layers.Dense(20, "relu6"), layers.Dense(12, use_bias=False),
                              layers.Dense(8, "relu"), seed=1), per_channel_dense=True, seed=1)


def dense_float_io() -> bytes:
    return convert(sequential((16,), layers.Dense(12, "relu"), layers.Dense(6), seed=2), float_io=True, seed=2)


def reshape_relu() -> bytes:
    # Activations on the graph input stay separate RELU / RELU6 operators.
    return convert(sequential((4, 6), layers.ReLU(6.0), layers.Reshape((24,)), layers.Dense(10, "relu"),
                              layers.Reshape((2, 5)), layers.Flatten(), layers.Dense(4), seed=3), seed=3)


def relu_input() -> bytes:
    return convert(sequential((2, 8), layers.ReLU(), layers.Reshape((16,)), layers.Dense(5), seed=4), seed=4)


def conv1d_cnn() -> bytes:
    # The benchmark's small 1-D CNN: Conv1D arrives as CONV_2D with height 1 (plus EXPAND_DIMS/
    # RESHAPE), pooling, global average (MEAN), dense head with softmax.
    return convert(sequential((256, 3), layers.Conv1D(8, 5, strides=2, padding="same", activation="relu"),
                              layers.MaxPooling1D(2), layers.Conv1D(16, 3, activation="relu6"),
                              layers.AveragePooling1D(2, padding="same"), layers.GlobalAveragePooling1D(),
                              layers.Dense(8, "tanh"), layers.Dense(4, "softmax"), seed=5), seed=5)


def conv2d_shapes() -> bytes:
    return convert(sequential((9, 7, 3), layers.Conv2D(6, (3, 3), strides=(2, 1), padding="same"),
                              layers.Conv2D(5, (2, 3), dilation_rate=(2, 1), padding="valid", activation="relu"),
                              layers.MaxPooling2D((2, 2), strides=(1, 2), padding="same"),
                              layers.AveragePooling2D((2, 2), padding="valid"), seed=6), seed=6)


def depthwise() -> bytes:
    return convert(sequential((12, 10, 4), layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                                                 activation="relu6"),
                              layers.DepthwiseConv2D((2, 3), strides=2, depth_multiplier=1, padding="valid"),
                              layers.SeparableConv2D(5, 3, padding="same", activation="relu"), seed=7), seed=7)


def dilated_depthwise() -> bytes:
    return convert(sequential((11, 9, 3), layers.DepthwiseConv2D(3, dilation_rate=2, padding="same"),
                              layers.Conv2D(4, 3, dilation_rate=(1, 2), padding="same"), seed=8), seed=8)


def arithmetic() -> bytes:
    keras.utils.set_random_seed(9)
    inp = keras.Input((12,), batch_size=1)
    a = layers.Dense(8)(inp)
    b = layers.Dense(8, "relu")(inp)
    c = layers.Dense(1)(inp)
    total = layers.Add()([a, b])
    difference = layers.Subtract()([a, layers.ReLU()(b)])
    product = layers.Multiply()([total, difference])
    broadcast = layers.Multiply()([product, c])
    broadcast_sum = layers.Add()([broadcast, c])
    joined = layers.Concatenate(axis=-1)([broadcast_sum, difference])
    squashed = layers.Activation("sigmoid")(joined)
    tanh = layers.Activation("tanh")(layers.Dense(5)(squashed))
    out = layers.Softmax()(tanh)
    return convert(keras.Model(inp, out), seed=9)


def flatten_dynamic_batch() -> bytes:
    # Without a fixed batch size, Flatten becomes SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE.
    keras.utils.set_random_seed(10)
    model = keras.Sequential([keras.Input((4, 5, 2)), layers.Conv2D(3, 2, activation="relu"), layers.Flatten(),
                              layers.Dense(6, "sigmoid")])
    return convert(model, seed=10)


def float_io_cnn() -> bytes:
    # EXPAND_DIMS and SQUEEZE from explicit tf ops; with a dynamic batch size the converter cannot
    # fold them into RESHAPE.
    keras.utils.set_random_seed(11)
    model = keras.Sequential([keras.Input((32, 2)), layers.Lambda(lambda t: tf.expand_dims(t, -1)),
                              layers.Conv2D(4, (3, 2), activation="relu"), layers.Lambda(lambda t: tf.squeeze(t, 2)),
                              layers.GlobalAveragePooling1D(), layers.Dense(3)])
    return convert(model, float_io=True, seed=11)


def unary_activations() -> bytes:
    # Every int8 value through LOGISTIC, TANH, RELU, RELU6 (the golden vectors include -128..127);
    # joining differently quantized branches makes the converter insert requantizing QUANTIZE ops.
    keras.utils.set_random_seed(12)
    inp = keras.Input((256,), batch_size=1)
    branches = [layers.Activation("sigmoid")(inp), layers.Activation("tanh")(inp), layers.ReLU()(inp),
                layers.ReLU(6.0)(inp), layers.Softmax()(inp)]
    return convert(keras.Model(inp, layers.Concatenate()(branches)), seed=12)


def two_inputs_two_outputs() -> bytes:
    keras.utils.set_random_seed(13)
    a = keras.Input((8,), batch_size=1)
    b = keras.Input((8,), batch_size=1)
    hidden = layers.Dense(6, "relu")(layers.Add()([a, b]))
    return convert(keras.Model([a, b], [layers.Dense(3)(hidden), layers.Multiply()([a, b])]), seed=13)


MODELS: dict[str, Callable[[], bytes]] = {
    "dense_autoencoder": dense_autoencoder,
    "dense_per_channel": dense_per_channel,
    "dense_float_io": dense_float_io,
    "reshape_relu": reshape_relu,
    "relu_input": relu_input,
    "conv1d_cnn": conv1d_cnn,
    "conv2d_shapes": conv2d_shapes,
    "depthwise": depthwise,
    "dilated_depthwise": dilated_depthwise,
    "arithmetic": arithmetic,
    "flatten_dynamic_batch": flatten_dynamic_batch,
    "float_io_cnn": float_io_cnn,
    "unary_activations": unary_activations,
    "two_inputs_two_outputs": two_inputs_two_outputs,
}


def golden_inputs(interpreter: runtime.Interpreter, index: int, rng: np.random.Generator) -> list[np.ndarray]:
    detail = interpreter.get_input_details(index)
    shape, dtype = detail["shape"], detail["dtype"]
    if dtype == np.int8:
        vectors = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
                   np.resize(np.array([-128, 127], np.int8), shape),
                   np.resize(np.arange(-128, 128, dtype=np.int8), shape)]
        vectors += [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(VECTORS)]
    else:
        vectors = [np.full(shape, -1e6, np.float32), np.full(shape, 1e6, np.float32),
                   np.zeros(shape, np.float32)]
        vectors += [rng.normal(0.0, 2.0 + i / 8, shape).astype(np.float32) for i in range(VECTORS)]
    return vectors


def write(name: str, flatbuffer: bytes) -> None:
    """Golden rows: the raw bytes of all inputs, and of all outputs, concatenated in graph order."""
    interpreter = runtime.Interpreter.from_bytes(flatbuffer)
    rng = np.random.default_rng(len(name))
    graph = schema.parse(memoryview(flatbuffer).cast("b"))
    per_input = [golden_inputs(interpreter, i, rng) for i in range(len(graph.inputs))]
    inputs, outputs = [], []
    for vectors in zip(*per_input, strict=True):
        for i, vector in enumerate(vectors):
            interpreter.set_input(vector, i)
        interpreter.invoke()
        inputs.append(np.concatenate([np.frombuffer(v.tobytes(), np.uint8) for v in vectors]))
        outputs.append(np.concatenate([np.frombuffer(interpreter.get_output(o).tobytes(), np.uint8)
                                       for o in range(len(graph.outputs))]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.tflite").write_bytes(flatbuffer)
    np.savez_compressed(OUT / f"{name}.npz", inputs=np.stack(inputs), outputs=np.stack(outputs))
    print(f"{name}: {len(flatbuffer)} bytes, {len(inputs)} vectors")


def main(names: list[str]) -> None:
    for name in names or list(MODELS):
        write(name, MODELS[name]())


if __name__ == "__main__":
    main(sys.argv[1:])
