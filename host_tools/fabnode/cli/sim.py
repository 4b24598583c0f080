"""``fabnode sim``: create, serve, list, reset and remove virtual nodes, and inject faults."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from fabnode.boards import get_board
from fabnode.cli.options import json_option
from fabnode.errors import FabnodeError, UsageError
from fabnode.output import emit_json, table
from fabnode.sim import control, state
from fabnode.sim.image import make_standin_image
from fabnode.sim.node import create_node
from fabnode.sim.serve import NodeServer

LINE_FAULTS = ("noise", "usb-disconnect", "power-loss", "brownout")
SENSOR_FAULTS = ("unplugged", "nack", "stuck", "wrong-id", "overrun", "bearing", "temp-ramp")


@click.group("sim")
def sim() -> None:
    """Virtual nodes: a simulated ESP32 node that esptool, mpremote and fabnode talk to.

    \b
    Open one in fabnode with --port sim://NAME (created on first use), or serve it to other
    programs with 'fabnode sim serve NAME'. State lives under $FABNODE_HOME/nodes/NAME.
    """


@sim.command("create")
@click.argument("name")
@click.option("--board", default=state.DEFAULT_BOARD, show_default=True, help="Board file id.")
@click.option("--speed", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Simulated time runs N times faster than real time (sensors, signals).")
@click.option("--blank", is_flag=True, help="Erased flash: no MicroPython until you flash it.")
@json_option
def create_cmd(name: str, board: str, speed: int, blank: bool, as_json: bool) -> None:
    """Create a virtual node (with stand-in MicroPython in flash unless --blank)."""
    node_state = create_node(name, board, speed, blank)
    if as_json:
        emit_json(_describe(node_state))
    else:
        click.echo(f"created virtual node {name} ({board}{', blank flash' if blank else ''}) at {node_state.path}")


@sim.command("standin-image")
@click.option("--board", default=state.DEFAULT_BOARD, show_default=True, help="Board whose chip the image is for.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the .bin.")
def standin_image_cmd(board: str, output: str) -> None:
    """Write a stand-in MicroPython image that a virtual node boots (to flash with esptool or fabnode)."""
    chosen = get_board(board)
    firmware = make_standin_image(chosen.chip)
    Path(output).write_bytes(firmware)
    click.echo(f"wrote {len(firmware)} bytes for {chosen.chip}: flash it at {chosen.app_offset:#x}")


@sim.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """List virtual nodes."""
    rows = [_describe(node_state) for node_state in state.list_nodes()]
    if as_json:
        emit_json(rows)
    elif rows:
        click.echo(table(rows, ["name", "board", "speed", "running", "fs_bytes"]))
    else:
        click.echo("no virtual nodes (fabnode sim create NAME, or open sim://NAME)")


def _describe(node_state: state.NodeState) -> dict[str, Any]:
    try:
        running = control.request(node_state.name, "status", timeout=2.0)["mode"]
    except FabnodeError:
        running = "no"
    return {"name": node_state.name, "board": node_state.settings.board, "speed": node_state.settings.speed,
            "running": running, "fs_bytes": node_state.fs_usage(), "path": str(node_state.path)}


@sim.command("rm")
@click.argument("name")
def rm_cmd(name: str) -> None:
    """Delete a virtual node and everything it stored (flash, filesystem)."""
    state.remove(name)
    click.echo(f"removed virtual node {name}")


@sim.command("reset")
@click.argument("name")
@click.option("--bootloader", is_flag=True, help="Hold BOOT (IO0 low) while resetting: ROM download mode.")
@json_option
def reset_cmd(name: str, bootloader: bool, as_json: bool) -> None:
    """Press the reset button of a running virtual node."""
    control.request(name, "reset", download=bootloader)
    if as_json:
        emit_json({"node": name, "reset": "download" if bootloader else "run"})
    else:
        click.echo(f"reset {name}" + (" into the ROM bootloader" if bootloader else ""))


@sim.command("serve")
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind (nothing else).")
@click.option("--socket-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port for socket:// (0: any free port).")
@click.option("--no-socket", is_flag=True, help="Do not serve socket://.")
@click.option("--rfc2217-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port for rfc2217:// (0: any free port).")
@click.option("--no-rfc2217", is_flag=True, help="Do not serve rfc2217://.")
@click.option("--pty", is_flag=True, help="Also expose the node on a pseudo-terminal (/dev/pts/N).")
@click.option("--baud", type=int, default=115200, show_default=True,
              help="Line speed for socket:// and pty clients (rfc2217 clients set their own).")
@click.option("--board", help="Board for a new node (default: esp32-devkitc).")
@click.option("--speed", type=click.IntRange(1, 1000), help="Simulated time speed-up.")
@click.option("--download", is_flag=True, help="Start in ROM download mode (for esptool over socket://).")
@json_option
def serve_cmd(name: str, host: str, socket_port: int, no_socket: bool, rfc2217_port: int, no_rfc2217: bool,
              pty: bool, baud: int, board: str | None, speed: int | None, download: bool, as_json: bool) -> None:
    """Run a virtual node and expose it on loopback TCP and/or a pty until interrupted."""
    server = NodeServer(name, host, None if no_socket else socket_port, None if no_rfc2217 else rfc2217_port,
                        pty, baud, board, speed, download)
    endpoints = server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    if as_json:
        emit_json({"name": name, **endpoints.to_json()})
    else:
        click.echo(f"virtual node {name} serving (Ctrl-C stops it):")
        for label, where in endpoints.to_json().items():
            if where:
                click.echo(f"  {label:8} {where}")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@sim.command("fault")
@click.argument("name")
@click.argument("kind", type=click.Choice([*LINE_FAULTS, *SENSOR_FAULTS, "clear"]))
@click.option("--seconds", type=float, default=2.0, show_default=True,
              help="usb-disconnect: how long; power-loss: how long the power stays off.")
@click.option("--bit-flip-rate", type=float, default=0.0, help="noise: probability a byte gets a bit flipped.")
@click.option("--drop-rate", type=float, default=0.0, help="noise: probability a byte is lost.")
@click.option("--seed", type=int, help="noise: random seed, for repeatable corruption.")
@click.option("--resets", type=int, default=5, show_default=True, help="brownout: how many resets.")
@click.option("--period", type=float, default=0.5, show_default=True, help="brownout: seconds between resets.")
@click.option("--role", default="vibration", show_default=True,
              help="unplugged/nack/stuck/wrong-id: which sensor (vibration or temperature).")
@click.option("--count", type=int, default=1, show_default=True, help="nack: how many transactions fail.")
@click.option("--ms", type=float, default=100.0, show_default=True, help="overrun: how long the firmware stalls.")
@click.option("--after", type=float, default=0.0, help="bearing/temp-ramp: simulated seconds until onset.")
@click.option("--c-per-min", type=float, default=2.0, show_default=True, help="temp-ramp: heating rate.")
@json_option
def fault_cmd(name: str, kind: str, seconds: float, bit_flip_rate: float, drop_rate: float, seed: int | None,
              resets: int, period: float, role: str, count: int, ms: float, after: float, c_per_min: float,
              as_json: bool) -> None:
    """Inject a fault into a running virtual node (line, power, or sensor level).

    \b
    noise           bit flips / dropped bytes on the serial line (rates 0 make it clean again)
    usb-disconnect  the port disappears for --seconds; the bus-powered node is off meanwhile
    power-loss      power cut now (even mid file write), back after --seconds
    brownout        --resets brown-out resets, --period seconds apart
    unplugged       the sensor is gone (I2C NACKs, SPI reads 0xFF, no 1-Wire presence)
    nack            the next --count I2C transactions to the sensor are NACKed
    stuck           the sensor holds SDA low: every transaction on its bus times out
    wrong-id        another part answers in the sensor's place (a different ID register)
    overrun         the firmware stalls for --ms: the sensor FIFO overflows
    bearing         the vibration switches to its bearing-fault signal after --after s
    temp-ramp       the machine heats at --c-per-min from --after s on
    clear           clear the sensor faults
    """
    params: dict[str, Any]
    if kind == "noise":
        if not (0 <= bit_flip_rate <= 1 and 0 <= drop_rate <= 1):
            raise UsageError("noise rates must be between 0 and 1")
        params = {"bit_flip_rate": bit_flip_rate, "drop_rate": drop_rate, "seed": seed}
        control.request(name, "noise", **params)
    elif kind == "usb-disconnect":
        params = {"seconds": seconds}
        control.request(name, "usb-disconnect", **params)
    elif kind == "power-loss":
        params = {"off_seconds": seconds}
        control.request(name, "power-loss", **params)
    elif kind == "brownout":
        params = {"resets": resets, "period": period}
        control.request(name, "brownout", **params)
    elif kind == "clear":
        params = {}
        control.request(name, "clear-sensor")
    else:
        sensor_params: dict[str, dict[str, Any]] = {
            "unplugged": {"role": role},
            "nack": {"role": role, "count": count},
            "stuck": {"role": role},
            "wrong-id": {"role": role},
            "overrun": {"ms": ms},
            "bearing": {"after_s": after},
            "temp-ramp": {"after_s": after, "c_per_min": c_per_min},
        }
        params = sensor_params[kind]
        control.request(name, "sensor", fault=kind.replace("-", "_"), **params)
    if as_json:
        emit_json({"node": name, "fault": kind, **params})
    else:
        click.echo(f"{kind} injected into {name}")


@sim.command("exec")
@click.argument("name")
@click.argument("code")
@click.option("--eval", "is_eval", is_flag=True, help="Evaluate an expression and print its repr().")
def exec_cmd(name: str, code: str, is_eval: bool) -> None:
    """Run code in a running node's interpreter, outside its REPL (simulated hardware: import simhw)."""
    value = control.request(name, "eval" if is_eval else "exec", code=code)
    if is_eval:
        click.echo(value)
