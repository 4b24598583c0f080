"""``ds18x20`` for the virtual node: the API of MicroPython's DS18x20 driver, for DS18B20 and DS1822.

(The simulated bus has no DS18S20, so its 9-bit format is left out.)
"""

_CONVERT = 0x44
_READ_SCRATCH = 0xBE
_WRITE_SCRATCH = 0x4E
_FAMILIES = (0x22, 0x28)


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire
        self.buf = bytearray(9)

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in _FAMILIES]

    def convert_temp(self):
        """Start a conversion on every sensor (takes up to 750 ms at 12 bits)."""
        self.ow.reset(True)
        self.ow.writebyte(self.ow.SKIP_ROM)
        self.ow.writebyte(_CONVERT)

    def read_scratch(self, rom):
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(_READ_SCRATCH)
        self.ow.readinto(self.buf)
        if self.ow.crc8(self.buf):
            raise Exception("CRC error")
        return self.buf

    def write_scratch(self, rom, buf):
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(_WRITE_SCRATCH)
        self.ow.write(buf)

    def read_temp(self, rom):
        """Temperature in °C from the last conversion."""
        buf = self.read_scratch(rom)
        raw = buf[1] << 8 | buf[0]
        if raw & 0x8000:
            raw -= 0x10000
        return raw / 16
