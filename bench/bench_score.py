"""Speed of ``fabnode score``: seconds of recording scored per second, on one core.

    python bench/bench_score.py [--model models/bearing-hit-mfs-v1] [--data DIR] [--files N] [--board BOARD]

Scores the bearing recordings (51.2 kHz, resampled to the board's 3200 Hz) with the node's
pipeline exactly as ``fabnode score`` does, and reports the time of each stage: loading and
resampling, features (``monitor.features`` under CPython), and int8 scoring (``monitor.anomaly``
with ``tfl``) plus the k-of-n alarm. The target is at least 20x real time. Times are CPU seconds
of this process (``time.process_time``), so other jobs on a shared machine do not inflate them.
With ``--board``, also ``fabnode score --board BOARD --level-g 0.05`` end to end (the recordings
measured through the board's simulated sensor first).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fabnode.boards import get_board
from fabnode.models import runtimes, training
from fabnode.models.package import alarm_state, load_package
from fabnode.models.scoring import SensorPath, score_files, score_recording
from fabnode.recordings import load_recording

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "bearing-hit-mfs-v1")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bearing-hit-mfs")
    parser.add_argument("--files", type=int, default=6, help="How many recordings to score.")
    parser.add_argument("--board", help="Also score as measured by this board's sensor (fabnode score --board).")
    args = parser.parse_args()
    package = load_package(args.model)
    spec = package.feature_spec
    paths = sorted(args.data.glob("*.npy"))[: args.files]

    stages = {"load + resample": 0.0, "features": 0.0, "int8 score + alarm": 0.0}
    seconds = 0.0
    windows = 0
    for path in paths:
        start = time.process_time()
        recording = load_recording(path)
        samples = training.node_samples(recording, spec)
        resampled = time.process_time()
        rows = training.feature_matrix(samples, spec)
        featured = time.process_time()
        scores = training.node_scores(package.manifest, runtimes.load_tfl(package.model), rows)
        alarm = alarm_state(package.manifest["alarm"])
        for score in scores.tolist():
            alarm.update(score > package.threshold)
        done = time.process_time()
        stages["load + resample"] += resampled - start
        stages["features"] += featured - resampled
        stages["int8 score + alarm"] += done - featured
        seconds += recording.duration_s
        windows += len(rows)

    start = time.process_time()
    for path in paths:  # the library call the CLI makes, end to end
        score_recording(package, load_recording(path))
    end_to_end = time.process_time() - start

    total = sum(stages.values())
    print(f"{len(paths)} recordings, {seconds:.1f} s of signal, {windows} windows of "
          f"{spec['window']} samples every {spec['hop']} at {spec['rate_hz']:g} Hz")
    for name, spent in stages.items():
        print(f"  {name:20s} {spent:7.3f} s  {1000 * spent / windows:6.2f} ms/window  {spent / total:5.1%}")
    print(f"  {'total':20s} {total:7.3f} s  -> {seconds / total:.1f}x real time")
    print(f"score_recording end to end: {end_to_end:.3f} s -> {seconds / end_to_end:.1f}x real time "
          f"({1000 * end_to_end / windows:.2f} ms per window; real time allows "
          f"{1000 * spec['hop'] / spec['rate_hz']:.0f} ms)")
    if args.board:
        start = time.process_time()
        score_files(package, paths, sensor=SensorPath(get_board(args.board), 0.05))
        measured = time.process_time() - start
        print(f"score --board {args.board} --level-g 0.05 end to end: {measured:.3f} s -> "
              f"{seconds / measured:.1f}x real time")
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
