"""Helpers for the virtual node tests: a fresh FABNODE_HOME and a console that waits for text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import serial

import fabnode.sim  # noqa: F401  (registers sim://)


class Console:
    """A serial port to a virtual node; ``expect`` reads until a marker shows up (or fails, with what came)."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.seen = b""

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def expect(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{marker!r} did not arrive within {timeout} s; got {self.seen[-400:]!r}")
            self.seen += self.port.read(max(1, self.port.in_waiting))
        before, _, self.seen = self.seen.partition(marker)
        return before + marker

    def read_exact(self, size: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.seen) < size and time.monotonic() < deadline:
            self.seen += self.port.read(size - len(self.seen))
        data, self.seen = self.seen[:size], self.seen[size:]
        return data

    def drain(self, quiet: float = 0.2) -> bytes:
        time.sleep(quiet)
        data = self.seen + self.port.read(self.port.in_waiting)
        self.seen = b""
        return data

    def raw_repl(self) -> None:
        self.write(b"\r\x03\x03\x01")
        self.expect(b"raw REPL; CTRL-B to exit\r\n>")

    def raw_exec(self, code: str, timeout: float = 10.0) -> tuple[bytes, bytes]:
        """Run ``code`` in the raw REPL (already entered): its stdout and its error output."""
        self.write(code.encode() + b"\x04")
        self.expect(b"OK", timeout)
        out = self.expect(b"\x04", timeout)[:-1]
        err = self.expect(b"\x04", timeout)[:-1]
        self.expect(b">", timeout)
        return out, err


@pytest.fixture
def fabnode_home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path))
    return tmp_path


@contextmanager
def console(url: str, baud: int = 921600) -> Iterator[Console]:
    port = serial.serial_for_url(url, baudrate=baud, timeout=0.2)
    try:
        yield Console(port)
    finally:
        port.close()
