"""Invoke-time behaviour: no heap allocation per invoke under MicroPython, float I/O edge values,
and the fast (viper) kernels compiling for the ESP32."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import tfl

from fabnode.mpycross import compile_file
from fabnode.resources import firmware_lib_dir

DATA = Path(__file__).resolve().parents[1] / "data" / "tfl"
# Every model with int8 input (a float32 input's QUANTIZE boxes each float); SOFTMAX is in
# arithmetic, conv1d_cnn and unary_activations.
INT8_MODELS = ["arithmetic", "conv1d_cnn", "conv2d_shapes", "dense_autoencoder", "dense_per_channel", "depthwise",
               "dilated_depthwise", "flatten_dynamic_batch", "relu_input", "reshape_relu", "two_inputs_two_outputs",
               "unary_activations"]


@pytest.mark.micropython
def test_invoke_allocates_nothing_under_micropython(micropython):
    files = {f"/m/{name}.tflite": (DATA / f"{name}.tflite").read_bytes() for name in INT8_MODELS}
    code = f"""
import gc, tfl
for name in {INT8_MODELS!r}:
    m = tfl.Model.load("/m/" + name + ".tflite")
    buf = m.input_buffer()
    for i in range(len(buf)):
        buf[i] = (i * 37) & 0xFF
    # The first block may include one-off interpreter bookkeeping; the later ones must be flat.
    grown = []
    for block in range(3):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for _ in range(4):
            m.invoke()
        grown.append(gc.mem_alloc() - before)
        gc.enable()
    print(name, grown[1] + grown[2])
"""
    lines = micropython(code, files).stdout.split("\n")
    allocated = dict(line.split() for line in lines if line)
    assert allocated == {name: "0" for name in INT8_MODELS}


def test_float_input_edge_values_quantize_without_error():
    model = tfl.Model((DATA / "dense_float_io.tflite").read_bytes())
    values = [float("nan"), float("inf"), float("-inf"), 3.4e38, -3.4e38, 0.0, -0.0, 1e-45]
    values += [0.0] * (16 - len(values))
    out = bytes(model.invoke(struct.pack("<16f", *values)))
    assert len(out) == 4 * 6


def test_multiple_invokes_are_independent():
    model = tfl.Model((DATA / "conv1d_cnn.tflite").read_bytes())
    a = bytes(range(256)) * 3
    b = bytes(reversed(range(256))) * 3
    first = bytes(model.invoke(a))
    model.invoke(b)
    assert bytes(model.invoke(a)) == first


def test_fast_kernels_compile_for_xtensawin():
    path = firmware_lib_dir() / "tfl" / "loops_viper.py"
    assert compile_file(path, "xtensawin", "tfl/loops_viper.py").startswith(b"M\x06")


@pytest.mark.parametrize("name", ["dense_autoencoder", "dense_per_channel", "conv1d_cnn", "conv2d_shapes", "depthwise",
                                  "dilated_depthwise", "flatten_dynamic_batch"])
def test_viper_kernels_match_tflm_under_emulation(name, monkeypatch):
    import numpy as np
    from tfl import loops
    from viper_emulation import load_viper_module

    viper = load_viper_module("tfl/loops_viper.py")
    for kernel in ("dot_rows", "conv", "depthwise_conv", "max_pool", "average_pool"):
        monkeypatch.setattr(loops, kernel, getattr(viper, kernel))
    model = tfl.Model((DATA / f"{name}.tflite").read_bytes())
    data = np.load(DATA / f"{name}.npz")
    for row, expected in list(zip(data["inputs"], data["outputs"], strict=True))[:12]:
        assert bytes(model.invoke(row.tobytes())) == expected.tobytes()
