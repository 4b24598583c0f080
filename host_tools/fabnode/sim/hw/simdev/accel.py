"""What the simulated accelerometers share: the sample clock, the signal, the interrupt line.

A sensor measures at its output data rate from the moment it starts; ``_sync()`` counts the samples
simulated time has produced since and hands the new ones to the FIFO bookkeeping of the model
(``_produced``). Sample values are computed only when the firmware reads them: stream index ``k``
is the frame the signal plays at the sample's time, scaled to the sensor's LSB and clipped to its
range, so a sample lost to an overrun costs nothing.
"""

import simhw
from simsignal import Signal

_REBASE = 4096  # samples between re-bases of the clock, keeps its integers small


class Accel:
    """Base of the accelerometer models; subclasses own the registers and the FIFO."""

    ID_REGISTER = 0  # the register that identifies the part, and what it reads
    IDENTITY = 0
    OTHER_IDENTITY = 0

    def __init__(self, world):
        self.world = world
        self.present = True  # the "unplugged" fault clears this
        self.nacks = 0  # pending NACKed I2C transactions (the "nack" fault)
        self.identity = self.IDENTITY
        self.signal = Signal(world.signal_path)
        self.running = False
        self.made = 0  # samples produced since the start
        self.lost = 0  # samples lost to FIFO overruns
        self.reads = 0  # samples the firmware read
        self.stuck = False  # the "stuck" fault: the sensor holds SDA low
        self.rises = 0  # edges of the interrupt output
        self.falls = 0
        self.int_high = False
        self._period_x2 = 2  # sample period in half microseconds
        self._base = 0
        self._k = 0
        self._due = 0
        self._p0 = 0
        self._k0 = 0
        self._same_rate = True
        self._rate_num = 1
        self._rate_den = 1
        # raw = clip((value * _mul) >> _shr) for the current range; self-test adds _st
        self._mul = 1
        self._shr = 0
        self._lo = -32768
        self._hi = 32767
        self._offset = [0, 0, 0]  # offset registers, in raw LSB
        self._st = (0, 0, 0)
        self._st_from = -1  # stream index from which the self-test shift applies (-1: off)
        self.frame = [0, 0, 0]  # the last sample computed by _sample()
        self._frame_k = -1  # its stream index (-1: none valid)

    # -- the sample clock ----------------------------------------------------------------------

    def _start(self, period_x2, rate_mhz):
        """Start measuring: one sample every ``period_x2 / 2`` µs; ``rate_mhz`` is that rate in mHz."""
        self.running = True
        self.made = 0
        self._clock(period_x2, rate_mhz)

    def _retime(self, period_x2, rate_mhz):
        """A new output data rate while measuring: samples made so far stay, new ones follow it."""
        self._sync()
        self._clock(period_x2, rate_mhz)

    def _clock(self, period_x2, rate_mhz):
        now = simhw.now_us()
        self._period_x2 = period_x2
        self._base = now
        self._k = 0
        self._due = now + (period_x2 + 1) // 2  # the first sample comes one period after the start
        # stream index made + j plays signal frame p0 + j * rate_num // rate_den
        self._p0 = self.signal.position(now)
        self._k0 = self.made
        self._rate_num = self.signal.rate_mhz
        self._rate_den = rate_mhz
        self._same_rate = rate_mhz == self.signal.rate_mhz
        self._frame_k = -1

    def _stop(self):
        self._sync()
        self.running = False

    def _sync(self):
        """Account for the samples produced up to now."""
        if not self.running:
            return
        now = simhw.now_us()
        if now < self._due:
            return
        k = (now - self._base) * 2 // self._period_x2  # samples due since the base
        new = k - self._k
        self._k = k
        if k >= _REBASE:
            # move the base by an even number of samples so the half microseconds stay exact
            shift = k & ~1
            self._base += shift * self._period_x2 // 2
            self._k -= shift
        self._due = self._base + ((self._k + 1) * self._period_x2 + 1) // 2
        self._produced(new)

    def _produced(self, new):
        """``new`` samples arrived (stream indexes ``made`` .. ``made + new - 1``); subclass FIFO."""
        self.made += new

    # -- sample values -----------------------------------------------------------------------------

    def _sample(self, k):
        """Raw x, y, z of stream index ``k`` into ``self.frame``; returns it."""
        if k == self._frame_k:
            return self.frame
        self._frame_k = k
        signal = self.signal
        if self._same_rate:
            i = signal.at(self._p0 + k - self._k0)
        else:
            i = signal.at(self._p0 + (k - self._k0) * self._rate_num // self._rate_den)
        buf = signal.buf
        mul = self._mul
        shr = self._shr
        offset = self._offset
        x = ((buf[i] * mul) >> shr) + offset[0]
        y = ((buf[i + 1] * mul) >> shr) + offset[1]
        z = ((buf[i + 2] * mul) >> shr) + offset[2]
        if 0 <= self._st_from <= k:
            st = self._st
            x += st[0]
            y += st[1]
            z += st[2]
        lo = self._lo
        hi = self._hi
        frame = self.frame  # unrolled: this runs for every sample the firmware reads
        frame[0] = lo if x < lo else hi if x > hi else x
        frame[1] = lo if y < lo else hi if y > hi else y
        frame[2] = lo if z < lo else hi if z > hi else z
        return frame

    def _scale(self, mul, shr, bits, self_test=(0, 0, 0)):
        """Set the output scaling: raw = (value * mul) >> shr in a ``bits``-bit signed range."""
        shift = self.signal.shift
        # value is g * 2**shift; a sensitivity of ``mul / 2**e`` LSB per g needs value * mul >> (shift - e)
        shr += shift
        while shr < 0:
            mul <<= 1
            shr += 1
        self._frame_k = -1
        self._mul = mul
        self._shr = shr
        self._hi = (1 << (bits - 1)) - 1
        self._lo = -(1 << (bits - 1))
        self._st = self_test

    def _self_test(self, on):
        self._frame_k = -1
        if on and self._st_from < 0:
            self._sync()
            self._st_from = self.made
        elif not on:
            self._st_from = -1

    def swap_chip(self, other):
        """The "wrong_id" fault: another part (``other``) or the right one answers at this place."""
        self.identity = self.OTHER_IDENTITY if other else self.IDENTITY
        self.regs[self.ID_REGISTER] = self.identity

    def arm_onset(self, onset_us):
        """The "bearing" fault: switch the signal to its fault segment at ``onset_us``."""
        self.signal.arm(onset_us)
        self._frame_k = -1

    # -- the interrupt line --------------------------------------------------------------------------

    def _int_active(self):
        """Whether the sensor asserts its interrupt output now (subclass: sources and mapping)."""
        return False

    def _int_inverted(self):
        """Whether the output is active low (subclass: its polarity setting)."""
        return False

    def _update_int(self):
        level = self._int_active() != self._int_inverted()
        if level != self.int_high:
            self.int_high = level
            if level:
                self.rises += 1
            else:
                self.falls += 1

    def int_level(self):
        """Electrical level of the interrupt output now."""
        self._sync()
        self._update_int()
        return 1 if self.int_high else 0

    # -- register access over a bus ------------------------------------------------------------

    def _read(self, reg):
        """One register as a read transaction sees it (subclass)."""
        return 0

    def _write(self, reg, value):
        """One register write (subclass)."""

    def _next_address(self, reg):
        """The register a burst continues with (auto-increment)."""
        return reg + 1

    def _end_transaction(self):
        self._update_int()

    def i2c_read_into(self, reg, buf):
        """An I2C read transaction from register ``reg`` into ``buf``."""
        self._sync()
        for i in range(len(buf)):
            buf[i] = self._read(reg)
            reg = self._next_address(reg)
        self._end_transaction()

    def i2c_write(self, reg, data):
        """An I2C write transaction: ``data`` into registers from ``reg`` on."""
        self._sync()
        for value in data:
            self._write(reg, value)
            reg = self._next_address(reg)
        self._end_transaction()

    def stats(self):
        self._sync()
        return {"running": self.running, "present": self.present, "samples": self.made, "read": self.reads,
                "lost": self.lost}
