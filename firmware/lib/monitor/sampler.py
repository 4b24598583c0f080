"""Sensor-clocked sampling: drain the sensor's FIFO into a ring of counts, cut windows with hop.

The sensor's output data rate sets the timing. The watermark interrupt drains the FIFO into the
ring at once (``on_watermark``, scheduled between bytecodes, so sampling goes on while the loop
computes a window); the loop's ``poll()`` drains it when an interrupt had to wait for the bus or
when a sensor without a watermark may be filling. One writer (the drain) and one reader
(``ready``/``take``) each own their counters, so an interrupt between two bytecodes of the loop
never loses an update. Nothing is allocated after construction: the ring holds the raw integer
counts; ``take()`` copies one window of them out.
"""

from array import array

from monitor.hal import ticks_diff, ticks_ms, ticks_us

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FRAME_MODULO = 1 << 29  # frame counters wrap here: 2**30 is already a long int on a 32-bit port


class Sampler:
    """Windows of ``window`` frames every ``hop`` frames from ``sensor`` (a driver in ``drivers/``)."""

    def __init__(self, sensor: "Any", window: int, hop: int) -> None:
        if window & (window - 1) or not 0 < hop <= window:
            raise ValueError("window must be a power of two and 0 < hop <= window")
        self.sensor = sensor
        self.window = window
        self.hop = hop
        self.axes = sensor.AXES
        # A window, two hops of slack for a slow loop, and a full sensor FIFO.
        self.capacity = window + 2 * hop + sensor.FIFO_FRAMES
        self.ring = array(sensor.TYPECODE, bytes(self.capacity * self.axes * (2 if sensor.TYPECODE == "h" else 4)))
        # writer side (the drain)
        self.frames: int = 0  # frames stored since start (wraps at FRAME_MODULO)
        self._write = 0  # ring index of the next frame to store
        self._busy = False  # the loop is using the sensor's bus: interrupts defer to it
        self.pending = False  # an interrupt came while the bus was busy
        self._last_read = ticks_ms()
        # Without an interrupt, read at least every quarter FIFO fill time.
        self._max_wait_ms = max(1, sensor.FIFO_FRAMES * 250 // sensor.odr_hz)
        # reader side (the loop)
        self._first: int = 0  # frame number of the next window's first frame
        self._start = 0  # its ring index
        self.window_first = 0  # frame number of the last taken window's first frame
        self.last_start = 0  # its ring index
        self.windows = 0
        self.dropped = 0
        self._rate_frames = 0
        self._rate_since = ticks_us()

    @property
    def overruns(self) -> int:
        count: int = self.sensor.overruns
        return count

    def available(self) -> int:
        """Frames stored and not yet passed by the windows."""
        return (self.frames - self._first) % FRAME_MODULO

    def on_watermark(self, _pin: object) -> None:
        """Watermark interrupt handler: drain the FIFO now, unless the loop holds the bus."""
        if self._busy:
            self.pending = True
            return
        try:
            self._drain()
        except OSError:
            self.pending = True  # the loop's poll retries and reports the failing sensor

    def poll(self) -> int:
        """From the loop: drain the FIFO if an interrupt was deferred or it may be filling unseen."""
        if not self.pending and ticks_diff(ticks_ms(), self._last_read) < self._max_wait_ms:
            return 0
        return self._drain()

    def hold(self) -> None:
        """The loop is about to use the sensor's bus itself (self-test, restart)."""
        self._busy = True

    def release(self) -> None:
        self._busy = False

    def _drain(self) -> int:
        self._busy = True
        try:
            self.pending = False
            self._last_read = ticks_ms()
            total = 0
            for _ in range(2):  # the free space may wrap around the ring's end
                room = self.capacity - self.available()
                if room <= 0:
                    break  # full: the sensor's FIFO overruns until the loop catches up
                end = self.capacity - self._write
                want = room if room < end else end
                got = self.sensor.read_fifo(self.ring, self._write * self.axes, want)
                self._write = (self._write + got) % self.capacity
                self.frames = (self.frames + got) % FRAME_MODULO
                total += got
                if got < want:
                    break
            return total
        finally:
            self._busy = False

    def ready(self) -> bool:
        """True when a whole window is stored; skips (and counts) windows the loop fell behind on."""
        avail = self.available()
        while avail > self.capacity - self.sensor.FIFO_FRAMES and avail - self.hop >= self.window:
            self._advance()  # the ring is nearly full: drop the oldest hop rather than stall the drain
            self.dropped += 1
            avail -= self.hop
        return avail >= self.window

    def take(self, out: "Any") -> None:
        """Copy the next window's counts into ``out`` (an int array, window*axes) and advance by hop."""
        ring = self.ring
        i = self._start * self.axes
        size = self.capacity * self.axes
        for j in range(self.window * self.axes):
            out[j] = ring[i]
            i += 1
            if i == size:
                i = 0
        self.last_start = self._start
        self.window_first = self._first
        self._advance()
        self.windows += 1

    def _advance(self) -> None:
        self._start = (self._start + self.hop) % self.capacity
        self._first = (self._first + self.hop) % FRAME_MODULO

    def frames_since(self, first: int, count: int) -> "tuple[memoryview, ...]":
        """Ring bytes of ``count`` frames starting ``first`` frames after the last window's start.

        Returns one or two memoryviews (two when the frames wrap around the ring's end).
        """
        start = (self.last_start + first) % self.capacity
        view = memoryview(self.ring)
        if start + count <= self.capacity:
            return (view[start * self.axes:(start + count) * self.axes],)
        split = self.capacity - start
        return (view[start * self.axes:], view[:(count - split) * self.axes])

    def measure_rate(self) -> float:
        """Frames per second stored since the previous call (the effective sample rate)."""
        now = ticks_us()
        elapsed = ticks_diff(now, self._rate_since)
        frames = (self.frames - self._rate_frames) % FRAME_MODULO
        self._rate_frames = self.frames
        self._rate_since = now
        return frames * 1000000 / elapsed if elapsed > 0 else 0.0
