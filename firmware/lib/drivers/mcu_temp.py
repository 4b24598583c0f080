"""The MCU's internal temperature sensor: the fallback when a board has no external one.

It reads the die, so it runs warmer than the machine; over-temperature limits must allow for it.
"""


class MCUTemperature:
    NAME = "mcu"
    CONVERSION_MS = 0

    def __init__(self) -> None:
        import esp32

        self._esp32 = esp32

    def start(self) -> None:
        pass

    def read(self) -> float:
        """Die temperature in °C (ESP32-S2/S3/C3 ``mcu_temperature``; the ESP32 reports °F raw)."""
        if hasattr(self._esp32, "mcu_temperature"):
            return float(self._esp32.mcu_temperature())
        return (self._esp32.raw_temperature() - 32) / 1.8
