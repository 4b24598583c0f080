"""Pictures of what nodes measured (``fabnode report``): trends, alarms and a spectrum.

Inputs are saved telemetry (``fabnode monitor --save``, ``.jsonl``/``.csv``) and collected raw
datasets (``fabnode collect``, ``.npy`` with its ``.json`` sidecar). The output is one PNG, or a
self-contained HTML page with the plots embedded, so it can be mailed or attached to a ticket.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fabnode.errors import FabnodeError, UsageError
from fabnode.resources import use_firmware_lib
from fabnode.telemetry_file import read_saved

SPECTRUM_FRAMES = 4096  # frames of the latest raw data in the spectrum snapshot (fewer if short)
ZONE_COLORS = {"A": "#c8e6c9", "B": "#fff9c4", "C": "#ffe0b2", "D": "#ffcdd2"}
ALARM_COLORS = {"anomaly": "#d32f2f", "iso": "#f57c00", "temperature": "#7b1fa2"}
OUTPUTS = (".html", ".png")


@dataclass
class NodeSeries:
    """Time series of one node, host times as datetimes."""

    velocity: list[tuple[datetime, float]] = field(default_factory=list)
    temperature: list[tuple[datetime, float]] = field(default_factory=list)
    score: list[tuple[datetime, float]] = field(default_factory=list)  # per window, from status
    score_max: list[tuple[datetime, float]] = field(default_factory=list)  # per interval, from score
    threshold: float | None = None
    machine_class: str = "I"
    alarms: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    records: int = 0
    file_end: datetime | None = None  # where alarms still active at the end are drawn to
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class Spectrum:
    label: str
    freqs_hz: npt.NDArray[np.floating[Any]]
    amplitude_g: npt.NDArray[np.floating[Any]]  # frequencies x axes


@dataclass
class ReportData:
    nodes: dict[str, NodeSeries] = field(default_factory=dict)
    spectra: list[Spectrum] = field(default_factory=list)


def load_inputs(paths: list[Path]) -> ReportData:
    """Read every input; a file that is neither saved telemetry nor a dataset is an error."""
    data = ReportData()
    for path in paths:
        if path.suffix.lower() == ".npy":
            data.spectra.append(_spectrum_of(path))
        else:
            _add_telemetry(data, read_saved(path))
    if not data.nodes and not data.spectra:
        raise FabnodeError("the inputs hold no telemetry records and no raw data to plot",
                           hint="give files saved by `fabnode monitor --save` or written by `fabnode collect`")
    return data


def _add_telemetry(data: ReportData, events: list[dict[str, Any]]) -> None:
    open_alarms: dict[tuple[str, str], datetime] = {}
    end = None
    for event in events:
        when = datetime.fromisoformat(event["host_time"])
        end = when
        if event.get("kind") != "record":
            continue
        node = data.nodes.setdefault(str(event["node"]), NodeSeries())
        payload = event.get("payload") or {}
        node.records += 1
        node.first = node.first or when
        node.last = when
        kind = event.get("type")
        if kind in ("status", "features"):
            _append(node.velocity, when, payload.get("velocity_mm_s"))
            _append(node.temperature, when, payload.get("temp_c"))
            node.machine_class = str(payload.get("machine_class") or node.machine_class)
        if kind in ("status", "score"):
            _append(node.score if kind == "status" else node.score_max, when,
                    payload.get("score" if kind == "status" else "max"))
            if payload.get("threshold") is not None:
                node.threshold = float(payload["threshold"])
        if kind == "alarm":
            key = (str(event["node"]), str(payload.get("kind", "alarm")))
            if payload.get("event") == "start":
                open_alarms.setdefault(key, when)
            elif key in open_alarms:
                node.alarms.append((key[1], open_alarms.pop(key), when))
    for (name, kind), start in open_alarms.items():
        # Still active when the file ends: shown up to the file's last event.
        data.nodes[name].alarms.append((kind, start, None))
        data.nodes[name].file_end = end


def _append(series: list[tuple[datetime, float]], when: datetime, value: Any) -> None:
    if isinstance(value, int | float):
        series.append((when, float(value)))


def _spectrum_of(path: Path) -> Spectrum:
    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
        samples = np.load(path)
    except (OSError, ValueError) as exc:
        raise FabnodeError(f"cannot read the dataset {path} with its sidecar {sidecar.name}: {exc}",
                           hint="give a .npy written by `fabnode collect`") from exc
    if meta.get("mode") != "raw" or not meta.get("sample_rate_hz"):
        raise UsageError(f"{path.name} holds {meta.get('mode')} data; a spectrum needs raw data",
                         hint="collect it with `fabnode collect --mode raw`; feature datasets load with numpy.load")
    frames = samples.reshape(len(samples), -1).astype(np.float64)
    latest = frames[-min(SPECTRUM_FRAMES, len(frames)):]
    latest = latest - latest.mean(axis=0)
    window = np.hanning(len(latest))[:, None]
    amplitude = 2 * np.abs(np.fft.rfft(latest * window, axis=0)) / window.sum()
    freqs = np.fft.rfftfreq(len(latest), 1 / float(meta["sample_rate_hz"]))
    label = f"{meta.get('node', path.stem)} {meta.get('label') or ''} {meta.get('start_time', '')}".strip()
    return Spectrum(" ".join(label.split()), freqs, amplitude)


def _figures(data: ReportData) -> list[tuple[str, Any]]:
    import matplotlib.pyplot as plt

    figures: list[tuple[str, Any]] = []
    nodes = data.nodes
    if any(n.velocity for n in nodes.values()):
        fig, ax = plt.subplots(figsize=(10, 3.6))
        classes = {n.machine_class for n in nodes.values()}
        top = max(v for n in nodes.values() for _, v in n.velocity)
        _zone_bands(ax, classes.pop() if len(classes) == 1 else "I", top)
        for name, n in nodes.items():
            if n.velocity:
                ax.plot(*zip(*n.velocity, strict=True), label=name, color="black" if len(nodes) == 1 else None,
                        marker=".")
        _alarm_spans(ax, nodes, ("iso",))
        ax.set(title="Vibration velocity RMS (ISO 10816 zones, ISO alarms hatched)", ylabel="mm/s")
        figures.append(("velocity", _finish(ax, fig)))
    if any(n.temperature for n in nodes.values()):
        fig, ax = plt.subplots(figsize=(10, 3.0))
        for name, n in nodes.items():
            if n.temperature:
                ax.plot(*zip(*n.temperature, strict=True), label=name, marker=".")
        _alarm_spans(ax, nodes, ("temperature",))
        ax.set(title="Temperature", ylabel="°C")
        figures.append(("temperature", _finish(ax, fig)))
    if any(n.score or n.score_max or _alarms_of(n, None) for n in nodes.values()):
        fig, ax = plt.subplots(figsize=(10, 3.6))
        for name, n in nodes.items():
            if n.score_max:
                ax.plot(*zip(*n.score_max, strict=True), label=f"{name} score (max per interval)", marker=".",
                        linewidth=1)
            elif n.score:
                ax.plot(*zip(*n.score, strict=True), label=f"{name} score", marker=".", linewidth=1)
            if n.threshold is not None:
                ax.axhline(n.threshold, linestyle="--", color="gray", label=f"{name} threshold")
        _alarm_spans(ax, nodes, None)
        ax.set(title="Anomaly score and alarm periods", ylabel="score")
        figures.append(("score", _finish(ax, fig)))
    for spectrum in data.spectra:
        fig, ax = plt.subplots(figsize=(10, 3.6))
        for axis in range(spectrum.amplitude_g.shape[1]):
            ax.semilogy(spectrum.freqs_hz, np.maximum(spectrum.amplitude_g[:, axis], 1e-7), linewidth=0.8,
                        label="xyz"[axis] if axis < 3 else str(axis))
        ax.set(title=f"Spectrum snapshot: {spectrum.label}", xlabel="Hz", ylabel="amplitude, g")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        figures.append(("spectrum", fig))
    return figures


# The shortest time axis drawn (matplotlib dates are in days): a few records still show as points.
MIN_TIME_SPAN_DAYS = 60 / 86400


# Where each alarm kind is drawn: next to the quantity that raised it; other kinds with the score.
PLOTTED_ALARMS = ("iso", "temperature")


def _alarms_of(node: NodeSeries, kinds: tuple[str, ...] | None) -> list[tuple[str, datetime, datetime | None]]:
    """``node``'s alarms of ``kinds``; None: those no other plot shows (anomaly and unknown kinds)."""
    return [a for a in node.alarms if (a[0] in kinds if kinds is not None else a[0] not in PLOTTED_ALARMS)]


def _alarm_spans(ax: Any, nodes: dict[str, NodeSeries], kinds: tuple[str, ...] | None) -> None:
    from matplotlib.dates import date2num

    for name, node in nodes.items():
        for kind, start, end in _alarms_of(node, kinds):
            span = date2num([start, end or node.file_end or start])  # type: ignore[no-untyped-call]
            ax.axvspan(span[0], span[1], facecolor="none", edgecolor=ALARM_COLORS.get(kind, "#e57373"),
                       hatch="///", linewidth=0, label=f"{name} {kind} alarm")


def _zone_bands(ax: Any, machine_class: str, top: float) -> None:
    use_firmware_lib()
    from monitor.alarms import ZONE_LIMITS, ZONES

    edges = [0.0, *ZONE_LIMITS[machine_class], max(top * 1.2, ZONE_LIMITS[machine_class][-1] * 1.2)]
    for zone, low, high in zip(ZONES, edges, edges[1:], strict=False):
        ax.axhspan(low, high, color=ZONE_COLORS[zone], zorder=0)
        ax.text(1.005, (low + high) / 2, zone, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.set_ylim(0, edges[-1])


def _finish(ax: Any, fig: Any) -> Any:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper left", fontsize="small")
    ax.grid(True, alpha=0.3)
    start, end = ax.dataLim.intervalx  # matplotlib widens a single instant to years either side
    if end - start < MIN_TIME_SPAN_DAYS:
        middle = (start + end) / 2
        ax.set_xlim(middle - MIN_TIME_SPAN_DAYS / 2, middle + MIN_TIME_SPAN_DAYS / 2)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    fig.tight_layout()
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _combined_png(figures: list[tuple[str, Any]]) -> bytes:
    """All plots stacked into one PNG (pixels pasted, so each plot keeps its own layout)."""
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    images = [mpimg.imread(io.BytesIO(_png(fig)), format="png") for _, fig in figures]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=1.0)
              for image in images]
    buffer = io.BytesIO()
    plt.imsave(buffer, np.concatenate(padded), format="png")
    return buffer.getvalue()


def _html(data: ReportData, figures: list[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{n.records}</td><td>{n.first or ''}</td><td>{n.last or ''}</td>"
        f"<td>{len(n.alarms)}</td></tr>" for name, n in data.nodes.items())
    images = "".join(
        f'<figure id="{kind}"><img alt="{kind}" src="data:image/png;base64,{base64.b64encode(_png(fig)).decode()}">'
        f"</figure>\n" for kind, fig in figures)
    table = ("<table><tr><th>node</th><th>records</th><th>from</th><th>to</th><th>alarms</th></tr>"
             f"{rows}</table>") if rows else ""
    alarm_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(kind)}</td><td>{start}</td>"
        f"<td>{end if end else 'still active'}</td><td>{_duration(start, end)}</td></tr>"
        for name, n in data.nodes.items() for kind, start, end in n.alarms)
    if alarm_rows:
        table += ("\n<h2>Alarms</h2><table><tr><th>node</th><th>kind</th><th>start</th><th>clear</th>"
                  f"<th>lasted</th></tr>{alarm_rows}</table>")
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fabnode report</title>"
            "<style>body{font-family:sans-serif;max-width:1040px;margin:auto}img{max-width:100%}"
            "td,th{padding:2px 10px;text-align:left}</style></head>\n"
            f"<body><h1>fabnode report</h1>\n{table}\n{images}</body></html>\n")


def _duration(start: datetime, end: datetime | None) -> str:
    return f"{(end - start).total_seconds():.0f} s" if end else ""


def report(inputs: list[Path], out: Path) -> dict[str, Any]:
    """Render the inputs' plots into ``out`` (``.html`` or ``.png``); returns what was drawn."""
    if out.suffix.lower() not in OUTPUTS:
        raise UsageError(f"cannot write a report as {out.name}: use a .html or .png file name")
    try:
        import matplotlib
    except ImportError as exc:
        raise FabnodeError("fabnode report needs matplotlib", hint="pip install 'fabnode[report]'") from exc
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    data = load_inputs(inputs)
    figures = _figures(data)
    if not figures:
        raise FabnodeError("the inputs hold no velocity, temperature, score or raw data to plot")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # as train and collect do for their --out
        if out.suffix.lower() == ".png":
            out.write_bytes(_combined_png(figures))
        else:
            out.write_text(_html(data, figures), encoding="utf-8")
    finally:
        for _, fig in figures:
            plt.close(fig)
    return {"out": str(out), "plots": [kind for kind, _ in figures], "nodes": sorted(data.nodes),
            "alarms": sum(len(n.alarms) for n in data.nodes.values())}
