"""The virtual node in process (sim://): boot, REPL modes, the app loop, filesystem, faults."""

from __future__ import annotations

import json
import time

import esptool
import numpy as np
import pytest
import serial
from click.testing import CliRunner
from esptool.reset import ClassicReset
from mpremote.transport_serial import SerialTransport
from vnode_console import Console, console, fabnode_home  # noqa: F401  (fixture)

from fabnode.cli import cli
from fabnode.mpycross import compile_file
from fabnode.sim import control, hardware, signals, state
from fabnode.sim.flash import NorFlash
from fabnode.sim.node import NODE_SIDE_LIB, Mode, NodeRuntimeError, VirtualNode, create_node

pytestmark = [pytest.mark.micropython, pytest.mark.usefixtures("fabnode_home")]

BARE = "?hardware=0"  # the runtime without simulated sensors: these tests are about the runtime
APP = """import vnode
def tick():
    data = vnode.console_read()
    if data:
        print("app got", data)
vnode.run(tick)
print("app started")
"""


def write_files(con: Console, files: dict[str, str]) -> None:
    con.raw_repl()
    for name, text in files.items():
        _out, err = con.raw_exec(f"with open({name!r}, 'w') as f: f.write({text!r})")
        assert err == b""
    con.write(b"\x02")
    con.expect(b">>> ")


def test_boot_runs_boot_then_main_and_soft_reset_clears_state() -> None:
    with console("sim://n1" + BARE) as con:
        con.expect(b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)")
        con.expect(b"MicroPython v1.27.0")
        con.expect(b">>> ")
        write_files(con, {"boot.py": "print('in boot')\n", "main.py": "print('in main')\nx = 1\n"})
        con.write(b"y = 42\r")
        con.expect(b">>> ")
        con.write(b"\x04")  # soft reset in the friendly REPL
        booted = con.expect(b">>> ")
        assert booted.index(b"MPY: soft reboot") < booted.index(b"in boot") < booted.index(b"in main")
        con.write(b"print(x, 'y' in globals())\r")
        con.expect(b"1 False")


def test_raw_paste_flow_control_and_mpremote_transport() -> None:
    with console("sim://n2" + BARE) as con:
        con.raw_repl()
        con.write(b"\x05A\x01")
        con.expect(b"R\x01", 5)
        window = int.from_bytes(con.read_exact(2), "little")
        assert window == 256
        code = b"print(sum(range(100)))\n" + b"#" * 600 + b"\n"
        con.write(code[:window])
        con.expect(b"\x01")  # the node asks for the next window
        con.write(code[window:] + b"\x04")
        out = con.expect(b"\x04>").lstrip(b"\x01")  # more window grants, then the end acknowledged
        assert out == b"\x044950\n\x04\x04>"
    transport = SerialTransport("sim://n2" + BARE, baudrate=921600)
    try:
        transport.enter_raw_repl()
        transport.fs_writefile("data.bin", bytes(range(256)) * 8)
        assert transport.fs_readfile("data.bin") == bytes(range(256)) * 8
        assert transport.eval("6 * 7") == 42
        assert transport.use_raw_paste  # raw-paste worked, no fallback
        transport.exit_raw_repl()
    finally:
        transport.close()


def test_app_ticks_without_blocking_and_ctrl_c_gives_the_repl() -> None:
    with console("sim://n3" + BARE) as con:
        con.expect(b">>> ")
        write_files(con, {"main.py": APP})
        con.write(b"\x04")
        con.expect(b"app started")
        con.write(b"!status\n")
        con.expect(b"app got b'!status\\n'")
        assert b">>>" not in con.drain()  # the app owns the console, no REPL yet
        con.write(b"\x03")
        con.expect(b"KeyboardInterrupt")
        con.expect(b">>> ")
        con.write(b"print(6 * 7)\r")
        con.expect(b"42")


def test_filesystem_persists_and_power_loss_keeps_the_committed_file() -> None:
    with console("sim://n4" + BARE) as con:
        con.expect(b">>> ")
        write_files(con, {"config.txt": "old"})
        con.raw_repl()
        out, err = con.raw_exec("f = open('config.txt', 'w')\nf.write('new contents, never closed')\nprint('written')")
        assert out.strip() == b"written" and err == b""
        node = con.port.node
        node.power_loss(off_seconds=0.1)  # mid write: the file was not closed
        con.expect(b"rst:0x1 (POWERON_RESET)")
        con.expect(b">>> ")
        con.raw_repl()
        out, _ = con.raw_exec("print(open('config.txt').read())")
        assert out.strip() == b"old"
    assert (state.load("n4").fs_dir / "config.txt").read_text() == "old"
    with console("sim://n4" + BARE) as con:  # a new session sees the same filesystem
        con.expect(b">>> ")
        con.raw_repl()
        out, _ = con.raw_exec("import os\nprint(sorted(os.listdir('/')))")
        assert out.strip() == b"['config.txt']"  # nothing of the runtime (/.sim, /dev, /tmp) shows
        out, _ = con.raw_exec("print(list(os.ilistdir()))")
        assert out.strip() == b"[('config.txt', 32768, 0, 3)]"  # littlefs's (name, type, inode, size)


def test_full_filesystem_raises_enospc() -> None:
    with console("sim://n5" + BARE) as con:
        con.expect(b">>> ")
        con.raw_repl()
        _, err = con.raw_exec("f = open('big.bin', 'wb')\nfor i in range(1000):\n    f.write(bytes(4096))\n")
        assert err.endswith(b"OSError: 28\r\n")  # ENOSPC (errno 28, as on the ESP32; this port has no name for it)
        out, _ = con.raw_exec("f.close()\nimport os\ns = os.statvfs('/')\nprint(s[0], s[2], s[3])")
        block, blocks, free = (int(v) for v in out.split())
        assert block * blocks == state.load("n5").board.fs_size and free == 0


def test_erased_filesystem_partition_means_an_empty_filesystem() -> None:
    with console("sim://n6" + BARE) as con:
        con.expect(b">>> ")
        write_files(con, {"keep.txt": "x"})
    node_state = state.load("n6")
    board = node_state.board
    with NorFlash(node_state.flash_path, board.flash_size) as flash:
        flash.erase(board.flash_size - board.fs_size, board.fs_size)
    with console("sim://n6" + BARE) as con:
        con.expect(b">>> ")
        con.raw_repl()
        out, _ = con.raw_exec("import os\nprint(os.listdir('/'))")
        assert out.strip() == b"[]"


def test_blank_flash_prints_a_rom_boot_error_and_stays() -> None:
    create_node("blank", blank=True)
    with console("sim://blank" + BARE) as con:
        con.expect(b"invalid header: 0xffffffff")
        con.write(b"\r\x03print(1)\r")
        assert b"MicroPython" not in con.drain(0.5)
        assert con.port.node.mode is Mode.HALTED


def test_classic_reset_enters_download_mode_and_esptool_reads_the_mac() -> None:
    create_node("dl", blank=True)
    with console("sim://dl" + BARE, baud=115200) as con:
        con.expect(b"invalid header")
        ClassicReset(con.port)()
        con.expect(b"waiting for download")
        assert con.port.node.mode is Mode.DOWNLOAD
    esptool.main(["--port", "sim://dl" + BARE, "--before", "default-reset", "read-mac"])


def test_an_open_node_is_busy() -> None:
    with console("sim://n7" + BARE), pytest.raises(serial.SerialException, match="busy"):
        serial.serial_for_url("sim://n7")


def test_sim_exec_and_sim_data_outside_the_repl() -> None:
    with console("sim://n8" + BARE) as con:
        con.expect(b">>> ")
        node: VirtualNode = con.port.node
        node.put_sim_data("signal.bin", b"\x01\x02\x03")
        node.sim_exec("import vnode\ncount = len(open('/.sim/data/signal.bin', 'rb').read())")
        assert node.sim_eval("count") == "3"
        assert int(node.sim_eval("vnode.sim_time_us()")) > 0
        con.write(b"print(6 * 7)\r")  # the REPL is untouched
        con.expect(b"42")


def test_wire_speed_follows_the_baud_rate() -> None:
    with console("sim://n9" + BARE, baud=921600) as con:
        con.expect(b">>> ")
        con.port.baudrate = 9600
        start = time.monotonic()
        con.write(b"print('x' * 480)\r")
        con.expect(b"x" * 480)
        assert time.monotonic() - start >= 480 * 10 / 9600


def test_line_noise_corrupts_what_crosses_the_cable() -> None:
    with console("sim://n10" + BARE) as con:
        con.expect(b">>> ")
        con.port.node.set_line_noise(bit_flip_rate=0.3, seed=1, to_node=False)
        con.write(b"print('A' * 200)\r")
        noisy = con.drain(0.5)
        assert b"A" * 200 not in noisy and noisy.count(b"A") > 50
        con.port.node.set_line_noise(drop_rate=1.0, to_host=False)
        con.write(b"print('lost')\r")
        con.port.node.set_line_noise()
        con.write(b"print('B' * 3)\r")
        assert b"lost" not in con.expect(b"BBB")


def test_usb_disconnect_fails_the_port_then_it_comes_back() -> None:
    with console("sim://n11" + BARE) as con:
        con.expect(b">>> ")
        con.port.node.usb_disconnect(1.0)
        with pytest.raises(serial.SerialException, match="disconnected"):
            con.port.read(1)
        with pytest.raises(serial.SerialException):
            con.port.write(b"\r")
    with pytest.raises(serial.SerialException, match="disconnected"):
        serial.serial_for_url("sim://n11")
    time.sleep(1.0)
    with console("sim://n11" + BARE) as con:
        con.expect(b">>> ")


def test_brownout_loop_and_machine_reset_show_their_reset_causes() -> None:
    with console("sim://n12") as con:  # with the simulated hardware: machine.reset_cause()
        con.expect(b">>> ")
        con.port.node.brownout_loop(resets=2, period=0.3)
        for _ in range(2):
            con.expect(b"Brownout detector was triggered")
            con.expect(b"rst:0xf (RTCWDT_BROWN_OUT_RESET)")
        con.expect(b">>> ")
        con.write(b"import machine; print(machine.reset_cause() == machine.PWRON_RESET)\r")
        con.expect(b"True")
        con.write(b"machine.reset()\r")
        con.expect(b"rst:0xc (SW_CPU_RESET)")
        con.expect(b">>> ")


def test_speed_multiplies_simulated_time() -> None:
    with console("sim://fast?hardware=0&speed=20") as con:
        con.expect(b">>> ")
        node: VirtualNode = con.port.node
        node.sim_exec("import vnode")
        first = int(node.sim_eval("vnode.sim_time_us()"))
        time.sleep(0.3)
        elapsed_us = int(node.sim_eval("vnode.sim_time_us()")) - first
        assert 20 * 0.25e6 < elapsed_us < 20 * 1.0e6


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
def test_node_side_vnode_module_compiles_for_the_chips(arch: str) -> None:
    assert compile_file(NODE_SIDE_LIB / "vnode.py", arch)


def test_code_that_never_returns_is_recovered_by_a_hard_reset() -> None:
    with console("sim://n13" + BARE) as con:
        con.expect(b">>> ")
        con.write(b"while True: pass\r\r")
        node: VirtualNode = con.port.node
        with pytest.raises(NodeRuntimeError, match="did not answer"):
            node.sim_eval("1", timeout=0.5)
        ClassicReset(con.port)()  # esptool's reset sequence; any EN pulse does
        con.expect(b"waiting for download")
        node.hard_reset()
        con.expect(b">>> ")
        con.write(b"print(6 * 7)\r")
        con.expect(b"42")


def test_cli_creates_lists_and_removes_nodes() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["sim", "create", "c1", "--board", "esp32c3-xiao", "--speed", "5"]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["sim", "list", "--json"]).output)
    assert [(n["name"], n["board"], n["speed"], n["running"]) for n in listed] == [("c1", "esp32c3-xiao", 5, "no")]
    with console("sim://c1" + BARE) as con:
        con.expect(b">>> ")
        busy = runner.invoke(cli, ["sim", "rm", "c1"])
        assert busy.exit_code != 0 and "busy" in str(busy.exception)
    assert runner.invoke(cli, ["sim", "rm", "c1"]).exit_code == 0
    assert runner.invoke(cli, ["sim", "list", "--json"]).output.strip() == "[]"


def test_sensor_faults_reach_the_simulated_hardware_through_the_control_channel() -> None:
    with console("sim://n14") as con:  # with the simulated hardware
        con.expect(b">>> ")
        control.request("n14", "sensor", fault="unplugged", role="vibration")  # what `fabnode sim fault` sends
        status = con.port.node.sim_eval("__import__('simhw').status()['vibration']['present']")
        assert status == "False"
        control.request("n14", "clear-sensor")
        assert con.port.node.sim_eval("__import__('simhw').status()['vibration']['present']") == "True"


def test_a_rendered_signal_is_what_the_sensor_plays_after_the_next_power_on() -> None:
    with console("sim://n15") as con:
        con.expect(b">>> ")
        node: VirtualNode = con.port.node
        node.set_signal(hardware.SignalSource(duration_s=1.0))
        node.power_loss()
        con.expect(b">>> ")
        assert node.sim_eval("__import__('simhw').world().signal_path") == repr(hardware.SIGNAL_PATH)


def test_an_existing_node_keeps_its_board() -> None:
    create_node("kept", board="esp32c3-xiao")
    with pytest.raises(serial.SerialException, match="is a esp32c3-xiao, not a esp32-devkitc"):
        serial.serial_for_url("sim://kept?board=esp32-devkitc")


def test_a_new_node_sits_on_a_healthy_machine_with_its_bearing_fault_in_reserve() -> None:
    node_state = create_node("n-default", blank=True)
    played = signals.read_signal(node_state.sim_data_dir / "vibration.fnsig")
    assert len(played.segments) == 2 and played.onset_s is None  # the fault waits for `sim fault bearing`
    healthy = played.segment_g(0)
    assert float(np.std(healthy[:, 2])) == pytest.approx(hardware.demo_source(None).level_g, rel=1e-3)


@pytest.mark.parametrize("url", ["sim://a/b", "sim://", "sim://a?colour=red"])
def test_a_malformed_sim_url_opens_no_node(url: str, tmp_path) -> None:
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url, do_not_open=True).open()
    assert not (tmp_path / "nodes" / "a").exists()  # tmp_path is FABNODE_HOME (fabnode_home fixture)
