"""Make the small model package the firmware pipeline tests use: tests/data/firmware/synthetic-v1/.

An autoencoder trained (numpy, the features engineer's training code) on 20 s of the virtual
node's synthetic healthy machine, so synthetic bearing faults score far above its threshold.
Re-run after a change to the feature spec or the package format:

    python tests/firmware/make_test_model.py
"""

from __future__ import annotations

from pathlib import Path

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.recordings import Recording
from fabnode.resources import use_firmware_lib
from fabnode.sim import signals

OUT = Path(__file__).resolve().parents[1] / "data" / "firmware" / "synthetic-v1"
RATE_HZ = 3200


def main() -> None:
    use_firmware_lib()
    healthy = signals.synthetic(signals.Machine(), RATE_HZ, 20.0, None, seed=3)
    trained = training.train([Recording(healthy, float(RATE_HZ), "synthetic-healthy")],
                             training.default_spec(RATE_HZ), epochs=300)
    manifest, model = training.build_package(trained, get_board("esp32-devkitc"), "synthetic-v1",
                                             created="2026-11-29T00:00:00Z")
    package.write_package(OUT, manifest, model)
    print(f"wrote {OUT} (threshold {manifest['threshold']:.4f})")


if __name__ == "__main__":
    main()
