"""Builds an invocable graph: parse, check, plan the arena, prepare every operator."""

import struct
from array import array

from tfl import ModelError, planner, schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tfl.schema import Graph


def build(buf: "Any", max_arena_bytes: int) -> "Graph":
    """The parsed graph with ``storage`` (one view per tensor), ``steps`` and ``arena_bytes`` set."""
    from tfl import ops

    g = schema.parse(buf)
    preparers = [ops.lookup(op) for op in g.operators]
    _check_order(g)
    _allocate(g, max_arena_bytes)
    g.steps = [preparers[k](g, op) for k, op in enumerate(g.operators)]
    return g


def _check_order(g: "Graph") -> None:
    """Operators run in file order: each reads only tensors that exist by then, each tensor is
    written once. This also rules out cycles."""
    ready = [t.is_constant for t in g.tensors]
    for i in g.inputs:
        if g.tensors[i].is_constant:
            raise ModelError(f"graph input tensor {i} is a constant")
        ready[i] = True
    for k, op in enumerate(g.operators):
        for t in op.inputs:
            if t >= 0 and not ready[t]:
                raise ModelError(f"operator {k} reads tensor {t} before anything writes it "
                                 "(cyclic or out-of-order graph)")
        for t in op.outputs:
            if ready[t]:
                raise ModelError(f"operator {k} writes tensor {t}, which is a constant, an input or "
                                 "already written")
            ready[t] = True
    for t in g.outputs:
        if not ready[t]:
            raise ModelError(f"graph output tensor {t} is never written")


def _allocate(g: "Graph", max_arena_bytes: int) -> None:
    """Storage for every tensor: constants view the model buffer, int8 activations share the
    planned arena, the few float32/int32 activations (model I/O, shape arithmetic) get their own."""
    count = len(g.tensors)
    steps = len(g.operators)
    first = [-1] * count
    last = [-1] * count
    for i in g.inputs:
        first[i] = last[i] = 0
    for k, op in enumerate(g.operators):
        for t in op.inputs:
            if t >= 0:
                last[t] = k
        for t in op.outputs:
            first[t] = k
            last[t] = max(last[t], k)
    for t in g.outputs:
        last[t] = steps
    planned = [t for t in range(count)
               if first[t] >= 0 and not g.tensors[t].is_constant and g.tensors[t].dtype == schema.INT8]
    offsets, arena_size = planner.plan([g.tensors[t].size for t in planned],
                                       [first[t] for t in planned], [last[t] for t in planned])
    side_bytes = 0
    for t in range(count):
        tensor = g.tensors[t]
        if first[t] >= 0 and not tensor.is_constant and tensor.dtype != schema.INT8:
            side_bytes += tensor.size * schema.TYPE_SIZES.get(tensor.dtype, 4)
    if arena_size + side_bytes > max_arena_bytes:
        raise ModelError(f"model needs {arena_size + side_bytes} bytes of activations, "
                         f"more than the {max_arena_bytes} allowed")
    g.max_arena_bytes = max_arena_bytes
    g.arena = array("b", bytes(arena_size))
    g.arena_bytes = arena_size + side_bytes
    arena = memoryview(g.arena)
    model = memoryview(g.buf)
    storage: list[object] = [None] * count
    for k, t in enumerate(planned):
        storage[t] = arena[offsets[k]:offsets[k] + g.tensors[t].size]
    for t in range(count):
        tensor = g.tensors[t]
        if tensor.is_constant and tensor.dtype == schema.INT32:
            # Shape arithmetic copies these into int32 tensors: give them the same element type.
            storage[t] = memoryview(array("i", [struct.unpack_from("<i", g.buf, tensor.data_pos + 4 * i)[0]
                                                for i in range(tensor.size)]))
        elif tensor.is_constant:
            storage[t] = model[tensor.data_pos:tensor.data_pos + tensor.data_len]
        elif storage[t] is None and first[t] >= 0:
            if tensor.dtype == schema.INT32:
                storage[t] = memoryview(array("i", bytes(4 * tensor.size)))
            elif tensor.dtype == schema.FLOAT32:
                # Raw bytes: kernels convert with struct; MicroPython cannot copy raw bytes
                # into an array("f") view.
                storage[t] = memoryview(bytearray(4 * tensor.size))
            else:
                raise ModelError(f"tensor {t} has type {tensor.type_name}, which no supported kernel produces")
    g.storage = storage
