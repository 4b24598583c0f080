"""DS18B20 1-Wire thermometer model (Maxim DS18B20 data sheet, rev. 6), at the level of time slots.

ROM commands SEARCH ROM (F0h), READ ROM (33h), MATCH ROM (55h), SKIP ROM (CCh), ALARM SEARCH
(ECh); function commands CONVERT T (44h: read slots give 0 until done, 93.75-750 ms by
resolution), WRITE SCRATCHPAD (4Eh: TH, TL, configuration), READ SCRATCHPAD (BEh: 9 bytes, the
last a CRC), COPY SCRATCHPAD (48h), RECALL E2 (B8h), READ POWER SUPPLY (B4h: externally
powered). The temperature register reads 85 °C (0550h) until the first conversion.
"""

from binascii import unhexlify

import simhw
from onewire import crc8

_IDLE = 0  # waits for a reset
_ROM = 1  # receives a ROM command
_MATCH = 2
_SEARCH = 3
_FUNCTION = 4
_WRITE = 5
_READ = 6
_CONVERT_TIME_US = (93750, 187500, 375000, 750000)


class DS18B20:
    """One sensor; ``rom`` (16 hex digits, optional) is its 64-bit ROM code without the CRC byte."""

    def __init__(self, world, rom=None):
        self.world = world
        self.present = True
        self.nacks = 0
        self.stuck = False
        serial = unhexlify(rom) if rom else b"\x28" + world.unique_id
        self._serial = bytes(serial[1:7])
        self.swap_chip(False)
        self.scratch = bytearray(b"\x50\x05\x4b\x46\x7f\xff\x0c\x10\x00")
        self.eeprom = bytearray(self.scratch[2:5])
        self.conversions = 0
        self._busy_until = 0
        self._pending_temp = False
        self._state = _IDLE
        self._bits = 0
        self._count = 0
        self._value = 0
        self._out = b""
        self._search_phase = 0
        self._alarm_search = False
        self._seal()

    def swap_chip(self, other):
        """The "wrong_id" fault: a DS18S20 (family 0x10) in its place, or the DS18B20 (0x28) back."""
        head = (b"\x10" if other else b"\x28") + self._serial
        self.rom = head + bytes([crc8(head)])

    def _seal(self):
        self.scratch[8] = crc8(self.scratch[:8])

    def _finish_conversion(self):
        if self._pending_temp and simhw.now_us() >= self._busy_until:
            self._pending_temp = False
            celsius = self.world.temperature.at(self._busy_until)
            resolution = (self.scratch[4] >> 5) & 3
            raw = int(celsius * 16 + (0.5 if celsius >= 0 else -0.5)) & 0xFFFF
            raw &= ~((1 << (3 - resolution)) - 1) & 0xFFFF  # undefined low bits read as 0
            self.scratch[0] = raw & 0xFF
            self.scratch[1] = raw >> 8
            self._seal()

    def _alarm(self):
        self._finish_conversion()
        raw = self.scratch[1] << 8 | self.scratch[0]
        degrees = (raw - 0x10000 if raw & 0x8000 else raw) >> 4
        high = self.scratch[2] - 256 if self.scratch[2] & 0x80 else self.scratch[2]
        low = self.scratch[3] - 256 if self.scratch[3] & 0x80 else self.scratch[3]
        return degrees >= high or degrees <= low

    # -- time slots ----------------------------------------------------------------------------

    def ow_reset(self):
        self._finish_conversion()
        self._state = _ROM
        self._bits = 0
        self._value = 0

    def ow_write_bit(self, bit):
        state = self._state
        if state == _SEARCH:
            if self._search_phase == 2:
                own = (self.rom[self._count >> 3] >> (self._count & 7)) & 1
                self._count += 1
                self._search_phase = 0
                if bit != own:
                    self._state = _IDLE
                elif self._count == 64:
                    self._state = _FUNCTION
            return
        if state in (_IDLE, _READ):
            return
        self._value |= bit << self._bits
        self._bits += 1
        if state == _MATCH:
            if self._bits == 64:
                self._state = _FUNCTION if self._value == int.from_bytes(self.rom, "little") else _IDLE
                self._bits = 0
                self._value = 0
        elif self._bits == 8:
            byte = self._value
            self._bits = 0
            self._value = 0
            if state == _ROM:
                self._rom_command(byte)
            elif state == _FUNCTION:
                self._function_command(byte)
            elif state == _WRITE:
                if self._count == 2:
                    byte = (byte & 0x60) | 0x1F  # only R1 R0 of the configuration are writable
                self.scratch[2 + self._count] = byte
                self._count += 1
                if self._count == 3:
                    self._seal()
                    self._state = _IDLE

    def ow_read_bit(self):
        state = self._state
        if state == _SEARCH:
            own = (self.rom[self._count >> 3] >> (self._count & 7)) & 1
            phase = self._search_phase
            if phase < 2:
                self._search_phase += 1
                return own if phase == 0 else own ^ 1
            return 1
        if state == _READ:
            if self._count < len(self._out) * 8:
                bit = (self._out[self._count >> 3] >> (self._count & 7)) & 1
                self._count += 1
                return bit
            return 1
        if state == _FUNCTION and self._pending_temp:
            return 0 if simhw.now_us() < self._busy_until else 1  # CONVERT T: 0 while converting
        return 1

    def _rom_command(self, command):
        if command == 0xCC:
            self._state = _FUNCTION
        elif command == 0x55:
            self._state = _MATCH
        elif command == 0x33:
            self._send(self.rom)
        elif command == 0xF0 or (command == 0xEC and self._alarm()):
            self._state = _SEARCH
            self._count = 0
            self._search_phase = 0
        else:
            self._state = _IDLE

    def _function_command(self, command):
        if command == 0x44:
            self.conversions += 1
            self._pending_temp = True
            self._busy_until = simhw.now_us() + _CONVERT_TIME_US[(self.scratch[4] >> 5) & 3]
        elif command == 0xBE:
            self._finish_conversion()
            self._send(self.scratch)
        elif command == 0x4E:
            self._state = _WRITE
            self._count = 0
        elif command == 0x48:
            self.eeprom[:] = self.scratch[2:5]
        elif command == 0xB8:
            self.scratch[2:5] = self.eeprom
            self._seal()
        elif command == 0xB4:
            self._send(b"\xff")  # externally powered: read slots return 1
        else:
            self._state = _IDLE

    def _send(self, data):
        self._out = bytes(data)
        self._count = 0
        self._state = _READ

    def stats(self):
        self._finish_conversion()
        raw = self.scratch[1] << 8 | self.scratch[0]
        return {"present": self.present, "conversions": self.conversions,
                "temperature_c": (raw - 0x10000 if raw & 0x8000 else raw) / 16}
