"""``fabnode collect`` against a stand-in node that streams raw blocks and feature vectors."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fake_node import FakeNode
from telemetry_streams import HELLO, frame

from fabnode.cli import cli
from fabnode.collect import CollectError, NodeDataset, check_baud, collect, decode_block, raw_baud_needed
from fabnode.recordings import load_recording

SCALE_G = 0.0039
HOP = 64


def counts(first: int, frames: int) -> np.ndarray:
    """The stand-in sensor's signal: a 100 Hz sine on x, its index on y, constant 1 g on z."""
    n = np.arange(first, first + frames)
    x = np.round(500 * np.sin(2 * np.pi * 100 * n / 3200)).astype("<i2")
    return np.stack([x, (n % 1000).astype("<i2"), np.full(frames, 256, "<i2")], axis=1)


class StreamingNode(FakeNode):
    """Answers hello/stream commands and streams blocks while asked to; can lose some."""

    def __init__(self, lose_blocks: tuple[int, ...] = (), node_id: str = "n1") -> None:
        self.node_id = node_id
        self.overruns = 0
        self.seq = 0
        self.lose_blocks = lose_blocks
        self.streaming = threading.Event()
        self.mode = "off"
        super().__init__(respond=self.answer)
        threading.Thread(target=self._stream, daemon=True).start()

    def record(self, kind: str, payload: dict[str, object]) -> bytes:
        self.seq += 1
        return frame(kind, self.node_id, self.seq, self.seq * 10, payload)

    def answer(self, line: bytes) -> bytes:
        words = line.decode().lstrip("!").split()
        if words[0] == "hello":
            return self.record("reply", {"cmd": "hello", "ok": True,
                                         "data": {**HELLO, "hop": HOP, "node": self.node_id}})
        if words[0] == "status":
            self.overruns += 2
            return self.record("reply", {"cmd": "status", "ok": True, "data": {"overruns": self.overruns}})
        self.mode = words[1]
        (self.streaming.set if self.mode != "off" else self.streaming.clear)()
        return self.record("reply", {"cmd": "stream", "ok": True, "data": {"stream": self.mode}})

    def _stream(self) -> None:
        block = 0
        while True:
            self.streaming.wait()
            if self.mode == "raw":
                data = counts(block * HOP, HOP)
                payload = {"kind": "raw", "dtype": "<i2", "shape": [HOP, 3], "first": block * HOP,
                           "scale_g": SCALE_G, "rate_hz": 3200}
            else:
                data = (np.arange(8, dtype="<i4") + block) * 4096  # Q12, as the node sends them
                payload = {"kind": "features", "dtype": "<i4", "scale": 1 / 4096, "shape": [8], "window": block,
                           "rate_hz": 3200}
            payload["data"] = base64.b64encode(data.tobytes()).decode()
            line = self.record("raw", payload)
            if block not in self.lose_blocks:
                self.send(line)
            block += 1
            time.sleep(0.005)


@pytest.fixture
def streaming_node() -> Iterator[StreamingNode]:
    node = StreamingNode(lose_blocks=(3, 4))
    yield node
    node.close()


def test_raw_collection_matches_the_node_signal_and_lists_the_loss(streaming_node: StreamingNode,
                                                                    tmp_path: Path) -> None:
    [(_, path)] = collect([streaming_node.url], tmp_path, mode="raw", duration=0.5, label="healthy")
    assert not streaming_node.streaming.is_set()  # `!stream off` was sent at the end
    data = np.load(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["discontinuities"] == [[3 * HOP, 2 * HOP]] and meta["dropped"] == 2 * HOP
    expected = np.concatenate([counts(0, 3 * HOP), counts(5 * HOP, len(data) - 3 * HOP)]) * np.float32(SCALE_G)
    np.testing.assert_array_equal(data, expected.astype(np.float32))
    assert meta["label"] == "healthy" and meta["board"] == "esp32-devkitc" and meta["firmware"] == "0.1.0"
    assert meta["sensor"] == "adxl345" and meta["sample_rate_hz"] == 3200 and meta["axes"] == 3
    assert meta["model"] == "ref-1" and meta["sequence_gaps"] == 1 and meta["start_time"].endswith("+00:00")
    assert meta["sensor_overruns"] == 2
    recording = load_recording(path)  # the folder's index.json gives the rate
    assert recording.rate_hz == 3200 and recording.samples.shape == data.shape


def test_feature_collection_via_the_cli(streaming_node: StreamingNode, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["collect", "-p", streaming_node.url, "--out", str(tmp_path),
                                      "--mode", "features", "--duration", "0.4", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)
    data = np.load(summary["file"])
    assert summary["dropped"] == 2 and summary["windows"] == len(data) > 5
    np.testing.assert_array_equal(data[:3, 0], [0, 1, 2])
    np.testing.assert_array_equal(data[3:5, 0], [5, 6])


def test_raw_refused_when_the_baud_is_too_low() -> None:
    assert 250_000 < raw_baud_needed(3200, 3, 2, 512) < 300_000
    with pytest.raises(CollectError, match="too slow for raw") as err:
        check_baud("/dev/ttyUSB0", 115200, HELLO)
    assert err.value.hint is not None and "-b 460800" in err.value.hint
    check_baud("/dev/ttyUSB0", 460800, HELLO)
    check_baud("socket://127.0.0.1:1", 115200, HELLO)


def test_block_sent_as_several_padded_base64_pieces_decodes_whole() -> None:
    frames = np.arange(8, dtype="<i2").reshape(4, 2)  # 4-byte pieces: each base64 piece is padded
    pieces = "".join(base64.b64encode(row.tobytes()).decode() for row in frames)
    assert "=" in pieces[:-2]
    block = decode_block({"dtype": "<i2", "shape": [4, 2], "data": pieces})
    np.testing.assert_array_equal(block, frames)


def test_frame_index_wrap_is_not_a_loss() -> None:
    dataset = NodeDataset("p", "raw", None)
    top = (1 << 30) - 4
    for first in (top, 0, 8):
        payload = {"kind": "raw", "dtype": "<i2", "shape": [4, 1], "first": first, "scale_g": 1.0,
                   "rate_hz": 100, "data": base64.b64encode(np.zeros(4, "<i2").tobytes()).decode()}
        dataset.add(payload)
    assert dataset.discontinuities == [(8, 4)] and dataset.rows == 12
    dataset.add({"kind": "raw", "dtype": "<i2", "shape": [9, 1], "first": 0, "scale_g": 1.0, "data": "AA=="})
    assert dataset.bad_blocks == 1


def test_several_ports_collect_at_once_one_file_per_node(tmp_path: Path) -> None:
    nodes = [StreamingNode(node_id="press-1"), StreamingNode(node_id="press-2"), StreamingNode(node_id="press-2")]
    try:
        written = collect([n.url for n in nodes], tmp_path, mode="features", duration=0.3)
    finally:
        for n in nodes:
            n.close()
    names = sorted(path.name for _, path in written)
    assert len(set(names)) == 3 and [n.split("-features-")[0] for n in names] == ["press-1", "press-2", "press-2"]
    assert names[1] == names[2].replace(".npy", "-2.npy")  # the same id twice: nothing overwritten
    assert all(dataset.rows > 3 and dataset.dropped == 0 for dataset, _ in written)
