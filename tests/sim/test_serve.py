"""A served virtual node: the unmodified esptool and mpremote command lines over socket://, rfc2217:// and a pty."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from mpremote.transport_serial import SerialTransport
from vnode_console import Console, fabnode_home  # noqa: F401  (fixture)

from fabnode.errors import UsageError
from fabnode.sim.node import Mode, create_node
from fabnode.sim.serve import NodeServer

pytestmark = [pytest.mark.micropython, pytest.mark.usefixtures("fabnode_home")]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    options = dict(getattr(request, "param", {}))
    create_node("served", blank=options.pop("blank", False))
    server = NodeServer("served", rfc2217_port=0, hardware=False, **options)
    server.endpoints = server.start()  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.mark.parametrize("served", [{"blank": True, "download": True, "baud": 921600}], indirect=True)
def test_esptool_and_mpremote_command_lines_over_socket(served: NodeServer, tmp_path: Path) -> None:
    url = served.endpoints.socket_url  # type: ignore[attr-defined]
    firmware = tmp_path / "micropython.bin"
    run("fabnode", "sim", "standin-image", "--board", "esp32-devkitc", "-o", str(firmware))
    esptool = ("esptool", "--port", url, "--before", "no-reset", "--after", "no-reset")
    written = run(*esptool, "write-flash", "0x1000", str(firmware))
    assert "Hash of data verified" in written.stdout
    run(*esptool, "read-flash", "0x1000", str(firmware.stat().st_size), str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == firmware.read_bytes()
    assert "24:0a:c4" in run(*esptool, "read-mac").stdout

    run("fabnode", "sim", "reset", "served")  # the reset button, from another process
    wait_for(lambda: served.node.mode is Mode.MICROPYTHON)
    script = tmp_path / "hello.py"
    script.write_text("print('hello from a file')\n")
    run("mpremote", "connect", url, "cp", str(script), ":hello.py")
    listing = run("mpremote", "connect", url, "fs", "ls", "+", "exec", "import hello").stdout
    assert "hello.py" in listing and "hello from a file" in listing

    run("fabnode", "sim", "reset", "served", "--bootloader")
    wait_for(lambda: served.node.mode is Mode.DOWNLOAD)
    run(*esptool, "erase-flash")
    served.node.hard_reset()
    wait_for(lambda: served.node.mode is Mode.HALTED)  # no image any more
    assert not any(served.node.state.fs_dir.iterdir())  # and erase-flash took the filesystem with it


def test_esptool_and_mpremote_over_rfc2217(served: NodeServer) -> None:
    url = served.endpoints.rfc2217_url  # type: ignore[attr-defined]
    assert "42" in run("mpremote", "connect", url, "exec", "print(6 * 7)").stdout  # opening resets nothing
    out = run("esptool", "--port", url, "--after", "hard-reset", "read-mac").stdout  # DTR/RTS into the ROM
    assert "24:0a:c4" in out and "Hard resetting via RTS pin" in out
    wait_for(lambda: served.node.mode is Mode.MICROPYTHON)  # the RTS pulse rebooted it into MicroPython
    assert "49" in run("mpremote", "connect", url, "exec", "print(7 * 7)").stdout


def test_mpremote_through_a_pty(tmp_path: Path) -> None:
    create_node("ptynode")
    server = NodeServer("ptynode", socket_port=None, pty=True, hardware=False)
    endpoints = server.start()
    try:
        assert endpoints.pty_path is not None
        out = run("mpremote", "connect", endpoints.pty_path, "exec", "print(6 * 7)", "+", "fs", "ls").stdout
        assert "42" in out
        transport = SerialTransport(endpoints.pty_path)  # mpremote's own serial transport, raw-paste included
        try:
            transport.enter_raw_repl()
            assert transport.eval("sum(range(10))") == 45 and transport.use_raw_paste
            transport.exit_raw_repl()
        finally:
            transport.close()
    finally:
        server.stop()


def test_faults_from_the_command_line_reach_the_served_node(served: NodeServer) -> None:
    host, port = served.endpoints.socket_url.removeprefix("socket://").split(":")  # type: ignore[attr-defined]
    with socket.create_connection((host, int(port))) as conn:
        conn.settimeout(10)
        injected = json.loads(run("fabnode", "sim", "fault", "served", "power-loss", "--seconds", "0.1",
                                  "--json").stdout)
        assert injected == {"node": "served", "fault": "power-loss", "off_seconds": 0.1}
        seen = b""
        while b"rst:0x1 (POWERON_RESET)" not in seen:
            seen += conn.recv(4096)
    listed = json.loads(run("fabnode", "sim", "list", "--json").stdout)
    assert listed[0]["name"] == "served" and listed[0]["running"] == "micropython"
    assert run("fabnode", "sim", "exec", "served", "--eval", "6 * 7").stdout.strip() == "42"
    assert json.loads(run("fabnode", "sim", "reset", "served", "--json").stdout) == {"node": "served", "reset": "run"}


def test_usb_disconnect_drops_the_client_until_the_cable_is_back(served: NodeServer) -> None:
    url = served.endpoints.socket_url  # type: ignore[attr-defined]
    port = serial.serial_for_url(url, timeout=0.2)
    con = Console(port)
    served.node.usb_disconnect(1.0)
    with pytest.raises(serial.SerialException):
        for _ in range(50):
            con.drain(0.05)
    port.close()
    wait_for(lambda: served.node.mode is Mode.MICROPYTHON, timeout=5)
    port = serial.serial_for_url(url, timeout=0.2)
    try:
        con = Console(port)
        con.write(b"\r")
        con.expect(b">>> ")
    finally:
        port.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_serving_refuses_non_loopback_addresses(host: str) -> None:
    with pytest.raises(UsageError, match="only loopback"):
        NodeServer("x", host=host)
    result = subprocess.run([sys.executable, "-m", "fabnode", "sim", "serve", "x", "--host", host],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "only loopback addresses" in result.stderr


def test_serve_command_runs_until_terminated() -> None:
    server = subprocess.Popen([sys.executable, "-m", "fabnode", "sim", "serve", "cli1", "--no-rfc2217", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        endpoints = json.loads(server.stdout.readline())
        assert endpoints["rfc2217"] is None and endpoints["pty"] is None
        assert "42" in run("mpremote", "connect", endpoints["socket"], "exec", "print(6 * 7)").stdout
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
    listed = json.loads(run("fabnode", "sim", "list", "--json").stdout)
    assert listed[0]["running"] == "no"
