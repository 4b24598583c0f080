"""Serial ports on this machine, and what is probably plugged into them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from serial.tools import list_ports

from fabnode.boards import Board, list_boards
from fabnode.errors import PortError

# USB-to-UART bridges and native USB found on ESP32 boards: (VID, PID) -> what it is.
KNOWN_BRIDGES: dict[tuple[int, int], str] = {
    (0x303A, 0x1001): "Espressif native USB (ESP32-S3/C3/C6 USB-Serial/JTAG)",
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6015): "FTDI FT-X",
}


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str
    bridge: str | None
    boards: tuple[str, ...]

    @property
    def usb_id(self) -> str | None:
        return f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None and self.pid is not None else None

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(vid=self.usb_id and self.usb_id.split(":")[0], pid=self.usb_id and self.usb_id.split(":")[1])
        data["usb_id"] = self.usb_id
        data["boards"] = list(self.boards)
        return data


def describe_port(device: str, vid: int | None, pid: int | None, serial_number: str | None, description: str,
                  boards: list[Board]) -> PortInfo:
    """Guess the bridge and the boards that could sit behind one port from its USB ids."""
    key = (vid, pid) if vid is not None and pid is not None else None
    bridge = KNOWN_BRIDGES.get(key) if key else None
    matching = tuple(b.id for b in boards if key and any((u.vid, u.pid) == key for u in b.usb))
    return PortInfo(device, vid, pid, serial_number, description or "", bridge, matching)


def list_serial_ports(boards: list[Board] | None = None) -> list[PortInfo]:
    """Every serial port pyserial sees, USB ones with their likely bridge and boards."""
    boards = list_boards() if boards is None else boards
    return [
        describe_port(p.device, p.vid, p.pid, p.serial_number, p.description, boards)
        for p in sorted(list_ports.comports(), key=lambda p: p.device)
    ]


def prepare_url(port: str) -> str:
    """Make ``port`` openable with ``serial.serial_for_url`` (loads the ``sim://`` handler when needed)."""
    if port.startswith("sim://"):
        import fabnode.sim  # noqa: F401  (registers pyserial's sim:// URL handler)
    return port


# How pyserial (and the sim:// handler) word a port another program holds: Linux EBUSY, the
# exclusive lock pyserial takes (EAGAIN), a virtual node's lock.
_BUSY_MARKERS = ("busy", "exclusively lock", "resource temporarily unavailable")


def open_error(port: str, exc: BaseException) -> PortError:
    """One sentence for a port that would not open, from pyserial's (or the virtual node's) reason."""
    reason = str(exc)
    repeated = re.match(rf"(\[Errno \d+\] )?could not open port {re.escape(port)}: ", reason)  # pyserial's
    if repeated:
        reason = reason[repeated.end():]
    if any(marker in reason.lower() for marker in _BUSY_MARKERS):
        holder = re.search(r"\(open in (process \d+)\)", reason)
        return PortError(f"cannot open {port}: another program has it open"
                         + (f" ({holder.group(1)})" if holder else ""),
                         hint="close it (fabnode monitor, mpremote, screen, fabnode sim serve) and retry")
    if "No such file or directory" in reason:
        return PortError(f"cannot open {port}: there is no such port",
                         hint="is the node plugged in? `fabnode ports` lists the serial ports")
    return PortError(f"cannot open {port}: {reason}", hint="check the port with `fabnode ports`")
