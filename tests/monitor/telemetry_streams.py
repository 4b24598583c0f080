"""Telemetry byte streams for tests, framed as docs/protocol.md says (independent of the decoder)."""

from __future__ import annotations

import json
import zlib
from typing import Any


def frame(kind: str, node: str, seq: int, ticks: int, payload: dict[str, Any]) -> bytes:
    """One record line, CRC-32 over every byte before the last ``|``."""
    head = f"FN1|{kind}|{node}|{seq}|{ticks}|{json.dumps(payload, separators=(',', ':'))}".encode()
    return head + b"|%08x\r\n" % zlib.crc32(head)


HELLO = {"fw": "0.1.0", "board": "esp32-devkitc", "node": "n1", "model": "ref-1", "reset": "power_on"}


def status(velocity: float = 1.2, score: float = 0.1, temp: float = 24.5) -> dict[str, Any]:
    return {"rate_hz": 3199.8, "overruns": 0, "heap_free": 81234, "temp_c": temp,
            "velocity_mm_s": velocity, "zone": "A", "score": score, "threshold": 0.5, "alarm": False}


def session(node: str = "n1", records: int = 10, start_seq: int = 0) -> list[bytes]:
    """A node's output after boot: hello, then status and score records."""
    lines = [frame("hello", node, start_seq, 100, {**HELLO, "node": node})]
    for i in range(1, records):
        kind = "status" if i % 2 else "score"
        payload = status() if kind == "status" else {"score": 0.1 * i, "threshold": 0.5}
        lines.append(frame(kind, node, start_seq + i, 100 + 320 * i, payload))
    return lines
