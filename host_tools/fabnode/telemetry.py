"""Host side of the telemetry protocol (docs/protocol.md): serial bytes in, trusted events out.

A :class:`Decoder` is fed whatever a serial port delivered and returns events: verified
:class:`Record` s, :class:`Corrupt` lines (counted, never trusted), sequence :class:`Gap` s,
node :class:`Reboot` s, plain :class:`Text` (REPL output, prints) and MicroPython
:class:`Traceback` s. The node encodes with ``firmware/lib/monitor/telemetry.py``.
"""

from __future__ import annotations

import json
import re
from binascii import crc32
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"FN1|"
SEQ_MODULO = 1 << 30
# A line longer than this without a newline is noise (the largest record, a base64 raw window,
# is far smaller); dropping it bounds the decoder's memory on a babbling line.
MAX_LINE = 1 << 17
TRACEBACK_START = "Traceback (most recent call last):"
# Telemetry whose magic or version was hit by noise: "<3 chars>|<type>|..." ending in a CRC.
_DAMAGED_RECORD = re.compile(rb"^.{0,8}\|[a-z]{1,12}\|.*\|[0-9A-Za-z]{6,10}$", re.DOTALL)
_OTHER_VERSION = re.compile(rb"^FN\d+\|")


@dataclass(frozen=True, slots=True)
class Record:
    """One telemetry record whose CRC matched."""

    type: str
    node: str
    seq: int
    ticks_ms: int
    payload: dict[str, Any]
    line: bytes = field(default=b"", compare=False, repr=False)  # as received, for --raw

    def to_json(self) -> dict[str, Any]:
        return {"kind": "record", "type": self.type, "node": self.node, "seq": self.seq,
                "ticks_ms": self.ticks_ms, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A line that looked like telemetry but failed its checks; its content is not trusted."""

    reason: str
    line: bytes

    def to_json(self) -> dict[str, Any]:
        return {"kind": "corrupt", "reason": self.reason, "length": len(self.line)}


@dataclass(frozen=True, slots=True)
class Gap:
    """Records of ``node`` with sequence numbers ``expected`` .. ``got``-1 never arrived intact."""

    node: str
    expected: int
    got: int

    @property
    def missing(self) -> int:
        return (self.got - self.expected) % SEQ_MODULO

    def to_json(self) -> dict[str, Any]:
        return {"kind": "gap", "node": self.node, "expected": self.expected, "got": self.got,
                "missing": self.missing}


@dataclass(frozen=True, slots=True)
class Reboot:
    """``node`` started counting again: it rebooted (``hello_seen`` False if its hello was lost)."""

    node: str
    last_seq: int
    seq: int
    hello_seen: bool

    def to_json(self) -> dict[str, Any]:
        return {"kind": "reboot", "node": self.node, "last_seq": self.last_seq, "seq": self.seq,
                "hello_seen": self.hello_seen}


@dataclass(frozen=True, slots=True)
class Text:
    """A console line that is not telemetry (REPL output, ``print``), as the node sent it."""

    text: str
    node: str | None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "text", "node": self.node, "text": self.text}


@dataclass(frozen=True, slots=True)
class Traceback:
    """A MicroPython traceback on the console; ``exception`` is its last line."""

    lines: tuple[str, ...]
    node: str | None

    @property
    def exception(self) -> str:
        return self.lines[-1]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "traceback", "node": self.node, "exception": self.exception,
                "text": "\n".join(self.lines)}


Event = Record | Corrupt | Gap | Reboot | Text | Traceback


@dataclass
class DecoderStats:
    bytes: int = 0
    records: int = 0
    corrupt: int = 0
    gaps: int = 0
    missing: int = 0
    reboots: int = 0
    text_lines: int = 0
    other_version: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Decoder:
    """Incremental decoder for one serial stream (one port); several nodes may share it."""

    stats: DecoderStats = field(default_factory=DecoderStats)
    _pending: bytes = b""
    _skipping: bool = False  # inside an over-long line: drop bytes until the next newline
    _last_seq: dict[str, int] = field(default_factory=dict)
    _last_node: str | None = None
    _traceback: list[str] | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Decode the next chunk of bytes; returns the events of every line it completed."""
        self.stats.bytes += len(data)
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > MAX_LINE:
            self._pending = b""
            if not self._skipping:
                self._skipping = True
                self.stats.corrupt += 1
        events: list[Event] = []
        for line in lines:
            if self._skipping:
                self._skipping = False
                continue
            self._line(line.rstrip(b"\r"), events)
        return events

    def flush(self) -> list[Event]:
        """Events still held back (an unfinished traceback, a last line without newline)."""
        events: list[Event] = []
        if self._pending and not self._skipping:
            self._line(self._pending.rstrip(b"\r"), events)
        self._pending = b""
        self._skipping = False
        self._end_traceback(events)
        return events

    def _line(self, line: bytes, events: list[Event]) -> None:
        if line.startswith(MAGIC):
            self._telemetry(line, events)
            return
        at = line.find(MAGIC)
        if at > 0:
            # Console text and a record on one line: a REPL prompt without newline, or noise
            # in front of a record.
            self._text(line[:at], events)
            self._telemetry(line[at:], events)
            return
        if _OTHER_VERSION.match(line):
            self.stats.other_version += 1
            return
        if _DAMAGED_RECORD.match(line):
            self._corrupt("bad magic", line, events)
            return
        self._text(line, events)

    def _telemetry(self, line: bytes, events: list[Event]) -> None:
        self._end_traceback(events)
        head, _, crc_hex = line.rpartition(b"|")
        if len(crc_hex) != 8:
            self._corrupt("bad crc field", line, events)
            return
        if crc_hex != b"%08x" % crc32(head):
            # Maybe a lost newline glued two records: try the later one on its own.
            again = line.find(MAGIC, 1)
            self._corrupt("crc mismatch", line if again < 0 else line[:again], events)
            if again > 0:
                self._telemetry(line[again:], events)
            return
        parts = head.split(b"|", 5)
        try:
            _, kind, node, seq, ticks, payload = parts
            record = Record(kind.decode("ascii"), node.decode("ascii"), int(seq), int(ticks),
                            json.loads(payload), line)
        except (ValueError, UnicodeDecodeError):
            self._corrupt("malformed record", line, events)
            return
        if not isinstance(record.payload, dict) or not 0 <= record.seq < SEQ_MODULO:
            self._corrupt("malformed record", line, events)
            return
        self._sequence(record, events)
        self.stats.records += 1
        self._last_node = record.node
        events.append(record)

    def _sequence(self, record: Record, events: list[Event]) -> None:
        node, seq = record.node, record.seq
        last = self._last_seq.get(node)
        self._last_seq[node] = seq
        if last is None:
            return
        if record.type == "hello" and seq == 0:
            self.stats.reboots += 1
            events.append(Reboot(node, last, seq, hello_seen=True))
            return
        expected = (last + 1) % SEQ_MODULO
        if seq == expected:
            return
        if (seq - expected) % SEQ_MODULO < SEQ_MODULO // 2:
            gap = Gap(node, expected, seq)
            self.stats.gaps += 1
            self.stats.missing += gap.missing
            events.append(gap)
        else:
            # Counting went backwards without a hello: the node restarted and its hello was lost.
            self.stats.reboots += 1
            events.append(Reboot(node, last, seq, hello_seen=False))

    def _corrupt(self, reason: str, line: bytes, events: list[Event]) -> None:
        self.stats.corrupt += 1
        events.append(Corrupt(reason, line))

    def _text(self, line: bytes, events: list[Event]) -> None:
        text = line.decode("utf-8", "replace")
        if self._traceback is not None:
            self._traceback.append(text)
            if not text.startswith((" ", "\t")):
                self._end_traceback(events)
            return
        if text.endswith(TRACEBACK_START):
            self._traceback = [TRACEBACK_START]
            return
        self.stats.text_lines += 1
        events.append(Text(text, self._last_node))

    def _end_traceback(self, events: list[Event]) -> None:
        if self._traceback is not None:
            events.append(Traceback(tuple(self._traceback), self._last_node))
            self._traceback = None


def command_line(command: str) -> bytes:
    """The bytes that send ``command`` (``status``, ``!stream raw`` ...) to a running node."""
    text = command.strip()
    if not text.startswith("!"):
        text = "!" + text
    if "\n" in text or "\r" in text or "\x03" in text:
        raise ValueError("a command is one line without control characters")
    return text.encode("utf-8") + b"\n"
