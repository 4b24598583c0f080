"""Reach a virtual node that another process has open: reset it, inject faults, run simulation code.

The process that opens a node (``fabnode sim serve``, or any tool using ``sim://NAME``) listens on
a loopback TCP port and writes it with a random token to ``NAME/control.json`` (mode 0600).
``fabnode sim reset/fault/exec`` send one JSON line ``{"token", "op", ...}`` and read one JSON line
back: ``{"ok": true, "value": ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fabnode.errors import FabnodeError
from fabnode.sim import state

if TYPE_CHECKING:
    from fabnode.sim.node import VirtualNode

CONTROL_FILE = "control.json"


def _operations(node: VirtualNode) -> dict[str, Callable[..., Any]]:
    return {
        "status": lambda: {"mode": node.mode.value, "boot_reason": node.boot_reason},
        "reset": lambda download=False: node.hard_reset(download=bool(download)),
        "power-loss": lambda off_seconds=0.0: node.power_loss(float(off_seconds)),
        "brownout": lambda resets=5, period=0.5: node.brownout_loop(int(resets), float(period)),
        "noise": lambda bit_flip_rate=0.0, drop_rate=0.0, seed=None, to_host=True, to_node=True: node.set_line_noise(
            float(bit_flip_rate), float(drop_rate), seed, bool(to_host), bool(to_node)),
        "usb-disconnect": lambda seconds: node.usb_disconnect(float(seconds)),
        "sensor": lambda fault, **params: node.sensor_fault(fault, **params),
        "clear-sensor": node.clear_sensor_faults,
        "exec": lambda code: node.sim_exec(code),
        "eval": lambda code: node.sim_eval(code),
        "put-data": lambda name, data: node.put_sim_data(name, base64.b64decode(data)),
    }


class ControlServer:
    """Serves control requests for ``node`` until :meth:`close`."""

    def __init__(self, node: VirtualNode) -> None:
        self.node = node
        self.token = secrets.token_hex(16)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._path = node.state.path / CONTROL_FILE
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"port": self._sock.getsockname()[1], "token": self.token, "pid": os.getpid()}, out)
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._path.unlink(missing_ok=True)
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            try:
                request = json.loads(stream.readline())
                if request.pop("token", None) != self.token:
                    raise FabnodeError("bad control token")
                operation = _operations(self.node)[request.pop("op")]
                answer = {"ok": True, "value": operation(**request)}
            except Exception as exc:  # every failure goes back to the requester as its answer
                answer = {"ok": False, "error": str(exc) or type(exc).__name__}
            with contextlib.suppress(OSError):  # the requester gave up waiting
                stream.write(json.dumps(answer).encode() + b"\n")
                stream.flush()


def request(node_name: str, op: str, timeout: float = 60.0, **params: Any) -> Any:
    """Ask the process that has node ``node_name`` open to do ``op``; its answer value."""
    name = node_name
    node_state = state.load(name)
    try:
        info = json.loads((node_state.path / CONTROL_FILE).read_text())
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=timeout) as conn, \
                conn.makefile("rwb") as stream:
            stream.write(json.dumps({"token": info["token"], "op": op, **params}).encode() + b"\n")
            stream.flush()
            line = stream.readline()
    except (OSError, ValueError, KeyError):
        raise FabnodeError(f"virtual node '{name}' is not running",
                           hint=f"start it with 'fabnode sim serve {name}' (or open sim://{name})") from None
    if not line:
        raise FabnodeError(f"virtual node '{name}' closed the control connection without an answer")
    answer = json.loads(line)
    if not answer["ok"]:
        raise FabnodeError(f"virtual node '{name}': {answer['error']}")
    return answer.get("value")
