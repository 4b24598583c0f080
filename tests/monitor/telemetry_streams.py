"""Telemetry byte streams for tests, made by the node's own encoder (firmware/lib/monitor/telemetry.py)."""

from __future__ import annotations

from typing import Any

from monitor.telemetry import encode as frame

__all__ = ["HELLO", "frame", "session", "status"]

HELLO = {"proto": 1, "fw": "0.1.0", "board": "esp32-devkitc", "chip": "esp32", "node": "n1",
         "micropython": "1.27.0", "reset": "power_on", "safe_mode": False, "model": "ref-1",
         "sensor": "adxl345", "odr_hz": 3200, "range_g": 16, "rate_hz": 3200, "window": 1024, "hop": 512, "axes": 3}


def status(velocity: float = 1.2, score: float = 0.1, temp: float = 24.5) -> dict[str, Any]:
    return {"uptime_s": 10, "rate_hz": 3199.8, "odr_hz": 3200, "overruns": 0, "dropped": 0, "heap_free": 81234,
            "temp_c": temp, "velocity_mm_s": velocity, "zone": "A", "machine_class": "I", "score": score,
            "threshold": 0.5, "alarm": False, "alarms": [], "faults": [], "stream": "off", "safe_mode": False}


def session(node: str = "n1", records: int = 10, start_seq: int = 0) -> list[bytes]:
    """A node's output after boot: hello, then status and score records."""
    lines = [frame("hello", node, start_seq, 100, {**HELLO, "node": node})]
    for i in range(1, records):
        kind = "status" if i % 2 else "score"
        payload = status() if kind == "status" else {"score": 0.1 * i, "max": 0.1 * i, "threshold": 0.5}
        lines.append(frame(kind, node, start_seq + i, 100 + 320 * i, payload))
    return lines
