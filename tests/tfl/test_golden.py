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


def run(model: tfl.Model, row: np.ndarray) -> bytes:
    """All outputs' raw bytes for one golden row (all inputs' raw bytes, concatenated)."""
    data = row.tobytes()
    if len(model.inputs) == 1:
        return bytes(model.invoke(data))
    parts, start = [], 0
    for i in range(len(model.inputs)):
        size = len(model.input_buffer(i))
        parts.append(data[start:start + size])
        start += size
    return b"".join(bytes(out) for out in model.invoke(parts))


@pytest.mark.parametrize("name", MODELS)
def test_cpython_matches_tflm(name):
    model = tfl.Model((DATA / f"{name}.tflite").read_bytes())
    inputs, outputs = vectors(name)
    got = np.stack([np.frombuffer(run(model, row), np.uint8) for row in inputs])
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


def test_several_inputs_and_outputs():
    model = tfl.Model((DATA / "two_inputs_two_outputs.tflite").read_bytes())
    assert [t.shape for t in model.inputs] == [(1, 8), (1, 8)]
    assert sorted(t.shape for t in model.outputs) == [(1, 3), (1, 8)]
    with pytest.raises(ValueError, match="model has 2 inputs, got 1"):
        model.invoke([b"\0" * 8])


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
    sizes = [len(m.input_buffer(i)) for i in range(len(m.inputs))]
    size = sum(sizes)
    data = open("/data/" + name + ".in", "rb").read()
    for k in range(len(data) // size):
        start = k * size
        for i in range(len(sizes)):
            m.input_buffer(i)[:] = data[start:start + sizes[i]]
            start += sizes[i]
        out = m.invoke()
        outs = out if isinstance(out, tuple) else (out,)
        print(name, k, "".join(binascii.hexlify(bytes(o)).decode() for o in outs))
"""
    result = micropython(code, files)
    lines = result.stdout.split()
    got = {(lines[i], int(lines[i + 1])): lines[i + 2] for i in range(0, len(lines), 3)}
    for name, outputs in expected.items():
        for k, row in enumerate(outputs):
            assert got[(name, k)] == row.tobytes().hex(), f"{name} vector {k} differs from TFLM under MicroPython"
