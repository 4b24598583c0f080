"""Bounds-checked reading of a FlatBuffer in place (no flatbuffers library on the device).

Every read checks that it stays inside the buffer, so a malformed model raises ModelError rather
than IndexError. FlatBuffer offsets to tables, vectors and strings are unsigned and point
forward, and the reader refuses zero offsets, so no chain of references can loop.
"""

import struct

from tfl import ModelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class FlatBuffer:
    """Typed little-endian reads at byte positions of ``buf``; tables are byte positions."""

    def __init__(self, buf: "Any") -> None:
        self.buf = buf
        self.size = len(buf)

    def _check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or pos + length > self.size:
            raise ModelError(f"{what} at byte {pos} runs past the end of the {self.size}-byte model")

    def u16(self, pos: int) -> int:
        self._check(pos, 2, "a 16-bit field")
        value: int = struct.unpack_from("<H", self.buf, pos)[0]
        return value

    def i32(self, pos: int) -> int:
        self._check(pos, 4, "a 32-bit field")
        value: int = struct.unpack_from("<i", self.buf, pos)[0]
        return value

    def u32(self, pos: int) -> int:
        self._check(pos, 4, "a 32-bit field")
        value: int = struct.unpack_from("<I", self.buf, pos)[0]
        return value

    def deref(self, pos: int, what: str) -> int:
        """Follow the forward offset stored at ``pos``."""
        offset = self.u32(pos)
        if offset == 0:
            raise ModelError(f"{what} has a zero offset")
        target = pos + offset
        self._check(target, 4, what)
        return target

    def root(self) -> int:
        return self.deref(0, "the root table")

    def field(self, table: int, index: int, size: int) -> int:
        """Byte position of field ``index`` of ``table`` (0 when absent), checked to hold ``size`` bytes."""
        vtable = table - self.i32(table)
        self._check(vtable, 4, "a vtable")
        vtable_size = self.u16(vtable)
        object_size = self.u16(vtable + 2)
        if vtable_size < 4 or vtable_size & 1:
            raise ModelError(f"a vtable has an invalid size {vtable_size}")
        self._check(vtable, vtable_size, "a vtable")
        self._check(table, object_size, "a table")
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return 0
        offset = self.u16(vtable + slot)
        if offset == 0:
            return 0
        if offset < 4 or offset + size > object_size:
            raise ModelError("a table field lies outside its table")
        return table + offset

    def scalar(self, table: int, index: int, fmt: str, size: int, default: "Any") -> "Any":
        pos = self.field(table, index, size)
        if not pos:
            return default
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def table(self, table: int, index: int, what: str) -> int:
        """The sub-table in field ``index``, or 0 when absent."""
        pos = self.field(table, index, 4)
        return self.deref(pos, what) if pos else 0

    def vector(self, table: int, index: int, element_size: int, what: str) -> "tuple[int, int]":
        """(position of the first element, count) of the vector in field ``index``; (0, 0) when absent."""
        pos = self.field(table, index, 4)
        if not pos:
            return 0, 0
        start = self.deref(pos, what)
        count = self.u32(start)
        if count * element_size > self.size - start - 4:
            raise ModelError(f"{what} claims {count} elements, more than the model holds")
        return start + 4, count

    def scalars(self, table: int, index: int, fmt: str, size: int, what: str) -> "list[Any]":
        """The vector of scalars in field ``index`` as a list (empty when absent)."""
        start, count = self.vector(table, index, size, what)
        return [struct.unpack_from(fmt, self.buf, start + size * i)[0] for i in range(count)]

    def tables(self, table: int, index: int, what: str) -> "list[int]":
        """Positions of the tables in the vector of tables in field ``index``."""
        start, count = self.vector(table, index, 4, what)
        return [self.deref(start + 4 * i, what) for i in range(count)]

    def string(self, table: int, index: int, what: str) -> str:
        start, count = self.vector(table, index, 1, what)
        # Printable ASCII only: the text ends up in error messages, and a malformed
        # model must not raise UnicodeError.
        return "".join(chr(c) if 32 <= c < 127 else "?" for c in bytes(memoryview(self.buf)[start:start + count]))
