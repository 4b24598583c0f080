"""Benchmark of the on-device interpreter (tfl) against TensorFlow Lite Micro.

    python bench/bench_tfl.py [--repeat 5]

For the dense autoencoder (64-32-16-32-64) and the small 1-D CNN (256 x 3 input) of
tests/data/tfl: MACs per invoke, µs per invoke and heap bytes under the MicroPython WebAssembly
port (bytecode; that port has no native emitter), and µs per invoke under TFLM (tflite_micro,
C++) on the same host. Figures go to docs/benchmarks.md.

Heap: bytes ``gc.mem_alloc()`` grows by over a second ``tfl.Model.load`` (modules already
imported). The WebAssembly port's collector does not reclaim garbage within a run, so this
counts load-time garbage (big-int arithmetic of the multipliers) too: an upper bound of what
the loaded model keeps, which is the model file, the arena and small per-channel tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fabnode.mpwasm import run_micropython, tree_files
from fabnode.resources import firmware_lib_dir, use_firmware_lib

MODELS = Path(__file__).resolve().parents[1] / "tests" / "data" / "tfl"
BENCHMARKS = {"dense_autoencoder": "dense autoencoder 64-32-16-32-64", "conv1d_cnn": "1-D CNN, 256 x 3 input"}

MICROPYTHON = """
import gc, time, tfl
for name, invokes in {plan!r}:
    m = tfl.Model.load("/m/" + name + ".tflite")
    del m
    gc.collect()
    before = gc.mem_alloc()
    start = time.ticks_us()
    m = tfl.Model.load("/m/" + name + ".tflite")
    load_ms = time.ticks_diff(time.ticks_us(), start) / 1000
    gc.collect()
    heap = gc.mem_alloc() - before
    m.invoke()
    best = None
    for _ in range({repeat}):
        start = time.ticks_us()
        for _ in range(invokes):
            m.invoke()
        elapsed = time.ticks_diff(time.ticks_us(), start) / invokes
        best = elapsed if best is None or elapsed < best else best
    print(name, best, heap, m.arena_bytes, load_ms)
"""


def macs(path: Path) -> int:
    """Multiply-accumulates per invoke of the FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D ops."""
    use_firmware_lib()
    from tfl import schema

    g = schema.parse(memoryview(path.read_bytes()).cast("b"))
    total = 0
    for op in g.operators:
        out = g.tensors[op.outputs[0]]
        if op.code == 9:  # FULLY_CONNECTED: outputs x accumulation depth
            total += out.size * g.tensors[op.inputs[1]].shape[-1]
        elif op.code == 3:  # CONV_2D: outputs x (kh x kw x in_channels)
            _, kh, kw, cin = g.tensors[op.inputs[1]].shape
            total += out.size * kh * kw * cin
        elif op.code == 4:  # DEPTHWISE_CONV_2D: outputs x (kh x kw)
            _, kh, kw, _ = g.tensors[op.inputs[1]].shape
            total += out.size * kh * kw
    return total


def tflm_us(path: Path, repeat: int, invokes: int) -> float:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(path.read_bytes())
    detail = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
    interpreter.invoke()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(invokes):
            interpreter.invoke()
        best = min(best, (time.perf_counter() - start) / invokes * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed blocks per model; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    plan = [("dense_autoencoder", 200), ("conv1d_cnn", 10)]
    files = tree_files(firmware_lib_dir(), "/lib")
    for name, _ in plan:
        files[f"/m/{name}.tflite"] = (MODELS / f"{name}.tflite").read_bytes()
    result = run_micropython(MICROPYTHON.format(plan=plan, repeat=args.repeat), files, timeout=600)
    rows = []
    for line in result.stdout.splitlines():
        name, us, heap, arena, load_ms = line.split()
        path = MODELS / f"{name}.tflite"
        reference = tflm_us(path, args.repeat, 2000)
        rows.append({"model": BENCHMARKS[name], "macs": macs(path), "tfl_us": float(us), "heap_bytes": int(heap),
                     "arena_bytes": int(arena), "model_bytes": path.stat().st_size, "load_ms": float(load_ms),
                     "tflm_us": reference,
                     "ratio": float(us) / reference})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| model | MACs | tfl µs/invoke (MicroPython WASM) | ns/MAC | model file bytes | arena bytes "
          "| heap allocated by load (upper bound) | load ms | TFLM µs/invoke | tfl / TFLM |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['macs']} | {r['tfl_us']:.0f} | {1000 * r['tfl_us'] / r['macs']:.0f} "
              f"| {r['model_bytes']} | {r['arena_bytes']} | {r['heap_bytes']} | {r['load_ms']:.0f} "
              f"| {r['tflm_us']:.1f} "
              f"| {r['ratio']:.0f}x |")


if __name__ == "__main__":
    main()
