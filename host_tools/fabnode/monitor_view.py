"""What ``fabnode monitor`` shows a person: one timestamped line per event, a header per node,
a live status line per node on a terminal, alarms highlighted with their start and clear times.

Everything that came from a node passes :func:`neutralize` first: a node (or line noise) must
not be able to move the cursor, clear the screen or retitle the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import click

from fabnode.monitor import Disconnected, PortEvent, Reconnected
from fabnode.telemetry import Corrupt, Gap, Reboot, Record, Text, Traceback

LOG_LEVELS = ("info", "warn", "error")  # docs/protocol.md, `log` records

# C0/C1 control characters (tab excepted), DEL and the Unicode bidi overrides that reorder text.
_UNSAFE = [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0),
           *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_NEUTRAL = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE}


def neutralize(text: str) -> str:
    """``text`` with every control character shown as a visible escape (``\\x1b[2J`` stays text)."""
    return text.translate(_NEUTRAL)


def clock(seconds: float) -> str:
    """Local host time of day with milliseconds, the stamp on every printed line."""
    return datetime.fromtimestamp(seconds).strftime("%H:%M:%S.%f")[:-3]


@dataclass
class EventFilter:
    """``--type`` and ``--level``: which records a person (or a script) wants to see."""

    types: frozenset[str] = frozenset()
    level: str | None = None

    def accepts(self, item: PortEvent) -> bool:
        event = item.event
        if not isinstance(event, Record):
            # The monitor's findings (gaps, reboots, disconnects, tracebacks) always show.
            return not (self.types and isinstance(event, Text | Corrupt))
        if self.types and event.type not in self.types:
            return False
        if self.level is not None and event.type == "log":
            level = str(event.payload.get("level", "info")).lower()
            rank = LOG_LEVELS.index(level) if level in LOG_LEVELS else len(LOG_LEVELS)
            return rank >= LOG_LEVELS.index(self.level)
        return True


def status_text(payload: dict[str, Any]) -> str:
    """The live status of a node in one line, from a ``status`` record's payload."""
    parts = []
    if (rate := payload.get("rate_hz")) is not None:
        parts.append(f"{rate:.0f} Hz")
    if (overruns := payload.get("overruns")) is not None:
        parts.append(f"overruns {overruns}")
    if (heap := payload.get("heap_free")) is not None:
        parts.append(f"heap {heap / 1024:.0f} KB")
    if (temp := payload.get("temp_c")) is not None:
        parts.append(f"{temp:.1f} °C")
    if (velocity := payload.get("velocity_mm_s")) is not None:
        parts.append(f"v {velocity:.2f} mm/s" + (f" zone {payload['zone']}" if payload.get("zone") else ""))
    if (score := payload.get("score")) is not None:
        threshold = payload.get("threshold")
        parts.append(f"score {score:.3f}" + (f"/{threshold:.3f}" if threshold is not None else ""))
    if payload.get("alarm"):
        parts.append("ALARM " + ",".join(map(str, payload.get("alarms") or [])))
    if payload.get("faults"):
        parts.append("FAULT " + ",".join(map(str, payload["faults"])))
    if payload.get("safe_mode"):
        parts.append("SAFE MODE")
    return "  ".join(parts) or _compact(payload)


def _compact(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(", ", "="), ensure_ascii=False)[1:-1].replace('"', "")


@dataclass
class ConsoleView:
    """Renders events for a person; ``live`` redraws a status line per node below the log."""

    out: TextIO
    live: bool = False
    raw: bool = False
    color: bool = False
    _status: dict[str, str] = field(default_factory=dict)
    _alarm_start: dict[tuple[str, str], float] = field(default_factory=dict)
    _footer_lines: int = 0

    def show(self, item: PortEvent) -> None:
        text = self._render_raw(item) if self.raw else self._render(item)
        self._clear_footer()
        if text is not None:
            for line in text.splitlines() or [""]:
                self.out.write(f"{clock(item.time)} {line}\n")
        self._draw_footer()
        self.out.flush()

    def close(self) -> None:
        self._clear_footer()
        self.out.flush()

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.color else text

    def _render_raw(self, item: PortEvent) -> str | None:
        event = item.event
        if isinstance(event, Record | Corrupt):
            line = neutralize(event.line.decode("utf-8", "replace"))
            return line if isinstance(event, Record) else self._style(f"{line}  <- {event.reason}", fg="red")
        if isinstance(event, Text):
            return neutralize(event.text)
        if isinstance(event, Traceback):
            return neutralize("\n".join(event.lines))
        return self._render(item)

    def _render(self, item: PortEvent) -> str | None:
        event = item.event
        renderer = _RENDERERS.get(type(event))
        return renderer(self, item) if renderer else None

    def _record(self, item: PortEvent) -> str | None:
        event = item.event
        assert isinstance(event, Record)
        node = neutralize(event.node)
        payload = event.payload
        if event.type == "status":
            self._status[node] = neutralize(status_text(payload))
            return None if self.live else f"{node} status  {self._status[node]}"
        if event.type == "hello":
            fields = ("board", "fw", "model", "sensor", "reset", "micropython")
            head = "  ".join(f"{k} {neutralize(str(payload[k]))}" for k in fields if payload.get(k) is not None)
            if payload.get("safe_mode"):
                head += "  SAFE MODE"
            return self._style(f"== {node} ({neutralize(item.port)})  {head or _compact(payload)}", bold=True)
        if event.type == "alarm":
            return self._alarm(item, node, payload)
        if event.type == "score" and isinstance(payload.get("max"), int | float):
            threshold = payload.get("threshold")
            limit = f"{threshold:.3f}" if isinstance(threshold, float) else str(threshold)
            over = f", {payload['over']} over {limit}" if "over" in payload else ""
            return f"{node} score  max {payload['max']:.3f} in {payload.get('windows', '?')} windows{over}"
        if event.type in ("error", "log") and (event.type == "error" or payload.get("level") == "error"):
            return self._style(f"{node} {event.type}  {neutralize(_compact(payload))}", fg="red")
        return f"{node} {neutralize(event.type)}  {neutralize(_compact(payload))}"

    def _alarm(self, item: PortEvent, node: str, payload: dict[str, Any]) -> str:
        what = neutralize(str(payload.get("kind", "alarm")))
        key = (node, what)
        details = neutralize(_compact({k: v for k, v in payload.items() if k not in ("event", "kind")}))
        if payload.get("event") == "clear":
            started = self._alarm_start.pop(key, None)
            since = f" (started {clock(started)}, lasted {item.time - started:.1f} s)" if started else ""
            return self._style(f"{node} ALARM CLEARED {what}{since}  {details}", fg="green", bold=True)
        self._alarm_start[key] = item.time
        return self._style(f"{node} ALARM {what}  {details}", fg="white", bg="red", bold=True)

    def _gap(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Gap)
        return self._style(f"{neutralize(event.node)} gap: {event.missing} record(s) lost "
                           f"(seq {event.expected}..{event.got - 1})", fg="yellow")

    def _reboot(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Reboot)
        how = "" if event.hello_seen else " (its hello was lost)"
        return self._style(f"{neutralize(event.node)} rebooted{how}, last seq before: {event.last_seq}",
                           fg="yellow", bold=True)

    def _corrupt(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Corrupt)
        return self._style(f"{neutralize(item.port)} corrupted line ignored ({event.reason}, "
                           f"{len(event.line)} bytes)", fg="yellow")

    def _text(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Text)
        return f"{neutralize(event.node or item.port)} | {neutralize(event.text)}"

    def _traceback(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Traceback)
        who = neutralize(event.node or item.port)
        return self._style("\n".join(f"{who} ! {neutralize(line)}" for line in event.lines), fg="red")

    def _disconnected(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Disconnected)
        return self._style(f"{neutralize(item.port)} disconnected ({neutralize(event.reason)}); "
                           "waiting for it to come back...", fg="yellow", bold=True)

    def _reconnected(self, item: PortEvent) -> str:
        event = item.event
        assert isinstance(event, Reconnected)
        where = "" if event.device == item.port else f" as {neutralize(event.device)}"
        return self._style(f"{neutralize(item.port)} reconnected{where} after {event.gap_s:.1f} s",
                           fg="yellow", bold=True)

    def _clear_footer(self) -> None:
        if self._footer_lines:
            # Cursor up to the first status line, then erase to the end of the screen.
            self.out.write(f"\x1b[{self._footer_lines}F\x1b[J")
            self._footer_lines = 0

    def _draw_footer(self) -> None:
        if not self.live or not self._status:
            return
        for node, status in self._status.items():
            self.out.write(self._style(f"[{node}] {status}", reverse=True) + "\n")
        self._footer_lines = len(self._status)


_RENDERERS: dict[type, Callable[[ConsoleView, PortEvent], str | None]] = {
    Record: ConsoleView._record,
    Gap: ConsoleView._gap,
    Reboot: ConsoleView._reboot,
    Corrupt: ConsoleView._corrupt,
    Text: ConsoleView._text,
    Traceback: ConsoleView._traceback,
    Disconnected: ConsoleView._disconnected,
    Reconnected: ConsoleView._reconnected,
}


def reply_text(reply: Record) -> str:
    """A command's ``reply`` for a person: what was asked, ok or why not, and the data."""
    payload = reply.payload
    head = f"{neutralize(reply.node)} {neutralize(str(payload.get('cmd', '?')))}: "
    if not payload.get("ok"):
        return head + "FAILED " + neutralize(str(payload.get("error", "no reason given")))
    data = payload.get("data")
    if isinstance(data, dict) and data:
        lines = [f"  {neutralize(str(k))}: {neutralize(json.dumps(v))}" for k, v in data.items()]
        return head + "ok\n" + "\n".join(lines)
    return head + "ok"
