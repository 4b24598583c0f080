"""Alarm state machines, pure logic shared by the node and the host (``fabnode score``).

``AlarmState``: k of the last n windows anomalous starts an alarm, at most ``clear`` of the last
n clears it (hysteresis). ``iso_zone``: ISO 10816-1 evaluation zones of vibration velocity.
"""

START = "start"
CLEAR = "clear"

# ISO 10816-1 zone boundaries A/B, B/C, C/D in mm/s RMS, by machine class:
# I small machines (<= 15 kW), II medium (15-75 kW), III large on rigid foundations,
# IV large on soft foundations.
ZONE_LIMITS = {
    "I": (0.71, 1.8, 4.5),
    "II": (1.12, 2.8, 7.1),
    "III": (1.8, 4.5, 11.2),
    "IV": (2.8, 7.1, 18.0),
}
ZONES = "ABCD"


def machine_class(name: "str | int") -> str:
    """Normalise a machine class (``"II"``, ``"ii"``, ``2``) to ``"I"``..``"IV"``; ValueError otherwise."""
    text = str(name).upper()
    if text in ("1", "2", "3", "4"):
        text = ("I", "II", "III", "IV")[int(text) - 1]
    if text not in ZONE_LIMITS:
        raise ValueError(f"machine class must be I, II, III or IV, not {name!r}")
    return text


def iso_zone(velocity_mm_s: float, cls: str) -> str:
    """ISO 10816 zone letter of a velocity RMS (mm/s) for machine class ``cls`` (``"I"``..``"IV"``)."""
    limits = ZONE_LIMITS[cls]
    zone = 0
    while zone < 3 and velocity_mm_s >= limits[zone]:
        zone += 1
    return ZONES[zone]


def zone_limit(zone: str, cls: str) -> float:
    """Lowest velocity (mm/s) that is in ``zone`` (``"B"``..``"D"``) for machine class ``cls``."""
    return ZONE_LIMITS[cls][ZONES.index(zone) - 1]


class AlarmState:
    """k-of-n alarm with hysteresis: ``update(is_over)`` -> ``"start"``, ``"clear"`` or None."""

    def __init__(self, k: int, n: int, clear: "int | None" = None) -> None:
        if not 1 <= k <= n <= 30:
            raise ValueError(f"need 1 <= k <= n <= 30, got k={k} n={n}")
        if clear is None:
            clear = (k - 1) // 2
        if not 0 <= clear < k:
            raise ValueError(f"need 0 <= clear < k, got clear={clear} k={k}")
        self.k = k
        self.n = n
        self.clear = clear
        self.active = False
        self.count = 0  # windows over the limit among the last n
        self._history = 0  # bit i: window i steps ago was over (a small int: n <= 30)
        self._top = 1 << (n - 1)

    def reset(self) -> None:
        self.active = False
        self.count = 0
        self._history = 0

    def update(self, is_over: bool) -> "str | None":
        if self._history & self._top:
            self.count -= 1
        self._history = (self._history << 1) & ((self._top << 1) - 1)
        if is_over:
            self._history |= 1
            self.count += 1
        if not self.active and self.count >= self.k:
            self.active = True
            return START
        if self.active and self.count <= self.clear:
            self.active = False
            return CLEAR
        return None


class LevelAlarm:
    """Over-limit alarm with hysteresis: starts above ``limit``, clears below ``limit - hysteresis``."""

    def __init__(self, limit: float, hysteresis: float) -> None:
        if hysteresis < 0:
            raise ValueError("hysteresis must be >= 0")
        self.limit = limit
        self.hysteresis = hysteresis
        self.active = False

    def update(self, value: float) -> "str | None":
        if not self.active and value > self.limit:
            self.active = True
            return START
        if self.active and value < self.limit - self.hysteresis:
            self.active = False
            return CLEAR
        return None
