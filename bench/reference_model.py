"""Evaluate the reference bearing model recipe on the HIT-SM recordings; optionally write the package.

    python bench/reference_model.py [--data DIR] [--json]

Bar 1, per shaft speed: train on the first 60 % of the healthy recording, test on the rest and on
every fault file at that speed (AUC float and int8, healthy test windows over the threshold).
Bar 2, unseen speed: train on the 600 and 1200 rpm healthy recordings, test at 900 rpm (healthy
windows over the threshold, share of each fault file's windows over it).
Both also with every recording scaled to the healthy training RMS ("same RMS": shape, not
loudness). The shipped model itself is made by ``fabnode train`` (docs/reference-model.md).
Windows are scored at a hop of 256 samples (the node's hop is 512) to test more windows.
Node levels: the shipped model on every recording scaled to 0.01-0.5 g RMS and quantized as a
node's ADXL345 reports it (the healthy files are at ~5e-5 g, far below the sensor's 3.9 mg LSB).
Figures go to docs/reference-model.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from fabnode.boards import get_board
from fabnode.models import package, training
from fabnode.recordings import Recording, load_recording

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bearing-hit-mfs"
BOARD = "esp32-devkitc"
SPEEDS = (600, 900, 1200)
FAULTS = ("IR2", "IR5", "IR8", "OR2", "OR5", "OR8")
EVAL_HOP = 256
TRAIN_SHARE = 0.6
SHIPPED = REPO / "models" / "bearing-hit-mfs-v1"
NODE_LEVELS_G = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
# ADXL345 at full resolution (256 LSB/g), read by the driver at 3.9 mg per count, gravity on z
ADXL345_LSB_G = 1 / 256
DRIVER_SCALE_G = 0.0039


def auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """ROC AUC: the probability a positive scores above a negative (ties count half)."""
    neg, pos = np.asarray(negatives)[None, :], np.asarray(positives)[:, None]
    return float(np.mean(pos > neg) + 0.5 * np.mean(pos == neg))


class Bench:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.board = get_board(BOARD)
        self.spec = training.default_spec(float(self.board.sensor("vibration").odr_hz or 3200))
        self._recordings: dict[str, Recording] = {}

    def recording(self, name: str) -> Recording:
        if name not in self._recordings:
            self._recordings[name] = load_recording(self.data / f"{name}.npy").resampled(self.spec["rate_hz"])
        return self._recordings[name]

    def features(self, name: str, start: float = 0.0, end: float = 1.0, rms: float | None = None) -> np.ndarray:
        """Feature rows of a part of a recording, optionally scaled to an RMS (g)."""
        samples = training.node_samples(part(self.recording(name), start, end), self.spec)
        if rms is not None:
            samples = samples * (rms / np.sqrt(np.mean(samples[:, self.spec["channels"][0]] ** 2)))
        return training.feature_matrix(samples, self.spec, EVAL_HOP)

    def train(self, parts: list[Recording], model_id: str) -> tuple[training.TrainedModel, dict[str, Any], bytes]:
        trained = training.train(parts, self.spec)
        manifest, model = training.build_package(trained, self.board, model_id)
        return trained, manifest, model

    def healthy_rms(self, parts: list[Recording]) -> float:
        channel = self.spec["channels"][0]
        return float(np.sqrt(np.mean(np.concatenate(
            [training.node_samples(p, self.spec)[:, channel] for p in parts]) ** 2)))


def part(recording: Recording, start: float, end: float) -> Recording:
    n = len(recording.samples)
    return Recording(recording.samples[int(start * n):int(end * n)], recording.rate_hz, recording.source,
                     recording.meta)


def scores(trained: training.TrainedModel, manifest: dict[str, Any], model: bytes,
           features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return trained.float_scores(features), training.node_scores(manifest, model, features)


def bar1(bench: Bench, speed: int) -> dict[str, Any]:
    healthy = f"Normal_{speed}"
    train_part = part(bench.recording(healthy), 0.0, TRAIN_SHARE)
    trained, manifest, model = bench.train([train_part], f"bar1-{speed}")
    threshold = manifest["threshold"]
    test_float, test_int8 = scores(trained, manifest, model, bench.features(healthy, TRAIN_SHARE, 1.0))
    rms = bench.healthy_rms([train_part])
    _, same_int8 = scores(trained, manifest, model, bench.features(healthy, TRAIN_SHARE, 1.0, rms))
    faults = {}
    for fault in FAULTS:
        name = f"{fault}_{speed}"
        fault_float, fault_int8 = scores(trained, manifest, model, bench.features(name))
        _, scaled_int8 = scores(trained, manifest, model, bench.features(name, rms=rms))
        faults[fault] = {
            "auc_float": auc(test_float, fault_float),
            "auc_int8": auc(test_int8, fault_int8),
            "over_threshold": float(np.mean(fault_int8 > threshold)),
            "auc_same_rms_int8": auc(same_int8, scaled_int8),
        }
    return {"speed_rpm": speed, "threshold": threshold, "healthy_test_windows": len(test_int8),
            "healthy_test_over": int(np.sum(test_int8 > threshold)),
            "healthy_test_max_score": float(test_int8.max()), "faults": faults}


def bar2(bench: Bench) -> dict[str, Any]:
    parts = [bench.recording("Normal_600"), bench.recording("Normal_1200")]
    trained, manifest, model = bench.train(parts, "bar2-600-1200")
    threshold = manifest["threshold"]
    healthy_float, healthy_int8 = scores(trained, manifest, model, bench.features("Normal_900"))
    rms = bench.healthy_rms(parts)
    _, same_healthy = scores(trained, manifest, model, bench.features("Normal_900", rms=rms))
    faults = {}
    for fault in FAULTS:
        fault_float, fault_int8 = scores(trained, manifest, model, bench.features(f"{fault}_900"))
        _, scaled_int8 = scores(trained, manifest, model, bench.features(f"{fault}_900", rms=rms))
        faults[fault] = {
            "over_threshold": float(np.mean(fault_int8 > threshold)),
            "auc_float": auc(healthy_float, fault_float),
            "auc_int8": auc(healthy_int8, fault_int8),
            "auc_same_rms_int8": auc(same_healthy, scaled_int8),
            "over_threshold_same_rms": float(np.mean(scaled_int8 > threshold)),
        }
    return {"threshold": threshold, "healthy_900_windows": len(healthy_int8),
            "healthy_900_over": float(np.mean(healthy_int8 > threshold)),
            "healthy_900_over_same_rms": float(np.mean(same_healthy > threshold)),
            "healthy_900_max_score": float(healthy_int8.max()), "faults": faults}


def as_measured(samples: np.ndarray, channel: int, rms_g: float) -> np.ndarray:
    """The channel scaled to ``rms_g`` and quantized as the node's ADXL345 and driver report it."""
    z = samples[:, channel].astype(np.float64)
    z *= rms_g / np.sqrt(np.mean(z * z))
    measured = samples.copy()
    measured[:, channel] = np.floor((z + 1.0) / ADXL345_LSB_G) * DRIVER_SCALE_G
    return measured


def node_levels(bench: Bench) -> list[dict[str, Any]]:
    """The shipped model on every recording at the levels a node measures, node hop."""
    shipped = package.load_package(SHIPPED)
    spec, channel = shipped.feature_spec, shipped.feature_spec["channels"][0]
    results = []
    for level in NODE_LEVELS_G:
        healthy, faults = [], {}
        for speed in SPEEDS:
            for condition in ("Normal", *FAULTS):
                samples = as_measured(training.node_samples(bench.recording(f"{condition}_{speed}"), spec),
                                      channel, level)
                scores = training.node_scores(shipped.manifest, shipped.model,
                                                  training.feature_matrix(samples, spec))
                if condition == "Normal":
                    healthy.append(scores)
                else:
                    faults[f"{condition}_{speed}"] = scores
        normal = np.concatenate(healthy)
        results.append({"rms_g": level, "threshold": shipped.threshold, "healthy_windows": len(normal),
                        "healthy_over": int(np.sum(normal > shipped.threshold)),
                        "healthy_max_score": float(normal.max()),
                        "fault_over_min": min(float(np.mean(f > shipped.threshold)) for f in faults.values()),
                        "fault_min_score": min(float(f.min()) for f in faults.values())})
    return results


def classic_features(samples: np.ndarray, channel: int, window: int) -> np.ndarray:
    """The classic detector's features: log band energies over the whole spectrum, RMS, kurtosis, crest."""
    edges = np.unique(np.round(np.geomspace(1, window // 2, 17)).astype(int))
    rows = []
    for start in range(0, len(samples) - window + 1, EVAL_HOP):
        x = samples[start:start + window, channel].astype(np.float64)
        x = x - x.mean()
        rms = np.sqrt(np.mean(x * x)) + 1e-12
        power = np.abs(np.fft.rfft(x * np.hanning(window))) ** 2
        bands = [np.log10(power[a:b].sum() + 1e-30) for a, b in pairwise(edges)]
        rows.append([*bands, np.log10(rms), np.mean((x / rms) ** 4), np.abs(x).max() / rms])
    return np.array(rows)


def classic_bar2(bench: Bench) -> dict[str, Any]:
    """Mahalanobis distance on classic features, threshold at the 99.9th percentile of training scores."""
    channel, window = bench.spec["channels"][0], bench.spec["window"]

    def rows(name: str) -> np.ndarray:
        return classic_features(training.node_samples(bench.recording(name), bench.spec), channel, window)

    fit = np.vstack([rows("Normal_600"), rows("Normal_1200")])
    mean, inverse = fit.mean(axis=0), np.linalg.pinv(np.cov(fit.T))

    def distance(x: np.ndarray) -> np.ndarray:
        d = x - mean
        return np.einsum("ij,jk,ik->i", d, inverse, d)

    threshold = np.percentile(distance(fit), 99.9)
    return {"healthy_900_over": float(np.mean(distance(rows("Normal_900")) > threshold)),
            "fault_900_over_min": min(float(np.mean(distance(rows(f"{f}_900")) > threshold)) for f in FAULTS)}


def report(results: dict[str, Any]) -> str:
    lines = ["Bar 1 (per speed: first 60 % healthy trained, rest tested; int8 scores unless marked float)", "",
             "| speed | threshold | healthy test over / windows | fault | AUC float | AUC int8 | "
             "fault windows over | AUC same RMS |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for entry in results["bar1"]:
        for fault, f in entry["faults"].items():
            lines.append(f"| {entry['speed_rpm']} | {entry['threshold']:.3f} | {entry['healthy_test_over']} / "
                         f"{entry['healthy_test_windows']} | {fault} | {f['auc_float']:.4f} | {f['auc_int8']:.4f} | "
                         f"{f['over_threshold']:.1%} | {f['auc_same_rms_int8']:.4f} |")
    b2 = results["bar2"]
    lines += ["", f"Bar 2 (trained 600 + 1200 rpm, tested 900 rpm): threshold {b2['threshold']:.3f}, healthy 900 "
              f"windows over: {b2['healthy_900_over']:.1%} of {b2['healthy_900_windows']} "
              f"(same RMS: {b2['healthy_900_over_same_rms']:.1%})", "",
              "| fault | windows over | AUC float | AUC int8 | AUC same RMS | over, same RMS |",
              "| --- | --- | --- | --- | --- | --- |"]
    for fault, f in b2["faults"].items():
        lines.append(f"| {fault} | {f['over_threshold']:.1%} | {f['auc_float']:.4f} | {f['auc_int8']:.4f} | "
                     f"{f['auc_same_rms_int8']:.4f} | {f['over_threshold_same_rms']:.1%} |")
    lines += ["", "Shipped model at node levels (every recording scaled, ADXL345-quantized; node hop)", "",
              "| RMS (g) | healthy windows over | largest healthy score | fault windows over (worst file) | "
              "smallest fault score |", "| --- | --- | --- | --- | --- |"]
    for entry in results["node_levels"]:
        lines.append(f"| {entry['rms_g']:g} | {entry['healthy_over']} / {entry['healthy_windows']} | "
                     f"{entry['healthy_max_score']:.3f} | {entry['fault_over_min']:.1%} | "
                     f"{entry['fault_min_score']:.2f} |")
    classic = results["classic_bar2"]
    lines += ["", f"Classic detector on bar 2 (log band energies, RMS, kurtosis, crest; Mahalanobis; 99.9th "
              f"percentile): healthy 900 windows over: {classic['healthy_900_over']:.1%}, fault windows over "
              f"(worst file): {classic['fault_900_over_min']:.1%}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    bench = Bench(args.data)
    started = time.perf_counter()
    results = {"bar1": [bar1(bench, speed) for speed in SPEEDS], "bar2": bar2(bench),
               "classic_bar2": classic_bar2(bench), "node_levels": node_levels(bench)}
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
