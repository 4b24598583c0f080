"""Runs first at every reset: count crash boots, so a node in a reset loop stops starting its app."""

import time

try:
    from monitor import bootguard, hal

    bootguard.on_boot(time.ticks_diff(time.ticks_ms(), 0), hal.reset_cause())  # ms since the chip started
except Exception as exc:  # a broken /lib must still leave the REPL to the host tools
    print("boot.py:", repr(exc))
