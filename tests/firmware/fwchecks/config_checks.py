"""Node configuration: defaults, validation with the key named, missing files."""

import json

import pipeline
import scratch
from monitor import config


def _raises(fn, words):
    try:
        fn()
    except ValueError as exc:
        assert words in str(exc), str(exc)
        return
    raise AssertionError("no ValueError")


def check_defaults_and_node_id_from_the_chip():
    cfg = config.Config(pipeline.BOARD, {}, "a1b2c3d4e5f6")
    assert cfg.node_id == "fab-d4e5f6" and cfg.machine_class == "II" and cfg.telemetry_ms == 10000
    assert cfg.vibration["type"] == "adxl345" and cfg.temperature["type"] == "ds18b20"
    assert config.Config({"pins": {}, "sensors": []}, {}).vibration is None


def check_bad_values_name_their_key():
    board = pipeline.BOARD
    _raises(lambda: config.Config(board, {"nodeid": "x"}), "unknown key 'nodeid'")
    _raises(lambda: config.Config(board, {"node_id": "a b"}), "node_id")
    _raises(lambda: config.Config(board, {"node_id": "x" * 33}), "node_id")
    _raises(lambda: config.Config(board, {"machine_class": "V"}), "machine class")
    _raises(lambda: config.Config(board, {"iso_alarm_zone": "A"}), "iso_alarm_zone")
    _raises(lambda: config.Config(board, {"telemetry_s": 0}), "telemetry_s")


def check_load_reads_both_files_and_needs_the_board():
    folder = scratch.folder("config")
    _raises(lambda: config.load("a1b2c3", folder + "/board.json", folder + "/node.json"), "board file")
    scratch.write(folder + "/board.json", json.dumps(pipeline.BOARD))
    assert config.load("a1b2c3", folder + "/board.json", folder + "/node.json").node_id == "fab-a1b2c3"
    scratch.write(folder + "/node.json", json.dumps({"node_id": "press-7", "machine_class": 3}))
    cfg = config.load("a1b2c3", folder + "/board.json", folder + "/node.json")
    assert cfg.node_id == "press-7" and cfg.machine_class == "III"
