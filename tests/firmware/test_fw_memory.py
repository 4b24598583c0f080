"""Allocation budget under the MicroPython WebAssembly port (a 32-bit build like the ESP32).

Inside one run that port's gc.collect() reclaims nothing, so gc.mem_alloc() differences there are
gross allocations: over 100 windows the whole loop (FIFO drain, the window's counts, integer
features, int8 model and score, alarms, command polling) allocates nothing at all. A collection at
the start of a new top-level run does reclaim, so the live heap is also measured across runs: it
keeps nothing. bench/bench_firmware.py reports the figures.
"""

from __future__ import annotations

import ast

import pytest
from fwrun import check_files


@pytest.mark.micropython
def test_the_loop_allocates_nothing_in_100_windows(micropython, synthetic_model):
    files = dict(check_files())
    for name in ("model.tflite", "manifest.json"):
        files[f"/models/active/{name}"] = (synthetic_model("synthetic-v1") / name).read_bytes()
    code = "import sys\nsys.path.append('/fwchecks')\nimport budget\nprint(budget.measure('/models', 100))\n"
    figures = ast.literal_eval(micropython(code, files=files).stdout.strip())
    assert figures["records"] == 0 and figures["windows"] >= 100
    for stage in ("loop", "drain_16_frames", "take", "features", "score"):
        assert figures[stage][0] == 0, (stage, figures)


@pytest.mark.micropython
def test_the_steady_state_keeps_nothing_on_the_heap(micropython, synthetic_model):
    """After each batch of windows a collection leaves the live heap where it was: no leak, no growth."""
    files = dict(check_files())
    for name in ("model.tflite", "manifest.json"):
        files[f"/models/active/{name}"] = (synthetic_model("synthetic-v1") / name).read_bytes()
    steps = ["import sys, gc\nsys.path.append('/fwchecks')\nimport budget\n"
             "app, hal, sensor, one_window = budget.steady_app('/models')\nbudget.fill(hal, one_window)\n"
             "first, live = app.sampler.windows, []"]
    for _ in range(4):
        steps += ["gc.collect()\nlive.append(gc.mem_alloc())", "for _ in range(50):\n    one_window()"]
    steps.append("gc.collect()\nlive.append(gc.mem_alloc())\n"
                 "print(repr((live, app.sampler.windows - first, len(hal.output))))")
    live, windows, records = ast.literal_eval(micropython(steps, files=files).stdout.strip())
    assert windows == 200 and records == 0
    # The collector is conservative: a few KB come and go with what the stack happens to hold.
    assert max(live) - min(live) < 8 * 1024, live
    assert live[-1] - live[0] < 4 * 1024, live
