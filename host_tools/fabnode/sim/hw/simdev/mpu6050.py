"""MPU-6050 register model (InvenSense register map RM-MPU-6000A-00 rev. 4.2 and product spec), I2C.

Modelled: WHO_AM_I (0x68), PWR_MGMT_1 (DEVICE_RESET, SLEEP; reset value 0x40: asleep),
SMPLRT_DIV and CONFIG's DLPF_CFG (sample rate = 8 kHz, or 1 kHz with the DLPF on, / (1 +
SMPLRT_DIV)), ACCEL_CONFIG (AFS_SEL range, XA/YA/ZA_ST self-test), the accelerometer, temperature
and gyroscope output registers (big-endian; the gyroscope reads a still machine: 0), FIFO_EN,
USER_CTRL (FIFO_EN, FIFO_RESET), FIFO_COUNTH/L, FIFO_R_W and its 1024-byte FIFO, INT_PIN_CFG
(INT_LEVEL, LATCH_INT_EN, INT_RD_CLEAR), INT_ENABLE/INT_STATUS (DATA_RDY, FIFO_OFLOW).

- The FIFO takes each sample's enabled registers in register order (accel, temp, gyro). When
  full, new bytes push out the oldest, so the frames lose alignment, as on the chip: reset it.
- Burst reads auto-increment, except at FIFO_R_W, which keeps returning FIFO bytes; an empty
  FIFO returns the last byte read.
- The accelerometer updates at 1 kHz at most; faster sample rates repeat samples.
- Without LATCH_INT_EN every interrupt event is a 50 µs pulse on INT.
- Changing FIFO_EN starts the FIFO over; the DLPF's filtering itself is not modelled.
- Self-test raises each enabled axis by its factory trim (XA_TEST = 16: 0.559 g).
"""

import simhw

from simdev.accel import Accel

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

SELF_TEST_X = const(0x0D)
SELF_TEST_A = const(0x10)
SMPLRT_DIV = const(0x19)
CONFIG = const(0x1A)
ACCEL_CONFIG = const(0x1C)
FIFO_EN = const(0x23)
INT_PIN_CFG = const(0x37)
INT_ENABLE = const(0x38)
INT_STATUS = const(0x3A)
ACCEL_XOUT_H = const(0x3B)
TEMP_OUT_H = const(0x41)
GYRO_ZOUT_L = const(0x48)
USER_CTRL = const(0x6A)
PWR_MGMT_1 = const(0x6B)
FIFO_COUNTH = const(0x72)
FIFO_COUNTL = const(0x73)
FIFO_R_W = const(0x74)
WHO_AM_I = const(0x75)
REGISTERS = const(0x76)

DATA_RDY = const(0x01)
FIFO_OFLOW = const(0x10)
USER_FIFO_EN = const(0x40)
FIFO_RESET = const(0x04)
DEVICE_RESET = const(0x80)
SLEEP = const(0x40)
INT_LEVEL = const(0x80)
LATCH_INT_EN = const(0x20)
INT_RD_CLEAR = const(0x10)
TEMP_FIFO = const(0x80)
GYRO_FIFO = const(0x70)
ACCEL_FIFO = const(0x08)
DEPTH = const(1024)
SELF_TEST_TRIM_LSB = 2291  # factory trim for XA_TEST = 16, at 4096 LSB/g


class MPU6050(Accel):
    """The chip at I2C address 0x68 (AD0 low) or 0x69."""

    ID_REGISTER = WHO_AM_I
    IDENTITY = 0x68
    OTHER_IDENTITY = 0x70  # an MPU-6500 in its place (the "wrong_id" fault)

    def __init__(self, world):
        super().__init__(world)
        self.regs = bytearray(REGISTERS)
        self._full = bytearray(14)  # ACCEL_XOUT_H .. GYRO_ZOUT_L of one sample
        self._frame = bytearray(14)  # the enabled part of it, in FIFO byte order
        self._frame_index = -1
        self._latched = None  # output registers as the current read transaction sees them
        self._one = bytearray(1)
        self._power_on()

    def _power_on(self):
        regs = self.regs
        for i in range(REGISTERS):
            regs[i] = 0
        regs[WHO_AM_I] = self.identity
        regs[PWR_MGMT_1] = SLEEP
        regs[SELF_TEST_X] = regs[SELF_TEST_X + 1] = regs[SELF_TEST_X + 2] = 0x80  # XA_TEST[4:2] = 100
        self._status = 0
        self._written = 0  # FIFO bytes written since the FIFO (re)started
        self._read_bytes = 0
        self._fifo_first = 0  # stream index of the first sample the FIFO took
        self._frame_size = 0
        self._last_fifo_byte = 0
        self._pulses = 0
        self._configure_output()
        if self.running:
            self._stop()

    # -- sampling and FIFO ---------------------------------------------------------------------

    def _period(self):
        """Sample period (half µs) and rate (mHz) from SMPLRT_DIV and DLPF_CFG."""
        dlpf = self.regs[CONFIG] & 0x07
        divider = 1 + self.regs[SMPLRT_DIV]
        if dlpf in (0, 7):
            return 250 * divider, 8000000 // divider
        return 2000 * divider, 1000000 // divider

    def _fifo_on(self):
        return bool(self.regs[USER_CTRL] & USER_FIFO_EN) and self._frame_size > 0

    def _restart_fifo(self):
        enabled = self.regs[FIFO_EN]
        self._frame_size = (6 if enabled & ACCEL_FIFO else 0) + (2 if enabled & TEMP_FIFO else 0) + \
            2 * ((enabled & 0x40 != 0) + (enabled & 0x20 != 0) + (enabled & 0x10 != 0))
        self._written = 0
        self._read_bytes = 0
        self._fifo_first = self.made
        self._frame_index = -1

    def _produced(self, new):
        self.made += new
        if not new:
            return
        if self.regs[INT_ENABLE] & DATA_RDY:
            self._pulses += 1
        self._status |= DATA_RDY
        if self._fifo_on():
            self._written = (self.made - self._fifo_first) * self._frame_size
            if self._written - self._read_bytes > DEPTH:
                dropped = self._written - self._read_bytes - DEPTH
                self.lost += dropped // self._frame_size
                self._read_bytes += dropped
                self._status |= FIFO_OFLOW
                if self.regs[INT_ENABLE] & FIFO_OFLOW:
                    self._pulses += 1
        else:
            self._fifo_first = self.made
        self._update_int()

    def _fifo_count(self):
        return self._written - self._read_bytes if self._fifo_on() else 0

    def _fifo_read_into(self, buf):
        """A burst at FIFO_R_W: FIFO bytes in order; an empty FIFO repeats the last byte read."""
        size = self._frame_size
        i = 0
        n = len(buf)
        while i < n:
            available = self._fifo_count()
            if not available:
                last = self._last_fifo_byte
                while i < n:
                    buf[i] = last
                    i += 1
                return
            position = self._read_bytes
            index = position // size
            offset = position - index * size
            if offset == 0:
                self.reads += 1
            frame = self._fifo_frame(self._fifo_first + index)
            take = min(size - offset, available, n - i)
            for j in range(take):
                buf[i + j] = frame[offset + j]
            i += take
            self._read_bytes += take
            self._last_fifo_byte = frame[offset + take - 1]

    def _fifo_frame(self, index):
        """The bytes the FIFO holds for stream index ``index``: the enabled registers in order."""
        if index != self._frame_index:
            self._frame_index = index
            enabled = self.regs[FIFO_EN]
            full = self._output(index, enabled & TEMP_FIFO)
            frame = self._frame
            n = 0
            if enabled & ACCEL_FIFO:
                for j in range(6):
                    frame[j] = full[j]
                n = 6
            if enabled & TEMP_FIFO:
                frame[n] = full[6]
                frame[n + 1] = full[7]
                n += 2
            for start in (8, 10, 12):
                if enabled & (0x40 >> ((start - 8) >> 1)):
                    frame[n] = full[start]
                    frame[n + 1] = full[start + 1]
                    n += 2
        return self._frame

    def _output(self, index, with_temperature=True):
        """ACCEL_XOUT_H .. GYRO_ZOUT_L for one stream index (14 bytes; gyroscope 0)."""
        out = self._full
        if index >= 0:
            frame = self._sample(index)
            for axis in range(3):
                raw = frame[axis] & 0xFFFF
                out[2 * axis] = raw >> 8
                out[2 * axis + 1] = raw & 0xFF
        if with_temperature:
            temp = int((self.world.temperature.at(simhw.now_us()) - 36.53) * 340) & 0xFFFF
            out[6] = temp >> 8
            out[7] = temp & 0xFF
        return out

    # -- interrupt -------------------------------------------------------------------------------

    def _int_active(self):
        if self.regs[INT_PIN_CFG] & LATCH_INT_EN:
            return bool(self._status & self.regs[INT_ENABLE] & (DATA_RDY | FIFO_OFLOW))
        return False

    def _int_inverted(self):
        return bool(self.regs[INT_PIN_CFG] & INT_LEVEL)

    def _update_int(self):
        if self._pulses:  # 50 µs pulses: an edge there and back per event, level at rest
            self._pulses = 0
            self.rises += 1
            self.falls += 1
        super()._update_int()

    # -- registers -------------------------------------------------------------------------------

    def i2c_read_into(self, reg, buf):
        if reg != FIFO_R_W:
            super().i2c_read_into(reg, buf)
            return
        self._sync()
        if self.regs[INT_PIN_CFG] & INT_RD_CLEAR:
            self._status = 0
        self._fifo_read_into(buf)
        self._end_transaction()

    def _read(self, reg):
        if reg == FIFO_R_W:
            self._fifo_read_into(self._one)
            return self._one[0]
        if reg == FIFO_COUNTH:
            return self._fifo_count() >> 8
        if reg == FIFO_COUNTL:
            return self._fifo_count() & 0xFF
        if reg == INT_STATUS:
            status = self._status
            self._status = 0
            return status
        if self.regs[INT_PIN_CFG] & INT_RD_CLEAR:
            self._status = 0
        if ACCEL_XOUT_H <= reg <= GYRO_ZOUT_L:
            if reg == ACCEL_XOUT_H or self._latched is None:
                self._latched = self._output(self.made - 1 if self.running else -1)
            return self._latched[reg - ACCEL_XOUT_H]
        if reg < REGISTERS:
            return self.regs[reg]
        return 0

    def _next_address(self, reg):
        return reg if reg == FIFO_R_W else reg + 1

    def _end_transaction(self):
        self._latched = None
        self._update_int()

    def _write(self, reg, value):
        if reg >= REGISTERS or reg in (WHO_AM_I, INT_STATUS, FIFO_COUNTH, FIFO_COUNTL) or \
                ACCEL_XOUT_H <= reg <= GYRO_ZOUT_L:
            return
        regs = self.regs
        if reg == FIFO_R_W:
            return  # writing the FIFO is for test data on the real chip; not modelled
        if reg == PWR_MGMT_1 and value & DEVICE_RESET:
            self._power_on()
            return
        old = regs[reg]
        regs[reg] = value
        if reg == PWR_MGMT_1:
            awake = not value & SLEEP
            if awake and not self.running:
                self._start(*self._period())
                self._restart_fifo()
            elif not awake and self.running:
                self._stop()
        elif reg in (SMPLRT_DIV, CONFIG) and self.running and old != value:
            self._retime(*self._period())
        elif reg == ACCEL_CONFIG:
            self._configure_output()
            self._self_test(bool(value & 0xE0))
        elif reg == FIFO_EN and old != value:
            self._restart_fifo()
        elif reg == USER_CTRL:
            if value & FIFO_RESET:
                regs[USER_CTRL] = value & ~FIFO_RESET  # self-clearing
                self._restart_fifo()
            elif (old ^ value) & USER_FIFO_EN:
                self._restart_fifo()

    def _configure_output(self):
        config = self.regs[ACCEL_CONFIG]
        afs = (config >> 3) & 0x03
        trim = SELF_TEST_TRIM_LSB * 4 >> afs  # the trim is given at 4096 LSB/g (AFS_SEL 2)
        self._scale(1, afs - 14, 16, tuple(trim if config & (0x80 >> axis) else 0 for axis in range(3)))

    def stats(self):
        found = super().stats()
        found["fifo"] = self._fifo_count()
        return found
