"""Sensor drivers against simulated register maps: configuration, FIFO, watermark, overrun, NACK, IDs."""

import errno
from array import array

from drivers.adxl345 import ADXL345
from drivers.adxl355 import ADXL355
from drivers.mpu6050 import MPU6050
from fakes import ADXL345Model, ADXL355Model, FakeI2C, FakePin, FakeSPI, MPU6050Model

FRAMES = [(i, -i, 256 - 3 * i) for i in range(40)]


def _raises_errno(fn, code):
    try:
        fn()
    except OSError as exc:
        assert exc.args[0] == code, exc.args
        return
    raise AssertionError("no OSError")


def _adxl345_i2c():
    model = ADXL345Model()
    return model, ADXL345(FakeI2C(model, 0x53), 3200, 16, address=0x53)


def check_adxl345_configures_stream_mode_with_watermark():
    model, sensor = _adxl345_i2c()
    sensor.start(16)
    regs = model.regs
    assert regs[0x2C] == 0x0F  # 3200 Hz
    assert regs[0x31] == 0x0B  # full resolution, +-16 g
    assert regs[0x38] == 0x80 | 16  # stream mode, watermark 16
    assert regs[0x2E] == 0x02 and regs[0x2F] == 0  # watermark interrupt on INT1
    assert regs[0x2D] == 0x08  # measuring, written last
    assert model.writes[-1] == (0x2D, 0x08)


def check_adxl345_watermark_and_fifo_read_with_signs():
    model, sensor = _adxl345_i2c()
    sensor.start(16)
    model.push(FRAMES[:20])
    assert model.read(0x30, 1)[0] & 0x02  # the watermark interrupt source is set
    out = array("h", bytes(2 * 3 * 32))
    assert sensor.read_fifo(out, 3, 31) == 20
    assert list(out[3:9]) == [0, 0, 256, 1, -1, 253]
    assert out[3 * 20] == 19 and out[3 * 20 + 1] == -19
    assert sensor.overruns == 0
    assert sensor.read_fifo(out, 0, 31) == 0


def check_adxl345_overrun_is_counted_and_newest_frames_kept():
    model, sensor = _adxl345_i2c()
    sensor.start(16)
    model.push(FRAMES)  # 40 frames into a 32-frame FIFO
    out = array("h", bytes(2 * 3 * 32))
    assert sensor.read_fifo(out, 0, 32) == 32
    assert sensor.overruns == 1
    assert out[0] == 8  # frames 0..7 were overwritten
    model.push(FRAMES[:4])
    sensor.read_fifo(out, 0, 32)
    assert sensor.overruns == 1


def check_adxl345_read_respects_max_frames():
    model, sensor = _adxl345_i2c()
    sensor.start(16)
    model.push(FRAMES[:10])
    out = array("h", bytes(2 * 3 * 4))
    assert sensor.read_fifo(out, 0, 4) == 4
    assert len(model.fifo) == 6


def check_adxl345_wrong_devid_is_enodev():
    model = ADXL345Model(devid=0xE6)
    _raises_errno(lambda: ADXL345(FakeI2C(model, 0x53)), errno.ENODEV)


def check_adxl345_nack_raises_oserror():
    _, sensor = _adxl345_i2c()
    sensor.start(16)
    sensor._bus.nack = True
    out = array("h", bytes(2 * 3 * 32))
    _raises_errno(lambda: sensor.read_fifo(out, 0, 32), errno.ETIMEDOUT)
    _raises_errno(sensor.check, errno.ETIMEDOUT)


def check_adxl345_absent_at_boot_raises_oserror():
    _raises_errno(lambda: ADXL345(FakeI2C(ADXL345Model(), 0x1D)), errno.ETIMEDOUT)


def check_adxl345_over_spi_reads_the_same_frames():
    model = ADXL345Model()
    cs = FakePin()
    sensor = ADXL345(FakeSPI(model, cs, "adxl345"), 1600, 4, cs=cs)
    sensor.start(8)
    assert model.regs[0x2C] == 0x0E and model.regs[0x31] == 0x09
    model.push(FRAMES[:5])
    out = array("h", bytes(2 * 3 * 8))
    assert sensor.read_fifo(out, 0, 8) == 5
    assert list(out[:6]) == [0, 0, 256, 1, -1, 253]
    assert cs.value == 1


def check_adxl345_self_test_passes_and_fails():
    model, sensor = _adxl345_i2c()
    assert sensor.self_test(lambda ms: None) is True
    model.st_shift = (0, 0, 0)
    assert sensor.self_test(lambda ms: None) is False


def check_adxl345_rejects_bad_configuration():
    for kwargs in ({"odr_hz": 3000}, {"range_g": 3}):
        try:
            ADXL345(FakeI2C(ADXL345Model(), 0x53), **kwargs)
        except ValueError:
            continue
        raise AssertionError(f"accepted {kwargs}")


def check_mpu6050_fifo_big_endian_and_overflow_reset():
    model = MPU6050Model()
    sensor = MPU6050(FakeI2C(model, 0x68), 1000, 4)
    sensor.start()
    assert model.regs[0x19] == 0 and model.regs[0x1C] == 1 << 3 and model.regs[0x23] == 0x08
    assert model.regs[0x6A] == 0x40 and model.regs[0x38] == 0x10
    model.push(FRAMES[:40])
    out = array("h", bytes(2 * 3 * 64))
    assert sensor.read_fifo(out, 0, 64) == 40
    assert list(out[:6]) == [0, 0, 256, 1, -1, 253] and out[3 * 39 + 1] == -39
    model.push(FRAMES * 5)  # 200 frames > 170: overflow
    assert sensor.read_fifo(out, 0, 64) == 0
    assert sensor.overruns == 1 and len(model.fifo) == 0  # FIFO reset to realign
    assert abs(sensor.scale_g - 1 / 8192) < 1e-12


def check_mpu6050_wrong_who_am_i_is_enodev():
    _raises_errno(lambda: MPU6050(FakeI2C(MPU6050Model(who_am_i=0x70), 0x68)), errno.ENODEV)


def check_adxl355_20_bit_fifo_with_markers():
    model = ADXL355Model()
    cs = FakePin()
    sensor = ADXL355(FakeSPI(model, cs, "adxl355"), cs, 4000, 8)
    sensor.start(16)
    assert model.regs[0x29] == 48 and model.regs[0x28] == 0
    assert model.regs[0x2C] == 0x40 | 3  # +-8 g, interrupts active high (the handler waits for a rising edge)
    assert model.regs[0x2D] == 0
    model.push([(1, -1, 64000), (-524288, 524287, 0)])
    out = array("i", bytes(4 * 3 * 32))
    assert sensor.read_fifo(out, 0, 32) == 2
    assert list(out[:6]) == [1, -1, 64000, -524288, 524287, 0]
    assert abs(sensor.scale_g - 1 / 64000) < 1e-12


def check_adxl355_realigns_after_overrun():
    model = ADXL355Model()
    cs = FakePin()
    sensor = ADXL355(FakeSPI(model, cs, "adxl355"), cs)
    sensor.start(16)
    model.push([(i, i, i) for i in range(33)])  # 99 entries: the oldest 3 dropped, still aligned
    model.entries.pop(0)  # and one more lost: now the FIFO starts at a y entry
    out = array("i", bytes(4 * 3 * 32))
    assert sensor.read_fifo(out, 0, 32) == 0
    assert sensor.overruns == 1
    model.push([(7, 8, 9)])
    got = sensor.read_fifo(out, 0, 32)
    assert got >= 1 and list(out[3 * (got - 1):3 * got]) == [7, 8, 9]


def check_adxl355_wrong_ids_are_enodev():
    model = ADXL355Model(ids=b"\xad\x1d\xee")
    cs = FakePin()
    _raises_errno(lambda: ADXL355(FakeSPI(model, cs, "adxl355"), cs), errno.ENODEV)


def check_adxl345_scale_is_full_resolution_at_every_range():
    for range_g in (2, 4, 8, 16):
        sensor = ADXL345(FakeI2C(ADXL345Model(), 0x53), 3200, range_g)
        assert sensor.scale_g == 1 / 256
