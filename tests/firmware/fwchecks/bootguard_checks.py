"""Crash-boot counting behind safe mode."""

import scratch
from monitor import bootguard


def check_three_boots_after_crash_resets_enter_safe_mode():
    path = scratch.folder("config") + "/crash_boots"
    assert bootguard.on_boot(120, "wdt", path) == 1
    assert bootguard.on_boot(90, "soft", path) == 2
    assert not bootguard.safe_mode(path)
    assert bootguard.on_boot(100, "wdt", path) == 3
    assert bootguard.safe_mode(path)
    bootguard.clear(path)
    assert not bootguard.safe_mode(path) and bootguard.count(path) == 0


def check_soft_resets_long_after_boot_are_not_counted():
    path = scratch.folder("config") + "/crash_boots"
    bootguard.on_boot(100, "wdt", path)
    for _ in range(5):  # host tools soft-resetting the REPL minutes after power-up
        assert bootguard.on_boot(600000, "wdt", path) == 1
    assert not bootguard.safe_mode(path)


def check_power_on_and_deep_sleep_wake_ups_are_not_crashes():
    path = scratch.folder("config") + "/crash_boots"
    for cause in ("power_on", "deepsleep", "power_on", "power_on"):  # cable plugged in four times
        assert bootguard.on_boot(100, cause, path) == 0
    assert not bootguard.safe_mode(path)


def check_garbage_or_unwritable_counter_never_stops_the_boot():
    folder = scratch.folder("config")
    scratch.write(folder + "/crash_boots", "x\x00")
    assert bootguard.count(folder + "/crash_boots") == 0
    assert bootguard.on_boot(10, "hard", folder + "/missing/crash_boots") == 1
    assert not bootguard.clear(folder + "/missing/crash_boots")
