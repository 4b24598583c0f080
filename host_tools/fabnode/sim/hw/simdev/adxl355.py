"""ADXL355 register model (Analog Devices ADXL354/ADXL355 data sheet, Rev. D), SPI and I2C.

Modelled: DEVID_AD (0xAD), DEVID_MST (0x1D), PARTID (0xED), REVID, STATUS (DATA_RDY, FIFO_FULL,
FIFO_OVR), FIFO_ENTRIES, TEMP2/TEMP1 (1885 LSB at 25 °C, -9.05 LSB/°C), XDATA3..ZDATA1 (20-bit,
left-justified), FIFO_DATA, OFFSET_X/Y/Z, FILTER's ODR_LPF (4000 Hz / 2**n), FIFO_SAMPLES,
INT_MAP (INT1 is wired to the board's ``sensor_int``), RANGE (range, INT_POL), POWER_CTL
(STANDBY), SELF_TEST (ST1 + ST2: +0.3 g x, +0.3 g y, +1.5 g z), RESET (0x52).

- The FIFO holds 96 axis entries (32 x, y, z samples). Each FIFO_DATA entry is 3 bytes, the data
  left-justified, bit 0 of the third byte marks x-axis data, bit 1 an empty FIFO.
- FIFO_FULL is set while FIFO_ENTRIES >= FIFO_SAMPLES (the watermark); on overflow the oldest
  sample is lost and FIFO_OVR is set. STATUS bits DATA_RDY and FIFO_OVR clear when STATUS is read.
- SPI: mode 0, at most 10 MHz; command byte = register << 1 | R (1 = read); bursts auto-increment,
  except at FIFO_DATA, which keeps returning FIFO entries.
- Activity detection, the high-pass filter and the DRDY pin are not modelled.
"""

import simhw

from simdev.accel import Accel

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

STATUS = const(0x04)
FIFO_ENTRIES = const(0x05)
TEMP2 = const(0x06)
TEMP1 = const(0x07)
XDATA3 = const(0x08)
ZDATA1 = const(0x10)
FIFO_DATA = const(0x11)
OFFSET_X_H = const(0x1E)
OFFSET_Z_L = const(0x23)
FILTER = const(0x28)
FIFO_SAMPLES = const(0x29)
INT_MAP = const(0x2A)
RANGE = const(0x2C)
POWER_CTL = const(0x2D)
SELF_TEST = const(0x2E)
RESET = const(0x2F)
REGISTERS = const(0x30)

DATA_RDY = const(0x01)
FIFO_FULL = const(0x02)
FIFO_OVR = const(0x04)
STANDBY = const(0x01)
INT_POL = const(0x40)
DEPTH = const(96)
RESET_CODE = const(0x52)
SELF_TEST_G_X1000 = (300, 300, 1500)
WRITABLE = (0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D,
            0x2E)


class ADXL355(Accel):
    """The chip; on SPI it answers while its CS pin is low."""

    spi_mode = (0, 0)
    spi_max_hz = 10000000
    ID_REGISTER = 0x02  # PARTID
    IDENTITY = 0xED
    OTHER_IDENTITY = 0xEE  # not an ADXL355 (the "wrong_id" fault)

    def __init__(self, world):
        super().__init__(world)
        self.regs = bytearray(REGISTERS)
        self._entry = bytearray(3)  # the FIFO entry being shifted out
        self._entry_byte = 3
        self._latched = None
        self._spi_address = -1
        self._spi_read = False
        self._power_on()

    def _power_on(self):
        regs = self.regs
        for i in range(REGISTERS):
            regs[i] = 0
        regs[0], regs[1], regs[2], regs[3] = 0xAD, 0x1D, self.identity, 0x01
        regs[0x27] = 0x01  # ACT_COUNT
        regs[FIFO_SAMPLES] = 0x60
        regs[RANGE] = 0x81
        regs[POWER_CTL] = STANDBY
        self._status = 0
        self._head = 0  # oldest axis entry, as an index into the stream of x, y, z entries
        self.count = 0
        if self.running:
            self._stop()
        self._configure_output()

    # -- sampling and FIFO ---------------------------------------------------------------------

    def _period(self):
        n = self.regs[FILTER] & 0x0F
        n = 10 if n > 10 else n
        return 500 << n, 4000000 >> n

    def _produced(self, new):
        self.made += new
        self.count += 3 * new
        if self.count > DEPTH:
            excess = self.count - DEPTH
            dropped = (excess + 2) // 3 * 3  # whole samples go
            self._head += dropped
            self.count -= dropped
            self.lost += dropped // 3
            self._status |= FIFO_OVR
        self._status |= DATA_RDY
        self._update_int()

    def _status_now(self):
        full = FIFO_FULL if self.count >= self.regs[FIFO_SAMPLES] else 0
        return self._status | full

    def _fifo_entry(self):
        """Shift out one FIFO entry (3 bytes per entry: pop at its first byte)."""
        entry = self._entry
        if self._entry_byte == 3:
            self._entry_byte = 0
            if self.count == 0:
                entry[0] = entry[1] = 0
                entry[2] = 0x02  # empty indicator
            else:
                index = self._head
                self._head += 1
                self.count -= 1
                axis = index % 3
                if axis == 0:
                    self.reads += 1
                raw = self._sample(index // 3)[axis] & 0xFFFFF
                entry[0] = raw >> 12
                entry[1] = (raw >> 4) & 0xFF
                entry[2] = ((raw & 0x0F) << 4) | (1 if axis == 0 else 0)
        value = entry[self._entry_byte]
        self._entry_byte += 1
        return value

    def _data_registers(self):
        """TEMP2 .. ZDATA1 for the newest sample (11 bytes), latched for one transaction."""
        out = bytearray(11)
        celsius = self.world.temperature.at(simhw.now_us())
        temp = int(1885 - 9.05 * (celsius - 25) + 0.5) & 0x0FFF
        out[0] = temp >> 8
        out[1] = temp & 0xFF
        if self.made:
            frame = self._sample(self.made - 1)
            for axis in range(3):
                raw = frame[axis] & 0xFFFFF
                out[2 + 3 * axis] = raw >> 12
                out[3 + 3 * axis] = (raw >> 4) & 0xFF
                out[4 + 3 * axis] = (raw & 0x0F) << 4
        return out

    # -- interrupt -------------------------------------------------------------------------------

    def _int_active(self):
        sources = self._status_now() & 0x07
        return bool(sources & self.regs[INT_MAP] & 0x07)

    def _int_inverted(self):
        return not self.regs[RANGE] & INT_POL  # INT_POL = 0: active low

    # -- registers -------------------------------------------------------------------------------

    def _read(self, reg):
        if reg == FIFO_DATA:
            return self._fifo_entry()
        if reg == STATUS:
            status = self._status_now()
            self._status = 0
            return status
        if reg == FIFO_ENTRIES:
            return self.count
        if TEMP2 <= reg <= ZDATA1:
            if self._latched is None:
                self._latched = self._data_registers()
                self._status &= ~DATA_RDY
            return self._latched[reg - TEMP2]
        if reg < REGISTERS:
            return self.regs[reg]
        return 0

    def _next_address(self, reg):
        return reg if reg == FIFO_DATA else reg + 1

    def _end_transaction(self):
        self._latched = None
        self._entry_byte = 3
        self._update_int()

    def _write(self, reg, value):
        if reg == RESET:
            if value == RESET_CODE:
                self._power_on()
            return
        if reg not in WRITABLE:
            return
        regs = self.regs
        old = regs[reg]
        regs[reg] = value
        if reg == POWER_CTL:
            if not value & STANDBY and not self.running:
                self.count = 0
                self._head = 0
                self._start(*self._period())
            elif value & STANDBY and self.running:
                self._stop()
        elif reg == FILTER and self.running and (old ^ value) & 0x0F:
            self._retime(*self._period())
        elif reg == RANGE or OFFSET_X_H <= reg <= OFFSET_Z_L:
            self._configure_output()
        elif reg == SELF_TEST:
            self._self_test(value & 0x03 == 0x03)

    def _configure_output(self):
        g_range = self.regs[RANGE] & 0x03 or 1
        lsb_per_g = 256000 >> (g_range - 1)
        self._scale(125, g_range - 12, 20, tuple(g * lsb_per_g // 1000 for g in SELF_TEST_G_X1000))
        for axis in range(3):
            # OFFSET_x has the significance of data bits 19:4 and is added to the output
            offset = self.regs[OFFSET_X_H + 2 * axis] << 8 | self.regs[OFFSET_X_H + 2 * axis + 1]
            self._offset[axis] = (offset - 0x10000 if offset & 0x8000 else offset) << 4

    # -- bus interfaces ----------------------------------------------------------------------------

    def spi_select(self, selected):
        if selected:
            self._sync()
            self._spi_address = -1
        else:
            self._end_transaction()

    def _fifo_read_into(self, rx, i, end):
        """FIFO_DATA bytes into ``rx[i:end]`` (a burst stays at FIFO_DATA), whole entries at once."""
        entry = self._entry
        while i < end:
            if self._entry_byte == 3 and end - i >= 3:
                rx[i] = self._fifo_entry()
                rx[i + 1] = entry[1]
                rx[i + 2] = entry[2]
                self._entry_byte = 3
                i += 3
            else:
                rx[i] = self._fifo_entry()
                i += 1

    def spi_transfer(self, tx, rx):
        for i in range(len(tx) if tx is not None else len(rx)):
            if self._spi_read and self._spi_address == FIFO_DATA and rx is not None:
                self._fifo_read_into(rx, i, len(rx))
                return
            mosi = tx[i] if tx is not None else 0
            if self._spi_address < 0:
                self._spi_read = bool(mosi & 0x01)
                self._spi_address = mosi >> 1
                miso = 0
            elif self._spi_read:
                miso = self._read(self._spi_address)
                self._spi_address = self._next_address(self._spi_address)
            else:
                self._write(self._spi_address, mosi)
                self._spi_address += 1
                self._update_int()
                miso = 0
            if rx is not None:
                rx[i] = miso

    def stats(self):
        found = super().stats()
        found["fifo"] = self.count // 3
        return found
