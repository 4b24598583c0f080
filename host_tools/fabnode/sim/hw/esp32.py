"""``esp32`` for the virtual node: the chip's internal temperature sensor."""

import simhw


def mcu_temperature():
    """Die temperature in °C (int), as on ESP32-S2/S3/C3: the machine's temperature plus self-heating."""
    w = simhw.world()
    return int(w.temperature.at(simhw.now_us()) + simhw.MCU_SELF_HEATING_C + 0.5)


def raw_temperature():
    """The original ESP32's sensor: the die temperature in °F (int)."""
    return int(mcu_temperature() * 9 / 5 + 32.5)
