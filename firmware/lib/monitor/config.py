"""Node configuration: the board file (``/config/board.json``) plus ``/config/node.json``.

The board decides buses, pins and sensors; node.json names the node and sets its alarm limits.
Missing node.json keys take the defaults below; a wrong value raises ValueError saying which.
"""

import json

from monitor import alarms

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BOARD_FILE = "/config/board.json"
NODE_FILE = "/config/node.json"

DEFAULTS: "dict[str, Any]" = {
    "node_id": None,  # None: "fab-" + the last 6 hex digits of machine.unique_id()
    "machine_class": "II",  # ISO 10816: I, II, III, IV
    "iso_alarm_zone": "C",  # the ISO alarm starts at this zone or worse
    "iso_k": 3,
    "iso_n": 5,
    "temp_max_c": 70.0,
    "temp_hysteresis_c": 2.0,
    "temp_interval_s": 5,
    "telemetry_s": 10,
    "watchdog_ms": 8000,
}
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"


def _read_json(path: str) -> "Any":
    with open(path) as f:
        return json.load(f)


def valid_node_id(text: object) -> bool:
    return isinstance(text, str) and 1 <= len(text) <= 32 and all(c in _ID_CHARS for c in text)


class Config:
    """Board and node settings, validated (``ValueError`` names the bad key)."""

    def __init__(self, board: "dict[str, Any]", node: "dict[str, Any]", uid: str = "000000") -> None:
        self.board = board
        settings = dict(DEFAULTS)
        for key in node:
            if key not in DEFAULTS:
                raise ValueError(f"node.json: unknown key {key!r}")
            settings[key] = node[key]
        node_id = settings["node_id"] or "fab-" + uid[-6:]
        if not valid_node_id(node_id):
            raise ValueError(f"node.json: node_id {node_id!r} must be 1-32 of A-Z a-z 0-9 _ . -")
        self.node_id = node_id
        self.machine_class = alarms.machine_class(settings["machine_class"])
        self.iso_alarm_zone = settings["iso_alarm_zone"]
        if self.iso_alarm_zone not in ("B", "C", "D"):
            raise ValueError("node.json: iso_alarm_zone must be B, C or D")
        self.iso_k = settings["iso_k"]
        self.iso_n = settings["iso_n"]
        self.temp_max_c = settings["temp_max_c"]
        self.temp_hysteresis_c = settings["temp_hysteresis_c"]
        self.temp_interval_ms = int(settings["temp_interval_s"] * 1000)
        self.telemetry_ms = int(settings["telemetry_s"] * 1000)
        self.watchdog_ms = settings["watchdog_ms"]
        for key in ("telemetry_s", "temp_interval_s", "watchdog_ms"):
            if not settings[key] > 0:
                raise ValueError(f"node.json: {key} must be > 0")
        self.vibration = self.sensor("vibration")
        self.temperature = self.sensor("temperature")

    def sensor(self, role: str) -> "Any":
        """The board file's sensor entry for ``role``, or None."""
        for spec in self.board.get("sensors", ()):
            if spec.get("role") == role:
                return spec
        return None


def load(uid: str = "000000", board_file: str = BOARD_FILE, node_file: str = NODE_FILE) -> Config:
    """Read and validate the node's configuration; a missing node.json means all defaults."""
    try:
        board = _read_json(board_file)
    except OSError:
        raise ValueError(f"{board_file} is missing: deploy the board file to the node") from None
    try:
        node = _read_json(node_file)
    except OSError:
        node = {}
    return Config(board, node, uid)
