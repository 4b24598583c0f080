"""``fabnode evaluate``: how well a package separates healthy from faulty recordings, as the node scores them.

Every window is scored by ``scoring.score_recording`` (the node's code). Reported, per file and
overall: ROC AUC (faulty windows against all healthy windows), the share of windows over the
package threshold, alarms (k of n windows, as on the node), the detection delay of each faulty
file (time from its start to the first alarm, the fault being present throughout) and false
alarms per hour of healthy recording. ``equal_rms`` scales every recording to the healthy
recordings' mean RMS first, to show the model reads spectral shape, not loudness alone.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabnode.errors import FabnodeError, UsageError
from fabnode.models.package import ModelPackage
from fabnode.models.scoring import RecordingScores, score_recording
from fabnode.recordings import Recording, load_recording

SECONDS_PER_HOUR = 3600.0
PLOT_SUFFIXES = (".png", ".html")
FILE_COLUMNS = ["file", "label", "windows", "over_threshold", "max_score", "alarms", "auc", "detection_delay_s",
                "false_alarms_per_hour"]


def roc_auc(negatives: NDArray[np.floating], positives: NDArray[np.floating]) -> float:
    """Probability that a positive scores above a negative, ties counting half (Mann-Whitney U)."""
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    if len(neg) == 0 or len(pos) == 0:
        raise UsageError("ROC AUC needs both healthy and faulty windows")
    ranks = _average_ranks(np.concatenate([neg, pos]))
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(neg) * len(pos)))


def _average_ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0  # 1-based mean rank of each group of ties
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def roc_curve(negatives: NDArray[np.floating], positives: NDArray[np.floating]) -> tuple[NDArray[np.float64], ...]:
    """(false positive rate, true positive rate) at every distinct score used as threshold."""
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    cuts = np.unique(np.concatenate([neg, pos]))[::-1]
    fpr = np.concatenate([[0.0], [(neg >= c).mean() for c in cuts]])
    tpr = np.concatenate([[0.0], [(pos >= c).mean() for c in cuts]])
    return fpr, tpr


@dataclass(frozen=True)
class FileResult:
    file: str
    label: str  # "normal" or "faulty"
    windows: int
    over_threshold: float  # share of windows
    max_score: float
    alarms: int
    auc: float | None  # faulty files: against all healthy windows
    detection_delay_s: float | None  # faulty files: first alarm start, None when never
    false_alarms_per_hour: float | None  # normal files

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Evaluation:
    model: str
    threshold: float
    equal_rms: bool
    auc: float
    healthy_over_threshold: float
    faulty_over_threshold: float
    false_alarms_per_hour: float
    files: list[FileResult]
    traces: list[tuple[str, RecordingScores]]

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "threshold": self.threshold, "equal_rms": self.equal_rms, "auc": self.auc,
                "healthy_over_threshold": self.healthy_over_threshold,
                "faulty_over_threshold": self.faulty_over_threshold,
                "false_alarms_per_hour": self.false_alarms_per_hour,
                "files": [f.to_json() for f in self.files]}


def _rms(recording: Recording) -> float:
    centred = recording.samples - recording.samples.mean(axis=0)
    return float(np.sqrt(np.mean(centred**2)))


def _scaled(recording: Recording, rms: float) -> Recording:
    own = _rms(recording)
    if own == 0.0:
        raise FabnodeError(f"{Path(recording.source).name} is silent: it cannot be scaled to an RMS")
    return Recording(recording.samples * (rms / own), recording.rate_hz, recording.source, recording.meta)


def _starts(scores: RecordingScores) -> list[float]:
    return [event.t for event in scores.events if event.state == "start"]


def evaluate(package: ModelPackage, normal: Sequence[str | Path], faulty: Sequence[str | Path],
             rate: float | None = None, equal_rms: bool = False) -> Evaluation:
    """Score healthy and faulty recordings with the node's pipeline and summarize the separation."""
    if not normal or not faulty:
        raise UsageError("evaluate needs healthy (--normal) and faulty (--faulty) recordings")
    recordings = [("normal", load_recording(p, rate)) for p in normal] + [("faulty", load_recording(p, rate))
                                                                           for p in faulty]
    if equal_rms:
        target = float(np.mean([_rms(r) for label, r in recordings if label == "normal"]))
        recordings = [(label, _scaled(r, target)) for label, r in recordings]
    traces = [(label, score_recording(package, r)) for label, r in recordings]
    spec = package.feature_spec
    for _, trace in traces:
        if not len(trace.scores):
            raise UsageError(f"{trace.file} is too short to evaluate: {trace.duration_s:.3g} s, less than one "
                             f"window ({int(spec['window']) / float(spec['rate_hz']):.3g} s)")
    healthy = np.concatenate([t.scores for label, t in traces if label == "normal"])
    sick = np.concatenate([t.scores for label, t in traces if label == "faulty"])
    healthy_hours = sum(t.duration_s for label, t in traces if label == "normal") / SECONDS_PER_HOUR
    files = []
    for label, trace in traces:
        starts = _starts(trace)
        faulty_file = label == "faulty"
        files.append(FileResult(
            file=trace.file, label=label, windows=len(trace.scores),
            over_threshold=float(trace.anomalous.mean()), max_score=float(trace.scores.max()),
            alarms=len(starts),
            auc=roc_auc(healthy, trace.scores) if faulty_file else None,
            detection_delay_s=(starts[0] if starts else None) if faulty_file else None,
            false_alarms_per_hour=None if faulty_file else len(starts) / (trace.duration_s / SECONDS_PER_HOUR)))
    false_alarms = sum(len(_starts(t)) for label, t in traces if label == "normal")
    return Evaluation(
        model=package.id, threshold=package.threshold, equal_rms=equal_rms, auc=roc_auc(healthy, sick),
        healthy_over_threshold=float((healthy > package.threshold).mean()),
        faulty_over_threshold=float((sick > package.threshold).mean()),
        false_alarms_per_hour=false_alarms / healthy_hours, files=files, traces=traces)


def check_plot_path(out: Path) -> None:
    if out.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"cannot write a plot to {out.name}: use a .png or .html file name")


def write_plot(evaluation: Evaluation, out: Path) -> Path:
    """Score traces and the ROC curve as a PNG, or an HTML page holding the PNG and the per-file table."""
    check_plot_path(out)
    png = _plot_png(evaluation)
    out.parent.mkdir(parents=True, exist_ok=True)  # as train and collect do for their --out
    if out.suffix.lower() == ".png":
        out.write_bytes(png)
    else:
        out.write_text(_html_page(evaluation, png), encoding="utf-8")
    return out


def _plot_png(evaluation: Evaluation) -> bytes:
    try:
        import matplotlib
    except ImportError as exc:
        raise FabnodeError("plotting needs matplotlib", hint="pip install 'fabnode[report]'") from exc
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, (traces_ax, roc_ax) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [2.2, 1]})
    colors = {"normal": plt.get_cmap("Blues"), "faulty": plt.get_cmap("Reds")}
    counts = {label: sum(1 for lab, _ in evaluation.traces if lab == label) for label in colors}
    seen = dict.fromkeys(colors, 0)
    for label, trace in evaluation.traces:
        seen[label] += 1
        shade = colors[label](0.4 + 0.5 * seen[label] / max(counts[label], 1))
        traces_ax.plot(trace.times, np.maximum(trace.scores, 1e-6), color=shade, lw=1, label=f"{trace.file}")
    traces_ax.axhline(evaluation.threshold, color="k", ls="--", lw=1, label="threshold")
    traces_ax.set(yscale="log", xlabel="time in recording (s)", ylabel="anomaly score",
                  title=f"{evaluation.model}: window scores" + (" (equal RMS)" if evaluation.equal_rms else ""))
    traces_ax.legend(fontsize=7, ncol=2, loc="best")
    healthy = np.concatenate([t.scores for label, t in evaluation.traces if label == "normal"])
    sick = np.concatenate([t.scores for label, t in evaluation.traces if label == "faulty"])
    fpr, tpr = roc_curve(healthy, sick)
    roc_ax.plot(fpr, tpr, color="C3", label=f"AUC {evaluation.auc:.4f}")
    roc_ax.plot([0, 1], [0, 1], color="0.7", ls=":")
    roc_ax.set(xlabel="false positive rate (healthy windows)", ylabel="true positive rate (faulty windows)",
               title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    roc_ax.legend(loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _html_page(evaluation: Evaluation, png: bytes) -> str:
    head = "".join(f"<th>{c}</th>" for c in FILE_COLUMNS)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(c, getattr(f, c)))}</td>" for c in FILE_COLUMNS)
                   + "</tr>"
                   for f in evaluation.files)
    title = html.escape(f"fabnode evaluate: {evaluation.model}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style></head><body>"
            f"<h1>{title}</h1><p>threshold {evaluation.threshold:.4g}; AUC {evaluation.auc:.4f}; healthy windows "
            f"over threshold {evaluation.healthy_over_threshold:.1%}; faulty windows over threshold "
            f"{evaluation.faulty_over_threshold:.1%}; false alarms per hour {evaluation.false_alarms_per_hour:.3g}"
            f"{'; every recording scaled to the same RMS' if evaluation.equal_rms else ''}</p>"
            f"<img alt='score traces and ROC' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            f"<table><tr>{head}</tr>{rows}</table></body></html>\n")


def format_cell(column: str, value: Any) -> str:
    """A table cell: shares as percentages (score's OVER_THRESHOLD is a count), 4 significant digits
    for other numbers, "-" for not applicable."""
    if value is None:
        return "-"
    if column == "over_threshold":
        return f"{value:.1%}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
