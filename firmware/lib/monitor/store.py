"""The node's model store: /models/{active,previous,staging}/{model.tflite,manifest.json}.

A model becomes active only after its manifest, its sha256 and its self-test vector check out;
the swap is a sequence of directory renames, each atomic on littlefs, so a power cut leaves
either the old or the new model active (``recover()`` at boot finishes the job). Every function
returns or raises with the reason, in words, for the telemetry and for ``fabnode push-model``.
"""

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ROOT = "/models"
ACTIVE = "active"
PREVIOUS = "previous"
STAGING = "staging"
_TRASH = "trash"  # the old previous, renamed away before it is deleted
MODEL_FILE = "model.tflite"
MANIFEST_FILE = "manifest.json"
_REQUIRED = ("id", "features", "normalization", "input", "output", "score", "threshold", "fixed_point", "alarm",
             "self_test", "model_sha256")


class StoreError(Exception):
    """A model failed a check; the message says which and why."""


class Loaded:
    """An active model: its manifest, the ``tfl`` model, feature extractor and detector."""

    def __init__(self, manifest: "dict[str, Any]", model: "Any", extractor: "Any", detector: "Any") -> None:
        self.manifest = manifest
        self.model = model
        self.extractor = extractor
        self.detector = detector
        self.id = manifest["id"]
        self.sha256 = manifest["model_sha256"]


def _join(*parts: str) -> str:
    return "/".join(parts)


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _rmtree(path: str) -> None:
    if not _exists(path):
        return
    for name in os.listdir(path):
        child = _join(path, name)
        if os.stat(child)[0] & 0x4000:  # S_IFDIR
            _rmtree(child)
        else:
            os.remove(child)
    os.rmdir(path)


def makedirs(path: str) -> None:
    built = ""
    for part in path.split("/"):
        if not part:
            continue
        built += "/" + part if built or path.startswith("/") else part
        if not _exists(built):
            os.mkdir(built)


def sha256_file(path: str) -> str:
    """Lowercase hex sha256 of a file, read in small chunks."""
    from binascii import hexlify
    from hashlib import sha256

    digest = sha256()
    chunk = bytearray(512)
    view = memoryview(chunk)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(chunk)
            if not n:
                break
            digest.update(view[:n])
    return hexlify(digest.digest()).decode()


def read_manifest(folder: str) -> "dict[str, Any]":
    path = _join(folder, MANIFEST_FILE)
    try:
        with open(path) as f:
            manifest = json.load(f)
    except OSError:
        raise StoreError(f"{path} is missing") from None
    except ValueError:
        raise StoreError(f"{path} is not valid JSON (torn or corrupted write?)") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{path} is not a JSON object")
    for key in _REQUIRED:
        if key not in manifest:
            raise StoreError(f"{path} has no {key!r}")
    return manifest


def check(folder: str, rate_hz: "float | None" = None) -> Loaded:
    """Check the model in ``folder`` end to end and return it ``Loaded``; StoreError says what failed.

    Manifest fields, sha256 of model.tflite, the feature spec (and its rate against the sensor's
    ``rate_hz``), loading with ``tfl``, and the manifest's self-test vector, bit for bit.
    """
    manifest = read_manifest(folder)
    path = _join(folder, MODEL_FILE)
    if not _exists(path):
        raise StoreError(f"{path} is missing")
    digest = sha256_file(path)
    if digest != manifest["model_sha256"]:
        raise StoreError(f"{path} sha256 {digest[:12]}... does not match the manifest's "
                         f"{str(manifest['model_sha256'])[:12]}... (incomplete or corrupted copy)")
    spec = manifest["features"]
    model_rate = spec.get("rate_hz") if isinstance(spec, dict) else None
    if rate_hz is not None and model_rate != rate_hz:
        raise StoreError(f"model expects samples at {model_rate} Hz, the sensor gives {rate_hz} Hz")
    import tfl

    from monitor import anomaly, features

    try:
        model = tfl.Model.load(path)
    except (ValueError, IndexError, KeyError) as exc:
        raise StoreError(f"tfl cannot load {path}: {exc}") from None
    _self_test(model, manifest["self_test"])
    try:
        extractor = features.FeatureExtractor(spec)
        detector = anomaly.Detector(manifest, model)
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"manifest does not fit the firmware: {exc}") from None
    if extractor.size != detector.size:
        raise StoreError(f"features give {extractor.size} values, the model takes {detector.size}")
    return Loaded(manifest, model, extractor, detector)


def _self_test(model: "Any", vector: "dict[str, list[int]]") -> None:
    data = bytes(v & 0xFF for v in vector["input"])
    try:
        out = model.invoke(data)
    except (ValueError, IndexError) as exc:
        raise StoreError(f"self-test could not run: {exc}") from None
    expected = vector["output"]
    if len(out) != len(expected):
        raise StoreError(f"self-test output has {len(out)} values, the manifest expects {len(expected)}")
    for i in range(len(expected)):
        got = out[i] - 256 if out[i] > 127 else out[i]
        if got != expected[i]:
            raise StoreError(f"self-test output[{i}] is {got}, the manifest expects {expected[i]}")


def recover(root: str = ROOT) -> "str | None":
    """Finish what a power cut interrupted: drop the trash, put ``previous`` back if ``active`` is gone.

    Returns a sentence saying what was done, or None.
    """
    _rmtree(_join(root, _TRASH))
    active, previous = _join(root, ACTIVE), _join(root, PREVIOUS)
    if not _exists(active) and _exists(previous):
        os.rename(previous, active)
        return "an interrupted model swap was rolled back to the previous model"
    return None


def activate(root: str = ROOT, rate_hz: "float | None" = None) -> Loaded:
    """Check ``staging`` and make it the active model (the old one becomes ``previous``).

    Returns the new model ``Loaded``; raises StoreError with the reason, leaving ``active`` as it was.
    """
    staging = _join(root, STAGING)
    if not _exists(staging):
        raise StoreError(f"nothing staged: {staging} does not exist")
    try:
        loaded = check(staging, rate_hz)
    except StoreError as exc:
        raise StoreError(f"staged model rejected: {exc}") from None
    active, previous, trash = _join(root, ACTIVE), _join(root, PREVIOUS), _join(root, _TRASH)
    _rmtree(trash)
    if _exists(active):
        if _exists(previous):
            os.rename(previous, trash)
        os.rename(active, previous)
    os.rename(staging, active)
    _rmtree(trash)
    return loaded


def activate_staged(root: str = ROOT, rate_hz: "float | None" = None) -> "dict[str, Any]":
    """``activate`` for the REPL: ``{"ok": True, "model": id, "previous": id or None}`` or
    ``{"ok": False, "error": why}`` (plain data, so a host can ``ast.literal_eval`` the printout)."""
    try:
        loaded = activate(root, rate_hz)
    except StoreError as exc:
        return {"ok": False, "error": str(exc)}
    previous = info(root)[PREVIOUS]
    return {"ok": True, "model": loaded.id, "previous": previous["id"] if previous else None}


def load_active(root: str = ROOT, rate_hz: "float | None" = None) -> "tuple[Loaded | None, str | None]":
    """The active model ``Loaded``, or roll back to ``previous`` if it fails its checks.

    Returns ``(loaded or None, note)``; ``note`` says what went wrong or was done (None if all well).
    """
    note = recover(root)
    active, previous = _join(root, ACTIVE), _join(root, PREVIOUS)
    if not _exists(active):
        return None, note
    try:
        return check(active, rate_hz), note
    except StoreError as exc:
        reason = f"active model failed its checks: {exc}"
    if not _exists(previous):
        return None, reason + "; no previous model, running without one"
    try:
        loaded = check(previous, rate_hz)
    except StoreError as exc:
        return None, reason + f"; previous model failed too ({exc}), running without one"
    trash = _join(root, _TRASH)
    os.rename(active, trash)
    os.rename(previous, active)
    _rmtree(trash)
    return loaded, reason + f"; restored the previous model {loaded.id}"


def info(root: str = ROOT) -> "dict[str, Any]":
    """``{"active": {"id", "sha256"} or None, "previous": ..., "staged": bool}`` (manifests only)."""
    result: dict[str, Any] = {"staged": _exists(_join(root, STAGING))}
    for slot in (ACTIVE, PREVIOUS):
        try:
            manifest = read_manifest(_join(root, slot))
            result[slot] = {"id": manifest["id"], "sha256": manifest["model_sha256"]}
        except StoreError:
            result[slot] = None
    return result


def stage_dir(root: str = ROOT) -> str:
    """Empty ``staging`` and return its path, ready for the host to write the two files."""
    staging = _join(root, STAGING)
    _rmtree(staging)
    makedirs(staging)
    return staging
