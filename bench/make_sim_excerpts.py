"""Regenerate the recording excerpts shipped for the virtual node: host_tools/fabnode/sim/data/*.wav.

    python bench/make_sim_excerpts.py [--data DIR] [--out DIR]

Short pieces of the HIT-SM bearing recordings (../shared/data/bearing-hit-mfs, 51.2 kHz), resampled
to the ADXL345's 3200 Hz with fabnode's anti-alias resampler and stored as 16-bit mono WAV
(`fabnode.recordings` reads them; `fabnode.sim.hardware.demo_source` replays them). A user's machine
has no copy of the data set, so the demo and the virtual-node tests use these.

Each excerpt is peak-normalized (the replay scales it to a level in g) and made to loop without a
seam: its last samples run on into the recording and are cross-faded (equal power) into its first
ones, so the jump from the end back to the start is a continuation, not a step that would look
like an impact. Healthy: the end of Normal_900, which includes the last quarter the shipped model
held out; faults: the moderate outer- and inner-race faults at the same speed.
"""

from __future__ import annotations

import argparse
import sys
import wave
from pathlib import Path

import numpy as np

from fabnode.recordings import load_recording

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bearing-hit-mfs"
OUT = REPO / "host_tools" / "fabnode" / "sim" / "data"
RATE_HZ = 3200
CROSSFADE = 128  # samples (40 ms) blended at the loop point
PEAK = 0.9  # of int16 full scale
# shipped file -> (source recording, seconds)
EXCERPTS = {
    "healthy_900rpm.wav": ("Normal_900.npy", 3.0),
    "outer_race_900rpm.wav": ("OR5_900.npy", 2.0),
    "inner_race_900rpm.wav": ("IR5_900.npy", 2.0),
}


def seamless_loop(samples: np.ndarray, length: int) -> np.ndarray:
    """The last ``length`` samples before the final CROSSFADE, whose start blends into what followed them."""
    piece = samples[-(length + CROSSFADE):-CROSSFADE].copy()
    after = samples[-CROSSFADE:]
    ramp = np.sin(0.5 * np.pi * (np.arange(CROSSFADE) + 0.5) / CROSSFADE)
    # At the loop point the end of the piece continues into ``after``, which fades into the piece's start.
    piece[:CROSSFADE] = ramp * piece[:CROSSFADE] + np.sqrt(1 - ramp * ramp) * after
    return piece


def write_excerpt(source: Path, seconds: float, target: Path) -> int:
    recording = load_recording(source).resampled(RATE_HZ)
    z = recording.samples[:, 0] - recording.samples[:, 0].mean()
    piece = seamless_loop(z, round(seconds * RATE_HZ))
    pcm = np.round(piece * (PEAK * 32767 / np.abs(piece).max())).astype("<i2")
    with wave.open(str(target), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE_HZ)
        handle.writeframes(pcm.tobytes())
    return target.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(exist_ok=True)
    for name, (source, seconds) in EXCERPTS.items():
        size = write_excerpt(args.data / source, seconds, args.out / name)
        print(f"{args.out / name}: {seconds:g} s of {source}, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
