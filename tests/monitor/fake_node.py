"""A stand-in node on a loopback TCP port (``socket://``): plays telemetry, answers commands,
and can be "unplugged" for a while. Used until tests run against the virtual node itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Responder = Callable[[bytes], bytes]


class FakeNode:
    def __init__(self, respond: Responder | None = None, greeting: bytes = b"") -> None:
        self._respond = respond
        self.greeting = greeting  # sent shortly after a client connects
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._client: socket.socket | None = None
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.received = bytearray()
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        return sock

    def _accept(self) -> None:
        listener = self._listener
        try:
            while True:
                client, _ = listener.accept()
                with self._lock:
                    self._client = client
                    self.connections += 1
                self._connected.set()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()
        except OSError:
            return

    def _serve(self, client: socket.socket) -> None:
        pending = b""
        try:
            if self.greeting:
                # pyserial empties its input buffer right after connecting, as on a real port.
                time.sleep(0.2)
                client.sendall(self.greeting)
            while data := client.recv(4096):
                self.received += data
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if self._respond is not None:
                        self.send(self._respond(line))
        except OSError:
            pass
        with self._lock:
            if self._client is client:
                self._client = None
                self._connected.clear()

    def wait_connected(self, timeout: float = 5.0) -> None:
        assert self._connected.wait(timeout), "the monitor never connected"

    def wait_disconnected(self, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while self._connected.is_set():
            assert time.monotonic() < end, "the monitor still holds the port"
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        with self._lock:
            if self._client is not None and data:
                self._client.sendall(data)

    def unplug(self, seconds: float) -> None:
        """The port disappears: connection dropped, connecting refused, then it is back."""
        with self._lock:
            self._stop_listening()
            if self._client is not None:
                self._client.shutdown(socket.SHUT_RDWR)
                self._client.close()
                self._client = None
            self._connected.clear()
        time.sleep(seconds)
        self._listener = self._listen(self.port)
        threading.Thread(target=self._accept, daemon=True).start()

    def _stop_listening(self) -> None:
        # close() alone would not wake the thread blocked in accept(), and the port would stay open.
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def close(self) -> None:
        with self._lock:
            self._stop_listening()
            if self._client is not None:
                self._client.close()
