"""Drive the whole app (monitor.app.App) with a recorded signal on a fake sensor and fake clock.

Used by tests/firmware/test_fw_pipeline.py under CPython and MicroPython alike.
"""

from array import array

from fakes import FakeHal, FakeSensor, FakeTemperature
from monitor import config
from monitor.app import App

BOARD = {
    "id": "esp32-devkitc", "chip": "esp32",
    "pins": {"i2c": {"id": 0, "scl": 22, "sda": 21, "freq": 400000}, "sensor_int": 4, "onewire": 15},
    "sensors": [
        {"role": "vibration", "type": "adxl345", "bus": "i2c", "address": "0x53", "odr_hz": 3200, "range_g": 16},
        {"role": "temperature", "type": "ds18b20", "bus": "onewire", "pin": 15},
    ],
}
BURST = 16  # frames per watermark interrupt


def make_app(models_root, node=None, sensor=None, temp=None):
    sensor = sensor if sensor is not None else FakeSensor(3200, 0.0039)
    hal = FakeHal(sensor, temp if temp is not None else FakeTemperature())
    node = node if node is not None else {"node_id": "n1", "telemetry_s": 1, "machine_class": "III"}
    cfg = config.Config(BOARD, node, hal.unique_id())
    app = App(cfg, hal, models_root=models_root)
    app.start()
    return app, hal


def feed(app, hal, counts, start, frames, commands=None):
    """Push ``frames`` frames of ``counts`` (int16 x,y,z) from frame ``start`` in watermark bursts, ticking."""
    sensor = hal.sensor
    end = start + frames
    i = start
    while i < end:
        n = min(BURST, end - i)
        size = len(counts) // 3  # a short signal is repeated
        sensor.push([(counts[3 * (j % size)], counts[3 * (j % size) + 1], counts[3 * (j % size) + 2])
                     for j in range(i, i + n)])
        i += n
        hal.now += n * 1000 // sensor.odr_hz
        if hal.irq is not None:
            hal.irq(None)
        if commands and i - start >= commands[0][0]:
            hal.input += commands.pop(0)[1]
        app.tick()
    return end


def read_counts(path):
    with open(path, "rb") as f:
        return array("h", f.read())


def scenario(signal_path, models_root, segments, node=None):
    """Run the app over the signal, segment by segment (frame counts); return the console output."""
    counts = read_counts(signal_path)
    app, hal = make_app(models_root, node)
    start = 0
    for frames in segments:
        start = feed(app, hal, counts, start, frames)
    return b"".join(hal.output)
