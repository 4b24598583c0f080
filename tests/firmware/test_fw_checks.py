"""Run the firmware check modules under CPython (one test per check) and under MicroPython (one run per module)."""

from __future__ import annotations

import pytest
from fwrun import check_files, check_functions, micropython_runner

MODULES = ["alarm_checks", "app_checks", "bootguard_checks", "channel_checks", "config_checks", "driver_checks",
           "sampler_checks", "store_checks"]

CPYTHON_CASES = [pytest.param(fn, id=f"{module}.{name}") for module in MODULES
                 for name, fn in check_functions(module)]


@pytest.mark.parametrize("check", CPYTHON_CASES)
def test_under_cpython(check):
    check()


@pytest.mark.micropython
@pytest.mark.parametrize("module", MODULES)
def test_under_micropython(micropython, module):
    result = micropython(micropython_runner(module), files=check_files())
    passed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok ")}
    assert passed == {name for name, _ in check_functions(module)}, result.stdout
