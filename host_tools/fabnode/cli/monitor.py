from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from fabnode.cli.options import baud_option, json_option, ports_option
from fabnode.errors import EXIT_FAILED, UsageError
from fabnode.monitor import Monitor
from fabnode.monitor_view import LOG_LEVELS, ConsoleView, EventFilter, reply_text
from fabnode.output import counted, emit_json, is_interactive
from fabnode.telemetry_file import TelemetryWriter, event_json

RECORD_TYPES = ("hello", "status", "features", "score", "alarm", "log", "error", "reply", "raw")


@click.command()
@ports_option
@baud_option
@json_option
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Append records to FILE (.jsonl or .csv), each flushed as it arrives.")
@click.option("--type", "types", multiple=True, type=click.Choice(RECORD_TYPES), help="Only these record types.")
@click.option("--level", type=click.Choice(LOG_LEVELS), help="Hide log records below this level.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Stop after S seconds.")
@click.option("--raw", is_flag=True, help="Show lines as received (control characters still neutralised).")
@click.option("--send", metavar="CMD", help="Send a command (status, selftest, hello ...), show the reply, exit.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for the --send reply.")
def monitor(ports: tuple[str, ...], baud: int | None, as_json: bool, save: Path | None, types: tuple[str, ...],
            level: str | None, duration: float | None, raw: bool, send: str | None, timeout: float) -> None:
    """Watch nodes' telemetry: verified records, alarms, gaps, reboots and console output.

    \b
    Corrupted lines are counted and never trusted; an unplugged node is waited for and the
    gap reported. Several -p ports are merged, each line names its node. Ctrl-C stops.
    """
    if send is not None and len(ports) != 1:
        raise UsageError("--send talks to one node: give exactly one -p PORT")
    with Monitor(list(ports), baud=baud) as mon:
        if send is not None:
            for port in mon.sessions:
                reply = mon.request(send, port, timeout=timeout)
                if as_json:
                    emit_json(reply.to_json())
                else:
                    click.echo(reply_text(reply))
                if not reply.payload.get("ok"):  # the node refused the command: scripts see it in the exit code
                    click.get_current_context().exit(EXIT_FAILED)
            return
        _watch(mon, as_json=as_json, save=save, event_filter=EventFilter(frozenset(types), level),
               duration=duration, raw=raw)


@contextmanager
def ctrl_c_stops() -> Iterator[threading.Event]:
    """An event Ctrl-C sets instead of raising, so a loop stops between two complete writes."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _watch(mon: Monitor, *, as_json: bool, save: Path | None, event_filter: EventFilter,
           duration: float | None, raw: bool) -> None:
    view = ConsoleView(sys.stdout, live=is_interactive() and not raw, raw=raw, color=is_interactive())
    writer = TelemetryWriter(save) if save is not None else None
    try:
        with ctrl_c_stops() as stop:
            for item in mon.watch(duration=duration, stop=stop):
                if not event_filter.accepts(item):
                    continue
                if writer is not None:
                    writer.write(item)
                if as_json:
                    emit_json(event_json(item))
                else:
                    view.show(item)
    finally:
        view.close()
        if writer is not None:
            writer.close()
    summary = mon.summary()
    if as_json:
        emit_json({"kind": "summary", "ports": summary})
        return
    for s in summary:
        click.echo(f"{s['port']}: {counted(s['records'], 'record')}, {counted(s['corrupt'], 'corrupted line')}, "
                   f"{counted(s['gaps'], 'gap')} ({counted(s['missing'], 'record')} lost), "
                   f"{counted(s['reboots'], 'reboot')}, {counted(s['disconnects'], 'disconnect')} "
                   f"({s['offline_s']:.1f} s offline)", err=True)
