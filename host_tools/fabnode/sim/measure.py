"""What a board's vibration sensor measures of a signal, as the firmware reads it: counts, sample by sample.

The same path as in a virtual node, run in this process: the signal is rendered to a signal file
(``hardware.render_signal``: resampled to the sensor's rate, scaled to its level, quantized to the
file's fixed point), the simulated sensor (``hardware.load_cpython()``) turns it into counts on its
clock, the firmware's own driver (``monitor.hal.open_vibration_sensor``) drains its FIFO, and the
firmware's ``Sampler`` hands the counts over in windows. ``fabnode score --board`` scores these counts, so
its windows are, sample for sample, the windows a node measuring the same signal computes.
"""

from __future__ import annotations

import tempfile
from array import array
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from fabnode.boards import Board
from fabnode.resources import use_firmware_lib
from fabnode.sim import hardware

CHUNK_FRAMES = 256  # frames the sampler hands over at a time (a power of two, as its windows are)


class Measured(NamedTuple):
    """Sensor counts (``frames x axes``) and the g per count the firmware's driver gives them."""

    counts: NDArray[np.int32]
    scale_g: float

    def g(self) -> NDArray[np.float64]:
        return self.counts.astype(np.float64) * self.scale_g


def measure(board: Board, source: hardware.SignalSource, frames: int | None = None,
            start_s: float = 0.0) -> Measured:
    """The first ``frames`` samples (``frames x axes``) of ``source`` measured by ``board``'s sensor.

    ``frames`` None: one pass of the signal's healthy segment (a replayed recording, once). The
    sensor starts measuring ``start_s`` simulated seconds after power-on (the signal's time 0), as a
    node's app starts it after booting: sample ``k`` is the signal frame playing then, plus ``k``.
    """
    if frames is not None and frames <= 0:
        raise ValueError("frames must be positive")
    use_firmware_lib()
    from monitor import hal
    from monitor.sampler import Sampler

    spec = next(sensor for sensor in board.raw["sensors"] if sensor["role"] == "vibration")  # boards have one
    with tempfile.TemporaryDirectory(prefix="fabnode-measure-") as scratch:
        signal_path = Path(scratch) / "vibration.fnsig"
        played = hardware.render_signal(signal_path, hardware.vibration_rate_hz(board), source)
        if frames is None:
            frames = len(played.segments[0])
        simhw = hardware.load_cpython()
        simhw.configure(board.raw, str(signal_path))
        try:
            simhw.advance_us(round(start_s * 1e6))
            sensor = hal.open_vibration_sensor(board.raw["pins"], spec)
            sensor.start(sensor.FIFO_FRAMES // 2)
            sampler = Sampler(sensor, CHUNK_FRAMES, CHUNK_FRAMES)
            chunk = array("i", bytes(4 * CHUNK_FRAMES * sensor.AXES))
            # Drain at half the FIFO's fill time, well before it could overrun.
            step_us = sensor.FIFO_FRAMES * 500000 // sensor.odr_hz
            out = np.empty((-(-frames // CHUNK_FRAMES) * CHUNK_FRAMES, sensor.AXES), np.int32)
            taken = 0
            while taken < frames:
                simhw.advance_us(step_us)
                sampler.on_watermark(None)
                while sampler.ready():
                    sampler.take(chunk)
                    out[taken:taken + CHUNK_FRAMES] = np.frombuffer(chunk, np.int32).reshape(CHUNK_FRAMES, -1)
                    taken += CHUNK_FRAMES
            if sensor.overruns or sampler.dropped:
                raise RuntimeError("the simulated sensor overran while measuring: the drain step is too long")
        finally:
            simhw.world().device("vibration").signal.close()
    return Measured(out[:frames], float(sensor.scale_g))
