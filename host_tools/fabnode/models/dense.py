"""The float dense network that training hands to the quantizer.

Training (numpy, ``fabnode.models.training``) produces a :class:`FloatDenseModel`; the quantizer
(``fabnode.models.quantize``) turns it into an int8 model and ``tflite_writer`` into a .tflite.
Kernels are laid out as in Keras and numpy (``inputs x outputs``, ``y = x @ kernel + bias``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

ACTIVATIONS = ("linear", "relu", "relu6")

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class DenseLayer:
    kernel: FloatArray  # (inputs, outputs)
    bias: FloatArray  # (outputs,)
    activation: str = "linear"

    def __post_init__(self) -> None:
        if self.kernel.ndim != 2 or self.bias.shape != (self.kernel.shape[1],):
            raise ValueError(f"dense layer needs kernel (inputs, outputs) and bias (outputs,), "
                             f"got {self.kernel.shape} and {self.bias.shape}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}")

    def forward(self, x: FloatArray) -> FloatArray:
        y = x @ self.kernel + self.bias
        if self.activation == "relu":
            y = np.maximum(y, 0.0)
        elif self.activation == "relu6":
            y = np.clip(y, 0.0, 6.0)
        return y.astype(np.float32)


@dataclass(frozen=True)
class FloatDenseModel:
    """A stack of fully connected layers, float32, batch-first."""

    layers: tuple[DenseLayer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("a dense model needs at least one layer")
        for before, after in pairwise(self.layers):
            if before.kernel.shape[1] != after.kernel.shape[0]:
                raise ValueError(f"layer sizes do not chain: {before.kernel.shape} then {after.kernel.shape}")

    @property
    def input_size(self) -> int:
        return int(self.layers[0].kernel.shape[0])

    @property
    def output_size(self) -> int:
        return int(self.layers[-1].kernel.shape[1])

    def activations(self, x: FloatArray) -> list[FloatArray]:
        """Every layer's output for a batch ``x`` (n, inputs); the last one is the model output."""
        outputs = []
        for layer in self.layers:
            x = layer.forward(x)
            outputs.append(x)
        return outputs

    def predict(self, x: FloatArray) -> FloatArray:
        return self.activations(np.asarray(x, dtype=np.float32))[-1]
