"""Datasets from running nodes (``fabnode collect``): raw sensor frames or feature vectors.

The node streams ``raw`` records (docs/protocol.md) after ``!stream raw|features``; only records
whose CRC matched are used, lost blocks are detected from the frame index (raw) or window
number (features) and written down in the sidecar, never papered over. Output per node:
``<node>-<mode>-<start>.npy`` and a ``.json`` sidecar, plus an entry in the folder's
``index.json`` so ``fabnode.recordings.load_recording`` reads the arrays with their rate.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fabnode.errors import FabnodeError, UsageError
from fabnode.monitor import DEFAULT_BAUD, Monitor, PortEvent
from fabnode.telemetry import SEQ_MODULO, Corrupt, Gap, Record
from fabnode.telemetry_file import host_time

MODES = ("raw", "features")
INDEX_MODULO = SEQ_MODULO  # frame indexes wrap like sequence numbers (firmware sampler.FRAME_MODULO)
INDEX_FILE = "index.json"
# Bytes per sample of each sensor's raw counts (docs/protocol.md `raw`: <i2, or <i4 for 20-bit).
SAMPLE_BYTES = {"adxl355": 4}
DEFAULT_SAMPLE_BYTES = 2
# JSON, header and CRC around each block's base64 text.
BLOCK_OVERHEAD_BYTES = 160
BITS_PER_BYTE = 10  # start + 8 data + stop
_B64_PIECE = re.compile(r"[^=]*=*")


class CollectError(FabnodeError):
    """Data collection could not start or its data is unusable."""


def raw_baud_needed(rate_hz: float, axes: int, sample_bytes: int, hop: int) -> int:
    """Lowest baud that carries a raw stream: base64 samples plus each block's framing."""
    payload = rate_hz * axes * sample_bytes * 4 / 3
    framing = BLOCK_OVERHEAD_BYTES * rate_hz / hop
    return int((payload + framing) * BITS_PER_BYTE) + 1


def decode_block(payload: dict[str, Any]) -> npt.NDArray[Any]:
    """The array a ``raw`` record carries (base64 little-endian bytes of ``dtype`` and ``shape``).

    The node may send the base64 of several buffers back to back, so padding can occur inside
    the text; each padded piece is decoded on its own (a plain decode would stop at the first).
    """
    try:
        text = payload["data"]
        data = b"".join(base64.b64decode(piece, validate=True) for piece in _B64_PIECE.findall(text) if piece)
        return np.frombuffer(data, dtype=np.dtype(payload["dtype"])).reshape(payload["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CollectError(f"a raw record does not hold the array it describes: {exc}") from exc


@dataclass
class NodeDataset:
    """What one port delivered: blocks in order, and what went missing between them."""

    port: str
    mode: str
    label: str | None
    hello: dict[str, Any] = field(default_factory=dict)
    blocks: list[npt.NDArray[Any]] = field(default_factory=list)
    scale_g: float | None = None
    rate_hz: float | None = None
    next_index: int | None = None  # frame index (raw) or window number (features) expected next
    discontinuities: list[tuple[int, int]] = field(default_factory=list)  # (array row, units lost)
    rows: int = 0
    bad_blocks: int = 0
    # The node's sensor FIFO overrun counter (`status`) before and after: samples lost in the
    # sensor itself, invisible in the frame index.
    overruns_before: int | None = None
    overruns_after: int | None = None
    gaps: int = 0
    corrupt: int = 0
    started: float = 0.0
    ended: float = 0.0

    @property
    def node(self) -> str:
        return str(self.hello.get("node") or self.port.replace("/", "_").replace(":", "_"))

    @property
    def dropped(self) -> int:
        return sum(lost for _, lost in self.discontinuities)

    def add(self, payload: dict[str, Any]) -> None:
        if payload.get("kind") != self.mode:
            return
        try:
            block = decode_block(payload)
        except CollectError:
            self.bad_blocks += 1  # a firmware bug, not noise (the CRC matched): skipped and counted
            return
        if self.mode == "raw":
            index, size = int(payload["first"]), len(block)
            self.scale_g = float(payload["scale_g"])
            block = block.astype(np.float32) * np.float32(self.scale_g)
        else:
            index, size = int(payload["window"]), 1
            # Q12 integers with their "scale" (1/4096); blocks without one hold the values.
            block = (block.astype(np.float32) * np.float32(payload.get("scale", 1.0))).reshape(1, -1)
        self.rate_hz = float(payload.get("rate_hz") or self.rate_hz or 0) or None
        if self.next_index is not None and index != self.next_index:
            lost = (index - self.next_index) % INDEX_MODULO
            if lost >= INDEX_MODULO // 2:  # counting went back: the node restarted, nothing to join to
                lost = 0
            self.discontinuities.append((self.rows, lost))
        self.next_index = (index + size) % INDEX_MODULO
        self.blocks.append(block)
        self.rows += len(block)

    @property
    def sensor_overruns(self) -> int | None:
        if self.overruns_before is None or self.overruns_after is None:
            return None
        return self.overruns_after - self.overruns_before

    def array(self) -> npt.NDArray[np.float32]:
        if not self.blocks:
            raise CollectError(f"{self.port} sent no {self.mode} data",
                               hint="check the node with `fabnode monitor --send status`")
        return np.concatenate(self.blocks).astype(np.float32)

    def sidecar(self) -> dict[str, Any]:
        hello = self.hello
        meta: dict[str, Any] = {
            "mode": self.mode,
            "label": self.label,
            "node": self.node,
            "port": self.port,
            "board": hello.get("board"),
            "firmware": hello.get("fw"),
            "micropython": hello.get("micropython"),
            "model": hello.get("model"),
            "model_sha256": hello.get("model_sha256"),
            "sensor": hello.get("sensor"),
            "range_g": hello.get("range_g"),
            "axes": hello.get("axes"),
            "sample_rate_hz": self.rate_hz if self.mode == "raw" else hello.get("rate_hz"),
            "start_time": host_time(self.started),
            "duration_s": round(self.ended - self.started, 3),
            "shape": [self.rows, *self.blocks[0].shape[1:]] if self.blocks else [0],
            "units": "g" if self.mode == "raw" else "feature values",
            "dropped": self.dropped,
            "dropped_unit": "frames" if self.mode == "raw" else "windows",
            "discontinuities": [list(d) for d in self.discontinuities],
            "sensor_overruns": self.sensor_overruns,
            "sequence_gaps": self.gaps,
            "bad_blocks": self.bad_blocks,
            "corrupt_lines": self.corrupt,
        }
        if self.mode == "raw":
            meta["scale_g"] = self.scale_g
        else:
            meta["window"], meta["hop"] = hello.get("window"), hello.get("hop")
        return meta

    def summary(self) -> dict[str, Any]:
        unit = "frames" if self.mode == "raw" else "windows"
        return {"port": self.port, "node": self.node, unit: self.rows, "dropped": self.dropped,
                "dropped_unit": unit, "sensor_overruns": self.sensor_overruns, "gaps": self.gaps,
                "corrupt": self.corrupt}


def check_baud(port: str, baud: int | None, hello: dict[str, Any]) -> None:
    """Refuse a raw stream the line cannot carry; TCP (socket://) has no baud to check."""
    if port.startswith("socket://"):
        return
    sample_bytes = SAMPLE_BYTES.get(str(hello.get("sensor")), DEFAULT_SAMPLE_BYTES)
    need = raw_baud_needed(float(hello.get("odr_hz") or hello.get("rate_hz") or 0), int(hello.get("axes") or 3),
                           sample_bytes, int(hello.get("hop") or 512))
    have = baud or DEFAULT_BAUD
    if have < need:
        raise CollectError(
            f"{port} at {have} baud is too slow for raw data: {hello.get('sensor')} at "
            f"{hello.get('odr_hz')} Hz x {hello.get('axes')} axes needs at least {need} baud",
            hint=f"use --mode features, or -b {_next_standard_baud(need)} if the node's console runs that fast "
                 "(native-USB boards are not limited by the baud)",
        )


def _next_standard_baud(need: int) -> int:
    return next((b for b in (230400, 460800, 921600, 1500000, 2000000) if b >= need), need)


def collect(ports: list[str] | tuple[str, ...], out_dir: Path, *, mode: str = "raw", duration: float | None = None,
            label: str | None = None, baud: int | None = None, stop: threading.Event | None = None,
            on_block: Callable[[NodeDataset], None] | None = None) -> list[tuple[NodeDataset, Path]]:
    """Stream ``mode`` data from every port for ``duration`` s (or until ``stop``) and write datasets.

    Returns each node's dataset and the ``.npy`` path written. ``on_block(dataset)`` is called
    after each block, for progress.
    """
    if mode not in MODES:
        raise UsageError(f"--mode must be raw or features, not {mode!r}")
    datasets = {port: NodeDataset(port, mode, label) for port in dict.fromkeys(ports)}
    with Monitor(list(datasets), baud=baud) as mon:
        for port, dataset in datasets.items():
            dataset.hello = _reply_data(mon.request("hello", port), "hello")
            if dataset.hello.get("safe_mode"):
                raise CollectError(f"{port}: node {dataset.node} is in safe mode and does not sample",
                                   hint="see docs/protocol.md, 'Safe mode'")
            if mode == "raw":
                check_baud(port, baud, dataset.hello)
            dataset.overruns_before = _overruns(mon, port)
        def take(item: PortEvent) -> None:
            _take(datasets[item.port], item)

        try:
            for port, dataset in datasets.items():
                dataset.started = time.time()
                _reply_data(mon.request(f"stream {mode}", port, seen=take), f"stream {mode}")
            for item in mon.watch(duration=duration, stop=stop):
                take(item)
                if on_block is not None and isinstance(item.event, Record) and item.event.type == "raw":
                    on_block(datasets[item.port])
        finally:
            for port, dataset in datasets.items():
                dataset.ended = time.time()
                _stop_stream(mon, port, take)
                dataset.overruns_after = _overruns(mon, port, take)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [(dataset, _write(dataset, out_dir)) for dataset in datasets.values()]
    _update_index(out_dir, written)
    return written


def _take(dataset: NodeDataset, item: PortEvent) -> None:
    event = item.event
    if isinstance(event, Record) and event.type == "raw":
        dataset.add(event.payload)
    elif isinstance(event, Gap):
        dataset.gaps += 1
    elif isinstance(event, Corrupt):
        dataset.corrupt += 1


def _reply_data(reply: Record, command: str) -> dict[str, Any]:
    if not reply.payload.get("ok"):
        raise CollectError(f"node {reply.node} refused `{command}`: {reply.payload.get('error', 'no reason given')}")
    data = reply.payload.get("data")
    return data if isinstance(data, dict) else {}


def _overruns(mon: Monitor, port: str, seen: Callable[[PortEvent], None] | None = None) -> int | None:
    with contextlib.suppress(FabnodeError):
        overruns = mon.request("status", port, timeout=5, seen=seen).payload.get("data", {}).get("overruns")
        return overruns if isinstance(overruns, int) else None
    return None


def _stop_stream(mon: Monitor, port: str, seen: Callable[[PortEvent], None]) -> None:
    # Best effort: the node may be gone; a node left streaming is stopped by the next `!stream off`.
    with contextlib.suppress(FabnodeError):
        mon.request("stream off", port, timeout=2, seen=seen)


def _write(dataset: NodeDataset, out_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(dataset.started))
    stem = f"{dataset.node}-{dataset.mode}-{stamp}" + (f"-{dataset.label}" if dataset.label else "")
    path, copy = out_dir / f"{stem}.npy", 1
    while path.exists():  # never overwrite: two nodes configured with one id, or a rerun in the same second
        copy += 1
        path = out_dir / f"{stem}-{copy}.npy"
    np.save(path, dataset.array())
    path.with_suffix(".json").write_text(json.dumps(dataset.sidecar(), indent=2) + "\n")
    return path


def _update_index(out_dir: Path, written: list[tuple[NodeDataset, Path]]) -> None:
    """Record each file's sample rate in ``index.json``, the layout ``load_recording`` reads."""
    index_path = out_dir / INDEX_FILE
    try:
        index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    except ValueError as exc:
        raise CollectError(f"{index_path} is not valid JSON; move it away and collect again") from exc
    files = index.setdefault("files", {})
    for dataset, path in written:
        if dataset.mode == "raw":
            meta = dataset.sidecar()
            files[path.name] = {"sample_rate_hz": meta["sample_rate_hz"], "label": dataset.label,
                                "node": dataset.node, "units": "g"}
    index_path.write_text(json.dumps(index, indent=2) + "\n")
