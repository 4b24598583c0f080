"""Flash MicroPython onto a node with esptool's Python API, and bring it back up.

``flash_firmware`` is steps 1-4 of ``fabnode flash``: the image is checked before the device is
touched, written with the stub (compressed, MD5-verified, skipped when the flash already holds
it), and the chip is hard-reset into the new firmware. Every esptool failure people meet on the
shop floor becomes one sentence and the next step to take.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import serial
from esp_pylib.logger import EspLog
from esptool import cmds
from esptool.logger import TemplateLogger, log
from esptool.reset import ResetStrategy
from esptool.util import FatalError, PrintOnce

from fabnode.boards import Board, get_board
from fabnode.errors import FabnodeError, PortError, UsageError
from fabnode.perport import PortOutcome, in_processes
from fabnode.ports import PortInfo, list_serial_ports, open_error, prepare_url
from fabnode.sim.chips import CHIPS
from fabnode.sim.image import AppImage, ImageError, inspect_firmware, make_standin_image

ROM_BAUD = 115200
BEFORE_MODES = ("default-reset", "usb-reset", "no-reset")
CONNECT_ATTEMPTS = 3
REPL_TIMEOUT = 10.0
REENUMERATION_TIMEOUT = 10.0
DOWNLOAD_MODE_HINT = (
    "put the board in download mode by hand: hold BOOT, tap EN/RESET, release BOOT, "
    "then run the same command with --before no-reset"
)
# esptool messages that mean bytes were lost or mangled on the wire (worth a retry at a slower baud)
TRANSFER_ERRORS = (
    "Timed out",
    "No serial data received",
    "No more data to read",
    "Packet content transfer stopped",
    "Serial data stream stopped",
    "Invalid head of packet",
    "Invalid SLIP escape",
    "Corrupt data",
    "Bad data checksum",
    "Checksum error",
)

ProgressCallback = Callable[[str, int, int], None]  # (task, done, total)


@dataclass(frozen=True)
class Firmware:
    """An image checked for a board: what will be written, and what it is."""

    data: bytes
    source: str
    app: AppImage

    @property
    def version(self) -> str | None:
        return self.app.version if self.app.is_micropython else None


@dataclass(frozen=True)
class FlashResult:
    port: str
    board: str
    chip: str  # esptool's chip description, e.g. "ESP32-D0WD-V3 (revision v3.1)"
    mac: str
    flash_size: str | None
    firmware: str
    micropython_version: str | None
    image_size: int
    image_md5: str
    written: bool  # False when the flash already held this image
    erased: bool
    baud: int  # the rate the image went over at
    repl_banner: str | None  # MicroPython's banner after the reset (None when not waited for)
    seconds: float
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


# -- step 1: the port ------------------------------------------------------------------------------


def matching_ports(board: Board, ports: list[PortInfo] | None = None) -> list[PortInfo]:
    """Serial ports whose USB VID:PID belongs to ``board``."""
    found = list_serial_ports() if ports is None else ports
    return [p for p in found if board.id in p.boards]


def choose_port(board: Board, port: str | None, ports: list[PortInfo] | None = None) -> str:
    """``port`` as given, or the one port whose USB id fits the board; none or several is an error."""
    if port:
        return port
    candidates = matching_ports(board, ports)
    if len(candidates) == 1:
        return candidates[0].device
    usb_ids = ", ".join(f"{u.vid:04X}:{u.pid:04X}" for u in board.usb)
    if not candidates:
        raise PortError(f"no serial port with a {board.id} USB id ({usb_ids}) is plugged in",
                        hint="check the cable (a charge-only cable has no data lines), or give -p PORT")
    listing = ", ".join(f"{p.device} ({p.serial_number or 'no serial number'})" for p in candidates)
    raise PortError(f"{len(candidates)} ports could be a {board.id}: {listing}",
                    hint="choose one with -p PORT, or flash them all with --all")


# -- step 2: the image -----------------------------------------------------------------------------


def check_firmware(data: bytes, board: Board, source: str) -> Firmware:
    """The image must be an app for the board's chip, flashable at the board's offset."""
    try:
        app = inspect_firmware(data, board.chip, board.app_offset)
    except ImageError as exc:
        raise FabnodeError(f"{source} cannot be flashed to {board.id}: {exc.reason}",
                           hint=f"use a MicroPython build for {CHIPS[board.chip].esptool_name} "
                                f"(it is written at {board.app_offset:#x})") from None
    if board.app_offset + len(data) > board.flash_size:
        raise FabnodeError(f"{source} ({len(data)} bytes) does not fit in the {board.id}'s flash at "
                           f"{board.app_offset:#x}")
    return Firmware(data, source, app)


def load_firmware(board: Board, path: Path | None, port: str) -> Firmware:
    """The image from ``path``; without one, a virtual node gets the stand-in MicroPython image."""
    if path is None:
        if not port.startswith("sim://"):
            raise UsageError("--firmware is required for a real board",
                             hint="download MicroPython for your board from micropython.org/download")
        return check_firmware(make_standin_image(board.chip), board, "stand-in MicroPython image")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return check_firmware(data, board, path.name)


# -- step 3: write ---------------------------------------------------------------------------------


class _EsptoolLog(TemplateLogger):  # type: ignore[misc]
    """Collects esptool's messages (for error context) and turns its progress bars into callbacks."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.lines: list[str] = []
        self.on_progress = on_progress
        self.task = "connect"

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = " ".join(str(a) for a in args).strip()
        if text:
            self.lines.append(text)

    def note(self, message: str) -> None:
        self.lines.append(f"Note: {message}")

    def warning(self, message: str) -> None:
        self.lines.append(f"Warning: {message}")

    def error(self, message: str) -> None:
        self.lines.append(f"Error: {message}")

    def stage(self, finish: bool = False) -> None:
        pass

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        if self.on_progress is not None:
            self.on_progress(self.task, cur_iter, total_iters)

    def set_verbosity(self, verbosity: str) -> None:
        pass


@contextmanager
def _esptool_logger(on_progress: ProgressCallback | None) -> Iterator[_EsptoolLog]:
    """Install a logger for esptool (a process-wide singleton, hence one process per port for --all)."""
    previous = EspLog.instance
    previous_reset_warning = ResetStrategy.print_once
    logger = _EsptoolLog(on_progress)
    log.set_logger(logger)
    # esptool binds its "Chip was NOT reset" warning to the logger of import time; route it here too
    ResetStrategy.print_once = PrintOnce(logger.warning)
    try:
        yield logger
    finally:
        EspLog.instance = previous
        ResetStrategy.print_once = previous_reset_warning


class _TransferError(FabnodeError):
    """Bytes were lost or corrupted on the wire; a slower baud may help."""


def _translate(exc: FatalError | serial.SerialException | OSError, port: str, baud: int) -> FabnodeError:
    message = str(exc).split("\n", 1)[0]
    if "MD5 of file does not match" in message or "Digest mismatch" in message:
        return FabnodeError(f"verification failed on {port}: the MD5 of the flash does not match the image "
                            "(data was corrupted on the way)",
                            hint="use a short, good USB cable without a hub and retry with -b 115200")
    if "Write failed, the written flash region is empty" in message:
        return FabnodeError(f"writing to {port} failed: the flash is still empty after the write",
                            hint="the flash chip may be write-protected or damaged")
    if "Failed to connect" in message or "Wrong boot mode" in message:
        detail = message.split(": ", 1)[-1]
        return FabnodeError(f"could not reach the bootloader on {port} ({detail})", hint=DOWNLOAD_MODE_HINT)
    if "Could not open" in message or "could not open port" in message or "busy" in message.lower():
        # esptool wraps pyserial's reason in parentheses on the next line: read that one, like every open.
        inner = re.search(r"\n\((.*)\)\n", str(exc))
        return open_error(port, OSError(inner.group(1)) if inner else exc)
    if any(marker in message for marker in TRANSFER_ERRORS):
        return _TransferError(f"transfer to {port} failed at {baud} baud ({message})",
                              hint="retry with -b 115200 and a shorter cable")
    return FabnodeError(f"esptool failed on {port}: {message}")


def flash_firmware(board: Board, firmware: Firmware, port: str, *, erase: bool = False, baud: int | None = None,
                   before: str = "default-reset", wait_repl: bool = True,
                   on_progress: ProgressCallback | None = None) -> FlashResult:
    """Write ``firmware`` to the node on ``port`` and reset it into MicroPython (steps 3 and 4).

    Transfer errors above 115200 baud are retried once at 115200 (the result's ``notes`` say so).
    """
    if before not in BEFORE_MODES:
        raise UsageError(f"--before must be one of {', '.join(BEFORE_MODES)}, not {before!r}")
    rate = baud or board.default_baud
    started = time.monotonic()
    notes: list[str] = []
    port_info = {p.device: p for p in list_serial_ports([board])} if not _is_url(port) else {}
    try:
        details = _write(board, firmware, port, erase, rate, before, on_progress)
    except _TransferError as exc:
        if rate <= ROM_BAUD:
            raise
        notes.append(f"{exc}; retried at {ROM_BAUD} baud")
        rate = ROM_BAUD
        details = _write(board, firmware, port, erase, rate, before, on_progress)
    banner = None
    if wait_repl:
        usb_serial = port_info[port].serial_number if port in port_info else None
        port = find_port_again(port, usb_serial, REENUMERATION_TIMEOUT)
        banner = wait_for_repl(port, REPL_TIMEOUT)
    return FlashResult(
        port=port, board=board.id, firmware=firmware.source, micropython_version=firmware.version,
        image_size=len(firmware.data), image_md5=hashlib.md5(firmware.data).hexdigest(),
        erased=erase, baud=rate, repl_banner=banner, seconds=round(time.monotonic() - started, 2),
        notes=tuple(notes), **details,
    )


def _is_url(port: str) -> bool:
    return "://" in port


def _write(board: Board, firmware: Firmware, port: str, erase: bool, baud: int, before: str,
           on_progress: ProgressCallback | None) -> dict[str, Any]:
    expected = CHIPS[board.chip].esptool_name
    with _esptool_logger(on_progress) as logger:
        try:
            esp = cmds.detect_chip(prepare_url(port), ROM_BAUD, connect_mode=before,
                                   connect_attempts=CONNECT_ATTEMPTS)
        except (FatalError, serial.SerialException, OSError) as exc:
            raise _translate(exc, port, baud) from None
        try:
            if expected != esp.CHIP_NAME:
                raise FabnodeError(f"{port} has an {esp.CHIP_NAME}, but board {board.id} is an {expected}; "
                                   "nothing was written",
                                   hint="check -p (is this the right node?) and --board")
            chip = esp.get_chip_description()
            mac = ":".join(f"{b:02x}" for b in esp.read_mac())
            esp = cmds.run_stub(esp)
            if baud != ROM_BAUD:
                esp.change_baud(baud)
            cmds.attach_flash(esp)
            flash_size = cmds.detect_flash_size(esp)
            if erase:
                logger.task = "erase"
                cmds.erase_flash(esp)
            image = firmware.data + b"\xff" * (-len(firmware.data) % 4)  # esptool pads to a word
            already_there = (not erase and
                             esp.flash_md5sum(board.app_offset, len(image)) == hashlib.md5(image).hexdigest())
            if not already_there:
                logger.task = "write"
                cmds.write_flash(esp, [(board.app_offset, firmware.data)], flash_size="keep", compress=True)
            cmds.reset_chip(esp, "hard-reset")
        except (FatalError, serial.SerialException, OSError) as exc:
            raise _translate(exc, port, baud) from None
        finally:
            esp._port.close()  # esptool opens ports exclusively: release it before anyone else tries
    return {"chip": chip, "mac": mac, "flash_size": flash_size, "written": not already_there}


# -- step 4: come back up --------------------------------------------------------------------------


def find_port_again(port: str, usb_serial: str | None, timeout: float) -> str:
    """Native-USB boards re-enumerate after a reset: find the device again by its USB serial number."""
    if usb_serial is None:
        return port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for info in list_serial_ports([]):
            if info.serial_number == usb_serial:
                return info.device
        time.sleep(0.2)
    raise PortError(f"the node (USB serial {usb_serial}) did not come back within {timeout:g} s after the reset",
                    hint="unplug and replug it, then run fabnode monitor to see what it prints")


def wait_for_repl(port: str, timeout: float) -> str:
    """Interrupt whatever runs and return MicroPython's banner line; fail with what the node printed."""
    seen = bytearray()
    try:
        with serial.serial_for_url(prepare_url(port), ROM_BAUD, timeout=0.1) as link:
            deadline = time.monotonic() + timeout
            next_poke = 0.0
            while time.monotonic() < deadline:
                if time.monotonic() >= next_poke:
                    link.write(b"\r\x03\x03\x02")  # Ctrl-C twice, then Ctrl-B: the friendly REPL and its banner
                    next_poke = time.monotonic() + 1.0
                seen += link.read(256)
                for line in seen.decode("utf-8", "replace").splitlines():
                    if line.startswith("MicroPython v") and ">>>" in seen.decode("utf-8", "replace"):
                        return line.strip()
    except (serial.SerialException, OSError) as exc:
        raise PortError(f"cannot open {port} after the reset: {exc}") from None
    tail = seen.decode("utf-8", "replace").strip().splitlines()[-3:]
    if port.startswith("socket://"):  # esptool's hard reset toggles RTS, which a raw TCP link does not carry
        hint = ("socket:// carries no reset lines: flash over the rfc2217:// URL, or reset the node by hand "
                "(a virtual node: fabnode sim reset NAME), then run fabnode deploy and fabnode push-model")
    else:
        hint = "run fabnode monitor to see its boot log"
    raise FabnodeError(f"the node on {port} did not start MicroPython within {timeout:g} s after flashing"
                       + (f"; it printed: {' | '.join(tail)}" if tail else "; it printed nothing"), hint=hint)


# -- --all -----------------------------------------------------------------------------------------


def _flash_in_child(port: str, board_id: str, firmware: Firmware, erase: bool, baud: int | None,
                    before: str, wait_repl: bool) -> FlashResult:
    return flash_firmware(get_board(board_id), firmware, port, erase=erase, baud=baud, before=before,
                          wait_repl=wait_repl)


def ports_for_all(board: Board, ports: tuple[str, ...] | list[str]) -> list[str]:
    """The ports given, or every port whose USB id fits the board; none at all is an error."""
    targets = list(ports) or [p.device for p in matching_ports(board)]
    if not targets:
        raise PortError(f"no serial port with a {board.id} USB id is plugged in",
                        hint="check the cables, or list the ports with -p PORT -p PORT ...")
    return targets


def flash_all(board: Board, firmware: Firmware, ports: list[str], *, erase: bool = False, baud: int | None = None,
              before: str = "default-reset", wait_repl: bool = True) -> list[PortOutcome[FlashResult]]:
    """Flash every port in parallel, one process each (esptool's logger is per process); failures don't stop others."""
    return in_processes(_flash_in_child, ports, board.id, firmware, erase, baud, before, wait_repl)
