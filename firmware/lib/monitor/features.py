"""Vibration features of one window, in integers, the same code on the node and in the host tools.

A window is ``window * axes`` interleaved sensor counts (an int ``array``; ``scale_g`` g per
count). Per axis the extractor removes the mean, scales the axis to 13 bits, applies a Hann
window and runs an in-place integer FFT (``monitor.fft``) on preallocated arrays; it fills

- ``summary`` (``array('i')``, ``axes * SUMMARY_SIZE``, row ``axis * SUMMARY_SIZE``): RMS (g),
  peak (g), crest factor, kurtosis (3 for Gaussian noise), skewness, dominant frequency and
  velocity RMS (mm/s) over ``velocity_hz`` by spectral integration (ISO 10816/20816), in the
  integer encodings of ``SUMMARY_FIELDS`` (``summary_values`` gives floats);
- ``out`` (``array('i')``, ``size``): the model's input in Q12 (``value * 4096``), for each axis
  in ``channels``: log10 RMS (only with ``level``), log10 kurtosis, log10 crest factor, skewness,
  log10 of the energy share of each band in ``bands_hz``, and log10 of the peak-to-mean ratio of
  the envelope spectrum (the envelope of the ``envelope_hz`` band, modulation ``modulation_hz``).

Every intermediate is a small int (below 2**30), so a window allocates nothing on the node (a
float is a heap object on the ESP32 port) and gives the same bits on any platform.

The model features are shapes that do not move with shaft speed: bands above the shaft-harmonic
range, impulsiveness, and how periodic the impacts are, whatever their rate. The level (log10
RMS) is left out by default: it depends on the sensor's gain and mounting as much as on the
machine, and absolute severity is the ISO 10816 velocity alarm's job.
``docs/features.md`` gives the definitions, the integer arithmetic and the reasoning.
"""

from array import array

from monitor import fixmath
from monitor.fft import FFT, TWO_PI_Q60
from monitor.fixmath import LOG_ZERO, ONE, SMALL_INT

try:
    from micropython import const
except ImportError:  # CPython: the host tools import this module too

    def const(value):  # type: ignore[no-redef,misc,no-untyped-def]
        return value


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FEATURES_VERSION = const(2)
G_MM_S2 = 9806.65  # standard gravity in mm/s^2, to turn g into velocity in mm/s
_G_MM_S2_PER_100 = const(980665)  # the same, as an integer (x 100) for the exact constants

RMS = const(0)
PEAK = const(1)
CREST = const(2)
KURTOSIS = const(3)
SKEWNESS = const(4)
DOMINANT_HZ = const(5)
VELOCITY_RMS = const(6)
SUMMARY_SIZE = const(7)
SUMMARY_FIELDS = ("rms_g", "peak_g", "crest", "kurtosis", "skewness", "dominant_hz", "velocity_rms_mm_s")
# How each summary field is stored: Q12 log2 of the value, Q12 value, or bins in 1/256 bin.
LOG2_FIELDS = (RMS, PEAK, CREST, KURTOSIS, VELOCITY_RMS)
BIN_FRACTION = const(256)
AXIS_NAMES = "xyz"

NORMALISED = const(8192)  # an axis is scaled to at most this many steps about its mean
# Floors (log10, Q12) that keep the logarithms finite on a silent or constant window.
RMS_FLOOR = const(-6 * 4096)  # 1e-6 g
SHARE_FLOOR = const(-9 * 4096)  # 1e-9 of the energy
RATIO_FLOOR = const(-3 * 4096)  # 1e-3
_LOG2_FLOOR = const(-40 * 4096)  # below every floor; keeps log2 -> log10 products small

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


def log10_floored(log2_value: int, floor: int) -> int:
    """A Q12 log2 as a Q12 log10, at least ``floor``."""
    if log2_value < _LOG2_FLOOR:
        return floor
    value = fixmath.log2_to_log10(log2_value)
    return value if value > floor else floor


class FeatureExtractor:
    """Computes features of windows described by ``spec`` (a manifest's ``features`` dict).

    ``scale_g``: g per count of the samples (the sensor's resolution); only the summary's g and
    mm/s values and the level feature depend on it.
    """

    def __init__(self, spec: "dict[str, Any]", scale_g: float = 1.0) -> None:
        if spec.get("version", FEATURES_VERSION) != FEATURES_VERSION:
            raise ValueError(f"feature spec version {spec.get('version')} is not supported "
                             f"(this firmware computes version {FEATURES_VERSION}); retrain or rebuild the model")
        n = spec["window"]
        if n < 16 or n > 8192 or n & (n - 1):  # above 8192 the integer sums could leave the small ints
            raise ValueError("window must be a power of two from 16 to 8192")
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
        self.bin_hz = bin_hz
        self._bands = array("H", [])
        for band in spec["bands_hz"]:
            self._bands.extend(array("H", self._bins(band, 1)))
        self._envelope = self._bins(spec["envelope_hz"], 1)
        # The band's analytic signal, moved down to bin 0, needs only as many points as the band
        # has bins: its envelope at every (n / envelope_size)-th sample, with the same bin width.
        self._envelope_size = 2
        while self._envelope_size < self._envelope[1] - self._envelope[0]:
            self._envelope_size <<= 1
        # The envelope carries the Hann window's shape, whose spectrum fills bins 0 and 1.
        self._modulation = self._bins(spec["modulation_hz"], 2)
        if self._modulation[1] > self._envelope_size >> 1:
            raise ValueError(f"modulation band {spec['modulation_hz'][1]} Hz is above the envelope's "
                             f"sampling of a {spec['envelope_hz'][1] - spec['envelope_hz'][0]} Hz wide band")
        low, high = spec["velocity_hz"]
        velocity_low = int(low / bin_hz)
        if velocity_low * bin_hz < low:
            velocity_low += 1
        self._velocity = (max(1, velocity_low), min(half, int(high / bin_hz)))
        self._level = uses_level(spec)
        self.per_channel = (5 if self._level else 4) + len(spec["bands_hz"])
        self.size = self.per_channel * len(channels)
        self.names = feature_names(spec)

        fft = FFT(n)
        self._fft = fft
        self._bits = fft.bits
        # Periodic Hann window in Q15 from the FFT's cosine table: 2**14 - 2**14 cos(2 pi i / n).
        self._hann = array("H", bytes(2 * n))
        for i in range(n):
            cosine = fft.cos_table[i] if i < half else -fft.cos_table[i - half]
            self._hann[i] = 16384 - cosine
        hann_energy = 0  # sum of hann**2 in Q30 (a long int: set-up only)
        for w in self._hann:
            hann_energy += w * w
        # One-sided power -> mean square (Hann power corrected): 2 / (n sum hann**2); then g -> mm/s
        # at each bin's frequency (the bins' 1/k**2 is applied per bin): (g / (2 pi rate / n))**2.
        # A Q12 log2 per g**2, from integer logs only, so every platform makes the same constant.
        rate_log2 = fixmath.log2(int(rate)) if rate == int(rate) else fixmath.log2_of_float(rate)
        gravity_log2 = fixmath.log2(_G_MM_S2_PER_100) - fixmath.log2(100)
        self._velocity_g_log2 = ((31 << 12) + (self._bits << 12) - fixmath.log2(hann_energy)
                                 + 2 * (gravity_log2 - fixmath.log2(TWO_PI_Q60, -60) - rate_log2))
        self.set_scale_g(scale_g)
        self._re = array("i", bytes(4 * n))
        self._im = array("i", bytes(4 * n))
        self._power = array("i", bytes(4 * (half + 1)))
        self._spectrum_exponent = 0
        self.summary = array("i", bytes(4 * SUMMARY_SIZE * axes))

    def set_scale_g(self, scale_g: float) -> None:
        """Set the samples' g per count (the sensor's resolution)."""
        self._scale_log2 = fixmath.log2_of_float(scale_g)
        self._velocity_log2 = self._velocity_g_log2 + 2 * self._scale_log2

    def _bins(self, band: "list[float]", lowest: int) -> "tuple[int, int]":
        """FFT bins [low, high) of a band [low_hz, high_hz); ValueError if outside or empty."""
        low = int(band[0] / self.bin_hz + 0.5)
        high = int(band[1] / self.bin_hz + 0.5)
        if low < lowest or high > self.window >> 1:
            raise ValueError(f"band {band[0]}-{band[1]} Hz is outside the spectrum of this window")
        if high <= low:
            raise ValueError(f"band {band[0]}-{band[1]} Hz is empty at this window's resolution")
        return low, high

    def compute(self, samples: "array[int]", out: "array[int]", summary: bool = True) -> None:
        """Model features of one window into ``out``; with ``summary``, every axis's summary too.

        Without ``summary`` only the model's channels are analysed (the host scores faster).
        Counts must be below 2**29 in magnitude.
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

    def summary_values(self, axis: int) -> "list[float]":
        """The summary of ``axis`` as floats, in ``SUMMARY_FIELDS`` order (for reports: allocates)."""
        row = self.summary[axis * SUMMARY_SIZE:(axis + 1) * SUMMARY_SIZE]
        values = [fixmath.to_float(row[field]) for field in range(SUMMARY_SIZE)]
        values[SKEWNESS] = row[SKEWNESS] / ONE
        values[DOMINANT_HZ] = row[DOMINANT_HZ] * self.bin_hz / BIN_FRACTION
        return values

    def _analyse(self, samples: "array[int]", axis: int) -> None:
        """Time statistics and spectrum of one axis; leaves X[0..n/2] in _re/_im, power in _power."""
        n = self.window
        bits = self._bits
        step = self.axes
        low = high = samples[axis]
        for j in range(n):
            value = samples[axis + j * step]
            if value < low:
                low = value
            elif value > high:
                high = value
        middle = (low + high) >> 1
        span = high - low
        # Scale the axis to NORMALISED steps: counts = normalised * 2**shift.
        shift = 0
        if span:
            while (span >> shift) >= NORMALISED:
                shift += 1
            if not shift:
                while (span << (1 - shift)) < NORMALISED:
                    shift -= 1
        up = -shift if shift < 0 else 0
        down = shift if shift > 0 else 0
        total = 0
        for j in range(n):
            total += ((samples[axis + j * step] - middle) << up) >> down
        mean = (total + (n >> 1)) >> bits
        # Moments of d (|d| <= 2**13), each sum kept below 2**29 by dropping bits - 3 bits per term.
        drop = bits - 3
        drop_rounding = 1 << (drop - 1) if drop else 0
        re = self._re
        hann = self._hann
        m2 = 0
        m3 = 0
        m4 = 0
        peak = 0
        for j in range(n):
            d = (((samples[axis + j * step] - middle) << up) >> down) - mean
            d2 = d * d
            q = (d2 + 4096) >> 13  # d**2 / 2**13
            m2 += (d2 + drop_rounding) >> drop
            m3 += (q * d + drop_rounding) >> drop
            m4 += (q * q + drop_rounding) >> drop
            if d2 > peak:
                peak = d2
            re[j] = (d * hann[j] + 16384) >> 15
        # The mean is an integer: d sits r/n off the true mean, r = total - n * mean. Skewness is
        # the moment that feels it (by 3 r / (n sigma)): remove 3 (r/n) sum d**2 from sum d**3.
        m3 -= ((m2 >> 13) * 3 * (total - (mean << bits))) >> bits
        row = axis * SUMMARY_SIZE
        s = self.summary
        if m2 > 0:
            sum_squares = fixmath.log2(m2, drop)  # log2 sum d**2
            half_mean_square = (sum_squares - (bits << 12)) >> 1  # log2 rms (normalised units)
            half_peak = fixmath.log2(peak) >> 1
            s[row + RMS] = half_mean_square + (shift << 12) + self._scale_log2
            s[row + PEAK] = half_peak + (shift << 12) + self._scale_log2
            s[row + CREST] = half_peak - half_mean_square
            # kurtosis = n sum d**4 / (sum d**2)**2 and skewness = sqrt(n) sum d**3 / (sum d**2)**1.5
            s[row + KURTOSIS] = fixmath.log2(m4, drop + 26) + (bits << 12) - 2 * sum_squares
            magnitude = m3 if m3 >= 0 else -m3
            skew = fixmath.exp2(fixmath.log2(magnitude, drop + 13) + (bits << 11) - sum_squares - (sum_squares >> 1))
            s[row + SKEWNESS] = skew if m3 >= 0 else -skew
        else:
            for field in LOG2_FIELDS:
                s[row + field] = LOG_ZERO
            s[row + SKEWNESS] = 0
            s[row + DOMINANT_HZ] = 0
        self._spectrum_exponent = self._fft.real_forward(re, self._im) + shift
        if m2 > 0:
            self._spectrum(row)

    def _spectrum(self, row: int) -> None:
        re = self._re
        im = self._im
        power = self._power
        half = self.window >> 1
        best = 0
        best_power = 0
        for k in range(half + 1):
            # Components are below 2**14.3; halving keeps sums of powers below 2**30.
            p = (re[k] * re[k] + im[k] * im[k]) >> 1
            power[k] = p
            if k and p > best_power:
                best = k
                best_power = p
        low, high = self._velocity
        total = 0
        exponent = 0
        for k in range(low, high + 1):
            k2 = k * k
            total += ((power[k] + (k2 >> 1)) // k2) >> exponent
            if total >= SMALL_INT:
                total >>= 1
                exponent += 1
        s = self.summary
        # velocity**2 = scale * sum P[k] / k**2, P in counts**2 = 2 * power * 2**(2 * spectrum exponent)
        if total:
            s[row + VELOCITY_RMS] = (fixmath.log2(total, exponent) + ((2 * self._spectrum_exponent + 1) << 12)
                                     + self._velocity_log2) >> 1
        else:
            s[row + VELOCITY_RMS] = LOG_ZERO
        s[row + DOMINANT_HZ] = self._peak_bin(best)

    def _peak_bin(self, k: int) -> int:
        """Fractional bin (in 1/256 bin) of a spectral peak: parabola through the log powers around it."""
        power = self._power
        if k < 2 or k >= self.window >> 1 or power[k - 1] <= 0 or power[k + 1] <= 0:
            return k * BIN_FRACTION
        before = fixmath.log2(power[k - 1])
        centre = fixmath.log2(power[k])
        after = fixmath.log2(power[k + 1])
        curvature = before - 2 * centre + after
        if curvature >= 0:
            return k * BIN_FRACTION
        return k * BIN_FRACTION + (BIN_FRACTION // 2) * (before - after) // curvature

    def _model_features(self, axis: int, out: "array[int]", i: int) -> int:
        s = self.summary
        row = axis * SUMMARY_SIZE
        if self._level:
            out[i] = log10_floored(s[row + RMS], RMS_FLOOR)
            i += 1
        out[i] = log10_floored(s[row + KURTOSIS], RATIO_FLOOR)
        out[i + 1] = log10_floored(s[row + CREST], RATIO_FLOOR)
        out[i + 2] = s[row + SKEWNESS]
        i += 3
        total = self._log2_power(1, (self.window >> 1) + 1)
        bands = self._bands
        for b in range(0, len(bands), 2):
            share = self._log2_power(bands[b], bands[b + 1]) - total if total != LOG_ZERO else LOG_ZERO
            out[i] = log10_floored(share, SHARE_FLOOR)
            i += 1
        out[i] = log10_floored(self._envelope_peak(), RATIO_FLOOR)
        return i + 1

    def _log2_power(self, low: int, high: int) -> int:
        """Q12 log2 of the sum of power[low:high] (a block-floating-point sum: no overflow)."""
        power = self._power
        total = 0
        exponent = 0
        for k in range(low, high):
            total += power[k] >> exponent
            if total >= SMALL_INT:
                total >>= 1
                exponent += 1
        return fixmath.log2(total, exponent)

    def _envelope_peak(self) -> int:
        """Q12 log2 of the peak-to-mean ratio of the envelope spectrum: how periodic the band's impacts are."""
        n = self.window
        re = self._re
        im = self._im
        low, high = self._envelope
        size = self._envelope_size
        # Analytic signal of the band (positive frequencies doubled, all else removed), shifted
        # down by ``low`` bins: a unit phasor times the analytic signal, so the same envelope.
        for k in range(high - low):
            re[k] = re[low + k] << 1
            im[k] = im[low + k] << 1
        for k in range(high - low, n):
            re[k] = 0
            im[k] = 0
        fft = self._fft
        fft.inverse(re, im, size)  # the ratio below does not depend on the block exponent
        total = 0
        envelope = 1
        for t in range(size):
            envelope = fixmath.isqrt(re[t] * re[t] + im[t] * im[t], envelope if envelope else 1)
            re[t] = envelope
            total += envelope
        mean = total // size
        for t in range(size):
            re[t] -= mean
        fft.real_forward(re, im, size)
        low, high = self._modulation
        peak = 0
        total = 0
        magnitude = 1
        for k in range(low, high):
            magnitude = fixmath.isqrt(re[k] * re[k] + im[k] * im[k], magnitude if magnitude else 1)
            total += magnitude
            if magnitude > peak:
                peak = magnitude
        if total <= 0:
            return 0
        return fixmath.log2(peak * (high - low)) - fixmath.log2(total)
