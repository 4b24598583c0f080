"""Time and allocation of each stage of the window pipeline, measured inside MicroPython.

The WebAssembly port's gc.collect() reclaims nothing inside one run (its heap grows instead), so
gc.mem_alloc() differences here are gross allocations: every object made, garbage or not.
"""

import gc
import time

import pipeline


class ConstSensor:
    """An allocation-free sensor: ``ready`` frames of a fixed pattern wait in its FIFO."""

    NAME = "const"
    AXES = 3
    TYPECODE = "h"
    FIFO_FRAMES = 32
    HAS_WATERMARK = True

    def __init__(self):
        self.odr_hz = 3200
        self.range_g = 16
        self.scale_g = 0.0039
        self.overruns = 0
        self.ready = 0
        self.failing = False
        self.phase = 0

    def check(self):
        pass

    def start(self, watermark):
        pass

    def read_fifo(self, out, offset, max_frames):
        n = self.ready if self.ready < max_frames else max_frames
        phase = self.phase
        for j in range(offset, offset + 3 * n):
            phase = (phase * 75 + 74) % 65537  # noise-like counts from small ints only
            out[j] = (phase >> 6) - 512
        self.phase = phase
        self.ready -= n
        return n


def _alloc_us(fn, repeat):
    """(bytes allocated over all ``repeat`` calls, µs per call)."""
    gc.collect()
    a = gc.mem_alloc()
    t = time.ticks_us()
    for _ in range(repeat):
        fn()
    us = time.ticks_diff(time.ticks_us(), t)
    return gc.mem_alloc() - a, us // repeat


def steady_app(models_root):
    """The app on an allocation-free sensor: (app, hal, sensor, one_window); call ``fill`` before timing."""
    sensor = ConstSensor()
    app, hal = pipeline.make_app(models_root, {"node_id": "n1", "telemetry_s": 3600, "machine_class": "III"},
                                 sensor=sensor)

    def one_window():
        for _ in range(app.sampler.hop // 16):
            sensor.ready += 16
            hal.now += 5
            hal.irq(None)
            app.tick()

    return app, hal, sensor, one_window


def fill(hal, one_window):
    """Run past the first window (a whole window, not just a hop) and forget the records so far."""
    for _ in range(8):
        one_window()
    hal.output = []


def measure(models_root, windows=20):
    """{stage: (bytes allocated over ``windows`` windows, µs per window)} plus construction figures."""
    gc.collect()
    base = gc.mem_alloc()
    app, hal, sensor, one_window = steady_app(models_root)
    gc.collect()
    results = {"construction_bytes": gc.mem_alloc() - base}
    fill(hal, one_window)
    results["loop"] = _alloc_us(one_window, windows)

    def drain():
        sensor.ready = 16
        app.sampler.on_watermark(None)
        app.sampler._first = app.sampler.frames  # keep the ring from filling

    results["drain_16_frames"] = _alloc_us(drain, windows)
    results["take"] = _alloc_us(lambda: app.sampler.take(app.samples), windows)
    results["features"] = _alloc_us(lambda: app.extractor.compute(app.samples, app.features), windows)
    if app.loaded is not None:
        results["score"] = _alloc_us(lambda: app.loaded.detector.score(app.features), windows)
    results["windows"] = app.sampler.windows
    results["records"] = len(hal.output)
    return results
