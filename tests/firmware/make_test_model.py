"""Make the small model packages the firmware tests use (tests/firmware/conftest.py builds them).

Autoencoders trained (numpy, the features engineer's training code) on the virtual node's
synthetic healthy machine, so synthetic bearing faults score far above their thresholds:

- ``synthetic-v1``: 3200 Hz (ADXL345 boards), the default feature spec;
- ``synthetic-1k-v1``: 1000 Hz (the MPU6050 board), the default spec moved to that rate as the
  node does without a model (``monitor.app.model_free_spec``).

They are made when the tests run, so they always match the current feature code. To look at
one: ``python tests/firmware/make_test_model.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.recordings import Recording
from fabnode.resources import use_firmware_lib
from fabnode.sim import signals

# model id -> board, sensor rate (Hz), seconds of healthy signal
MODELS = {"synthetic-v1": ("esp32-devkitc", 3200, 20.0), "synthetic-1k-v1": ("esp32c3-xiao", 1000, 60.0)}


def build(model_id: str, out_dir: Path) -> Path:
    """Train and package ``model_id`` (a key of MODELS) into ``out_dir / model_id``."""
    use_firmware_lib()
    from monitor import features
    from monitor.app import model_free_spec

    board, rate, seconds = MODELS[model_id]
    healthy = signals.synthetic(signals.Machine(), rate, seconds, None, seed=3)
    trained = training.train([Recording(healthy, float(rate), "synthetic-healthy")],
                             model_free_spec(features.DEFAULT_SPEC, rate), epochs=300)
    manifest, model = training.build_package(trained, get_board(board), model_id, created="2026-11-29T00:00:00Z")
    return package.write_package(out_dir / model_id, manifest, model)


if __name__ == "__main__":
    for name in MODELS:
        print(build(name, Path(sys.argv[1])))
