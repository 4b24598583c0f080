"""``fabnode score``: the node's pipeline over recordings, window by window.

Resampling to the sensor rate, features (``monitor.features``), normalization, quantization and
inference (``monitor.anomaly`` with ``tfl``) and the k-of-n alarm (``monitor.alarms``) are all the
node's own code, so a window scores here exactly as the node scores it. Window ``i`` covers
samples ``[i * hop, i * hop + window)`` at the sensor rate; its time ``t`` is when it is complete,
``(i * hop + window) / rate_hz`` seconds from the start of the recording.

With a ``SensorPath`` the recording is first measured by a board's vibration sensor as a virtual
node replaying it measures it (``fabnode.sim.measure``: the signal file's fixed point, the sensor's
counts as the firmware's driver reads them), so the windows are sample for sample the node's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fabnode.boards import Board
from fabnode.errors import FabnodeError
from fabnode.models import runtimes, training
from fabnode.models.package import ModelPackage, alarm_state
from fabnode.recordings import Recording, load_recording

if TYPE_CHECKING:
    from fabnode.sim.measure import Measured

AXIS_NAMES = "xyz"


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


@dataclass(frozen=True)
class SensorPath:
    """Score recordings as ``board``'s vibration sensor measures them in a virtual node replaying them.

    ``level_g``: the RMS in g (about the mean, in the sensor's band) the recording is replayed at;
    None takes its unit as g. A one-axis recording drives the model's channel, plus gravity on z.
    """

    board: Board
    level_g: float | None = None


def score_samples(package: ModelPackage, samples: NDArray[Any], name: str,
                  scale_g: float | None = None) -> RecordingScores:
    """Run the node's pipeline over samples at the model's rate: ``(n, axes)`` g, or sensor counts of ``scale_g`` g."""
    spec = package.feature_spec
    rows = training.feature_matrix(samples, spec, scale_g=scale_g)
    scores = training.node_scores(package.manifest, runtimes.load_tfl(package.model), rows)
    hop, window, rate = int(spec["hop"]), int(spec["window"]), float(spec["rate_hz"])
    times = (np.arange(len(rows)) * hop + window) / rate
    alarm = alarm_state(package.manifest["alarm"])
    events = []
    for index, score in enumerate(scores.tolist()):
        state = alarm.update(score > package.threshold)
        if state is not None:
            events.append(AlarmEvent(index, float(times[index]), state, score))
    return RecordingScores(name, times, scores, package.threshold, len(samples) / rate, events)


def score_recording(package: ModelPackage, recording: Recording, name: str | None = None) -> RecordingScores:
    """Run the node's pipeline over one recording."""
    scores = score_samples(package, training.node_samples(recording, package.feature_spec),
                           name or Path(recording.source).name)
    return replace(scores, duration_s=recording.duration_s)


def measured_samples(package: ModelPackage, path: str | Path, sensor: SensorPath,
                     rate: float | None = None) -> Measured:
    """The recording at ``path`` as ``sensor`` measures it in a virtual node: ``(n, axes)`` counts, one pass."""
    from fabnode.sim import hardware, measure

    spec = package.feature_spec
    sensor_rate = hardware.vibration_rate_hz(sensor.board)
    if not np.isclose(float(spec["rate_hz"]), sensor_rate):
        raise FabnodeError(f"model {package.id} takes {spec['rate_hz']:g} Hz windows, but the "
                           f"{sensor.board.id} sensor measures at {sensor_rate:g} Hz",
                           hint="score with the board the model was made for")
    channels = spec["channels"]
    axis = AXIS_NAMES[channels[0]] if len(channels) == 1 else "z"
    source = hardware.SignalSource(recording=str(path), recording_rate_hz=rate, level_g=sensor.level_g, axis=axis)
    return measure.measure(sensor.board, source)


def score_files(package: ModelPackage, paths: Sequence[str | Path], rate: float | None = None,
                sensor: SensorPath | None = None) -> list[RecordingScores]:
    if sensor is None:
        return [score_recording(package, load_recording(path, rate)) for path in paths]
    scores = []
    for path in paths:
        measured = measured_samples(package, path, sensor, rate)
        scores.append(score_samples(package, measured.counts, Path(path).name, measured.scale_g))
    return scores
