"""Sensor-clocked sampling: drain the sensor's FIFO into a ring of counts, cut windows with hop.

The sensor's output data rate sets the timing; ``poll()`` reads whatever the FIFO holds (when
the watermark interrupt has fired, or when the FIFO may be half full). Nothing is allocated
after construction: the ring holds the raw integer counts; ``take()`` converts one window to g.
"""

from array import array

from monitor.hal import ticks_diff, ticks_ms, ticks_us

FRAME_MODULO = 1 << 30  # frame counters wrap like the telemetry sequence (stay small ints)


class Sampler:
    """Windows of ``window`` frames every ``hop`` frames from ``sensor`` (a driver in ``drivers/``)."""

    def __init__(self, sensor, window, hop):
        if window & (window - 1) or not 0 < hop <= window:
            raise ValueError("window must be a power of two and 0 < hop <= window")
        self.sensor = sensor
        self.window = window
        self.hop = hop
        self.axes = sensor.AXES
        # Room for a window plus one hop plus a full sensor FIFO: a tick that is a little late
        # still finds its frames; a much later one drops whole windows (counted in ``dropped``).
        self.capacity = window + hop + sensor.FIFO_FRAMES
        self.ring = array(sensor.TYPECODE, bytes(self.capacity * self.axes * (2 if sensor.TYPECODE == "h" else 4)))
        self._write = 0  # ring index of the next frame to store
        self._start = 0  # ring index of the next window's first frame
        self._avail = 0  # frames stored from _start on
        self.last_start = 0  # ring index where the last taken window began
        self.window_first = 0  # frame number of the last taken window's first frame
        self._next_first = 0  # frame number at _start
        self.frames = 0  # frames read since start (wraps at FRAME_MODULO, like the frame numbers)
        self.windows = 0
        self.dropped = 0
        self.pending = False  # set by the watermark interrupt
        self._last_read = ticks_ms()
        # Without an interrupt, read at least every quarter FIFO fill time.
        self._max_wait_ms = max(1, sensor.FIFO_FRAMES * 250 // sensor.odr_hz)
        self._rate_frames = 0
        self._rate_since = ticks_us()

    def on_watermark(self, _pin):
        """Interrupt handler: only sets a flag, the bus is read in ``poll``."""
        self.pending = True

    @property
    def overruns(self):
        return self.sensor.overruns

    def poll(self):
        """Read the sensor FIFO into the ring if it is due; return the frames read."""
        now = ticks_ms()
        if not self.pending and ticks_diff(now, self._last_read) < self._max_wait_ms:
            return 0
        self.pending = False
        self._last_read = now
        total = 0
        for _ in range(2):  # the free space may wrap around the ring's end
            room = self.capacity - self._avail
            if room <= 0:
                self._drop_window()
                room = self.hop
            end = self.capacity - self._write
            got = self.sensor.read_fifo(self.ring, self._write * self.axes, room if room < end else end)
            self._write = (self._write + got) % self.capacity
            self._avail += got
            total += got
            if got < end:
                break
        self.frames = (self.frames + total) % FRAME_MODULO
        self._rate_frames += total
        return total

    def _drop_window(self):
        self._start = (self._start + self.hop) % self.capacity
        self._avail -= self.hop
        self._next_first = (self._next_first + self.hop) % FRAME_MODULO
        self.dropped += 1

    def ready(self):
        return self._avail >= self.window

    def take(self, out, scale=None):
        """Copy the next window into ``out`` (``array('f')``, window*axes, in g) and advance by hop."""
        scale = self.sensor.scale_g if scale is None else scale
        ring = self.ring
        i = self._start * self.axes
        size = self.capacity * self.axes
        for j in range(self.window * self.axes):
            out[j] = ring[i] * scale
            i += 1
            if i == size:
                i = 0
        self.last_start = self._start
        self.window_first = self._next_first
        self._next_first = (self._next_first + self.hop) % FRAME_MODULO
        self._start = (self._start + self.hop) % self.capacity
        self._avail -= self.hop
        self.windows += 1

    def frames_since(self, first, count):
        """Ring bytes of ``count`` frames starting ``first`` frames after the last window's start.

        Returns one or two memoryviews (two when the frames wrap around the ring's end).
        """
        start = (self.last_start + first) % self.capacity
        view = memoryview(self.ring)
        if start + count <= self.capacity:
            return (view[start * self.axes:(start + count) * self.axes],)
        split = self.capacity - start
        return (view[start * self.axes:], view[:(count - split) * self.axes])

    def measure_rate(self):
        """Frames per second since the previous call (the effective sample rate)."""
        now = ticks_us()
        elapsed = ticks_diff(now, self._rate_since)
        rate = self._rate_frames * 1000000 / elapsed if elapsed > 0 else 0.0
        self._rate_frames = 0
        self._rate_since = now
        return rate
