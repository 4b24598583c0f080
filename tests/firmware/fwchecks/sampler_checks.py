"""Sampler: windows with hop out of a ring of counts, drops when the app falls behind."""

from array import array

from fakes import FakeSensor
from monitor.sampler import Sampler


def _frames(start, n):
    return [(i, -i, 2 * i) for i in range(start, start + n)]


def _fill(sampler, sensor, start, n):
    """Push n frames through the FIFO in FIFO-sized bursts, polling after each."""
    pushed = 0
    while pushed < n:
        burst = min(16, n - pushed)
        sensor.push(_frames(start + pushed, burst))
        pushed += burst
        sampler.pending = True
        sampler.poll()


def check_windows_with_hop_of_counts():
    sensor = FakeSensor(scale_g=0.5)
    sampler = Sampler(sensor, 64, 32)
    out = array("i", bytes(4 * 64 * 3))
    _fill(sampler, sensor, 0, 63)
    assert not sampler.ready()
    _fill(sampler, sensor, 63, 1)
    assert sampler.ready()
    sampler.take(out)
    assert out[0] == 0 and out[3] == 1 and out[4] == -1 and out[3 * 63 + 2] == 126  # counts, not g
    assert not sampler.ready()
    _fill(sampler, sensor, 64, 32)
    sampler.take(out)
    assert out[0] == 32  # frame 32: the second window starts one hop later
    assert sampler.window_first == 32 and sampler.windows == 2 and sampler.dropped == 0


def check_ring_wraps_many_times_without_losing_frames():
    sensor = FakeSensor(scale_g=1.0)
    sampler = Sampler(sensor, 32, 8)
    out = array("i", bytes(4 * 32 * 3))
    expected_first = 0
    _fill(sampler, sensor, 0, 24)
    for step in range(50):
        _fill(sampler, sensor, 24 + step * 8, 8)
        while sampler.ready():
            sampler.take(out)
            assert out[0] == sampler.window_first, (out[0], sampler.window_first)
            assert out[3 * 31] == sampler.window_first + 31
            assert sampler.window_first == expected_first
            expected_first += 8
    assert sampler.dropped == 0


def check_falling_behind_drops_whole_windows_and_counts_them():
    sensor = FakeSensor(scale_g=1.0)
    sampler = Sampler(sensor, 32, 16)
    out = array("i", bytes(4 * 32 * 3))
    _fill(sampler, sensor, 0, 200)  # nobody takes windows meanwhile: the ring fills, the FIFO overruns
    assert sampler.available() == sampler.capacity and sensor.overruns > 0
    assert sampler.ready() and sampler.dropped == 2  # down to a window and a hop behind
    sampler.take(out)
    assert out[0] == sampler.window_first == 16 * sampler.dropped
    assert out[3] == out[0] + 1  # still contiguous frames


def check_frames_since_gives_the_raw_counts_across_the_wrap():
    sensor = FakeSensor()
    sampler = Sampler(sensor, 32, 16)
    out = array("i", bytes(4 * 32 * 3))
    for start in range(0, 160, 16):
        _fill(sampler, sensor, start, 16)
        while sampler.ready():
            sampler.take(out)
            counts = array("h")
            for view in sampler.frames_since(16, 16):
                counts.extend(array("h", bytes(view)))
            first = sampler.window_first + 16
            assert list(counts[:3]) == [first, -first, 2 * first], (list(counts[:3]), first)
            assert counts[-3] == first + 15


def check_poll_waits_for_the_watermark_or_a_quarter_fifo():
    sensor = FakeSensor(odr_hz=100)  # quarter FIFO = 80 ms
    sampler = Sampler(sensor, 32, 16)
    sensor.push(_frames(0, 8))
    assert sampler.poll() == 0  # not due: no interrupt yet
    sampler.on_watermark(None)  # the interrupt drains at once
    assert sampler.available() == 8
    sensor.push(_frames(8, 8))
    sampler.hold()  # the loop is using the bus: the interrupt must wait for it
    sampler.on_watermark(None)
    sampler.release()
    assert sampler.available() == 8 and sampler.pending
    assert sampler.poll() == 8 and not sampler.pending


def check_rejects_bad_windows():
    for window, hop in ((100, 50), (64, 0), (64, 65)):
        try:
            Sampler(FakeSensor(), window, hop)
        except ValueError:
            continue
        raise AssertionError(f"accepted window={window} hop={hop}")
