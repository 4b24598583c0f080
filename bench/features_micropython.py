"""Cost of the feature extractor and the anomaly Detector under the MicroPython WebAssembly port.

    python bench/features_micropython.py [--windows 20]

Runs the default spec (1024 samples x 3 axes at 3200 Hz, model on z) and the shipped reference
model under real MicroPython (32-bit build, like the ESP32; it has no native emitter, so this is
bytecode): µs per window, and bytes allocated making the extractor and Detector and by all the
windows (gross: that port's gc.collect() reclaims nothing within a run, so set-up garbage counts
too; the timing loop's own range iterator is a few dozen bytes). ticks_us there has 1 ms
resolution: time enough windows.
The window is ADXL345-like counts (3.9 mg each) in an ``array('i')``, as the sampler delivers them.
Figures go to docs/features.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from fabnode.mpwasm import run_micropython, tree_files
from fabnode.resources import firmware_lib_dir, models_dir

MODEL = models_dir() / "bearing-hit-mfs-v1"

CODE = """
import gc, json, math, time
from array import array
gc.collect()
base = gc.mem_alloc()
from monitor import features, anomaly
gc.collect()
code_bytes = gc.mem_alloc() - base
with open("/manifest.json") as f:
    manifest = json.load(f)
gc.collect()
before = gc.mem_alloc()
extractor = features.FeatureExtractor(manifest["features"], 0.0039)
out = array("i", bytearray(4 * extractor.size))
gc.collect()
extractor_bytes = gc.mem_alloc() - before
before = gc.mem_alloc()
detector = anomaly.Detector(manifest, "/model.tflite")
gc.collect()
detector_bytes = gc.mem_alloc() - before
n = extractor.window
samples = array("i", bytearray(4 * n * 3))
for i in range(n):  # counts of 3.9 mg: z 0.05 g sine + 0.3 g impacts + 1 g gravity, x 0.01 g sine
    samples[3 * i + 2] = round((0.05 * math.sin(0.7 * i) + (0.3 if i % 90 == 0 else 0.0) + 1.0) / 0.0039)
    samples[3 * i] = round(0.01 * math.sin(0.1 * i) / 0.0039)
extractor.compute(samples, out)
detector.score(out)
gc.collect()
start_heap = gc.mem_alloc()  # no collection below: the difference is every byte allocated
feature_us = score_us = 0
for _ in range(WINDOWS):
    t = time.ticks_us()
    extractor.compute(samples, out)
    t2 = time.ticks_us()
    detector.score(out)
    t3 = time.ticks_us()
    feature_us += time.ticks_diff(t2, t)
    score_us += time.ticks_diff(t3, t2)
allocated = gc.mem_alloc() - start_heap
print(json.dumps({"windows": WINDOWS, "features_us_per_window": feature_us // WINDOWS,
                  "score_us_per_window": score_us // WINDOWS, "module_code_bytes": code_bytes,
                  "extractor_bytes": extractor_bytes, "detector_bytes": detector_bytes,
                  "bytes_allocated_by_all_windows": allocated}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=20)
    args = parser.parse_args(argv)
    files = {**tree_files(firmware_lib_dir(), "/lib"), "/manifest.json": (MODEL / "manifest.json").read_bytes(),
             "/model.tflite": (MODEL / "model.tflite").read_bytes()}
    result = run_micropython(CODE.replace("WINDOWS", str(args.windows)), files, timeout=600)
    print(json.dumps(json.loads(result.stdout), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
