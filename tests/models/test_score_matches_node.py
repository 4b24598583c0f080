"""`fabnode score --board` computes, window by window, the scores a virtual node replaying the recording reports.

The node runs the app with the shipped reference model on the shipped excerpts (healthy, then an
outer-race fault; ``hardware.demo_source``) and streams every window's feature vector and score
(``!stream features``). The host measures the same signal through the same sensor path
(``fabnode.sim.measure``: the signal file, the simulated ADXL345's counts, the firmware's driver
and sampler) and scores it with ``fabnode.models.scoring``.

Alignment: the node starts its sensor last in ``App.start()``, right after the ``hello`` (whose
``ticks_ms`` is simulated time), so its windows start at the signal frame playing then; the test
finds that frame by matching the first streamed window's features among the frames of the
following half second. Equal means equal: features, int8 inputs and scores are integers (Q12) on
both sides, so the feature vectors are identical and the scores are the same Q12 logarithm (sent
as its value, unrounded: the two sides' pow() may differ in the last bit, not by a Q12 step).
"""

from __future__ import annotations

import json
import math
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fabnode.boards import get_board
from fabnode.collect import decode_block
from fabnode.models import training
from fabnode.models.package import feature_extractor, load_package
from fabnode.models.scoring import score_samples
from fabnode.monitor import Monitor
from fabnode.mpwasm import tree_files
from fabnode.resources import boards_dir, firmware_dir, models_dir
from fabnode.telemetry import Record

BOARD = get_board("esp32-devkitc")
REFERENCE = models_dir() / "bearing-hit-mfs-v1"
ONSET_S = 3.5  # simulated seconds of healthy machine after power-on (the healthy excerpt loops at 3 s)
END_S = ONSET_S + 1.6  # stream windows until then: past the fault's alarm
SEARCH_S = 0.5  # how long after the hello the sensor may start


def install(name: str, source: Any) -> None:
    """A virtual node with the app and the reference model, measuring ``source``."""
    from fabnode.sim import node

    node_state = node.create_node(name, BOARD.id)
    files = tree_files(firmware_dir(), "/")
    files.update(tree_files(REFERENCE, "/models/active"))
    files["/config/board.json"] = (boards_dir() / f"{BOARD.id}.json").read_bytes()
    files["/config/node.json"] = json.dumps({"node_id": "press-7", "telemetry_s": 1}).encode()
    node.write_files(node_state, files)
    node.VirtualNode(node_state).set_signal(source)


def run_node(port: str) -> tuple[Record, dict[int, dict[str, Any]], list[Record]]:
    """Power the node on, stream features: (hello, window number -> features payload, other records)."""
    streamed: dict[int, dict[str, Any]] = {}
    records: list[Record] = []
    with Monitor([port], BOARD.max_baud) as monitor:  # opening the port powers the node on: signal time 0
        for item in monitor.watch(duration=END_S + 30):
            record = item.event
            if not isinstance(record, Record):
                continue
            if record.type == "hello":
                monitor.send("!stream features")
            if record.type == "raw" and record.payload["kind"] == "features":
                streamed[record.payload["window"]] = record.payload
                if record.ticks_ms > END_S * 1000:  # the node's ticks are simulated time
                    break
            else:
                records.append(record)
    return records[0], streamed, records


def first_frame(samples: np.ndarray, spec: dict[str, Any], window: int, features: np.ndarray, lo: int, hi: int) -> int:
    """The frame at which the node's window 1 starts, given window number ``window``'s features."""
    extractor = feature_extractor(spec)
    out = array("i", bytes(4 * extractor.size))
    flat = np.ascontiguousarray(samples, np.int32).ravel()
    axes, size = spec["axes"], spec["window"]
    for start in range(lo, hi):
        first = start + (window - 1) * spec["hop"]
        extractor.compute(array("i", flat[first * axes:(first + size) * axes].tobytes()), out, False)
        if np.array_equal(np.frombuffer(out, np.int32), features):
            return start
    raise AssertionError(f"no window of the host's measurement starting at frames {lo}..{hi} has the node's features")


@pytest.mark.micropython
@pytest.mark.slow
def test_score_equals_the_scores_the_virtual_node_reports_window_by_window(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FABNODE_HOME", str(tmp_path / "home"))
    from fabnode.sim import hardware
    from fabnode.sim.measure import measure

    reference = load_package(REFERENCE)
    spec = reference.feature_spec
    rate, hop, size = spec["rate_hz"], spec["hop"], spec["window"]
    source = hardware.demo_source(ONSET_S)
    install("scoring", source)
    hello, streamed, records = run_node("sim://scoring")
    assert hello.type == "hello" and hello.payload["model"] == reference.id, records[:3]
    statuses = [r.payload for r in records if r.type == "status"]
    lost = [(s["windows"], s["overruns"], s["dropped"]) for s in statuses]
    assert lost and all(overruns == dropped == 0 for _, overruns, dropped in lost), lost
    windows = sorted(streamed)
    assert windows == list(range(windows[0], windows[-1] + 1)), windows  # nothing lost on the line

    lo = int(hello.ticks_ms * rate / 1000)
    hi = lo + int(SEARCH_S * rate)
    measured = measure(BOARD, source, hi + (windows[-1] - 1) * hop + size)
    samples = measured.counts
    node_features = {w: decode_block(p) for w, p in streamed.items()}
    start = first_frame(samples, spec, windows[0], node_features[windows[0]], lo, hi)

    # The host's window i is the node's window i + 1.
    host = score_samples(reference, samples[start:start + (windows[-1] - 1) * hop + size], "replay",
                         measured.scale_g)
    assert len(host.scores) == windows[-1]
    host_features = training.q12_rows(training.feature_matrix(samples[start:], spec, scale_g=measured.scale_g))
    for w in windows:
        np.testing.assert_array_equal(node_features[w], host_features[w - 1], err_msg=f"window {w}")
        assert streamed[w]["score_log2"] == round(math.log2(host.scores[w - 1]) * 4096), f"window {w}"
        assert streamed[w]["score"] == pytest.approx(host.scores[w - 1], rel=1e-12), f"window {w}"
    # The replay really went from healthy to faulty inside the compared windows.
    assert not host.anomalous[windows[0] - 1] and host.anomalous[windows[-1] - 1]
    node_alarms = [(r.payload["window"], r.payload["event"]) for r in records
                   if r.type == "alarm" and r.payload["kind"] == "anomaly"]
    assert node_alarms == [(e.window + 1, e.state) for e in host.events] == [(node_alarms[0][0], "start")]
