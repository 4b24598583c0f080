"""pyserial URL handler for ``sim://NAME[?board=ID&speed=N&hardware=0]``: a virtual node as a serial port.

Found by pyserial's ``protocol_handler_packages`` mechanism once ``fabnode.sim`` is imported, so
``serial.serial_for_url("sim://bench1")`` (and therefore esptool and mpremote) open the virtual
node in this process. Opening creates the node when it does not exist yet and powers it on.
"""

from __future__ import annotations

import errno
import urllib.parse

import serial

from fabnode.errors import FabnodeError
from fabnode.sim.node import VirtualNode, open_node
from fabnode.sim.wire import WireClosed

# What pyserial's POSIX port raises when the USB device under it is removed.
DISCONNECTED = "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"


class Serial(serial.SerialBase):  # type: ignore[misc]
    """A serial port whose other end is a virtual node's UART0 and auto-reset circuit."""

    node: VirtualNode | None = None

    def open(self) -> None:
        if self._port is None:
            raise serial.SerialException("Port must be configured before it can be used.")
        if self.is_open:  # type: ignore[has-type]
            raise serial.SerialException("Port is already open.")
        name, board, speed, hardware = self.from_url(self.portstr)
        try:
            self.node = open_node(name, board, speed, hardware)
        except FabnodeError as exc:
            raise serial.SerialException(errno.ENOENT, f"could not open port {self.portstr}: {exc}") from None
        self.is_open = True
        self._reconfigure_port()
        self._update_dtr_state()

    def from_url(self, url: str) -> tuple[str, str | None, int | None, bool]:
        """Node name, board, speed and whether to simulate the sensors (``hardware=0``: the runtime alone)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "sim" or not parts.netloc or parts.path not in ("", "/"):  # sim://a/b is not node a
            raise serial.SerialException(f"expected a URL like sim://NAME[?board=ID&speed=N], not {url!r}")
        options = urllib.parse.parse_qs(parts.query)
        unknown = set(options) - {"board", "speed", "hardware"}
        if unknown:
            raise serial.SerialException(f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}")
        board = options.get("board", [None])[0]
        speed = options.get("speed", [None])[0]
        hardware = options.get("hardware", ["1"])[0] != "0"
        try:
            return parts.netloc, board, int(speed) if speed is not None else None, hardware
        except ValueError:
            raise serial.SerialException(f"speed must be an integer in {url!r}") from None

    def close(self) -> None:
        if self.node is not None:
            self.node.close()
            self.node = None
        self.is_open = False

    def _live_node(self) -> VirtualNode:
        node = self.node  # once: another thread may close the port meanwhile
        if not self.is_open or node is None:
            raise serial.PortNotOpenError()
        if not node.port_present():
            raise serial.SerialException(DISCONNECTED)
        return node

    def _reconfigure_port(self) -> None:
        node = self.node
        if node is not None:
            node.baudrate = self._baudrate

    def _update_dtr_state(self) -> None:
        node = self.node
        if node is not None:
            node.set_lines(self._dtr_state, self._rts_state)

    def _update_rts_state(self) -> None:
        self._update_dtr_state()

    def _update_break_state(self) -> None:
        pass  # a break condition means nothing to the chip's UART0 console

    @property
    def in_waiting(self) -> int:
        try:
            return self._live_node().rx.in_waiting()
        except WireClosed:
            raise serial.SerialException(DISCONNECTED) from None

    @property
    def out_waiting(self) -> int:
        return 0

    def read(self, size: int = 1) -> bytes:
        node = self._live_node()
        try:
            return node.rx.take(size, self._timeout, self._inter_byte_timeout)
        except WireClosed:
            raise serial.SerialException(DISCONNECTED) from None

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        node = self._live_node()
        payload = bytes(data)
        node.write(payload)
        if not node.port_present():
            raise serial.SerialException(errno.EIO, "write failed: [Errno 5] Input/output error")
        return len(payload)

    def reset_input_buffer(self) -> None:
        self._live_node().rx.clear()

    def reset_output_buffer(self) -> None:
        pass  # writes are delivered before write() returns

    def fileno(self) -> int:
        # esptool's tight reset sets DTR/RTS with ioctl on a file descriptor; there is none here,
        # and ENOTTY makes it fall back to the classic DTR/RTS sequence, which this port models.
        raise OSError(errno.ENOTTY, "a virtual node's port has no file descriptor")

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
