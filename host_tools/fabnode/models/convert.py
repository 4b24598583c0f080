"""``fabnode convert``: a trained float autoencoder (Keras ``.keras``/``.h5``, SavedModel, float
``.tflite``) -> a full-int8 package, with TensorFlow's quantizer (the ``convert`` extra).

The model must take the board's feature vector (normalized as ``training`` normalizes it: fitted
on the calibration recordings) and reconstruct it. Checks, each a clear error: the input and
output shapes match the feature spec; every operator runs in ``tfl``; ``tfl`` matches TFLM bit
for bit on the calibration windows; int8 scores agree with the float model's; the model fits the
board's budget (``force`` skips only this one).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabnode.boards import get_board
from fabnode.errors import FabnodeError, UsageError
from fabnode.models import runtimes, tflite_reader, training
from fabnode.models.build import board_spec, finish_package, package_id
from fabnode.models.package import ModelPackage, feature_extractor, new_manifest
from fabnode.recordings import load_recording
from fabnode.resources import use_firmware_lib

KERAS_SUFFIXES = (".keras", ".h5")
# int8 scores may differ from the float model's by at most this share of the threshold...
MAX_SCORE_DIFF_SHARE = 0.5
# ...and put at least this share of calibration windows on the same side of it.
MIN_DECISION_AGREEMENT = 0.99
_SELF_TEST_SEED = 0


class ConversionError(FabnodeError):
    """The model cannot be made into a package that runs on the node as it ran in float."""


def _tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info logs are noise here
    try:
        import tensorflow as tf
    except ImportError:
        raise ConversionError("converting a model needs TensorFlow",
                              hint="pip install 'fabnode[convert]'") from None
    return tf


def model_kind(path: Path) -> str:
    """``keras``, ``saved_model`` or ``tflite``, from the path."""
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise UsageError(f"{path} is a directory without saved_model.pb: not a SavedModel")
        return "saved_model"
    if path.suffix.lower() in KERAS_SUFFIXES:
        return "keras"
    if path.suffix.lower() == ".tflite":
        return "tflite"
    raise UsageError(f"{path.name}: unknown model format",
                     hint="give a Keras .keras/.h5 file, a SavedModel directory or a float .tflite")


def _converter(tf: Any, path: Path, kind: str) -> Any:
    if kind == "keras":
        try:
            model = tf.keras.models.load_model(path, compile=False)
        except (OSError, ValueError) as exc:
            raise ConversionError(f"cannot load the Keras model {path.name}: {exc}") from None
        return tf.lite.TFLiteConverter.from_keras_model(model)
    return tf.lite.TFLiteConverter.from_saved_model(str(path))


def _quiet() -> contextlib.AbstractContextManager[Any]:
    """Keras prints export progress on stdout; keep stdout for results (``--json``)."""
    return contextlib.redirect_stdout(sys.stderr)


def float_tflite(path: Path) -> bytes:
    """The model as a float .tflite: the reference the int8 model is compared with."""
    kind = model_kind(path)
    if kind == "tflite":
        data = path.read_bytes()
        try:
            summary = tflite_reader.summarize(data)
        except tflite_reader.ModelFileError as exc:
            raise ConversionError(f"{path.name}: {exc}") from None
        if summary.input.dtype != "float32":
            raise ConversionError(f"{path.name} is already quantized ({summary.input.dtype} input)",
                                  hint="give the float model; convert quantizes it with your calibration data")
        return data
    tf = _tensorflow()
    with _quiet():
        return bytes(_converter(tf, path, kind).convert())


def int8_tflite(path: Path, float_model: bytes, calibration: NDArray[np.float32]) -> bytes:
    """Full-integer quantization (int8 weights, activations, input and output) calibrated on ``calibration``."""
    tf = _tensorflow()

    def representative() -> Iterator[list[NDArray[np.float32]]]:
        for row in calibration:
            yield [row[None, :]]

    kind = model_kind(path)
    try:
        with _quiet():
            if kind == "tflite":
                from tensorflow.lite.python.optimize import calibrator

                quantizer = calibrator.Calibrator(float_model)
                return bytes(quantizer.calibrate_and_quantize(representative, tf.int8, tf.int8, False))
            converter = _converter(tf, path, kind)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
            return bytes(converter.convert())
    except (RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"TensorFlow cannot quantize the model to full int8: {first_line}") from None


def float_outputs(float_model: bytes, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
    """Outputs of the float model (LiteRT), one row per input row."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=float_model)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    rows = []
    for row in inputs:
        interpreter.set_tensor(source, row[None, :].astype(np.float32))
        interpreter.invoke()
        rows.append(np.array(interpreter.get_tensor(target), np.float32).reshape(-1))
    return np.array(rows, np.float32)


@dataclass(frozen=True)
class Check:
    """One check's outcome, for the conversion report."""

    name: str
    detail: str


def _check_shapes(summary: tflite_reader.ModelSummary, size: int, names: str) -> None:
    if (summary.inputs, summary.outputs) != (1, 1):
        raise ConversionError(f"the model has {summary.inputs} inputs and {summary.outputs} outputs; "
                              "it needs one of each")
    for role, tensor in (("input", summary.input), ("output", summary.output)):
        if tuple(tensor.shape) != (1, size):
            raise ConversionError(f"the model's {role} is {list(tensor.shape)}, the feature spec gives [1, {size}] "
                                  f"({names})", hint="convert takes autoencoders over the node's feature vector")


def _check_bit_exact(model: bytes, interpreter: Any, inputs: NDArray[np.int8]) -> str:
    ours, reference = runtimes.tfl_outputs(interpreter, inputs), runtimes.tflm_outputs(model, inputs)
    differ = np.flatnonzero(np.any(ours != reference, axis=1))
    if len(differ):
        raise ConversionError(f"the node's interpreter differs from TFLM on {len(differ)} of {len(inputs)} "
                              f"calibration windows (first: window {differ[0]})",
                              hint="report it: tfl must match TFLM bit for bit")
    return f"{len(inputs)} windows identical"


def convert_package(model_path: str | Path, calibration: Sequence[str | Path], board_id: str, out: str | Path,
                    rate: float | None = None, force: bool = False, model_id: str | None = None,
                    threshold: float | None = None,
                    report: Callable[[Check], None] | None = None) -> ModelPackage:
    """``fabnode convert``: quantize, check and package a float autoencoder for ``board_id``."""
    model_path, out = Path(model_path), Path(out)
    board = get_board(board_id)
    chosen_id = package_id(out, model_id)
    spec = board_spec(board)
    names = feature_extractor(spec).names
    say = report or (lambda check: None)

    recordings = [load_recording(path, rate) for path in calibration]
    per_recording = [training.feature_matrix(training.node_samples(r, spec), spec) for r in recordings]
    features = np.vstack(per_recording)
    normalization = training.fit_normalization(features)
    normalized = np.clip(normalization.apply(features), *training.INPUT_RANGE).astype(np.float32)

    float_model = float_tflite(model_path)
    _check_shapes(tflite_reader.summarize(float_model), len(names), ", ".join(names))
    model = int8_tflite(model_path, float_model, normalized)
    summary = tflite_reader.summarize(model)
    if summary.input.dtype != "int8" or summary.output.dtype != "int8":
        raise ConversionError(f"the quantized model has {summary.input.dtype} input and {summary.output.dtype} "
                              "output; the node needs int8 on both")
    _check_shapes(summary, len(names), ", ".join(names))
    say(Check("shapes", f"input and output [1, {len(names)}] match the feature spec"))
    try:
        interpreter = runtimes.load_tfl(model)
    except runtimes.InterpreterError as exc:
        raise ConversionError(f"{exc} (operators: {', '.join(summary.ops)})") from None
    say(Check("operators", f"{', '.join(summary.ops)}: all supported by tfl"))

    scoring = {"score": {"type": training.SCORE_TYPE}, "normalization": normalization.to_json(),
               "input": _tensor_json(summary.input), "output": _tensor_json(summary.output)}
    draft = {**scoring, "threshold": 1.0}  # the detector, before the int8 scores set the threshold
    int8_scores = training.node_scores(draft, interpreter, features)
    quantized_inputs = _node_inputs(draft, interpreter, features)
    say(Check("bit-exact", _check_bit_exact(model, interpreter, quantized_inputs)))

    chosen_threshold = training.threshold_from(int8_scores) if threshold is None else float(threshold)
    float_scores = training.reconstruction_error(normalized, float_outputs(float_model, normalized)).astype(np.float64)
    agreement = _agreement(float_scores, int8_scores, chosen_threshold)
    say(Check("float vs int8", f"max score difference {agreement['max_abs_score_diff']:.4g} "
                               f"(threshold {chosen_threshold:.4g}), same decision on "
                               f"{agreement['decision_agreement']:.1%} of {len(features)} windows"))

    test_input = [int(v) for v in np.random.default_rng(_SELF_TEST_SEED).integers(-128, 128, len(names))]
    test_input[:2] = [-128, 127]
    manifest = new_manifest(
        chosen_id, board, spec, model, interpreter, ops=list(summary.ops), scoring=scoring,
        threshold=chosen_threshold, alarm=training.ALARM_K_OF_N,
        self_test={"input": test_input,
                   "output": runtimes.tfl_outputs(interpreter, np.array([test_input], np.int8))[0].tolist()},
        training={"sources": [training.source_entry(r, len(rows))
                              for r, rows in zip(recordings, per_recording, strict=True)],
                  "converted_from": model_path.name, "calibration": {"windows": len(features)}},
        agreement=agreement,
    )
    package = finish_package(manifest, model, board, out, force)
    say(Check("budget", f"arena {manifest['arena_bytes']} B + model {manifest['flash_bytes']} B"
                        + (" (budget check skipped: --force)" if force else " fit the board")))
    return package


def _node_inputs(draft: dict[str, Any], interpreter: Any, features: NDArray[np.float32]) -> NDArray[np.int8]:
    """The int8 model inputs the node makes from raw feature rows (``monitor.anomaly.Detector.quantize``)."""
    use_firmware_lib()
    from monitor import anomaly

    detector = anomaly.Detector(draft, interpreter)
    return np.array([np.frombuffer(bytes(detector.quantize(row.tolist())), np.int8)
                     for row in training.q12_rows(features)], dtype=np.int8)


def _agreement(float_scores: NDArray[np.float64], int8_scores: NDArray[np.float64], threshold: float) -> dict[str, Any]:
    difference = np.abs(float_scores - int8_scores)
    same_side = float(np.mean((float_scores > threshold) == (int8_scores > threshold)))
    worst = float(difference.max())
    if worst > MAX_SCORE_DIFF_SHARE * threshold or same_side < MIN_DECISION_AGREEMENT:
        raise ConversionError(f"the int8 model disagrees with the float model: scores differ by up to {worst:.4g} "
                              f"against a threshold of {threshold:.4g}, same decision on {same_side:.1%} of windows",
                              hint="calibrate on more representative data, or make the model less sensitive "
                                   "to small input changes")
    return {"windows": len(float_scores), "max_abs_score_diff": worst,
            "median_abs_score_diff": float(np.median(difference)), "decision_agreement": same_side}


def _tensor_json(tensor: tflite_reader.TensorInfo) -> dict[str, Any]:
    return {"shape": list(tensor.shape), "dtype": tensor.dtype, "scale": tensor.scale,
            "zero_point": tensor.zero_point}
