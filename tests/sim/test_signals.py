"""Synthetic machine vibration, replayed recordings, and the signal files the sensor models stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fabnode.boards import get_board
from fabnode.recordings import load_recording
from fabnode.sim.hardware import SignalSource, load_cpython, render_signal, vibration_rate_hz
from fabnode.sim.signals import (
    BPFI_RATIO,
    BPFO_RATIO,
    BearingFault,
    Machine,
    SignalError,
    read_signal,
    replay,
    synthetic,
    write_signal,
)

RATE = 3200.0
QUIET = Machine(harmonics_g=(), noise_g=0.0, gravity_g=(0.0, 0.0, 0.0))


def impact_times(signal: np.ndarray, rate: float) -> np.ndarray:
    """Start times of the ringing bursts in one axis."""
    loud = np.abs(signal) > 0.5 * np.max(np.abs(signal))
    starts = np.flatnonzero(loud[1:] & ~np.convolve(loud, np.ones(16), "full")[:len(loud) - 1].astype(bool)) + 1
    return starts / rate


@pytest.mark.parametrize("kind", ["bpfo", "bpfi"])
def test_impacts_come_at_the_defect_frequency(kind: str) -> None:
    machine = Machine(shaft_hz=20.0, harmonics_g=(), noise_g=0.0, gravity_g=(0.0, 0.0, 0.0))
    signal = synthetic(machine, RATE, 4.0, BearingFault(kind, severity=1.0, jitter=0.0))
    times = impact_times(signal[:, 2], RATE)
    ratio = BPFO_RATIO if kind == "bpfo" else BPFI_RATIO
    cycles = np.diff(times) * ratio * 20.0  # impact spacing in defect periods
    assert np.all(np.abs(cycles - np.round(cycles)) < 0.1)
    if kind == "bpfo":  # every impact is loud
        assert np.median(cycles) == pytest.approx(1.0, abs=0.02)
    else:  # the inner-race defect is loud only in the load zone: gaps of several periods
        assert np.max(cycles) >= 2
    # the envelope spectrum peaks at the defect frequency either way
    envelope = np.abs(signal[:, 2])
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    freqs = np.fft.rfftfreq(len(envelope), 1 / RATE)
    band = (freqs > 30) & (freqs < 150)
    assert freqs[band][np.argmax(spectrum[band])] == pytest.approx(ratio * 20.0, rel=0.02)


def test_severity_scales_the_impacts_and_ringing_decays() -> None:
    mild = synthetic(QUIET, RATE, 1.0, BearingFault(severity=0.2, jitter=0.0))
    severe = synthetic(QUIET, RATE, 1.0, BearingFault(severity=0.8, jitter=0.0))
    assert np.max(np.abs(severe)) == pytest.approx(4 * np.max(np.abs(mild)), rel=1e-6)
    ring = severe[:30, 2]  # the next impact comes after 36 samples
    assert abs(ring[0]) > 50 * np.max(np.abs(ring[25:30]))
    with pytest.raises(SignalError, match="severity"):
        synthetic(QUIET, RATE, 1.0, BearingFault(severity=2.0))
    with pytest.raises(SignalError, match="unknown bearing fault kind"):
        synthetic(QUIET, RATE, 1.0, BearingFault(kind="cage"))


def test_healthy_machine_has_shaft_harmonics_noise_and_gravity() -> None:
    machine = Machine(shaft_hz=25.0, harmonics_g=(0.1,), noise_g=0.01)
    signal = synthetic(machine, RATE, 2.0, seed=1)
    assert signal[:, 2].mean() == pytest.approx(1.0, abs=0.01)
    spectrum = np.abs(np.fft.rfft(signal[:, 2] - signal[:, 2].mean()))
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    assert freqs[np.argmax(spectrum)] == pytest.approx(25.0)
    assert np.std(signal[:, 1] - 0.1 * machine.axis_gains[1] * np.sin(
        2 * np.pi * 25 * np.arange(len(signal)) / RATE + 0.7)) == pytest.approx(0.01, rel=0.1)
    assert np.array_equal(signal, synthetic(machine, RATE, 2.0, seed=1))


def test_signal_file_round_trip(tmp_path: Path) -> None:
    healthy = synthetic(Machine(), RATE, 0.5)
    faulty = synthetic(Machine(), RATE, 0.25, BearingFault())
    written = write_signal(tmp_path / "s.fnsig", healthy, RATE, faulty, onset_s=2.5)
    back = read_signal(tmp_path / "s.fnsig")
    assert back.rate_hz == RATE and back.onset_s == 2.5 and back.shift == written.shift
    assert len(back.segments) == 2 and back.segments[1].shape == (800, 3)
    assert np.max(np.abs(back.segment_g(0) - healthy)) <= 0.5 / (1 << back.shift) + 1e-12
    with pytest.raises(SignalError, match="onset needs a fault"):
        write_signal(tmp_path / "x.fnsig", healthy, RATE, onset_s=1.0)


def test_replay_is_the_resampled_recording(bearing_data: Path) -> None:
    recording = load_recording(bearing_data / "OR8_1200.npy")
    signal = replay(recording, RATE, axis="x")
    expected = recording.resampled(RATE).samples[:, 0]
    assert np.array_equal(signal[:, 0], expected)
    assert np.all(signal[:, 1] == 0) and np.all(signal[:, 2] == 1.0)


def test_replayed_recording_reaches_the_firmware_through_the_sensor(bearing_data: Path, tmp_path: Path) -> None:
    """Frame by frame, the ADXL355 FIFO delivers the resampled recording (to its 3.9 µg LSB)."""
    board = get_board("esp32s3-devkitc")
    rate = vibration_rate_hz(board)
    path = tmp_path / "replay.fnsig"
    source = SignalSource(recording=str(bearing_data / "IR8_900.npy"),
                          fault_recording=str(bearing_data / "OR8_900.npy"))
    written = render_signal(path, rate, source)
    simhw = load_cpython()
    simhw.configure(board.raw, str(path))
    import machine

    cs = machine.Pin(10, machine.Pin.OUT, value=1)
    spi = machine.SPI(2, baudrate=8_000_000, sck=machine.Pin(12))

    def read(reg: int, n: int) -> bytes:
        out = bytearray(n + 1)
        cs(0)
        spi.write_readinto(bytes([reg << 1 | 1]) + bytes(n), out)
        cs(1)
        return bytes(out[1:])

    cs(0)
    spi.write(bytes([0x2D << 1, 0x00]))  # measure, +-2 g at 4 kHz
    cs(1)
    got = []
    for _ in range(50):
        simhw.advance_us(5000)
        entries = read(0x11, read(0x05, 1)[0] * 3)
        raw = [entries[i] << 12 | entries[i + 1] << 4 | entries[i + 2] >> 4 for i in range(0, len(entries), 3)]
        got += [(r - (1 << 20) if r & 0x80000 else r) / 256000 for r in raw]
    values = np.array(got).reshape(-1, 3)
    expected = replay(load_recording(bearing_data / "IR8_900.npy"), rate)[: len(values)]
    tolerance = 1 / 256000 + 1 / (1 << written.shift)
    assert np.max(np.abs(values - expected)) <= tolerance
