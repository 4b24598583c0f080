"""Vibration features of one window, the same code on the node and in the host tools.

A window is ``window * axes`` interleaved samples in g (``array('f')``). Per axis the extractor
removes the mean, applies a Hann window and runs an in-place FFT on preallocated arrays; it fills

- ``summary`` (``array('f')``, ``axes * SUMMARY_SIZE``, row ``axis * SUMMARY_SIZE``): RMS (g),
  peak (g), crest factor, kurtosis (3 for Gaussian noise), skewness, dominant frequency (Hz) and
  velocity RMS (mm/s) over ``velocity_hz`` by spectral integration (ISO 10816/20816);
- ``out`` (``array('f')``, ``size``): the model's input, for each axis in ``channels``:
  log10 RMS (only with ``level``), log10 kurtosis, log10 crest factor, skewness, log10 of the
  energy share of each band in ``bands_hz``, and log10 of the peak-to-mean ratio of the envelope
  spectrum (the envelope of the ``envelope_hz`` band, modulation frequencies ``modulation_hz``).

The model features are shapes that do not move with shaft speed: bands above the shaft-harmonic
range, impulsiveness, and how periodic the impacts are, whatever their rate. The level (log10
RMS) is left out by default: it depends on the sensor's gain and mounting as much as on the
machine, and absolute severity is the ISO 10816 velocity alarm's job.
``docs/features.md`` gives the definitions and the reasoning.
"""

import math
from array import array

from monitor.fft import FFT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    from micropython import const
except ImportError:  # CPython: the host tools import this module too

    def const(value):  # type: ignore[no-redef,misc,no-untyped-def]
        return value


FEATURES_VERSION = const(1)
G_MM_S2 = 9806.65  # standard gravity in mm/s^2, to turn g into velocity in mm/s

RMS = const(0)
PEAK = const(1)
CREST = const(2)
KURTOSIS = const(3)
SKEWNESS = const(4)
DOMINANT_HZ = const(5)
VELOCITY_RMS = const(6)
SUMMARY_SIZE = const(7)
SUMMARY_FIELDS = ("rms_g", "peak_g", "crest", "kurtosis", "skewness", "dominant_hz", "velocity_rms_mm_s")
AXIS_NAMES = "xyz"

# Floors that keep the logarithms finite on a silent or constant window.
RMS_FLOOR_G = 1e-6
SHARE_FLOOR = 1e-9
RATIO_FLOOR = 1e-3

DEFAULT_SPEC = {
    "version": FEATURES_VERSION,
    "rate_hz": 3200,
    "window": 1024,
    "hop": 512,
    "axes": 3,
    "channels": [2],
    "level": False,
    "bands_hz": [[200, 283], [283, 400], [400, 566], [566, 800], [800, 1131], [1131, 1600]],
    "envelope_hz": [400, 1600],
    "modulation_hz": [6, 200],
    "velocity_hz": [10, 1000],
}


def uses_level(spec: "dict[str, Any]") -> bool:
    """Whether log10 RMS is a model input: ``spec["level"]``, true when absent (packages made before the key)."""
    level = spec.get("level", True)
    if level is not True and level is not False:
        raise ValueError("level must be true or false")
    return level


def feature_names(spec: "dict[str, Any]") -> "list[str]":
    """Names of the model inputs, in ``out`` order (``z.log_kurtosis``, ``z.band_200_283``, ...)."""
    names = []
    level = uses_level(spec)
    for axis in spec["channels"]:
        prefix = AXIS_NAMES[axis] + "." if axis < len(AXIS_NAMES) else f"a{axis}."
        if level:
            names.append(prefix + "log_rms")
        for name in ("log_kurtosis", "log_crest", "skewness"):
            names.append(prefix + name)
        for low, high in spec["bands_hz"]:
            names.append(prefix + f"band_{low}_{high}")
        names.append(prefix + "envelope_peak")
    return names


class FeatureExtractor:
    """Computes features of windows described by ``spec`` (a manifest's ``features`` dict)."""

    def __init__(self, spec: "dict[str, Any]") -> None:
        if spec.get("version", FEATURES_VERSION) != FEATURES_VERSION:
            raise ValueError(f"feature spec version {spec.get('version')} is not supported")
        n = spec["window"]
        if n < 16 or n & (n - 1):
            raise ValueError("window must be a power of two >= 16")
        rate = float(spec["rate_hz"])
        axes = spec["axes"]
        channels = spec["channels"]
        # No channels: summary only (a node without a model skips the model features' work).
        if any(c < 0 or c >= axes for c in channels):
            raise ValueError("channels must be axis numbers below axes")
        if spec["hop"] < 1:
            raise ValueError("hop must be at least one sample")
        self.rate_hz = rate
        self.window = n
        self.axes = axes
        self.channels = tuple(channels)
        half = n >> 1
        bin_hz = rate / n
        self._bin_hz = bin_hz
        self._bands = array("H", [])
        for band in spec["bands_hz"]:
            self._bands.extend(array("H", self._bins(band, 1)))
        self._envelope = self._bins(spec["envelope_hz"], 1)
        # The envelope carries the Hann window's shape, whose spectrum fills bins 0 and 1.
        self._modulation = self._bins(spec["modulation_hz"], 2)
        low, high = spec["velocity_hz"]
        self._velocity = (max(1, math.ceil(low / bin_hz)), min(half, int(high / bin_hz)))
        self._level = uses_level(spec)
        self.per_channel = (5 if self._level else 4) + len(spec["bands_hz"])
        self.size = self.per_channel * len(channels)
        self.names = feature_names(spec)

        self._fft = FFT(n)
        self._hann = array("f", (0.5 - 0.5 * math.cos(2 * math.pi * i / n) for i in range(n)))
        hann_energy = 0.0
        for w in self._hann:
            hann_energy += w * w
        # One-sided power -> mean square in g^2, then g -> mm/s at the bin's frequency (/ k^2 per bin).
        self._velocity_scale = 2.0 / (n * hann_energy) * (G_MM_S2 / (2 * math.pi * bin_hz)) ** 2
        self._re = array("f", bytearray(4 * n))
        self._im = array("f", bytearray(4 * n))
        self._power = array("f", bytearray(4 * (half + 1)))
        self.summary = array("f", bytearray(4 * SUMMARY_SIZE * axes))

    def _bins(self, band: "list[float]", lowest: int) -> "tuple[int, int]":
        """FFT bins [low, high) of a band [low_hz, high_hz); ValueError if outside or empty."""
        low = int(band[0] / self._bin_hz + 0.5)
        high = int(band[1] / self._bin_hz + 0.5)
        if low < lowest or high > self.window >> 1:
            raise ValueError(f"band {band[0]}-{band[1]} Hz is outside the spectrum of this window")
        if high <= low:
            raise ValueError(f"band {band[0]}-{band[1]} Hz is empty at this window's resolution")
        return low, high

    def compute(self, samples: "array[float]", out: "array[float]", summary: bool = True) -> None:
        """Model features of one window into ``out``; with ``summary``, every axis's summary too.

        Without ``summary`` only the model's channels are analysed (the host scores faster).
        """
        if len(samples) != self.window * self.axes or len(out) != self.size:
            raise ValueError("samples or out have the wrong length for this spec")
        base = 0
        for axis in range(self.axes):
            channel = axis in self.channels
            if channel or summary:
                self._analyse(samples, axis)
            if channel:
                base = self._model_features(axis, out, base)

    def _analyse(self, samples: "array[float]", axis: int) -> None:
        """Time statistics and spectrum of one axis; leaves X[0..n/2] in _re/_im, power in _power."""
        n = self.window
        step = self.axes
        end = n * step
        total = 0.0
        for i in range(axis, end, step):
            total += samples[i]
        mean = total / n
        re = self._re
        im = self._im
        hann = self._hann
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        peak = 0.0
        for j in range(n):
            d = samples[axis + j * step] - mean
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
            if d2 > peak:
                peak = d2
            re[j] = d * hann[j]
        row = axis * SUMMARY_SIZE
        s = self.summary
        m2 /= n
        if m2 > 0.0:
            rms = math.sqrt(m2)
            s[row + RMS] = rms
            s[row + PEAK] = math.sqrt(peak)
            s[row + CREST] = math.sqrt(peak) / rms
            s[row + KURTOSIS] = m4 / n / (m2 * m2)
            s[row + SKEWNESS] = m3 / n / (m2 * rms)
        else:
            for field in range(SUMMARY_SIZE):
                s[row + field] = 0.0
        self._fft.real_forward(re, im)
        self._spectrum(row)

    def _spectrum(self, row: int) -> None:
        re = self._re
        im = self._im
        power = self._power
        half = self.window >> 1
        best = 0
        best_power = 0.0
        for k in range(half + 1):
            p = re[k] * re[k] + im[k] * im[k]
            power[k] = p
            if k and p > best_power:
                best = k
                best_power = p
        velocity = 0.0
        low, high = self._velocity
        for k in range(low, high + 1):
            velocity += power[k] / (k * k)
        s = self.summary
        s[row + VELOCITY_RMS] = math.sqrt(velocity * self._velocity_scale)
        s[row + DOMINANT_HZ] = self._peak_bin(best) * self._bin_hz

    def _peak_bin(self, k: int) -> float:
        """Fractional bin of a spectral peak: parabola through the log powers around it."""
        power = self._power
        if k < 2 or k >= self.window >> 1 or power[k - 1] <= 0.0 or power[k + 1] <= 0.0:
            return k
        before = math.log(power[k - 1])
        centre = math.log(power[k])
        after = math.log(power[k + 1])
        curvature = before - 2.0 * centre + after
        if curvature >= 0.0:
            return k
        return k + 0.5 * (before - after) / curvature

    def _model_features(self, axis: int, out: "array[float]", i: int) -> int:
        s = self.summary
        row = axis * SUMMARY_SIZE
        if self._level:
            out[i] = math.log10(s[row + RMS] + RMS_FLOOR_G)
            i += 1
        out[i] = math.log10(max(s[row + KURTOSIS], RATIO_FLOOR))
        out[i + 1] = math.log10(max(s[row + CREST], RATIO_FLOOR))
        out[i + 2] = s[row + SKEWNESS]
        i += 3
        power = self._power
        total = 0.0
        for k in range(1, (self.window >> 1) + 1):
            total += power[k]
        bands = self._bands
        for b in range(0, len(bands), 2):
            energy = 0.0
            for k in range(bands[b], bands[b + 1]):
                energy += power[k]
            out[i] = math.log10(energy / total + SHARE_FLOOR) if total > 0.0 else math.log10(SHARE_FLOOR)
            i += 1
        out[i] = math.log10(self._envelope_peak())
        return i + 1

    def _envelope_peak(self) -> float:
        """Peak-to-mean ratio of the envelope spectrum: how periodic the band's impacts are."""
        n = self.window
        re = self._re
        im = self._im
        low, high = self._envelope
        # Analytic signal of the band: positive frequencies doubled, everything else (including
        # the bins real_forward leaves undefined) removed.
        for k in range(n):
            if low <= k < high:
                re[k] *= 2.0
                im[k] *= 2.0
            else:
                re[k] = 0.0
                im[k] = 0.0
        fft = self._fft
        fft.inverse(re, im)
        total = 0.0
        for t in range(n):
            envelope = math.sqrt(re[t] * re[t] + im[t] * im[t])
            re[t] = envelope
            total += envelope
        mean = total / n
        for t in range(n):
            re[t] -= mean
        fft.real_forward(re, im)
        low, high = self._modulation
        peak = 0.0
        total = 0.0
        for k in range(low, high):
            magnitude = math.sqrt(re[k] * re[k] + im[k] * im[k])
            total += magnitude
            if magnitude > peak:
                peak = magnitude
        if total <= 0.0:
            return 1.0
        return max(peak * (high - low) / total, RATIO_FLOOR)
