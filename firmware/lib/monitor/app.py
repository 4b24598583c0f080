"""The monitoring app: one non-blocking ``tick()`` that samples, analyses, alarms and reports.

``main()`` builds it from the node's files and hands ``tick`` to ``hal.run_forever``. Every
hardware access goes through the ``hal`` it is given (``monitor.hal`` on a node, a fake in tests).
"""

from array import array

from monitor import VERSION, alarms, bootguard, fixmath, store, telemetry
from monitor.commands import CommandReader, dispatch
from monitor.sampler import FRAME_MODULO, Sampler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SENSOR_RETRY_MS = 5000
WINDOWS_PER_TICK = 2  # bounds one tick's time so the console and watchdog are served
_DTYPES = {"h": "<i2", "i": "<i4"}


class App:
    """The node's app; ``start()`` once, then ``tick()`` for ever."""

    def __init__(self, cfg: "Any", hal: "Any", models_root: str = store.ROOT, crash_boots: int = 0,
                 on_stable: "Callable[[], object] | None" = None) -> None:
        self.cfg = cfg
        self.hal = hal
        self.models_root = models_root
        self.crash_boots = crash_boots
        self._on_stable = on_stable
        self.console = hal.Console()
        self.telemetry = telemetry.Telemetry(cfg.node_id, self.console.write, hal.ticks_ms)
        self.commands = CommandReader()
        self.stream = "off"
        self.stream_fresh = False
        self.reboot_requested = False
        self.faults: dict[str, str | None] = {"sensor": None, "temperature": None, "model": None}
        self._fault_counts = {"sensor": 0, "temperature": 0, "model": 0, "report": 0}
        self.sensor: Any = None
        self.sampler: Any = None
        self.loaded: Any = None
        self.anomaly: Any = None
        self.temp: Any = None
        self.temp_c: float | None = None
        self._velocity: int | None = None  # Q12 log2 of the window's largest velocity RMS (mm/s)
        self._score: int | None = None  # Q12 log2 of the window's anomaly score
        self._score_max: int | None = None
        self.window_errors = 0
        self.rate_hz = 0.0
        self.sensor_selftest = "unsupported"
        self.watchdog = None
        self._fifo_irq = None  # the watermark pin or drain timer, once set up
        self._hello_sent = False
        # (record type, part or level, message) that happened before the hello, sent right after it
        self._early: list[tuple[str, str, str]] = []

    # -- start-up -------------------------------------------------------------------------

    def start(self) -> None:
        hal = self.hal
        now = hal.ticks_ms()
        self._started = now
        self._stable = False
        self._next_report = hal.ticks_add(now, self.cfg.telemetry_ms)
        self._sensor_retry = now
        self._temp_due = now
        self._temp_ready = None
        self._open_sensor()
        self._open_temperature()
        rate = self.sensor.odr_hz if self.sensor else self.cfg.vibration["odr_hz"]
        try:
            loaded, note = store.load_active(self.models_root, rate)
        except Exception as exc:  # a model the loader cannot even handle (MemoryError...) must not stop monitoring
            loaded, note = None, f"loading the active model failed: {type(exc).__name__}: {exc}"
        if note and loaded is None:
            self._fail("model", note)
        elif note:
            self._early.append(("log", "warn", note))
        self._use_model(loaded)
        self.iso = alarms.AlarmState(self.cfg.iso_k, self.cfg.iso_n)
        self._iso_limit = alarms.zone_limit(self.cfg.iso_alarm_zone, self.cfg.machine_class)
        # From hundredths of mm/s (the limits have two decimals): the same integer on any port.
        self._iso_limit_log2 = fixmath.log2(round(self._iso_limit * 100)) - fixmath.log2(100)
        self.temp_alarm = alarms.LevelAlarm(self.cfg.temp_max_c, self.cfg.temp_hysteresis_c)
        self.telemetry.seq = 0  # the hello is record 0 of a boot
        self.telemetry.send("hello", self.hello_payload())
        self._hello_sent = True
        for kind, what, msg in self._early:
            if kind == "log":
                self.telemetry.log(what, msg)
            else:
                self.telemetry.error(what, msg, self._fault_counts[what])
        self._early = []
        self.watchdog = hal.watchdog(self.cfg.watchdog_ms)
        # Last: from here on the FIFO fills (10 ms for an ADXL345 at 3200 Hz) and the first tick drains
        # it, so no sample is lost while the model loads and the first window starts at the first sample.
        self._measure()

    def _open_sensor(self) -> bool:
        """Open (once: then self-test) or re-check the vibration sensor; ``_measure`` then starts it."""
        spec = self.cfg.vibration
        if spec is None:
            self._fail("sensor", "the board file has no vibration sensor")
            return False
        if self.sampler is not None:
            self.sampler.hold()
        try:
            if self.sensor is None:
                self.sensor = self.hal.open_vibration_sensor(self.cfg.board["pins"], spec)
                if hasattr(self.sensor, "self_test"):
                    passed = self.sensor.self_test(self.hal.sleep_ms)
                    self.sensor_selftest = "pass" if passed else "fail"
            else:
                self.sensor.check()
        except (OSError, ValueError) as exc:
            self._fail("sensor", f"{spec['type']}: {exc}")
            return False
        finally:
            if self.sampler is not None:
                self.sampler.release()
        return True

    def _measure(self) -> None:
        """Start the open sensor's FIFO and its drain (watermark interrupt or timer)."""
        if self.sensor is None:
            return
        if self.sampler is not None:
            self.sampler.hold()
        try:
            self.sensor.start(self.sensor.FIFO_FRAMES // 2)
        except (OSError, ValueError) as exc:
            self._fail("sensor", f"{self.cfg.vibration['type']}: {exc}")
            return
        finally:
            if self.sampler is not None:
                self.sampler.release()
        if self.sampler is not None:
            self.sampler.sensor = self.sensor
        if self.faults["sensor"] is not None:
            self.faults["sensor"] = None
            self.telemetry.log("info", f"{self.cfg.vibration['type']} is answering again")
        if self._fifo_irq is None:
            pin = self.cfg.board["pins"].get("sensor_int")
            if self.sensor.HAS_WATERMARK and pin is not None:
                self._fifo_irq = self.hal.watermark_irq(pin, self._on_fifo)
            else:  # no watermark interrupt (MPU6050): a timer drains the FIFO at a quarter of its fill time
                period_ms = max(1, self.sensor.FIFO_FRAMES * 250 // self.sensor.odr_hz)
                self._fifo_irq = self.hal.periodic(period_ms, self._on_fifo)

    def _on_fifo(self, source: object) -> None:
        """The sensor's FIFO needs draining (watermark interrupt or drain timer)."""
        if self.sampler is not None:
            self.sampler.on_watermark(source)

    def _open_temperature(self) -> None:
        spec = self.cfg.temperature
        if spec is None:
            return
        try:
            self.temp = self.hal.open_temperature_sensor(spec)
        except (OSError, ValueError, ImportError) as exc:
            self._fail("temperature", f"{spec['type']}: {exc}")

    def _use_model(self, loaded: "store.Loaded | None") -> None:
        """Build the window pipeline for ``loaded`` (or the model-free default spec)."""
        from monitor import features

        if self.anomaly is not None and self.anomaly.active:
            # The old model's alarm ends with it: say so, so alarm periods on the host close.
            self._alarm("anomaly", alarms.CLEAR, self.score or 0.0, self.loaded.detector.threshold)
        self.loaded = loaded
        if loaded is not None:
            spec = loaded.manifest["features"]
            extractor = loaded.extractor
            alarm = loaded.manifest["alarm"]
            self.anomaly = alarms.AlarmState(alarm["k"], alarm["n"], alarm.get("clear"))
        else:
            rate = self.sensor.odr_hz if self.sensor is not None else self.cfg.vibration["odr_hz"]
            spec = model_free_spec(features.DEFAULT_SPEC, rate)
            extractor = features.FeatureExtractor(spec)
            self.anomaly = None
        self.spec = spec
        self.extractor = extractor
        self._summary_size = features.SUMMARY_SIZE
        self._velocity_index = features.VELOCITY_RMS
        window, axes = spec["window"], spec["axes"]
        if self.sensor is not None:
            extractor.set_scale_g(self.sensor.scale_g)
        self.samples = array("i", bytes(4 * window * axes))
        self.features = array("i", bytes(4 * extractor.size))
        self._score = None
        self._score_max = None
        self._score_windows = 0
        self._score_over = 0
        sampler = self.sampler
        if sampler is not None and (sampler.window, sampler.hop, sampler.axes) == (window, spec["hop"], axes):
            return  # same windows: keep sampling without a gap
        self.sampler = Sampler(self.sensor, window, spec["hop"]) if self.sensor is not None else None

    # -- the loop ---------------------------------------------------------------------------

    def tick(self) -> None:
        hal = self.hal
        if self.watchdog is not None:
            self.watchdog.feed()
        now = hal.ticks_ms()
        sampler = self.sampler
        if sampler is None or self.faults["sensor"] is not None:
            if hal.ticks_diff(now, self._sensor_retry) >= 0:
                self._sensor_retry = hal.ticks_add(now, SENSOR_RETRY_MS)
                if self._open_sensor():
                    self._measure()
                if self.sampler is None and self.sensor is not None:
                    self.extractor.set_scale_g(self.sensor.scale_g)
                    self.sampler = Sampler(self.sensor, self.spec["window"], self.spec["hop"])
        else:
            try:
                sampler.poll()
            except OSError as exc:
                self._fail("sensor", f"{self.cfg.vibration['type']}: {exc}")
                self._sensor_retry = hal.ticks_add(now, SENSOR_RETRY_MS)
            done = 0
            while done < WINDOWS_PER_TICK and sampler.ready():
                self._window()
                done += 1
        if self.temp is not None:
            self._temperature(now)
        data = self.console.read()
        if data:
            for line in self.commands.feed(data):
                self._command(line)
        if hal.ticks_diff(now, self._next_report) >= 0:
            self._next_report = hal.ticks_add(now, self.cfg.telemetry_ms)
            try:
                self._report()
            except Exception as exc:  # a reporting bug must not stop sampling
                self._fault_counts["report"] += 1
                self.telemetry.error("report", f"{type(exc).__name__}: {exc}", self._fault_counts["report"])
        if not self._stable and hal.ticks_diff(now, self._started) >= bootguard.STABLE_MS:
            self._stable = True
            if self._on_stable is not None:
                self._on_stable()
        if self.reboot_requested:
            if self._on_stable is not None:  # a reset the host asked for is no crash
                self._on_stable()
            hal.reset()

    def _window(self) -> None:
        sampler = self.sampler
        try:
            sampler.take(self.samples)
            self.extractor.compute(self.samples, self.features)
            summary = self.extractor.summary
            velocity = fixmath.LOG_ZERO
            for axis in range(self.spec["axes"]):
                v = summary[axis * self._summary_size + self._velocity_index]
                if v > velocity:
                    velocity = v
            self._velocity = velocity
            event = self.iso.update(velocity >= self._iso_limit_log2)
            if event is not None:
                value = fixmath.to_float(velocity)
                self._alarm("iso", event, value, self._iso_limit, zone=alarms.iso_zone(value, self.cfg.machine_class))
            if self.loaded is not None:
                self._score_window(self.loaded.detector.score(self.features))
            if self.stream != "off":
                self._stream_window()
        except Exception as exc:  # one bad window must never stop the node
            self.window_errors += 1
            if self.window_errors < 10 or self.window_errors % 100 == 0:
                self.telemetry.error("window", f"{type(exc).__name__}: {exc}", self.window_errors)

    @property
    def velocity(self) -> "float | None":
        """The last window's largest velocity RMS (mm/s) over the axes, None before the first window."""
        return None if self._velocity is None else fixmath.to_float(self._velocity)

    @property
    def score(self) -> "float | None":
        """The last window's anomaly score, None without a model or before the first window."""
        return None if self._score is None else fixmath.to_float(self._score)

    def _score_window(self, score: int) -> None:
        detector = self.loaded.detector
        self._score = score
        over = detector.is_anomalous(score)
        self._score_windows += 1
        if over:
            self._score_over += 1
        if self._score_max is None or score > self._score_max:
            self._score_max = score
        event = self.anomaly.update(over)
        if event is not None:
            self._alarm("anomaly", event, fixmath.to_float(score), detector.threshold)

    def _temperature(self, now: int) -> None:
        hal = self.hal
        try:
            if self._temp_ready is None:
                if hal.ticks_diff(now, self._temp_due) >= 0:
                    self.temp.start()
                    self._temp_ready = hal.ticks_add(now, self.temp.CONVERSION_MS)
                return
            if hal.ticks_diff(now, self._temp_ready) < 0:
                return
            self._temp_ready = None
            self._temp_due = hal.ticks_add(now, self.cfg.temp_interval_ms)
            value = self.temp.read()
        except Exception as exc:  # a flaky 1-Wire bus (CRC error, no device) is retried
            self._temp_ready = None
            self._temp_due = hal.ticks_add(now, self.cfg.temp_interval_ms)
            self._fail("temperature", f"{self.temp.NAME}: {exc}")
            return
        if self.faults["temperature"] is not None:
            self.faults["temperature"] = None
            self.telemetry.log("info", f"{self.temp.NAME} is answering again")
        self.temp_c = value
        event = self.temp_alarm.update(value)
        if event is not None:
            self._alarm("temperature", event, value, self.cfg.temp_max_c)

    # -- reporting --------------------------------------------------------------------------

    def _fail(self, part: str, msg: str) -> None:
        """Record a failing part; the first failure of a run of them is reported as an ``error``."""
        self._fault_counts[part] += 1
        reported = self.faults[part] is not None
        self.faults[part] = msg
        if reported:
            return
        if self._hello_sent:
            self.telemetry.error(part, msg, self._fault_counts[part])
        else:
            self._early.append(("error", part, msg))

    def _alarm(self, kind: str, event: str, value: float, limit: float, zone: "str | None" = None) -> None:
        payload = {"kind": kind, "event": event, "window": self.windows(),
                   "value": telemetry.finite(value), "limit": telemetry.finite(limit)}
        if zone is not None:
            payload["zone"] = zone
        self.telemetry.send("alarm", payload)

    def windows(self) -> int:
        return self.sampler.windows if self.sampler is not None else 0

    def _report(self) -> None:
        send = self.telemetry.send
        if self.sampler is not None:
            self.rate_hz = self.sampler.measure_rate()
        send("status", self.status_payload())
        if self.sampler is not None and self.sampler.windows:
            send("features", self._features_payload())
        if self.loaded is not None and self._score_max is not None:
            send("score", {"window": self.windows(), "score": telemetry.finite(self.score),
                           "max": telemetry.finite(fixmath.to_float(self._score_max)), "windows": self._score_windows,
                           "over": self._score_over, "threshold": self.loaded.detector.threshold,
                           "model": self.loaded.id})
            self._score_max = None
            self._score_windows = 0
            self._score_over = 0

    def _features_payload(self) -> "dict[str, Any]":
        from monitor import features

        rows = [self.extractor.summary_values(axis) for axis in range(self.spec["axes"])]
        payload: dict[str, Any] = {"window": self.windows()}
        for field in range(self._summary_size):
            if field != self._velocity_index:
                payload[features.SUMMARY_FIELDS[field]] = [telemetry.finite(row[field]) for row in rows]
        payload["velocity_mm_s"] = telemetry.finite(self.velocity)
        payload["temp_c"] = telemetry.finite(self.temp_c, 2)
        return payload

    def hello_payload(self) -> "dict[str, Any]":
        import sys

        hal = self.hal
        sensor = self.sensor
        vibration = self.cfg.vibration or {}
        loaded = self.loaded
        return {
            "proto": 1, "fw": VERSION, "board": self.cfg.board.get("id"), "chip": self.cfg.board.get("chip"),
            "node": self.cfg.node_id, "uid": hal.unique_id(),
            "micropython": ".".join(str(v) for v in sys.implementation.version[:3]),
            "platform": sys.platform, "reset": hal.reset_cause(), "crash_boots": self.crash_boots,
            "safe_mode": False,
            "model": loaded.id if loaded else None, "model_sha256": loaded.sha256 if loaded else None,
            "sensor": vibration.get("type"),
            "odr_hz": sensor.odr_hz if sensor else vibration.get("odr_hz"),
            "range_g": sensor.range_g if sensor else vibration.get("range_g"),
            "temp_sensor": self.temp.NAME if self.temp else None,
            "rate_hz": self.spec["rate_hz"], "window": self.spec["window"], "hop": self.spec["hop"],
            "axes": self.spec["axes"], "sensor_selftest": self.sensor_selftest,
        }

    def status_payload(self) -> "dict[str, Any]":
        sampler = self.sampler
        velocity = self.velocity
        active = [name for name, state in (("anomaly", self.anomaly), ("iso", self.iso),
                                           ("temperature", self.temp_alarm))
                  if state is not None and state.active]
        return {
            "uptime_s": self.hal.ticks_diff(self.hal.ticks_ms(), self._started) // 1000,
            "rate_hz": telemetry.finite(self.rate_hz, 1),
            "odr_hz": self.sensor.odr_hz if self.sensor else None,
            "overruns": self.sensor.overruns if self.sensor else 0,
            "dropped": sampler.dropped if sampler else 0,
            "windows": self.windows(),
            "window_errors": self.window_errors,
            "heap_free": self.hal.mem_free(),
            "temp_c": telemetry.finite(self.temp_c, 2),
            "velocity_mm_s": telemetry.finite(velocity),
            "zone": alarms.iso_zone(velocity, self.cfg.machine_class) if velocity is not None else None,
            "machine_class": self.cfg.machine_class,
            "score": telemetry.finite(self.score),
            "threshold": self.loaded.detector.threshold if self.loaded else None,
            "alarm": bool(active), "alarms": active,
            "faults": [part for part in ("sensor", "temperature", "model") if self.faults[part]],
            "stream": self.stream, "safe_mode": False,
        }

    def _stream_window(self) -> None:
        sampler = self.sampler
        if self.stream == "features":
            self.telemetry.send("raw", {
                "kind": "features", "dtype": "<i4", "scale": 1 / fixmath.ONE, "shape": [len(self.features)],
                "window": sampler.windows, "rate_hz": self.spec["rate_hz"],
                "score": telemetry.finite(self.score, None), "score_log2": self._score,
                "data": telemetry.b64(self.features)})
            return
        count = sampler.window if self.stream_fresh else sampler.hop
        first = sampler.window - count
        self.stream_fresh = False
        data = "".join(telemetry.b64(view) for view in sampler.frames_since(first, count))
        self.telemetry.send("raw", {
            "kind": "raw", "dtype": _DTYPES[self.sensor.TYPECODE], "shape": [count, sampler.axes],
            "first": (sampler.window_first + first) % FRAME_MODULO, "scale_g": self.sensor.scale_g,
            "rate_hz": self.sensor.odr_hz, "data": data})

    # -- commands ---------------------------------------------------------------------------

    def _command(self, line: str) -> None:
        try:
            reply = dispatch(self, line)
        except Exception as exc:  # a command bug must not stop sampling
            reply = {"cmd": line[1:].split(" ")[0], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self.telemetry.send("reply", reply)

    def selftest(self) -> "dict[str, str]":
        results = {}
        if self.sensor is None:
            results["sensor"] = "fail: " + (self.faults["sensor"] or "not found")
        else:
            if self.sampler is not None:
                self.sampler.hold()
            try:
                self.sensor.check()
                results["sensor"] = "pass"
            except OSError as exc:
                results["sensor"] = f"fail: {exc}"
            finally:
                if self.sampler is not None:
                    self.sampler.release()
        if self.faults["temperature"]:
            results["temperature"] = "fail: " + self.faults["temperature"]
        else:
            results["temperature"] = "pass" if self.temp is not None else "none"
        if self.loaded is None:
            results["model"] = "none"
        else:
            try:
                store.check(self.models_root + "/" + store.ACTIVE, self.spec["rate_hz"])
                results["model"] = "pass"
            except store.StoreError as exc:
                results["model"] = f"fail: {exc}"
        results["storage"] = self._storage_check()
        return results

    def _storage_check(self) -> str:
        import os

        path = self.models_root + "/.selftest"
        try:
            store.makedirs(self.models_root)  # a node that never had a model has no /models yet
            with open(path, "w") as f:
                f.write("ok")
            with open(path) as f:
                ok = f.read() == "ok"
            os.remove(path)
        except OSError as exc:
            return f"fail: {exc}"
        return "pass" if ok else "fail: read back differs"

    def activate_model(self) -> "dict[str, Any]":
        from monitor.commands import CommandError

        try:
            loaded = store.activate(self.models_root, self.sensor.odr_hz if self.sensor else None)
        except store.StoreError as exc:
            raise CommandError(str(exc)) from None
        previous = self.loaded.id if self.loaded else None
        self._use_model(loaded)
        self.faults["model"] = None
        self.telemetry.log("info", f"model {loaded.id} active")
        return {"model": loaded.id, "previous": previous}

    def reload_model(self) -> "dict[str, Any]":
        from monitor.commands import CommandError

        loaded, note = store.load_active(self.models_root, self.sensor.odr_hz if self.sensor else None)
        if loaded is None:
            raise CommandError(note or "no active model")
        if note:
            self.telemetry.log("warn", note)
        self._use_model(loaded)
        self.faults["model"] = None
        return {"model": loaded.id}


def model_free_spec(default: "dict[str, Any]", rate_hz: float) -> "dict[str, Any]":
    """The default feature spec moved to the sensor's rate (no model installed).

    Bands scale with the rate; the ISO velocity band stays 10-1000 Hz where the rate allows it
    (up to 0.45 x rate: a 1 kHz MPU6050 measures velocity over 10-450 Hz).
    """
    scale = rate_hz / default["rate_hz"]
    spec = dict(default)
    spec["rate_hz"] = rate_hz
    spec["bands_hz"] = [[low * scale, high * scale] for low, high in default["bands_hz"]]
    spec["envelope_hz"] = [hz * scale for hz in default["envelope_hz"]]
    low, high = default["velocity_hz"]
    spec["velocity_hz"] = [low, min(high, 0.45 * rate_hz)]
    return spec


def main() -> App:
    """Start the app on this node (``main.py`` calls it unless the node is in safe mode)."""
    from monitor import bootguard, config, hal

    cfg = config.load(uid=hal.unique_id())
    app = App(cfg, hal, crash_boots=bootguard.count(), on_stable=bootguard.clear)
    app.start()
    hal.run_forever(app.tick)
    return app
