"""Virtual node timings: power-on, file transfer with mpremote, flashing with esptool, served transports.

Run by hand (docs/benchmarks.md has the figures): ``python bench/bench_vnode.py``. Uses a
throw-away FABNODE_HOME. The wire-speed model makes transfers take as long as on the cable, so
the figures show what a real board at that baud would cost plus the runtime's own overhead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import esptool
import serial
from mpremote.transport_serial import SerialTransport

import fabnode.sim  # noqa: F401  (registers sim://)
from fabnode.sim.image import make_standin_image
from fabnode.sim.node import create_node
from fabnode.sim.serve import NodeServer


def timed(label: str, action: object, payload_bytes: int | None = None, baud: int | None = None) -> None:
    start = time.monotonic()
    action()  # type: ignore[operator]
    seconds = time.monotonic() - start
    extra = ""
    if payload_bytes is not None and baud is not None:
        wire = payload_bytes * 10 / baud
        extra = f" | {payload_bytes / seconds / 1000:.1f} kB/s | wire minimum {wire:.2f} s"
    print(f"| {label} | {seconds:.2f} s{extra} |")


def power_on_to_prompt() -> None:
    port = serial.serial_for_url("sim://bench-boot?hardware=0", baudrate=921600, timeout=0.05)
    seen = b""
    while b">>> " not in seen:
        seen += port.read(256)
    port.close()


def mpremote_copy(baud: int, data: bytes) -> None:
    transport = SerialTransport("sim://bench-cp?hardware=0", baudrate=baud)
    transport.enter_raw_repl()
    transport.fs_writefile("blob.bin", data)
    transport.exit_raw_repl()
    transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kib", type=int, default=32, help="size of the file mpremote copies")
    args = parser.parse_args()
    os.environ["FABNODE_HOME"] = tempfile.mkdtemp(prefix="fabnode-bench-")
    blob = os.urandom(args.kib * 1024)
    firmware = Path(os.environ["FABNODE_HOME"]) / "standin.bin"
    firmware.write_bytes(make_standin_image("esp32"))
    create_node("bench-boot")
    create_node("bench-cp")
    create_node("bench-flash", blank=True)
    print("| what | time | throughput | |")
    print("| --- | --- | --- | --- |")
    timed("power-on to REPL prompt (sim://)", power_on_to_prompt)
    for baud in (115200, 921600):
        timed(f"mpremote fs_writefile {args.kib} KiB, sim:// at {baud}", lambda b=baud: mpremote_copy(b, blob),
              len(blob), baud)
    for baud in (115200, 921600):
        timed(f"esptool write-flash stand-in ({firmware.stat().st_size // 1024} KiB, verified), sim:// --baud {baud}",
              lambda b=baud: esptool.main(["--port", "sim://bench-flash?hardware=0", "--baud", str(b),
                                           "write-flash", "0x1000", str(firmware)]))
    server = NodeServer("bench-flash", rfc2217_port=0, hardware=False, download=True)
    endpoints = server.start()
    try:
        for url, before in ((endpoints.socket_url, "no-reset"), (endpoints.rfc2217_url, "default-reset")):
            command = [sys.executable, "-m", "esptool", "--port", str(url), "--before", before, "--after",
                       "no-reset", "flash-id"]
            timed(f"esptool flash-id over {str(url).split(':')[0]}://",
                  lambda c=command: subprocess.run(c, check=True, capture_output=True))
            server.node.hard_reset(download=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
