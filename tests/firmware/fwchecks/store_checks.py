"""Model store: staging, sha256 and self-test checks, swap by rename, rollback, interrupted swaps."""

import json
import os

import scratch
from monitor import store


def _staged_root(model=None, manifest=None):
    root = scratch.folder("models")
    scratch.put_package(root + "/staging", model, manifest)
    return root


def _manifest():
    return json.loads(scratch.read(scratch.reference_package() + "/manifest.json", "r"))


def check_activate_then_replace_keeps_previous():
    root = _staged_root()
    result = store.activate_staged(root, 3200)
    assert result == {"ok": True, "model": "bearing-hit-mfs-v1", "previous": None}, result
    scratch.put_package(root + "/staging")
    assert store.activate_staged(root, 3200)["previous"] == "bearing-hit-mfs-v1"
    info = store.info(root)
    assert info["active"]["id"] == info["previous"]["id"] == "bearing-hit-mfs-v1"
    assert not info["staged"]
    assert sorted(os.listdir(root)) == ["active", "previous"]


def check_truncated_model_is_rejected_and_active_kept():
    root = _staged_root()
    store.activate_staged(root, 3200)
    model = scratch.read(scratch.reference_package() + "/model.tflite")
    scratch.put_package(root + "/staging", model=model[: len(model) // 2])  # an interrupted copy
    result = store.activate_staged(root, 3200)
    assert not result["ok"] and "sha256" in result["error"], result
    assert store.info(root)["active"]["id"] == "bearing-hit-mfs-v1"
    assert store.check(root + "/active", 3200).id == "bearing-hit-mfs-v1"


def check_torn_manifest_is_rejected():
    text = scratch.read(scratch.reference_package() + "/manifest.json", "r")
    result = store.activate_staged(_staged_root(manifest=text[:100]), 3200)
    assert not result["ok"] and "not valid JSON" in result["error"], result


def check_self_test_mismatch_is_rejected():
    manifest = _manifest()
    manifest["self_test"]["output"][0] += 1
    result = store.activate_staged(_staged_root(manifest=json.dumps(manifest)), 3200)
    assert not result["ok"] and "self-test output[0]" in result["error"], result


def check_manifest_without_its_integer_constants_is_rejected():
    manifest = _manifest()
    del manifest["fixed_point"]  # a node never makes them from floats: its single precision would differ
    result = store.activate_staged(_staged_root(manifest=json.dumps(manifest)), 3200)
    assert not result["ok"] and "fixed_point" in result["error"], result


def check_model_for_another_rate_is_rejected():
    result = store.activate_staged(_staged_root(), 1000)
    assert not result["ok"] and "the sensor gives 1000 Hz" in result["error"], result


def check_nothing_staged():
    result = store.activate_staged(scratch.folder("models"), 3200)
    assert not result["ok"] and "nothing staged" in result["error"]


def check_corrupted_active_rolls_back_to_previous():
    root = _staged_root()
    store.activate_staged(root, 3200)
    scratch.put_package(root + "/staging")
    store.activate_staged(root, 3200)
    model = bytearray(scratch.read(root + "/active/model.tflite"))
    model[len(model) // 2] ^= 0x40  # a flipped bit in flash
    scratch.write(root + "/active/model.tflite", model)
    loaded, note = store.load_active(root, 3200)
    assert loaded is not None and loaded.id == "bearing-hit-mfs-v1"
    assert "sha256" in note and "restored the previous model" in note, note
    assert store.info(root)["previous"] is None
    assert store.check(root + "/active", 3200).id == "bearing-hit-mfs-v1"


def check_corrupted_active_without_previous_runs_without_model():
    root = _staged_root()
    store.activate_staged(root, 3200)
    scratch.write(root + "/active/manifest.json", "{")
    loaded, note = store.load_active(root, 3200)
    assert loaded is None and "no previous model" in note, note


def check_swap_cut_between_renames_is_rolled_back_at_boot():
    root = _staged_root()
    store.activate_staged(root, 3200)
    scratch.put_package(root + "/staging")
    os.rename(root + "/active", root + "/previous")  # power cut before staging -> active
    loaded, note = store.load_active(root, 3200)
    assert loaded is not None and "rolled back" in note, note
    assert store.info(root)["active"] is not None


def check_empty_store_has_no_model():
    assert store.load_active(scratch.folder("models"), 3200) == (None, None)


def check_stage_dir_empties_staging():
    root = _staged_root()
    path = store.stage_dir(root)
    assert os.listdir(path) == []
