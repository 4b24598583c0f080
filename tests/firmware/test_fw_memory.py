"""Allocation budget under the MicroPython WebAssembly port (a 32-bit build like the ESP32).

That port's gc.collect() reclaims nothing, so gc.mem_alloc() differences are gross allocations.
The app's own work per window (FIFO drain, window bookkeeping, alarms, commands polling) must
allocate nothing; what is left is the float objects of the maths (samples to g, features, score),
which a port that boxes floats (the ESP32's) cannot avoid. bench/bench_firmware.py reports them.
"""

from __future__ import annotations

import ast

import pytest
from fwrun import check_files


@pytest.mark.micropython
def test_the_loop_allocates_nothing_beyond_the_float_maths(micropython, synthetic_model):
    files = dict(check_files())
    for name in ("model.tflite", "manifest.json"):
        files[f"/models/active/{name}"] = (synthetic_model("synthetic-v1") / name).read_bytes()
    code = "import sys\nsys.path.append('/fwchecks')\nimport budget\nprint(budget.measure('/models', 10))\n"
    figures = ast.literal_eval(micropython(code, files=files).stdout.strip())
    assert figures["records"] == 0 and figures["windows"] >= 20
    assert figures["drain_16_frames"][0] == 0  # the interrupt handler path
    maths = figures["take"][0] + figures["features"][0] + figures["score"][0]
    assert figures["loop"][0] - maths <= 64, figures  # bytes per window outside the maths
