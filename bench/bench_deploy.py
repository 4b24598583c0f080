"""Benchmark: `fabnode deploy` vs `mpremote cp` of the same app, on the virtual node.

The virtual node models the wire (10 bits per byte at the set baud), so these are the times a
UART-bridged ESP32 would see, plus the simulator's own overhead. For each baud: a fresh deploy,
a no-change re-deploy, and mpremote's `cp` (its own `do_filesystem_cp`, file by file, as
`mpremote cp -r` runs it) of the same compiled files and of the .py sources. Bytes on the wire
count what the host sent.

    python bench/bench_deploy.py [--bauds 115200 921600] [--json]

Figures and the command are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpremote.commands import do_filesystem_cp

from fabnode.boards import get_board
from fabnode.deploy import app_files, deploy
from fabnode.repl import NodeRepl
from fabnode.resources import firmware_dir

BOARD = get_board("esp32-devkitc")


def _count_writes(repl: NodeRepl) -> Callable[[], int]:
    serial = repl.transport.serial
    sent = [0]
    write = serial.write

    def counting(data: bytes) -> int | None:
        sent[0] += len(data)
        return write(data)

    serial.write = counting  # type: ignore[method-assign]
    return lambda: sent[0]


def fabnode_deploy(port: str, baud: int) -> dict[str, Any]:
    with NodeRepl(port, baud) as repl:
        sent = _count_writes(repl)
        started = time.monotonic()
        result = deploy(repl, BOARD)
        return {"seconds": round(time.monotonic() - started, 2), "wire_bytes": sent(),
                "payload_bytes": result.payload_bytes, "files": len(result.written)}


class _State:
    def __init__(self, transport: Any) -> None:
        self.transport = transport


def mpremote_cp(port: str, baud: int, files: dict[str, bytes]) -> dict[str, Any]:
    with NodeRepl(port, baud) as repl, tempfile.TemporaryDirectory() as tmp:
        sent = _count_writes(repl)
        started = time.monotonic()
        state = _State(repl.transport)
        made: set[str] = set()
        for node_path, data in files.items():
            parts = node_path.split("/")[1:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/" + "/".join(parts[:depth])
                if folder not in made and not repl.transport.fs_exists(folder):
                    repl.transport.fs_mkdir(folder)
                made.add(folder)
            local = Path(tmp) / Path(node_path).name
            local.write_bytes(data)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                do_filesystem_cp(state, str(local), ":" + node_path, multiple=False)
        return {"seconds": round(time.monotonic() - started, 2), "wire_bytes": sent(),
                "payload_bytes": sum(len(d) for d in files.values()), "files": len(files)}


def source_files() -> dict[str, bytes]:
    root = firmware_dir()
    return {"/" + p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))}


def run(bauds: list[int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    compiled = {path: data for path, data in app_files(None).items()}
    for baud in bauds:
        row: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as home:
            os.environ["FABNODE_HOME"] = home
            row["fabnode deploy (fresh)"] = fabnode_deploy(f"sim://deploy-{baud}", baud)
            row["fabnode deploy (no change)"] = fabnode_deploy(f"sim://deploy-{baud}", baud)
            row["mpremote cp (same .mpy files)"] = mpremote_cp(f"sim://mpy-{baud}", baud, compiled)
            row["mpremote cp (.py sources)"] = mpremote_cp(f"sim://src-{baud}", baud, source_files())
        results[str(baud)] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bauds", type=int, nargs="+", default=[115200, 921600])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.bauds)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for baud, row in results.items():
        print(f"{baud} baud")
        for name, figures in row.items():
            print(f"  {name:32s} {figures['seconds']:7.2f} s  {figures['wire_bytes']:8d} bytes on the wire "
                  f"for {figures['payload_bytes']} bytes in {figures['files']} files")


if __name__ == "__main__":
    main()
