"""Crash-boot counter behind safe mode: a node that keeps resetting stops starting its app.

``boot.py`` calls ``on_boot()``: a boot soon after a reset that a crash causes (watchdog, panic or
software reset; not a soft reset by a host tool, which comes long after) adds one to
``/config/crash_boots``. Power-on resets are not crashes: a person plugged the node in or the power
came back (MicroPython reports a brown-out as a power-on too), and deep-sleep wake-ups are planned.
The app calls ``clear()`` once it has run for ``STABLE_MS``, and before a reset it asked for itself.
With ``SAFE_AFTER`` counted boots in a row, ``main.py`` stays in the REPL.
"""

COUNTER_FILE = "/config/crash_boots"
SAFE_AFTER = 3
BOOT_WINDOW_MS = 10000  # a boot.py run this soon after reset follows a hardware reset
STABLE_MS = 60000
NOT_CRASHES = ("power_on", "deepsleep")  # reset causes as monitor.hal.reset_cause() names them


def count(path: str = COUNTER_FILE) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def _write(path: str, value: int) -> bool:
    """Store the count; False if the filesystem refused (full, read-only): booting goes on regardless."""
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError:
        return False
    return True


def on_boot(uptime_ms: int, reset_cause: str, path: str = COUNTER_FILE) -> int:
    """Count this boot if a crash reset the chip just before; return the consecutive count."""
    boots = count(path)
    if uptime_ms < BOOT_WINDOW_MS and reset_cause not in NOT_CRASHES:
        boots += 1
        _write(path, boots)
    return boots


def safe_mode(path: str = COUNTER_FILE) -> bool:
    return count(path) >= SAFE_AFTER


def clear(path: str = COUNTER_FILE) -> bool:
    """The app ran stably (or a person fixed the node): start counting from zero again."""
    return _write(path, 0)


def announce_safe_mode(path: str = COUNTER_FILE) -> None:
    """Tell the host, in telemetry, that the app was not started (a ``hello`` and an error ``log``)."""
    import sys

    from monitor import VERSION, hal, telemetry

    boots = count(path)
    try:
        uid = hal.unique_id()
        reset = hal.reset_cause()
    except (ImportError, OSError):  # no machine module: nothing to say about the chip
        uid, reset = "000000", "unknown"
    try:
        from monitor import config

        node_id = config.load(uid).node_id
    except (OSError, ValueError):  # a broken config may be why we are here
        node_id = "fab-" + uid[-6:]
    console = hal.Console()
    records = telemetry.Telemetry(node_id, console.write, hal.ticks_ms)
    records.send("hello", {"proto": 1, "fw": VERSION, "node": node_id, "platform": sys.platform,
                           "reset": reset, "crash_boots": boots, "safe_mode": True})
    records.log("error", f"safe mode: {boots} crash boots in a row; app not started. Fix the cause, "
                         "then run 'from monitor import bootguard; bootguard.clear()' and reset")
