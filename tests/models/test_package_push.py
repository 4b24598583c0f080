"""fabnode push-model against the virtual node: the real firmware's model store under MicroPython,
reached as sim://NAME through mpremote's transport, with cuts at random bytes and mid-swap."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import serial
from click.testing import CliRunner

from fabnode.cli import cli
from fabnode.models.package import ModelPackage, load_package
from fabnode.models.push import push_model
from fabnode.resources import boards_dir, firmware_dir, models_dir

pytestmark = pytest.mark.micropython

BOARD = "esp32-devkitc"
REFERENCE = "bearing-hit-mfs-v1"


@pytest.fixture
def vnode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A virtual node with the firmware and the reference model active; yields its port."""
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware, node

    name = "push"
    node.create_node(name, BOARD)
    first_boot = node.open_node(name)  # formats the filesystem, as on a fresh board
    try:
        first_boot.set_signal(hardware.SignalSource(fault=None, duration_s=2.0))
        fs = first_boot.state.fs_dir
    finally:
        first_boot.close()
    shutil.copytree(firmware_dir(), fs, dirs_exist_ok=True)
    (fs / "config").mkdir(exist_ok=True)
    shutil.copy(boards_dir() / f"{BOARD}.json", fs / "config" / "board.json")
    (fs / "config" / "node.json").write_text(json.dumps({"node_id": "n1", "telemetry_s": 1}))
    shutil.copytree(models_dir() / REFERENCE, fs / "models" / "active")
    yield f"sim://{name}"


@pytest.fixture(scope="module")
def reference() -> ModelPackage:
    return load_package(models_dir() / REFERENCE)


def node_models(port: str) -> dict[str, object]:
    """The node's model store as it sees itself after a fresh boot (store.info())."""
    from fabnode.repl import NodeRepl

    with NodeRepl(port) as repl:
        models: dict[str, object] = repl.eval("__import__('monitor.store').store.info()")
    return models


def active_sha(port: str) -> str | None:
    active = node_models(port)["active"]
    return active["sha256"] if isinstance(active, dict) else None


def test_push_confirms_the_new_model_and_is_idempotent(vnode: str, trained_package: Path,
                                                       reference: ModelPackage) -> None:
    package = load_package(trained_package)
    [dry] = push_model(package, [vnode], dry_run=True)
    assert (dry.status, dry.previous) == ("dry run", REFERENCE) and active_sha(vnode) == reference.sha256
    [done] = push_model(package, [vnode])
    assert done.ok and done.status == "activated", done.detail
    assert done.previous == REFERENCE and "hello confirms" in done.detail
    assert node_models(vnode)["previous"] == {"id": REFERENCE, "sha256": reference.sha256}
    [again] = push_model(package, [vnode])
    assert again.status == "already active"


def test_cut_at_random_bytes_keeps_a_working_model_and_a_rerun_finishes(
        vnode: str, trained_package: Path, reference: ModelPackage, monkeypatch: pytest.MonkeyPatch) -> None:
    from fabnode.sim import protocol_sim

    package = load_package(trained_package)
    sent = {"bytes": 0, "cut_at": -1}
    real_write = protocol_sim.Serial.write

    def write(port: protocol_sim.Serial, data: bytes) -> int | None:
        if 0 <= sent["cut_at"] < sent["bytes"] + len(data):
            sent["cut_at"] = -1
            assert port.node is not None
            port.node.usb_disconnect(0.0)  # the cable is pulled: the bus-powered node is off
            raise serial.SerialException("device disconnected")
        sent["bytes"] += len(data)
        return real_write(port, data)

    monkeypatch.setattr(protocol_sim.Serial, "write", write)
    [full] = push_model(package, [vnode])  # measure a whole push's bytes
    total = sent["bytes"]
    assert full.ok and total > full.wire_bytes > len(package.model) / 2
    for cut in sorted(np.random.default_rng(7).integers(0, total, 2).tolist()):
        [back] = push_model(reference, [vnode])  # hello confirms the reference model is active again
        assert back.status == "activated", back.detail
        sent.update(bytes=0, cut_at=cut)
        [cut_push] = push_model(package, [vnode])
        assert not cut_push.ok, f"cut at byte {cut} of {total} went unnoticed"
        # after the cut the node boots with a model that passes the store's checks: the old one,
        # or the new one if the swap had already been made
        assert active_sha(vnode) in (reference.sha256, package.sha256), f"cut at byte {cut}"
        [rerun] = push_model(package, [vnode])
        assert rerun.ok, rerun.detail  # "activated" (hello confirmed it) or "already active"


def test_power_loss_mid_swap_recovers_the_previous_model(vnode: str, trained_package: Path,
                                                         reference: ModelPackage) -> None:
    from fabnode.repl import NodeRepl

    package = load_package(trained_package)
    with NodeRepl(vnode) as repl:  # stage the new model, start the swap, lose power after one rename
        repl.exec("from monitor import store\nstore.stage_dir()")
        repl.write_file("/models/staging/model.tflite", package.model)
        repl.exec("import os\nos.rename('/models/active', '/models/previous')")
    assert active_sha(vnode) == reference.sha256  # store.recover() at boot put it back
    [rerun] = push_model(package, [vnode])
    assert rerun.status == "activated", rerun.detail


def test_self_test_failure_on_the_node_keeps_the_old_model(vnode: str, trained_package: Path,
                                                           reference: ModelPackage) -> None:
    package = load_package(trained_package)
    self_test = dict(package.manifest["self_test"])
    self_test["output"] = [(v + 1) % 128 for v in self_test["output"]]
    broken = replace(package, manifest={**package.manifest, "self_test": self_test})  # past host validation
    [result] = push_model(broken, [vnode])
    assert result.status == "failed" and "refused the model" in result.detail and "self-test" in result.detail
    assert active_sha(vnode) == reference.sha256


def test_wrong_board_is_refused_before_anything_is_written(vnode: str, trained_package: Path,
                                                           reference: ModelPackage) -> None:
    package = load_package(trained_package)
    other = replace(package, manifest={**package.manifest, "boards": ["esp32c3-xiao"]})
    [result] = push_model(other, [vnode])
    assert not result.ok and "the node's board is esp32-devkitc" in result.detail
    assert node_models(vnode)["staged"] is False


def test_a_package_of_older_features_is_refused_with_a_rebuild_hint(vnode: str, trained_package: Path) -> None:
    package = load_package(trained_package)
    old = replace(package, manifest={**package.manifest, "features": {**package.feature_spec, "version": 1}})
    [result] = push_model(old, [vnode])
    assert not result.ok and "computes features version 2, the model needs version 1" in result.detail
    assert "rebuild the package" in result.detail
    assert node_models(vnode)["staged"] is False


def test_cli_table_and_exit_code_for_several_ports(vnode: str, trained_package: Path) -> None:
    result = CliRunner().invoke(cli, ["push-model", str(trained_package), "-p", vnode, "-p", "sim://absent?board=nope",
                                      "--json"])
    rows = json.loads(result.stdout.splitlines()[0])
    assert [(r["port"], r["ok"]) for r in rows] == [(vnode, True), ("sim://absent?board=nope", False)]
    assert result.exit_code == 1 and "was not installed on sim://absent" in str(result.exception)


def test_a_node_without_the_app_is_told_to_deploy_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    reference: ModelPackage) -> None:
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    [result] = push_model(reference, ["sim://bare"])  # a new virtual node: MicroPython, no app
    assert not result.ok
    assert result.detail == "sim://bare: the fabnode app is not installed (install it with " \
                            "`fabnode deploy --board BOARD -p PORT`)"
