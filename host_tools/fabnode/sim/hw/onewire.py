"""``onewire`` for the virtual node: the API of MicroPython's ``onewire`` driver over a simulated bus.

The bus is a wired-AND of the devices ``simhw`` puts on the pin: a read slot returns 1 unless a
device pulls it low, a reset reports whether any device answered with a presence pulse.
"""

import simhw


class OneWireError(Exception):
    pass


def crc8(data):
    """Dallas/Maxim CRC-8 (x^8 + x^5 + x^4 + 1, LSB first); 0 over data that ends in its CRC."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


class OneWire:
    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, pin):
        self.pin = pin
        pin.init(pin.OPEN_DRAIN, pin.PULL_UP)
        self._devices = simhw.world().onewire.get(pin.id, [])

    def reset(self, required=False):
        """Reset pulse; True if a device answered with a presence pulse."""
        present = False
        for device in self._devices:
            if device.present:
                device.ow_reset()
                present = True
        if required and not present:
            raise OneWireError
        return present

    def readbit(self):
        bit = 1
        for device in self._devices:
            if device.present:
                bit &= device.ow_read_bit()
        return bit

    def readbyte(self):
        value = 0
        for i in range(8):
            value |= self.readbit() << i
        return value

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def writebit(self, value):
        for device in self._devices:
            if device.present:
                device.ow_write_bit(1 if value else 0)

    def writebyte(self, value):
        for i in range(8):
            self.writebit((value >> i) & 1)

    def write(self, buf):
        for byte in buf:
            self.writebyte(byte)

    def select_rom(self, rom):
        self.reset()
        self.writebyte(self.MATCH_ROM)
        self.write(rom)

    def scan(self):
        """ROM codes (8 bytes each) of the devices on the bus, by the SEARCH ROM algorithm."""
        found = []
        rom = None
        last = 0
        while True:
            rom, last = self._search(rom, last)
            if rom is None:
                return found
            found.append(rom)
            if last == 0:
                return found

    def _search(self, previous, last_discrepancy):
        # One pass of Maxim's search (application note 187): at a conflict below the last
        # discrepancy follow the previous path, at it take 1, above it take 0.
        if not self.reset():
            return None, 0
        self.writebyte(self.SEARCH_ROM)
        rom = bytearray(8)
        discrepancy = 0
        for position in range(1, 65):
            index = (position - 1) >> 3
            mask = 1 << ((position - 1) & 7)
            bit = self.readbit()
            complement = self.readbit()
            if bit and complement:
                return None, 0
            if bit != complement:
                direction = bit
            else:
                if position < last_discrepancy:
                    direction = 1 if previous[index] & mask else 0
                else:
                    direction = 1 if position == last_discrepancy else 0
                if not direction:
                    discrepancy = position
            if direction:
                rom[index] |= mask
            self.writebit(direction)
        return bytes(rom), discrepancy

    def crc8(self, data):
        return crc8(data)
