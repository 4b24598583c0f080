"""``fabnode monitor`` over a real socket:// port against a stand-in node."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fake_node import FakeNode
from telemetry_streams import frame, session, status

from fabnode.cli import cli
from fabnode.errors import PortError
from fabnode.monitor import Disconnected, Monitor, PortEvent, Reconnected
from fabnode.monitor_view import ConsoleView, EventFilter, neutralize, reply_text
from fabnode.telemetry import Corrupt, Gap, Record, Text
from fabnode.telemetry_file import TelemetryWriter, read_saved


def reply_to(line: bytes) -> bytes:
    cmd = line.decode().strip().lstrip("!")
    return frame("reply", "n1", 50, 9000, {"cmd": cmd, "ok": True, "heap_free": 80000})


@pytest.fixture
def node() -> Iterator[FakeNode]:
    fake = FakeNode(respond=reply_to)
    yield fake
    fake.close()


def play(node: FakeNode, lines: list[bytes]) -> None:
    node.wait_connected()
    node.send(b"".join(lines))


def until(mon: Monitor, done: type[object] | None = None, count: int = 1, timeout: float = 5.0) -> list[PortEvent]:
    seen: list[PortEvent] = []
    for item in mon.watch(duration=timeout):
        seen.append(item)
        if done is not None and sum(isinstance(i.event, done) for i in seen) >= count:
            break
    return seen


def test_records_arrive_decoded_with_host_time(node: FakeNode) -> None:
    with Monitor([node.url]) as mon:
        play(node, session(records=6))
        events = until(mon, Record, 6)
    assert [i.event.seq for i in events if isinstance(i.event, Record)] == list(range(6))
    assert all(i.port == node.url and i.time > 0 for i in events)
    node.wait_disconnected()  # the port is released on exit


def test_unplug_is_reported_waited_out_and_the_gap_shown(node: FakeNode) -> None:
    lines = session(records=12)
    with Monitor([node.url]) as mon:
        play(node, lines[:5])
        events = until(mon, Record, 5)
        threading.Thread(target=node.unplug, args=(0.6,)).start()
        events += until(mon, Reconnected)
        play(node, lines[8:])
        events += until(mon, Record, 4)
    kinds = [type(i.event) for i in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected) < kinds.index(Gap)
    reconnected = next(i.event for i in events if isinstance(i.event, Reconnected))
    assert reconnected.gap_s >= 0.5
    assert next(i.event for i in events if isinstance(i.event, Gap)) == Gap("n1", 5, 8)
    assert node.connections == 2


def test_port_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PortError, match="cannot open"):
        Monitor([str(tmp_path / "ttyUSB9")]).__enter__()


def test_send_shows_the_reply(node: FakeNode) -> None:
    result = CliRunner().invoke(cli, ["monitor", "-p", node.url, "--send", "status", "--json"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.output)
    assert reply["type"] == "reply" and reply["payload"]["cmd"] == "status"
    assert bytes(node.received) == b"!status\n"


def test_json_and_save_keep_only_trusted_records(node: FakeNode, tmp_path: Path) -> None:
    lines = session(records=8)
    damaged = bytearray(lines[3])
    damaged[20] ^= 0x04
    lines[3] = bytes(damaged)
    node.greeting = b"".join(lines)
    save = tmp_path / "t.jsonl"
    result = CliRunner().invoke(cli, ["monitor", "-p", node.url, "--json", "--save", str(save), "--duration", "1"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    assert [e["kind"] for e in printed].count("corrupt") == 1
    assert printed[-1]["kind"] == "summary" and printed[-1]["ports"][0]["corrupt"] == 1
    saved = read_saved(save)
    assert [e["seq"] for e in saved if e["kind"] == "record"] == [0, 1, 2, 4, 5, 6, 7]
    assert [e["kind"] for e in saved if e["kind"] != "record"] == ["gap"]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_saved_file_reads_back_as_it_was_printed(tmp_path: Path, suffix: str) -> None:
    decoder_events = [Record("status", "n1", 1, 2, {"velocity_mm_s": 1.5, "note": 'a,"b"\n'}), Gap("n1", 2, 5)]
    items = [PortEvent("sim://a", 1_700_000_000.5, e) for e in decoder_events]
    path = tmp_path / f"t{suffix}"
    for _ in range(2):  # appending keeps one CSV header
        with TelemetryWriter(path) as writer:
            for item in items:
                writer.write(item)
    saved = read_saved(path)
    assert len(saved) == 4 and saved[0] == saved[2]
    assert saved[0]["payload"] == {"velocity_mm_s": 1.5, "note": 'a,"b"\n'}
    assert saved[1]["missing"] == 3 and saved[1]["host_time"].startswith("2023-11-14T22:13:20.500")


def test_escape_sequences_from_the_node_are_neutralised() -> None:
    assert neutralize("\x1b[2J\x1b]0;pwned\x07ok\r\x9b\u202e") == "\\x1b[2J\\x1b]0;pwned\\x07ok\\x0d\\x9b\\u202e"
    out = io.StringIO()
    view = ConsoleView(out)
    evil = Record("log", "n\x1b[31m1", 0, 0, {"level": "info", "msg": "\x1b[2J\x1b[H"})
    view.show(PortEvent("sim://a", 0.0, evil))
    view.show(PortEvent("sim://a", 0.0, Corrupt("crc mismatch", b"FN1|\x1b[2J")))
    assert "\x1b" not in out.getvalue() and "n\\x1b[31m1 log" in out.getvalue()


def test_view_shows_header_status_and_alarm_times() -> None:
    out = io.StringIO()
    view = ConsoleView(out)
    hello = {"fw": "0.1.0", "board": "esp32-devkitc", "model": "ref-1"}
    for t, record in enumerate([
        Record("hello", "n1", 0, 0, hello),
        Record("status", "n1", 1, 0, {"rate_hz": 3200, "velocity_mm_s": 5.1, "zone": "C", "score": 0.9,
                                       "threshold": 0.5, "temp_c": 31.0}),
        Record("alarm", "n1", 2, 0, {"kind": "anomaly", "event": "start", "window": 7, "value": 0.9, "limit": 0.5}),
        Record("alarm", "n1", 3, 0, {"kind": "anomaly", "event": "clear", "window": 40, "value": 0.2, "limit": 0.5}),
    ]):
        view.show(PortEvent("sim://a", 100.0 + 10 * t, record))
    text = out.getvalue()
    assert "board esp32-devkitc" in text and "fw 0.1.0" in text and "model ref-1" in text
    assert "v 5.10 mm/s zone C" in text and "score 0.900/0.500" in text and "31.0 °C" in text
    assert "ALARM anomaly" in text and "lasted 10.0 s" in text


def test_filter_by_type_and_log_level() -> None:
    flt = EventFilter(frozenset({"log"}), "warn")
    log = lambda level: PortEvent("p", 0, Record("log", "n", 0, 0, {"level": level, "msg": ""}))  # noqa: E731
    assert [flt.accepts(log(level)) for level in ("info", "warn", "error")] == [False, True, True]
    assert not flt.accepts(PortEvent("p", 0, Record("status", "n", 0, 0, {})))
    assert not flt.accepts(PortEvent("p", 0, Text(">>> ", None)))
    assert flt.accepts(PortEvent("p", 0, Gap("n", 1, 3))) and flt.accepts(PortEvent("p", 0, Disconnected("gone")))


def test_raw_view_shows_lines_as_received_but_neutralised() -> None:
    out = io.StringIO()
    view = ConsoleView(out, raw=True)
    line = frame("log", "n1", 0, 0, {"msg": "hi"}).rstrip(b"\r\n")
    view.show(PortEvent("p", 0.0, Record("log", "n1", 0, 0, {"msg": "hi"}, line)))
    view.show(PortEvent("p", 0.0, Corrupt("crc mismatch", b"FN1|\x1b[2J|x")))
    assert line.decode() in out.getvalue() and "FN1|\\x1b[2J|x  <- crc mismatch" in out.getvalue()


def test_send_without_json_shows_the_reply_for_a_person(node: FakeNode) -> None:
    result = CliRunner().invoke(cli, ["monitor", "-p", node.url, "--send", "!selftest"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("n1 selftest: ok") and "heap_free" not in result.output
    failed = reply_text(Record("reply", "n1", 1, 1, {"cmd": "stream", "ok": False, "error": "bad \x1b[2J mode"}))
    assert failed == "n1 stream: FAILED bad \\x1b[2J mode"


def test_send_to_a_silent_node_times_out_with_a_hint() -> None:
    silent = FakeNode()
    try:
        result = CliRunner().invoke(cli, ["monitor", "-p", silent.url, "--send", "status", "--timeout", "0.3"])
    finally:
        silent.close()
    assert result.exit_code == 1 and "no reply to `status`" in str(result.exception)


def test_replugged_usb_port_is_found_by_serial_number_under_a_new_name(node: FakeNode,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A real USB port comes back as /dev/ttyUSB1 after the replug; same serial number, same node."""
    import fabnode.monitor as monitor_module

    present = {"/dev/ttyUSB0": "A5069RR4"}
    opened: list[str] = []
    real_open = monitor_module.open_serial

    def comports() -> list[SimpleNamespace]:
        return [SimpleNamespace(device=d, serial_number=s) for d, s in present.items()]

    def open_device(device: str, baud: int | None = None) -> object:
        if device not in present:
            raise PortError(f"cannot open {device}")
        opened.append(device)
        return real_open(node.url, baud)

    monkeypatch.setattr(monitor_module.list_ports, "comports", comports)
    monkeypatch.setattr(monitor_module, "open_serial", open_device)
    lines = session(records=6)
    with Monitor(["/dev/ttyUSB0"]) as mon:
        play(node, lines[:2])
        events = until(mon, Record, 2)
        present.clear()
        node.unplug(0.3)
        present["/dev/ttyUSB1"] = "A5069RR4"
        events += until(mon, Reconnected)
        play(node, lines[4:])
        events += until(mon, Record, 2)
    assert opened == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    reconnected = next(i.event for i in events if isinstance(i.event, Reconnected))
    assert reconnected.device == "/dev/ttyUSB1"
    assert all(i.port == "/dev/ttyUSB0" for i in events)  # still reported under the name asked for
    assert Gap("n1", 2, 4) in [i.event for i in events]


def test_live_view_keeps_one_status_line_per_node_at_the_bottom() -> None:
    out = io.StringIO()
    view = ConsoleView(out, live=True)
    view.show(PortEvent("p", 0.0, Record("status", "a", 1, 0, status(velocity=1.0))))
    view.show(PortEvent("p", 0.0, Record("status", "b", 1, 0, status(velocity=2.0))))
    view.show(PortEvent("p", 0.0, Record("log", "a", 2, 0, {"level": "info", "msg": "hi"})))
    view.close()
    text = out.getvalue()
    assert "status " not in text  # status goes to the live lines, not the log
    assert text.count("\x1b[2F\x1b[J") == 2 and text.endswith("\x1b[2F\x1b[J")  # redrawn, then cleared at exit
    assert text.rindex("[a] ") > text.rindex("a log  level=info, msg=hi")


def test_human_output_has_host_time_on_every_line(node: FakeNode) -> None:
    node.greeting = b"".join(session(records=4))
    result = CliRunner().invoke(cli, ["monitor", "-p", node.url, "--duration", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(re.match(r"\d\d:\d\d:\d\d\.\d\d\d ", line) for line in lines)
    assert "== n1" in lines[0] and "4 records, 0 corrupted lines" in result.stderr


def test_several_ports_are_merged_each_line_naming_its_node() -> None:
    nodes = [FakeNode(greeting=b"".join(session(name, records=3))) for name in ("press-1", "press-2")]
    try:
        result = CliRunner().invoke(cli, ["monitor", "-p", nodes[0].url, "-p", nodes[1].url, "--duration", "1",
                                          "--type", "status"])
    finally:
        for n in nodes:
            n.close()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split()[1] for line in lines) == ["press-1", "press-2"]
    assert all(" status " in line for line in lines)
    assert result.stderr.count("3 records") == 2


def test_ctrl_c_stops_the_monitor_between_records_never_tearing_the_saved_file(tmp_path: Path) -> None:
    """A real `fabnode monitor --save` process, interrupted while records pour in."""
    flood = FakeNode(greeting=b"".join(session(records=20000)))
    save = tmp_path / "t.csv"
    proc = subprocess.Popen([sys.executable, "-m", "fabnode", "monitor", "-p", flood.url, "--save", str(save)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while (not save.exists() or save.stat().st_size < 200_000) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
        flood.close()
    assert proc.returncode == 0, stderr
    assert b"records" in stderr  # the summary was printed: it stopped cleanly
    text = save.read_text()
    assert text.endswith("\n")
    saved = read_saved(save)
    assert len(saved) == text.count("\n") - 1 > 100  # every line is a whole row (one header)
    assert [e["seq"] for e in saved] == list(range(len(saved)))


def test_send_exits_1_when_the_node_refuses_the_command() -> None:
    refusing = FakeNode(respond=lambda line: frame("reply", "n1", 50, 9000, {
        "cmd": line.decode().strip().lstrip("!"), "ok": False, "error": "unknown command 'bogus'"}))
    try:  # the real entry point: click hands ctx.exit's code back to fabnode's main()
        result = subprocess.run([sys.executable, "-m", "fabnode", "monitor", "-p", refusing.url, "--send", "bogus",
                                 "--json"], capture_output=True, text=True, check=False, timeout=60)
    finally:
        refusing.close()
    assert result.returncode == 1 and json.loads(result.stdout)["payload"]["ok"] is False
