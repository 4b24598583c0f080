"""fabnode flash (steps 1-4) through the real esptool Python API, against the ROM bootloader."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabnode import flashing
from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.errors import FabnodeError, PortError
from fabnode.ports import describe_port
from fabnode.sim.image import make_standin_image

ESP32 = get_board("esp32-devkitc")


def firmware_for(chip: str) -> flashing.Firmware:
    return flashing.check_firmware(make_standin_image(chip), ESP32 if chip == "esp32" else get_board(
        {"esp32s3": "esp32s3-devkitc", "esp32c3": "esp32c3-xiao"}[chip]), "firmware.bin")


def flash(chip, firmware: flashing.Firmware | None = None, **options) -> flashing.FlashResult:
    return flashing.flash_firmware(chip.board, firmware or firmware_for(chip.board.chip), chip.url,
                                   wait_repl=False, **options)


def test_blank_node_is_flashed_verified_and_boots(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    progress: list[tuple[str, int, int]] = []
    result = flashing.flash_firmware(ESP32, firmware_for("esp32"), chip.url, wait_repl=False,
                                     on_progress=lambda *event: progress.append(event))
    assert result.written and result.micropython_version == "v1.27.0"
    assert result.chip == "ESP32-D0WD-V3 (revision v3.1)" and result.flash_size == "4MB"
    assert result.baud == ESP32.default_baud and not result.notes
    assert progress[-1][0] == "write" and progress[-1][1] == progress[-1][2]
    assert chip.boot is not None and chip.boot.boots_micropython


def test_reflashing_the_same_image_skips_the_write(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    flash(chip)
    assert not flash(chip).written
    assert flash(chip, erase=True).written  # --erase always writes


def test_wrong_chip_image_is_refused_before_touching_the_device() -> None:
    with pytest.raises(FabnodeError, match=r"is for ESP32-S3 \(chip id 9\), not ESP32 \(chip id 0\)") as error:
        flashing.check_firmware(make_standin_image("esp32s3"), ESP32, "s3.bin")
    assert "ESP32" in (error.value.hint or "")


def test_not_an_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FabnodeError, match="no app image at 0x1000"):
        flashing.check_firmware(b"PK\x03\x04 a zip file", ESP32, "firmware.zip")


def test_board_and_detected_chip_must_match(make_chip) -> None:
    chip = make_chip("esp32s3-devkitc")  # an S3 on the port, but we say it is an ESP32 board
    with pytest.raises(FabnodeError, match="has an ESP32-S3, but board esp32-devkitc is an ESP32") as error:
        flashing.flash_firmware(ESP32, firmware_for("esp32"), chip.url, wait_repl=False)
    assert chip.flash.is_erased(0, chip.board.flash_size)
    assert error.value.hint


def test_power_loss_mid_flash_then_reflash_succeeds(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    chip.power_cut_after = 20_000
    with pytest.raises(FabnodeError, match=r"transfer to .* failed at 115200 baud"):
        flash(chip, baud=115200)  # at the ROM's own rate there is no slower retry
    chip.reset(download=False)  # power comes back: the half-written image does not boot
    assert chip.boot is not None and not chip.boot.boots_micropython
    assert flash(chip).written
    assert chip.boot.boots_micropython


def test_corrupted_md5_on_the_wire_is_reported(make_chip) -> None:
    chip = make_chip("esp32-devkitc")

    def corrupt_md5_reply(frame: bytes) -> bytes:
        if frame[2:3] == b"\x13" and len(frame) == 1 + 8 + 18 + 1:  # the stub's MD5 reply
            return frame[:9] + bytes([frame[9] ^ 0x40]) + frame[10:]
        return frame

    chip.output_filter = corrupt_md5_reply
    with pytest.raises(FabnodeError, match="MD5 of the flash does not match the image") as error:
        flash(chip)
    assert "115200" in (error.value.hint or "")


def test_transfer_errors_at_high_baud_are_retried_once_at_115200(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    # the node's side of the cable cannot keep up above 115200: every reply is lost
    chip.output_filter = lambda data: b"" if chip.rom is not None and chip.rom.baud > 115200 else data
    result = flash(chip, baud=921600)
    assert result.written and result.baud == 115200
    assert "retried at 115200 baud" in result.notes[0]


def test_no_download_mode_says_how_to_enter_it(make_chip) -> None:
    chip = make_chip("esp32-devkitc")
    with pytest.raises(FabnodeError, match="could not reach the bootloader") as error:
        flash(chip, before="no-reset")  # nobody put it in download mode
    assert "hold BOOT, tap EN/RESET" in (error.value.hint or "") and "--before no-reset" in (error.value.hint or "")


def test_missing_port_is_a_port_error() -> None:
    with pytest.raises(PortError, match="cannot open romtest://nobody"):
        flashing.flash_firmware(ESP32, firmware_for("esp32"), "romtest://nobody", wait_repl=False)


def test_port_auto_detection_by_usb_id() -> None:
    boards = [ESP32]
    cp210x = describe_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001", "CP2102", boards)
    ch9102 = describe_port("/dev/ttyACM3", 0x1A86, 0x55D4, "5A7B", "CH9102", boards)
    other = describe_port("/dev/ttyS0", None, None, None, "ttyS0", boards)
    assert flashing.choose_port(ESP32, None, [cp210x, other]) == "/dev/ttyUSB0"
    assert flashing.choose_port(ESP32, "/dev/ttyX", [cp210x, ch9102]) == "/dev/ttyX"
    with pytest.raises(PortError, match=r"2 ports could be a esp32-devkitc: /dev/ttyUSB0 .*/dev/ttyACM3") as error:
        flashing.choose_port(ESP32, None, [cp210x, ch9102])
    assert "--all" in (error.value.hint or "")
    with pytest.raises(PortError, match="no serial port with a esp32-devkitc USB id"):
        flashing.choose_port(ESP32, None, [other])


def test_cli_json_output(make_chip, tmp_path: Path) -> None:
    chip = make_chip("esp32-devkitc")
    image = tmp_path / "firmware.bin"
    image.write_bytes(make_standin_image("esp32"))
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32-devkitc", "-p", chip.url, "--firmware", str(image),
                                   "--no-wait", "--json"])
    assert run.exit_code == 0, run.output
    events = [json.loads(line) for line in run.output.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and {"task", "done", "total"} <= set(progress[-1])
    result = events[-1]
    assert result["event"] == "result" and result["ok"] is True
    assert {"port", "board", "chip", "mac", "flash_size", "firmware", "micropython_version", "image_size",
            "image_md5", "written", "erased", "baud", "repl_banner", "seconds", "notes"} <= set(result)
    assert result["micropython_version"] == "v1.27.0" and result["written"] is True


def test_cli_refuses_a_wrong_chip_image(make_chip, tmp_path: Path) -> None:
    chip = make_chip("esp32-devkitc")
    image = tmp_path / "s3.bin"
    image.write_bytes(make_standin_image("esp32s3"))
    run = CliRunner().invoke(cli, ["flash", "--board", "esp32-devkitc", "-p", chip.url, "--firmware", str(image)])
    assert run.exit_code == 1
    assert "is for ESP32-S3" in str(run.exception)
    assert chip.console == b""  # the port was never opened


def test_a_native_usb_board_is_found_again_by_its_serial_number(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = get_board("esp32s3-devkitc")
    after_reset = [describe_port("/dev/ttyACM1", 0x303A, 0x1001, "F4:12:FA:00:11:22", "USB JTAG", [s3])]
    monkeypatch.setattr(flashing, "list_serial_ports", lambda boards=None: after_reset)
    assert flashing.find_port_again("/dev/ttyACM0", "F4:12:FA:00:11:22", timeout=1) == "/dev/ttyACM1"
    with pytest.raises(PortError, match=r"did not come back within 0\.3 s"):
        flashing.find_port_again("/dev/ttyACM0", "another-serial", timeout=0.3)


def test_socket_url_that_never_boots_says_it_has_no_reset_lines() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # a node that was written but never reset
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(FabnodeError) as failure:
            flashing.wait_for_repl(url, 0.3)
    assert "it printed nothing" in str(failure.value)
    assert failure.value.hint is not None and "rfc2217://" in failure.value.hint
