"""Expose a virtual node to other programs: loopback TCP (``socket://``, ``rfc2217://``) and a pty.

``socket://`` carries bytes only; ``rfc2217://`` also carries baud changes and DTR/RTS (to the
node's reset circuit), so esptool's resets work over it.
A pseudo-terminal (``--pty``) lets tools that want a device path (``mpremote connect /dev/pts/N``)
talk to the node. Only loopback addresses are
served: the node runs code anyone connected sends it. One TCP client at a time, like a serial port.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass

import serial
import serial.rfc2217
from serial.rfc2217 import (
    COM_PORT_OPTION,
    SERVER_SET_CONTROL,
    SET_CONTROL,
    SET_CONTROL_DTR_OFF,
    SET_CONTROL_DTR_ON,
    SET_CONTROL_RTS_OFF,
    SET_CONTROL_RTS_ON,
)

import fabnode.sim  # noqa: F401  (registers sim://)
from fabnode.errors import UsageError
from fabnode.sim import state
from fabnode.sim.node import VirtualNode


def check_loopback(host: str) -> None:
    """Refuse anything but a loopback address: a served node runs whatever its clients send."""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except socket.gaierror:
        raise UsageError(f"cannot resolve host '{host}'") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise UsageError(f"refusing to serve a virtual node on {host}: only loopback addresses are allowed",
                         hint="use 127.0.0.1 (the default); the node runs any code its clients send")


@dataclass(frozen=True)
class Endpoints:
    socket_url: str | None
    rfc2217_url: str | None
    pty_path: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"socket": self.socket_url, "rfc2217": self.rfc2217_url, "pty": self.pty_path}


_LINE_REQUESTS = {
    SET_CONTROL_DTR_ON: ("dtr", True), SET_CONTROL_DTR_OFF: ("dtr", False),
    SET_CONTROL_RTS_ON: ("rts", True), SET_CONTROL_RTS_OFF: ("rts", False),
}


class _LinePortManager(serial.rfc2217.PortManager):  # type: ignore[misc]
    """pyserial's RFC 2217 port manager, with DTR/RTS applied as a sequence of line states.

    Over the network two line changes are never simultaneous, so the asserted-both state right
    after a reset (the midpoint of esptool's classic reset sequence, microseconds long on a local
    port) lasts a round trip and would release EN with IO0 high. The chip stays in reset through
    that state and the next change decides, which makes esptool's resets work while plain clients
    (mpremote, monitors), which only assert both lines when they open, reset nothing.
    """

    def __init__(self, port: serial.SerialBase, connection: _Client) -> None:
        self.requested = (bool(port.dtr), bool(port.rts))
        super().__init__(port, connection)

    def _telnet_process_subnegotiation(self, suboption: bytes) -> None:
        request = _LINE_REQUESTS.get(suboption[2:3]) if suboption[1:2] == SET_CONTROL else None
        if suboption[0:1] != COM_PORT_OPTION or request is None:
            super()._telnet_process_subnegotiation(suboption)
            return
        line, level = request
        previous = self.requested
        self.requested = (level, previous[1]) if line == "dtr" else (previous[0], level)
        held_in_reset = previous == (False, True) and self.requested == (True, True)
        if not held_in_reset:
            self.serial.dtr, self.serial.rts = self.requested
        self.rfc2217_send_subnegotiation(SERVER_SET_CONTROL, suboption[2:3])


class _Client:
    """One TCP connection; with ``rfc2217`` its bytes are telnet-framed and control the port."""

    def __init__(self, conn: socket.socket, port: serial.SerialBase, rfc2217: bool) -> None:
        self.conn = conn
        self.port = port
        self._lock = threading.Lock()
        self.manager = _LinePortManager(port, self) if rfc2217 else None

    def write(self, data: bytes) -> None:
        """Raw bytes to the client (PortManager sends telnet negotiation through this)."""
        with self._lock:
            self.conn.sendall(data)

    def send(self, data: bytes) -> None:
        self.write(b"".join(self.manager.escape(data)) if self.manager else data)

    def pump_in(self) -> None:
        while True:
            data = self.conn.recv(4096)
            if not data:
                return
            payload = b"".join(self.manager.filter(data)) if self.manager else data
            if payload:
                self.port.write(payload)


class NodeServer:
    def __init__(self, name: str, host: str = "127.0.0.1", socket_port: int | None = 0,
                 rfc2217_port: int | None = None, pty: bool = False, baud: int = 115200,
                 board: str | None = None, speed: int | None = None, download: bool = False,
                 hardware: bool = True) -> None:
        check_loopback(host)
        self.name = state.check_name(name)
        self.host = host
        self.baud = baud
        self.download = download
        options = [f"{key}={value}" for key, value in (("board", board), ("speed", speed)) if value is not None]
        if not hardware:
            options.append("hardware=0")
        self.url = f"sim://{name}" + ("?" + "&".join(options) if options else "")
        self._wanted = (socket_port, rfc2217_port, pty)
        self._listeners: list[socket.socket] = []
        self._client: _Client | None = None
        self._client_lock = threading.Lock()
        self._pty: tuple[int, int] | None = None
        self._stopped = threading.Event()
        self.port: serial.SerialBase | None = None

    @property
    def node(self) -> VirtualNode:
        assert self.port is not None
        node: VirtualNode = self.port.node
        return node

    def start(self) -> Endpoints:
        """Open the node and start serving; returns where clients connect."""
        self.port = serial.serial_for_url(self.url, baudrate=self.baud, timeout=0.05)
        try:
            if self.download:
                self.node.hard_reset(download=True)
            socket_port, rfc2217_port, want_pty = self._wanted
            urls = [self._listen(p, rfc2217) if p is not None else None
                    for p, rfc2217 in ((socket_port, False), (rfc2217_port, True))]
            pty_path = self._open_pty() if want_pty else None
        except BaseException:
            self.stop()
            raise
        threading.Thread(target=self._pump_out, daemon=True).start()
        return Endpoints(urls[0], urls[1], pty_path)

    def wait(self) -> None:
        self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()
        for listener in self._listeners:
            listener.close()
        self._drop_client()
        if self._pty is not None:
            for fd in self._pty:
                os.close(fd)
            self._pty = None
        if self.port is not None:
            self.port.close()

    def _listen(self, port: int, rfc2217: bool) -> str:
        listener = socket.create_server((self.host, port))
        self._listeners.append(listener)
        threading.Thread(target=self._accept, args=(listener, rfc2217), daemon=True).start()
        bound = listener.getsockname()[1]
        return f"{'rfc2217' if rfc2217 else 'socket'}://{self.host}:{bound}"

    def _accept(self, listener: socket.socket, rfc2217: bool) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._client_lock:
                busy = self._client is not None or not self.node.port_present()
                if not busy:
                    assert self.port is not None
                    self._client = _Client(conn, self.port, rfc2217)
            if busy:
                conn.close()  # the port is in use (or unplugged), as a serial device would be
                continue
            threading.Thread(target=self._serve_client, args=(self._client,), daemon=True).start()

    def _serve_client(self, client: _Client | None) -> None:
        if client is None:
            return
        with contextlib.suppress(OSError, serial.SerialException):  # client gone, or node unplugged
            client.pump_in()
        with self._client_lock:
            if self._client is client:
                self._client = None
        client.conn.close()

    def _drop_client(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            # shutdown, not just close: its reader thread sits in recv(), which would keep the
            # connection open (and the client unaware) until it returns
            with contextlib.suppress(OSError):
                client.conn.shutdown(socket.SHUT_RDWR)
            client.conn.close()

    def _open_pty(self) -> str:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)  # never stall the node's output on a pty nobody reads
        self._pty = (master, slave)  # holding the slave open keeps the master readable between clients
        threading.Thread(target=self._pump_pty, args=(master,), daemon=True).start()
        return os.ttyname(slave)

    def _pump_pty(self, master: int) -> None:
        while not self._stopped.is_set():
            try:
                readable, _, _ = select.select([master], [], [], 0.2)
                if not readable:
                    continue
                data = os.read(master, 4096)
            except OSError:
                return
            try:
                if self.port is not None:
                    self.port.write(data)
            except serial.SerialException:
                pass  # unplugged: what the host sends is lost

    def _pump_out(self) -> None:
        port = self.port
        assert port is not None
        while not self._stopped.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except serial.SerialException:
                if self._stopped.is_set():
                    return
                self._wait_for_replug()
                continue
            if not data:
                continue
            with self._client_lock:
                client = self._client
            if client is not None:
                try:
                    client.send(data)
                except OSError:
                    self._drop_client()
            if self._pty is not None:
                # nobody reads the pty and its buffer is full: the bytes are lost, as on a UART
                with contextlib.suppress(OSError):
                    os.write(self._pty[0], data)

    def _wait_for_replug(self) -> None:
        # A USB disconnect: clients lose the port; it comes back when the cable does.
        self._drop_client()
        while not self._stopped.is_set() and state.unplugged_for(self.node.state) > 0:
            time.sleep(0.05)
        if not self._stopped.is_set():
            self.node.replug()
