"""The vibration a sensor model measures, streamed from a signal file the host rendered.

A signal file (``fabnode.sim.signals`` writes it, usually to ``/.sim/data/vibration.fnsig``) is,
little-endian:

- header ``<4sHHIHhHHI`` (24 bytes): magic ``FNSG``, version 1, header size in bytes (with the
  segment table), sample rate in mHz, channels (3: x, y, z), ``shift`` (a value ``v`` is
  ``v / 2**shift`` g), segment count (1 or 2), 0, bearing-fault onset in ms of simulated time
  (0xFFFFFFFF: none);
- segment table, ``<II`` per segment: first frame, frame count. Segment 0 is the healthy machine,
  segment 1 (optional) the machine with a bearing fault. Each loops;
- frames: ``channels`` int16 values each.

Frame ``p`` plays at simulated time ``p / rate``: before the onset it is frame ``p mod n0`` of
segment 0, from the onset on frame ``(p - onset) mod n1`` of segment 1. Only a small chunk is in
RAM; integers only, so every port computes the same samples.
"""

import struct
from array import array
from io import BytesIO

MAGIC = b"FNSG"
VERSION = 1
HEADER = "<4sHHIHhHHI"
HEADER_SIZE = 24
SEGMENT = "<II"
NO_ONSET = 0xFFFFFFFF
CHANNELS = 3
CHUNK_FRAMES = 256
STILL_SHIFT = 14  # the signal of a node without a file: at rest, 1 g on z


def still_signal():
    """A machine that is switched off: gravity on z, nothing else."""
    header = struct.pack(HEADER, MAGIC, VERSION, HEADER_SIZE + 8, 1000000, CHANNELS, STILL_SHIFT, 1, 0,
                         NO_ONSET)
    return BytesIO(header + struct.pack(SEGMENT, 0, 1) + struct.pack("<hhh", 0, 0, 1 << STILL_SHIFT))


class Signal:
    """Frames of a signal file by their play position; ``buf[at(p) + axis]`` is the value."""

    def __init__(self, path=None):
        self._file = open(path, "rb") if path else still_signal()  # noqa: SIM115  (open while the sensor lives)
        head = self._file.read(HEADER_SIZE)
        magic, version, size, self.rate_mhz, channels, self.shift, count, _, onset_ms = struct.unpack(HEADER, head)
        if magic != MAGIC or version != VERSION or channels != CHANNELS or not 1 <= count <= 2:
            raise ValueError(f"{path} is not a version {VERSION} signal file with {CHANNELS} channels")
        table = self._file.read(8 * count)
        self._segments = [struct.unpack_from(SEGMENT, table, 8 * i) for i in range(count)]
        self._data_offset = size
        self.buf = array("h", bytes(2 * CHANNELS * CHUNK_FRAMES))
        self._view = memoryview(self.buf)
        self._start = 0
        self._count = 0
        self.onset = -1
        if onset_ms != NO_ONSET:
            self.arm(onset_ms * 1000)

    @property
    def has_fault(self):
        return len(self._segments) > 1

    def position(self, t_us):
        """The frame that plays at simulated time ``t_us``."""
        return t_us * self.rate_mhz // 1000000000

    def arm(self, onset_us):
        """Switch to the bearing-fault segment at ``onset_us`` (-1: never)."""
        if onset_us >= 0 and not self.has_fault:
            raise ValueError("this node's vibration signal has no bearing-fault segment")
        self.onset = -1 if onset_us < 0 else self.position(onset_us)
        self._count = 0

    def at(self, p):
        """Index in ``buf`` of the first value of frame ``p`` (reads are cheap while positions move forward)."""
        i = p - self._start
        if 0 <= i < self._count:
            return i * CHANNELS
        self._fill(p)
        return 0

    def _fill(self, p):
        onset = self.onset
        if onset < 0 or p < onset:
            first, frames = self._segments[0]
            offset = p % frames
            count = frames - offset
            if onset >= 0 and onset - p < count:
                count = onset - p
        else:
            first, frames = self._segments[1]
            offset = (p - onset) % frames
            count = frames - offset
        if count > CHUNK_FRAMES:
            count = CHUNK_FRAMES
        self._file.seek(self._data_offset + 2 * CHANNELS * (first + offset))
        self._file.readinto(self._view[: CHANNELS * count])
        self._start = p
        self._count = count

    def close(self):
        self._file.close()
