"""The virtual node's link to its host; this module exists only in the virtual node.

The firmware uses it only in ``monitor/hal.py`` (docs/architecture.md); the simulated hardware
under ``/.sim/`` uses ``sim_time_us`` and ``hard_reset``. Runs under MicroPython at ``/.sim/vnode.py``.
"""

import sys
import time as _host_time
from time import time_ns

import _vnode_host

_EMPTY = b""
_power_on_ns = 0
_speed = 1
_sim_ns = {}
# The simulated CPU computes instantly: while the app's tick runs, simulated time stands still, and
# the wall time it took is left out of the clock. A real ESP32 drains its sensor FIFO from the
# watermark interrupt in the middle of a computation; this single-threaded bridge can only service
# interrupts between ticks, so without this a 32-sample FIFO would overrun during every window.
_busy_ns = 0
_tick_started_ns = None
_slept_ns = 0  # simulated time that passed in sleeps inside ticks
# Nor is a host that stalls between two ticks (node.js descheduled on a loaded machine) the node
# stalling: of a longer gap only this much passes, well inside the fill time of the shortest sensor
# FIFO (an ADXL345 at 3200 Hz fills its 32 levels in 10 ms).
_MAX_GAP_NS = 5000000
_step_ended_ns = 0  # when the last tick ended (or the app was registered)
_latest_ns = 0  # the latest simulated time handed out: taking a stall out never turns the clock back


def run(tick):
    """Register the app's non-blocking step; the bridge calls it between console services."""
    global _step_ended_ns
    service = _hardware_service()

    def step():
        global _busy_ns, _tick_started_ns, _step_ended_ns
        _tick_started_ns = time_ns()
        stalled = _tick_started_ns - _step_ended_ns - _MAX_GAP_NS // _speed
        if stalled > 0:
            _busy_ns += stalled
        try:
            service()  # pin interrupts, timers and the watchdog of the simulated hardware
            tick()
        finally:
            _step_ended_ns = time_ns()
            _busy_ns += _step_ended_ns - _tick_started_ns
            _tick_started_ns = None

    _step_ended_ns = time_ns()
    _vnode_host.run(step)


def _hardware_service():
    try:
        from simhw import service
    except ImportError:  # a node image without simulated hardware: nothing to service
        return _nothing
    return service


def _nothing():
    return None


def console_read():
    """Bytes the host sent on the console since the last call (``b""`` when none)."""
    if not _vnode_host.pending():
        return _EMPTY
    return bytes(_vnode_host.take())


def sim_time_us():
    """Simulated microseconds since power-on: real time outside the app's ticks, times the node's speed."""
    global _latest_ns
    now = time_ns() if _tick_started_ns is None else _tick_started_ns
    sim_ns = (now - _power_on_ns - _busy_ns) * _speed + _slept_ns
    if sim_ns < _latest_ns:
        return _latest_ns // 1000
    _latest_ns = sim_ns
    return sim_ns // 1000


def sleep_us(us):
    """``time.sleep_us`` on the node: inside a tick simulated time passes at once, else real time."""
    global _slept_ns
    if _tick_started_ns is None:
        _host_time.sleep_us(us)
    else:
        _slept_ns += us * 1000


def hard_reset(cause="soft"):
    """Reset the chip (``machine.reset()``: "soft", the watchdog: "wdt", "deepsleep"); does not return."""
    _vnode_host.reset(cause)
    raise SystemExit


def _power_on(power_on_ns, speed):
    global _power_on_ns, _speed, _busy_ns, _slept_ns, _latest_ns
    _power_on_ns = power_on_ns
    _speed = speed
    _busy_ns = 0
    _slept_ns = 0
    _latest_ns = 0
    import nodetime

    sys.modules["time"] = nodetime  # the node's ticks follow the simulated clock
    _list_like_littlefs()


def _list_like_littlefs():
    # littlefs on the ESP32 lists (name, type, inode, size); this port's posix VFS omits the size,
    # which tools such as ``mpremote fs ls`` show.
    import os

    posix_ilistdir = os.ilistdir
    stat = os.stat

    def ilistdir(path="."):
        sep = b"/" if isinstance(path, bytes) else "/"
        for entry in posix_ilistdir(path):
            name, kind = entry[0], entry[1]
            yield (name, kind, 0, stat(path + sep + name)[6] if kind == 0x8000 else 0)

    os.ilistdir = ilistdir


def _soft_reset():
    # Like a soft reboot: user modules and globals go; the simulated hardware (/.sim) stays.
    for name in list(sys.modules):
        if not getattr(sys.modules[name], "__file__", "").startswith("/.sim/"):
            del sys.modules[name]
    import gc

    import __main__

    for key in list(__main__.__dict__):
        if key != "__name__":
            del __main__.__dict__[key]
    simhw = sys.modules.get("simhw")
    if simhw is not None:
        simhw.soft_reset()
    _list_like_littlefs()  # the os module was reset with the rest
    gc.collect()


def _sim_run(code, is_eval):
    # Host-side configuration of the simulated hardware, outside the REPL (node.sim_exec/sim_eval).
    if is_eval:
        return repr(eval(code, _sim_ns))
    exec(code, _sim_ns)
    return None
