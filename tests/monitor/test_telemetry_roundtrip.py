"""The node's encoder under real MicroPython and the host decoder agree (docs/protocol.md)."""

from __future__ import annotations

import base64
import json

import pytest

from fabnode.telemetry import Decoder, Record

PAYLOADS = [
    ("hello", {"fw": "0.1.0", "board": "esp32-devkitc", "model": None, "safe_mode": False}),
    ("status", {"rate_hz": 3199.8, "velocity_mm_s": 1.2345, "zone": "B", "alarms": ["iso"], "temp_c": -3.5}),
    ("log", {"level": "warn", "msg": "pipes | and \"quotes\" and ünïcödé and \\ backslash"}),
    ("log", {"level": "error", "msg": "line\nbreak and \x1b[2J escape"}),
    ("reply", {"cmd": "status", "ok": True, "data": {"nested": {"list": [1, 2.5, None]}}}),
]


@pytest.mark.micropython
def test_records_encoded_by_micropython_decode_on_the_host(micropython) -> None:  # type: ignore[no-untyped-def]
    code = f"""
import json, binascii
from monitor.telemetry import Telemetry, encode
out = []
tm = Telemetry('press-7', out.append, lambda: 123456)
tm.seq = (1 << 30) - 2
for kind, payload in json.loads({json.dumps(json.dumps(PAYLOADS))}):
    tm.send(kind, payload)
tm.seq = 0
tm.send('hello', {{}})
out.append(encode('status', 'press-7', 1, 5, {{}}))
print(binascii.b2a_base64(b''.join(out)).decode().strip())
"""
    stream = base64.b64decode(micropython(code).stdout.strip().splitlines()[-1])
    decoder = Decoder()
    events = decoder.feed(stream)
    records = [e for e in events if isinstance(e, Record)]
    assert [(r.type, r.payload) for r in records[:len(PAYLOADS)]] == [(k, p) for k, p in PAYLOADS]
    assert [r.seq for r in records] == [(1 << 30) - 2, (1 << 30) - 1, 0, 1, 2, 0, 1]
    assert all(r.node == "press-7" and r.ticks_ms in (123456, 5) for r in records)
    assert decoder.stats.corrupt == 0 and decoder.stats.text_lines == 0
    assert decoder.stats.gaps == 0 and decoder.stats.reboots == 1  # wraps silently; the hello restarts
