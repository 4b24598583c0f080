"""ADXL345 3-axis accelerometer (Analog Devices), I2C or SPI, FIFO stream mode with watermark.

Datasheet Rev. G. The FIFO holds 32 frames; every 6-byte read of DATAX0..DATAZ1 pops one.
Counts are in full resolution (3.9 mg/LSB at every range).
"""

import errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    from micropython import const
except ImportError:  # CPython: host tools and tests
    def const(value):  # type: ignore[no-redef,misc,no-untyped-def]
        return value

_DEVID = const(0x00)
_BW_RATE = const(0x2C)
_POWER_CTL = const(0x2D)
_INT_ENABLE = const(0x2E)
_INT_MAP = const(0x2F)
_INT_SOURCE = const(0x30)
_DATA_FORMAT = const(0x31)
_DATAX0 = const(0x32)
_FIFO_CTL = const(0x38)
_FIFO_STATUS = const(0x39)

_DEVICE_ID = const(0xE5)
_MEASURE = const(0x08)
_FULL_RES = const(0x08)
_SELF_TEST = const(0x80)
_FIFO_STREAM = const(0x80)
_WATERMARK = const(0x02)
_OVERRUN = const(0x01)
_SPI_READ = const(0x80)
_SPI_MULTI = const(0x40)

# BW_RATE rate codes (Table 7): output data rate in Hz -> code
RATES = {3200: 0x0F, 1600: 0x0E, 800: 0x0D, 400: 0x0C, 200: 0x0B, 100: 0x0A, 50: 0x09, 25: 0x08}
RANGES = {2: 0, 4: 1, 8: 2, 16: 3}
# Self-test output change in LSB at full resolution (Table 14, spanning Vs 2.5 V .. 3.3 V).
_ST_LIMITS = ((50, 956), (-956, -50), (75, 1286))


class ADXL345:
    """ADXL345 on ``bus``: I2C at ``address``, or SPI (mode 3) with ``cs`` an output Pin, idle high."""

    NAME = "adxl345"
    AXES = 3
    TYPECODE = "h"
    FIFO_FRAMES = 32
    HAS_WATERMARK = True

    def __init__(self, bus: "Any", odr_hz: int = 3200, range_g: int = 16, address: int = 0x53,
                 cs: "Any" = None) -> None:
        if odr_hz not in RATES:
            raise ValueError(f"ADXL345 odr_hz must be one of {sorted(RATES)}")
        if range_g not in RANGES:
            raise ValueError("ADXL345 range_g must be 2, 4, 8 or 16")
        self._bus = bus
        self._address = address
        self._cs = cs
        self.odr_hz = odr_hz
        self.range_g = range_g
        self.scale_g = 1 / 256  # g per count at full resolution (256 LSB/g, "3.9 mg/LSB")
        self._byte = bytearray(1)
        self._cmd = bytearray(1)
        self._frame = bytearray(6)
        self.overruns = 0
        self.check()

    def _read_into(self, reg: int, buf: "Any") -> None:
        if self._cs is None:
            self._bus.readfrom_mem_into(self._address, reg, buf)
            return
        self._cmd[0] = reg | _SPI_READ | (_SPI_MULTI if len(buf) > 1 else 0)
        self._cs(0)
        try:
            self._bus.write(self._cmd)
            self._bus.readinto(buf)
        finally:
            self._cs(1)

    def _read(self, reg: int) -> int:
        self._read_into(reg, self._byte)
        return self._byte[0]

    def _write(self, reg: int, value: int) -> None:
        self._byte[0] = value
        if self._cs is None:
            self._bus.writeto_mem(self._address, reg, self._byte)
            return
        self._cmd[0] = reg
        self._cs(0)
        try:
            self._bus.write(self._cmd)
            self._bus.write(self._byte)
        finally:
            self._cs(1)

    def check(self) -> None:
        """Raise OSError(ENODEV) unless the chip answers with the ADXL345 device id."""
        found = self._read(_DEVID)
        if found != _DEVICE_ID:
            raise OSError(errno.ENODEV, f"ADXL345 not found: DEVID 0x{found:02x}, expected 0xe5")

    def _configure(self, rate_code: int, data_format: int) -> None:
        self._write(_POWER_CTL, 0)
        self._write(_BW_RATE, rate_code)
        self._write(_DATA_FORMAT, data_format)

    def start(self, watermark: int) -> None:
        """Measure at ``odr_hz`` into the FIFO (stream mode); INT1 rises at ``watermark`` frames."""
        if not 1 <= watermark <= 31:
            raise ValueError("ADXL345 watermark must be 1..31 frames")
        self._configure(RATES[self.odr_hz], _FULL_RES | RANGES[self.range_g])
        self._write(_FIFO_CTL, 0)  # bypass mode empties the FIFO
        self._write(_FIFO_CTL, _FIFO_STREAM | watermark)
        self._write(_INT_MAP, 0)
        self._write(_INT_ENABLE, _WATERMARK)
        self._write(_POWER_CTL, _MEASURE)

    def stop(self) -> None:
        self._write(_INT_ENABLE, 0)
        self._write(_POWER_CTL, 0)

    def read_fifo(self, out: "Any", offset: int, max_frames: int) -> int:
        """Pop up to ``max_frames`` frames as x, y, z counts into ``out[offset:]``; return the frame count.

        A FIFO overrun since the last call (samples lost in the sensor) increments ``overruns``.
        """
        if self._read(_INT_SOURCE) & _OVERRUN:  # cleared by reading the FIFO
            self.overruns += 1
        frames = self._read(_FIFO_STATUS) & 0x3F
        if frames > max_frames:
            frames = max_frames
        frame = self._frame
        j = offset
        for _ in range(frames):
            self._read_into(_DATAX0, frame)
            v = frame[0] | (frame[1] << 8)
            out[j] = v - ((v & 0x8000) << 1)
            v = frame[2] | (frame[3] << 8)
            out[j + 1] = v - ((v & 0x8000) << 1)
            v = frame[4] | (frame[5] << 8)
            out[j + 2] = v - ((v & 0x8000) << 1)
            j += 3
        return frames

    def _average(self, sleep_ms: "Callable[[int], None]", samples: int) -> "list[int]":
        sums = [0, 0, 0]
        frame = self._frame
        for _ in range(samples):
            sleep_ms(2)  # one sample at 800 Hz is 1.25 ms
            self._read_into(_DATAX0, frame)
            for axis in range(3):
                v = frame[2 * axis] | (frame[2 * axis + 1] << 8)
                sums[axis] += v - ((v & 0x8000) << 1)
        return [s // samples for s in sums]

    def self_test(self, sleep_ms: "Callable[[int], None]", samples: int = 16) -> bool:
        """Electrostatic self-test (datasheet "Self-Test"): True if every axis moves within limits.

        Blocks for about 0.2 s and leaves the sensor stopped; call ``start`` afterwards.
        """
        self._write(_FIFO_CTL, 0)
        self._configure(RATES[800], _FULL_RES | RANGES[16])
        self._write(_POWER_CTL, _MEASURE)
        sleep_ms(20)
        normal = self._average(sleep_ms, samples)
        self._write(_DATA_FORMAT, _SELF_TEST | _FULL_RES | RANGES[16])
        sleep_ms(20)
        tested = self._average(sleep_ms, samples)
        self.stop()
        self._write(_DATA_FORMAT, _FULL_RES | RANGES[self.range_g])
        for axis in range(3):
            low, high = _ST_LIMITS[axis]
            if not low <= tested[axis] - normal[axis] <= high:
                return False
        return True
