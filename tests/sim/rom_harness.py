"""A serial port straight into the ROM bootloader, for testing it with the real esptool.

``romtest://NAME`` opens the chip registered as NAME: the auto-reset circuit (DTR/RTS to
IO0/EN, EN rising slowly enough that IO0 is sampled at the next line change), the ROM in
download mode and a boot check otherwise. Everything runs in the caller's thread, so a reply
is waiting before esptool reads and an absent reply times out at once. Faults for tests: cut
power after N bytes from the host, rewrite what the chip sends.
"""

from __future__ import annotations

import errno
import sys
import types
from collections.abc import Callable
from pathlib import Path

import serial

from fabnode.boards import Board
from fabnode.sim.chips import CHIPS, mac_for
from fabnode.sim.flash import NorFlash
from fabnode.sim.image import BootResult, check_boot
from fabnode.sim.rom import RomBootloader

CHIPS_BY_NAME: dict[str, Chip] = {}


class Chip:
    """The chip side of one test port."""

    def __init__(self, name: str, board: Board, flash_path: Path) -> None:
        self.name = name
        self.board = board
        self.model = CHIPS[board.chip]
        self.flash = NorFlash(flash_path, board.flash_size)
        self.rom: RomBootloader | None = None
        self.boot: BootResult | None = None
        self.console = bytearray()  # everything the chip sent
        self.to_host = bytearray()
        self.powered = True
        self.power_cut_after: int | None = None  # bytes from the host until the power goes
        self.output_filter: Callable[[bytes], bytes] | None = None
        self.dtr = self.rts = False
        self._en_rising = False
        CHIPS_BY_NAME[name] = self

    @property
    def url(self) -> str:
        return f"romtest://{self.name}"

    def close(self) -> None:
        CHIPS_BY_NAME.pop(self.name, None)
        self.flash.close()

    # RomHost
    def rom_output(self, data: bytes) -> None:
        if self.output_filter is not None:
            data = self.output_filter(data)
        self.console += data
        self.to_host += data

    def rom_run_user_code(self) -> None:
        self.rom = None
        self._boot_from_flash()

    def reset(self, download: bool) -> None:
        """EN released; IO0 (BOOT) low means download mode."""
        self.powered = True
        self.rom = None
        self.boot = None
        banner = self.model.rom_banner
        if download:
            self.rom_output((banner + self.model.download_boot).encode())
            self.rom = RomBootloader(self.model, self.flash, mac_for(self.name), self)
        else:
            self.rom_output((banner + self.model.flash_boot).encode())
            self._boot_from_flash()

    def _boot_from_flash(self) -> None:
        self.boot = check_boot(self.flash.read, self.flash.size, self.model.name, self.board.app_offset)
        self.rom_output(self.boot.console.encode())

    def set_lines(self, dtr: bool, rts: bool) -> None:
        was_in_reset = self.rts and not self.dtr
        self.dtr, self.rts = dtr, rts
        if self._en_rising:
            self._settle()
        elif was_in_reset and not (rts and not dtr):
            self._en_rising = True  # the EN capacitor charges: IO0 is sampled after the next change

    def _settle(self) -> None:
        if self._en_rising:
            self._en_rising = False
            self.reset(download=self.dtr and not self.rts)

    def from_host(self, data: bytes) -> None:
        self._settle()
        if not self.powered:
            return
        if self.power_cut_after is not None:
            if len(data) >= self.power_cut_after:
                data = data[: self.power_cut_after]
                self.powered = False
                self.power_cut_after = None
            else:
                self.power_cut_after -= len(data)
        if self.rom is not None and data:
            self.rom.feed(data)
        if not self.powered:
            self.rom = None

    def take(self, size: int) -> bytes:
        self._settle()
        data = bytes(self.to_host[:size])
        del self.to_host[:size]
        return data


class Serial(serial.SerialBase):
    """pyserial's side of ``romtest://NAME``."""

    def open(self) -> None:
        name = str(self.portstr).removeprefix("romtest://")
        if name not in CHIPS_BY_NAME:
            raise serial.SerialException(f"could not open port {self.portstr}: no such test chip")
        self.chip = CHIPS_BY_NAME[name]
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def fileno(self) -> int:
        raise OSError(errno.ENOTTY, "not a tty")  # esptool's tight reset needs ioctl; it falls back

    @property
    def in_waiting(self) -> int:
        return len(self.chip.to_host)

    def read(self, size: int = 1) -> bytes:
        return self.chip.take(size)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chip.from_host(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self.chip.to_host.clear()

    def reset_output_buffer(self) -> None:
        pass

    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass

    def _update_dtr_state(self) -> None:
        self.chip.set_lines(self._dtr_state, self._rts_state)

    def _update_rts_state(self) -> None:
        self.chip.set_lines(self._dtr_state, self._rts_state)


def register() -> None:
    """Make ``serial.serial_for_url("romtest://NAME")`` find this module."""
    package = types.ModuleType("fabnode_romtest")
    package.__path__ = []
    sys.modules["fabnode_romtest"] = package
    sys.modules["fabnode_romtest.protocol_romtest"] = sys.modules[__name__]
    if "fabnode_romtest" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("fabnode_romtest")
