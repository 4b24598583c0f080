"""Model package validation: every rejection names its reason."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.models.package import (
    MANIFEST_FILE,
    MODEL_FILE,
    PackageError,
    check_board,
    load_package,
    sha256_hex,
    write_package,
)
from fabnode.models.runtimes import tfl_outputs, tflm_outputs
from fabnode.models.tflite_writer import FILE_IDENTIFIER

Manifest = dict[str, Any]


def altered(source: Path, folder: Path, change: Callable[[Manifest], None] | None = None,
            model: bytes | None = None) -> Path:
    """A copy of the package at ``source`` with its manifest changed and/or its model replaced."""
    target = folder / "altered"
    shutil.copytree(source, target)
    if model is not None:
        (target / MODEL_FILE).write_bytes(model)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    if change is not None:
        change(manifest)
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    return target


def test_trained_package_is_valid_and_self_consistent(trained_package: Path) -> None:
    package = load_package(trained_package)
    manifest = package.manifest
    assert package.sha256 == sha256_hex((trained_package / MODEL_FILE).read_bytes())
    assert manifest["ops"] == ["FULLY_CONNECTED"]
    assert manifest["boards"] == ["esp32-devkitc"] and manifest["features"]["rate_hz"] == 3200
    assert manifest["input"]["shape"] == [1, len(manifest["normalization"]["mean"])]
    assert manifest["agreement"]["decision_agreement"] == 1.0
    assert manifest["training"]["sources"][0]["name"] == "healthy_train.npy"
    check_board(package, get_board("esp32-devkitc"))


def test_written_package_runs_bit_exact_in_tfl_and_tflm(trained_package: Path) -> None:
    model = (trained_package / MODEL_FILE).read_bytes()
    size = load_package(trained_package).manifest["input"]["shape"][1]
    inputs = np.random.default_rng(5).integers(-128, 128, (300, size)).astype(np.int8)
    inputs[:2] = [[-128] * size, [127] * size]
    assert np.array_equal(tfl_outputs(model, inputs), tflm_outputs(model, inputs))


def test_zip_and_directory_hold_the_same_package(trained_package: Path, tmp_path: Path) -> None:
    package = load_package(trained_package)
    zipped = write_package(tmp_path / "copy.zip", package.manifest, package.model)
    assert zipfile.is_zipfile(zipped)
    assert load_package(zipped).manifest == package.manifest


@pytest.mark.parametrize(("field", "reason"), [
    ("threshold", "'threshold' is missing"),
    ("model_sha256", "'model_sha256' is missing"),
    ("self_test", "'self_test' is missing"),
    ("features", "'features' is missing"),
    ("training", "'training' is missing"),
    ("fixed_point", "'fixed_point' is missing"),
])
def test_missing_field_is_named(trained_package: Path, tmp_path: Path, field: str, reason: str) -> None:
    bad = altered(trained_package, tmp_path, lambda m: m.pop(field))
    with pytest.raises(PackageError, match=reason):
        load_package(bad)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda m: m.update(schema=2), "schema.*is 2"),
    (lambda m: m.update(id="has space"), "'id' is not valid"),
    (lambda m: m.update(threshold=-1), "'threshold' must be positive"),
    (lambda m: m["normalization"]["std"].pop(), "'normalization.std' has 9 entries"),
    (lambda m: m["normalization"]["std"].__setitem__(0, 0), r"'normalization.std.0' must be positive"),
    (lambda m: m["features"].update(window=1000), "'features' is not valid.*power of two"),
    (lambda m: m["features"].update(bands_hz=[[200, 400]]), "'features' describes 5 features, the model takes 10"),
    (lambda m: m["features"].update(level=True), "'features' describes 11 features, the model takes 10"),
    (lambda m: m["features"].update(level="no"), "'features' is not valid.*level must be true or false"),
    (lambda m: m["alarm"].update(k=6), "'alarm' is not a valid k-of-n alarm"),
    (lambda m: m.update(threshold=m["threshold"] * 2), "'fixed_point' does not match"),
    (lambda m: m["fixed_point"]["shift"].__setitem__(0, 40), "'fixed_point' does not match"),
    (lambda m: m["self_test"]["input"].__setitem__(0, 300), "'self_test.input' must be 10 int8 values"),
    (lambda m: m["input"].update(zero_point=5), "input quantization"),
    (lambda m: m.update(ops=["FULLY_CONNECTED", "SOFTMAX"]), "the manifest lists FULLY_CONNECTED, SOFTMAX"),
    (lambda m: m.update(arena_bytes=1), "the manifest promises 1"),
    (lambda m: m["self_test"]["output"].__setitem__(0, (m["self_test"]["output"][0] + 1) % 128),
     "self-test gives a different output"),
])
def test_inconsistent_manifest_is_rejected_with_the_reason(
        trained_package: Path, tmp_path: Path, change: Callable[[Manifest], None], reason: str) -> None:
    with pytest.raises(PackageError, match=reason):
        load_package(altered(trained_package, tmp_path, change))


def test_modified_model_fails_the_hash_check(trained_package: Path, tmp_path: Path) -> None:
    model = bytearray((trained_package / MODEL_FILE).read_bytes())
    model[-1] ^= 0xFF
    with pytest.raises(PackageError, match=r"sha256 .* the manifest says"):
        load_package(altered(trained_package, tmp_path, model=bytes(model)))


def test_operator_the_node_cannot_run_is_rejected_by_name(trained_package: Path, tmp_path: Path) -> None:
    root = schema.ModelT.InitFromPackedBuf((trained_package / MODEL_FILE).read_bytes(), 0)
    root.operatorCodes[0].builtinCode = root.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.LSTM
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(root.Pack(builder), file_identifier=FILE_IDENTIFIER)
    model = bytes(builder.Output())

    def point_at_new_model(manifest: Manifest) -> None:
        manifest.update(model_sha256=sha256_hex(model), flash_bytes=len(model), ops=["LSTM"])

    with pytest.raises(PackageError, match=r"interpreter cannot run this model.*LSTM"):
        load_package(altered(trained_package, tmp_path, point_at_new_model, model))


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="does not exist"):
        load_package(tmp_path / "nothing")
    with pytest.raises(PackageError, match=r"manifest.json is missing"):
        load_package(tmp_path)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(PackageError, match=r"neither a package directory nor a readable .zip"):
        load_package(tmp_path / "junk.zip")


def test_board_checks_target_rate_and_budget(trained_package: Path, tmp_path: Path) -> None:
    package = load_package(trained_package)
    with pytest.raises(PackageError, match="made for esp32-devkitc, not esp32c3-xiao"):
        check_board(package, get_board("esp32c3-xiao"))
    oversized = load_package(altered(trained_package, tmp_path, lambda m: m.update(arena_bytes=10**6)))
    with pytest.raises(PackageError, match=r"needs .* bytes of RAM"):
        check_board(oversized, get_board("esp32-devkitc"))
    check_board(oversized, get_board("esp32-devkitc"), force=True)


def test_model_info_cli(trained_package: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["model", "info", str(trained_package)])
    assert result.exit_code == 0, result.output
    assert "model synthetic" in result.output and "FULLY_CONNECTED" in result.output
    result = runner.invoke(cli, ["model", "info", str(trained_package), "--json"])
    assert json.loads(result.output)["manifest"]["id"] == "synthetic"
    bad = altered(trained_package, tmp_path, lambda m: m.pop("threshold"))
    result = runner.invoke(cli, ["model", "info", str(bad)])
    assert result.exit_code == 1 and isinstance(result.exception, PackageError)
