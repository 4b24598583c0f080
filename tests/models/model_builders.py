"""Models and signals for the model-tool tests: random dense networks, and synthetic machine
vibration, healthy or with a bearing fault."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fabnode.models.dense import DenseLayer, FloatDenseModel


def random_model(sizes: list[int], seed: int = 0) -> FloatDenseModel:
    """A dense network through ``sizes`` with relu hidden layers and a linear output."""
    rng = np.random.default_rng(seed)
    last = len(sizes) - 2
    return FloatDenseModel(tuple(
        DenseLayer(rng.normal(0, 0.5, (a, b)).astype(np.float32), rng.normal(0, 0.1, b).astype(np.float32),
                   "linear" if i == last else "relu")
        for i, (a, b) in enumerate(pairwise(sizes))))


def machine_signal(seconds: float, rate_hz: float, fault: bool = False, seed: int = 0,
                   shaft_hz: float = 20.0) -> NDArray[np.float64]:
    """Vibration of a machine in g: shaft harmonics and broadband noise; a bearing fault adds
    impacts at 3.6 x shaft rate (an outer-race defect), each ringing a 1.2 kHz resonance."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    # The harmonics keep fixed phases to each other, as on a real machine: they set the skewness.
    signal = sum(0.05 / k * np.sin(2 * np.pi * k * shaft_hz * t + k) for k in (1, 2, 3))
    signal = signal + rng.normal(0, 0.01, len(t))
    if fault:
        ring = np.arange(int(0.004 * rate_hz)) / rate_hz
        impact = 0.3 * np.exp(-ring / 0.0008) * np.sin(2 * np.pi * 1200 * ring)
        period = 1 / (3.6 * shaft_hz)
        for start in np.arange(0, seconds - 0.005, period):
            i = int((start + rng.normal(0, 0.0002)) * rate_hz)
            signal[max(i, 0):max(i, 0) + len(impact)] += impact[: len(signal) - max(i, 0)]
    return np.asarray(signal, np.float64)


SIGNAL_RATE_HZ = 12800.0  # above the board's 3200 Hz, so the tools resample as for real recordings


def write_signal(path: Path, seconds: float, fault: bool = False, seed: int = 0) -> Path:
    np.save(path, machine_signal(seconds, SIGNAL_RATE_HZ, fault, seed).astype(np.float32))
    return path

