"""ADXL345 register model (Analog Devices ADXL345 data sheet, Rev. G), I2C and 4-wire SPI.

Modelled: DEVID, OFSX/Y/Z, BW_RATE (output data rate 0.10-3200 Hz), POWER_CTL (Measure, Sleep),
INT_ENABLE/INT_MAP/INT_SOURCE (DATA_READY, Watermark, Overrun; INT1 is wired to the board's
``sensor_int`` pin, INT2 to nothing), DATA_FORMAT (SELF_TEST, INT_INVERT, FULL_RES, Justify,
Range), DATAX0..DATAZ1, FIFO_CTL (bypass, FIFO, stream; trigger mode behaves as stream),
FIFO_STATUS, the 32-level FIFO. Tap, activity and free-fall detection are not modelled (their
registers hold what is written, their status bits stay 0).

- A transaction that reads any of DATAX0..DATAZ1 returns the oldest FIFO entry and pops it when
  it ends (one entry per transaction: read all six bytes in one burst).
- Watermark is set while the FIFO holds at least FIFO_CTL's samples entries (always with 0).
- Overrun is set when the FIFO is full (32 entries; stream mode then drops the oldest sample on
  each new one, FIFO mode drops the new one) and cleared when an entry is read; in bypass mode
  it is set when a sample replaces one that was not read.
- SPI: mode 3 (CPOL=1, CPHA=1), at most 5 MHz; first byte R/W (bit 7), MB (bit 6), address.
- Self-test shifts the output by +0.8 g (x), -0.8 g (y), +1.2 g (z), inside the data sheet's
  limits at 2.5 V and 3.3 V supplies.
"""

from array import array

from simdev.accel import Accel

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

DEVID = const(0x00)
OFSX = const(0x1E)
BW_RATE = const(0x2C)
POWER_CTL = const(0x2D)
INT_ENABLE = const(0x2E)
INT_MAP = const(0x2F)
INT_SOURCE = const(0x30)
DATA_FORMAT = const(0x31)
DATAX0 = const(0x32)
DATAZ1 = const(0x37)
FIFO_CTL = const(0x38)
FIFO_STATUS = const(0x39)
REGISTERS = const(0x3A)

DEVICE_ID = const(0xE5)
MEASURE = const(0x08)
SLEEP = const(0x04)
DATA_READY = const(0x80)
WATERMARK = const(0x02)
OVERRUN = const(0x01)
SELF_TEST = const(0x80)
INT_INVERT = const(0x20)
FULL_RES = const(0x08)
JUSTIFY = const(0x04)
MODE_BYPASS = const(0)
MODE_FIFO = const(1)
DEPTH = const(32)
SELF_TEST_LSB = (205, -205, 307)  # at 256 LSB/g
WRITABLE = (0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
            0x2C, 0x2D, 0x2E, 0x2F, 0x31, 0x38)


class ADXL345(Accel):
    """The chip; the I2C address is set by the wiring (0x53 with ALT ADDRESS low, 0x1D high)."""

    spi_mode = (1, 1)
    spi_max_hz = 5000000
    ID_REGISTER = DEVID
    IDENTITY = DEVICE_ID
    OTHER_IDENTITY = 0xE6  # an ADXL346 in its place (the "wrong_id" fault)

    def __init__(self, world):
        super().__init__(world)
        self.regs = bytearray(REGISTERS)
        self.regs[DEVID] = DEVICE_ID
        self.regs[BW_RATE] = 0x0A
        self._ring = array("i", bytes(4 * DEPTH))  # stream indexes of the FIFO entries
        self._head = 0
        self.count = 0
        self._overrun = False
        self._latest = -1  # bypass mode: the newest sample, and whether it was read
        self._latest_read = True
        self._out = bytearray(6)  # DATAX0..DATAZ1 as the current transaction sees them
        self._out_valid = False
        self._popped = False
        self._justify = 0
        self._configure_output()
        self._spi_address = -1
        self._spi_read = False
        self._spi_multi = False

    # -- FIFO ----------------------------------------------------------------------------------

    def _mode(self):
        return self.regs[FIFO_CTL] >> 6

    def _produced(self, new):
        first = self.made
        self.made += new
        mode = self._mode()
        if mode == MODE_BYPASS:
            if not self._latest_read:
                self._overrun = True
            self._latest = self.made - 1
            self._latest_read = False
        elif mode == MODE_FIFO:
            take = min(new, DEPTH - self.count)
            self.lost += new - take
            for j in range(first, first + take):
                self._ring[(self._head + self.count) % DEPTH] = j
                self.count += 1
        else:
            if new > DEPTH:  # only the newest DEPTH samples can still be in the FIFO
                self.lost += new - DEPTH
                first += new - DEPTH
            ring = self._ring
            for j in range(first, self.made):
                if self.count == DEPTH:
                    ring[self._head] = j
                    self._head = (self._head + 1) % DEPTH
                    self.lost += 1
                else:
                    ring[(self._head + self.count) % DEPTH] = j
                    self.count += 1
        if self.count == DEPTH:
            self._overrun = True
        self._update_int()

    def _clear_fifo(self):
        self.count = 0
        self._head = 0
        self._overrun = False
        self._latest_read = True

    def _int_source(self):
        regs = self.regs
        samples = regs[FIFO_CTL] & 0x1F
        if self._mode() == MODE_BYPASS:
            ready = not self._latest_read
            watermark = samples == 0
        else:
            ready = self.count > 0
            watermark = self.count >= samples
        return (DATA_READY if ready else 0) | (WATERMARK if watermark else 0) | (OVERRUN if self._overrun else 0)

    def _update_int(self):
        # the base class's version, folded into one call: it runs after every FIFO read
        regs = self.regs
        enabled = regs[INT_ENABLE] & ~regs[INT_MAP]
        level = bool(enabled and self._int_source() & enabled) != bool(regs[DATA_FORMAT] & INT_INVERT)
        if level != self.int_high:
            self.int_high = level
            if level:
                self.rises += 1
            else:
                self.falls += 1

    def _load_output(self):
        """Latch the data registers for this transaction: the oldest entry, or the newest sample."""
        if self._mode() == MODE_BYPASS:
            index = self._latest
            self._latest_read = True
            self._overrun = False
        elif self.count:
            index = self._ring[self._head]
            self._popped = True
        else:
            index = -1  # an empty FIFO leaves the data registers as they were
        if index >= 0:
            frame = self._sample(index)
            out = self._out
            shift = self._justify
            for axis in range(3):
                raw = frame[axis] << shift
                out[2 * axis] = raw & 0xFF
                out[2 * axis + 1] = (raw >> 8) & 0xFF
            self.reads += 1
        self._out_valid = True

    def _end_transaction(self):
        """The data registers are released; an entry read from the FIFO leaves it."""
        self._out_valid = False
        if self._popped:
            self._popped = False
            self._head = (self._head + 1) % DEPTH
            self.count -= 1
            self._overrun = False
        self._update_int()

    # -- registers -------------------------------------------------------------------------------

    def _read(self, reg):
        if DATAX0 <= reg <= DATAZ1:
            if not self._out_valid:
                self._load_output()
            return self._out[reg - DATAX0]
        if reg == INT_SOURCE:
            return self._int_source()
        if reg == FIFO_STATUS:
            return self.count
        if reg < REGISTERS:
            return self.regs[reg]
        return 0

    def _write(self, reg, value):
        if reg not in WRITABLE:
            return
        regs = self.regs
        old = regs[reg]
        regs[reg] = value
        if reg == POWER_CTL:
            measuring = bool(value & MEASURE) and not value & SLEEP
            if measuring and not self.running:
                self._clear_fifo()
                self._start(*self._period())
            elif not measuring and self.running:
                self._stop()
        elif reg == BW_RATE and self.running and (old ^ value) & 0x0F:
            self._retime(*self._period())
        elif reg == FIFO_CTL and (old ^ value) & 0xC0:
            self._clear_fifo()
        elif reg == DATA_FORMAT or OFSX <= reg <= OFSX + 2:
            self._configure_output()
            if reg == DATA_FORMAT:
                self._self_test(bool(value & SELF_TEST))

    def _period(self):
        """Sample period (half µs) and rate (mHz) for BW_RATE: 3200 Hz / 2**(15 - code)."""
        halvings = 15 - (self.regs[BW_RATE] & 0x0F)
        return 625 << halvings, 3200000 >> halvings

    def _configure_output(self):
        fmt = self.regs[DATA_FORMAT]
        g_range = fmt & 0x03
        full_res = bool(fmt & FULL_RES)
        bits = 10 + g_range if full_res else 10
        lsb_shift = 0 if full_res else g_range  # 256 LSB/g, or fewer with 10 bits at wider ranges
        self._scale(1, lsb_shift - 8, bits, tuple(v >> lsb_shift for v in SELF_TEST_LSB))
        for axis in range(3):
            ofs = self.regs[OFSX + axis]
            ofs = ofs - 256 if ofs & 0x80 else ofs
            self._offset[axis] = (ofs * 4) >> lsb_shift  # 15.6 mg/LSB
        self._justify = 16 - bits if fmt & JUSTIFY else 0

    # -- bus interfaces ----------------------------------------------------------------------------

    def i2c_read_into(self, reg, buf):
        """As any read transaction; the six data registers in one burst (the FIFO read) go direct."""
        if reg != DATAX0 or len(buf) != 6:
            super().i2c_read_into(reg, buf)
            return
        self._sync()
        self._load_output()
        buf[:] = self._out
        self._end_transaction()

    def spi_select(self, selected):
        if selected:
            self._sync()
            self._spi_address = -1
        else:
            self._end_transaction()

    def spi_transfer(self, tx, rx):
        """Clock bytes through while selected: ``tx`` (or 0x00s) out, ``rx`` (if any) in."""
        for i in range(len(tx) if tx is not None else len(rx)):
            mosi = tx[i] if tx is not None else 0
            if self._spi_address < 0:
                self._spi_read = bool(mosi & 0x80)
                self._spi_multi = bool(mosi & 0x40)
                self._spi_address = mosi & 0x3F
                miso = 0
            elif self._spi_read:
                miso = self._read(self._spi_address)
                self._spi_address += self._spi_multi
            else:
                self._write(self._spi_address, mosi)
                self._spi_address += self._spi_multi
                self._update_int()
                miso = 0
            if rx is not None:
                rx[i] = miso

    def stats(self):
        found = super().stats()
        found["fifo"] = self.count
        return found
