"""Firmware images as the chip sees them: parse, check, boot, and make stand-in MicroPython images.

Parsing uses esptool's own image code (``esptool.bin_image``), so what ``fabnode flash`` accepts,
what the virtual node boots and what ``esptool image-info`` shows agree. An image is accepted
when it is an app image for the board's chip with a valid checksum and SHA-256; the MicroPython
version comes from its ``esp_app_desc_t``. A merged MicroPython build (second-stage bootloader
at the board's offset, partition table at 0x8000, app in the factory partition) is followed to
its app, as the real boot chain does.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from esptool.bin_image import (
    ELFSection,
    ESP32C3FirmwareImage,
    ESP32FirmwareImage,
    ESP32S3FirmwareImage,
    LoadFirmwareImage,
)
from esptool.targets import ROM_LIST
from esptool.util import FatalError

from fabnode.sim.chips import CHIPS

IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
# esp_app_desc_t, as esptool's _parse_app_info reads it (256 bytes)
APP_DESC_FORMAT = "<II8s32s32s16s16s32s32sHHB3s72s"
PARTITION_TABLE_OFFSET = 0x8000
PARTITION_MAGIC = 0x50AA
PARTITION_FORMAT = "<HBBII16sI"
APP_PARTITION_TYPE = 0

IMAGE_CLASSES: dict[str, type[ESP32FirmwareImage]] = {
    "esp32": ESP32FirmwareImage,
    "esp32s3": ESP32S3FirmwareImage,
    "esp32c3": ESP32C3FirmwareImage,
}
# Internal RAM where the stand-in's loaded segments go: (DRAM, IRAM) per chip.
RAM_SEGMENT_ADDRESSES = {
    "esp32": (0x3FFB0000, 0x40080400),
    "esp32s3": (0x3FC90000, 0x40378000),
    "esp32c3": (0x3FC8A000, 0x40380000),
}
STANDIN_NOTE = b"fabnode stand-in MicroPython image for the virtual node; it carries no code\x00"


class ImageError(Exception):
    """Not a bootable app image for this chip; ``console`` is what the chip prints when booting it."""

    def __init__(self, reason: str, console: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.console = console


@dataclass(frozen=True)
class AppImage:
    """An app image that passed the checks a chip's boot chain makes."""

    chip: str
    offset: int  # where in flash the app itself starts (after a bootloader, for merged builds)
    size: int
    project_name: str | None
    version: str | None
    idf_version: str | None
    entrypoint: int
    ram_segments: tuple[tuple[int, int], ...]  # (load address, length), what the ROM copies to RAM

    @property
    def is_micropython(self) -> bool:
        return self.project_name == "micropython"


@dataclass(frozen=True)
class BootResult:
    """What a reset into flash boot leads to: MicroPython running, or a ROM-style boot failure."""

    boots_micropython: bool
    version: str | None
    console: str  # the chip's UART output while booting
    reason: str | None  # why it does not run MicroPython, in one sentence


def chip_name_for_id(chip_id: int) -> str:
    """esptool's name for an image header chip id (``ESP32-S3`` for 9)."""
    for rom in ROM_LIST:
        if chip_id == rom.IMAGE_CHIP_ID:
            return str(rom.CHIP_NAME)
    return f"unknown chip (id {chip_id})"


def _first_word(data: bytes) -> int:
    return int(struct.unpack("<I", data[:4].ljust(4, b"\xff"))[0])


def _header_error(data: bytes, offset: int) -> ImageError:
    word = _first_word(data)
    return ImageError(
        f"there is no app image at {offset:#x} (it starts with {word:#010x}, not the image magic 0xe9)",
        f"invalid header: {word:#010x}\r\n" * 4,
    )


def _load(data: bytes, chip: str, offset: int) -> ESP32FirmwareImage:
    if len(data) < 24 or data[0] != IMAGE_MAGIC:
        raise _header_error(data, offset)
    try:
        image = LoadFirmwareImage(chip, data)
    except (FatalError, struct.error, RuntimeError, ValueError) as exc:
        raise ImageError(
            f"the image at {offset:#x} is truncated or corrupt ({exc})",
            f"E (47) esp_image: image at {offset:#x} has invalid segments\r\n",
        ) from None
    expected_id = CHIPS[chip].image_chip_id
    if image.chip_id != expected_id:
        raise ImageError(
            f"the image at {offset:#x} is for {chip_name_for_id(image.chip_id)} (chip id {image.chip_id}), "
            f"not {CHIPS[chip].esptool_name} (chip id {expected_id})",
            f"E (31) boot_comm: mismatch chip ID, expected {expected_id}, found {image.chip_id}\r\n",
        )
    calculated = image.calculate_checksum()
    if calculated != image.checksum:
        raise ImageError(
            f"the image at {offset:#x} fails its checksum (calculated {calculated:#04x}, stored {image.checksum:#04x})",
            f"E (52) esp_image: Checksum failed. Calculated {calculated:#04x} read {image.checksum:#04x}\r\n",
        )
    if image.append_digest and image.stored_digest != image.calc_digest:
        raise ImageError(
            f"the image at {offset:#x} fails its SHA-256 check (it is incomplete or corrupt)",
            "E (61) esp_image: Image hash failed - image is corrupt\r\n",
        )
    return image


def _app_description(image: ESP32FirmwareImage) -> tuple[str, str, str] | None:
    """(project name, version, IDF version) from the esp_app_desc_t at the start of the first segment."""
    if not image.segments or len(image.segments[0].data) < struct.calcsize(APP_DESC_FORMAT):
        return None
    fields = struct.unpack_from(APP_DESC_FORMAT, image.segments[0].data)
    if fields[0] != APP_DESC_MAGIC:
        return None

    def text(raw: bytes) -> str:
        return raw.split(b"\x00", 1)[0].decode("ascii", "replace")

    return text(fields[4]), text(fields[3]), text(fields[7])


def _factory_app_offset(read: Callable[[int, int], bytes]) -> int | None:
    """Offset of the first app partition in the partition table at 0x8000, if there is one."""
    entry_size = struct.calcsize(PARTITION_FORMAT)
    for index in range(95):
        entry = read(PARTITION_TABLE_OFFSET + index * entry_size, entry_size)
        if len(entry) < entry_size:
            return None
        magic, kind, _subtype, offset, _size, _label, _flags = struct.unpack(PARTITION_FORMAT, entry)
        if magic != PARTITION_MAGIC:
            return None
        if kind == APP_PARTITION_TYPE:
            return int(offset)
    return None


def find_app_image(read: Callable[[int, int], bytes], limit: int, chip: str, offset: int) -> AppImage:
    """The app image the boot chain of ``chip`` runs from flash at ``offset``.

    ``read(address, length)`` reads flash (or a file placed at ``offset``) up to ``limit``;
    raises ImageError with the reason and the chip's boot console output.
    """
    image = _load(read(offset, limit - offset), chip, offset)
    app_offset = offset
    description = _app_description(image)
    if description is None:
        factory = _factory_app_offset(read)
        if factory is not None and offset < factory < limit:
            image = _load(read(factory, limit - factory), chip, factory)
            app_offset = factory
            description = _app_description(image)
    flash_segments = {id(s) for s in image.segments if image.is_flash_addr(s.addr)}
    return AppImage(
        chip=chip,
        offset=app_offset,
        size=int(image.data_length) + (image.SHA256_DIGEST_LEN if image.append_digest else 0),
        project_name=description[0] if description else None,
        version=description[1] if description else None,
        idf_version=description[2] if description else None,
        entrypoint=int(image.entrypoint),
        ram_segments=tuple((int(s.addr), len(s.data)) for s in image.segments
                           if id(s) not in flash_segments and s.addr != 0),
    )


def inspect_firmware(data: bytes, chip: str, offset: int) -> AppImage:
    """Check a firmware file meant for flash ``offset`` on ``chip``; ImageError says why it is unusable."""

    def read(address: int, length: int) -> bytes:
        start = address - offset
        return data[start : start + length] if start >= 0 else b""

    return find_app_image(read, offset + len(data), chip, offset)


def boot_console(app: AppImage) -> str:
    """The ROM's log lines when it loads ``app`` (segment loads and the jump to the entry point)."""
    lines = ["mode:DIO, clock div:2"]
    lines += [f"load:{address:#010x},len:{length}" for address, length in app.ram_segments]
    lines.append(f"entry {app.entrypoint:#010x}")
    return "".join(line + "\r\n" for line in lines)


def check_boot(read: Callable[[int, int], bytes], flash_size: int, chip: str, offset: int) -> BootResult:
    """What the chip does after a reset into flash boot, given its flash contents."""
    try:
        app = find_app_image(read, flash_size, chip, offset)
    except ImageError as exc:
        return BootResult(False, None, exc.console, exc.reason)
    console = boot_console(app)
    if not app.is_micropython:
        what = f"'{app.project_name}' {app.version}" if app.project_name else "an app without an app descriptor"
        reason = f"the image at {app.offset:#x} is {what}, not MicroPython; the virtual node runs only MicroPython"
        return BootResult(False, None, console, reason)
    return BootResult(True, app.version, console, None)


def make_standin_image(chip: str, version: str = "v1.27.0", code_size: int = 64 * 1024) -> bytes:
    """A valid app image for ``chip`` that the virtual node boots as MicroPython ``version``.

    Real header, segments (DROM with the esp_app_desc_t, IROM, DRAM, IRAM), checksum and SHA-256,
    built by esptool's image writer; ``code_size`` bytes of filler stand in for the code.
    """
    if chip not in IMAGE_CLASSES:
        raise ValueError(f"no image format for chip {chip!r}; known: {', '.join(IMAGE_CLASSES)}")
    image_class = IMAGE_CLASSES[chip]
    loader = image_class.ROM_LOADER
    filler = hashlib.shake_256(f"{chip} {version}".encode()).digest(code_size // 2)
    code = (filler + bytes(code_size - len(filler)))[: code_size & ~3]
    description = struct.pack(
        APP_DESC_FORMAT,
        APP_DESC_MAGIC,
        0,
        b"",
        version.encode()[:31],
        b"micropython",
        b"00:00:00",
        b"Jan  1 2026",
        b"v5.4.1",
        hashlib.sha256(code).digest(),
        0,
        0,
        0,
        b"",
        b"",
    )
    rodata = description + STANDIN_NOTE.ljust((len(STANDIN_NOTE) + 3) & ~3, b"\x00")
    dram, iram = RAM_SEGMENT_ADDRESSES[chip]
    image = image_class()
    image.flash_mode = 2  # DIO
    image.flash_size_freq = loader.FLASH_SIZES["4MB"]
    image.entrypoint = iram
    image.segments = [
        ELFSection(b".flash.appdesc", loader.DROM_MAP_START + 0x20, rodata, 0),
        ELFSection(b".flash.text", loader.IROM_MAP_START + 0x20, code, 0),
        ELFSection(b".dram0.data", dram, bytes(4096), 0),
        ELFSection(b".iram0.text", iram, code[: 16 * 1024], 0),
    ]
    data: bytes | None = image.save(None)
    assert data is not None
    return data
