"""DS18B20 1-Wire temperature sensor through MicroPython's ``onewire`` and ``ds18x20`` modules.

Non-blocking use: ``start()`` a conversion, ``read()`` it ``CONVERSION_MS`` later.
"""

import errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DS18B20:
    """The first DS18B20 found on the 1-Wire bus on ``pin`` (a ``machine.Pin``)."""

    NAME = "ds18b20"
    CONVERSION_MS = 750  # 12-bit resolution

    def __init__(self, pin: "Any") -> None:
        import ds18x20
        import onewire

        sensor: Any = ds18x20.DS18X20(onewire.OneWire(pin))
        self._sensor = sensor
        roms = sensor.scan()
        if not roms:
            raise OSError(errno.ENODEV, "no DS18B20 found on the 1-Wire bus")
        self._rom = roms[0]

    def start(self) -> None:
        self._sensor.convert_temp()

    def read(self) -> float:
        """Temperature in °C of the last conversion; raises if the scratchpad CRC fails."""
        value = self._sensor.read_temp(self._rom)
        if value is None:
            raise OSError(errno.EIO, "DS18B20 returned no reading")
        return float(value)
