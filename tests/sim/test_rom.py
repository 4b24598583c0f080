"""The ROM bootloader against the real esptool: every command esptool 5 sends, ROM-only and with the stub."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

import esptool
import pytest
import rom_harness
from esptool.util import FatalError

from fabnode.boards import get_board
from fabnode.sim.chips import CHIPS, mac_for
from fabnode.sim.flash import FlashRangeError, NorFlash
from fabnode.sim.image import make_standin_image
from fabnode.sim.rom import RomBootloader, xor_checksum
from fabnode.sim.slip import SlipDecoder, slip_encode

rom_harness.register()
BOARDS = ["esp32-devkitc", "esp32s3-devkitc", "esp32c3-xiao"]


@pytest.fixture
def make_chip(tmp_path: Path) -> Iterator[rom_harness.Chip]:
    made: list[rom_harness.Chip] = []

    def make(board_id: str) -> rom_harness.Chip:
        chip = rom_harness.Chip(f"{board_id}-{len(made)}-{tmp_path.name}", get_board(board_id),
                                tmp_path / f"{board_id}-{len(made)}.flash")
        made.append(chip)
        return chip

    yield make  # type: ignore[misc]
    for chip in made:
        chip.close()


def run_esptool(chip: rom_harness.Chip, *args: str, stub: bool = True) -> None:
    esptool.main(["--port", chip.url, *([] if stub else ["--no-stub"]), *args])


@pytest.mark.parametrize("stub", [False, True], ids=["rom", "stub"])
@pytest.mark.parametrize("board_id", BOARDS)
def test_write_flash_verifies_and_the_image_boots(make_chip, tmp_path: Path, board_id: str, stub: bool) -> None:
    chip = make_chip(board_id)
    image = make_standin_image(chip.board.chip)
    path = tmp_path / "firmware.bin"
    path.write_bytes(image)
    run_esptool(chip, "write-flash", hex(chip.board.app_offset), str(path), stub=stub)
    assert chip.flash.read(chip.board.app_offset, len(image)) == image
    # esptool's default --after hard-reset: the chip boots the image it was just given
    assert chip.boot is not None and chip.boot.boots_micropython and chip.boot.version == "v1.27.0"


@pytest.mark.parametrize(("board_id", "stub", "description", "size"), [
    ("esp32-devkitc", False, "ESP32-D0WD-V3 (revision v3.1)", "4MB"),
    ("esp32-devkitc", True, "ESP32-D0WD-V3 (revision v3.1)", "4MB"),
    ("esp32s3-devkitc", True, "ESP32-S3 (QFN56) (revision v0.2)", "8MB"),
    ("esp32c3-xiao", False, "ESP32-C3 (QFN32) (revision v0.4)", "4MB"),
])
def test_read_flash_read_mac_flash_id_at_high_baud(make_chip, tmp_path: Path, capsys, board_id: str, stub: bool,
                                                   description: str, size: str) -> None:
    chip = make_chip(board_id)
    chip.flash.program(0x2000, bytes(range(256)) * 32)
    out = tmp_path / "read.bin"
    run_esptool(chip, "-b", "921600", "read-flash", "0x2000", "0x2040", str(out), stub=stub)
    assert out.read_bytes() == bytes(range(256)) * 32 + b"\xff" * 0x40
    run_esptool(chip, "read-mac", stub=stub)
    run_esptool(chip, "flash-id", stub=stub)
    printed = capsys.readouterr().out
    assert "MAC:                " + ":".join(f"{b:02x}" for b in mac_for(chip.name)) in printed
    assert description in printed
    assert f"Detected flash size: {size}" in printed and "Manufacturer: ef" in printed


@pytest.mark.parametrize("board_id", ["esp32-devkitc", "esp32s3-devkitc"])
def test_erase_flash_and_erase_region_with_the_stub(make_chip, board_id: str) -> None:
    chip = make_chip(board_id)
    size = chip.board.flash_size
    chip.flash.program(0, bytes(size))
    run_esptool(chip, "erase-region", "0x10000", "0x2000")
    assert chip.flash.is_erased(0x10000, 0x2000) and chip.flash.read(0xF000, 1) == b"\0"
    run_esptool(chip, "erase-flash")
    assert chip.flash.is_erased(0, size)


def test_erase_flash_needs_the_stub(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    with pytest.raises(FatalError, match="ROM does not support function erase_flash"):
        run_esptool(chip, "erase-flash", stub=False)


def test_power_loss_mid_flash_leaves_an_unbootable_image_and_reflashing_fixes_it(make_chip, tmp_path: Path) -> None:
    chip = make_chip("esp32-devkitc")
    path = tmp_path / "firmware.bin"
    path.write_bytes(make_standin_image("esp32"))
    chip.power_cut_after = 20_000  # bytes from the host: the stub is up and the write has started
    with pytest.raises(FatalError):
        run_esptool(chip, "write-flash", "0x1000", str(path))
    chip.reset(download=False)  # power is back
    assert chip.boot is not None and not chip.boot.boots_micropython
    run_esptool(chip, "write-flash", "0x1000", str(path))
    assert chip.boot is not None and chip.boot.boots_micropython


def test_a_corrupted_md5_reply_fails_the_verification(make_chip, tmp_path: Path) -> None:
    chip = make_chip("esp32-devkitc")
    path = tmp_path / "firmware.bin"
    path.write_bytes(make_standin_image("esp32"))

    def corrupt_md5_reply(frame: bytes) -> bytes:
        # a stub MD5 reply: header with op 0x13, 16 digest bytes, 2 status bytes
        if frame[2:3] == b"\x13" and len(frame) == 1 + 8 + 18 + 1:
            return frame[:9] + bytes([frame[9] ^ 0x01]) + frame[10:]
        return frame

    chip.output_filter = corrupt_md5_reply
    with pytest.raises(FatalError, match="MD5 of file does not match data in flash"):
        run_esptool(chip, "write-flash", "0x1000", str(path))


def test_wrong_boot_mode_is_reported_by_esptool(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    with pytest.raises(FatalError, match="Failed to connect"):
        run_esptool(chip, "--before", "no-reset", "--connect-attempts", "1", "flash-id")


# -- the ROM's byte protocol, driven directly ----------------------------------------------------


class Host:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.ran_app = False
        self._decoder = SlipDecoder()

    def rom_output(self, data: bytes) -> None:
        self.frames += self._decoder.feed(data)

    def rom_run_user_code(self) -> None:
        self.ran_app = True


@pytest.fixture
def rom(tmp_path: Path) -> Iterator[tuple[RomBootloader, Host]]:
    host = Host()
    with NorFlash(tmp_path / "flash.bin", 4 << 20) as flash:
        yield RomBootloader(CHIPS["esp32"], flash, mac_for("t"), host), host


def command(op: int, data: bytes = b"", checksum: int = 0) -> bytes:
    return slip_encode(struct.pack("<BBHI", 0, op, len(data), checksum) + data)


def test_sync_is_answered_eight_times(rom) -> None:
    bootloader, host = rom
    bootloader.feed(command(0x08, b"\x07\x07\x12\x20" + b"\x55" * 32))
    assert len(host.frames) == 8
    assert all(struct.unpack_from("<BBHI", f) == (1, 0x08, 4, 0x20120707) for f in host.frames)


def test_chip_detection_and_unsupported_commands(rom) -> None:
    bootloader, host = rom
    bootloader.feed(command(0x0A, struct.pack("<I", 0x40001000)))
    bootloader.feed(command(0x14))  # GET_SECURITY_INFO: not in the ESP32 ROM
    bootloader.feed(command(0xD0))  # ERASE_FLASH: stub only
    assert struct.unpack_from("<BBHI", host.frames[0])[3] == 0x00F01D83
    # status 1, error 5 ("the format of the received message is invalid"), 2 reserved bytes
    assert host.frames[1][8:] == b"\x01\x05\x00\x00" and host.frames[2][8:] == b"\x01\x05\x00\x00"


def test_flash_data_checks_the_xor_checksum_and_md5_is_hex_from_the_rom(rom) -> None:
    bootloader, host = rom
    block = bytes(range(256)) * 4
    bootloader.feed(command(0x02, struct.pack("<IIII", 0x1000, 1, 0x400, 0x10000)))
    bootloader.feed(command(0x03, struct.pack("<IIII", 0x400, 0, 0, 0) + block, xor_checksum(block) ^ 1))
    bootloader.feed(command(0x03, struct.pack("<IIII", 0x400, 0, 0, 0) + block, xor_checksum(block)))
    bootloader.feed(command(0x13, struct.pack("<IIII", 0x10000, 0x400, 0, 0)))
    assert [f[8:10] for f in host.frames[:3]] == [b"\0\0", b"\x01\x07", b"\0\0"]
    assert host.frames[3][8:40] == hashlib.md5(block).hexdigest().encode()
    bootloader.feed(command(0x04, struct.pack("<I", 1)))  # FLASH_END: run user code
    assert host.ran_app


def test_nor_flash_programming_only_clears_bits(tmp_path: Path) -> None:
    with NorFlash(tmp_path / "f.bin", 1 << 20) as flash:
        flash.program(0, b"\x0f\xf0")
        flash.program(0, b"\xf0\xff")
        assert flash.read(0, 2) == b"\x00\xf0"
        flash.erase(0, 0x1000)
        assert flash.read(0, 2) == b"\xff\xff"
        with pytest.raises(FlashRangeError):
            flash.erase(0x800, 0x1000)
    with NorFlash(tmp_path / "f.bin", 1 << 20) as flash:  # persisted
        assert flash.is_erased(0, 1 << 20)


def test_slip_decoder_handles_escapes_split_across_reads() -> None:
    decoder = SlipDecoder()
    frame = slip_encode(b"a\xc0b\xdbc")
    assert decoder.feed(b"noise" + frame[:4]) == []
    assert decoder.feed(frame[4:] + frame) == [b"a\xc0b\xdbc", b"a\xc0b\xdbc"]
