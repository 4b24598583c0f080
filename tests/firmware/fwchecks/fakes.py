"""Simulated sensor register maps and buses for driver and app checks (CPython and MicroPython).

Written from the same datasheets as the drivers, but as independent, simple models: a FIFO of
frames, registers in a bytearray, NACK by raising OSError like the ESP32 port.
"""

import errno


def _le16(v):
    v &= 0xFFFF
    return v & 0xFF, v >> 8


class ADXL345Model:
    """ADXL345 registers and 32-frame FIFO (stream mode keeps the newest frames)."""

    def __init__(self, devid=0xE5):
        self.regs = bytearray(64)
        self.regs[0x00] = devid
        self.fifo = []
        self.overrun = False
        self.current = (0, 0, 256)  # what the data registers show in bypass mode
        self.st_shift = (300, -300, 500)  # self-test output change, counts
        self.writes = []

    def push(self, frames):
        for frame in frames:
            self.current = frame
            if len(self.fifo) == 32:
                self.fifo.pop(0)
                self.overrun = True
            self.fifo.append(frame)

    def watermark(self):
        return self.regs[0x38] & 0x1F

    def read(self, reg, n):
        if reg == 0x32:
            frame = self.fifo.pop(0) if (self.regs[0x38] & 0xC0 and self.fifo) else self.current
            if self.regs[0x31] & 0x80:
                frame = [frame[i] + self.st_shift[i] for i in range(3)]
            if not self.fifo:
                self.overrun = False
            out = []
            for v in frame:
                out.extend(_le16(v))
            return bytes(out[:n])
        if reg == 0x30:
            value = (0x02 if len(self.fifo) >= max(1, self.watermark()) else 0) | (1 if self.overrun else 0)
            return bytes([value])
        if reg == 0x39:
            return bytes([len(self.fifo)])
        return bytes(self.regs[reg:reg + n])

    def write(self, reg, data):
        for i, b in enumerate(data):
            self.regs[reg + i] = b
            self.writes.append((reg + i, b))
        if reg == 0x38 and not data[0] & 0xC0:
            self.fifo = []  # bypass mode clears the FIFO


class MPU6050Model:
    """MPU-6050 registers and 1024-byte FIFO of big-endian accelerometer frames."""

    def __init__(self, who_am_i=0x68):
        self.regs = bytearray(128)
        self.regs[0x75] = who_am_i
        self.fifo = bytearray()
        self.overflow = False

    def push(self, frames):
        for frame in frames:
            for v in frame:
                v &= 0xFFFF
                self.fifo.append(v >> 8)
                self.fifo.append(v & 0xFF)
        if len(self.fifo) > 1024:
            self.fifo = self.fifo[len(self.fifo) - 1024:]
            self.overflow = True

    def read(self, reg, n):
        if reg == 0x3A:
            value = 0x10 if self.overflow else 0
            self.overflow = False  # cleared on read
            return bytes([value])
        if reg == 0x72:
            return bytes([len(self.fifo) >> 8, len(self.fifo) & 0xFF])
        if reg == 0x74:
            out = bytes(self.fifo[:n])
            self.fifo = self.fifo[n:]
            return out
        return bytes(self.regs[reg:reg + n])

    def write(self, reg, data):
        self.regs[reg] = data[0]
        if reg == 0x6A and data[0] & 0x04:
            self.fifo = bytearray()


class ADXL355Model:
    """ADXL355 registers and 96-entry FIFO of 20-bit axis entries with x markers."""

    def __init__(self, ids=b"\xad\x1d\xed"):
        self.regs = bytearray(64)
        self.regs[0:3] = ids
        self.entries = []
        self.overrun = False

    def push(self, frames):
        for frame in frames:
            for axis in range(3):
                if len(self.entries) == 96:
                    self.entries.pop(0)
                    self.overrun = True
                v = frame[axis] & 0xFFFFF
                self.entries.append(bytes([v >> 12, (v >> 4) & 0xFF, ((v & 0xF) << 4) | (1 if axis == 0 else 0)]))

    def read(self, reg, n):
        if reg == 0x04:
            value = 0x04 if self.overrun else 0
            self.overrun = False
            return bytes([value])
        if reg == 0x05:
            return bytes([len(self.entries)])
        if reg == 0x11:
            out = b""
            while len(out) < n:
                out += self.entries.pop(0) if self.entries else b"\x00\x00\x02"
            return out[:n]
        return bytes(self.regs[reg:reg + n])

    def write(self, reg, data):
        self.regs[reg] = data[0]


class FakeI2C:
    """I2C bus with one device; ``nack`` makes every transfer fail as a missing device does."""

    def __init__(self, device, address):
        self.device = device
        self.address = address
        self.nack = False

    def _check(self, address):
        if self.nack or address != self.address:
            raise OSError(errno.ETIMEDOUT)

    def readfrom_mem_into(self, address, reg, buf):
        self._check(address)
        data = self.device.read(reg, len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]

    def writeto_mem(self, address, reg, buf):
        self._check(address)
        self.device.write(reg, bytes(buf))


class FakePin:
    def __init__(self, value=1):
        self.value = value
        self.history = []

    def __call__(self, value=None):
        if value is None:
            return self.value
        self.value = value
        self.history.append(value)
        return None


class FakeSPI:
    """SPI bus with one device; the first byte written after CS falls is the command."""

    def __init__(self, device, cs, kind):
        self.device = device
        self.cs = cs
        self.kind = kind  # "adxl345" (reg | 0x80 read, 0x40 multi) or "adxl355" (reg << 1 | 1 read)
        self._cmd = None
        self._last_cs = None

    def _decode(self, cmd):
        if self.kind == "adxl345":
            return cmd & 0x3F, bool(cmd & 0x80)
        return cmd >> 1, bool(cmd & 1)

    def write(self, data):
        assert self.cs.value == 0, "SPI transfer with CS high"
        if self._last_cs != len(self.cs.history):
            self._last_cs = len(self.cs.history)
            self._cmd = data[0]
            rest = bytes(data[1:])
            if rest:
                self.device.write(self._decode(self._cmd)[0], rest)
            return
        self.device.write(self._decode(self._cmd)[0], bytes(data))

    def readinto(self, buf, write=0):
        assert self.cs.value == 0, "SPI transfer with CS high"
        reg, is_read = self._decode(self._cmd)
        assert is_read, "read without the read bit"
        data = self.device.read(reg, len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]


class FakeSensor:
    """A driver stand-in for sampler/app checks: frames of counts appear when ``push``ed."""

    NAME = "fake"
    AXES = 3
    TYPECODE = "h"
    FIFO_FRAMES = 32
    HAS_WATERMARK = True

    def __init__(self, odr_hz=3200, scale_g=0.0039):
        self.odr_hz = odr_hz
        self.range_g = 16
        self.scale_g = scale_g
        self.overruns = 0
        self.fifo = []
        self.failing = False
        self.started = 0

    def check(self):
        if self.failing:
            raise OSError(errno.ETIMEDOUT)

    def start(self, watermark):
        self.check()
        self.started += 1

    def push(self, frames):
        for frame in frames:
            if len(self.fifo) == self.FIFO_FRAMES:
                self.fifo.pop(0)
                self.overruns += 1
            self.fifo.append(frame)

    def read_fifo(self, out, offset, max_frames):
        self.check()
        n = min(len(self.fifo), max_frames)
        j = offset
        for _ in range(n):
            x, y, z = self.fifo.pop(0)
            out[j] = x
            out[j + 1] = y
            out[j + 2] = z
            j += 3
        return n


class FakeHal:
    """Stands in for ``monitor.hal``: a fake clock, console, watchdog and the given sensors."""

    def __init__(self, sensor, temp=None):
        self.now = 0
        self.sensor = sensor
        self.temp = temp
        self.input = b""
        self.output = []
        self.irq = None
        self.timer = None
        self.feeds = 0
        self.resets = 0

    # clock
    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.now += ms

    # console: the hal's Console() is this object
    def Console(self):
        return self

    def read(self):
        data, self.input = self.input, b""
        return data

    def write(self, data):
        self.output.append(bytes(data))

    # hardware
    def open_vibration_sensor(self, pins, spec):
        if self.sensor is None or self.sensor.failing:
            raise OSError(errno.ENODEV, "no sensor")
        return self.sensor

    def open_temperature_sensor(self, spec):
        if self.temp is None:
            raise OSError(errno.ENODEV, "no temperature sensor")
        return self.temp

    def watchdog(self, timeout_ms):
        return self

    def feed(self):
        self.feeds += 1

    def watermark_irq(self, pin, handler):
        self.irq = handler
        return pin

    def periodic(self, period_ms, handler):
        self.timer = (period_ms, handler)
        return self.timer

    def reset_cause(self):
        return "power_on"

    def unique_id(self):
        return "a1b2c3d4e5f6"

    def mem_free(self):
        return 50000

    def reset(self):
        self.resets += 1


class FakeTemperature:
    NAME = "ds18b20"
    CONVERSION_MS = 750

    def __init__(self, value=25.0):
        self.value = value
        self.failing = False

    def start(self):
        pass

    def read(self):
        if self.failing:
            raise Exception("CRC error")  # what micropython-lib's ds18x20 raises
        return self.value
