"""The host telemetry decoder: CRC, sequence gaps, reboots, corrupt lines, text and tracebacks."""

from __future__ import annotations

import random
import zlib

import pytest
from telemetry_streams import HELLO, frame, session

from fabnode.telemetry import (
    MAX_LINE,
    Corrupt,
    Decoder,
    Gap,
    Reboot,
    Record,
    Text,
    Traceback,
    command_line,
)


def decode(data: bytes, chunk: int | None = None) -> tuple[Decoder, list[object]]:
    decoder = Decoder()
    events: list[object] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        events += decoder.feed(data[i:i + step])
    events += decoder.flush()
    return decoder, events


def records(events: list[object]) -> list[Record]:
    return [e for e in events if isinstance(e, Record)]


def test_clean_session_decodes_every_record_in_any_chunking() -> None:
    data = b"".join(session(records=20))
    for chunk in (1, 7, 64, None):
        decoder, events = decode(data, chunk)
        assert [r.seq for r in records(events)] == list(range(20))
        assert decoder.stats.corrupt == decoder.stats.gaps == 0
    first = records(events)[0]
    assert (first.type, first.node, first.ticks_ms, first.payload) == ("hello", "n1", 100, HELLO)


def test_payload_may_contain_the_field_separator() -> None:
    _, events = decode(frame("log", "n1", 0, 5, {"msg": "a|b|c"}))
    assert records(events)[0].payload == {"msg": "a|b|c"}


def test_every_single_bit_flip_is_rejected_never_trusted() -> None:
    line = frame("status", "n1", 3, 1000, {"velocity_mm_s": 1.5, "zone": "A"})
    body = line[:-2]  # keep the line ending intact, so exactly one line is decoded
    for bit in range(len(body) * 8):
        damaged = bytearray(body)
        damaged[bit // 8] ^= 1 << (bit % 8)
        if b"\n" in damaged:
            continue
        _, events = decode(bytes(damaged) + b"\r\n")
        assert not records(events), f"bit {bit} flipped and the record was still accepted"


def test_random_line_noise_is_counted_and_no_bad_record_is_accepted() -> None:
    lines = session(records=300)
    rng = random.Random(7)
    noisy = bytearray(b"".join(lines))
    for _ in range(60):
        noisy[rng.randrange(len(noisy))] ^= 1 << rng.randrange(8)
    decoder, events = decode(bytes(noisy), chunk=97)
    good = {line.rstrip(b"\r\n") for line in lines}
    accepted = records(events)
    assert accepted and all(frame(r.type, r.node, r.seq, r.ticks_ms, r.payload).rstrip(b"\r\n") in good
                            for r in accepted)
    assert decoder.stats.corrupt >= 1
    assert len(accepted) + decoder.stats.missing + 1 >= 300 - decoder.stats.reboots


def test_lost_records_are_reported_as_a_gap() -> None:
    lines = session(records=10)
    del lines[4:7]
    decoder, events = decode(b"".join(lines))
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps == [Gap("n1", 4, 7)] and gaps[0].missing == 3
    assert decoder.stats.missing == 3


def test_sequence_wraps_at_2_to_30_without_a_gap() -> None:
    top = (1 << 30) - 1
    data = frame("status", "n1", top, 0, {}) + frame("status", "n1", 0, 1, {}) + frame("status", "n1", 1, 2, {})
    decoder, events = decode(data)
    assert len(records(events)) == 3 and decoder.stats.gaps == decoder.stats.reboots == 0


def test_reboot_is_a_hello_with_sequence_zero() -> None:
    data = b"".join(session(records=5)) + b"ets Jun  8 2016 00:22:57\r\n" + b"".join(session(records=3))
    decoder, events = decode(data)
    assert [e for e in events if isinstance(e, Reboot)] == [Reboot("n1", 4, 0, hello_seen=True)]
    assert decoder.stats.gaps == 0
    assert Text("ets Jun  8 2016 00:22:57", "n1") in events


def test_reboot_with_lost_hello_is_still_recognised() -> None:
    second = session(records=4)[2:]
    _, events = decode(b"".join(session(records=8)) + b"".join(second))
    assert [e for e in events if isinstance(e, Reboot)] == [Reboot("n1", 7, 2, hello_seen=False)]


def test_nodes_on_one_stream_are_tracked_separately() -> None:
    a, b = session("a", 4), session("b", 4)
    mixed = [line for pair in zip(a, b, strict=True) for line in pair]
    decoder, events = decode(b"".join(mixed))
    assert decoder.stats.gaps == 0 and {r.node for r in records(events)} == {"a", "b"}


def test_console_text_passes_through_and_tracebacks_are_recognised() -> None:
    data = (
        frame("hello", "n1", 0, 1, HELLO)
        + b"MicroPython v1.27.0 on 2025-12-09; ESP32 module with ESP32\r\n"
        + b"Traceback (most recent call last):\r\n"
        + b'  File "main.py", line 4, in <module>\r\n'
        + b'  File "/lib/monitor/app.py", line 88, in run\r\n'
        + b"OSError: [Errno 116] ETIMEDOUT\r\n"
        + b">>> \r\n"
    )
    _, events = decode(data)
    tracebacks = [e for e in events if isinstance(e, Traceback)]
    assert len(tracebacks) == 1 and tracebacks[0].node == "n1"
    assert tracebacks[0].exception == "OSError: [Errno 116] ETIMEDOUT" and len(tracebacks[0].lines) == 4
    texts = [e.text for e in events if isinstance(e, Text)]
    assert texts == ["MicroPython v1.27.0 on 2025-12-09; ESP32 module with ESP32", ">>> "]


def test_traceback_cut_short_by_a_record_is_still_reported() -> None:
    data = b"Traceback (most recent call last):\r\n  File \"x.py\", line 1\r\n" + frame("log", "n1", 0, 1, {})
    _, events = decode(data)
    assert isinstance(events[0], Traceback) and isinstance(events[1], Record)


def test_prompt_glued_to_a_record_is_split() -> None:
    _, events = decode(b">>> " + frame("status", "n1", 0, 1, {"a": 1}))
    assert events == [Text(">>> ", None), Record("status", "n1", 0, 1, {"a": 1})]


def test_two_records_glued_by_a_lost_newline_keep_the_second() -> None:
    first, second = session(records=2)
    decoder, events = decode(first.rstrip(b"\r\n")[:-3] + second)
    assert [r.seq for r in records(events)] == [1]
    assert decoder.stats.corrupt == 1


@pytest.mark.parametrize("line, reason", [
    (b"FN1|status|n1|1|2|{}|zzzzzzzz", "crc mismatch"),
    (b"FN1|status|n1|1|2|{}|123", "bad crc field"),
    (b"FM1|status|n1|1|2|{\"a\":1}|0badc0de", "bad magic"),
])
def test_damaged_lines_are_corrupt_with_a_reason(line: bytes, reason: str) -> None:
    _, events = decode(line + b"\r\n")
    assert [(type(e), getattr(e, "reason", None)) for e in events] == [(Corrupt, reason)]


def test_valid_crc_over_a_malformed_record_is_still_rejected() -> None:
    for head in (b"FN1|status|n1|x|2|{}", b"FN1|status|n1|1|2|[1]", b"FN1|status|n1|1|2|{bad", b"FN1|a|b"):
        _, events = decode(head + b"|%08x\n" % zlib.crc32(head))
        assert [type(e) for e in events] == [Corrupt]


def test_unknown_major_version_is_ignored() -> None:
    decoder, events = decode(b"FN2|status|n1|1|2|{}|00000000\r\n")
    assert events == [] and decoder.stats.other_version == 1


def test_babbling_line_without_newline_is_dropped_with_bounded_memory() -> None:
    decoder = Decoder()
    for _ in range(40):
        decoder.feed(b"x" * (MAX_LINE // 8))
    events = decoder.feed(b"tail\n" + frame("status", "n1", 0, 1, {}))
    assert len(decoder._pending) <= MAX_LINE
    assert records(events) and decoder.stats.corrupt == 1


def test_command_line() -> None:
    assert command_line("status") == b"!status\n"
    assert command_line(" !stream raw ") == b"!stream raw\n"
    with pytest.raises(ValueError):
        command_line("status\nreboot")
