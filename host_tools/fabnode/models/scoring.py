"""``fabnode score``: the node's pipeline over recordings, window by window.

Resampling to the sensor rate, features (``monitor.features``), normalization, quantization and
inference (``monitor.anomaly`` with ``tfl``) and the k-of-n alarm (``monitor.alarms``) are all the
node's own code, so a window scores here exactly as the node scores it. Window ``i`` covers
samples ``[i * hop, i * hop + window)`` at the sensor rate; its time ``t`` is when it is complete,
``(i * hop + window) / rate_hz`` seconds from the start of the recording.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabnode.models import runtimes, training
from fabnode.models.package import ModelPackage, alarm_state
from fabnode.recordings import Recording, load_recording


@dataclass(frozen=True)
class AlarmEvent:
    window: int
    t: float
    state: str  # "start" or "clear", as monitor.alarms names them
    score: float


@dataclass(frozen=True)
class RecordingScores:
    """Scores of every window of one recording, and the alarm events they raised."""

    file: str
    times: NDArray[np.float64]
    scores: NDArray[np.float64]
    threshold: float
    duration_s: float
    events: list[AlarmEvent] = field(default_factory=list)

    @property
    def anomalous(self) -> NDArray[np.bool_]:
        return self.scores > self.threshold

    def records(self) -> Iterator[dict[str, Any]]:
        """The ``--json`` stream: one object per window, each alarm event after the window that raised it."""
        events = {event.window: event for event in self.events}
        for window, (t, score) in enumerate(zip(self.times.tolist(), self.scores.tolist(), strict=True)):
            yield {"file": self.file, "window": window, "t": round(t, 6), "score": score,
                   "threshold": self.threshold, "anomaly": score > self.threshold}
            if window in events:
                event = events[window]
                yield {"file": self.file, "window": window, "t": round(t, 6), "alarm": event.state,
                       "kind": "anomaly", "score": event.score, "threshold": self.threshold}

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "windows": len(self.scores), "duration_s": round(self.duration_s, 3),
                "max_score": float(self.scores.max()) if len(self.scores) else None,
                "over_threshold": int(self.anomalous.sum()),
                "alarms": sum(1 for event in self.events if event.state == "start")}


def score_recording(package: ModelPackage, recording: Recording, name: str | None = None) -> RecordingScores:
    """Run the node's pipeline over one recording."""
    spec = package.feature_spec
    rows = training.feature_matrix(training.node_samples(recording, spec), spec)
    scores = training.detector_scores(package.manifest, runtimes.load_tfl(package.model), rows).astype(np.float64)
    hop, window, rate = int(spec["hop"]), int(spec["window"]), float(spec["rate_hz"])
    times = (np.arange(len(rows)) * hop + window) / rate
    alarm = alarm_state(package.manifest["alarm"])
    events = []
    for index, score in enumerate(scores.tolist()):
        state = alarm.update(score > package.threshold)
        if state is not None:
            events.append(AlarmEvent(index, float(times[index]), state, score))
    return RecordingScores(name or Path(recording.source).name, times, scores, package.threshold,
                           recording.duration_s, events)


def score_files(package: ModelPackage, paths: Sequence[str | Path], rate: float | None = None) -> list[RecordingScores]:
    return [score_recording(package, load_recording(path, rate)) for path in paths]
