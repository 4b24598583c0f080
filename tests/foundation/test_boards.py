import json
from pathlib import Path

import pytest

from fabnode.boards import get_board, list_boards, load_board_file
from fabnode.errors import BoardFileError, UsageError


def test_shipped_boards_are_valid_and_cover_the_three_chips():
    boards = {b.id: b for b in list_boards()}
    assert {"esp32-devkitc", "esp32s3-devkitc", "esp32c3-xiao"} <= set(boards)
    devkit = boards["esp32-devkitc"]
    assert (devkit.chip, devkit.app_offset, devkit.mpy_arch) == ("esp32", 0x1000, "xtensawin")
    vibration = devkit.sensor("vibration")
    assert (vibration.type, vibration.bus, vibration.address, vibration.odr_hz) == ("adxl345", "i2c", 0x53, 3200)
    assert devkit.sensor("temperature").type == "ds18b20"
    assert boards["esp32s3-devkitc"].app_offset == 0
    assert boards["esp32s3-devkitc"].sensor("vibration").bus == "spi"
    assert (boards["esp32c3-xiao"].mpy_arch, boards["esp32c3-xiao"].sensor("vibration").type) == ("rv32imc", "mpu6050")


def _write_board(tmp_path: Path, edit) -> Path:
    data = json.loads(get_board("esp32-devkitc").path.read_text())
    edit(data)
    path = tmp_path / "esp32-devkitc.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("chip"), "esp32-devkitc.json: field 'chip' is missing"),
        (lambda d: d.update(chip="esp8266"), "field 'chip' must be one of esp32, esp32c3, esp32s3"),
        (lambda d: d["flash"].update(app_offset="0x0"),
         "field 'flash.app_offset' is 0x0, but MicroPython for esp32 lives at 0x1000"),
        (lambda d: d["flash"].update(app_offset="0xZZ"), "field 'flash.app_offset' must be an integer or a hex string"),
        (lambda d: d["baud"].update(default="fast"), "field 'baud.default' must be an integer"),
        (lambda d: d.update(mpy_arch="rv32imc"), "field 'mpy_arch' must be one of xtensawin"),
        (lambda d: d["usb"][0].update(vid="XYZ"), "field 'usb[0].vid' must be a 4-digit hex USB id"),
        (lambda d: d["sensors"][0].update(type="lis3dh"), "field 'sensors[0].type' must be one of"),
        (lambda d: d["sensors"][0].update(bus="spi"), "field 'sensors[0].bus' is spi but the board has no pins.spi"),
        (lambda d: d["sensors"][0].pop("odr_hz"), "field 'sensors[0].odr_hz' is missing"),
        (lambda d: d.update(id="other"), "field 'id' is 'other' but the file is named esp32-devkitc.json"),
        (lambda d: d.update(schema=2), "field 'schema' is 2, this fabnode reads schema 1"),
    ],
)
def test_malformed_board_names_file_and_field(tmp_path, edit, message):
    path = _write_board(tmp_path, edit)
    with pytest.raises(BoardFileError) as info:
        load_board_file(path)
    assert message in str(info.value)


def test_invalid_json_names_file_and_position(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"schema": 1,\n "id": }')
    with pytest.raises(BoardFileError, match=r"broken.json: not valid JSON \(line 2, column 8"):
        load_board_file(path)


def test_unknown_board_lists_known_ones():
    with pytest.raises(UsageError, match="unknown board 'nope'; known boards: esp32-devkitc"):
        get_board("nope")
