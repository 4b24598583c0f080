"""Saved telemetry (``fabnode monitor --save``): JSON Lines or CSV, one complete line per event.

Each event is written with a single ``os.write`` on a file opened for appending, so a saved
file never ends in a torn line, whenever the monitor is stopped. Only verified records and
the monitor's own findings (gaps, reboots, disconnects, tracebacks) are saved; corrupted lines
and console text are not.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fabnode.errors import FabnodeError, UsageError
from fabnode.monitor import PortEvent
from fabnode.telemetry import Corrupt, Text

CSV_COLUMNS = ("host_time", "port", "kind", "node", "type", "seq", "ticks_ms", "data")


def host_time(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds: what every saved and printed event is stamped with."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def event_json(item: PortEvent) -> dict[str, Any]:
    """The JSON object ``--json`` prints and ``--save`` stores for one event."""
    return {"host_time": host_time(item.time), "port": item.port, **item.event.to_json()}


def is_saved(item: PortEvent) -> bool:
    return not isinstance(item.event, Corrupt | Text)


class TelemetryWriter:
    """Appends events to a ``.jsonl`` or ``.csv`` file, each one on disk before the next."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = _format_of(path)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FabnodeError(f"cannot write {path}: {exc.strerror}") from exc
        if self.format == "csv" and os.fstat(self._fd).st_size == 0:
            self._write(_csv_line(list(CSV_COLUMNS)))

    def write(self, item: PortEvent) -> None:
        if not is_saved(item):
            return
        data = event_json(item)
        if self.format == "jsonl":
            self._write(json.dumps(data, separators=(",", ":")) + "\n")
            return
        row = [data.pop(k, "") for k in ("host_time", "port", "kind", "node", "type", "seq", "ticks_ms")]
        details = data["payload"] if row[2] == "record" else data
        self._write(_csv_line([*row, json.dumps(details, separators=(",", ":"))]))

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> TelemetryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, line: str) -> None:
        data = line.encode("utf-8")
        while data:
            data = data[os.write(self._fd, data):]


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise UsageError(f"cannot save telemetry as {path.name}: use a .jsonl or .csv file name")


def read_saved(path: Path) -> list[dict[str, Any]]:
    """Events of a saved file as the JSON objects ``event_json`` made (CSV rows converted back)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FabnodeError(f"cannot read {path}: {exc.strerror}") from exc
    fmt = _format_of(path)
    try:
        if fmt == "jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return [_from_csv_row(row) for row in csv.DictReader(io.StringIO(text))]
    except (ValueError, KeyError) as exc:
        raise FabnodeError(f"{path} is not a saved telemetry file: {exc}",
                           hint="save one with `fabnode monitor --save FILE.jsonl`") from exc


def _from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    data = json.loads(row["data"])
    event: dict[str, Any] = {"host_time": row["host_time"], "port": row["port"], "kind": row["kind"]}
    if row["node"]:
        event["node"] = row["node"]
    if row["kind"] == "record":
        event.update(type=row["type"], seq=int(row["seq"]), ticks_ms=int(row["ticks_ms"]), payload=data)
    else:
        event.update(data)
    return event
