"""A virtual ESP32 node: reset circuit, ROM bootloader, boot check and MicroPython on one serial line.

``VirtualNode`` is what a ``sim://NAME`` port talks to. The chip's side of the serial line is
modelled, not the host's: DTR/RTS drive EN and IO0 through the usual two-transistor auto-reset
circuit; EN rising with IO0 low enters the ROM's download mode, otherwise the ROM checks the
image in flash and either prints a boot error or starts MicroPython (``bridge.mjs`` under node.js).
Bytes take 10 bit times each way at the current baud. Faults (line noise, USB disconnect, power
loss, brown-out loop) are injected here; sensor faults belong to the simulated hardware
(:meth:`VirtualNode.sensor_fault` runs ``simhw.fault`` in the node).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import random
import struct
import subprocess
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from fabnode.boards import Board
from fabnode.errors import FabnodeError, PortError, UsageError
from fabnode.mpwasm import node_executable, runtime_dir, tree_files
from fabnode.sim import chips, hardware, image, state
from fabnode.sim.control import ControlServer
from fabnode.sim.flash import NorFlash
from fabnode.sim.rom import RomBootloader
from fabnode.sim.wire import Wire

BRIDGE = Path(__file__).with_name("bridge.mjs")
NODE_SIDE_LIB = Path(__file__).with_name("mp")  # vnode.py, placed at /.sim
CONSOLE_BAUD = 115200
RX_BUFFER_LIMIT = 64 * 1024  # console bytes that may wait for a node busy running code
EN_RC_DELAY = 0.01  # seconds EN needs to rise after reset is released (RC on the devkit's EN pin)
FS_BLOCK_SIZE = 4096
LITTLEFS_MARK = b"\x00\x00\x00\x00\xf0\x0f\xff\xf7littlefs"
BROWNOUT_MESSAGE = "\r\nBrownout detector was triggered\r\n\r\n"
# The ROM's reset line per reset cause (the cause names simhw.CAUSES uses): (ESP32, ESP32-S3/C3)
RESET_LINES = {
    "power_on": ("rst:0x1 (POWERON_RESET)", "rst:0x1 (POWERON)"),
    "hard": ("rst:0xc (SW_CPU_RESET)", "rst:0x3 (RTC_SW_SYS_RST)"),
    "soft": ("rst:0xc (SW_CPU_RESET)", "rst:0x3 (RTC_SW_SYS_RST)"),  # machine.reset(): esp_restart
    "wdt": ("rst:0x7 (TG0WDT_SYS_RESET)", "rst:0x7 (TG0WDT_SYS_RST)"),
    "deepsleep": ("rst:0x5 (DEEPSLEEP_RESET)", "rst:0x5 (DSLEEP)"),
    "brownout": ("rst:0xf (RTCWDT_BROWN_OUT_RESET)", "rst:0xf (BROWN_OUT_RST)"),
}


# Nodes a program left open are powered off before the interpreter shuts down: closing them from
# pyserial's finalizer, after the bridge's reader threads are frozen, would deadlock on their pipes.
_OPEN_NODES: weakref.WeakSet[VirtualNode] = weakref.WeakSet()


@atexit.register
def _power_off_open_nodes() -> None:
    for node in list(_OPEN_NODES):
        node.close()


class Mode(Enum):
    OFF = "off"
    DOWNLOAD = "download"  # ROM serial bootloader
    HALTED = "halted"  # ROM printed a boot error and waits
    MICROPYTHON = "micropython"


class NodeRuntimeError(FabnodeError):
    """The node's MicroPython runtime failed or did not answer."""


@dataclass
class LineNoise:
    """Independent per-byte faults on the serial cable, in the directions chosen."""

    bit_flip_rate: float = 0.0
    drop_rate: float = 0.0
    rng: random.Random | None = None
    to_host: bool = True  # node -> host (the host's RX line)
    to_node: bool = True  # host -> node

    @property
    def active(self) -> bool:
        return self.bit_flip_rate > 0 or self.drop_rate > 0

    def apply(self, data: bytes) -> bytes:
        rng = self.rng or random
        out = bytearray()
        for byte in data:
            if rng.random() < self.drop_rate:
                continue
            if rng.random() < self.bit_flip_rate:
                byte ^= 1 << rng.randrange(8)
            out.append(byte)
        return bytes(out)


class _Bridge:
    """One power-on of MicroPython: the node.js process and the frames it exchanges with us."""

    def __init__(self, node: VirtualNode, reset_reason: str) -> None:
        self.node = node
        self.proc = subprocess.Popen(
            [node_executable(), str(BRIDGE), str(runtime_dir())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.ready = threading.Event()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._replies: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._next_id = 0
        self._id_lock = threading.Lock()
        # Frames go out through a queue, so no caller ever blocks on a node busy running code; console
        # bytes beyond RX_BUFFER_LIMIT waiting there are dropped, as a UART's overflowing RX buffer would.
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._queued_console = 0
        self._killed = False
        threading.Thread(target=self._read_frames, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        threading.Thread(target=self._write_frames, daemon=True).start()
        st = node.state
        files = tree_files(NODE_SIDE_LIB, "/.sim")
        files.update(tree_files(st.sim_data_dir, "/.sim/data"))
        if node.hardware:
            files.update(hardware.hw_files())
            files[hardware.CONFIG_PATH] = hardware.config_bytes(node.hardware_config(reset_reason))
        for path, data in files.items():
            self.put_file(path, data)
        self.send("C", json.dumps({
            "fsDir": str(st.fs_dir), "tmpDir": str(st.tmp_dir),
            "fsBlocks": st.board.fs_size // FS_BLOCK_SIZE, "speed": st.settings.speed,
            "epochNs": str(time.time_ns()), "tickIntervalMs": node.tick_interval_ms,
        }).encode())

    def send(self, kind: str, payload: bytes) -> None:
        if self._killed:
            return
        if kind == "S":
            with self._id_lock:
                if self._queued_console + len(payload) > RX_BUFFER_LIMIT:
                    return
                self._queued_console += len(payload)
        self._outbox.put(kind.encode() + struct.pack("<I", len(payload)) + payload)

    def _write_frames(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while (frame := self._outbox.get()) is not None:
            try:
                stdin.write(frame)
                stdin.flush()
            except (OSError, ValueError):
                return  # the process died; the reader thread reports it
            if frame[:1] == b"S":
                with self._id_lock:
                    self._queued_console -= len(frame) - 5

    def put_file(self, path: str, data: bytes) -> None:
        self.send("F", path.encode() + b"\0" + data)

    def run(self, code: str, is_eval: bool, timeout: float) -> str | None:
        with self._id_lock:
            self._next_id += 1
            request_id = self._next_id
        done = threading.Event()
        slot: list[dict[str, Any]] = []
        self._replies[request_id] = (done, slot)
        self.send("X", json.dumps({"id": request_id, "code": code, "eval": is_eval}).encode())
        if not done.wait(timeout):
            self._replies.pop(request_id, None)
            raise NodeRuntimeError(f"the virtual node's MicroPython did not answer within {timeout:g} s",
                                   hint="it may be running code that never returns; reset the node")
        reply = slot[0]
        if not reply["ok"]:
            raise NodeRuntimeError(f"simulation code failed in the node: {reply['error'].strip()}")
        value = reply.get("value")
        return None if value is None else str(value)

    def kill(self) -> None:
        """Power cut: the process dies wherever it is."""
        self._killed = True
        self._outbox.put(None)
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # stdin's unflushed bytes have no reader any more
                    pipe.close()

    def _read_exact(self, size: int) -> bytes | None:
        stdout = self.proc.stdout
        assert stdout is not None
        data = b""
        while len(data) < size:
            try:
                chunk = stdout.read(size - len(data))
            except (OSError, ValueError):
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _read_frames(self) -> None:
        while True:
            header = self._read_exact(5)
            payload = self._read_exact(struct.unpack("<I", header[1:])[0]) if header else None
            if header is None or payload is None:
                break
            kind = chr(header[0])
            if kind == "S":
                self.node._from_chip(payload)
            elif kind == "R":
                reply = json.loads(payload)
                waiter = self._replies.pop(reply["id"], None)
                if waiter is not None:
                    waiter[1].append(reply)
                    waiter[0].set()
            elif kind == "E":
                event = json.loads(payload)
                if event["event"] == "ready":
                    self.ready.set()
                elif event["event"] == "reset":
                    threading.Thread(target=self.node._chip_reset, args=(self, event.get("cause", "soft")),
                                     daemon=True).start()
        if not self._killed:
            self.node._bridge_died(self)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                self.stderr_tail.append(line.decode(errors="replace").rstrip())
        except (OSError, ValueError):
            pass


class VirtualNode:
    """The chip side of one virtual node's serial port. Use as a context manager, or open()/close()."""

    def __init__(self, node_state: state.NodeState, tick_interval_ms: float = 2.0, hardware: bool = True) -> None:
        """``hardware=False`` leaves out the simulated sensors and ``machine`` (tests of the runtime alone)."""
        self.state = node_state
        self.hardware = hardware
        self.board = node_state.board
        self.chip = chips.get_chip(self.board.chip)
        self.tick_interval_ms = tick_interval_ms
        self.mode = Mode.OFF
        self.boot_reason: str | None = None
        self.sensor_faults: list[dict[str, Any]] = []
        self.noise = LineNoise()
        self.flash: NorFlash | None = None
        self.rx = Wire(CONSOLE_BAUD)  # chip -> host
        self._tx_busy_until = 0.0
        self._lock = threading.RLock()
        self._lock_file = state.NodeLock(node_state)
        self._bridge: _Bridge | None = None
        self._rom: RomBootloader | None = None
        self._dtr = False
        self._rts = False
        self._line_changes = 0
        self._faults: list[threading.Timer] = []
        self._closed = True
        self._control: ControlServer | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Take the node (busy for everyone else) and power it on."""
        self._lock_file.acquire()
        _OPEN_NODES.add(self)
        try:
            self.flash = NorFlash(self.state.flash_path, self.board.flash_size)
            self._control = ControlServer(self)
            self._closed = False
            self.power_on("power_on")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        _OPEN_NODES.discard(self)
        with self._lock:
            self._closed = True
            for timer in self._faults:
                timer.cancel()
            self._power_off()
            if self.flash is not None:
                self.flash.close()
                self.flash = None
            if self._control is not None:
                self._control.close()
                self._control = None
            self.rx.close()
            self._lock_file.release()

    def __enter__(self) -> VirtualNode:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- power and reset -----------------------------------------------------------------------

    def power_on(self, reason: str = "power_on", download: bool = False) -> None:
        """Release reset: the ROM starts, then download mode or a boot from flash."""
        with self._lock:
            self._power_off()
            if self._closed:
                return
            self.boot_reason = reason
            banner = self.chip.rom_banner
            esp32_line, new_line = RESET_LINES[reason]
            poweron_esp32, poweron_new = RESET_LINES["power_on"]
            banner = banner.replace(poweron_esp32, esp32_line).replace(poweron_new, new_line)
            if download:
                self._emit((banner + self.chip.download_boot).encode())
                self._start_rom()
                return
            assert self.flash is not None
            formatted = self._filesystem_formatted()
            result = image.check_boot(self.flash.read, self.board.flash_size, self.chip.name, self.board.app_offset)
            self._emit((banner + self.chip.flash_boot + result.console).encode())
            if not result.boots_micropython:
                self.mode = Mode.HALTED
                return
            if not formatted:
                self._format_filesystem()
            self.mode = Mode.MICROPYTHON
            self._bridge = _Bridge(self, reason)

    def _power_off(self) -> None:
        if self._bridge is not None:
            self._bridge.kill()
            self._bridge = None
        self._rom = None
        self.mode = Mode.OFF

    def hard_reset(self, download: bool = False) -> None:
        """Pulse EN (the reset button, or esptool's reset), optionally holding IO0 low (BOOT button)."""
        self.power_on("power_on", download=download)

    def power_loss(self, off_seconds: float = 0.0) -> None:
        """Cut power now, wherever the node is (mid file write included); restore after ``off_seconds``."""
        with self._lock:
            self._power_off()
        self._after(off_seconds, lambda: self.power_on("power_on"))

    def brownout_loop(self, resets: int = 5, period: float = 0.5) -> None:
        """The supply sags under load: the node brown-out resets ``resets`` times, ``period`` s apart."""
        for index in range(resets):
            self._after(period * (index + 1), self._brownout)

    def _brownout(self) -> None:
        with self._lock:
            self._power_off()
            self._emit(BROWNOUT_MESSAGE.encode())
            self.power_on("brownout")

    def _chip_reset(self, bridge: _Bridge, cause: str) -> None:
        # machine.reset(), a watchdog: the firmware asked the chip to reset itself.
        with self._lock:
            if bridge is self._bridge:
                self.power_on(cause if cause in RESET_LINES else "soft")

    def _bridge_died(self, bridge: _Bridge) -> None:
        with self._lock:
            if bridge is not self._bridge:
                return
            self._bridge = None
            self.mode = Mode.HALTED
            # node prints the offending source line of a minified module first: keep the short lines
            detail = " / ".join(line for line in bridge.stderr_tail if len(line) < 300) or "no message"
        self._emit(f"\r\n[virtual node: MicroPython runtime stopped: {detail}]\r\n".encode())

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._faults.append(timer)
        timer.start()

    # ---- the auto-reset circuit ----------------------------------------------------------------

    def set_lines(self, dtr: bool, rts: bool) -> None:
        """Host's DTR/RTS (pyserial's sense: True = asserted). EN is low while RTS alone is asserted.

        EN has an RC delay (about 10 ms on devkits): the chip leaves reset, and samples IO0 (low while
        DTR alone is asserted), only once EN stayed high that long, so the brief DTR=RTS states in
        esptool's reset sequence do not count.
        """
        with self._lock:
            was_in_reset = self._rts and not self._dtr
            self._dtr, self._rts = dtr, rts
            in_reset = rts and not dtr
            self._line_changes += 1
            if in_reset and not was_in_reset:
                self._power_off()
            elif was_in_reset and not in_reset:
                change = self._line_changes
                self._after(EN_RC_DELAY, lambda: self._leave_reset(change))

    def _leave_reset(self, change: int) -> None:
        with self._lock:
            if self._rts and not self._dtr:
                return  # back in reset before EN rose
            if change != self._line_changes and self.mode is not Mode.OFF:
                return  # a later release already booted the chip
            self.power_on("power_on", download=self._dtr and not self._rts)  # EN pin: reads as power-on

    # ---- the serial line -----------------------------------------------------------------------

    @property
    def baudrate(self) -> int:
        return self.rx.baud

    @baudrate.setter
    def baudrate(self, baud: int) -> None:
        self.rx.baud = baud

    def port_present(self) -> bool:
        return not self.rx.closed and state.unplugged_for(self.state) == 0

    def write(self, data: bytes) -> None:
        """Bytes from the host: they reach the chip after their transmission time."""
        spb = self.rx.byte_time()
        start = max(time.monotonic(), self._tx_busy_until)
        self._tx_busy_until = start + spb * len(data)
        delay = self._tx_busy_until - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if self.noise.active and self.noise.to_node:
            data = self.noise.apply(data)
        self._to_chip(data)

    def _to_chip(self, data: bytes) -> None:
        with self._lock:
            if self.mode is Mode.MICROPYTHON and self._bridge is not None:
                self._bridge.send("S", data)
            elif self.mode is Mode.DOWNLOAD and self._rom is not None:
                self._rom.feed(data)

    def _from_chip(self, data: bytes) -> None:
        self._emit(data)

    def _emit(self, data: bytes) -> None:
        if self.noise.active and self.noise.to_host:
            data = self.noise.apply(data)
        self.rx.push(data)

    # ---- ROM download mode -----------------------------------------------------------------------

    def rom_output(self, data: bytes) -> None:
        self._emit(data)

    def rom_run_user_code(self) -> None:
        self.power_on("soft")

    def _start_rom(self) -> None:
        assert self.flash is not None
        self._rom = RomBootloader(self.chip, self.flash, chips.mac_for(self.state.name), self)
        self.mode = Mode.DOWNLOAD

    def _filesystem_formatted(self) -> bool:
        """Whether the FS partition (the end of flash) holds a filesystem; erased (erase-flash, a new
        node) means the files are gone, as on a real board."""
        assert self.flash is not None
        fs_offset = self.board.flash_size - self.board.fs_size
        if self.flash.read(fs_offset, len(LITTLEFS_MARK)) == LITTLEFS_MARK:
            return True
        state.wipe_filesystem(self.state)
        return False

    def _format_filesystem(self) -> None:
        # What MicroPython does at first boot on a blank partition: make an empty filesystem.
        assert self.flash is not None
        _format(self.flash, self.board)

    # ---- the simulation side ---------------------------------------------------------------------

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until MicroPython has booted (boot.py and main.py have run)."""
        bridge = self._require_bridge()
        if not bridge.ready.wait(timeout):
            raise NodeRuntimeError(f"the virtual node did not finish booting within {timeout:g} s")

    def sim_exec(self, code: str, timeout: float = 30.0) -> None:
        """Run ``code`` in the node's interpreter outside the REPL (configure sensors, faults)."""
        self._require_bridge().run(code, False, timeout)

    def sim_eval(self, expression: str, timeout: float = 30.0) -> str:
        """``repr()`` of ``expression`` evaluated in the node's simulation namespace."""
        return self._require_bridge().run(expression, True, timeout) or ""

    def put_sim_data(self, name: str, data: bytes) -> str:
        """Make ``data`` available to the simulated hardware at ``/.sim/data/NAME`` (now and at every power-on)."""
        state.put_sim_data(self.state, name, data)
        path = f"/.sim/data/{name}"
        if self._bridge is not None:
            self._bridge.put_file(path, data)
        return path

    def sensor_fault(self, name: str, **params: Any) -> None:
        """A fault of the simulated hardware (``simhw.fault``: unplugged, nack, overrun, bearing, temp_ramp).

        It also applies after later power-ons of this node object, as a broken sensor stays broken.
        """
        self.sim_exec(f"import simhw\nsimhw.fault({name!r}, **{params!r})")
        self.sensor_faults.append({"name": name, **params})

    def clear_sensor_faults(self) -> None:
        self.sim_exec("import simhw\nsimhw.clear()")
        self.sensor_faults.clear()

    def hardware_config(self, reset_cause: str) -> dict[str, Any]:
        """``/.sim/hw.json``: how the simulated hardware is wired and what state it starts in."""
        has_signal = (self.state.sim_data_dir / Path(hardware.SIGNAL_PATH).name).is_file()
        return hardware.hw_config(self.board, hardware.SIGNAL_PATH if has_signal else None, reset_cause,
                                  unique_id=chips.mac_for(self.state.name), faults=self.sensor_faults)

    def set_signal(self, source: hardware.SignalSource) -> None:
        """Render what the vibration sensor measures from the next power-on on (synthetic or recordings)."""
        set_signal(self.state, source)

    def _require_bridge(self) -> _Bridge:
        bridge = self._bridge
        if bridge is None:
            raise NodeRuntimeError(
                f"virtual node '{self.state.name}' is not running MicroPython (mode: {self.mode.value})")
        return bridge

    # ---- line faults -------------------------------------------------------------------------------

    def set_line_noise(self, bit_flip_rate: float = 0.0, drop_rate: float = 0.0, seed: int | None = None,
                       to_host: bool = True, to_node: bool = True) -> None:
        """Corrupt bytes on the cable from now on (by default both ways); zero rates make it clean again."""
        self.noise = LineNoise(bit_flip_rate, drop_rate, random.Random(seed), to_host, to_node)

    def usb_disconnect(self, seconds: float) -> None:
        """Yank the USB cable for ``seconds``: the port fails like a removed USB serial device and the
        bus-powered node is off. Open ports stay dead; a port opened after ``seconds`` finds the node again."""
        with self._lock:
            state.unplug(self.state, seconds)
            self._power_off()
            self.rx.close()

    def replug(self) -> None:
        """The cable is back (after a :meth:`usb_disconnect`): a fresh line and a power-on boot."""
        with self._lock:
            self.rx = Wire(self.rx.baud)
            self.power_on("power_on")


def flash_standin_firmware(node_state: state.NodeState) -> None:
    """Program the stand-in MicroPython image at the board's app offset (``fabnode.sim.image``)."""
    board = node_state.board
    firmware = image.make_standin_image(board.chip)
    with NorFlash(node_state.flash_path, board.flash_size) as flash:
        flash.erase(board.app_offset, -(-len(firmware) // FS_BLOCK_SIZE) * FS_BLOCK_SIZE)
        flash.program(board.app_offset, firmware)


def _format(flash: NorFlash, board: Board) -> None:
    fs_offset = board.flash_size - board.fs_size
    flash.erase(fs_offset, FS_BLOCK_SIZE)
    flash.program(fs_offset, LITTLEFS_MARK)


def write_files(node_state: state.NodeState, files: dict[str, bytes]) -> None:
    """Put ``files`` (node path -> contents) into a node's filesystem from the host, while it is off.

    Like copying them onto a board's flash with a programmer: the filesystem is formatted first if
    the partition is erased. Raises PortError while the node is open somewhere.
    """
    with state.NodeLock(node_state), NorFlash(node_state.flash_path, node_state.board.flash_size) as flash:
        board = node_state.board
        if flash.read(board.flash_size - board.fs_size, len(LITTLEFS_MARK)) != LITTLEFS_MARK:
            state.wipe_filesystem(node_state)
            _format(flash, board)
        for node_path, data in files.items():
            target = node_state.fs_dir / node_path.lstrip("/")
            if not target.resolve().is_relative_to(node_state.fs_dir.resolve()):
                raise UsageError(f"{node_path} is outside the node's filesystem")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = node_state.tmp_dir / "host-write"
            tmp.write_bytes(data)
            os.replace(tmp, target)


def set_signal(node_state: state.NodeState, source: hardware.SignalSource) -> None:
    """Render what a node's vibration sensor measures from its next power-on on."""
    node_state.sim_data_dir.mkdir(exist_ok=True)
    target = node_state.sim_data_dir / Path(hardware.SIGNAL_PATH).name
    hardware.render_signal(target, hardware.vibration_rate_hz(node_state.board), source)


def create_node(name: str, board: str = state.DEFAULT_BOARD, speed: int = 1, blank: bool = False) -> state.NodeState:
    """A new node: with the stand-in MicroPython in flash, or ``blank`` (erased, to flash yourself).

    It sits on a running, healthy machine (a real recording, looped: hardware.demo_source), so
    the shipped model is quiet until ``fabnode sim fault NAME bearing`` brings the bearing fault.
    """
    node_state = state.create(name, board, speed)
    set_signal(node_state, hardware.demo_source(None))
    if not blank:
        flash_standin_firmware(node_state)
    return node_state


def open_node(name: str, board: str | None = None, speed: int | None = None, hardware: bool = True) -> VirtualNode:
    """Open the virtual node ``name`` (created with stand-in MicroPython when new).

    PortError while it is unplugged or busy.
    """
    if not state.exists(name):
        create_node(name, board or state.DEFAULT_BOARD, speed or 1)
    node_state = state.open_or_create(name, board, speed)
    missing_for = state.unplugged_for(node_state)
    if missing_for > 0:
        raise PortError(f"virtual node '{name}' is disconnected (USB unplugged for another {missing_for:.1f} s)")
    node = VirtualNode(node_state, hardware=hardware)
    node.open()
    return node
