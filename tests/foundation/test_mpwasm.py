"""The MicroPython WebAssembly runner: clear errors when Node.js is missing or too old."""

import subprocess

import pytest

from fabnode import mpwasm
from fabnode.errors import RuntimeMissingError


@pytest.fixture(autouse=True)
def fresh_lookup():
    mpwasm.node_executable.cache_clear()
    yield
    mpwasm.node_executable.cache_clear()


def test_missing_node_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(mpwasm.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeMissingError, match=r"node \(Node\.js\) is not installed") as info:
        mpwasm.runtime_dir()
    assert "apt-get install nodejs npm" in (info.value.hint or "")


def test_too_old_node_is_refused(monkeypatch):
    monkeypatch.setattr(mpwasm.shutil, "which", lambda name: "/usr/bin/node")
    monkeypatch.setattr(mpwasm.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="v16.20.0\n", stderr=""))
    with pytest.raises(RuntimeMissingError, match=r"node v16\.20\.0 is too old; need >= 18"):
        mpwasm.node_executable()


@pytest.mark.micropython
def test_an_exception_under_micropython_carries_its_traceback():
    with pytest.raises(mpwasm.MicroPythonError, match="ZeroDivisionError"):
        mpwasm.run_micropython("1 / 0")
    assert mpwasm.run_micropython("import sys\nprint(sys.implementation.name)").stdout == "micropython\n"
