"""The simulated hardware under CPython: machine, the ADXL345 register model, 1-Wire/DS18B20, faults."""

from __future__ import annotations

import errno
import math
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from fabnode.boards import get_board
from fabnode.sim.hardware import SignalSource, load_cpython, render_signal
from fabnode.sim.signals import read_signal

ADDR = 0x53
BW_RATE, POWER_CTL, INT_ENABLE, INT_MAP, INT_SOURCE, DATA_FORMAT = 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31
DATAX0, FIFO_CTL, FIFO_STATUS = 0x32, 0x38, 0x39
STREAM = 0x80
PERIOD_US = 312.5  # 3200 Hz


class Node:
    """The simulated hardware of an esp32-devkitc node, driven from CPython."""

    def __init__(self, signal: str | None = None, **config: Any) -> None:
        self.simhw = load_cpython()
        self.simhw.configure(get_board("esp32-devkitc").raw, signal, **config)
        import machine

        self.machine: ModuleType = machine
        self.i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21), freq=400000)
        self.elapsed_us = 0.0

    def reg(self, reg: int) -> int:
        return self.i2c.readfrom_mem(ADDR, reg, 1)[0]

    def write(self, reg: int, value: int) -> None:
        self.i2c.writeto_mem(ADDR, reg, bytes([value]))

    def start(self, watermark: int = 16, fmt: int = 0x0B, rate: int = 0x0F, mode: int = STREAM) -> None:
        self.write(DATA_FORMAT, fmt)
        self.write(BW_RATE, rate)
        self.write(FIFO_CTL, mode | watermark)
        self.write(INT_ENABLE, 0x02)
        self.write(POWER_CTL, 0x08)

    def sample(self) -> tuple[int, int, int]:
        buf = bytearray(6)
        self.i2c.readfrom_mem_into(ADDR, DATAX0, buf)
        return struct.unpack("<hhh", buf)

    def run_us(self, us: float) -> None:
        """Let simulated time pass (kept exact across the half-microsecond sample period)."""
        before = math.ceil(self.elapsed_us)
        self.elapsed_us += us
        self.simhw.advance_us(math.ceil(self.elapsed_us) - before)


@pytest.fixture
def node() -> Node:
    return Node()


def test_identity_and_reset_values(node: Node) -> None:
    assert node.i2c.scan() == [ADDR]
    assert node.reg(0x00) == 0xE5
    assert node.reg(BW_RATE) == 0x0A
    assert node.reg(INT_SOURCE) == 0x02  # watermark with samples = 0, as the data sheet's reset value
    assert node.reg(FIFO_STATUS) == 0


def test_wrong_pins_and_absent_addresses_nack_like_the_esp32_port(node: Node) -> None:
    machine = node.machine
    elsewhere = machine.I2C(1, scl=machine.Pin(25), sda=machine.Pin(26))
    assert elsewhere.scan() == []
    with pytest.raises(OSError) as info:
        elsewhere.readfrom_mem(ADDR, 0, 1)
    assert info.value.args[0] == errno.ENODEV
    with pytest.raises(OSError) as info:
        node.i2c.readfrom_mem(0x1D, 0, 1)
    assert info.value.args[0] == errno.ENODEV


def test_fifo_fills_at_the_output_data_rate(node: Node) -> None:
    node.start(watermark=16)
    assert node.reg(FIFO_STATUS) == 0
    node.run_us(10 * PERIOD_US)
    assert node.reg(FIFO_STATUS) == 10
    node.run_us(5 * PERIOD_US)
    assert node.reg(FIFO_STATUS) == 15
    assert not node.reg(INT_SOURCE) & 0x02
    node.run_us(PERIOD_US)
    assert node.reg(FIFO_STATUS) == 16
    assert node.reg(INT_SOURCE) & 0x82 == 0x82  # data ready + watermark


def test_lower_output_data_rate(node: Node) -> None:
    node.start(rate=0x0A)  # 100 Hz
    node.run_us(100_000)
    assert node.reg(FIFO_STATUS) == 10


def test_burst_read_pops_one_entry_single_bytes_lose_the_rest(node: Node) -> None:
    node.start()
    node.run_us(4 * PERIOD_US)
    assert node.sample() == (0, 0, 256)  # no signal file: at rest, 1 g on z at 256 LSB/g
    assert node.reg(FIFO_STATUS) == 3
    node.reg(DATAX0)  # a single-byte read still pops the entry
    assert node.reg(FIFO_STATUS) == 2


def test_stream_mode_overruns_when_not_read_in_time(node: Node) -> None:
    node.start(watermark=16)
    node.run_us(31 * PERIOD_US)
    assert node.reg(INT_SOURCE) & 0x01 == 0
    node.run_us(40 * PERIOD_US)
    assert node.reg(FIFO_STATUS) == 32
    assert node.reg(INT_SOURCE) & 0x01
    assert node.simhw.status()["vibration"]["lost"] == 71 - 32
    node.sample()
    assert node.reg(INT_SOURCE) & 0x01 == 0  # cleared by reading the FIFO


def test_fifo_mode_keeps_the_first_32(node: Node) -> None:
    node.start(mode=0x40)
    node.run_us(50 * PERIOD_US)
    assert node.reg(FIFO_STATUS) == 32
    assert node.reg(INT_SOURCE) & 0x01


def test_watermark_interrupt_reaches_the_pin_irq(node: Node) -> None:
    machine = node.machine
    node.start(watermark=8)
    edges: list[int] = []
    pin = machine.Pin(4, machine.Pin.IN)
    pin.irq(lambda p: edges.append(node.simhw.now_us()), trigger=machine.Pin.IRQ_RISING)
    node.run_us(7 * PERIOD_US)
    assert edges == [] and pin.value() == 0
    node.run_us(PERIOD_US)
    assert len(edges) == 1 and pin.value() == 1
    for _ in range(8):
        node.sample()
    assert pin.value() == 0
    node.run_us(8 * PERIOD_US)
    assert len(edges) == 2


def test_interrupt_mapped_to_int2_or_inverted(node: Node) -> None:
    machine = node.machine
    pin = machine.Pin(4, machine.Pin.IN)
    node.start(watermark=1)
    node.write(INT_MAP, 0x02)  # watermark on INT2, which is not wired
    node.run_us(2 * PERIOD_US)
    assert pin.value() == 0
    node.write(INT_MAP, 0x00)
    assert pin.value() == 1
    node.write(DATA_FORMAT, 0x2B)  # INT_INVERT: active low
    assert pin.value() == 0


def test_ranges_resolution_and_justify(node: Node) -> None:
    node.start(fmt=0x03)  # 10-bit, +-16 g: 32 LSB/g
    node.run_us(PERIOD_US)
    assert node.sample() == (0, 0, 32)
    node.write(DATA_FORMAT, 0x00)  # 10-bit +-2 g: 256 LSB/g
    node.run_us(PERIOD_US)
    assert node.sample() == (0, 0, 256)
    node.write(DATA_FORMAT, 0x04)  # left-justified 10-bit
    node.run_us(PERIOD_US)
    assert node.sample() == (0, 0, 256 << 6)


def test_self_test_shifts_the_output_within_the_data_sheet_limits(node: Node) -> None:
    node.start(fmt=0x0B)
    node.run_us(PERIOD_US)
    before = node.sample()
    node.write(DATA_FORMAT, 0x8B)
    node.run_us(PERIOD_US)
    after = node.sample()
    shift = [a - b for a, b in zip(after, before, strict=True)]
    assert 50 <= shift[0] <= 540 and -540 <= shift[1] <= -50 and 75 <= shift[2] <= 875


def test_spi_mode_3_with_multibyte_reads() -> None:
    board = dict(get_board("esp32-devkitc").raw)
    board["pins"] = {"spi": {"id": 2, "sck": 18, "mosi": 23, "miso": 19, "cs": 5}, "sensor_int": 4}
    board["sensors"] = [{"role": "vibration", "type": "adxl345", "bus": "spi", "odr_hz": 3200}]
    simhw = load_cpython()
    simhw.configure(board)
    import machine

    cs = machine.Pin(5, machine.Pin.OUT, value=1)
    wrong = machine.SPI(2, baudrate=2_000_000, polarity=0, phase=0, sck=machine.Pin(18))
    spi = machine.SPI(2, baudrate=2_000_000, polarity=1, phase=1, sck=machine.Pin(18))

    def transfer(bus: Any, out: bytes) -> bytes:
        back = bytearray(len(out))
        cs(0)
        bus.write_readinto(out, back)
        cs(1)
        return bytes(back)

    assert transfer(wrong, b"\x80\x00")[1] == 0x00
    assert transfer(spi, b"\x80\x00")[1] == 0xE5
    for reg, value in ((0x31, 0x0B), (0x2C, 0x0F), (0x38, 0x90), (0x2D, 0x08)):
        transfer(spi, bytes([reg, value]))
    simhw.advance_us(1000)
    assert transfer(spi, b"\xb9\x00")[1] == 3  # FIFO_STATUS
    data = transfer(spi, b"\xf2" + bytes(6))  # read, multi-byte, DATAX0
    assert struct.unpack("<hhh", data[1:]) == (0, 0, 256)
    assert transfer(spi, b"\xb9\x00")[1] == 2
    simhw.fault("unplugged")
    assert transfer(spi, b"\x80\x00")[1] == 0xFF


def test_unplugged_nack_and_stuck_faults(node: Node) -> None:
    node.simhw.fault("unplugged")
    assert node.i2c.scan() == []
    with pytest.raises(OSError) as info:
        node.reg(0)
    assert info.value.args[0] == errno.ENODEV
    node.simhw.clear("unplugged")
    assert node.reg(0) == 0xE5
    node.simhw.fault("nack", count=2)
    for _ in range(2):
        with pytest.raises(OSError):
            node.reg(0)
    assert node.reg(0) == 0xE5
    node.simhw.fault("stuck")
    with pytest.raises(OSError) as info:
        node.reg(0)
    assert info.value.args[0] == errno.ETIMEDOUT
    node.simhw.clear()
    assert node.reg(0) == 0xE5


def test_overrun_fault_is_a_stalled_firmware(node: Node) -> None:
    node.start(watermark=16)
    node.run_us(5 * PERIOD_US)
    node.simhw.fault("overrun", ms=50)
    assert node.reg(FIFO_STATUS) == 32
    assert node.reg(INT_SOURCE) & 0x01
    assert node.simhw.status()["vibration"]["lost"] > 100


def test_watchdog_timer_and_reset_cause(node: Node) -> None:
    machine = node.machine
    assert machine.reset_cause() == machine.PWRON_RESET
    assert machine.unique_id() == bytes.fromhex("240ac4000001")
    ticks: list[int] = []
    machine.Timer(0).init(period=10, callback=lambda t: ticks.append(1))
    wdt = machine.WDT(timeout=100)
    node.run_us(90_000)
    assert len(ticks) == 9
    wdt.feed()
    node.run_us(90_000)
    with pytest.raises(node.simhw.NodeReset) as info:
        node.run_us(20_000)
    assert info.value.cause == "wdt"
    with pytest.raises(node.simhw.NodeReset) as info:
        machine.reset()
    assert info.value.cause == "soft"  # esp_restart: the ESP32 port reports SOFT_RESET
    cause = machine.reset_cause()
    node.simhw.soft_reset()
    assert machine.reset_cause() == cause  # a soft reboot does not reset the chip
    assert Node(reset_cause="wdt").machine.reset_cause() == machine.WDT_RESET


def test_ds18b20_search_convert_and_scratchpad(node: Node) -> None:
    import ds18x20
    import onewire

    machine = node.machine
    bus = onewire.OneWire(machine.Pin(15))
    sensor = ds18x20.DS18X20(bus)
    roms = sensor.scan()
    assert len(roms) == 1 and roms[0][0] == 0x28 and bus.crc8(roms[0]) == 0
    assert sensor.read_temp(roms[0]) == 85.0  # power-on value until the first conversion
    sensor.convert_temp()
    assert bus.readbit() == 0  # converting
    node.run_us(750_000)
    assert bus.readbit() == 1
    assert sensor.read_temp(roms[0]) == 24.0
    sensor.write_scratch(roms[0], b"\x50\x00\x1f")  # TH 80, TL 0, 9-bit resolution
    node.simhw.fault("temp_ramp", c_per_min=60.0)
    node.run_us(10_300_000)
    sensor.convert_temp()
    node.run_us(93_750)
    assert sensor.read_temp(roms[0]) == 34.0  # 34.4 °C at 9 bits: 0.5 °C steps
    assert sensor.read_scratch(roms[0])[4] == 0x1F
    import esp32

    assert esp32.mcu_temperature() == 42  # 34.4 °C machine plus self-heating


def test_ds18b20_unplugged_has_no_presence_pulse(node: Node) -> None:
    import onewire

    bus = onewire.OneWire(node.machine.Pin(15))
    node.simhw.fault("unplugged", role="temperature")
    assert bus.reset() is False
    with pytest.raises(onewire.OneWireError):
        bus.reset(True)
    assert bus.scan() == []


def test_signal_file_feeds_the_fifo_and_the_bearing_fault_switches_it(tmp_path: Path) -> None:
    path = tmp_path / "v.fnsig"
    written = render_signal(path, 3200, SignalSource(duration_s=0.5, seed=3))
    node = Node(str(path))
    node.start(fmt=0x0B)  # full resolution: 256 LSB/g
    healthy = read_signal(path).segment_g(0)
    got = []
    for _ in range(20):
        node.run_us(16 * PERIOD_US)
        got += [node.sample() for _ in range(node.reg(FIFO_STATUS))]
    values = np.array(got, dtype=float) / 256
    expected = healthy[: len(values)]  # measuring started at simulated time 0: frame 0 first
    assert np.max(np.abs(values - expected)) <= 1 / 256 + 1e-9
    assert written.onset_s is None
    node.simhw.fault("bearing", after_s=0)
    node.run_us(64 * PERIOD_US)
    faulty = [node.sample() for _ in range(32)]
    assert np.max(np.abs(np.array(faulty))) > 3 * np.max(np.abs(np.array(got)[:, :2]))


def test_raw_i2c_transfers_spi_reads_timers_and_cpu_frequency(node: Node) -> None:
    machine = node.machine
    assert node.i2c.writeto(ADDR, bytes([0x00])) == 1  # set the register pointer, then read from it
    assert node.i2c.readfrom(ADDR, 1) == b"\xe5"
    assert node.i2c.writevto(ADDR, [bytes([BW_RATE]), b"\x0d"]) == 2
    assert node.reg(BW_RATE) == 0x0D
    assert machine.SoftI2C(machine.Pin(22), machine.Pin(21)).scan() == [ADDR]
    assert machine.SPI(2, sck=machine.Pin(18)).read(2) == b"\x00\x00"  # nothing on this board's SPI pins
    assert machine.SoftSPI(sck=machine.Pin(18)).read(1) == b"\x00"
    fired: list[int] = []
    timer = machine.Timer(1)
    timer.init(mode=machine.Timer.ONE_SHOT, period=5, callback=lambda t: fired.append(1))
    node.run_us(20_000)
    assert fired == [1] and timer.value() == 0
    assert machine.freq() == 160_000_000
    machine.freq(240_000_000)
    assert machine.freq() == 240_000_000
    with pytest.raises(ValueError):
        machine.freq(123)
