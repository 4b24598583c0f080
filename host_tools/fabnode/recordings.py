"""Vibration recordings from disk, and resampling them to a sensor's output data rate.

A recording is ``samples`` (float64, shape ``(n, axes)``) at ``rate_hz``. Formats:

- ``.npy``: 1-D (one axis) or ``n x axes``; the rate comes from the caller or from an
  ``index.json`` next to the file (``{"sample_rate_hz": ..., "files": {name: {...}}}``, the
  layout of the shared bearing set; a per-file ``sample_rate_hz`` overrides the top-level one).
- ``.wav``: integer PCM read with the stdlib ``wave`` module, scaled to [-1, 1); the rate is in
  the file.
- ``.csv``: one column per axis, optionally a header row. The rate comes from the caller, a
  ``# sample_rate_hz: N`` comment line, a time column in seconds (``t``, ``time``, ``time_s``),
  or ``index.json``.

``resample`` is rational polyphase resampling with a Kaiser-windowed-sinc anti-alias filter:
flat (within 0.01 %) up to 80 % of the lower Nyquist frequency, at least 80 dB down from it on.
"""

from __future__ import annotations

import csv
import json
import math
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fabnode.errors import FabnodeError

FloatArray = npt.NDArray[np.float64]

INDEX_FILE = "index.json"
TIME_COLUMNS = ("t", "time", "time_s")
PASSBAND = 0.8  # fraction of the lower Nyquist frequency kept flat
STOPBAND_DB = 80.0
MAX_RATIO_TERM = 10000  # largest up/down factor; keeps the filter a sane length
_GATHER_BUDGET = 1 << 21  # elements per chunk of the polyphase gather, bounds memory


class RecordingError(FabnodeError):
    """A recording cannot be read, or its sample rate is unknown."""


@dataclass(frozen=True)
class Recording:
    """Samples (``n x axes``, float64) at ``rate_hz``; ``meta`` is the file's ``index.json`` entry."""

    samples: FloatArray
    rate_hz: float
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def axes(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    def resampled(self, rate_hz: float) -> Recording:
        """The same recording at ``rate_hz``, anti-alias filtered."""
        return Recording(resample(self.samples, self.rate_hz, rate_hz), float(rate_hz), self.source, self.meta)


def load_recording(path: str | Path, rate: float | None = None) -> Recording:
    """Read a ``.npy``, ``.wav`` or ``.csv`` recording; ``rate`` (Hz) is for files that lack one."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"recording {path} does not exist")
    if rate is not None and not rate > 0:
        raise RecordingError(f"sample rate must be positive, got {rate}")
    meta = _index_entry(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        samples, file_rate = _read_npy(path), None
    elif suffix == ".wav":
        samples, file_rate = _read_wav(path)
    elif suffix == ".csv":
        samples, file_rate = _read_csv(path)
    else:
        raise RecordingError(f"{path.name}: unknown recording format {suffix or '(no extension)'}",
                             hint="use .npy, .wav or .csv")
    if file_rate is not None and rate is not None and not math.isclose(file_rate, rate, rel_tol=1e-6):
        raise RecordingError(f"{path.name} is sampled at {file_rate:g} Hz but {rate:g} Hz was given",
                             hint="leave out the rate for files that carry their own")
    index_rate = meta.get("sample_rate_hz")
    resolved = file_rate or rate or (float(index_rate) if index_rate else None)
    if resolved is None:
        raise RecordingError(f"the sample rate of {path.name} is unknown",
                             hint=f"pass it (--rate HZ), or put an {INDEX_FILE} with sample_rate_hz next to it")
    if len(samples) == 0:
        raise RecordingError(f"{path.name} holds no samples")
    if not np.all(np.isfinite(samples)):
        raise RecordingError(f"{path.name} contains NaN or infinite samples")
    return Recording(samples, float(resolved), str(path), meta)


def _index_entry(path: Path) -> dict[str, Any]:
    """The file's entry in ``index.json`` next to it, with the set's sample rate filled in."""
    index_path = path.with_name(INDEX_FILE)
    if not index_path.is_file():
        return {}
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{index_path} is not valid JSON: {exc}") from None
    if not isinstance(index, dict):
        raise RecordingError(f"{index_path} must hold a JSON object")
    entry = dict(index.get("files", {}).get(path.name, {}))
    if "sample_rate_hz" in index:
        entry.setdefault("sample_rate_hz", index["sample_rate_hz"])
    return entry


def _as_columns(data: npt.NDArray[Any], path: Path) -> FloatArray:
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise RecordingError(f"{path.name} has shape {data.shape}; expected n samples or n x axes")
    return np.asarray(data, dtype=np.float64)


def _read_npy(path: Path) -> FloatArray:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path.name} is not a readable .npy array: {exc}") from None
    if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
        raise RecordingError(f"{path.name} holds {data.dtype} values, not numbers")
    return _as_columns(data, path)


def _read_wav(path: Path) -> tuple[FloatArray, float]:
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise RecordingError(f"{path.name} is not an integer PCM .wav file: {exc}",
                             hint="convert float .wav files to .npy") from None
    raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, width)
    if width == 1:  # 8-bit WAV is unsigned
        values = raw[:, 0].astype(np.float64) - 128.0
    else:  # little-endian signed; widen to int32 through the top bytes so 24-bit works too
        padded = np.zeros((len(raw), 4), dtype=np.uint8)
        padded[:, 4 - width:] = raw
        values = padded.view("<i4")[:, 0].astype(np.float64) / float(1 << (8 * (4 - width)))
    full_scale = float(1 << (8 * width - 1))
    return _as_columns((values / full_scale).reshape(-1, channels), path), float(rate)


def _read_csv(path: Path) -> tuple[FloatArray, float | None]:
    rate: float | None = None
    header: list[str] | None = None
    rows: list[list[float]] = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if row[0].lstrip().startswith("#"):
                rate = _rate_from_comment(",".join(row)) or rate
                continue
            try:
                rows.append([float(cell) for cell in row])
            except ValueError:
                if header is not None or rows:
                    raise RecordingError(f"{path.name} line {line_no}: not a row of numbers") from None
                header = [cell.strip().lower() for cell in row]
    if not rows:
        raise RecordingError(f"{path.name} holds no samples")
    if len({len(r) for r in rows}) != 1:
        raise RecordingError(f"{path.name}: rows have different numbers of columns")
    data = np.array(rows, dtype=np.float64)
    time_column = next((i for i, name in enumerate(header or []) if name in TIME_COLUMNS), None)
    if time_column is not None:
        steps = np.diff(data[:, time_column])
        if len(steps) == 0 or not np.all(steps > 0):
            raise RecordingError(f"{path.name}: the time column must increase")
        rate = rate or float(1.0 / np.median(steps))
        data = np.delete(data, time_column, axis=1)
    return _as_columns(data, path), rate


def _rate_from_comment(comment: str) -> float | None:
    key, _, value = comment.lstrip("# ").replace("=", ":").partition(":")
    if key.strip().lower() not in ("sample_rate_hz", "rate_hz", "rate"):
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def resample(samples: npt.ArrayLike, rate_in: float, rate_out: float) -> FloatArray:
    """Resample along axis 0 from ``rate_in`` to ``rate_out`` (Hz), anti-alias filtered.

    Sample 0 of the output is at the time of input sample 0; the output has
    ``ceil(n * rate_out / rate_in)`` samples. 1-D input gives 1-D output.
    """
    if not (rate_in > 0 and rate_out > 0):
        raise RecordingError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    data = np.asarray(samples, dtype=np.float64)
    ratio = (Fraction(str(rate_out)) / Fraction(str(rate_in))).limit_denominator(MAX_RATIO_TERM)
    up, down = ratio.numerator, ratio.denominator
    if max(up, down) > MAX_RATIO_TERM or not math.isclose(up / down, rate_out / rate_in, rel_tol=1e-9):
        raise RecordingError(f"cannot resample {rate_in:g} Hz to {rate_out:g} Hz exactly",
                             hint="choose rates whose ratio is a fraction with small terms")
    if up == down:
        return data.copy()
    columns = data.reshape(len(data), -1)
    phases, delay = _polyphase_filter(up, down)
    out = np.stack([_upfirdn(col, phases, up, down, delay) for col in columns.T], axis=1)
    return out[:, 0] if data.ndim == 1 else out


def _polyphase_filter(up: int, down: int) -> tuple[FloatArray, int]:
    """Kaiser windowed-sinc low-pass at the lower Nyquist frequency, split into ``up`` phases.

    Returns ``phases[p, i] = h[p + i * up]`` and the filter's group delay in upsampled samples.
    """
    factor = max(up, down)
    edge = 1.0 / factor  # the lower Nyquist frequency, in cycles per upsampled sample x 2
    transition = (1.0 - PASSBAND) * edge
    cutoff = edge - transition / 2
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    half = math.ceil((STOPBAND_DB - 7.95) / (2.285 * math.pi * transition) / 2)
    n = np.arange(-half, half + 1, dtype=np.float64)
    taps = cutoff * np.sinc(cutoff * n) * np.kaiser(2 * half + 1, beta)
    taps *= up / taps.sum()  # unity DC gain after zero-stuffing by ``up``
    per_phase = math.ceil(len(taps) / up)
    padded = np.zeros(per_phase * up)
    padded[: len(taps)] = taps
    return padded.reshape(per_phase, up).T.copy(), half


def _upfirdn(x: FloatArray, phases: FloatArray, up: int, down: int, delay: int) -> FloatArray:
    """Upsample by ``up``, filter, downsample by ``down``, computing only the kept outputs."""
    per_phase = phases.shape[1]
    count = -(-len(x) * up // down)
    # zeros around x so that every tap of the first and last outputs has a sample under it
    padded = np.concatenate([np.zeros(per_phase), x, np.zeros(per_phase + 2)])
    out = np.empty(count)
    taps_back = np.arange(per_phase)
    chunk = max(1, _GATHER_BUDGET // per_phase)
    for start in range(0, count, chunk):
        position = np.arange(start, min(start + chunk, count), dtype=np.int64) * down + delay
        phase, base = position % up, position // up
        index = base[:, None] - taps_back[None, :] + per_phase
        out[start:start + len(position)] = np.einsum("ki,ki->k", phases[phase], padded[index])
    return out
