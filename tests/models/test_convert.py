"""fabnode convert: small Keras autoencoders in every accepted format -> checked int8 packages.

Tests that build models need TensorFlow (the ``convert`` extra) and are skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from model_builders import SIGNAL_RATE_HZ

from fabnode.boards import get_board
from fabnode.cli import cli
from fabnode.errors import UsageError
from fabnode.models import training
from fabnode.models.build import board_spec
from fabnode.models.convert import ConversionError, convert_package, model_kind
from fabnode.models.package import PackageError, load_package
from fabnode.models.scoring import score_files
from fabnode.recordings import load_recording

FEATURES = 10
# TensorFlow and Keras warn about their own internals (numpy 2 copy semantics, quantizer statistics).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def tf() -> Any:
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def healthy_features(signals: dict[str, Path]) -> np.ndarray:
    """Normalized, clipped feature rows of the healthy training signal: what convert calibrates on."""
    spec = board_spec(get_board("esp32-devkitc"))
    rows = training.feature_matrix(training.node_samples(load_recording(signals["train"], SIGNAL_RATE_HZ), spec), spec)
    return np.clip(training.fit_normalization(rows).apply(rows), *training.INPUT_RANGE)


def autoencoder(tf: Any, data: np.ndarray | None, hidden: tuple[int, ...] = (8, 4, 8), inputs: int = FEATURES,
                activation: str = "relu") -> Any:
    tf.keras.utils.set_random_seed(0)
    x = source = tf.keras.Input((inputs,))
    for units in hidden:
        x = tf.keras.layers.Dense(units, activation=activation)(x)
    model = tf.keras.Model(source, tf.keras.layers.Dense(inputs)(x))
    if data is not None:
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
        model.fit(data, data, epochs=60, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def model_files(tf: Any, healthy_features: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One trained autoencoder saved as .keras, .h5, SavedModel and float .tflite."""
    folder = tmp_path_factory.mktemp("keras")
    model = autoencoder(tf, healthy_features)
    model.save(folder / "ae.keras")
    model.save(folder / "ae.h5")
    model.export(folder / "ae_saved", verbose=False)
    (folder / "ae.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return {"keras": folder / "ae.keras", "h5": folder / "ae.h5", "saved_model": folder / "ae_saved",
            "tflite": folder / "ae.tflite"}


@pytest.mark.parametrize("kind", ["keras", "h5", "saved_model", "tflite"])
def test_every_format_converts_to_a_valid_bit_exact_package(model_files: dict[str, Path], signals: dict[str, Path],
                                                            tmp_path: Path, kind: str) -> None:
    checks: list[Any] = []
    package = convert_package(model_files[kind], [signals["train"]], "esp32-devkitc", tmp_path / kind,
                              rate=SIGNAL_RATE_HZ, report=checks.append)
    assert [c.name for c in checks] == ["shapes", "operators", "bit-exact", "float vs int8", "budget"]
    manifest = load_package(tmp_path / kind).manifest
    assert manifest["ops"] == ["FULLY_CONNECTED"]
    assert manifest["training"]["converted_from"] == model_files[kind].name
    assert manifest["agreement"]["decision_agreement"] == 1.0
    healthy, faulty = score_files(package, [signals["healthy"], signals["faulty"]], SIGNAL_RATE_HZ)
    assert healthy.anomalous.mean() < 0.1 and faulty.anomalous.all()


def test_operator_tfl_lacks_is_named(tf: Any, healthy_features: np.ndarray, signals: dict[str, Path],
                                     tmp_path: Path) -> None:
    autoencoder(tf, None, hidden=(4,), activation="gelu").save(tmp_path / "gelu.keras")
    with pytest.raises(ConversionError, match="GELU"):
        convert_package(tmp_path / "gelu.keras", [signals["train"]], "esp32-devkitc", tmp_path / "gelu",
                        rate=SIGNAL_RATE_HZ)


def test_input_shape_must_match_the_feature_spec(tf: Any, signals: dict[str, Path], tmp_path: Path) -> None:
    autoencoder(tf, None, hidden=(4,), inputs=FEATURES + 1).save(tmp_path / "wide.keras")
    with pytest.raises(ConversionError, match=r"input is \[1, 11\], the feature spec gives \[1, 10\]"):
        convert_package(tmp_path / "wide.keras", [signals["train"]], "esp32-devkitc", tmp_path / "wide",
                        rate=SIGNAL_RATE_HZ)


def test_budget_is_the_only_check_force_skips(tf: Any, signals: dict[str, Path], tmp_path: Path) -> None:
    autoencoder(tf, None, hidden=(2048, 16)).save(tmp_path / "big.keras")  # over 80 KB of int8 weights
    with pytest.raises(PackageError, match=r"needs .* bytes of RAM"):
        convert_package(tmp_path / "big.keras", [signals["train"]], "esp32-devkitc", tmp_path / "big",
                        rate=SIGNAL_RATE_HZ, threshold=1e6)
    assert not (tmp_path / "big").exists()
    package = convert_package(tmp_path / "big.keras", [signals["train"]], "esp32-devkitc", tmp_path / "big",
                              rate=SIGNAL_RATE_HZ, threshold=1e6, force=True)
    assert package.manifest["flash_bytes"] > 48 * 1024


def test_convert_cli_json_is_clean(model_files: dict[str, Path], signals: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(model_files["keras"]), "--calibration", str(signals["train"]),
                                      "--board", "esp32-devkitc", "--out", str(tmp_path / "p.zip"),
                                      "--rate", str(SIGNAL_RATE_HZ), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["checks"]) == {"shapes", "operators", "bit-exact", "float vs int8", "budget"}
    assert report["manifest"]["id"] == "p"


def test_quantized_tflite_is_refused(tmp_path: Path, signals: dict[str, Path]) -> None:
    reference = Path(__file__).resolve().parents[2] / "models" / "bearing-hit-mfs-v1" / "model.tflite"
    with pytest.raises(ConversionError, match="already quantized"):
        convert_package(reference, [signals["train"]], "esp32-devkitc", tmp_path / "q", rate=SIGNAL_RATE_HZ)


def test_unknown_model_format(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(UsageError, match="unknown model format"):
        model_kind(tmp_path / "model.onnx")
    with pytest.raises(UsageError, match=r"without saved_model\.pb"):
        model_kind(tmp_path)
