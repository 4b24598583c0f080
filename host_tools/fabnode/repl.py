"""A raw-REPL session with a node, on mpremote's SerialTransport.

Everything host tools do to a node's files goes through here: run code, read results back as
Python literals, and write files safely (compressed where the node has ``deflate``, staged in a
``.part`` file, checked by SHA-256 on the node, then renamed into place, so an interrupted
transfer never leaves a half-written file where the node would load it).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import hashlib
import io
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from fabnode.errors import FabnodeError, PortError
from fabnode.ports import open_error, prepare_url
from fabnode.telemetry import Decoder, Record, Text, Traceback

# Raw deflate with a 1 KiB window: the node decompresses in a few KiB of RAM.
DEFLATE_WBITS = 10
CHUNK_BYTES = 2048
REPL_TIMEOUT_S = 10.0
# What write_file stages a file as before the rename; an interrupted transfer leaves them behind.
STAGED_SUFFIXES = (".part", ".part.z")


class NodeError(FabnodeError):
    """Code run on the node failed; the message carries the node's traceback's last line."""

    def __init__(self, message: str, traceback: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.traceback = traceback


@dataclass(frozen=True)
class NodeInfo:
    micropython: str
    mpy_version: int
    mpy_sub_version: int
    mpy_arch: int
    platform: str
    machine: str
    has_deflate: bool
    mem_free: int
    sim_chip: str | None = None  # a virtual node's chip (its machine string names the WebAssembly host)

    @property
    def mpy_format(self) -> str:
        return f"{self.mpy_version}.{self.mpy_sub_version}"

    @property
    def chip(self) -> str | None:
        """``esp32``, ``esp32s3``, ... from the port's machine string ("... with ESP32S3"), None if it names none."""
        if self.sim_chip:
            return self.sim_chip
        named = re.search(r"\bwith (ESP32\w*)", self.machine)
        return named.group(1).lower() if named else None


_INFO_CODE = """\
import sys, gc
try:
    import deflate
    _d = True
except ImportError:
    _d = False
gc.collect()
_m = getattr(sys.implementation, '_mpy', 0)
try:
    import simhw
    _c = simhw.world().board.get('chip')
except ImportError:
    _c = None
print(repr((sys.implementation.version, _m, sys.platform, sys.implementation._machine, _d, gc.mem_free(), _c)))
"""

# Defines helpers on the node once per session: walk the filesystem hashing files, and stream
# a compressed staged file into place.
_HELPERS_CODE = """\
import os, hashlib, binascii
def _fn_sha(p, b=bytearray(512)):
    h = hashlib.sha256()
    mv = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(mv[:n])
    return binascii.hexlify(h.digest()).decode()
def _fn_walk(d, out):
    for e in os.ilistdir(d):
        p = (d if d != '/' else '') + '/' + e[0]
        if e[1] & 0x4000:
            _fn_walk(p, out)
        else:
            out[p] = _fn_sha(p)
    return out
def _fn_mkdirs(p):
    q = ''
    for part in p.split('/')[1:-1]:
        q += '/' + part
        try:
            os.mkdir(q)
        except OSError:
            pass
def _fn_inflate(src, dst, wbits, b=bytearray(512)):
    import deflate
    with open(src, 'rb') as f, open(dst, 'wb') as g:
        d = deflate.DeflateIO(f, deflate.RAW, wbits)
        while True:
            n = d.readinto(b)
            if not n:
                break
            g.write(memoryview(b)[:n])
    os.remove(src)
def _fn_commit(part, path, sha):
    got = _fn_sha(part)
    if got != sha:
        os.remove(part)
        raise OSError('sha256 mismatch for %s: node has %s' % (path, got))
    try:
        os.remove(path)
    except OSError:
        pass
    os.rename(part, path)
"""


def _open_error(port: str, baud: int, exc: TransportError) -> PortError:
    """mpremote says only "failed to access PORT": open it once more with pyserial to learn why."""
    try:
        serial.serial_for_url(prepare_url(port), baud, exclusive=True).close()
    except (serial.SerialException, OSError, ValueError) as reason:
        return open_error(port, reason)
    return open_error(port, exc)  # free again by now


class NodeRepl:
    """Raw-REPL access to one node. Use as a context manager; the port is released on exit."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self.port = port
        try:
            self.transport = SerialTransport(prepare_url(port), baudrate=baud)
        except TransportError as exc:
            raise _open_error(port, baud, exc) from None
        self._info: NodeInfo | None = None
        try:
            self.interrupt()
        except NodeError:
            self.transport.close()
            raise

    def interrupt(self) -> None:
        """Stop whatever runs on the node (Ctrl-C) and take its raw REPL."""
        self._helpers = False
        seen = io.StringIO()  # mpremote prints what the node sent when this fails: keep it for the error
        try:
            with contextlib.redirect_stdout(seen):
                self.transport.enter_raw_repl(soft_reset=False)
        except (TransportError, OSError) as exc:
            sent = seen.getvalue().strip()
            raise NodeError(f"{self.port}: no MicroPython REPL answered ({exc})"
                            + (f"; the node sent {sent[-200:]}" if sent else ""),
                            hint="is MicroPython flashed? try `fabnode flash`") from None

    def __enter__(self) -> NodeRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.transport.in_raw_repl:
                with contextlib.suppress(OSError):  # the node may be gone: the port is released anyway
                    self.transport.exit_raw_repl()
        finally:
            self.transport.close()

    def exec(self, code: str, timeout: float = REPL_TIMEOUT_S) -> str:
        """Run ``code`` on the node; return what it printed, or raise NodeError with its traceback."""
        try:
            out, err = self.transport.exec_raw(code, timeout=timeout)
        except TransportError as exc:
            raise NodeError(f"{self.port}: lost the raw REPL ({exc})") from None
        if err:
            text = err.decode("utf-8", "replace").strip()
            raise NodeError(f"{self.port}: {text.splitlines()[-1] if text else 'error'}", text)
        return bytes(out).decode("utf-8", "replace")

    def eval(self, expression: str, timeout: float = REPL_TIMEOUT_S) -> Any:
        """Evaluate ``expression`` on the node and return it as a Python literal."""
        return self.exec_literal(f"print(repr({expression}))", timeout)

    def exec_literal(self, code: str, timeout: float = REPL_TIMEOUT_S) -> Any:
        """Run ``code``, which prints one ``repr``, and return that value as a Python literal."""
        text = self.exec(code, timeout).strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise NodeError(f"{self.port}: unexpected reply {text[:80]!r}") from None

    def info(self) -> NodeInfo:
        if self._info is None:
            version, mpy, platform, machine, has_deflate, mem_free, sim_chip = self.exec_literal(_INFO_CODE)
            self._info = NodeInfo(
                micropython=".".join(str(v) for v in version[:3]),
                mpy_version=mpy & 0xFF,
                mpy_sub_version=(mpy >> 8) & 3,
                mpy_arch=mpy >> 10,
                platform=platform,
                machine=machine,
                has_deflate=has_deflate,
                mem_free=mem_free,
                sim_chip=sim_chip,
            )
        return self._info

    def _ensure_helpers(self) -> None:
        if not self._helpers:
            self.exec(_HELPERS_CODE)
            self._helpers = True

    def file_hashes(self, root: str = "/") -> dict[str, str]:
        """SHA-256 of every file under ``root`` on the node."""
        self._ensure_helpers()
        hashes: dict[str, str] = self.eval(f"_fn_walk({root!r}, {{}})", timeout=60)
        return hashes

    def write_file(self, path: str, data: bytes, progress: Callable[[int], None] | None = None) -> int:
        """Write ``data`` to ``path`` on the node atomically; return the bytes sent on the wire.

        Directories are created as needed. The node checks the SHA-256 before the rename.
        """
        self._ensure_helpers()
        compress = self.info().has_deflate
        payload = data
        staged = path + ".part"
        if compress:
            packer = zlib.compressobj(9, zlib.DEFLATED, -DEFLATE_WBITS)
            payload = packer.compress(data) + packer.flush()
            staged = path + ".part.z"
        wire = 0
        code = f"_fn_mkdirs({path!r})\n_f = open({staged!r}, 'wb')\n_w = _f.write"
        self.exec(code)
        wire += len(code)
        for start in range(0, len(payload), CHUNK_BYTES):
            chunk = base64.b64encode(payload[start:start + CHUNK_BYTES]).decode()
            code = f"_w(binascii.a2b_base64(b'{chunk}'))"
            self.exec(code)
            wire += len(code)
            if progress:
                progress(min(len(data), (start + CHUNK_BYTES) * len(data) // max(1, len(payload))))
        sha = hashlib.sha256(data).hexdigest()
        code = "_f.close()\n"
        if compress:
            code += f"_fn_inflate({staged!r}, {path + '.part'!r}, {DEFLATE_WBITS})\n"
        code += f"_fn_commit({path + '.part'!r}, {path!r}, {sha!r})"
        self.exec(code, timeout=30)
        return wire + len(code)

    def remove(self, path: str) -> None:
        self.exec(f"import os\nos.remove({path!r})")

    def restart_app(self, timeout: float = 20.0) -> Record:
        """Soft-reset the node so boot.py and main.py run, and return the app's ``hello`` record.

        The session leaves the raw REPL for good: the app owns the console afterwards.
        """
        serial = self.transport.serial
        self.transport.exit_raw_repl()
        serial.write(b"\x04")
        self.transport.in_raw_repl = False
        decoder = Decoder()
        seen: list[str] = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for event in decoder.feed(serial.read(serial.in_waiting or 1)):
                if isinstance(event, Record) and event.type == "hello":
                    return event
                if isinstance(event, Traceback):
                    raise NodeError(f"{self.port}: the app failed to start: {event.exception}", "\n".join(event.lines))
                if isinstance(event, Text):
                    seen.append(event.text)
        last = seen[-1] if seen else "nothing"
        raise NodeError(f"{self.port}: the app sent no hello within {timeout:g} s (last output: {last!r})",
                        hint="see what the node prints with `fabnode monitor`")
