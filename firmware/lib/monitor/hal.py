"""Hardware abstraction: the only module that touches ``machine``, ``esp32``, ``select`` and ``vnode``.

On an ESP32 it drives the real peripherals; in the virtual node (``sys.platform ==
"webassembly"``) the same calls reach the simulated hardware and ``vnode``; under CPython only
the clock functions are used (host tools and tests pass their own console and sensors).
"""

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

VIRTUAL = sys.platform == "webassembly"

if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
else:  # CPython
    _TICKS_PERIOD = 1 << 30

    _monotonic_ns: "Callable[[], int]" = getattr(time, "monotonic_ns")  # noqa: B009 - not in MicroPython's stubs

    def ticks_ms() -> int:  # type: ignore[misc]
        return _monotonic_ns() // 1000000 % _TICKS_PERIOD

    def ticks_us() -> int:  # type: ignore[misc]
        return _monotonic_ns() // 1000 % _TICKS_PERIOD

    def ticks_diff(a: int, b: int) -> int:  # type: ignore[misc]
        return (a - b + _TICKS_PERIOD // 2) % _TICKS_PERIOD - _TICKS_PERIOD // 2

    def ticks_add(ticks: int, delta: int) -> int:  # type: ignore[misc]
        return (ticks + delta) % _TICKS_PERIOD

    def sleep_ms(ms: int) -> None:  # type: ignore[misc]
        time.sleep(ms / 1000)


_RESET_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("HARD_RESET", "hard"),
    ("WDT_RESET", "wdt"),
    ("DEEPSLEEP_RESET", "deepsleep"),
    ("SOFT_RESET", "soft"),
)


def reset_cause() -> str:
    """Why the chip last reset: ``power_on``, ``hard``, ``wdt``, ``deepsleep``, ``soft`` or ``unknown``."""
    import machine

    cause = machine.reset_cause()
    for constant, name in _RESET_CAUSES:
        if getattr(machine, constant, None) == cause:
            return name
    return "unknown"


def reset() -> None:
    import machine

    machine.reset()


def unique_id() -> str:
    from binascii import hexlify

    import machine

    return hexlify(machine.unique_id()).decode()


def mem_free() -> int:
    """Free heap in bytes after a collection."""
    import gc

    gc.collect()
    return gc.mem_free()


class Console:
    """The serial console: non-blocking ``read()`` of what the host sent, ``write(bytes)``."""

    def __init__(self) -> None:
        out = sys.stdout
        self._out = out.buffer if hasattr(out, "buffer") else out
        if VIRTUAL:
            import vnode

            self._vnode_read = vnode.console_read
            return
        import select

        self._stdin: Any = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self, limit: int = 64) -> bytes:
        if VIRTUAL:
            return self._vnode_read()
        data = b""
        while len(data) < limit:
            ready = False
            for _ in self._poll.ipoll(0):  # ipoll reuses its result: an idle console allocates nothing
                ready = True
            if not ready:
                break
            data += self._stdin.read(1)
        return data

    def write(self, data: bytes) -> None:
        self._out.write(data)


def run_forever(tick: "Callable[[], None]") -> None:
    """Call ``tick()`` for ever: handed to the virtual node's bridge, or a plain loop on hardware."""
    if VIRTUAL:
        import vnode

        vnode.run(tick)
        return
    while True:
        tick()
        sleep_ms(1)


def watchdog(timeout_ms: int) -> "Any":
    """Start the hardware watchdog (an ESP32 cannot stop it again); ``feed()`` it from the loop."""
    import machine

    return machine.WDT(timeout=timeout_ms)


def periodic(period_ms: int, handler: "Callable[[Any], None]") -> "Any":
    """Call ``handler(timer)`` every ``period_ms`` (hardware timer 0, a soft interrupt like a pin's)."""
    from machine import Timer

    timer = Timer(0)
    timer.init(period=period_ms, mode=Timer.PERIODIC, callback=handler)
    return timer


def watermark_irq(pin_number: int, handler: "Callable[[Any], None]") -> "Any":
    """Call ``handler(pin)`` on each rising edge of the sensor's interrupt line."""
    from machine import Pin

    pin = Pin(pin_number, Pin.IN)
    pin.irq(handler=handler, trigger=Pin.IRQ_RISING)
    return pin


def open_vibration_sensor(pins: "dict[str, Any]", spec: "dict[str, Any]") -> "Any":
    """The board's vibration sensor (``spec``: one entry of the board file's ``sensors``), configured."""
    from machine import I2C, SPI, Pin

    kind = spec["type"]
    odr_hz = spec["odr_hz"]
    range_g = spec["range_g"]
    if spec["bus"] == "i2c":
        bus_pins = pins["i2c"]
        i2c = I2C(bus_pins["id"], scl=Pin(bus_pins["scl"]), sda=Pin(bus_pins["sda"]), freq=bus_pins["freq"])
        address = int(spec["address"], 16)
        if kind == "adxl345":
            from drivers.adxl345 import ADXL345

            return ADXL345(i2c, odr_hz, range_g, address=address)
        if kind == "mpu6050":
            from drivers.mpu6050 import MPU6050

            return MPU6050(i2c, odr_hz, range_g, address=address, sleep_ms=sleep_ms)
    elif spec["bus"] == "spi":
        bus_pins = pins["spi"]
        cs = Pin(bus_pins["cs"], Pin.OUT, value=1)
        mode = 3 if kind == "adxl345" else 0  # ADXL345: CPOL=1 CPHA=1; ADXL355: mode 0
        spi = SPI(bus_pins["id"], baudrate=bus_pins["baudrate"], polarity=mode >> 1, phase=mode & 1,
                  sck=Pin(bus_pins["sck"]), mosi=Pin(bus_pins["mosi"]), miso=Pin(bus_pins["miso"]))
        if kind == "adxl345":
            from drivers.adxl345 import ADXL345

            return ADXL345(spi, odr_hz, range_g, cs=cs)
        if kind == "adxl355":
            from drivers.adxl355 import ADXL355

            return ADXL355(spi, cs, odr_hz, range_g)
    raise ValueError(f"unsupported vibration sensor {kind} on bus {spec['bus']}")


def open_temperature_sensor(spec: "dict[str, Any]") -> "Any":
    """The board's temperature sensor: a DS18B20 on its 1-Wire pin, or the MCU's own."""
    if spec["type"] == "ds18b20":
        from drivers.ds18b20 import DS18B20
        from machine import Pin

        return DS18B20(Pin(spec["pin"]))
    if spec["type"] == "mcu":
        from drivers.mcu_temp import MCUTemperature

        return MCUTemperature()
    raise ValueError(f"unsupported temperature sensor {spec['type']}")
