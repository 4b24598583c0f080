"""Watching nodes over their serial consoles: one reader per port, events merged in arrival order.

:class:`Monitor` opens every port, decodes telemetry with :class:`fabnode.telemetry.Decoder`,
survives unplugging (says so, waits, reopens the same device and reports the gap) and closes
every port when it is left, so ``fabnode flash`` can take the port right after.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import serial
from serial.tools import list_ports

from fabnode.errors import PortError, UsageError
from fabnode.ports import open_error, prepare_url
from fabnode.telemetry import Decoder, Event, Record, command_line

# MicroPython's console on the ESP32 UART; native USB ignores the rate.
DEFAULT_BAUD = 115200
READ_CHUNK = 4096
READ_TIMEOUT_S = 0.05
RECONNECT_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The port went away (cable pulled, node reset its USB); the monitor is waiting for it."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": "disconnected", "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The port is back (possibly under a new device name) after ``gap_s`` seconds."""

    device: str
    gap_s: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": "reconnected", "device": self.device, "gap_s": round(self.gap_s, 3)}


MonitorEvent = Event | Disconnected | Reconnected


@dataclass(frozen=True, slots=True)
class PortEvent:
    """An event from ``port`` with the host's time of arrival (seconds since the epoch)."""

    port: str
    time: float
    event: MonitorEvent


def open_serial(port: str, baud: int | None = None) -> serial.SerialBase:
    """Open ``port`` (device path or URL) without resetting the node.

    DTR and RTS are released before opening, as mpremote does: on ESP32 boards they drive EN and
    GPIO0, and toggling them would reboot the node being watched.
    """
    try:
        ser = serial.serial_for_url(prepare_url(port), do_not_open=True, baudrate=baud or DEFAULT_BAUD,
                                    timeout=READ_TIMEOUT_S, write_timeout=2)
        ser.dtr = False
        ser.rts = False
        ser.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise open_error(port, exc) from exc
    return ser


def usb_serial_number(device: str) -> str | None:
    """USB serial number of a local serial device, the identity that survives a replug."""
    for info in list_ports.comports():
        if info.device == device:
            return info.serial_number or None
    return None


def find_by_serial_number(serial_number: str) -> str | None:
    for info in list_ports.comports():
        if info.serial_number == serial_number:
            return str(info.device)
    return None


@dataclass
class PortSession:
    """One port: a reader thread feeding a decoder, reopening the port after it disappears."""

    port: str
    baud: int | None
    events: queue.Queue[PortEvent]
    reconnect: bool = True
    decoder: Decoder = field(default_factory=Decoder)
    disconnects: int = 0
    offline_s: float = 0.0
    device: str = ""
    _serial: serial.SerialBase | None = None
    _serial_number: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def open(self) -> None:
        self._serial = open_serial(self.port, self.baud)
        self.device = self.port
        if "://" not in self.port:
            self._serial_number = usb_serial_number(self.port)
        self._thread = threading.Thread(target=self._run, name=f"fabnode-monitor {self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_serial()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def write(self, data: bytes) -> None:
        with self._write_lock:
            if self._serial is None:
                raise PortError(f"{self.port} is disconnected; the command was not sent")
            try:
                self._serial.write(data)
                self._serial.flush()
            except (serial.SerialException, OSError) as exc:
                raise PortError(f"writing to {self.port} failed: {exc}") from exc

    def _close_serial(self) -> None:
        with self._write_lock:
            if self._serial is not None:
                self._serial.close()
                self._serial = None

    def _emit(self, event: MonitorEvent) -> None:
        self.events.put(PortEvent(self.port, time.time(), event))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ser = self._serial
                if ser is None:
                    return
                try:
                    data = ser.read(READ_CHUNK)
                except (serial.SerialException, OSError) as exc:
                    self._lost(str(exc) or type(exc).__name__)
                    if not self.reconnect or not self._wait_for_port():
                        return
                    continue
                if data:
                    now = time.time()
                    for event in self.decoder.feed(data):
                        self.events.put(PortEvent(self.port, now, event))
        finally:
            for event in self.decoder.flush():
                self._emit(event)
            self._close_serial()

    def _lost(self, reason: str) -> None:
        self.disconnects += 1
        self._close_serial()
        for event in self.decoder.flush():
            self._emit(event)
        self._emit(Disconnected(reason))

    def _wait_for_port(self) -> bool:
        """Reopen the same device (by USB serial number when known); False if stopped first."""
        lost_at = time.monotonic()
        while not self._stop.wait(RECONNECT_POLL_S):
            device = self.port
            if self._serial_number is not None:
                device = find_by_serial_number(self._serial_number) or ""
                if not device:
                    continue
            try:
                ser = open_serial(device, self.baud)
            except PortError:
                continue
            with self._write_lock:
                self._serial = ser
            self.device = device
            gap = time.monotonic() - lost_at
            self.offline_s += gap
            self._emit(Reconnected(device, gap))
            return True
        return False

    def summary(self) -> dict[str, Any]:
        return {"port": self.port, **self.decoder.stats.to_json(), "disconnects": self.disconnects,
                "offline_s": round(self.offline_s, 3)}


class Monitor:
    """Several ports watched at once; use as a context manager so ports are always closed."""

    def __init__(self, ports: list[str] | tuple[str, ...], baud: int | None = None,
                 reconnect: bool = True) -> None:
        if not ports:
            raise UsageError("no port given", hint="pass -p PORT (see `fabnode ports`) or set FABNODE_PORT")
        self.events: queue.Queue[PortEvent] = queue.Queue()
        self.sessions = {p: PortSession(p, baud, self.events, reconnect) for p in dict.fromkeys(ports)}

    def __enter__(self) -> Monitor:
        try:
            for session in self.sessions.values():
                session.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()

    def send(self, command: str, port: str | None = None) -> None:
        """Send one command line (``status``, ``!stream raw`` ...) to one port or to all."""
        line = command_line(command)
        for session in self.sessions.values() if port is None else [self.sessions[port]]:
            session.write(line)

    def watch(self, duration: float | None = None, stop: threading.Event | None = None) -> Iterator[PortEvent]:
        """Events as they arrive, until ``duration`` seconds passed or ``stop`` is set."""
        end = None if duration is None else time.monotonic() + duration
        while stop is None or not stop.is_set():
            left = 0.1 if end is None else min(0.1, end - time.monotonic())
            if left <= 0:
                break
            try:
                yield self.events.get(timeout=left)
            except queue.Empty:
                if not any(s.running for s in self.sessions.values()):
                    break
        # Whatever already arrived is still delivered, so a short watch loses nothing.
        while True:
            try:
                yield self.events.get_nowait()
            except queue.Empty:
                return

    def request(self, command: str, port: str, timeout: float = 5.0,
                seen: Callable[[PortEvent], None] | None = None) -> Record:
        """Send a command to ``port`` and return its ``reply`` record; other events go to ``seen``."""
        name = command_line(command).decode().split()[0].lstrip("!")
        self.send(command, port)
        for item in self.watch(duration=timeout):
            event = item.event
            if (item.port == port and isinstance(event, Record) and event.type == "reply"
                    and str(event.payload.get("cmd", "")).lstrip("!").split(" ")[0] == name):
                return event
            if seen is not None:
                seen(item)
        raise PortError(f"no reply to `{command}` from {port} within {timeout:g} s",
                        hint="is the fabnode app running on the node? `fabnode monitor` shows what it prints")

    def summary(self) -> list[dict[str, Any]]:
        return [s.summary() for s in self.sessions.values()]
