"""ADXL355 low-noise 3-axis accelerometer (Analog Devices) over SPI, 20-bit FIFO.

Datasheet Rev. D. The FIFO holds 96 axis entries (32 x, y, z frames) of 3 bytes: 20-bit
two's-complement data left-justified in bits 23..4, bit 0 marks an x-axis entry. Reading FIFO_DATA
pops entries without advancing the address, so a burst reads many.
"""

import errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    from micropython import const
except ImportError:  # CPython: host tools and tests
    def const(value):  # type: ignore[no-redef,misc,no-untyped-def]
        return value

_DEVID_AD = const(0x00)
_STATUS = const(0x04)
_FIFO_ENTRIES = const(0x05)
_FIFO_DATA = const(0x11)
_FILTER = const(0x28)
_FIFO_SAMPLES = const(0x29)
_INT_MAP = const(0x2A)
_RANGE = const(0x2C)
_POWER_CTL = const(0x2D)
_RESET = const(0x2F)

_IDS = b"\xad\x1d\xed"  # DEVID_AD, DEVID_MST, PARTID
_RESET_CODE = const(0x52)
_STANDBY = const(0x01)
_FIFO_OVR = const(0x04)
_FULL_EN1 = const(0x02)  # INT1 on FIFO_FULL: entries >= FIFO_SAMPLES
_INT_ACTIVE_HIGH = const(0x40)  # RANGE.INT_POL: the app's handler waits for a rising edge
_X_MARKER = const(0x01)
_EMPTY = const(0x02)
_ENTRY = const(3)
_FRAME = const(9)
_MAX_FRAMES = const(32)

# FILTER.ODR_LPF codes: output data rate in Hz -> code
RATES = {4000: 0, 2000: 1, 1000: 2, 500: 3, 250: 4, 125: 5}
RANGES = {2: 1, 4: 2, 8: 3}  # RANGE register code
_LSB_PER_G = {2: 256000, 4: 128000, 8: 64000}


class ADXL355:
    """ADXL355 on an SPI bus (mode 0) with ``cs`` an output Pin, idle high."""

    NAME = "adxl355"
    AXES = 3
    TYPECODE = "i"  # 20-bit counts
    FIFO_FRAMES = 32
    HAS_WATERMARK = True

    def __init__(self, bus: "Any", cs: "Any", odr_hz: int = 4000, range_g: int = 8) -> None:
        if odr_hz not in RATES:
            raise ValueError(f"ADXL355 odr_hz must be one of {sorted(RATES)}")
        if range_g not in RANGES:
            raise ValueError("ADXL355 range_g must be 2, 4 or 8")
        self._bus = bus
        self._cs = cs
        self.odr_hz = odr_hz
        self.range_g = range_g
        self.scale_g = 1 / _LSB_PER_G[range_g]
        self.overruns = 0
        self._cmd = bytearray(1)
        self._byte = bytearray(1)
        self._ids = bytearray(3)
        self._entry = bytearray(_ENTRY)
        buf = bytearray(_MAX_FRAMES * _FRAME)
        self._buf = buf
        view = memoryview(buf)
        self._views = [view[: i * _FRAME] for i in range(_MAX_FRAMES + 1)]  # no slicing per read
        self.check()

    def _read_into(self, reg: int, buf: "Any") -> None:
        self._cmd[0] = (reg << 1) | 1
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
        self._cmd[0] = reg << 1
        self._byte[0] = value
        self._cs(0)
        try:
            self._bus.write(self._cmd)
            self._bus.write(self._byte)
        finally:
            self._cs(1)

    def check(self) -> None:
        """Raise OSError(ENODEV) unless DEVID_AD, DEVID_MST and PARTID read 0xAD, 0x1D, 0xED."""
        self._read_into(_DEVID_AD, self._ids)
        if self._ids != _IDS:
            raise OSError(errno.ENODEV, f"ADXL355 not found: ids {bytes(self._ids).hex()}, expected ad1ded")

    def start(self, watermark: int) -> None:
        """Measure at ``odr_hz`` into the FIFO; INT1 rises at ``watermark`` frames (1..32)."""
        if not 1 <= watermark <= _MAX_FRAMES:
            raise ValueError("ADXL355 watermark must be 1..32 frames")
        self._write(_RESET, _RESET_CODE)
        self._write(_POWER_CTL, _STANDBY)
        self._write(_RANGE, _INT_ACTIVE_HIGH | RANGES[self.range_g])
        self._write(_FILTER, RATES[self.odr_hz])
        self._write(_FIFO_SAMPLES, watermark * 3)
        self._write(_INT_MAP, _FULL_EN1)
        self._write(_POWER_CTL, 0)  # measurement mode

    def stop(self) -> None:
        self._write(_POWER_CTL, _STANDBY)

    def read_fifo(self, out: "Any", offset: int, max_frames: int) -> int:
        """Pop up to ``max_frames`` frames as x, y, z counts into ``out[offset:]``; return the frame count.

        A FIFO overrun since the last call (entries lost in the sensor) increments ``overruns``.
        """
        if self._read(_STATUS) & _FIFO_OVR:
            self.overruns += 1
        frames = (self._read(_FIFO_ENTRIES) & 0x7F) // 3
        if frames > max_frames:
            frames = max_frames
        if not frames:
            return 0
        self._read_into(_FIFO_DATA, self._views[frames])
        buf = self._buf
        if not buf[2] & _X_MARKER:
            # After an overrun the FIFO may not start at an x entry: drop the burst, realign.
            self._realign()
            return 0
        j = offset
        for i in range(0, frames * _FRAME, _ENTRY):
            v = (buf[i] << 12) | (buf[i + 1] << 4) | (buf[i + 2] >> 4)
            out[j] = v - ((v & 0x80000) << 1)
            j += 1
        return frames

    def _realign(self) -> None:
        """Pop entries up to and including the next complete x, y, z frame (or until empty)."""
        entry = self._entry
        for _ in range(96):
            self._read_into(_FIFO_DATA, entry)
            if entry[2] & _EMPTY:
                return  # frames are written whole, so the next entry will be an x entry
            if entry[2] & _X_MARKER:
                self._read_into(_FIFO_DATA, entry)
                self._read_into(_FIFO_DATA, entry)
                return
