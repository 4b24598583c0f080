"""fabnode flash on a virtual node whose serial line runs at the real wire speed.

    python bench/bench_flash.py [--code-kib 1024] [--bauds 115200,460800,921600]

For each baud: a blank node is flashed with a stand-in MicroPython image of about the size of a
real ESP32 build, then flashed again with the same image (the write is skipped when the flash
MD5 already matches). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zlib

from fabnode import flashing
from fabnode.boards import get_board
from fabnode.sim.image import make_standin_image
from fabnode.sim.node import create_node


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code-kib", type=int, default=1024, help="size of the image's code filler")
    parser.add_argument("--bauds", default="115200,460800,921600")
    args = parser.parse_args()
    board = get_board("esp32-devkitc")
    data = make_standin_image(board.chip, code_size=args.code_kib * 1024)
    firmware = flashing.check_firmware(data, board, "stand-in")
    compressed = len(zlib.compress(data, 9))
    print(f"image: {len(data)} bytes, {compressed} compressed (zlib 9, as esptool sends it)\n")
    print("| baud | fresh flash (s) | unchanged re-flash (s) | image bytes/s on the wire |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as home:
        os.environ["FABNODE_HOME"] = home
        for baud in (int(b) for b in args.bauds.split(",")):
            name = f"bench{baud}"
            create_node(name, board.id, blank=True)
            port = f"sim://{name}"
            started = time.monotonic()
            fresh = flashing.flash_firmware(board, firmware, port, baud=baud, wait_repl=False)
            fresh_s = time.monotonic() - started
            started = time.monotonic()
            again = flashing.flash_firmware(board, firmware, port, baud=baud, wait_repl=False)
            again_s = time.monotonic() - started
            assert fresh.written and not again.written and fresh.baud == baud
            print(f"| {baud} | {fresh_s:.1f} | {again_s:.1f} | {len(data) / fresh_s:,.0f} |")


if __name__ == "__main__":
    main()
