"""Vibration features against numpy on signals with known answers, and node (MicroPython) vs host."""

from __future__ import annotations

import json
import math
import tracemalloc
from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from monitor import features, fixmath
from monitor.fft import FFT

RATE = 3200.0
N = 1024
SPEC = features.DEFAULT_SPEC


SCALE_G = 2.0**-16  # g per count: a fine sensor (the host quantizes recordings finer still)


def interleave(*axes: np.ndarray) -> array:
    """Axes in g as the interleaved integer counts the extractor takes."""
    return array("i", np.rint(np.stack(axes, axis=1) / SCALE_G).astype(np.int32).ravel())


def quantized(x: np.ndarray) -> np.ndarray:
    """What the extractor sees of a signal in g: its counts, in g."""
    return np.rint(np.asarray(x, np.float64) / SCALE_G) * SCALE_G


def compute(signal: np.ndarray, spec: dict = SPEC) -> tuple[np.ndarray, np.ndarray]:
    """Features of a window whose model channel (z) holds ``signal``; x and y hold other signals.

    Returns the model features (Q12 as values) and the summary as floats, one row per axis.
    """
    t = np.arange(N) / RATE
    samples = interleave(0.02 * np.sin(2 * np.pi * 50 * t), np.zeros(N), signal)
    extractor = features.FeatureExtractor(spec, SCALE_G)
    out = array("i", bytes(4 * extractor.size))
    extractor.compute(samples, out)
    summary = np.array([extractor.summary_values(axis) for axis in range(3)])
    return np.array(out) / fixmath.ONE, summary


def numpy_features(x: np.ndarray, spec: dict = SPEC) -> np.ndarray:
    """The model features as docs/features.md defines them, written with numpy."""
    x = x.astype(np.float64) - x.mean()
    rms = np.sqrt(np.mean(x**2))
    z = x / rms
    n = len(x)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    spectrum = np.fft.fft(x * hann)
    power = np.abs(spectrum[: n // 2 + 1]) ** 2
    total = power[1:].sum()
    to_bin = n / spec["rate_hz"]
    bands = [max(np.log10(power[round(lo * to_bin):round(hi * to_bin)].sum() / total), -9.0)
             for lo, hi in spec["bands_hz"]]
    lo, hi = (round(f * to_bin) for f in spec["envelope_hz"])
    analytic = np.zeros(n, complex)
    analytic[lo:hi] = 2 * spectrum[lo:hi]
    size = 1 << int(np.ceil(np.log2(hi - lo)))  # the band's width in points: every (n / size)-th sample
    envelope = np.abs(np.fft.ifft(analytic))[::n // size]
    modulation = np.abs(np.fft.fft(envelope - envelope.mean()))
    lo, hi = (round(f * to_bin) for f in spec["modulation_hz"])
    envelope_peak = modulation[lo:hi].max() / modulation[lo:hi].mean()
    level = [max(np.log10(rms), -6.0)] if spec.get("level", True) else []
    return np.array([*level, np.log10(np.mean(z**4)), np.log10(np.abs(z).max()), np.mean(z**3), *bands,
                     np.log10(envelope_peak)])


def test_fft_matches_numpy_both_ways():
    rng = np.random.default_rng(1)
    x = np.rint(rng.normal(size=256) * 2000) + 1j * np.rint(rng.normal(size=256) * 2000)
    re, im = array("i", x.real.astype(np.int32)), array("i", x.imag.astype(np.int32))
    fft = FFT(256)
    exponent = fft.forward(re, im)
    expected = np.fft.fft(x)
    got = (np.array(re) + 1j * np.array(im)) * 2.0**exponent
    assert np.abs(got - expected).max() < 2e-3 * np.abs(expected).max()
    back = fft.inverse(re, im) + exponent
    np.testing.assert_allclose((np.array(re) + 1j * np.array(im)) * 2.0**back, x, atol=30)


@pytest.mark.parametrize("n", [2, 16, 1024])
def test_real_fft_matches_numpy(n):
    x = np.rint(np.random.default_rng(n).normal(size=n) * 3000).astype(np.int32)
    re, im = array("i", x), array("i", bytes(4 * n))
    exponent = FFT(n).real_forward(re, im)
    half = n // 2 + 1
    got = (np.array(re[:half]) + 1j * np.array(im[:half])) * 2.0**exponent
    expected = np.fft.rfft(x)
    assert np.abs(got - expected).max() < 4e-3 * np.abs(expected).max()
    assert max(abs(v) for v in [*re[:half], *im[:half]]) < 2**14.3  # a bin's power is a small int


@pytest.mark.parametrize("n", [4, 8, 64, 4096, 8192])
def test_twiddles_are_made_in_integers_exactly_as_rounded_cosines(n):
    fft = FFT(n)
    k = np.arange(n // 2)
    assert list(fft.cos_table) == np.rint(np.cos(2 * np.pi * k / n) * 16384).astype(int).tolist()
    assert list(fft.sin_table) == np.rint(np.sin(2 * np.pi * k / n) * 16384).astype(int).tolist()


def test_viper_stage_gives_the_bytecode_bits_under_emulation(monkeypatch):
    """monitor.fft_viper (the ESP32's fast path) computes what the bytecode stage computes."""
    from monitor import fft
    from viper_emulation import load_viper_module

    viper = load_viper_module("monitor/fft_viper.py")
    rng = np.random.default_rng(12)
    x = np.rint(rng.normal(size=(2, 256)) * 4000).astype(np.int32)
    signal = interleave(*(rng.normal(0, 0.05, N) for _ in range(3)))

    def run() -> list[list[int]]:
        re, im = array("i", x[0]), array("i", x[1])
        transform = FFT(256)
        exponents = [transform.forward(re, im), transform.inverse(re, im, 128)]
        extractor = features.FeatureExtractor(SPEC, SCALE_G)
        out = array("i", bytes(4 * extractor.size))
        extractor.compute(signal, out)
        return [exponents, list(re), list(im), list(out), list(extractor.summary)]

    bytecode = run()
    monkeypatch.setattr(fft, "_STAGE", viper.stage)
    assert run() == bytecode


@pytest.mark.parametrize("n", [0, 1, 3, 100])
def test_fft_rejects_sizes_that_are_not_powers_of_two(n):
    with pytest.raises(ValueError, match="power of two"):
        FFT(n)


@pytest.mark.parametrize(("amplitude_g", "frequency_hz"), [(0.5, 97.3), (0.1, 159.0), (1.0, 411.7)])
def test_sine_of_known_amplitude(amplitude_g, frequency_hz):
    t = np.arange(N) / RATE
    signal = amplitude_g * np.sin(2 * np.pi * frequency_hz * t + 0.3)
    _, summary = compute(signal + 0.25)  # the DC offset is removed
    rms, peak, crest, kurtosis, skewness, dominant, velocity = summary[2]
    centred = quantized(signal + 0.25) - quantized(signal + 0.25).mean()
    # Q12 logarithms: values within 2**(2/4096) - 1 = 3.4e-4, plus the integer mean removal.
    assert rms == pytest.approx(np.sqrt(np.mean(centred**2)), rel=5e-4)
    assert peak == pytest.approx(np.abs(centred).max(), rel=5e-4)
    # Not a whole number of periods in the window: within a percent of the continuous values.
    assert rms == pytest.approx(amplitude_g / math.sqrt(2), rel=1e-2)
    assert crest == pytest.approx(math.sqrt(2), rel=1e-2)
    assert kurtosis == pytest.approx(1.5, rel=1e-2)
    assert abs(skewness) < 0.01
    assert dominant == pytest.approx(frequency_hz, abs=0.1 * RATE / N)
    expected_velocity = amplitude_g * features.G_MM_S2 / (2 * np.pi * frequency_hz) / math.sqrt(2)
    assert velocity == pytest.approx(expected_velocity, rel=0.02)


def test_velocity_counts_only_the_iso_band():
    t = np.arange(N) / RATE
    _, inside = compute(0.5 * np.sin(2 * np.pi * 500 * t))
    _, outside = compute(0.5 * np.sin(2 * np.pi * 1300 * t))
    assert outside[2, features.VELOCITY_RMS] < 0.01 * inside[2, features.VELOCITY_RMS]


def test_impulses_give_numpy_kurtosis_and_skewness():
    rng = np.random.default_rng(7)
    signal = rng.normal(0, 0.01, N)
    signal[::97] += 0.3
    _, summary = compute(signal)
    centred = quantized(signal) - quantized(signal).mean()
    m2 = np.mean(centred**2)
    assert summary[2, features.KURTOSIS] == pytest.approx(np.mean(centred**4) / m2**2, rel=2e-3)
    assert summary[2, features.SKEWNESS] == pytest.approx(np.mean(centred**3) / m2**1.5, rel=2e-3)
    assert summary[2, features.KURTOSIS] > 20


def test_gaussian_noise_has_kurtosis_three():
    _, summary = compute(np.random.default_rng(3).normal(0, 0.1, N))
    assert summary[2, features.KURTOSIS] == pytest.approx(3.0, abs=0.4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_features_match_numpy(seed):
    rng = np.random.default_rng(seed)
    t = np.arange(N) / RATE
    carrier = np.sin(2 * np.pi * 1100 * t) * (1 + np.sin(2 * np.pi * 37 * t))
    signal = (rng.normal(0, 0.01, N) + 0.05 * carrier * rng.uniform(0, 1)).astype(np.float32)
    for spec in (SPEC, {**SPEC, "level": True}):
        out, _ = compute(signal, spec)
        # Q12 (2.4e-4) steps, a 13-bit window and a 65 dB integer FFT: within 1e-3 of float64.
        np.testing.assert_allclose(out, numpy_features(quantized(signal), spec), atol=1e-3)


def test_envelope_peak_sees_periodic_impacts():
    rng = np.random.default_rng(5)
    t = np.arange(N) / RATE
    noise = rng.normal(0, 0.01, N)
    impacts = noise + 0.05 * np.sin(2 * np.pi * 1200 * t) * (np.sin(2 * np.pi * 53.7 * t) > 0.95)
    names = features.feature_names(SPEC)
    peak = names.index("z.envelope_peak")
    assert compute(impacts)[0][peak] > compute(noise)[0][peak] + 0.3


def test_silent_window_gives_finite_features():
    out, summary = compute(np.zeros(N))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(summary))
    assert summary[1].tolist() == [0.0] * features.SUMMARY_SIZE


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), gain=st.floats(0.25, 100.0), offset=st.floats(-2.0, 2.0))
def test_shape_features_ignore_gain_and_offset(seed, gain, offset):
    """Scaling a signal moves only log_rms (by log10 of the gain); a DC offset moves nothing.

    (Down to a quarter of the signal's level: its counts get coarser below that.)

    The default spec leaves log_rms out: its features are the level spec's without it.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(N) / RATE
    signal = 0.01 * rng.normal(size=N) + 0.02 * np.sin(2 * np.pi * 900 * t) * (np.sin(2 * np.pi * 30 * t) > 0.8)
    with_level = {**SPEC, "level": True}
    base, _ = compute(signal, with_level)
    scaled, _ = compute(gain * signal + offset, with_level)
    expected = base.astype(np.float64)
    expected[0] = max(np.log10(gain) + base[0], -6.0)
    np.testing.assert_allclose(scaled, expected, atol=2e-3)  # two windows' 13 bits each
    np.testing.assert_allclose(compute(gain * signal + offset)[0], expected[1:], atol=2e-3)


def test_names_and_size_follow_the_spec():
    spec = {**SPEC, "channels": [0, 2], "bands_hz": [[100, 200], [200, 400]], "level": True}
    extractor = features.FeatureExtractor(spec)
    assert extractor.size == 14 == len(extractor.names)
    assert extractor.names[:2] == ["x.log_rms", "x.log_kurtosis"]
    assert extractor.names[7:] == ["z.log_rms", "z.log_kurtosis", "z.log_crest", "z.skewness",
                                   "z.band_100_200", "z.band_200_400", "z.envelope_peak"]
    level_free = features.FeatureExtractor({**spec, "level": False})
    assert level_free.size == 12 and level_free.names == [n for n in extractor.names if not n.endswith("log_rms")]
    # Packages made before the key existed have the level.
    assert features.FeatureExtractor({k: v for k, v in spec.items() if k != "level"}).names == extractor.names


@pytest.mark.parametrize(
    ("change", "message"),
    [({"window": 1000}, "power of two"), ({"window": 16384}, "power of two"), ({"channels": [3]}, "channels"),
     ({"hop": 0}, "hop"),
     ({"bands_hz": [[200, 2000]]}, "outside the spectrum"), ({"bands_hz": [[300, 301]]}, "empty"),
     ({"modulation_hz": [1, 200]}, "outside the spectrum"), ({"version": 1}, "retrain"), ({"level": 1}, "level"),
     ({"envelope_hz": [400, 500]}, "above the envelope")],
)
def test_bad_spec_is_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        features.FeatureExtractor({**SPEC, **change})


def test_no_channels_gives_the_summary_alone():
    extractor = features.FeatureExtractor({**SPEC, "channels": []})
    assert extractor.size == 0 and extractor.names == []
    t = np.arange(N) / RATE
    extractor.compute(interleave(np.zeros(N), np.zeros(N), 0.5 * np.sin(2 * np.pi * 100 * t)), array("i"))
    assert extractor.summary_values(2)[features.DOMINANT_HZ] == pytest.approx(100.0, abs=0.3)


def test_summary_only_axes_are_skipped_when_asked():
    rng = np.random.default_rng(4)
    samples = interleave(*(rng.normal(0, 0.1, N) for _ in range(3)))
    extractor = features.FeatureExtractor(SPEC)
    full, lean = array("i", bytes(4 * extractor.size)), array("i", bytes(4 * extractor.size))
    extractor.compute(samples, full)
    x_rms = extractor.summary[features.RMS]
    extractor.summary[features.RMS] = -1
    extractor.compute(samples, lean, summary=False)
    assert list(full) == list(lean)
    assert x_rms != fixmath.LOG_ZERO and extractor.summary[features.RMS] == -1


def test_compute_allocates_no_buffers():
    rng = np.random.default_rng(8)
    samples = interleave(*(rng.normal(0, 0.1, N) for _ in range(3)))
    extractor = features.FeatureExtractor(SPEC)
    out = array("i", bytes(4 * extractor.size))
    extractor.compute(samples, out)
    tracemalloc.start()
    try:
        for _ in range(3):
            extractor.compute(samples, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2048  # CPython's int temporaries; one int array of a window would be 12 KiB


@pytest.mark.micropython
def test_micropython_computes_what_cpython_computes_to_the_bit(micropython):
    rng = np.random.default_rng(11)
    t = np.arange(N) / RATE
    z = rng.normal(0, 0.02, N) + 0.1 * np.sin(2 * np.pi * 1150 * t) * (np.sin(2 * np.pi * 41 * t) > 0.9)
    samples = interleave(rng.normal(0, 0.05, N), 0.3 * np.sin(2 * np.pi * 120 * t), z)
    code = """
from array import array
from monitor import features
extractor = features.FeatureExtractor(features.DEFAULT_SPEC, 2.0 ** -16)
samples = array("i")
with open("/samples.bin", "rb") as f:
    samples.extend(array("i", f.read()))
out = array("i", bytearray(4 * extractor.size))
extractor.compute(samples, out)
print(list(out))
print(list(extractor.summary))
"""
    result = micropython(code, files={"/samples.bin": bytes(samples)})
    node_out, node_summary = (json.loads(line) for line in result.stdout.split("\n")[:2])
    extractor = features.FeatureExtractor(SPEC, SCALE_G)
    out = array("i", bytes(4 * extractor.size))
    extractor.compute(samples, out)
    assert node_out == list(out) and node_summary == list(extractor.summary)


# Windows at the edges of the integer ranges: if any intermediate left the small ints (|v| < 2**30
# on a 32-bit port), MicroPython would allocate a long int for it.
EXTREME_WINDOWS = {
    "full-scale square wave": lambda i, axis: (1 << 29) - 1 if (i // 8) % 2 else -(1 << 29) + 1,
    "one impulse": lambda i, axis: (1 << 28) if i == 500 else 0,
    "alternating one count": lambda i, axis: i % 2,
    "constant": lambda i, axis: 12345,
    "20-bit noise": lambda i, axis: ((i * 7919 + axis * 104729) % 1048573) - 524286,
    "chirp": lambda i, axis: int(30000 * math.sin(i * i / 2000.0 + axis)),
}


@pytest.mark.micropython
def test_extreme_windows_allocate_nothing_and_match_cpython(micropython):
    spec = {**SPEC, "channels": [0, 1, 2], "level": True}
    windows = {name: array("i", [make(i, axis) for i in range(N) for axis in range(3)])
               for name, make in EXTREME_WINDOWS.items()}
    code = f"""
import gc, json
from array import array
from monitor import features, fixmath
extractor = features.FeatureExtractor({spec!r}, 0.0039)
out = array("i", bytearray(4 * extractor.size))
for name in {list(windows)!r}:
    samples = array("i")
    with open("/" + name, "rb") as f:
        samples.extend(array("i", f.read()))
    extractor.compute(samples, out)
    gc.collect()
    before = gc.mem_alloc()
    extractor.compute(samples, out)
    print(json.dumps([name, gc.mem_alloc() - before, list(out), list(extractor.summary)]))
"""
    result = micropython(code, files={f"/{name}": bytes(w) for name, w in windows.items()})
    extractor = features.FeatureExtractor(spec, 0.0039)
    out = array("i", bytes(4 * extractor.size))
    for line in result.stdout.splitlines():
        name, allocated, node_out, node_summary = json.loads(line)
        extractor.compute(windows[name], out)
        assert allocated == 0, name
        assert (node_out, node_summary) == (list(out), list(extractor.summary)), name
        assert all(abs(v) < 2**30 for v in node_out + node_summary), name
