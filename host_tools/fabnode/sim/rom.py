"""The ESP32/S3/C3 serial ROM bootloader, and the flasher stub esptool uploads into it.

A byte-stream state machine, independent of the transport: the virtual node hands it what the
host wrote (``feed``) and the chip's answers go out through ``RomHost.rom_output``. It implements
what esptool 5 uses, byte for byte as esptool's ``loader.py`` expects it (SLIP frames, ``<BBHI``
headers, 0xEF-seeded XOR checksums, 4 status bytes from the ROM and 2 from the stub), on the
node's NOR flash.

One ``RomBootloader`` lives for one stay in download mode: the node makes a new one each time
the chip comes out of reset with GPIO0 low (after printing the ROM banner), and drops it when the
chip resets or when FLASH_END/FLASH_DEFL_END asks the ROM to run the app
(``RomHost.rom_run_user_code``). A CHANGE_BAUDRATE reply goes out before ``baud`` changes, so a
transport that reads ``baud`` after each ``rom_output`` sends every byte at the right rate.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import esptool

from fabnode.sim.chips import APB_CLOCK_HZ, ChipModel, flash_id
from fabnode.sim.flash import SECTOR_SIZE, FlashRangeError, NorFlash
from fabnode.sim.slip import SlipDecoder, slip_encode

ROM_BAUD = 115200
# Command opcodes (esptool's ESPLoader.ESP_CMDS)
FLASH_BEGIN = 0x02
FLASH_DATA = 0x03
FLASH_END = 0x04
MEM_BEGIN = 0x05
MEM_END = 0x06
MEM_DATA = 0x07
SYNC = 0x08
WRITE_REG = 0x09
READ_REG = 0x0A
SPI_SET_PARAMS = 0x0B
SPI_ATTACH = 0x0D
READ_FLASH_SLOW = 0x0E
CHANGE_BAUDRATE = 0x0F
FLASH_DEFL_BEGIN = 0x10
FLASH_DEFL_DATA = 0x11
FLASH_DEFL_END = 0x12
SPI_FLASH_MD5 = 0x13
GET_SECURITY_INFO = 0x14
ERASE_FLASH = 0xD0
ERASE_REGION = 0xD1
READ_FLASH = 0xD2

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + 32 * b"\x55"
SYNC_REPLIES = 8
ROM_SYNC_VALUE = 0x20120707  # the ROM answers SYNC with a non-zero value, the stub with 0
CHECKSUM_SEED = 0xEF
READ_FLASH_SLOW_BLOCK = 64
STUB_GREETING = b"OHAI"
DATA_HEADER = struct.Struct("<IIII")  # length, sequence, 0, 0 in front of every data block
# SPI controller bits esptool uses for a "user" command (run_spiflash_command)
SPI_CMD_USR = 1 << 18
SPI_USR_MISO = 1 << 28
SPI_USR_ADDR = 1 << 30
SPI_USR_ADDR_LEN_SHIFT = 26
SPIFLASH_RDID = 0x9F
SPIFLASH_RDSFDP = 0x5A
SPIFLASH_STATUS_READS = (0x05, 0x35, 0x15)
# A JEDEC SFDP header and one parameter header; unread bytes of the table read 0xFF.
SFDP_TABLE = b"SFDP\x06\x01\x00\xff" + b"\x00\x06\x01\x10\x30\x00\x00\xff"


@dataclass(frozen=True)
class Failure:
    """A status code pair: what the ROM (status 1, code) and the stub (code, 0) send for one fault."""

    rom: int
    stub: int


BAD_MESSAGE = Failure(0x05, 0xC0)  # malformed parameters or data length
BAD_CHECKSUM = Failure(0x07, 0xC1)
NOT_IN_FLASH_MODE = Failure(0x05, 0xC6)
FLASH_FAULT = Failure(0x08, 0xC4)  # an address outside the chip
INFLATE_ERROR = Failure(0x0B, 0xC7)
TOO_MUCH_DATA = Failure(0x05, 0xC9)
UNSUPPORTED = Failure(0x05, 0xFF)


class CommandFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure)
        self.failure = failure


@dataclass
class _FlashWrite:
    """One FLASH_BEGIN/FLASH_DEFL_BEGIN session."""

    offset: int
    size: int  # bytes the host will write (uncompressed)
    block_size: int
    compressed: bool
    next_seq: int = 0
    written: int = 0
    erased_to: int = 0  # the stub erases lazily, a sector ahead of what it writes
    inflater: zlib._Decompress | None = None
    broken: bool = False


@dataclass
class _MemUpload:
    offset: int
    size: int
    next_seq: int = 0
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _FlashRead:
    """A stub READ_FLASH stream: data packets flow-controlled by the host's acknowledgements."""

    offset: int
    length: int
    packet_size: int
    max_in_flight: int
    sent: int = 0
    acked: int = 0


@functools.cache
def known_stubs(chip: str) -> tuple[tuple[int, bytes, int], ...]:
    """(text address, text, entry) of every flasher stub esptool ships for ``chip``."""
    stub_dir = Path(esptool.__file__).parent / "targets" / "stub_flasher"
    stubs = []
    for path in sorted(stub_dir.glob(f"*/{chip}.json")):
        stub = json.loads(path.read_text())
        stubs.append((int(stub["text_start"]), base64.b64decode(stub["text"]), int(stub["entry"])))
    return tuple(stubs)


def xor_checksum(data: bytes) -> int:
    state = CHECKSUM_SEED
    for byte in data:
        state ^= byte
    return state


class RomHost(Protocol):
    """The transport side of the ROM: the virtual node, or a test harness."""

    def rom_output(self, data: bytes) -> None:
        """Bytes the chip sends to the host, in order."""

    def rom_run_user_code(self) -> None:
        """The host asked the ROM to leave download mode and boot the app in flash."""


class RomBootloader:
    """The serial bootloader of ``chip`` with ``flash`` and the eFuse MAC ``mac``, just out of reset."""

    def __init__(self, chip: ChipModel, flash: NorFlash, mac: bytes, host: RomHost) -> None:
        self.chip = chip
        self.flash = flash
        self.mac = mac
        self.host = host
        self.baud = ROM_BAUD
        self.stub_running = False
        self._decoder = SlipDecoder()
        self._registers = chip.registers_for(mac)
        self._write: _FlashWrite | None = None
        self._upload: _MemUpload | None = None
        self._ram: dict[int, bytes] = {}
        self._read: _FlashRead | None = None
        self._running = True  # False once it left for the app, or for RAM code it cannot run

    def feed(self, data: bytes) -> None:
        """Bytes from the host; the answers go to ``host.rom_output`` as they are made."""
        for frame in self._decoder.feed(data):
            if not self._running:
                return
            if self._read is not None:
                self._read_acknowledged(frame)
            else:
                self._command(frame)

    def _reply(self, op: int, value: int = 0, payload: bytes = b"", failure: Failure | None = None) -> None:
        if self.stub_running:
            status = bytes((failure.stub, 0)) if failure else b"\x00\x00"
        else:
            status = bytes((1, failure.rom, 0, 0)) if failure else b"\x00\x00\x00\x00"
        body = payload + status
        self.host.rom_output(slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body))

    def _command(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[0] != 0:
            return  # not a request (line noise, or a stray acknowledgement)
        _, op, size, checksum = struct.unpack_from("<BBHI", frame)
        data = frame[8:]
        if len(data) != size:
            self._reply(op, failure=BAD_MESSAGE)
            return
        if op == SYNC:
            self._sync(data)
            return
        handler = self._handlers().get(op)
        if handler is None:
            self._reply(op, failure=UNSUPPORTED)
            return
        try:
            value, payload, after = handler(data, checksum)
        except CommandFailed as exc:
            self._reply(op, failure=exc.failure)
            return
        except (struct.error, FlashRangeError):
            self._reply(op, failure=BAD_MESSAGE)
            return
        self._reply(op, value, payload)
        if after is not None:
            after()

    # A handler returns (reply value, reply payload, what the chip does after replying).
    Handler = Callable[[bytes, int], tuple[int, bytes, Callable[[], None] | None]]

    def _handlers(self) -> dict[int, RomBootloader.Handler]:
        handlers: dict[int, RomBootloader.Handler] = {
            READ_REG: self._read_reg,
            WRITE_REG: self._write_reg,
            SPI_SET_PARAMS: self._ok,
            SPI_ATTACH: self._ok,
            CHANGE_BAUDRATE: self._change_baudrate,
            FLASH_BEGIN: functools.partial(self._flash_begin, compressed=False),
            FLASH_DATA: functools.partial(self._flash_data, compressed=False),
            FLASH_END: self._flash_end,
            FLASH_DEFL_BEGIN: functools.partial(self._flash_begin, compressed=True),
            FLASH_DEFL_DATA: functools.partial(self._flash_data, compressed=True),
            FLASH_DEFL_END: self._flash_end,
            SPI_FLASH_MD5: self._flash_md5,
            MEM_BEGIN: self._mem_begin,
            MEM_DATA: self._mem_data,
            MEM_END: self._mem_end,
        }
        if self.chip.has_security_info:
            handlers[GET_SECURITY_INFO] = self._security_info
        if self.stub_running:
            handlers[ERASE_FLASH] = self._erase_flash
            handlers[ERASE_REGION] = self._erase_region
            handlers[READ_FLASH] = self._read_flash
        else:
            handlers[READ_FLASH_SLOW] = self._read_flash_slow
        return handlers

    def _sync(self, data: bytes) -> None:
        if data != SYNC_PAYLOAD:
            self._reply(SYNC, failure=BAD_MESSAGE)
            return
        value = 0 if self.stub_running else ROM_SYNC_VALUE
        for _ in range(SYNC_REPLIES):
            self._reply(SYNC, value)

    @staticmethod
    def _ok(data: bytes, checksum: int) -> tuple[int, bytes, None]:
        return 0, b"", None

    # -- registers -----------------------------------------------------------------------------

    def read_register(self, address: int) -> int:
        if address == self.chip.uart_clkdiv_reg:
            return APB_CLOCK_HZ // self.baud  # esptool estimates the crystal from baud x divider
        return self._registers.get(address, 0)

    def _read_reg(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        (address,) = struct.unpack("<I", data)
        return self.read_register(address), b"", None

    def _write_reg(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        if not data or len(data) % 16:
            raise CommandFailed(BAD_MESSAGE)
        for address, value, mask, _delay_us in struct.iter_unpack("<IIII", data):
            self._registers[address] = (self._registers.get(address, 0) & ~mask) | (value & mask)
            if address == self.chip.spi.cmd and value & mask & SPI_CMD_USR:
                self._run_spi_command()
        return 0, b"", None

    def _run_spi_command(self) -> None:
        """Execute the "user" SPI command esptool set up in the SPI0 registers (RDID, RDSFDP, RDSR)."""
        spi = self.chip.spi
        register = self._registers.get
        usr = register(spi.base + spi.usr, 0)
        command = register(spi.base + spi.usr2, 0) & 0xFF
        address = register(spi.addr, 0)
        if usr & SPI_USR_ADDR and spi.addr_msb_aligned:
            address_bits = ((register(spi.base + spi.usr1, 0) >> SPI_USR_ADDR_LEN_SHIFT) & 0x3F) + 1
            address >>= 32 - address_bits
        miso_bits = register(spi.base + spi.miso_dlen, 0) + 1 if usr & SPI_USR_MISO else 0
        if command == SPIFLASH_RDID:
            reply = flash_id(self.flash.size).to_bytes(3, "little")
        elif command == SPIFLASH_RDSFDP:
            reply = SFDP_TABLE[address : address + 4].ljust(4, b"\xff")
        elif command in SPIFLASH_STATUS_READS:
            reply = b"\x00"
        else:
            reply = b""  # write-enable, reset and the like: nothing to read back
        if miso_bits:
            word = int.from_bytes(reply[:4].ljust(4, b"\xff"), "little")
            self._registers[spi.base + spi.w0] = word & ((1 << min(miso_bits, 32)) - 1)
        self._registers[spi.cmd] &= ~SPI_CMD_USR  # done

    def _security_info(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        # flags, flash_crypt_cnt, 7 key purposes, chip id, API version: nothing secured
        return 0, struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, self.chip.image_chip_id, 0), None

    def _change_baudrate(self, data: bytes, checksum: int) -> tuple[int, bytes, Callable[[], None]]:
        new_baud, _old_baud = struct.unpack("<II", data)
        if new_baud <= 0:
            raise CommandFailed(BAD_MESSAGE)
        return 0, b"", functools.partial(setattr, self, "baud", new_baud)  # the reply goes out at the old rate

    # -- flash writes --------------------------------------------------------------------------

    def _erase(self, offset: int, length: int) -> None:
        start = offset - offset % SECTOR_SIZE
        end = -(-(offset + length) // SECTOR_SIZE) * SECTOR_SIZE
        if end > self.flash.size:
            raise CommandFailed(FLASH_FAULT)
        if end > start:
            self.flash.erase(start, end - start)

    def _flash_begin(self, data: bytes, checksum: int, compressed: bool) -> tuple[int, bytes, None]:
        # size, blocks, block size, offset (+ an "encrypted" word from the stub and newer ROMs)
        if len(data) not in (16, 20):
            raise CommandFailed(BAD_MESSAGE)
        size, _blocks, block_size, offset = struct.unpack_from("<IIII", data)
        if offset + size > self.flash.size or block_size == 0:
            raise CommandFailed(FLASH_FAULT)
        session = _FlashWrite(offset, size, block_size, compressed, erased_to=offset - offset % SECTOR_SIZE)
        if compressed:
            session.inflater = zlib.decompressobj()
        if not self.stub_running:
            self._erase(offset, size)  # the ROM erases the whole region up front
            session.erased_to = offset + size
        self._write = session
        return 0, b"", None

    def _block(self, data: bytes, checksum: int, expected_seq: int) -> tuple[bytes, bool]:
        """The payload of a data command, checked; True when it repeats the block just handled."""
        length, seq, _, _ = DATA_HEADER.unpack_from(data)
        block = data[DATA_HEADER.size :]
        if len(block) != length:
            raise CommandFailed(BAD_MESSAGE)
        if xor_checksum(block) != checksum:
            raise CommandFailed(BAD_CHECKSUM)
        if seq == expected_seq - 1:
            return block, True  # esptool resends a block whose reply it lost; it is already written
        if seq != expected_seq:
            raise CommandFailed(BAD_MESSAGE)
        return block, False

    def _flash_data(self, data: bytes, checksum: int, compressed: bool) -> tuple[int, bytes, None]:
        session = self._write
        if session is None or session.compressed != compressed or session.broken:
            raise CommandFailed(NOT_IN_FLASH_MODE)
        block, repeated = self._block(data, checksum, session.next_seq)
        if repeated:
            return 0, b"", None
        if compressed:
            assert session.inflater is not None
            try:
                output = session.inflater.decompress(block)
            except zlib.error:
                session.broken = True
                raise CommandFailed(INFLATE_ERROR) from None
            address = session.offset + session.written
            if session.written + len(output) > session.size:
                raise CommandFailed(TOO_MUCH_DATA)
        else:
            position = session.next_seq * session.block_size
            if position >= session.size:
                raise CommandFailed(TOO_MUCH_DATA)
            output = block[: session.size - position]  # the last block is padded with 0xFF
            address = session.offset + position
        self._program(session, address, output)
        session.written += len(output)
        session.next_seq += 1
        return 0, b"", None

    def _program(self, session: _FlashWrite, address: int, data: bytes) -> None:
        end = address + len(data)
        if end > self.flash.size:
            raise CommandFailed(FLASH_FAULT)
        if end > session.erased_to:  # the stub erases just ahead of what it writes
            self._erase(session.erased_to, end - session.erased_to)
            session.erased_to = -(-end // SECTOR_SIZE) * SECTOR_SIZE
        self.flash.program(address, data)

    def _flash_end(self, data: bytes, checksum: int) -> tuple[int, bytes, Callable[[], None] | None]:
        (run_user_code,) = struct.unpack_from("<I", data)
        if self._write is None:
            raise CommandFailed(NOT_IN_FLASH_MODE)
        self._write = None
        self.flash.flush()
        if run_user_code and not self.stub_running:
            return 0, b"", self._run_user_code
        if not run_user_code and self.stub_running:
            return 0, b"", self._leave_stub
        return 0, b"", None

    def _run_user_code(self) -> None:
        self._running = False
        self.host.rom_run_user_code()

    def _leave_stub(self) -> None:
        """A soft reset from the stub (esptool's ``--after no-reset``): back to the ROM loader."""
        self.stub_running = False
        self.baud = ROM_BAUD
        self._registers = self.chip.registers_for(self.mac)

    def _erase_flash(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        self.flash.erase_all()
        return 0, b"", None

    def _erase_region(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        offset, size = struct.unpack("<II", data)
        if offset % SECTOR_SIZE or size % SECTOR_SIZE:
            raise CommandFailed(BAD_MESSAGE)
        self._erase(offset, size)
        return 0, b"", None

    # -- flash reads ---------------------------------------------------------------------------

    def _flash_md5(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        address, size, _, _ = DATA_HEADER.unpack(data)
        digest = self.flash.md5(address, size)
        # the ROM answers in hex text, the stub in raw bytes
        return 0, (digest if self.stub_running else digest.hex().encode()), None

    def _read_flash_slow(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        offset, length = struct.unpack("<II", data)
        if length > READ_FLASH_SLOW_BLOCK:
            raise CommandFailed(BAD_MESSAGE)
        return 0, self.flash.read(offset, length).ljust(READ_FLASH_SLOW_BLOCK, b"\xff"), None

    def _read_flash(self, data: bytes, checksum: int) -> tuple[int, bytes, Callable[[], None]]:
        offset, length, packet_size, max_in_flight = DATA_HEADER.unpack(data)
        if packet_size == 0 or max_in_flight == 0:
            raise CommandFailed(BAD_MESSAGE)
        self.flash.read(offset, length)  # range check before the stream starts
        self._read = _FlashRead(offset, length, packet_size, max_in_flight)
        return 0, b"", self._send_read_packets

    def _send_read_packets(self) -> None:
        stream = self._read
        assert stream is not None
        window = stream.max_in_flight * stream.packet_size
        while stream.sent < stream.length and stream.sent - stream.acked < window:
            size = min(stream.packet_size, stream.length - stream.sent)
            self.host.rom_output(slip_encode(self.flash.read(stream.offset + stream.sent, size)))
            stream.sent += size
        if stream.acked >= stream.length:
            self.host.rom_output(slip_encode(self.flash.md5(stream.offset, stream.length)))
            self._read = None

    def _read_acknowledged(self, frame: bytes) -> None:
        """The host's running total of bytes received; it opens the window for more packets."""
        if len(frame) == 4 and self._read is not None:
            (self._read.acked,) = struct.unpack("<I", frame)
            self._send_read_packets()

    # -- RAM upload (the flasher stub) ---------------------------------------------------------

    def _mem_begin(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        size, _blocks, _block_size, offset = struct.unpack("<IIII", data)
        self._upload = _MemUpload(offset, size)
        return 0, b"", None

    def _mem_data(self, data: bytes, checksum: int) -> tuple[int, bytes, None]:
        upload = self._upload
        if upload is None:
            raise CommandFailed(NOT_IN_FLASH_MODE)
        block, repeated = self._block(data, checksum, upload.next_seq)
        if not repeated:
            if len(upload.data) + len(block) > upload.size:
                raise CommandFailed(TOO_MUCH_DATA)
            upload.data += block
            upload.next_seq += 1
            if len(upload.data) == upload.size:
                self._ram[upload.offset] = bytes(upload.data)
        return 0, b"", None

    def _mem_end(self, data: bytes, checksum: int) -> tuple[int, bytes, Callable[[], None] | None]:
        no_entry, entry = struct.unpack("<II", data)
        self._upload = None
        if no_entry:
            return 0, b"", None
        return 0, b"", functools.partial(self._run_ram_code, entry)

    def _run_ram_code(self, entry: int) -> None:
        """Jump to uploaded code: esptool's flasher stub says OHAI; other code cannot run here."""
        for text_start, text, stub_entry in known_stubs(self.chip.name):
            if entry == stub_entry and self._ram.get(text_start) == text:
                self.stub_running = True
                self._ram = {}
                self.host.rom_output(slip_encode(STUB_GREETING))
                return
        self._running = False  # the chip runs code we cannot simulate: it stops answering
