"""MPU-6050 (InvenSense) accelerometer over I2C, accelerometer-only FIFO.

Register map Rev. 4.2. The 1024-byte FIFO holds 170 x, y, z frames (6 bytes, big-endian). The
chip has no FIFO watermark interrupt, so the app polls FIFO_COUNT; the overflow flag
(INT_STATUS.FIFO_OFLOW_INT, cleared on read) counts overruns, after which the FIFO is reset to
get back to frame alignment.
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

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_ACCEL_CONFIG = const(0x1C)
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_DEVICE_ID = const(0x68)
_DEVICE_RESET = const(0x80)
_CLOCK_PLL_X = const(0x01)
_DLPF_184HZ = const(0x01)  # accelerometer bandwidth 184 Hz, internal sample rate 1 kHz
_ACCEL_FIFO = const(0x08)
_FIFO_OFLOW = const(0x10)
_USER_FIFO_EN = const(0x40)
_USER_FIFO_RESET = const(0x04)
_FRAME = const(6)
_CHUNK = const(32)  # frames per burst read

RANGES = {2: 0, 4: 1, 8: 2, 16: 3}  # ACCEL_CONFIG.AFS_SEL
RATES = (1000, 500, 250, 200, 125, 100, 50)  # 1 kHz / (1 + SMPLRT_DIV)


class MPU6050:
    """MPU-6050 on an I2C bus at ``address`` (0x68, or 0x69 with AD0 high)."""

    NAME = "mpu6050"
    AXES = 3
    TYPECODE = "h"
    FIFO_FRAMES = 170
    HAS_WATERMARK = False

    def __init__(self, bus: "Any", odr_hz: int = 1000, range_g: int = 4, address: int = 0x68,
                 sleep_ms: "Callable[[int], None] | None" = None) -> None:
        if odr_hz not in RATES:
            raise ValueError(f"MPU6050 odr_hz must be one of {RATES}")
        if range_g not in RANGES:
            raise ValueError("MPU6050 range_g must be 2, 4, 8 or 16")
        self._bus = bus
        self._address = address
        self._sleep_ms = sleep_ms
        self.odr_hz = odr_hz
        self.range_g = range_g
        self.scale_g = 1 / (16384 >> RANGES[range_g])  # g per count (Table 6.2)
        self.overruns = 0
        self._byte = bytearray(1)
        self._count = bytearray(2)
        buf = bytearray(_CHUNK * _FRAME)
        self._buf = buf
        view = memoryview(buf)
        self._views = [view[: i * _FRAME] for i in range(_CHUNK + 1)]  # no slicing per read
        self.check()

    def _read(self, reg: int) -> int:
        self._bus.readfrom_mem_into(self._address, reg, self._byte)
        return self._byte[0]

    def _write(self, reg: int, value: int) -> None:
        self._byte[0] = value
        self._bus.writeto_mem(self._address, reg, self._byte)

    def check(self) -> None:
        """Raise OSError(ENODEV) unless WHO_AM_I reads 0x68."""
        found = self._read(_WHO_AM_I)
        if found != _DEVICE_ID:
            raise OSError(errno.ENODEV, f"MPU6050 not found: WHO_AM_I 0x{found:02x}, expected 0x68")

    def _reset_fifo(self) -> None:
        self._write(_USER_CTRL, _USER_FIFO_RESET)
        self._write(_USER_CTRL, _USER_FIFO_EN)

    def start(self, watermark: int = 0) -> None:
        """Sample the accelerometer at ``odr_hz`` into the FIFO (``watermark`` unused: no such interrupt)."""
        self._write(_PWR_MGMT_1, _DEVICE_RESET)
        if self._sleep_ms is not None:
            self._sleep_ms(100)  # register reset takes up to 100 ms
        self._write(_PWR_MGMT_1, _CLOCK_PLL_X)
        self._write(_CONFIG, _DLPF_184HZ)
        self._write(_SMPLRT_DIV, 1000 // self.odr_hz - 1)
        self._write(_ACCEL_CONFIG, RANGES[self.range_g] << 3)
        self._write(_FIFO_EN, _ACCEL_FIFO)
        self._write(_INT_ENABLE, _FIFO_OFLOW)
        self._reset_fifo()

    def stop(self) -> None:
        self._write(_FIFO_EN, 0)
        self._write(_USER_CTRL, 0)

    def read_fifo(self, out: "Any", offset: int, max_frames: int) -> int:
        """Pop up to ``max_frames`` frames as x, y, z counts into ``out[offset:]``; return the frame count."""
        if self._read(_INT_STATUS) & _FIFO_OFLOW:
            self.overruns += 1
            self._reset_fifo()  # the oldest bytes were overwritten: frames lost alignment
            return 0
        self._bus.readfrom_mem_into(self._address, _FIFO_COUNTH, self._count)
        frames = ((self._count[0] << 8) | self._count[1]) // _FRAME
        if frames > max_frames:
            frames = max_frames
        buf = self._buf
        j = offset
        left = frames
        while left:
            n = left if left < _CHUNK else _CHUNK
            self._bus.readfrom_mem_into(self._address, _FIFO_R_W, self._views[n])
            for i in range(0, n * _FRAME, 2):
                v = (buf[i] << 8) | buf[i + 1]
                out[j] = v - ((v & 0x8000) << 1)
                j += 1
            left -= n
        return frames
