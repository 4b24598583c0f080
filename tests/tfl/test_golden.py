"""tfl against TFLM's own outputs, at tolerance 0, under CPython and under MicroPython.

The models and golden vectors in tests/data/tfl are made by make_models.py (TensorFlow + TFLM).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tfl

DATA = Path(__file__).resolve().parents[1] / "data" / "tfl"
MODELS = sorted(path.stem for path in DATA.glob("*.tflite"))
# Vectors per model under MicroPython: the extremes plus enough random ones, in one run for all.
MICROPYTHON_VECTORS = 24


def vectors(name: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(DATA / f"{name}.npz")
    return data["inputs"], data["outputs"]


@pytest.mark.parametrize("name", MODELS)
def test_cpython_matches_tflm(name):
    model = tfl.Model((DATA / f"{name}.tflite").read_bytes())
    inputs, outputs = vectors(name)
    got = np.stack([np.frombuffer(bytes(model.invoke(row.tobytes())), np.uint8) for row in inputs])
    mismatched = np.nonzero((got != outputs).any(axis=1))[0]
    assert mismatched.size == 0, f"{name}: vectors {mismatched[:10].tolist()} differ from TFLM"


def test_load_from_file_matches_buffer(tmp_path):
    path = DATA / "dense_autoencoder.tflite"
    from_file = tfl.Model.load(str(path))
    from_buffer = tfl.Model(path.read_bytes())
    inputs, outputs = vectors("dense_autoencoder")
    assert bytes(from_file.invoke(inputs[5].tobytes())) == outputs[5].tobytes()
    assert bytes(from_buffer.invoke(inputs[5].tobytes())) == outputs[5].tobytes()
    assert from_file.arena_bytes == from_buffer.arena_bytes


def test_tensor_info_describes_io():
    model = tfl.Model((DATA / "dense_autoencoder.tflite").read_bytes())
    (inp,), (out,) = model.inputs, model.outputs
    assert (inp.shape, inp.dtype, out.shape, out.dtype) == ((1, 64), "int8", (1, 64), "int8")
    assert 0 < inp.scale < 1 and -128 <= inp.zero_point <= 127
    float_model = tfl.Model((DATA / "dense_float_io.tflite").read_bytes())
    assert (float_model.inputs[0].dtype, float_model.outputs[0].dtype) == ("float32", "float32")


def test_arena_reuses_memory():
    # 64-32-16-32-64: at most two activations are alive at once (64 + 32 bytes), not all five.
    model = tfl.Model((DATA / "dense_autoencoder.tflite").read_bytes())
    assert model.arena_bytes == 64 + 32


def test_wrong_input_size_is_a_clear_error():
    model = tfl.Model((DATA / "dense_autoencoder.tflite").read_bytes())
    with pytest.raises(ValueError, match="input must be 64 bytes, got 3"):
        model.invoke(b"abc")


@pytest.mark.micropython
def test_micropython_matches_tflm(micropython):
    files = {}
    expected = {}
    for name in MODELS:
        inputs, outputs = vectors(name)
        files[f"/data/{name}.tflite"] = (DATA / f"{name}.tflite").read_bytes()
        files[f"/data/{name}.in"] = inputs[:MICROPYTHON_VECTORS].tobytes()
        expected[name] = outputs[:MICROPYTHON_VECTORS]
    code = f"""
import tfl, binascii
for name in {MODELS!r}:
    m = tfl.Model.load("/data/" + name + ".tflite")
    size = len(m.input_buffer())
    data = open("/data/" + name + ".in", "rb").read()
    for k in range(len(data) // size):
        out = m.invoke(data[k * size:(k + 1) * size])
        print(name, k, binascii.hexlify(bytes(out)).decode())
"""
    result = micropython(code, files)
    lines = result.stdout.split()
    got = {(lines[i], int(lines[i + 1])): lines[i + 2] for i in range(0, len(lines), 3)}
    for name, outputs in expected.items():
        for k, row in enumerate(outputs):
            assert got[(name, k)] == row.tobytes().hex(), f"{name} vector {k} differs from TFLM under MicroPython"
