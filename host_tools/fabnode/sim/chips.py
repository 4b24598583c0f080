"""What the ROM bootloader of each supported chip shows esptool: ids, eFuse words, register map.

Values follow esptool's own target classes (``esptool.targets``), so what esptool reads back
decodes to a plausible chip: an ESP32-D0WD-V3 rev v3.1, an ESP32-S3 (QFN56) rev v0.2, an
ESP32-C3 (QFN32) rev v0.4, each with a Winbond-style 25Q NOR flash of the board's size.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

# Espressif's OUI; the rest of a virtual node's MAC comes from its name.
ESPRESSIF_OUI = bytes((0x24, 0x0A, 0xC4))
FLASH_MANUFACTURER = 0xEF  # Winbond: not XMC, so esptool skips its XMC start-up workaround
FLASH_MEMORY_TYPE = 0x40
# RDID capacity byte -> flash size, as esptool's DETECTED_FLASH_SIZES decodes it.
FLASH_CAPACITY_CODES = {1 << 20: 0x14, 2 << 20: 0x15, 4 << 20: 0x16, 8 << 20: 0x17, 16 << 20: 0x18}
# The ROM's UART clock: esptool estimates the crystal from (baud x divider).
APB_CLOCK_HZ = 40_000_000


@dataclass(frozen=True)
class SpiRegisters:
    """The SPI0/1 flash controller registers esptool drives for "user" SPI commands (RDID, SFDP)."""

    base: int
    usr: int
    usr1: int
    usr2: int
    mosi_dlen: int
    miso_dlen: int
    w0: int
    addr_msb_aligned: bool  # ESP32 left-aligns the address in SPI_ADDR_REG

    @property
    def cmd(self) -> int:
        return self.base

    @property
    def addr(self) -> int:
        return self.base + 0x04


@dataclass(frozen=True)
class ChipModel:
    name: str  # fabnode's chip id, as in boards/*.json
    esptool_name: str  # esptool's CHIP_NAME
    image_chip_id: int  # the chip id field of an app image header
    magic_value: int | None  # READ_REG 0x40001000 (chips detected by magic value)
    has_security_info: bool  # GET_SECURITY_INFO answers with a chip id
    spi: SpiRegisters
    uart_clkdiv_reg: int
    mac_reg: int  # first of the two eFuse words holding the MAC
    mac_layout: str  # "esp32": words 2/1 big-endian with a CRC byte; "block1": words 0/1 of BLOCK1
    fixed_registers: dict[int, int] = field(default_factory=dict)
    rom_banner: str = ""
    download_boot: str = ""
    flash_boot: str = ""

    def registers_for(self, mac: bytes) -> dict[int, int]:
        """Power-on register values: the fixed ones plus the eFuse words that hold ``mac``."""
        registers = dict(self.fixed_registers)
        if self.mac_layout == "esp32":
            # read_mac(): pack(">II", efuse[2], efuse[1])[2:8]; the byte above the MAC is its CRC.
            high, low = struct.unpack(">HI", mac)
            registers[self.mac_reg] = low
            registers[self.mac_reg + 4] = (_crc8(mac) << 16) | high
        else:
            # read_mac(): pack(">II", mac1, mac0)[2:]
            high, low = struct.unpack(">HI", mac)
            registers[self.mac_reg] = low
            registers[self.mac_reg + 4] = high
        return registers


def _crc8(data: bytes) -> int:
    """The CRC-8 (poly 0x07, as in esp_efuse_utility) ESP32 stores beside the factory MAC."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def mac_for(node_name: str) -> bytes:
    """A stable, node-specific MAC in Espressif's range (the virtual node's ``machine.unique_id()``)."""
    return ESPRESSIF_OUI + hashlib.sha256(node_name.encode()).digest()[:3]


def flash_id(size: int) -> int:
    """The 24-bit RDID answer (manufacturer | type << 8 | capacity << 16) for a flash of ``size`` bytes."""
    return FLASH_MANUFACTURER | FLASH_MEMORY_TYPE << 8 | FLASH_CAPACITY_CODES[size] << 16


ESP32_EFUSE = 0x3FF5A000
S3_EFUSE = 0x60007000
C3_EFUSE = 0x60008800

# The ESP32-S3 and ESP32-C3 share the SPI1 controller layout and the UART0 clock divider address.
NEWER_SPI = SpiRegisters(0x60002000, usr=0x18, usr1=0x1C, usr2=0x20, mosi_dlen=0x24, miso_dlen=0x28,
                         w0=0x58, addr_msb_aligned=False)
NEWER_UART_CLKDIV = 0x60000014

CHIPS: dict[str, ChipModel] = {
    "esp32": ChipModel(
        name="esp32",
        esptool_name="ESP32",
        image_chip_id=0,
        magic_value=0x00F01D83,
        has_security_info=False,
        spi=SpiRegisters(0x3FF42000, usr=0x1C, usr1=0x20, usr2=0x24, mosi_dlen=0x28, miso_dlen=0x2C,
                         w0=0x80, addr_msb_aligned=True),
        uart_clkdiv_reg=0x3FF40014,
        mac_reg=ESP32_EFUSE + 0x04,
        mac_layout="esp32",
        fixed_registers={
            0x40001000: 0x00F01D83,
            # word 3: package D0WD (bits 9-11 = 1), revision bit 0 (bit 15)
            ESP32_EFUSE + 0x0C: (1 << 9) | (1 << 15),
            # word 4: CK8M calibration (bits 0-7), so esptool's ROM crystal estimate is 40 MHz
            ESP32_EFUSE + 0x10: 100,
            # word 5: revision bit 1 (bit 20), minor revision 1 (bits 24-25)
            ESP32_EFUSE + 0x14: (1 << 20) | (1 << 24),
            0x3FF6607C: 1 << 31,  # APB_CTL_DATE: revision bit 2
            0x3FF5F06C: 1024 << 7,  # RTCCALICFG1: 1024 x 15625 x 100 / 40 = 40 MHz
        },
        rom_banner="ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),",
        download_boot="boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n",
        flash_boot="boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    ),
    "esp32s3": ChipModel(
        name="esp32s3",
        esptool_name="ESP32-S3",
        image_chip_id=9,
        magic_value=None,
        has_security_info=True,
        spi=NEWER_SPI,
        uart_clkdiv_reg=NEWER_UART_CLKDIV,
        mac_reg=S3_EFUSE + 0x44,
        mac_layout="block1",
        fixed_registers={
            S3_EFUSE + 0x44 + 12: 2 << 18,  # BLOCK1 word 3: minor revision 2, package QFN56
        },
        rom_banner="ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x1 (POWERON),",
        download_boot="boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n",
        flash_boot="boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n",
    ),
    "esp32c3": ChipModel(
        name="esp32c3",
        esptool_name="ESP32-C3",
        image_chip_id=5,
        magic_value=None,
        has_security_info=True,
        spi=NEWER_SPI,
        uart_clkdiv_reg=NEWER_UART_CLKDIV,
        mac_reg=C3_EFUSE + 0x44,
        mac_layout="block1",
        fixed_registers={
            C3_EFUSE + 0x44 + 12: 4 << 18,  # BLOCK1 word 3: minor revision 4, package QFN32
        },
        rom_banner="ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\nrst:0x1 (POWERON),",
        download_boot="boot:0x5 (DOWNLOAD(USB/UART0/1))\r\nwaiting for download\r\n",
        flash_boot="boot:0xc (SPI_FAST_FLASH_BOOT)\r\n",
    ),
}


def get_chip(name: str) -> ChipModel:
    return CHIPS[name]
