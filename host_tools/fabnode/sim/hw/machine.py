"""``machine`` of the virtual node: the ESP32 port's API over simulated hardware.

Runs under MicroPython at ``/.sim/machine.py`` (and under CPython in tests). Devices are found
through ``simhw`` by the pins the firmware names, as on a board: an I2C bus on other pins than the
sensor's has nothing on it. Errors are the ESP32 port's: a device that does not acknowledge
raises ``OSError(ENODEV)``, a stuck bus ``OSError(ETIMEDOUT)``.

Interrupts, timers and the watchdog are delivered by ``simhw.service()``: between app ticks, and
every ``_SERVICE_EVERY`` bus transactions while the firmware keeps the CPU.
"""

import errno

import simhw

PWRON_RESET = simhw.PWRON_RESET
HARD_RESET = simhw.HARD_RESET
WDT_RESET = simhw.WDT_RESET
DEEPSLEEP_RESET = simhw.DEEPSLEEP_RESET
SOFT_RESET = simhw.SOFT_RESET

_FREQS = (20000000, 40000000, 80000000, 160000000, 240000000)
_SERVICE_EVERY = 64
_cpu_hz = 160000000
_transactions = 0


def _bus_activity():
    global _transactions
    _transactions += 1
    if _transactions >= _SERVICE_EVERY:
        _transactions = 0
        simhw.service()


def reset_cause():
    """Why the node last reset (PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET)."""
    return simhw.world().reset_cause


def reset():
    """Reset the chip; does not return. The ESP32 port then reports SOFT_RESET (esp_restart)."""
    simhw.reset("soft")


def deepsleep(time_ms=0):
    """Deep sleep ends in a reset (DEEPSLEEP_RESET); the virtual node wakes at once."""
    simhw.reset("deepsleep")


def unique_id():
    """The chip's base MAC address (6 bytes), as the ESP32 port returns it."""
    return simhw.world().unique_id


def freq(hz=None):
    """CPU frequency in Hz; setting accepts the ESP32's 20/40/80/160/240 MHz."""
    global _cpu_hz
    if hz is None:
        return _cpu_hz
    if hz not in _FREQS:
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _cpu_hz = hz


def idle():
    simhw.service()


def disable_irq():
    """Hold back interrupt delivery; returns the state for enable_irq()."""
    w = simhw.world()
    state = w.irq_disabled
    w.irq_disabled = True
    return state


def enable_irq(state=False):
    simhw.world().irq_disabled = state


def _pin_id(pin):
    return pin if pin is None or isinstance(pin, int) else pin.id


class _PinIRQ:
    def __init__(self, pin):
        self._pin = pin

    def trigger(self):
        return self._pin._trigger


class Pin:
    """A GPIO. Inputs wired to a sensor's interrupt output read its level; CS pins select SPI devices."""

    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        self.id = id
        self._mode = self.IN
        self._pull = None
        self._handler = None
        self._trigger = 0
        self._rises = 0
        self._falls = 0
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self.value(value)
        return None

    def value(self, level=None):
        w = simhw.world()
        pid = self.id
        if level is None:
            device = w.int_lines.get(pid)
            if device is not None:
                return device.int_level() if device.present else self._idle_level()
            if pid in w.pin_levels and self._mode != self.IN:
                return w.pin_levels[pid]
            return self._idle_level()
        level = 1 if level else 0
        old = w.pin_levels.get(pid, 0)
        w.pin_levels[pid] = level
        device = w.cs_devices.get(pid)
        if device is not None and level != old and device.present:
            device.spi_select(level == 0)
        return None

    def _idle_level(self):
        return 1 if self._pull == self.PULL_UP else 0

    def __call__(self, level=None):
        return self.value(level)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        """Call ``handler(pin)`` on edges of this pin (soft interrupt semantics)."""
        w = simhw.world()
        self._handler = handler
        self._trigger = trigger
        device = w.int_lines.get(self.id)
        if device is not None:
            device.int_level()
            self._rises = device.rises
            self._falls = device.falls
        others = [pin for pin in w.irqs if pin.id != self.id]
        w.irqs = others if handler is None else others + [self]  # noqa: RUF005  (MicroPython syntax)
        return _PinIRQ(self)

    def _deliver(self):
        device = simhw.world().int_lines.get(self.id)
        if device is None or self._handler is None or not device.present:
            return
        device.int_level()
        rose = device.rises != self._rises and self._trigger & self.IRQ_RISING
        fell = device.falls != self._falls and self._trigger & self.IRQ_FALLING
        self._rises = device.rises
        self._falls = device.falls
        if rose or fell:
            self._handler(self)

    def __repr__(self):
        return f"Pin({self.id})"


class I2C:
    """Hardware I2C controller."""

    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self.init(id, scl=scl, sda=sda, freq=freq, timeout=timeout)

    def init(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        default = simhw.ESP32_I2C_PINS.get(id, (None, None))
        self._pins = (_pin_id(scl) if scl is not None else default[0], _pin_id(sda) if sda is not None else default[1])
        self._devices = simhw.world().i2c.get(self._pins, {})
        self._on_bus = tuple(self._devices.values())
        self.freq = freq
        self._pointer = {}

    def scan(self):
        """Addresses that acknowledge, as a list."""
        return [address for address in sorted(self._devices) if self._devices[address].present
                and not self._stuck()]

    def _stuck(self):
        for device in self._on_bus:  # noqa: SIM110  (any() with a generator allocates)
            if device.stuck:
                return True
        return False

    def _device(self, addr):
        _bus_activity()
        if self._stuck():
            raise OSError(errno.ETIMEDOUT)
        device = self._devices.get(addr)
        if device is None or not device.present:
            raise OSError(errno.ENODEV)
        if device.nacks:
            device.nacks -= 1
            raise OSError(errno.ENODEV)
        return device

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).i2c_read_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self._device(addr).i2c_read_into(memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).i2c_write(memaddr, buf)

    def writeto(self, addr, buf, stop=True):
        """Write ``buf``; its first byte sets the register pointer. Returns the number of ACKs."""
        device = self._device(addr)
        if len(buf):
            self._pointer[addr] = buf[0]
            device.i2c_write(buf[0], memoryview(buf)[1:])
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = bytearray()
        for part in vector:
            data.extend(part)
        return self.writeto(addr, data, stop)

    def readfrom_into(self, addr, buf, stop=True):
        self._device(addr).i2c_read_into(self._pointer.get(addr, 0), buf)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)


class SoftI2C(I2C):
    """Bit-banged I2C: the same bus on the virtual node, constructed without an id."""

    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(-1, scl=scl, sda=sda, freq=freq, timeout=timeout)


class SPI:
    """SPI controller; a device answers while its CS pin is low and the bus mode suits it.

    An unplugged device leaves MISO high (0xFF); a device that cannot follow the clock polarity,
    phase or rate ignores the transfer (MISO reads 0x00).
    """

    CONTROLLER = 0
    MASTER = 0
    MSB = 0
    LSB = 1

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self._id = id
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit,
                  sck=sck, mosi=mosi, miso=miso)

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        self.baudrate = baudrate
        self._mode = (polarity, phase)
        default = simhw.ESP32_SPI_PINS.get(self._id, (None, None, None))
        sck = _pin_id(sck) if sck is not None else default[0]
        self._devices = simhw.world().spi.get(sck, ())

    def deinit(self):
        self._devices = ()

    def _selected(self):
        _bus_activity()
        levels = simhw.world().pin_levels
        for cs, device in self._devices:
            if levels.get(cs, 1) == 0:
                return device
        return None

    def _transfer(self, tx, rx):
        device = self._selected()
        if device is not None and device.present and device.spi_mode == self._mode \
                and self.baudrate <= device.spi_max_hz:
            device.spi_transfer(tx, rx)
        elif rx is not None:
            fill = 0xFF if device is not None and not device.present else 0x00
            for i in range(len(rx)):
                rx[i] = fill

    def write(self, buf):
        self._transfer(buf, None)

    def readinto(self, buf, write=0x00):
        """Read into ``buf`` (the simulated devices ignore what MOSI carries meanwhile)."""
        self._transfer(None, buf)

    def read(self, nbytes, write=0x00):
        buf = bytearray(nbytes)
        self._transfer(None, buf)
        return bytes(buf)

    def write_readinto(self, write_buf, read_buf):
        self._transfer(write_buf, read_buf)


class SoftSPI(SPI):
    """Bit-banged SPI: the same bus on the virtual node, constructed without an id."""

    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None,
                 miso=None):
        super().__init__(-1, baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit, sck=sck,
                         mosi=mosi, miso=miso)


class Timer:
    """Hardware timer in simulated time; callbacks run like soft interrupts."""

    ONE_SHOT = 0
    PERIODIC = 1
    _MAX_CATCH_UP = 100  # callbacks delivered at most per service, the rest are skipped

    def __init__(self, id=0, **kwargs):
        self._id = id
        self._callback = None
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, callback=None, freq=-1):
        if freq > 0:
            period_us = 1000000 // freq
        elif period > 0:
            period_us = period * 1000
        else:
            raise ValueError("period or freq must be given")
        self.deinit()
        self._mode = mode
        self._period_us = period_us
        self._next_us = simhw.now_us() + period_us
        self._callback = callback
        w = simhw.world()
        w.timers = w.timers + [self]  # noqa: RUF005  (MicroPython syntax)

    def deinit(self):
        self._callback = None
        w = simhw.world()
        w.timers = [timer for timer in w.timers if timer is not self]

    def value(self):
        """Microseconds until the next expiry."""
        return max(0, self._next_us - simhw.now_us()) if self._callback else 0

    def _deliver(self, now):
        calls = 0
        while self._callback is not None and now >= self._next_us:
            if calls == self._MAX_CATCH_UP:
                behind = (now - self._next_us) // self._period_us + 1
                self._next_us += behind * self._period_us
                break
            calls += 1
            callback = self._callback
            if self._mode == self.ONE_SHOT:
                self.deinit()
            else:
                self._next_us += self._period_us
            callback(self)


class WDT:
    """The task watchdog: not fed within ``timeout`` ms of simulated time, the node resets (WDT_RESET)."""

    def __init__(self, id=0, timeout=5000):
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        w = simhw.world()
        w.wdt_timeout_us = timeout * 1000
        w.wdt_fed_us = simhw.now_us()

    def feed(self):
        simhw.world().wdt_fed_us = simhw.now_us()
