"""Image checks and boot results: stand-in images, merged MicroPython builds, damaged and foreign images."""

from __future__ import annotations

import struct

import pytest
from esptool.bin_image import ELFSection, ESP32FirmwareImage, LoadFirmwareImage

from fabnode.sim.image import ImageError, check_boot, inspect_firmware, make_standin_image


@pytest.mark.parametrize(("chip", "chip_id"), [("esp32", 0), ("esp32s3", 9), ("esp32c3", 5)])
def test_standin_image_is_a_valid_micropython_app_for_its_chip(chip: str, chip_id: int) -> None:
    data = make_standin_image(chip, version="v1.26.1")
    image = LoadFirmwareImage(chip, data)
    assert image.chip_id == chip_id and image.checksum == image.calculate_checksum()
    assert image.stored_digest == image.calc_digest
    app = inspect_firmware(data, chip, 0x1000 if chip == "esp32" else 0)
    assert (app.project_name, app.version, app.is_micropython) == ("micropython", "v1.26.1", True)


def _bootloader() -> bytes:
    """A second-stage-bootloader-like image: RAM segments only, no app descriptor."""
    image = ESP32FirmwareImage()
    image.entrypoint = 0x40080400
    image.segments = [ELFSection(b".iram_loader.text", 0x40080400, bytes(range(256)) * 4, 0)]
    data: bytes = image.save(None)
    return data


def test_a_merged_build_is_followed_through_its_partition_table_to_the_app() -> None:
    merged = bytearray(b"\xff" * (0x10000 - 0x1000))
    bootloader = _bootloader()
    merged[: len(bootloader)] = bootloader
    entry = struct.pack("<HBBII16sI", 0x50AA, 0, 0, 0x10000, 0x1F0000, b"factory", 0)
    merged[0x8000 - 0x1000 : 0x8000 - 0x1000 + len(entry)] = entry
    merged += make_standin_image("esp32", version="v1.27.0")
    app = inspect_firmware(bytes(merged), "esp32", 0x1000)
    assert app.offset == 0x10000 and app.version == "v1.27.0"


def test_boot_errors_read_like_the_rom() -> None:
    image = make_standin_image("esp32")
    erased = b"\xff" * 0x100000
    flash = bytearray(erased)

    def boot(contents: bytes) -> tuple[bool, str, str | None]:
        result = check_boot(lambda a, n: bytes(contents[a : a + n]), len(contents), "esp32", 0x1000)
        return result.boots_micropython, result.console, result.reason

    ok, console, _ = boot(erased)
    assert not ok and console.count("invalid header: 0xffffffff") > 1
    flash[0x1000 : 0x1000 + len(image)] = make_standin_image("esp32s3")[: len(image)]
    ok, console, reason = boot(bytes(flash))
    assert not ok and "mismatch chip ID, expected 0, found 9" in console and "ESP32-S3" in (reason or "")
    flash[0x1000 : 0x1000 + len(image)] = image
    flash[0x1000 + 0x9000] ^= 0xFF  # one corrupted byte inside a segment
    ok, console, _ = boot(bytes(flash))
    assert not ok and "Checksum failed" in console
    flash[0x1000 + 0x9000] ^= 0xFF
    ok, console, reason = boot(bytes(flash))
    assert ok and reason is None and "entry 0x40080400" in console


def test_a_truncated_file_is_refused() -> None:
    with pytest.raises(ImageError, match="truncated or corrupt"):
        inspect_firmware(make_standin_image("esp32")[:30000], "esp32", 0x1000)
