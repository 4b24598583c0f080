"""Small models for the model-tool tests: random float dense networks and what they are built from."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from fabnode.models.dense import DenseLayer, FloatDenseModel


def random_model(sizes: list[int], seed: int = 0) -> FloatDenseModel:
    """A dense network through ``sizes`` with relu hidden layers and a linear output."""
    rng = np.random.default_rng(seed)
    last = len(sizes) - 2
    return FloatDenseModel(tuple(
        DenseLayer(rng.normal(0, 0.5, (a, b)).astype(np.float32), rng.normal(0, 0.1, b).astype(np.float32),
                   "linear" if i == last else "relu")
        for i, (a, b) in enumerate(pairwise(sizes))))
