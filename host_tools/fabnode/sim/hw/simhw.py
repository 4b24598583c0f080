"""The simulated hardware of a virtual node: its clock, its wiring, its faults.

Runs under MicroPython at ``/.sim/simhw.py`` (and under CPython in tests). ``machine``, ``esp32``
and ``onewire`` look their devices up here. The wiring comes from the board file
(``docs/boards.md``): ``configure()`` takes it directly, or the first use loads ``/.sim/hw.json``,
which the virtual node writes at every power-on (docs/virtual-node.md, "Simulated hardware").

Time is the node's simulated time (``vnode.sim_time_us()``); without ``vnode`` (CPython, plain
MicroPython) it is a manual clock that tests move with ``advance_us()``.
"""

import json
from binascii import unhexlify

try:
    from vnode import sim_time_us as _vnode_clock
except ImportError:  # CPython tests and plain MicroPython: a manual clock
    _vnode_clock = None

CONFIG_PATH = "/.sim/hw.json"

# machine.reset_cause() values of the ESP32 port
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# reset cause names the virtual node passes in hw.json / vnode.hard_reset(); a brown-out reads as
# a power-on reset on the ESP32 port
CAUSES = {"power_on": PWRON_RESET, "brownout": PWRON_RESET, "hard": HARD_RESET, "wdt": WDT_RESET,
          "deepsleep": DEEPSLEEP_RESET, "soft": SOFT_RESET}

MCU_SELF_HEATING_C = 8.0  # the die runs warmer than the housing it sits on
ESP32_I2C_PINS = {0: (18, 19), 1: (25, 26)}  # (scl, sda) when machine.I2C is given no pins
ESP32_SPI_PINS = {1: (14, 13, 12), 2: (18, 23, 19)}  # (sck, mosi, miso)

_manual_us = 0
_skew_us = 0  # the "overrun" fault: the sensors run ahead of the stalled firmware
_world = None


class NodeReset(BaseException):
    """Raised by a reset where there is no virtual node to reset (CPython tests, plain MicroPython)."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


def now_us():
    """Simulated time in microseconds, as the sensors see it."""
    if _vnode_clock is not None:
        return _vnode_clock() + _skew_us
    return _manual_us + _skew_us


def advance_us(us):
    """Move the manual clock (tests); the virtual node's clock moves by itself."""
    global _manual_us
    _manual_us += us
    service()


class Temperature:
    """The machine's temperature: ambient, plus a ramp fault (°C per second, capped at ``limit_c``)."""

    def __init__(self, ambient_c=24.0):
        self.ambient_c = ambient_c
        self.ramp_start_us = -1
        self.ramp_c_per_s = 0.0
        self.limit_c = 125.0

    def at(self, t_us):
        """°C at simulated time ``t_us``."""
        if self.ramp_start_us < 0 or t_us <= self.ramp_start_us:
            return self.ambient_c
        return min(self.limit_c, self.ambient_c + self.ramp_c_per_s * ((t_us - self.ramp_start_us) / 1e6))


class World:
    """Everything wired to the node: buses, pins, devices, watchdog and timers."""

    def __init__(self, board, signal_path=None, ambient_c=24.0, reset_cause="power_on", unique_id=None):
        self.board = board
        self.reset_cause = CAUSES.get(reset_cause, PWRON_RESET)
        self.unique_id = unhexlify(unique_id) if unique_id else b"\x24\x0a\xc4\x00\x00\x01"
        self.temperature = Temperature(ambient_c)
        self.signal_path = signal_path
        self.i2c = {}  # (scl, sda) -> {address: device}
        self.spi = {}  # sck -> [(cs pin, device)]
        self.onewire = {}  # pin -> [device]
        self.int_lines = {}  # pin -> device driving it
        self.roles = {}  # "vibration" / "temperature" -> device
        self.pin_levels = {}  # pin -> level the firmware drives
        self.cs_devices = {}  # cs pin -> device
        self.irqs = []  # machine.Pin objects with an irq handler
        self.timers = []
        self.wdt_timeout_us = 0
        self.wdt_fed_us = 0
        self.servicing = False
        self.irq_disabled = False
        self._wire(board)

    def _wire(self, board):
        pins = board.get("pins", {})
        for sensor in board.get("sensors", ()):
            device = _make_device(sensor, self)
            if device is None:
                continue
            self.roles[sensor["role"]] = device
            bus = sensor.get("bus")
            if bus == "i2c":
                i2c = pins["i2c"]
                self.i2c.setdefault((i2c["scl"], i2c["sda"]), {})[int(sensor["address"], 16)] = device
            elif bus == "spi":
                spi = pins["spi"]
                self.spi.setdefault(spi["sck"], []).append((spi["cs"], device))
                self.cs_devices[spi["cs"]] = device
                self.pin_levels[spi["cs"]] = 1
            elif bus == "onewire":
                self.onewire.setdefault(sensor.get("pin", pins.get("onewire")), []).append(device)
            if sensor["role"] == "vibration" and pins.get("sensor_int") is not None:
                self.int_lines[pins["sensor_int"]] = device

    def device(self, role):
        found = self.roles.get(role)
        if found is None:
            raise ValueError(f"this node has no {role} sensor")
        return found


def _make_device(sensor, world):
    kind = sensor["type"]
    if kind == "adxl345":
        from simdev.adxl345 import ADXL345
        return ADXL345(world)
    if kind == "mpu6050":
        from simdev.mpu6050 import MPU6050
        return MPU6050(world)
    if kind == "adxl355":
        from simdev.adxl355 import ADXL355
        return ADXL355(world)
    if kind == "ds18b20":
        from simdev.ds18b20 import DS18B20
        return DS18B20(world, sensor.get("rom"))
    if kind == "mcu":
        return None  # esp32.mcu_temperature() reads the world's temperature directly
    raise ValueError(f"no simulated model of a {kind} sensor")


def configure(board, signal=None, ambient_c=24.0, reset_cause="power_on", unique_id=None, faults=()):
    """Wire a node as ``board`` (a board file's dict); ``signal`` is a vibration data file."""
    global _world
    _world = World(board, signal, ambient_c, reset_cause, unique_id)
    for spec in faults:
        spec = dict(spec)
        fault(spec.pop("name"), **spec)
    return _world


def world():
    """The node's wiring, loaded from ``/.sim/hw.json`` on first use (an empty board if absent)."""
    if _world is None:
        try:
            with open(CONFIG_PATH) as handle:
                config = json.load(handle)
        except OSError:
            config = {"board": {}}
        configure(config["board"], config.get("signal"), config.get("ambient_c", 24.0),
                  config.get("reset_cause", "power_on"), config.get("unique_id"), config.get("faults", ()))
    return _world


def service():
    """Deliver what happened since the last call: pin interrupts, timer callbacks, the watchdog.

    The virtual node calls this between app ticks; ``machine`` calls it every few bus
    transactions. Pin interrupts and timers are registered copy-on-write, so handlers may change
    them while they are delivered.
    """
    w = world()
    if w.servicing:
        return
    w.servicing = True
    try:
        now = now_us()
        if w.wdt_timeout_us and now - w.wdt_fed_us > w.wdt_timeout_us:
            w.wdt_timeout_us = 0
            reset("wdt")
        if not w.irq_disabled:
            for pin in w.irqs:
                pin._deliver()
            for timer in w.timers:
                timer._deliver(now)
    finally:
        w.servicing = False


def reset(cause):
    """Reset the node (``machine.reset()``, the watchdog, deep sleep); does not return."""
    try:
        from vnode import hard_reset
    except ImportError:
        raise NodeReset(cause) from None
    hard_reset(cause)


def soft_reset():
    """What a soft reboot does to the hardware: timers and pin interrupts go, the watchdog stays.

    The chip did not reset, so ``reset_cause()`` keeps its value, as on the ESP32 port (it reads
    the chip's last reset reason): a host's Ctrl-D is no crash boot.
    """
    w = world()
    for timer in w.timers:
        timer._callback = None
    w.timers = []
    w.irqs = []


def fault(name, **params):
    """Inject a fault (test API; ``fabnode sim fault`` runs this inside the node).

    - ``unplugged`` (role="vibration"): the sensor is gone; I2C NACKs (OSError ENODEV), SPI
      reads 0xFF, 1-Wire sees no presence pulse.
    - ``nack`` (role, count=1): the next ``count`` I2C transactions to the sensor are NACKed.
    - ``stuck`` (role): the sensor holds SDA low; every transaction on its bus times out (ETIMEDOUT).
    - ``wrong_id`` (role="vibration"): another part sits in the sensor's place; its ID register
      (or, for the DS18B20, its ROM family code) differs.
    - ``overrun`` (ms): the firmware stalls for ``ms``; the sensor FIFO overruns.
    - ``bearing`` (after_s=0): the vibration signal switches to its bearing-fault segment.
    - ``temp_ramp`` (c_per_min=2, after_s=0, limit_c=ambient+60): the machine heats up.
    """
    global _skew_us
    w = world()
    now = now_us()
    if name == "unplugged":
        w.device(params.get("role", "vibration")).present = False
    elif name == "stuck":
        w.device(params.get("role", "vibration")).stuck = True
    elif name == "wrong_id":
        w.device(params.get("role", "vibration")).swap_chip(True)
    elif name == "nack":
        w.device(params.get("role", "vibration")).nacks += int(params.get("count", 1))
    elif name == "overrun":
        _skew_us += int(params.get("ms", 100) * 1000)
    elif name == "bearing":
        w.device("vibration").arm_onset(now + int(params.get("after_s", 0) * 1e6))
    elif name == "temp_ramp":
        temp = w.temperature
        temp.ramp_start_us = now + int(params.get("after_s", 0) * 1e6)
        temp.ramp_c_per_s = params.get("c_per_min", 2.0) / 60.0
        temp.limit_c = params.get("limit_c", temp.ambient_c + 60.0)
    else:
        raise ValueError(f"unknown fault {name!r}")


def clear(name=None):
    """Clear one fault, or all of them (``overrun`` has nothing to clear: the stall is over)."""
    w = world()
    if name in (None, "unplugged", "nack", "stuck", "wrong_id"):
        for device in w.roles.values():
            device.present = True
            device.nacks = 0
            device.stuck = False
            device.swap_chip(False)
    if name in (None, "bearing") and "vibration" in w.roles:
        w.roles["vibration"].arm_onset(-1)
    if name in (None, "temp_ramp"):
        w.temperature.ramp_start_us = -1


def status():
    """What the hardware saw: per sensor role, its counters (for ``fabnode sim status`` and tests)."""
    w = world()
    return {role: device.stats() for role, device in w.roles.items()}
