"""Board data files (``boards/*.json``): loading and validation.

The schema is documented in ``docs/boards.md``. Validation names the file and the field, so a
typo in a board file is a one-line fix, not a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabnode.errors import BoardFileError, UsageError
from fabnode.resources import boards_dir

SCHEMA_VERSION = 1

CHIPS = {
    # chip: (MicroPython image offset in flash, mpy-cross architectures it can run)
    "esp32": (0x1000, ("xtensawin",)),
    "esp32s3": (0x0, ("xtensawin",)),
    "esp32c3": (0x0, ("rv32imc",)),
}
SENSOR_TYPES = {
    # type: buses it can sit on
    "adxl345": ("i2c", "spi"),
    "adxl355": ("spi",),
    "iis3dwb": ("spi",),
    "mpu6050": ("i2c",),
    "ds18b20": ("onewire",),
    "mcu": ("internal",),
}
SENSOR_ROLES = ("vibration", "temperature")
FLASH_SIZES = {"2MB": 2 << 20, "4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20}


@dataclass(frozen=True)
class UsbId:
    vid: int
    pid: int
    bridge: str


@dataclass(frozen=True)
class Sensor:
    role: str
    type: str
    bus: str
    address: int | None = None
    odr_hz: float | None = None
    range_g: float | None = None
    pin: int | None = None


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    chip: str
    flash_size: int
    app_offset: int
    fs_size: int
    default_baud: int
    max_baud: int
    mpy_arch: str
    usb: tuple[UsbId, ...]
    pins: dict[str, Any]
    sensors: tuple[Sensor, ...]
    path: Path
    raw: dict[str, Any] = field(repr=False, compare=False)

    def sensor(self, role: str) -> Sensor:
        """The first sensor with that role (``vibration`` or ``temperature``)."""
        for sensor in self.sensors:
            if sensor.role == role:
                return sensor
        raise UsageError(f"board {self.id} has no {role} sensor")

    def to_json(self) -> dict[str, Any]:
        return self.raw


class _Fields:
    """Reads typed fields from one JSON object, naming file and field path in every error."""

    def __init__(self, path: Path, data: Any, where: str = "") -> None:
        self.path = path
        self.where = where
        if not isinstance(data, dict):
            self.fail("", f"must be an object, not {type(data).__name__}")
        self.data: dict[str, Any] = data

    def fail(self, key: str, problem: str) -> None:
        name = f"{self.where}.{key}" if self.where and key else (key or self.where or "(top level)")
        raise BoardFileError(f"{self.path.name}: field '{name}' {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
        if key not in self.data:
            if required:
                self.fail(key, "is missing")
            return None
        value = self.data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.fail(key, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            self.fail(key, f"must be {_kind_name(kind)}, not {type(value).__name__} {value!r}")
        return value

    def integer(self, key: str, required: bool = True, minimum: int = 0) -> int | None:
        """An integer, written as a JSON number or a ``"0x..."`` string (offsets read better in hex)."""
        value = self.get(key, (int, str), required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                self.fail(key, f"must be an integer or a hex string like \"0x1000\", not {value!r}")
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, not {value}")
        return int(value)

    def choice(self, key: str, choices: Any) -> str:
        value = self.get(key, str)
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(sorted(choices))}, not {value!r}")
        return str(value)

    def child(self, key: str, required: bool = True) -> _Fields | None:
        value = self.get(key, dict, required)
        if value is None:
            return None
        return _Fields(self.path, value, f"{self.where}.{key}" if self.where else key)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", dict: "an object", list: "a list", float: "a number",
             bool: "a boolean"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_board(path: Path, data: Any) -> Board:
    """Validate one board's JSON data; raise BoardFileError naming the file and the field."""
    top = _Fields(path, data)
    schema = top.integer("schema")
    if schema != SCHEMA_VERSION:
        top.fail("schema", f"is {schema}, this fabnode reads schema {SCHEMA_VERSION}")
    board_id = top.get("id", str)
    if board_id != path.stem:
        top.fail("id", f"is {board_id!r} but the file is named {path.name}: they must match")
    chip = top.choice("chip", CHIPS)
    expected_offset, arches = CHIPS[chip]

    flash = top.child("flash")
    assert flash is not None
    size_name = flash.choice("size", FLASH_SIZES)
    app_offset = flash.integer("app_offset")
    assert app_offset is not None
    if app_offset != expected_offset:
        flash.fail("app_offset", f"is {app_offset:#x}, but MicroPython for {chip} lives at {expected_offset:#x}")
    fs_size = flash.integer("fs_size", minimum=64 * 1024)
    assert fs_size is not None
    if fs_size >= FLASH_SIZES[size_name]:
        flash.fail("fs_size", f"({fs_size}) does not fit in {size_name} of flash")

    baud = top.child("baud")
    assert baud is not None
    default_baud = baud.integer("default", minimum=9600)
    max_baud = baud.integer("max", minimum=9600)
    assert default_baud is not None and max_baud is not None
    if default_baud > max_baud:
        baud.fail("default", f"({default_baud}) is above max ({max_baud})")

    mpy_arch = top.choice("mpy_arch", arches)
    top.get("default_model", str, required=False)

    usb_ids = []
    for index, entry in enumerate(top.get("usb", list)):
        usb = _Fields(path, entry, f"usb[{index}]")
        vid, pid = (_hex16(usb, key) for key in ("vid", "pid"))
        usb_ids.append(UsbId(vid, pid, usb.get("bridge", str)))

    pins = top.get("pins", dict)
    for key, value in pins.items():
        if not (value is None or isinstance(value, (int, dict))) or isinstance(value, bool):
            top.fail(f"pins.{key}", "must be a GPIO number, an object of GPIO numbers, or null")

    sensors = []
    for index, entry in enumerate(top.get("sensors", list)):
        spec = _Fields(path, entry, f"sensors[{index}]")
        sensor_type = spec.choice("type", SENSOR_TYPES)
        bus = spec.choice("bus", SENSOR_TYPES[sensor_type])
        if bus in ("i2c", "spi") and bus not in pins:
            spec.fail("bus", f"is {bus} but the board has no pins.{bus}")
        odr = spec.get("odr_hz", (int, float), required=sensor_type not in ("ds18b20", "mcu"))
        sensors.append(
            Sensor(
                role=spec.choice("role", SENSOR_ROLES),
                type=sensor_type,
                bus=bus,
                address=spec.integer("address", required=bus == "i2c"),
                odr_hz=float(odr) if odr is not None else None,
                range_g=spec.get("range_g", (int, float), required=False),
                pin=spec.integer("pin", required=bus == "onewire"),
            )
        )
    if not any(s.role == "vibration" for s in sensors):
        top.fail("sensors", "has no vibration sensor")

    return Board(
        id=board_id,
        name=top.get("name", str),
        chip=chip,
        flash_size=FLASH_SIZES[size_name],
        app_offset=app_offset,
        fs_size=fs_size,
        default_baud=default_baud,
        max_baud=max_baud,
        mpy_arch=mpy_arch,
        usb=tuple(usb_ids),
        pins=pins,
        sensors=tuple(sensors),
        path=path,
        raw=data,
    )


def _hex16(fields: _Fields, key: str) -> int:
    value = fields.get(key, str)
    try:
        number = int(value, 16)
    except ValueError:
        number = -1
    if not 0 <= number <= 0xFFFF:
        fields.fail(key, f"must be a 4-digit hex USB id like \"10C4\", not {value!r}")
    return number


def load_board_file(path: Path) -> Board:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise BoardFileError(f"{path.name}: not valid JSON ({where}: {exc.msg})") from None
    except OSError as exc:
        raise BoardFileError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_board(path, data)


def list_boards(directory: Path | None = None) -> list[Board]:
    """Every board in ``boards/``, validated, sorted by id."""
    directory = directory or boards_dir()
    return [load_board_file(path) for path in sorted(directory.glob("*.json"))]


def get_board(board_id: str, directory: Path | None = None) -> Board:
    directory = directory or boards_dir()
    path = directory / f"{board_id}.json"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(directory.glob("*.json")))
        raise UsageError(f"unknown board {board_id!r}; known boards: {known}")
    return load_board_file(path)
