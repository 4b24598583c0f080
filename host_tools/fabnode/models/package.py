"""Model packages: ``model.tflite`` (int8) + ``manifest.json``, as a directory or a .zip.

The manifest schema is documented in ``docs/model-package.md``. Every tool that reads a package
goes through :func:`load_package`, which validates the manifest and checks it against the model
(hash, operators, tensor shapes and quantization, self-test with ``tfl``), so a bad package is
rejected with the reason before anything uses it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fabnode.boards import Board
from fabnode.errors import FabnodeError
from fabnode.models import runtimes, tflite_reader
from fabnode.resources import use_firmware_lib

SCHEMA_VERSION = 1
MODEL_FILE = "model.tflite"
MANIFEST_FILE = "manifest.json"
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,48}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
CREATED_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# RAM a model (weights read in place + activation arena) may take on a node, per chip: what is
# left of MicroPython's heap once the firmware runs, with room for a second model during a swap.
MODEL_RAM_BUDGET = {"esp32": 48 * 1024, "esp32s3": 96 * 1024, "esp32c3": 40 * 1024}
# The filesystem holds active, previous and staging copies, next to logs and config.
FLASH_SHARE = 8


class PackageError(FabnodeError):
    """A model package is malformed, inconsistent with its model, or does not fit a board."""


@dataclass(frozen=True)
class ModelPackage:
    manifest: dict[str, Any]
    model: bytes
    source: Path

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])

    @property
    def feature_spec(self) -> dict[str, Any]:
        return dict(self.manifest["features"])

    @property
    def sha256(self) -> str:
        return str(self.manifest["model_sha256"])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def board_budget(board: Board) -> tuple[int, int]:
    """(RAM for weights + arena, flash for the package) a model may use on ``board``, in bytes."""
    return MODEL_RAM_BUDGET[board.chip], board.fs_size // FLASH_SHARE


# ---- manifest validation -------------------------------------------------------------------


class _Check:
    """Reads one JSON object's fields, naming the field path in every rejection."""

    def __init__(self, data: Any, where: str) -> None:
        self.where = where
        if not isinstance(data, dict):
            raise PackageError(f"manifest field '{where}' must be an object")
        self.data: dict[str, Any] = data

    def _name(self, key: str) -> str:
        return ".".join(part for part in (self.where, key) if part)

    def fail(self, key: str, problem: str) -> PackageError:
        return PackageError(f"manifest field '{self._name(key)}' {problem}")

    def value(self, key: str) -> Any:
        if key not in self.data:
            raise PackageError(f"manifest field '{self._name(key)}' is missing")
        return self.data[key]

    def integer(self, key: str, low: int | None = None, high: int | None = None) -> int:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(key, f"is {value}, outside {low}..{high}")
        return value

    def number(self, key: str, positive: bool = False) -> float:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, not {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be positive, not {value}")
        return float(value)

    def text(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.value(key)
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise self.fail(key, f"is not valid: {value!r}")
        return value

    def items(self, key: str, min_length: int = 0) -> list[Any]:
        value = self.value(key)
        if not isinstance(value, list) or len(value) < min_length:
            raise self.fail(key, f"must be a list of at least {min_length} entries")
        return value

    def numbers(self, key: str, length: int | None = None, positive: bool = False) -> list[float]:
        values = self.items(key)
        if length is not None and len(values) != length:
            raise self.fail(key, f"has {len(values)} entries, the model takes {length}")
        probe = _Check({str(i): v for i, v in enumerate(values)}, self._name(key))
        return [probe.number(str(i), positive) for i in range(len(values))]

    def child(self, key: str) -> _Check:
        return _Check(self.value(key), self._name(key))


def validate_manifest(manifest: Any) -> None:
    """Check the manifest's fields on their own (types, ranges, lengths that must agree)."""
    top = _Check(manifest, "")
    schema = top.integer("schema")
    if schema != SCHEMA_VERSION:
        raise top.fail("schema", f"is {schema}; this fabnode reads schema {SCHEMA_VERSION}")
    top.text("id", ID_PATTERN)
    top.text("created", CREATED_PATTERN)
    boards = top.items("boards", min_length=1)
    if not all(isinstance(b, str) for b in boards):
        raise top.fail("boards", "must list board ids")

    tensors = {}
    for name in ("input", "output"):
        tensor = top.child(name)
        shape = tensor.items("shape", min_length=1)
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise tensor.fail("shape", f"must list positive dimensions, not {shape!r}")
        if tensor.text("dtype") != "int8":
            raise tensor.fail("dtype", "must be int8")
        tensor.number("scale", positive=True)
        tensor.integer("zero_point", -128, 127)
        tensors[name] = math.prod(shape)

    features = top.child("features")
    features.number("rate_hz", positive=True)
    window = features.integer("window", low=1)
    features.integer("hop", low=1, high=window)
    features.integer("axes", low=1)
    size = feature_extractor(manifest["features"]).size
    if size != tensors["input"]:
        raise features.fail("", f"describes {size} features, the model takes {tensors['input']} inputs")

    normalization = top.child("normalization")
    normalization.numbers("mean", tensors["input"])
    normalization.numbers("std", tensors["input"], positive=True)
    top.child("score").text("type")
    top.number("threshold", positive=True)
    top.child("fixed_point")
    if manifest["fixed_point"] != detector_constants(manifest):
        raise top.fail("fixed_point", "does not match the normalization, tensor scales and threshold "
                       "(rebuild the package with fabnode train or fabnode convert)")
    alarm = top.child("alarm")
    alarm_state(manifest["alarm"], alarm)

    self_test = top.child("self_test")
    for name in ("input", "output"):
        values = self_test.items(name)
        if len(values) != tensors[name] or not all(
                isinstance(v, int) and not isinstance(v, bool) and -128 <= v <= 127 for v in values):
            raise self_test.fail(name, f"must be {tensors[name]} int8 values")

    ops = top.items("ops", min_length=1)
    if not all(isinstance(op, str) for op in ops):
        raise top.fail("ops", "must list operator names")
    top.integer("arena_bytes", low=0)
    top.integer("flash_bytes", low=1)
    top.text("model_sha256", SHA256_PATTERN)

    origin = top.child("training")
    for index, source in enumerate(origin.items("sources")):
        entry = _Check(source, f"training.sources[{index}]")
        entry.text("name")
        entry.text("sha256", SHA256_PATTERN)
        entry.integer("windows", low=0)
    agreement = top.child("agreement")
    agreement.integer("windows", low=1)
    share = agreement.number("decision_agreement")
    if not 0.0 <= share <= 1.0:
        raise agreement.fail("decision_agreement", f"is {share}, not a fraction between 0 and 1")
    agreement.number("max_abs_score_diff")


def check_model(manifest: dict[str, Any], model: bytes) -> None:
    """Check the manifest against the model bytes: hash, operators, tensors, tfl support, self-test."""
    digest = sha256_hex(model)
    if digest != manifest["model_sha256"]:
        raise PackageError(f"{MODEL_FILE} has sha256 {digest[:12]}..., the manifest says "
                           f"{manifest['model_sha256'][:12]}...", hint="the package was modified or truncated")
    if len(model) != manifest["flash_bytes"]:
        raise PackageError(f"{MODEL_FILE} is {len(model)} bytes, the manifest says {manifest['flash_bytes']}")
    try:
        summary = tflite_reader.summarize(model)
    except tflite_reader.ModelFileError as exc:
        raise PackageError(f"{MODEL_FILE}: {exc}") from None
    if sorted(summary.ops) != sorted(manifest["ops"]):
        raise PackageError(f"the model uses operators {', '.join(summary.ops)}, "
                           f"the manifest lists {', '.join(manifest['ops'])}")
    for name, tensor in (("input", summary.input), ("output", summary.output)):
        declared = manifest[name]
        if list(tensor.shape) != declared["shape"] or tensor.dtype != declared["dtype"]:
            raise PackageError(f"the model's {name} is {tensor.dtype} {list(tensor.shape)}, "
                               f"the manifest says {declared['dtype']} {declared['shape']}")
        if tensor.zero_point != declared["zero_point"] or not math.isclose(
                tensor.scale, declared["scale"], rel_tol=1e-6):
            raise PackageError(f"the model's {name} quantization (scale {tensor.scale:g}, zero point "
                               f"{tensor.zero_point}) differs from the manifest's")
    try:
        interpreter = runtimes.load_tfl(model)
    except runtimes.InterpreterError as exc:
        raise PackageError(str(exc)) from None
    # A smaller arena is fine (the interpreter got better); a larger one would defeat the budget check.
    if interpreter.arena_bytes > manifest["arena_bytes"]:
        raise PackageError(f"the node's interpreter needs {interpreter.arena_bytes} arena bytes, "
                           f"the manifest promises {manifest['arena_bytes']}")
    expected = manifest["self_test"]["output"]
    got = runtimes.tfl_outputs(interpreter, np.array([manifest["self_test"]["input"]], np.int8))
    if got[0].tolist() != expected:
        raise PackageError("the self-test gives a different output from the one the manifest records",
                           hint="the model or the interpreter changed since the package was made")


def alarm_state(alarm: dict[str, Any], where: _Check | None = None) -> Any:
    """The firmware's k-of-n alarm for a manifest's ``alarm`` object; invalid settings are a PackageError."""
    use_firmware_lib()
    from monitor import alarms

    check = where or _Check(alarm, "alarm")
    k, n = check.integer("k"), check.integer("n")
    clear = check.integer("clear") if "clear" in alarm else None
    try:
        return alarms.AlarmState(k, n, clear)
    except ValueError as exc:
        raise PackageError(f"manifest field 'alarm' is not a valid k-of-n alarm: {exc}") from None


def detector_constants(manifest: dict[str, Any]) -> dict[str, Any]:
    """The node detector's integer constants for a manifest's floats (its ``fixed_point`` block)."""
    use_firmware_lib()
    from monitor import anomaly

    try:
        constants: dict[str, Any] = anomaly.fixed_point(manifest)
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"the manifest's normalization, tensor scales or threshold do not fit the node: {exc}"
                           ) from None
    return constants


def feature_extractor(spec: dict[str, Any]) -> Any:
    """The firmware's feature extractor for a feature spec; a spec it rejects is a PackageError."""
    use_firmware_lib()
    from monitor import features

    try:
        return features.FeatureExtractor(spec)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        detail = f"lacks {exc}" if isinstance(exc, KeyError) else str(exc)
        raise PackageError(f"manifest field 'features' is not valid: {detail}") from None


def new_manifest(model_id: str, board: Board, spec: dict[str, Any], model: bytes, interpreter: Any, *,
                 ops: list[str], scoring: dict[str, Any], threshold: float, alarm: tuple[int, int],
                 self_test: dict[str, Any], training: dict[str, Any], agreement: dict[str, Any],
                 created: str | None = None) -> dict[str, Any]:
    """A schema-1 manifest for ``model`` (run by ``interpreter``, a ``tfl.Model``).

    ``scoring`` holds what the node's detector reads besides the threshold: ``normalization``,
    ``input``, ``output`` and ``score``; their integer form (``fixed_point``) is added here. Every
    way of making a package (train, convert) ends here.
    """
    return {
        "schema": SCHEMA_VERSION,
        "id": model_id,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "boards": [board.id],
        "features": {**spec, "names": feature_extractor(spec).names},
        **scoring,
        "threshold": threshold,
        "fixed_point": detector_constants({**scoring, "threshold": threshold}),
        "alarm": {"k": alarm[0], "n": alarm[1]},
        "self_test": self_test,
        "ops": ops,
        "arena_bytes": int(interpreter.arena_bytes),
        "flash_bytes": len(model),
        "model_sha256": sha256_hex(model),
        "training": training,
        "agreement": agreement,
    }


def check_board(package: ModelPackage, board: Board, force: bool = False) -> None:
    """Check the package targets ``board`` and fits its RAM and flash (``force`` skips only the budget)."""
    if board.id not in package.manifest["boards"]:
        raise PackageError(f"model {package.id} is made for {', '.join(package.manifest['boards'])}, "
                           f"not {board.id}")
    rate = package.feature_spec["rate_hz"]
    sensor_rate = board.sensor("vibration").odr_hz
    if sensor_rate is None or not math.isclose(rate, sensor_rate):
        raise PackageError(f"model {package.id} expects {rate:g} Hz samples, "
                           f"{board.id}'s sensor gives {sensor_rate} Hz")
    if force:
        return
    ram_budget, flash_budget = board_budget(board)
    ram = package.manifest["arena_bytes"] + package.manifest["flash_bytes"]
    if ram > ram_budget:
        raise PackageError(f"model {package.id} needs {ram} bytes of RAM (arena + weights), "
                           f"{board.id} has {ram_budget} for a model", hint="use a smaller model, or --force")
    if package.manifest["flash_bytes"] > flash_budget:
        raise PackageError(f"model {package.id} is {package.manifest['flash_bytes']} bytes, "
                           f"{board.id} has {flash_budget} of flash for a model",
                           hint="use a smaller model, or --force")


# ---- reading and writing -------------------------------------------------------------------


def read_package_files(path: Path) -> tuple[bytes, bytes]:
    """(manifest bytes, model bytes) from a package directory or .zip, without validating them."""
    if path.is_dir():
        files = {name: path / name for name in (MANIFEST_FILE, MODEL_FILE)}
        for name, file in files.items():
            if not file.is_file():
                raise PackageError(f"{path} is not a model package: {name} is missing")
        return files[MANIFEST_FILE].read_bytes(), files[MODEL_FILE].read_bytes()
    if not path.is_file():
        raise PackageError(f"model package {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name: n for n in archive.namelist() if Path(n).name in (MANIFEST_FILE, MODEL_FILE)}
            for name in (MANIFEST_FILE, MODEL_FILE):
                if name not in names:
                    raise PackageError(f"{path.name} is not a model package: {name} is missing")
            return archive.read(names[MANIFEST_FILE]), archive.read(names[MODEL_FILE])
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"{path.name} is neither a package directory nor a readable .zip ({exc})") from None


def load_package(path: str | Path) -> ModelPackage:
    """Read and validate a model package; any problem is a PackageError naming it."""
    path = Path(path)
    manifest_bytes, model = read_package_files(path)
    try:
        manifest = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{MANIFEST_FILE} in {path} is not valid JSON ({exc})") from None
    validate_manifest(manifest)
    check_model(manifest, model)
    return ModelPackage(manifest, model, path)


def write_package(path: str | Path, manifest: dict[str, Any], model: bytes) -> Path:
    """Write a package as a directory, or a .zip when ``path`` ends in .zip; validate it first."""
    path = Path(path)
    validate_manifest(manifest)
    check_model(manifest, model)
    text = json.dumps(manifest, indent=2) + "\n"
    if path.suffix.lower() == ".zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST_FILE, text)
            archive.writestr(MODEL_FILE, model)
        path.write_bytes(buffer.getvalue())
    else:
        path.mkdir(parents=True, exist_ok=True)
        (path / MODEL_FILE).write_bytes(model)
        (path / MANIFEST_FILE).write_text(text)
    return path
