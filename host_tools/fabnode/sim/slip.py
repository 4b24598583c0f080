"""SLIP framing (RFC 1055) as the ESP ROM bootloader and esptool use it on the serial line."""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def slip_encode(packet: bytes) -> bytes:
    """One frame: END, the packet with END/ESC escaped, END."""
    escaped = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + escaped + b"\xc0"


class SlipDecoder:
    """Turns a byte stream into frames; bytes between frames (line noise) are dropped, as the ROM does."""

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escaped = False

    def reset(self) -> None:
        self._frame = None
        self._escaped = False

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by ``data``; a frame with a bad escape sequence is discarded."""
        frames = []
        for byte in data:
            if self._frame is None:
                if byte == END:
                    self._frame = bytearray()
                continue
            if self._escaped:
                self._escaped = False
                if byte == ESC_END:
                    self._frame.append(END)
                elif byte == ESC_ESC:
                    self._frame.append(ESC)
                else:
                    self._frame = None if byte != END else bytearray()
                continue
            if byte == ESC:
                self._escaped = True
            elif byte == END:
                if self._frame:
                    frames.append(bytes(self._frame))
                # An END right after END is the start of the next frame, not an empty packet.
                self._frame = bytearray()
            else:
                self._frame.append(byte)
        return frames
