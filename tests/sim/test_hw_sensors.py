"""MPU6050 (I2C) and ADXL355 (SPI) register models under CPython, against their data sheets."""

from __future__ import annotations

import errno
import struct
from types import ModuleType
from typing import Any

import pytest

from fabnode.boards import get_board
from fabnode.sim.hardware import load_cpython

MPU = 0x68


def wire(board_id: str) -> tuple[ModuleType, ModuleType]:
    simhw = load_cpython()
    simhw.configure(get_board(board_id).raw)
    import machine

    return simhw, machine


@pytest.fixture
def mpu() -> tuple[ModuleType, Any]:
    simhw, machine = wire("esp32c3-xiao")
    return simhw, machine.I2C(0, scl=machine.Pin(7), sda=machine.Pin(6))


def test_mpu6050_identity_sleep_and_rate(mpu: tuple[ModuleType, Any]) -> None:
    simhw, i2c = mpu
    assert i2c.scan() == [MPU]
    assert i2c.readfrom_mem(MPU, 0x75, 1) == b"\x68"
    assert i2c.readfrom_mem(MPU, 0x6B, 1) == b"\x40"  # asleep after power-on
    i2c.writeto_mem(MPU, 0x1A, b"\x01")  # DLPF on: 1 kHz gyro rate
    i2c.writeto_mem(MPU, 0x19, b"\x00")  # 1 kHz sample rate
    i2c.writeto_mem(MPU, 0x23, b"\x08")  # accel into the FIFO
    i2c.writeto_mem(MPU, 0x6A, b"\x44")  # FIFO enable + reset
    simhw.advance_us(10_000)
    assert i2c.readfrom_mem(MPU, 0x72, 2) == b"\x00\x00"  # still asleep: nothing measured
    i2c.writeto_mem(MPU, 0x6B, b"\x00")
    simhw.advance_us(10_000)
    assert struct.unpack(">H", i2c.readfrom_mem(MPU, 0x72, 2))[0] == 60  # 10 samples x 6 bytes
    i2c.writeto_mem(MPU, 0x19, b"\x04")  # 200 Hz
    simhw.advance_us(10_000)
    assert struct.unpack(">H", i2c.readfrom_mem(MPU, 0x72, 2))[0] == 72


def test_mpu6050_fifo_frames_ranges_and_overflow(mpu: tuple[ModuleType, Any]) -> None:
    simhw, i2c = mpu
    i2c.writeto_mem(MPU, 0x1C, b"\x08")  # +-4 g: 8192 LSB/g
    i2c.writeto_mem(MPU, 0x23, b"\x88")  # temperature + accel
    i2c.writeto_mem(MPU, 0x38, b"\x10")  # FIFO overflow interrupt
    i2c.writeto_mem(MPU, 0x37, b"\x20")  # latched, active high
    i2c.writeto_mem(MPU, 0x6A, b"\x44")
    i2c.writeto_mem(MPU, 0x1A, b"\x01")
    i2c.writeto_mem(MPU, 0x6B, b"\x00")
    simhw.advance_us(3000)
    frames = i2c.readfrom_mem(MPU, 0x74, 16)  # FIFO_R_W does not auto-increment
    ax, ay, az, temp = struct.unpack(">hhhh", frames[:8])
    assert (ax, ay, az) == (0, 0, 8192)
    assert temp / 340 + 36.53 == pytest.approx(24.0, abs=0.01)
    assert struct.unpack(">H", i2c.readfrom_mem(MPU, 0x72, 2))[0] == 3 * 8 - 16
    pin = __import__("machine").Pin(3, __import__("machine").Pin.IN)
    assert pin.value() == 0
    simhw.advance_us(200_000)  # 200 samples x 8 bytes > 1024
    assert struct.unpack(">H", i2c.readfrom_mem(MPU, 0x72, 2))[0] == 1024
    assert pin.value() == 1
    assert i2c.readfrom_mem(MPU, 0x3A, 1)[0] & 0x10  # FIFO_OFLOW_INT, cleared by this read
    assert i2c.readfrom_mem(MPU, 0x3A, 1)[0] & 0x10 == 0
    assert pin.value() == 0
    i2c.writeto_mem(MPU, 0x6A, b"\x44")  # FIFO reset
    assert i2c.readfrom_mem(MPU, 0x72, 2) == b"\x00\x00"
    i2c.writeto_mem(MPU, 0x1C, b"\xe0")  # self-test on all axes, +-2 g
    simhw.advance_us(1000)
    ax, ay, az = struct.unpack(">hhh", i2c.readfrom_mem(MPU, 0x74, 6))
    assert (ax, ay, az) == (9164, 9164, 16384 + 9164)  # + factory trim (0.559 g)


def test_mpu6050_output_registers_and_device_reset(mpu: tuple[ModuleType, Any]) -> None:
    simhw, i2c = mpu
    i2c.writeto_mem(MPU, 0x6B, b"\x00")
    simhw.advance_us(1000)
    assert struct.unpack(">hhh", i2c.readfrom_mem(MPU, 0x3B, 6)) == (0, 0, 16384)
    assert struct.unpack(">hhh", i2c.readfrom_mem(MPU, 0x43, 6)) == (0, 0, 0)
    i2c.writeto_mem(MPU, 0x6B, b"\x80")
    assert i2c.readfrom_mem(MPU, 0x6B, 1) == b"\x40"
    simhw.fault("unplugged")
    with pytest.raises(OSError) as info:
        i2c.readfrom_mem(MPU, 0x75, 1)
    assert info.value.args[0] == errno.ENODEV


class ADXL355Bus:
    def __init__(self) -> None:
        self.simhw, machine = wire("esp32s3-devkitc")
        self.cs = machine.Pin(10, machine.Pin.OUT, value=1)
        self.spi = machine.SPI(2, baudrate=8_000_000, polarity=0, phase=0, sck=machine.Pin(12),
                               mosi=machine.Pin(11), miso=machine.Pin(13))
        self.int1 = machine.Pin(9, machine.Pin.IN)

    def read(self, reg: int, n: int) -> bytes:
        out = bytearray(n + 1)
        self.cs(0)
        self.spi.write_readinto(bytes([reg << 1 | 1]) + bytes(n), out)
        self.cs(1)
        return bytes(out[1:])

    def write(self, reg: int, value: int) -> None:
        self.cs(0)
        self.spi.write(bytes([reg << 1, value]))
        self.cs(1)


def decode(entry: bytes) -> tuple[int, int]:
    raw = entry[0] << 12 | entry[1] << 4 | entry[2] >> 4
    return (raw - (1 << 20) if raw & 0x80000 else raw), entry[2] & 0x03


def test_adxl355_identity_and_fifo_markers() -> None:
    bus = ADXL355Bus()
    assert bus.read(0x00, 4) == b"\xad\x1d\xed\x01"
    assert bus.read(0x2C, 1) == b"\x81" and bus.read(0x29, 1) == b"\x60"
    bus.write(0x2C, 0xC1)  # +-2 g, interrupts active high
    bus.write(0x29, 12)  # watermark: 12 entries = 4 samples
    bus.write(0x2A, 0x02)  # FIFO_FULL on INT1
    bus.write(0x2D, 0x00)  # measure at 4 kHz
    bus.simhw.advance_us(750)
    assert bus.read(0x05, 1)[0] == 9
    assert bus.int1.value() == 0
    bus.simhw.advance_us(250)
    assert bus.int1.value() == 1
    assert bus.read(0x04, 1)[0] & 0x03 == 0x03  # DATA_RDY, FIFO_FULL
    entries = bus.read(0x11, 9)
    assert [decode(entries[i:i + 3]) for i in (0, 3, 6)] == [(0, 1), (0, 0), (256000, 0)]
    assert bus.read(0x05, 1)[0] == 9
    assert bus.int1.value() == 0


def test_adxl355_overflow_empty_marker_and_range() -> None:
    bus = ADXL355Bus()
    bus.write(0x2C, 0x83)  # +-8 g: 64000 LSB/g
    bus.write(0x2D, 0x00)
    bus.simhw.advance_us(40 * 250)
    assert bus.read(0x05, 1)[0] == 96
    assert bus.read(0x04, 1)[0] & 0x04  # FIFO_OVR, cleared by the read
    assert bus.read(0x04, 1)[0] & 0x04 == 0
    assert bus.simhw.status()["vibration"]["lost"] == 8
    data = bus.read(0x11, 96 * 3)
    assert decode(data[6:9]) == (64000, 0)
    assert decode(bus.read(0x11, 3)) == (0, 2)  # empty
    temp2, temp1 = bus.read(0x06, 2)
    assert ((temp2 & 0x0F) << 8 | temp1) == 1885 + 9  # 24 °C
    bus.write(0x2E, 0x03)  # self-test
    bus.simhw.advance_us(250)
    x, y, z = (decode(bus.read(0x08, 9)[i:i + 3] + b"")[0] for i in (0, 3, 6))
    assert (x, y, z) == (19200, 19200, 64000 + 96000)
    bus.write(0x2F, 0x52)  # reset
    assert bus.read(0x2D, 1) == b"\x01"


def test_adxl355_needs_spi_mode_0() -> None:
    bus = ADXL355Bus()
    bus.spi.init(baudrate=8_000_000, polarity=1, phase=1, sck=12)
    assert bus.read(0x00, 1) == b"\x00"
