"""Telemetry encoding and the command line reader."""

from binascii import crc32

from monitor import telemetry
from monitor.commands import MAX_LINE, CommandReader


def check_record_framing_and_crc():
    line = telemetry.encode("status", "n1", 7, 1234, {"a": 1, "s": "x|y"})
    assert line.endswith(b"\r\n")
    body = line[:-2]
    head, crc = body[:body.rfind(b"|")], body[body.rfind(b"|") + 1:]
    assert head.startswith(b"FN1|status|n1|7|1234|{")
    assert crc == b"%08x" % (crc32(head) & 0xFFFFFFFF)
    assert b"\n" not in body and b"\r" not in body


def check_telemetry_numbers_records_from_zero_and_wraps():
    sent = []
    records = telemetry.Telemetry("n1", sent.append, lambda: 5)
    records.send("hello", {})
    records.log("info", "x")
    records.error("sensor", "gone", 2)
    assert [line.split(b"|")[3] for line in sent] == [b"0", b"1", b"2"]
    assert b'"where":"sensor"' in sent[2] and b'"count":2' in sent[2]
    records.seq = telemetry.SEQ_MODULO - 1
    records.send("log", {})
    assert records.seq == 0


def check_finite_rounds_and_nulls_non_finite():
    assert telemetry.finite(1.234567) == 1.2346
    assert telemetry.finite(float("nan")) is None
    assert telemetry.finite(float("inf")) is None
    assert telemetry.finite(None) is None
    assert telemetry.b64(b"\x00\xff\x10") == "AP8Q"


def check_command_reader_lines():
    reader = CommandReader()
    assert reader.feed(b"!sta") == []
    assert reader.feed(b"tus\r\n!stream raw\nhello\n\n") == ["!status", "!stream raw"]
    assert reader.feed(b"!" + b"x" * (MAX_LINE + 10) + b"\n!hello\n") == ["!hello"]
