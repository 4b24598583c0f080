"""fabnode deploy against the virtual node: real MicroPython, real raw REPL, real mpy-cross output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest

from fabnode.boards import get_board
from fabnode.deploy import APP_MANIFEST, app_files, app_version, check_node_config, deploy, node_arch, node_config
from fabnode.errors import FabnodeError, UsageError
from fabnode.repl import NodeError, NodeInfo, NodeRepl

BOARD = get_board("esp32-devkitc")
# The virtual node models the wire at the set baud; transfers in tests go at the board's top speed.
FAST_BAUD = BOARD.max_baud


@pytest.fixture
def node(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    return "sim://deploy-test"


def _info(**changes: object) -> NodeInfo:
    fields: dict[str, object] = dict(micropython="1.27.0", mpy_version=6, mpy_sub_version=3, mpy_arch=0,
                                     platform="esp32", machine="ESP32 module", has_deflate=True, mem_free=100000)
    fields.update(changes)
    return NodeInfo(**fields)  # type: ignore[arg-type]


def test_fresh_deploy_then_hello_then_nothing_to_do(node):
    with NodeRepl(node, FAST_BAUD) as repl:
        first = deploy(repl, BOARD, node_id="press-7")
        on_node = repl.file_hashes("/")
        expected = app_files(None)
        assert set(expected) <= set(first.written)
        for path, data in expected.items():
            assert on_node[path] == hashlib.sha256(data).hexdigest(), path
        assert json.loads(repl.eval("open('/config/node.json').read()")) == {"node_id": "press-7"}
        assert json.loads(repl.eval("open('/config/board.json').read()"))["id"] == BOARD.id
        # Compressed on the wire: less than the payload plus base64's third.
        assert first.wire_bytes < first.payload_bytes * 4 / 3
        hello = repl.restart_app()
    assert hello.node == "press-7"
    assert (hello.payload["fw"], hello.payload["board"], hello.payload["safe_mode"]) == (app_version(), BOARD.id, False)

    started = time.monotonic()
    with NodeRepl(node, FAST_BAUD) as repl:
        again = deploy(repl, BOARD)
    assert again.written == [] and again.deleted == []
    assert time.monotonic() - started < 3.0
    assert json.loads(repl_config(node)) == {"node_id": "press-7"}  # the node keeps its name


def repl_config(node: str) -> str:
    with NodeRepl(node, FAST_BAUD) as repl:
        text: str = repl.eval("open('/config/node.json').read()")
        return text


def test_stale_app_files_go_and_user_files_stay(node):
    with NodeRepl(node, FAST_BAUD) as repl:
        deploy(repl, BOARD)
        manifest = json.loads(repl.eval(f"open({APP_MANIFEST!r}).read()"))
        manifest["files"].append("/lib/monitor/retired.mpy")
        repl.write_file("/lib/monitor/retired.mpy", b"old")
        repl.write_file(APP_MANIFEST, json.dumps(manifest).encode())
        repl.write_file("/data/notes.txt", b"the technician's notes")
        result = deploy(repl, BOARD)
        files = repl.file_hashes("/")
    assert result.deleted == ["/lib/monitor/retired.mpy"]
    assert "/lib/monitor/retired.mpy" not in files
    assert files["/data/notes.txt"] == hashlib.sha256(b"the technician's notes").hexdigest()


def test_power_loss_mid_deploy_then_deploy_again_completes(node):
    def cut_power_after_first_file(task: str, done: int, total: int) -> None:
        if done < total:
            repl.transport.serial.node.power_loss(0.3)

    repl = NodeRepl(node, FAST_BAUD)
    try:
        with pytest.raises(NodeError):
            deploy(repl, BOARD, progress=cut_power_after_first_file)
    finally:
        repl.close()
    time.sleep(0.5)
    with NodeRepl(node, FAST_BAUD) as repl:
        result = deploy(repl, BOARD)
        on_node = repl.file_hashes("/")
        assert result.written, "the second deploy had files left to write"
        for path, data in app_files(None).items():
            assert on_node[path] == hashlib.sha256(data).hexdigest(), path
        assert not [p for p in on_node if p.endswith((".part", ".part.z"))], "torn transfers cleaned up"
        assert repl.restart_app().payload["fw"] == app_version()


def test_incompatible_mpy_format_names_both_versions():
    with pytest.raises(FabnodeError) as info:
        node_arch(_info(micropython="1.22.2", mpy_sub_version=2), BOARD)
    assert "MicroPython 1.22.2, which loads .mpy 6.2" in str(info.value)
    assert "compiles .mpy 6.3" in str(info.value)
    assert info.value.hint and "fabnode flash" in info.value.hint


def test_native_architecture_must_match_the_board():
    assert node_arch(_info(mpy_arch=0), BOARD) is None
    assert node_arch(_info(mpy_arch=10), BOARD) == "xtensawin"
    with pytest.raises(FabnodeError, match="native code is rv32imc, but board esp32-devkitc is xtensawin"):
        node_arch(_info(mpy_arch=11), BOARD)


def test_the_chip_must_be_the_boards():
    """The ESP32 and the S3 share .mpy architecture (xtensawin): only the chip tells them apart."""
    assert node_arch(_info(machine="Generic ESP32 module with ESP32", mpy_arch=10), BOARD) == "xtensawin"
    with pytest.raises(FabnodeError, match="the node is an ESP32S3, but board esp32-devkitc is an ESP32") as info:
        node_arch(_info(machine="ESP32S3 module with ESP32S3", mpy_arch=10), BOARD)
    assert info.value.hint and "--board" in info.value.hint
    with pytest.raises(FabnodeError, match="the node is an ESP32C3"):
        node_arch(_info(machine="JavaScript with Emscripten", sim_chip="esp32c3"), BOARD)  # a virtual node


def test_deploying_another_boards_app_onto_a_virtual_node_is_refused(node):
    with NodeRepl(node) as repl:
        with pytest.raises(FabnodeError, match="the node is an ESP32, but board esp32s3-devkitc is an ESP32S3"):
            deploy(repl, get_board("esp32s3-devkitc"))
        assert repl.info().chip == "esp32"


def test_native_fast_paths_are_left_out_for_bytecode_nodes():
    bytecode = app_files(None)
    native = app_files("xtensawin")
    assert all(not p.endswith(("_viper.mpy", "_native.mpy")) for p in bytecode)
    assert set(bytecode) <= set(native)
    assert bytecode["/main.py"] == native["/main.py"]  # boot.py and main.py stay source


def test_cli_json(node):
    command = ["deploy", "--board", BOARD.id, "-p", node, "-b", str(FAST_BAUD), "--set", "telemetry_s=2",
               "--set", "machine_class=III", "--json"]
    result = subprocess.run([sys.executable, "-m", "fabnode", *command],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and report["app_version"] == app_version()
    assert report["hello"]["board"] == BOARD.id
    assert {"written", "unchanged", "deleted", "payload_bytes", "wire_bytes", "seconds"} <= set(report)
    with NodeRepl(node, FAST_BAUD) as repl:
        assert json.loads(repl.eval("open('/config/node.json').read()")) == {"telemetry_s": 2, "machine_class": "III"}


@pytest.mark.parametrize(("settings", "reason"), [
    ({"telemetry_s": "abc"}, "node.json: telemetry_s must be a number, not 'abc'"),
    ({"temp_max_c": True}, "node.json: temp_max_c must be a number, not True"),
    ({"machine_class": "V"}, "machine class must be I, II, III or IV, not 'V'"),
    ({"telemetri_s": 5}, "node.json: unknown key 'telemetri_s'"),
])
def test_settings_the_app_would_refuse_are_refused_on_the_host(settings, reason):
    with pytest.raises(UsageError) as refused:
        check_node_config(BOARD, node_config({"node_id": "n1"}, None, settings))
    assert str(refused.value) == f"the node settings are not valid, nothing was written: {reason}"


def test_keys_this_firmware_does_not_know_are_dropped_from_the_node_file():
    config = node_config({"node_id": "n1", "old_key": 1, "telemetry_s": 5}, None, {"machine_class": "III"})
    assert config == {"node_id": "n1", "telemetry_s": 5, "machine_class": "III"}
    check_node_config(BOARD, config)


@pytest.mark.micropython
def test_a_bad_setting_writes_nothing_to_the_node(node):
    with NodeRepl(node, FAST_BAUD) as repl:
        with pytest.raises(UsageError):
            deploy(repl, BOARD, settings={"telemetry_s": "abc"})
        assert not any(path.startswith("/lib/") for path in repl.file_hashes("/"))
