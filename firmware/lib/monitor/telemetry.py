"""Telemetry records over the serial console (docs/protocol.md): FN1|type|node|seq|ticks|json|crc."""

import json
from binascii import b2a_base64, crc32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PROTOCOL = "FN1"
SEQ_MODULO = 1 << 30
_SEPARATORS = (",", ":")


def encode(kind: str, node_id: str, seq: int, ticks_ms: int, payload: "dict[str, Any]") -> bytes:
    """One record line as bytes, CRC-32 over every byte before the last '|', ending in CRLF."""
    body = json.dumps(payload, separators=_SEPARATORS)
    head = f"{PROTOCOL}|{kind}|{node_id}|{seq}|{ticks_ms}|{body}"
    data = head.encode()
    return data + b"|%08x\r\n" % (crc32(data) & 0xFFFFFFFF)


def finite(value: "float | None", digits: "int | None" = 4) -> "float | None":
    """``value`` rounded to ``digits`` (None: exact) for a payload; None for NaN/inf (JSON cannot spell them)."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return value if digits is None else round(value, digits)


def b64(data: "Any") -> str:
    """Base64 text of a buffer's raw bytes (an array's items, little-endian), no newline.

    ``bytes()`` first: some ports' binascii iterates typed items rather than reading the buffer.
    """
    return b2a_base64(bytes(data))[:-1].decode()


class Telemetry:
    """Numbers and writes records; ``write(bytes)`` is the console, ``ticks_ms()`` the clock."""

    def __init__(self, node_id: str, write: "Callable[[bytes], Any]", ticks_ms: "Callable[[], Any]") -> None:
        self.node_id = node_id
        self.seq = 0
        self._write = write
        self._ticks_ms = ticks_ms

    def send(self, kind: str, payload: "dict[str, Any]") -> None:
        self._write(encode(kind, self.node_id, self.seq, self._ticks_ms(), payload))
        self.seq = (self.seq + 1) % SEQ_MODULO

    def log(self, level: str, msg: str) -> None:
        self.send("log", {"level": level, "msg": msg})

    def error(self, where: str, msg: str, count: int = 1) -> None:
        self.send("error", {"where": where, "msg": msg, "count": count})
