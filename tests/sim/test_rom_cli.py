"""The unmodified esptool command line against a served virtual node.

``socket://`` carries bytes only, so the node is served in download mode and esptool is told not
to reset it (``--before/--after no-reset``), as for a remote board.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabnode.sim.image import make_standin_image
from fabnode.sim.node import create_node
from fabnode.sim.serve import NodeServer


@pytest.fixture
def served_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NodeServer, str]]:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    create_node("cli", "esp32-devkitc", blank=True)
    server = NodeServer("cli", socket_port=0, download=True)
    endpoints = server.start()
    assert endpoints.socket_url is not None
    yield server, endpoints.socket_url
    server.stop()


def esptool_cli(url: str, *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "esptool", "--port", url, "--before", "no-reset",
                          "--after", "no-reset", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
def test_esptool_cli_write_read_mac_id_erase(served_node, tmp_path: Path, stub: bool) -> None:
    server, url = served_node
    options = [] if stub else ["--no-stub"]
    image = make_standin_image("esp32", code_size=4096)
    firmware = tmp_path / "firmware.bin"
    firmware.write_bytes(image)
    # the ESP32 ROM inflates too; --compress keeps the ROM-only write short on the 115200 baud wire
    out = esptool_cli(url, *options, "write-flash", "--compress", "0x1000", str(firmware))
    assert "Hash of data verified." in out
    readback = tmp_path / "readback.bin"
    esptool_cli(url, *options, "read-flash", "0x1000", "0x400", str(readback))
    assert readback.read_bytes() == image[:0x400]
    out = esptool_cli(url, *options, "flash-id")
    assert "Detected flash size: 4MB" in out and "MAC:" in out and "ESP32-D0WD-V3" in out
    if stub:
        esptool_cli(url, "erase-flash")
        assert server.node.flash is not None and server.node.flash.is_erased(0x1000, len(image))
