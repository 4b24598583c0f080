"""The node's ``time`` module in the virtual node: its ticks follow simulated time.

``vnode`` installs it as ``time`` at power-on, so the firmware's ``ticks_ms()`` and the simulated
sensors share one clock (real time outside the app's ticks, times the node's speed; a sleep inside a
tick is simulated time passing). Calendar time stays the host's. Runs under MicroPython at
``/.sim/nodetime.py``.
"""

import time as _host

import vnode

_TICKS_MASK = (1 << 30) - 1  # the port's ticks period; ticks_add and ticks_diff assume it

ticks_add = _host.ticks_add
ticks_diff = _host.ticks_diff
time = _host.time
time_ns = _host.time_ns
localtime = _host.localtime
gmtime = _host.gmtime
mktime = _host.mktime


def ticks_us():
    return vnode.sim_time_us() & _TICKS_MASK


def ticks_ms():
    return (vnode.sim_time_us() // 1000) & _TICKS_MASK


ticks_cpu = ticks_us


def sleep_us(us):
    vnode.sleep_us(us)


def sleep_ms(ms):
    vnode.sleep_us(ms * 1000)


def sleep(seconds):
    vnode.sleep_us(int(seconds * 1000000))
