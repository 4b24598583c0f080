"""Malformed and unsupported models: always tfl.ModelError with a clear message, never another
exception, a hang or an attempt to allocate what the model claims."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import tfl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tfl.flatbuffer import FlatBuffer

DATA = Path(__file__).resolve().parents[1] / "data" / "tfl"
FUZZ_MODELS = ["dense_autoencoder", "relu_input", "arithmetic", "flatten_dynamic_batch", "dense_float_io"]
MODELS = {name: (DATA / f"{name}.tflite").read_bytes() for name in FUZZ_MODELS}


class Layout:
    """Byte positions of fields in a model, found with tfl's own reader, for targeted corruption."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        fb = FlatBuffer(memoryview(self.data).cast("b"))
        self.fb = fb
        model = fb.root()
        self.subgraph = fb.tables(model, 2, "subgraphs")[0]
        self.operators = fb.tables(self.subgraph, 3, "operators")
        self.tensors = fb.tables(self.subgraph, 0, "tensors")
        self.opcodes = fb.tables(model, 1, "operator codes")

    def vector(self, table: int, index: int) -> tuple[int, int]:
        return self.fb.vector(table, index, 4, "vector")

    def set_i32(self, pos: int, value: int) -> None:
        struct.pack_into("<i", self.data, pos, value)

    def op_tensor(self, op: int, outputs: bool, slot: int) -> int:
        start, _ = self.vector(self.operators[op], 2 if outputs else 1)
        return start + 4 * slot

    def load(self) -> tfl.Model:
        return tfl.Model(bytes(self.data))


def load_error(data: bytes) -> str:
    with pytest.raises(tfl.ModelError) as info:
        tfl.Model(data)
    return str(info.value)


@pytest.mark.parametrize("cut", [0, 3, 7, 8, 16, 100, 1000, -200, -1])
def test_truncated_model(cut):
    data = MODELS["dense_autoencoder"]
    assert load_error(data[:cut]) != ""


def test_wrong_identifier():
    data = bytearray(MODELS["relu_input"])
    data[4:8] = b"TFL2"
    assert "not a .tflite model" in load_error(bytes(data))


def test_root_offset_outside_the_buffer():
    data = bytearray(MODELS["relu_input"])
    struct.pack_into("<I", data, 0, 0x7FFFFF00)
    assert "past the end" in load_error(bytes(data))


def test_vector_length_beyond_the_buffer():
    layout = Layout(MODELS["relu_input"])
    start, _ = layout.vector(layout.subgraph, 0)
    layout.set_i32(start - 4, 0x10000000)
    assert "claims" in load_error(bytes(layout.data))


def test_operator_reading_a_tensor_written_later_is_cyclic():
    layout = Layout(MODELS["dense_autoencoder"])
    last_output = struct.unpack_from("<i", layout.data, layout.op_tensor(3, True, 0))[0]
    layout.set_i32(layout.op_tensor(0, False, 0), last_output)
    assert "before anything writes it" in load_error(bytes(layout.data))


def test_tensor_written_twice():
    layout = Layout(MODELS["dense_autoencoder"])
    first_output = struct.unpack_from("<i", layout.data, layout.op_tensor(0, True, 0))[0]
    layout.set_i32(layout.op_tensor(2, True, 0), first_output)
    assert "already written" in load_error(bytes(layout.data))


def test_tensor_index_out_of_range():
    layout = Layout(MODELS["dense_autoencoder"])
    layout.set_i32(layout.op_tensor(1, False, 0), 999)
    assert "refers to tensor 999" in load_error(bytes(layout.data))


@pytest.mark.parametrize("dim", [1 << 30, 70000, 2000])
def test_absurd_activation_shape(dim):
    # Hidden activations of the autoencoder: claiming a huge shape must fail before allocating.
    layout = Layout(MODELS["dense_autoencoder"])
    output = struct.unpack_from("<i", layout.data, layout.op_tensor(0, True, 0))[0]
    shape, _ = layout.vector(layout.tensors[output], 0)
    layout.set_i32(shape + 4, dim)
    layout.set_i32(shape, dim)
    message = load_error(bytes(layout.data))
    assert "too large" in message or "activations" in message or "does not match" in message


def test_unsupported_operator_is_named():
    layout = Layout(MODELS["relu_input"])
    code_field = layout.fb.field(layout.opcodes[0], 3, 4)
    layout.set_i32(code_field, 36)  # GATHER
    assert "GATHER" in load_error(bytes(layout.data))


def test_arena_limit():
    assert "activations" in load_error_with_limit(MODELS["dense_autoencoder"], 64)


def load_error_with_limit(data: bytes, limit: int) -> str:
    with pytest.raises(tfl.ModelError) as info:
        tfl.Model(data, max_arena_bytes=limit)
    return str(info.value)


def _load_and_run(data: bytes) -> None:
    try:
        model = tfl.Model(data)
    except tfl.ModelError:
        return
    model.invoke()


mutation = st.tuples(st.sampled_from(FUZZ_MODELS),
                     st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
                     st.one_of(st.none(), st.integers(0, 1 << 16)))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation)
def test_fuzzed_models_load_or_raise_model_error(case):
    """Random byte changes (and truncations) anywhere in real models: ModelError or a working model."""
    name, changes, cut = case
    data = bytearray(MODELS[name])
    for position, value in changes:
        data[position % len(data)] = value
    if cut is not None:
        data = data[:cut % len(data)]
    _load_and_run(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FUZZ_MODELS), st.integers(0, 1 << 16), st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF]))
@example("flatten_dynamic_batch", 836, 127)  # STRIDED_SLICE whose strides became its end: index out of range
def test_fuzzed_words(name, position, value):
    """32-bit fields (offsets, counts, indices, shapes) set to boundary values."""
    data = bytearray(MODELS[name])
    struct.pack_into("<I", data, (position % (len(data) - 4)) & ~3, value)
    _load_and_run(bytes(data))


ALL_MODELS = {path.stem: path.read_bytes() for path in sorted(DATA.glob("*.tflite"))}
edit = st.tuples(st.sampled_from(["operator tensor", "option byte", "shape dimension"]), st.integers(0, 1 << 16),
                 st.integers(0, 1 << 16), st.sampled_from([-1, 0, 1, 2, 3, 7, 64, 1000, 0x7F, 0xFF]))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(ALL_MODELS)), st.lists(edit, min_size=1, max_size=3))
def test_structurally_edited_models(name, edits):
    """Valid flatbuffers with inconsistent content: operators wired to other tensors, option
    fields and tensor shapes changed. Every such model loads and runs, or raises ModelError."""
    layout = Layout(ALL_MODELS[name])
    for kind, pick, slot, value in edits:
        op = layout.operators[pick % len(layout.operators)]
        if kind == "operator tensor":
            start, count = layout.vector(op, 1 + pick % 2)
            if count:
                layout.set_i32(start + 4 * (slot % count), value % (len(layout.tensors) + 1) - 1)
        elif kind == "option byte":
            options = layout.fb.table(op, 4, "options")
            vtable = options - layout.fb.i32(options) if options else 0
            fields = (layout.fb.u16(vtable) - 4) // 2 if options else 0
            offset = layout.fb.u16(vtable + 4 + 2 * (slot % fields)) if fields else 0
            if offset:
                layout.data[options + offset] = value & 0xFF
        else:
            start, count = layout.vector(layout.tensors[pick % len(layout.tensors)], 0)
            if count:
                layout.set_i32(start + 4 * (slot % count), value)
    _load_and_run(bytes(layout.data))


@pytest.mark.micropython
def test_micropython_raises_model_error(micropython):
    data = MODELS["dense_autoencoder"]
    bad_id = bytearray(data)
    bad_id[4:8] = b"XXXX"
    files = {"/m/truncated.tflite": data[:500], "/m/bad_id.tflite": bytes(bad_id), "/m/empty.tflite": b""}
    code = """
import tfl
for name in ("truncated", "bad_id", "empty"):
    try:
        tfl.Model.load("/m/" + name + ".tflite")
        print(name, "loaded")
    except tfl.ModelError as e:
        print(name, "ModelError")
"""
    assert micropython(code, files).stdout.split() == [
        "truncated", "ModelError", "bad_id", "ModelError", "empty", "ModelError"]
