"""``fabnode demo``: flash a virtual node, watch it on a healthy machine, see it catch a bearing fault."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from fabnode.cli.options import json_option
from fabnode.demo import run_demo
from fabnode.output import emit_json


@click.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the virtual node here (default: a temporary folder, removed at the end).")
@json_option
def demo(home: Path | None, as_json: bool) -> None:
    """The main job on a virtual node, no hardware needed: flash, deploy, monitor, alarm (under a minute)."""
    if as_json:
        result = run_demo(io.StringIO(), home)
        emit_json({"ok": True, "seconds": result.seconds, "alarm_after_fault_s": result.alarm_after_fault_s,
                   "phases": result.phases})
        return
    run_demo(sys.stdout, home, color=sys.stdout.isatty())
