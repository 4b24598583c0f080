"""Healthy-only anomaly models: node features of recordings, a numpy autoencoder, its threshold.

Features come from the firmware's own ``monitor.features`` (imported under CPython), so the
training data is what the node computes. The autoencoder is a small dense network trained with
Adam in numpy (no TensorFlow needed); it learns to reconstruct normalized healthy feature
vectors, and its anomaly score is the mean squared reconstruction error. The threshold is set on
healthy windows the network was not fitted to.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabnode.boards import Board
from fabnode.errors import FabnodeError
from fabnode.models import package, runtimes
from fabnode.models.dense import DenseLayer, FloatArray, FloatDenseModel
from fabnode.models.quantize import quantize_dense
from fabnode.models.tflite_writer import write_dense_tflite
from fabnode.recordings import Recording
from fabnode.resources import use_firmware_lib

SCORE_TYPE = "reconstruction_mse"
# Smallest spread a feature is normalized by, in its own units (decades for the log features): a
# feature that barely moves on healthy data must not turn a twofold change into a huge z-score.
MIN_SPREAD = 0.3
# Normalized values the int8 input covers: healthy data sits within about +-3, faults far outside.
INPUT_RANGE = (-8.0, 8.0)
HIDDEN_LAYERS = (16, 4, 16)
# Threshold = margin x the largest score of the held-out healthy windows, and at least
# MIN_THRESHOLD: a window half a spread off its reconstruction on average (0.5^2) is not alarming.
THRESHOLD_MARGIN = 4.0
MIN_THRESHOLD = 0.25
HOLDOUT_SHARE = 0.25
# The node alarms when k of the last n windows are over the threshold.
ALARM_K_OF_N = (3, 5)
# Training windows overlap more than the node's hop: more (correlated) examples of the same data.
TRAINING_HOPS_PER_WINDOW = 8
FEATURE_ONE = 4096  # the node's features are Q12 integers (monitor.fixmath.ONE)


class TrainingError(FabnodeError):
    """Training cannot proceed with the data given."""


@dataclass(frozen=True)
class Normalization:
    """``z = (x - mean) / std`` per feature, as the manifest's ``normalization`` stores it."""

    mean: FloatArray
    std: FloatArray

    def apply(self, features: NDArray[np.floating]) -> FloatArray:
        return ((np.asarray(features, np.float64) - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}


@dataclass(frozen=True)
class TrainedModel:
    """What training hands to quantization and packaging."""

    spec: dict[str, Any]
    network: FloatDenseModel
    normalization: Normalization
    threshold: float  # float-model score threshold (packaging re-derives it on int8 scores)
    fit_features: FloatArray  # raw feature rows fitted: also the int8 calibration data
    holdout_features: FloatArray  # raw healthy feature rows not fitted, the threshold's evidence
    sources: list[dict[str, Any]] = field(default_factory=list)

    def float_scores(self, features: NDArray[np.floating]) -> FloatArray:
        return float_scores(self.network, self.normalization.apply(features))


def default_spec(rate_hz: float) -> dict[str, Any]:
    """The firmware's default feature spec at a sensor rate."""
    use_firmware_lib()
    from monitor import features

    return {**features.DEFAULT_SPEC, "rate_hz": rate_hz}


def node_samples(recording: Recording, spec: dict[str, Any]) -> NDArray[np.float32]:
    """The recording as the node's sampler delivers it: ``(n, axes)`` float32 g at the spec's rate.

    A one-axis recording goes into the model's channel (other axes stay zero); a recording with
    the spec's number of axes is used as is.
    """
    rate = float(spec["rate_hz"])
    if not np.isclose(recording.rate_hz, rate):
        recording = recording.resampled(rate)
    axes = int(spec["axes"])
    if recording.axes == axes:
        return recording.samples.astype(np.float32)
    if recording.axes == 1 and len(spec["channels"]) == 1:
        samples = np.zeros((len(recording.samples), axes), np.float32)
        samples[:, spec["channels"][0]] = recording.samples[:, 0]
        return samples
    raise TrainingError(f"{Path(recording.source).name or 'the recording'} has {recording.axes} axes; "
                        f"the model takes {axes} axes (or 1 when it uses one channel)")


def as_counts(samples: NDArray[Any], scale_g: float | None = None) -> tuple[NDArray[np.int32], float]:
    """``samples`` as the integer counts the features take, and g per count.

    Integer samples are a sensor's counts (``scale_g`` g each, 1.0 if not given). Float samples
    are g, quantized at a power of two that gives their largest value 28 bits (finer than any
    sensor; the features scale each window to 13 bits anyway).
    """
    data = np.asarray(samples)
    if np.issubdtype(data.dtype, np.integer):
        if np.abs(data).max(initial=0) >= 1 << 29:
            raise TrainingError("sensor counts must be below 2**29")
        return data.astype(np.int32), 1.0 if scale_g is None else float(scale_g)
    peak = float(np.abs(data).max(initial=0.0))
    if not np.isfinite(peak):
        raise TrainingError("the samples hold NaN or infinite values")
    exponent = 0 if peak == 0.0 else int(np.floor(np.log2((1 << 28) / peak)))
    scale = 2.0 ** -exponent
    return np.rint(np.asarray(data, np.float64) / scale).astype(np.int32), scale


def feature_matrix(samples: NDArray[Any], spec: dict[str, Any], hop: int | None = None,
                   scale_g: float | None = None) -> FloatArray:
    """Model features of every window of ``samples`` (n, axes; g, or counts with ``scale_g``), one row per window.

    The node computes them in Q12; the rows hold those values exactly (``Q12 / 4096`` in float32).
    """
    counts, scale = as_counts(samples, scale_g)
    features = package.feature_extractor(spec)
    features.set_scale_g(scale)
    window = int(spec["window"])
    hop = hop or int(spec["hop"])
    flat = np.ascontiguousarray(counts).ravel()
    axes = int(spec["axes"])
    out = array("i", bytes(4 * features.size))
    rows = []
    for start in range(0, len(counts) - window + 1, hop):
        features.compute(array("i", flat[start * axes:(start + window) * axes].tobytes()), out, False)
        rows.append(np.frombuffer(out, np.int32).copy())
    return (np.array(rows, np.float32) / np.float32(FEATURE_ONE)).reshape(len(rows), features.size)


def q12_rows(features: NDArray[np.floating]) -> NDArray[np.int32]:
    """Feature rows (``feature_matrix``) as the node's Q12 integers."""
    return np.rint(np.asarray(features, np.float64) * FEATURE_ONE).astype(np.int32)


def fit_normalization(features: NDArray[np.floating]) -> Normalization:
    data = np.asarray(features, np.float64)
    return Normalization(data.mean(axis=0).astype(np.float32),
                         np.maximum(data.std(axis=0), MIN_SPREAD).astype(np.float32))


def reconstruction_error(inputs: NDArray[np.floating], outputs: NDArray[np.floating]) -> FloatArray:
    """The anomaly score: mean squared difference per window (rows)."""
    diff = np.asarray(outputs, np.float64) - np.asarray(inputs, np.float64)
    scores: FloatArray = np.mean(diff * diff, axis=1).astype(np.float32)
    return scores


def float_scores(network: FloatDenseModel, normalized: NDArray[np.floating]) -> FloatArray:
    """Float-model scores of normalized windows, inputs clipped to the int8 input range as on the node."""
    clipped = np.clip(np.asarray(normalized, np.float32), *INPUT_RANGE)
    return reconstruction_error(clipped, network.predict(clipped))


def train_autoencoder(data: NDArray[np.floating], hidden: tuple[int, ...] = HIDDEN_LAYERS, epochs: int = 3000,
                      learning_rate: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0) -> FloatDenseModel:
    """A dense autoencoder (relu hidden layers, linear output) fitted to ``data`` with full-batch Adam."""
    x = np.asarray(data, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise TrainingError("training needs at least two windows of features")
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *hidden, x.shape[1]]
    weights = [rng.normal(0, np.sqrt(2.0 / a), (a, b)) for a, b in pairwise(sizes)]
    biases = [np.zeros(b) for b in sizes[1:]]
    params = [*weights, *biases]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    beta1, beta2 = 0.9, 0.999
    last = len(weights) - 1
    for step in range(1, epochs + 1):
        activations = [x]
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            y = activations[-1] @ w + b
            activations.append(y if i == last else np.maximum(y, 0.0))
        grad = 2.0 * (activations[-1] - x) / x.size
        grads_w: list[NDArray[np.float64]] = []
        grads_b: list[NDArray[np.float64]] = []
        for i in range(last, -1, -1):
            if i != last:
                grad = grad * (activations[i + 1] > 0)
            grads_w.insert(0, activations[i].T @ grad + weight_decay * weights[i])
            grads_b.insert(0, grad.sum(axis=0))
            grad = grad @ weights[i].T
        for p, g, m, v in zip(params, [*grads_w, *grads_b], moments, squares, strict=True):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= learning_rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    return FloatDenseModel(tuple(
        DenseLayer(w.astype(np.float32), b.astype(np.float32), "linear" if i == last else "relu")
        for i, (w, b) in enumerate(zip(weights, biases, strict=True))))


def threshold_from(holdout_scores: NDArray[np.floating]) -> float:
    """The alarm threshold from the scores of healthy windows the model was not fitted to."""
    if len(holdout_scores) == 0:
        raise TrainingError("no held-out healthy windows to set the threshold on",
                            hint="give longer healthy recordings (at least a few windows each)")
    return max(float(THRESHOLD_MARGIN * np.max(holdout_scores)), MIN_THRESHOLD)


def source_entry(recording: Recording, windows: int) -> dict[str, Any]:
    """The manifest's training-source entry: file name, sha256 of the file, windows used."""
    path = Path(recording.source)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else hashlib.sha256(
        np.ascontiguousarray(recording.samples).tobytes()).hexdigest()
    return {"name": path.name or "recording", "sha256": digest, "windows": windows}


def train(recordings: list[Recording], spec: dict[str, Any], seed: int = 0, epochs: int = 3000) -> TrainedModel:
    """Fit an autoencoder to healthy ``recordings`` and set its threshold.

    Each recording is split in time: the first 75 % is fitted, the rest is held out for the
    threshold (later windows are the honest test of a model of earlier ones).
    """
    if not recordings:
        raise TrainingError("training needs at least one healthy recording")
    window = int(spec["window"])
    hop = max(1, window // TRAINING_HOPS_PER_WINDOW)
    fit_rows, holdout_rows, sources = [], [], []
    for recording in recordings:
        samples = node_samples(recording, spec)
        split = int(len(samples) * (1 - HOLDOUT_SHARE))
        fitted, held = feature_matrix(samples[:split], spec, hop), feature_matrix(samples[split:], spec, hop)
        if len(fitted) == 0 or len(held) == 0:
            name = Path(recording.source).name or "a recording"
            raise TrainingError(f"{name} is too short: it needs at least {4 * window} samples at "
                                f"{spec['rate_hz']:g} Hz to give training and held-out windows")
        fit_rows.append(fitted)
        holdout_rows.append(held)
        sources.append(source_entry(recording, len(fitted) + len(held)))
    fit, holdout = np.vstack(fit_rows), np.vstack(holdout_rows)
    normalization = fit_normalization(fit)
    network = train_autoencoder(np.clip(normalization.apply(fit), *INPUT_RANGE), epochs=epochs, seed=seed)
    threshold = threshold_from(float_scores(network, normalization.apply(holdout)))
    return TrainedModel(spec, network, normalization, threshold, fit, holdout, sources)


def node_scores(manifest: dict[str, Any], model: bytes | Any, features: NDArray[np.floating]) -> NDArray[np.float64]:
    """Scores of feature rows exactly as the node makes them (``monitor.anomaly`` with ``tfl``).

    The node's score is a Q12 log2; these are its values, and ``score > threshold`` decides as
    the node does.
    """
    use_firmware_lib()
    from monitor import fixmath

    detector = _detector(manifest, model)
    return np.array([fixmath.to_float(detector.score(row.tolist())) for row in q12_rows(features)], np.float64)


def build_package(trained: TrainedModel, board: Board, model_id: str, created: str | None = None,
                  alarm: tuple[int, int] = ALARM_K_OF_N) -> tuple[dict[str, Any], bytes]:
    """Quantize ``trained`` to full int8 and describe it: (manifest, model.tflite bytes).

    The package threshold is set on the int8 scores of the held-out windows (what the node
    computes), with the same rule as the float threshold.
    """
    quantized = quantize_dense(trained.network, trained.normalization.apply(trained.fit_features),
                               input_range=INPUT_RANGE)
    model = write_dense_tflite(quantized, f"fabnode autoencoder {model_id}")
    interpreter = runtimes.load_tfl(model)
    size = trained.network.input_size
    scoring: dict[str, Any] = {
        "normalization": trained.normalization.to_json(),
        "input": {"shape": [1, size], "dtype": "int8", **quantized.input.to_json()},
        "output": {"shape": [1, size], "dtype": "int8", **quantized.output.to_json()},
        "score": {"type": SCORE_TYPE},
    }
    draft = {**scoring, "threshold": 1.0}  # the detector, before the int8 scores set the threshold
    holdout_int8 = node_scores(draft, interpreter, trained.holdout_features)
    threshold = threshold_from(holdout_int8)
    holdout_float = trained.float_scores(trained.holdout_features)
    same_side = (holdout_int8 > threshold) == (holdout_float > threshold)
    probe = trained.holdout_features[0]
    self_test_input = np.frombuffer(_detector(draft, interpreter).quantize(q12_rows(probe).tolist()),
                                    np.int8).copy()
    manifest = package.new_manifest(
        model_id, board, trained.spec, model, interpreter, ops=["FULLY_CONNECTED"], scoring=scoring,
        threshold=threshold, alarm=alarm, created=created,
        self_test={"input": self_test_input.tolist(),
                   "output": runtimes.tfl_outputs(interpreter, self_test_input[None, :])[0].tolist()},
        training={"sources": trained.sources,
                  "windows": {"train": len(trained.fit_features), "validation": len(trained.holdout_features)},
                  "rate_hz": float(trained.spec["rate_hz"])},
        agreement={"windows": len(holdout_int8),
                   "max_abs_score_diff": float(np.max(np.abs(holdout_int8 - holdout_float))),
                   "decision_agreement": float(np.mean(same_side))},
    )
    package.validate_manifest(manifest)
    return manifest, model


def _detector(manifest: dict[str, Any], model: Any) -> Any:
    use_firmware_lib()
    from monitor import anomaly

    return anomaly.Detector(manifest, model)
