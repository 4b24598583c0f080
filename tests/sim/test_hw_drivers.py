"""The firmware's sensor drivers against the simulated chips (CPython): both follow the same data sheets.

A mismatch here would otherwise only show in a virtual-node integration run.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from types import ModuleType

import pytest

from fabnode.boards import get_board
from fabnode.sim.hardware import load_cpython


def wire(board_id: str) -> tuple[ModuleType, ModuleType]:
    simhw = load_cpython()
    simhw.configure(get_board(board_id).raw)
    import machine

    return simhw, machine


def test_adxl345_driver_streams_detects_overruns_and_self_tests() -> None:
    from drivers.adxl345 import ADXL345

    simhw, machine = wire("esp32-devkitc")
    sensor = ADXL345(machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21)), odr_hz=3200, range_g=16)
    assert sensor.self_test(lambda ms: simhw.advance_us(ms * 1000))
    sensor.start(watermark=16)
    interrupt = machine.Pin(4, machine.Pin.IN)
    simhw.advance_us(5000)  # 16 samples at 3200 Hz
    assert interrupt.value() == 1
    out = array("h", bytes(2 * 3 * 32))
    assert sensor.read_fifo(out, 0, 32) == 16
    assert list(out[:3]) == [0, 0, 256]  # at rest: 1 g on z, 3.9 mg/LSB
    assert interrupt.value() == 0 and sensor.overruns == 0
    simhw.fault("overrun", ms=50)
    assert sensor.read_fifo(out, 0, 32) == 32
    assert sensor.overruns == 1


def open_adxl345(machine: ModuleType) -> object:
    from drivers.adxl345 import ADXL345

    return ADXL345(machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21)))


def open_mpu6050(machine: ModuleType) -> object:
    from drivers.mpu6050 import MPU6050

    return MPU6050(machine.I2C(0, scl=machine.Pin(7), sda=machine.Pin(6)))


def open_adxl355(machine: ModuleType) -> object:
    from drivers.adxl355 import ADXL355

    return ADXL355(machine.SPI(2, sck=machine.Pin(12)), machine.Pin(10, machine.Pin.OUT, value=1))


def open_ds18b20(machine: ModuleType) -> object:
    from drivers.ds18b20 import DS18B20

    return DS18B20(machine.Pin(15))


@pytest.mark.parametrize(("board_id", "role", "open_driver"), [
    ("esp32-devkitc", "vibration", open_adxl345),
    ("esp32c3-xiao", "vibration", open_mpu6050),
    ("esp32s3-devkitc", "vibration", open_adxl355),
    ("esp32-devkitc", "temperature", open_ds18b20),
])
def test_drivers_reject_another_part(board_id: str, role: str, open_driver: Callable[[ModuleType], object]) -> None:
    """The "wrong_id" fault: the part in the sensor's place is not the one the board names."""
    simhw, machine = wire(board_id)
    simhw.fault("wrong_id", role=role)
    with pytest.raises(OSError, match=r"not found|no DS18B20"):
        open_driver(machine)
    simhw.clear("wrong_id")
    open_driver(machine)


def test_mpu6050_driver_reads_frames_and_resets_after_overflow() -> None:
    from drivers.mpu6050 import MPU6050

    simhw, machine = wire("esp32c3-xiao")
    sensor = MPU6050(machine.I2C(0, scl=machine.Pin(7), sda=machine.Pin(6)), odr_hz=1000, range_g=4,
                     sleep_ms=lambda ms: simhw.advance_us(ms * 1000))
    sensor.start()
    simhw.advance_us(20_000)
    out = array("h", bytes(2 * 3 * 170))
    assert sensor.read_fifo(out, 0, 170) == 20
    assert list(out[:3]) == [0, 0, 8192]
    simhw.advance_us(400_000)  # more than 1024 bytes
    assert sensor.read_fifo(out, 0, 170) == 0
    assert sensor.overruns == 1
    simhw.advance_us(10_000)
    assert sensor.read_fifo(out, 0, 170) == 10


def test_adxl355_driver_streams_over_spi() -> None:
    from drivers.adxl355 import ADXL355

    simhw, machine = wire("esp32s3-devkitc")
    spi = machine.SPI(2, baudrate=8_000_000, polarity=0, phase=0, sck=machine.Pin(12), mosi=machine.Pin(11),
                      miso=machine.Pin(13))
    sensor = ADXL355(spi, machine.Pin(10, machine.Pin.OUT, value=1), odr_hz=4000, range_g=8)
    sensor.start(watermark=16)
    interrupt = machine.Pin(9, machine.Pin.IN)
    simhw.advance_us(4000)
    assert interrupt.value() == 1  # the driver sets INT_POL: active high, asserted
    out = array("i", bytes(4 * 3 * 32))
    assert sensor.read_fifo(out, 0, 32) == 16
    assert list(out[:3]) == [0, 0, 64000]
    assert interrupt.value() == 0
    simhw.fault("overrun", ms=30)
    frames = sensor.read_fifo(out, 0, 32)
    assert sensor.overruns == 1 and frames == 32


def test_ds18b20_driver_converts() -> None:
    from drivers.ds18b20 import DS18B20

    simhw, machine = wire("esp32-devkitc")
    sensor = DS18B20(machine.Pin(15))
    sensor.start()
    simhw.advance_us(DS18B20.CONVERSION_MS * 1000)
    assert sensor.read() == 24.0
    import onewire

    simhw.fault("unplugged", role="temperature")
    with pytest.raises(onewire.OneWireError):  # no presence pulse, as MicroPython's driver reports it
        sensor.read()
