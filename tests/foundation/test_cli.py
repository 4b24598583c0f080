import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabnode import __version__
from fabnode.cli import cli
from fabnode.errors import UsageError
from fabnode.ports import describe_port, open_error


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fabnode", *args], capture_output=True, text=True, check=False)


def test_version_and_help_list_commands():
    result = run("--version")
    assert result.returncode == 0 and __version__ in result.stdout
    help_text = CliRunner().invoke(cli, ["--help"]).output
    assert "boards" in help_text and "ports" in help_text


def test_boards_json_is_the_board_files():
    result = run("boards", "--json")
    assert result.returncode == 0
    boards = {b["id"]: b for b in json.loads(result.stdout)}
    assert boards["esp32-devkitc"]["chip"] == "esp32"
    one = json.loads(run("boards", "esp32c3-xiao", "--json").stdout)
    assert one["mpy_arch"] == "rv32imc"


def test_unknown_board_is_a_usage_error_without_traceback():
    result = run("boards", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown board 'nope'")
    assert "Traceback" not in result.stderr


def test_ports_json_is_a_list():
    result = run("ports", "--json")
    assert result.returncode == 0
    assert isinstance(json.loads(result.stdout), list)


def test_port_guess_from_usb_ids():
    from fabnode.boards import list_boards

    boards = list_boards()
    cp2102 = describe_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001", "CP2102 USB to UART", boards)
    assert cp2102.bridge == "Silicon Labs CP210x" and "esp32-devkitc" in cp2102.boards
    native = describe_port("/dev/ttyACM0", 0x303A, 0x1001, "F4:12:FA:00:11:22", "USB JTAG/serial", boards)
    assert set(native.boards) == {"esp32s3-devkitc", "esp32c3-xiao"}
    assert native.to_json()["usb_id"] == "303A:1001"
    ch340 = describe_port("/dev/ttyUSB1", 0x1A86, 0x7523, None, "USB Serial", boards)
    assert ch340.bridge == "WCH CH340" and ch340.boards == ()
    plain = describe_port("/dev/ttyS0", None, None, None, "n/a", boards)
    assert plain.bridge is None and plain.usb_id is None


def test_port_open_failures_are_one_sentence_each() -> None:
    missing = open_error("/dev/ttyUSB9", OSError(2, "could not open port /dev/ttyUSB9: [Errno 2] No such file "
                                                   "or directory: '/dev/ttyUSB9'"))
    assert str(missing) == "cannot open /dev/ttyUSB9: there is no such port"
    locked = open_error("/dev/ttyUSB0", OSError("Could not exclusively lock port /dev/ttyUSB0: [Errno 11] "
                                                "Resource temporarily unavailable"))
    assert str(locked) == "cannot open /dev/ttyUSB0: another program has it open"
    held = open_error("sim://a", OSError(2, "could not open port sim://a: virtual node 'a' is busy "
                                            "(open in process 7)"))
    assert str(held) == "cannot open sim://a: another program has it open (process 7)" and held.hint
    assert str(open_error("rfc2217://h:1", OSError("timed out"))) == "cannot open rfc2217://h:1: timed out"
    unknown = open_error("sim://x?board=no", OSError(2, "could not open port sim://x?board=no: unknown board 'no'"))
    assert str(unknown) == "cannot open sim://x?board=no: unknown board 'no'"


@pytest.mark.parametrize("command", [["monitor"], ["diag"], ["collect", "--out", "{tmp}"],
                                     ["deploy", "--board", "esp32-devkitc"], ["push-model", "{model}"]])
def test_a_missing_port_is_a_usage_error_for_every_node_command(command: list[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from fabnode.resources import models_dir

    monkeypatch.delenv("FABNODE_PORT", raising=False)
    model = str(models_dir() / "bearing-hit-mfs-v1")
    args = [arg.format(tmp=tmp_path, model=model) for arg in command]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, UsageError) and str(result.exception) == "no port given"


def test_a_file_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = run("sim", "standin-image", "-o", str(not_a_folder / "image.bin"))
    assert result.returncode == 1
    assert result.stderr == f"error: Not a directory: {not_a_folder / 'image.bin'}\n"


def test_counts_read_as_english():
    from fabnode.output import counted

    assert [counted(n, "record") for n in (0, 1, 2)] == ["0 records", "1 record", "2 records"]
    assert counted(1, "gap") == "1 gap" and counted(3, "entry", "entries") == "3 entries"
