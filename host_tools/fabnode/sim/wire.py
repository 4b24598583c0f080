"""One direction of a UART at a given baud: a byte arrives 10 bit times after the one before it.

Both the virtual node's console output and the ROM bootloader's answers go through a ``Wire``,
so transfers take as long as they would on the cable and benchmarks are honest.
"""

from __future__ import annotations

import threading
import time
from collections import deque

BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit


class WireClosed(Exception):
    """The wire went away while a reader waited (USB disconnect, port closed)."""


class Wire:
    def __init__(self, baud: int) -> None:
        self.baud = baud
        self._cond = threading.Condition()
        # (time the first byte is complete, seconds per byte, bytes)
        self._chunks: deque[tuple[float, float, bytes]] = deque()
        self._busy_until = 0.0
        self._closed = False

    def byte_time(self) -> float:
        return BITS_PER_BYTE / self.baud

    def push(self, data: bytes) -> None:
        if not data:
            return
        with self._cond:
            spb = self.byte_time()
            start = max(time.monotonic(), self._busy_until)
            self._chunks.append((start + spb, spb, data))
            self._busy_until = start + spb * len(data)
            self._cond.notify_all()

    def _ready(self, now: float) -> int:
        count = 0
        for first_done, spb, data in self._chunks:
            if now < first_done:
                break
            arrived = min(len(data), int((now - first_done) / spb) + 1)
            count += arrived
            if arrived < len(data):
                break
        return count

    def in_waiting(self) -> int:
        with self._cond:
            self._raise_if_closed()
            return self._ready(time.monotonic())

    def take(self, size: int, timeout: float | None, inter_byte_timeout: float | None = None) -> bytes:
        """Up to ``size`` arrived bytes, waiting until ``size`` arrived or ``timeout`` passed (pyserial's read).

        With ``inter_byte_timeout``, also return once some bytes came and the line then stayed quiet that long.
        """
        overall = None if timeout is None else time.monotonic() + timeout
        deadline = overall
        out = bytearray()
        with self._cond:
            while True:
                self._raise_if_closed()
                now = time.monotonic()
                before = len(out)
                while self._chunks and len(out) < size:
                    first_done, spb, data = self._chunks[0]
                    if now < first_done:
                        break
                    arrived = min(len(data), int((now - first_done) / spb) + 1, size - len(out))
                    out += data[:arrived]
                    if arrived == len(data):
                        self._chunks.popleft()
                    else:
                        self._chunks[0] = (first_done + arrived * spb, spb, data[arrived:])
                        break
                if len(out) > before and inter_byte_timeout is not None:
                    quiet_limit = now + inter_byte_timeout
                    deadline = quiet_limit if overall is None else min(overall, quiet_limit)
                if len(out) >= size or (deadline is not None and now >= deadline):
                    return bytes(out)
                wait = self._chunks[0][0] - now if self._chunks else None
                if deadline is not None:
                    wait = min(wait, deadline - now) if wait is not None else deadline - now
                self._cond.wait(None if wait is None else max(wait, 0.0005))

    def clear(self) -> None:
        with self._cond:
            self._chunks.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._chunks.clear()
            self._cond.notify_all()

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise WireClosed("the serial line is gone")
