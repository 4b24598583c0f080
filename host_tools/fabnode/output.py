"""Output conventions: JSON for scripts, progress bars only for people at a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click


def emit_json(data: Any) -> None:
    """One JSON document (or one JSON Lines record) on stdout, flushed at once."""
    sys.stdout.write(json.dumps(data, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 record``, ``2 records``: a count with its noun, for people."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def is_interactive() -> bool:
    return sys.stdout.isatty()


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned text table, for people."""
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


class Progress:
    """Progress of one long operation: a bar on a TTY, JSON events with ``--json``, else silent."""

    def __init__(self, label: str, total: int, as_json: bool = False) -> None:
        self.label = label
        self.total = total
        self.as_json = as_json
        self.done = 0
        self._bar: Any = None

    def update(self, done: int) -> None:
        step = done - self.done
        self.done = done
        if self.as_json:
            emit_json({"event": "progress", "task": self.label, "done": done, "total": self.total})
        elif self._bar is not None and step > 0:
            self._bar.update(step)

    @contextmanager
    def running(self) -> Iterator[Progress]:
        if not self.as_json and is_interactive():
            with click.progressbar(length=self.total, label=self.label, file=sys.stdout) as bar:
                self._bar = bar
                yield self
                self._bar = None
        else:
            yield self
