"""Vibration signals for virtual nodes: synthetic machines, replayed recordings, and their file format.

Signals are ``(n, 3)`` float arrays in g (x, y, z) at a sensor's output data rate. A virtual node's
sensor model streams them from a signal file (``write_signal``; format in
``fabnode/sim/hw/simsignal.py`` and docs/virtual-node.md): a healthy segment and optionally a
bearing-fault segment, each looping, switched at the fault's onset.

Synthetic vibration is what a rolling-element bearing on a running shaft gives: shaft harmonics
(1x, 2x, 3x), broadband noise, and with a fault an impulse train at the outer-race (BPFO) or
inner-race (BPFI) defect frequency, each impact ringing the housing's resonance with an
exponential decay. Inner-race impacts are amplitude-modulated by the shaft (the defect moves
through the load zone).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fabnode.errors import FabnodeError
from fabnode.recordings import Recording

FloatArray = npt.NDArray[np.float64]

# the format read by fabnode/sim/hw/simsignal.py
MAGIC = b"FNSG"
VERSION = 1
HEADER = "<4sHHIHhHHI"
SEGMENT = "<II"
NO_ONSET = 0xFFFFFFFF
AXES = 3
AXIS_INDEX = {"x": 0, "y": 1, "z": 2}
MAX_SHIFT = 24

# 6205 deep-groove ball bearing (the shared recordings' bearing), multiples of the shaft rate
BPFO_RATIO = 3.585
BPFI_RATIO = 5.415
MAX_IMPACT_G = 4.0  # peak of one impact's ringing at severity 1


class SignalError(FabnodeError):
    """A signal cannot be made or read as asked."""


@dataclass(frozen=True)
class Machine:
    """A healthy machine: shaft speed, harmonic amplitudes (g, 1x first), noise (g RMS), mounting."""

    shaft_hz: float = 24.75
    harmonics_g: tuple[float, ...] = (0.08, 0.03, 0.012)
    noise_g: float = 0.01
    axis_gains: tuple[float, float, float] = (0.7, 0.35, 1.0)  # radial x, axial y, radial z
    gravity_g: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class BearingFault:
    """A bearing defect: ``kind`` "bpfo" (outer race) or "bpfi" (inner race), ``severity`` 0-1."""

    kind: str = "bpfo"
    severity: float = 0.5
    resonance_hz: float | None = None  # default: 30 % of the sample rate, inside the sensor's band
    decay_ms: float = 1.5
    jitter: float = 0.01  # relative spread of the impact spacing (rolling elements slip)

    def frequency_hz(self, shaft_hz: float) -> float:
        if self.kind == "bpfo":
            return BPFO_RATIO * shaft_hz
        if self.kind == "bpfi":
            return BPFI_RATIO * shaft_hz
        raise SignalError(f"unknown bearing fault kind '{self.kind}'", hint="use bpfo or bpfi")


def synthetic(machine: Machine, rate_hz: float, duration_s: float, fault: BearingFault | None = None,
              seed: int = 0) -> FloatArray:
    """``duration_s`` of the machine's vibration at ``rate_hz`` (g, ``n x 3``), with ``fault`` if given."""
    if rate_hz <= 0 or duration_s <= 0:
        raise SignalError(f"need a positive rate and duration, got {rate_hz} Hz for {duration_s} s")
    rng = np.random.default_rng(seed)
    n = round(duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    radial = np.zeros(n)
    for order, amplitude in enumerate(machine.harmonics_g, start=1):
        if order * machine.shaft_hz < rate_hz / 2:
            radial += amplitude * np.sin(2 * np.pi * order * machine.shaft_hz * t + order * 0.7)
    if fault is not None:
        radial += bearing_impacts(fault, machine.shaft_hz, rate_hz, n, rng)
    gains = np.asarray(machine.axis_gains, dtype=np.float64)
    noise = rng.standard_normal((n, AXES)) * machine.noise_g
    signal: FloatArray = radial[:, None] * gains[None, :] + noise + np.asarray(machine.gravity_g)[None, :]
    return signal


def bearing_impacts(fault: BearingFault, shaft_hz: float, rate_hz: float, n: int,
                    rng: np.random.Generator) -> FloatArray:
    """The fault's impact train, each impact a decaying ring of the housing resonance (g)."""
    if not 0 <= fault.severity <= 1:
        raise SignalError(f"bearing fault severity must be between 0 and 1, not {fault.severity}")
    spacing_s = 1.0 / fault.frequency_hz(shaft_hz)
    count = int(n / rate_hz / spacing_s) + 1
    gaps = spacing_s * (1 + fault.jitter * rng.standard_normal(count))
    times = np.cumsum(gaps) - gaps[0]
    times = times[times < n / rate_hz]
    peaks = np.full(len(times), fault.severity * MAX_IMPACT_G)
    if fault.kind == "bpfi":  # the defect passes through the load zone once per revolution
        peaks *= 0.5 * (1 + np.cos(2 * np.pi * shaft_hz * times))
    train = np.zeros(n)
    np.add.at(train, np.minimum((times * rate_hz).round().astype(int), n - 1), peaks)
    resonance = fault.resonance_hz or 0.3 * rate_hz
    decay_s = fault.decay_ms / 1000
    ring_t = np.arange(math.ceil(6 * decay_s * rate_hz) + 1) / rate_hz
    ring = np.exp(-ring_t / decay_s) * np.sin(2 * np.pi * resonance * ring_t + np.pi / 2)
    return np.convolve(train, ring)[:n]


def replay(recording: Recording, rate_hz: float, axis: str = "z", scale_g: float = 1.0,
           gravity_g: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> FloatArray:
    """A recording resampled to ``rate_hz`` (anti-aliased), in g; one channel goes onto ``axis``.

    A three-axis recording keeps its axes. ``scale_g`` converts the recording's unit to g.
    """
    samples = recording.resampled(rate_hz).samples * scale_g
    out = np.zeros((len(samples), AXES))
    if recording.axes == AXES:
        out[:] = samples
    elif recording.axes == 1:
        if axis not in AXIS_INDEX:
            raise SignalError(f"unknown axis '{axis}'", hint="use x, y or z")
        out[:, AXIS_INDEX[axis]] = samples[:, 0]
    else:
        raise SignalError(f"{recording.source or 'the recording'} has {recording.axes} channels; "
                          f"replay takes 1 or {AXES}")
    signal: FloatArray = out + np.asarray(gravity_g)[None, :]
    return signal


@dataclass(frozen=True)
class SignalFile:
    """A signal file's contents: segments as int16 ``n x 3`` arrays of ``g * 2**shift``."""

    rate_hz: float
    shift: int
    segments: tuple[npt.NDArray[np.int16], ...]
    onset_s: float | None

    def segment_g(self, index: int) -> FloatArray:
        return self.segments[index].astype(np.float64) / (1 << self.shift)


def write_signal(path: str | Path, healthy: FloatArray, rate_hz: float, fault: FloatArray | None = None,
                 onset_s: float | None = None) -> SignalFile:
    """Write segments (g, ``n x 3``) at ``rate_hz`` as a signal file; ``onset_s`` switches to ``fault``."""
    segments = [np.asarray(healthy, dtype=np.float64)] + ([np.asarray(fault, dtype=np.float64)] if fault is not None
                                                         else [])
    for segment in segments:
        if segment.ndim != 2 or segment.shape[1] != AXES or len(segment) == 0:
            raise SignalError(f"a signal segment must be n x {AXES} samples, not {segment.shape}")
    if onset_s is not None and fault is None:
        raise SignalError("a fault onset needs a fault segment")
    rate_mhz = round(rate_hz * 1000)
    if not 0 < rate_mhz < 1 << 32:
        raise SignalError(f"sample rate {rate_hz} Hz is out of range")
    peak = max(float(np.max(np.abs(s))) for s in segments)
    shift = MAX_SHIFT if peak == 0 else min(MAX_SHIFT, math.floor(math.log2(32767 / peak)))
    if shift < 0:
        raise SignalError(f"signal peak {peak:g} g is beyond what a signal file holds")
    quantized = tuple(np.clip(np.round(s * (1 << shift)), -32768, 32767).astype("<i2") for s in segments)
    header_size = struct.calcsize(HEADER) + struct.calcsize(SEGMENT) * len(quantized)
    onset_ms = NO_ONSET if onset_s is None else round(onset_s * 1000)
    table, first = b"", 0
    for segment in quantized:
        table += struct.pack(SEGMENT, first, len(segment))
        first += len(segment)
    with open(path, "wb") as handle:
        handle.write(struct.pack(HEADER, MAGIC, VERSION, header_size, rate_mhz, AXES, shift, len(quantized), 0,
                                 onset_ms))
        handle.write(table)
        for segment in quantized:
            handle.write(segment.tobytes())
    return SignalFile(rate_mhz / 1000, shift, quantized, onset_s)


def read_signal(path: str | Path) -> SignalFile:
    """Read a signal file back (tests, ``fabnode sim`` status)."""
    data = Path(path).read_bytes()
    size = struct.calcsize(HEADER)
    if len(data) < size:
        raise SignalError(f"{path} is too short to be a signal file")
    magic, version, header_size, rate_mhz, axes, shift, count, _, onset_ms = struct.unpack_from(HEADER, data)
    if magic != MAGIC or version != VERSION or axes != AXES:
        raise SignalError(f"{path} is not a version {VERSION} signal file")
    segments = []
    for i in range(count):
        first, frames = struct.unpack_from(SEGMENT, data, size + 8 * i)
        start = header_size + 2 * AXES * first
        segments.append(np.frombuffer(data, dtype="<i2", count=frames * AXES, offset=start).reshape(frames, AXES))
    return SignalFile(rate_mhz / 1000, shift, tuple(segments), None if onset_ms == NO_ONSET else onset_ms / 1000)
