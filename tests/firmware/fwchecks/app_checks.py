"""The app's behaviour around the pipeline: commands, failing parts, alarms without a model."""

import json
import math
from array import array

import pipeline
import scratch
from fakes import FakeSensor, FakeTemperature


def _records(hal, kind=None):
    found = []
    for line in b"".join(hal.output).split(b"\r\n"):
        if not line.startswith(b"FN1|"):
            continue
        head = line[:line.rfind(b"|")]
        parts = head.split(b"|", 5)
        record = (parts[1].decode(), json.loads(parts[5]))
        if kind is None or record[0] == kind:
            found.append(record[1])
    return found


def _sine_counts(frames, hz, amplitude_g, scale_g=0.0039):
    counts = array("h", bytes(2 * 3 * frames))
    for i in range(frames):
        v = int(amplitude_g * math.sin(2 * math.pi * hz * i / 3200) / scale_g)
        counts[3 * i] = v
        counts[3 * i + 1] = v // 2
        counts[3 * i + 2] = 256 + v
    return counts


def _model_root():
    root = scratch.folder("models")
    scratch.put_package(root + "/active")
    return root


def check_without_a_model_the_iso_alarm_starts_and_clears():
    app, hal = pipeline.make_app(scratch.folder("models"))
    assert app.loaded is None
    loud = _sine_counts(1024 + 6 * 512, 100, 0.9)  # ~10 mm/s at 100 Hz: zone C for class III
    quiet = _sine_counts(10 * 512, 100, 0.05)
    pipeline.feed(app, hal, loud, 0, len(loud) // 3)
    starts = _records(hal, "alarm")
    assert [(a["kind"], a["event"], a["zone"]) for a in starts] == [("iso", "start", "C")], starts
    assert 9 < starts[0]["value"] < 11, starts
    pipeline.feed(app, hal, quiet, 0, len(quiet) // 3)
    events = [(a["kind"], a["event"]) for a in _records(hal, "alarm")]
    assert events == [("iso", "start"), ("iso", "clear")], events
    hello = _records(hal, "hello")[0]
    assert hello["model"] is None and hello["rate_hz"] == 3200


def check_commands_are_answered_while_sampling():
    app, hal = pipeline.make_app(_model_root())
    counts = _sine_counts(1024 + 4 * 512, 50, 0.1)
    commands = [(100, b"!status\n"), (200, b"!hello\r\n"), (300, b"!selftest\n"), (400, b"!bogus\n"),
                (500, b"!model info\n"), (600, b"!stream maybe\n"), (700, b"!help\n")]
    pipeline.feed(app, hal, counts, 0, len(counts) // 3, commands)
    replies = {r["cmd"]: r for r in _records(hal, "reply")}
    assert replies["status"]["ok"] and replies["status"]["data"]["odr_hz"] == 3200
    assert replies["hello"]["data"]["model"] == "bearing-hit-mfs-v1"
    assert replies["selftest"]["ok"], replies["selftest"]
    assert replies["selftest"]["data"] == {"sensor": "pass", "temperature": "pass", "model": "pass",
                                           "storage": "pass"}
    assert not replies["bogus"]["ok"] and "unknown command" in replies["bogus"]["error"]
    assert replies["model"]["data"]["active"]["id"] == "bearing-hit-mfs-v1"
    assert not replies["stream"]["ok"]
    assert "selftest" in replies["help"]["data"]["commands"]
    assert app.sampler.windows == 5  # sampling went on throughout


def check_stream_raw_sends_every_frame_once():
    app, hal = pipeline.make_app(scratch.folder("models"))
    counts = _sine_counts(1024 + 3 * 512, 50, 0.2)
    pipeline.feed(app, hal, counts, 0, 10, [(0, b"!stream raw\n")])
    pipeline.feed(app, hal, counts, 10, len(counts) // 3 - 10)
    blocks = _records(hal, "raw")
    assert [b["first"] for b in blocks] == [0, 1024, 1536, 2048], [b["first"] for b in blocks]
    assert blocks[0]["shape"] == [1024, 3] and blocks[1]["shape"] == [512, 3]
    assert blocks[0]["dtype"] == "<i2" and blocks[0]["scale_g"] == 0.0039
    from binascii import a2b_base64

    received = array("h")
    for block in blocks:
        received.extend(array("h", a2b_base64(block["data"].encode())))
    assert received == counts


def check_stream_features_sends_each_vector():
    app, hal = pipeline.make_app(_model_root())
    counts = _sine_counts(1024 + 2 * 512, 50, 0.2)
    pipeline.feed(app, hal, counts, 0, len(counts) // 3, [(0, b"!stream features\n")])
    blocks = _records(hal, "raw")
    assert [b["window"] for b in blocks] == [1, 2, 3]
    assert blocks[0]["kind"] == "features" and blocks[0]["shape"] == [app.extractor.size]
    assert blocks[0]["dtype"] == "<i4" and blocks[0]["scale"] == 1 / 4096  # Q12 features
    assert blocks[-1]["score"] == app.score is not None  # the window's score, exact (not rounded)
    assert blocks[-1]["score_log2"] == app._score  # and the integer it is the value of
    pipeline.feed(app, hal, counts, 0, 512, [(0, b"!stream off\n")])
    assert len(_records(hal, "raw")) == 3


def check_a_failing_sensor_is_reported_retried_and_recovers():
    app, hal = pipeline.make_app(scratch.folder("models"))
    counts = _sine_counts(1024 + 20 * 512, 50, 0.1)
    start = pipeline.feed(app, hal, counts, 0, 1024)
    hal.sensor.failing = True  # unplugged: every bus transfer times out
    start = pipeline.feed(app, hal, counts, start, 512)
    errors = _records(hal, "error")
    assert len(errors) == 1 and errors[0]["where"] == "sensor", errors
    assert app.status_payload()["faults"] == ["sensor"]
    hal.now += 6000
    app.tick()  # the retry fails too, reported once only
    assert len(_records(hal, "error")) == 1
    hal.sensor.failing = False
    hal.sensor.fifo = []
    hal.now += 6000
    app.tick()
    assert any("answering again" in r["msg"] for r in _records(hal, "log"))
    assert app.status_payload()["faults"] == []
    windows = app.sampler.windows
    pipeline.feed(app, hal, counts, start, 2048)
    assert app.sampler.windows > windows


def check_missing_sensor_at_boot_still_starts_and_reports():
    sensor = FakeSensor()
    sensor.failing = True
    app, hal = pipeline.make_app(scratch.folder("models"), sensor=sensor)
    kinds = [line.split(b"|")[1] for line in hal.output]
    assert kinds[:2] == [b"hello", b"error"], kinds
    assert app.status_payload()["faults"] == ["sensor"]
    sensor.failing = False
    hal.now += 6000
    app.tick()
    assert app.sampler is not None and app.status_payload()["faults"] == []


def check_temperature_alarm_and_a_flaky_one_wire_bus():
    temp = FakeTemperature(25.0)
    app, hal = pipeline.make_app(scratch.folder("models"), temp=temp)
    for value in (25.0, 75.0, 76.0, 69.0, 67.0):
        temp.value = value
        hal.now += 5000
        app.tick()  # starts a conversion
        hal.now += 800
        app.tick()  # reads it
    events = [(a["kind"], a["event"], a["value"]) for a in _records(hal, "alarm")]
    assert events == [("temperature", "start", 75.0), ("temperature", "clear", 67.0)], events
    temp.failing = True
    hal.now += 5000
    app.tick()
    hal.now += 800
    app.tick()
    assert _records(hal, "error")[-1]["where"] == "temperature"
    assert app.status_payload()["faults"] == ["temperature"]


def check_an_exception_in_a_window_is_logged_and_the_loop_goes_on():
    app, hal = pipeline.make_app(scratch.folder("models"))

    def broken(samples, out):
        raise ValueError("boom")

    real = app.extractor.compute
    app.extractor.compute = broken
    counts = _sine_counts(1024 + 2 * 512, 50, 0.1)
    start = pipeline.feed(app, hal, counts, 0, 1024 + 512)
    errors = _records(hal, "error")
    assert [e["where"] for e in errors] == ["window", "window"] and "boom" in errors[0]["msg"]
    app.extractor.compute = real
    pipeline.feed(app, hal, counts, start, 512)
    assert app.window_errors == 2 and app.sampler.windows == 3
    assert hal.feeds > 100  # the watchdog was fed on every tick


def check_model_activate_swaps_and_keeps_sampling():
    root = scratch.folder("models")
    app, hal = pipeline.make_app(root)
    assert app.loaded is None
    scratch.put_package(root + "/staging")
    counts = _sine_counts(1024 + 2 * 512, 50, 0.1)
    pipeline.feed(app, hal, counts, 0, len(counts) // 3, [(0, b"!model activate\n")])
    reply = _records(hal, "reply")[-1]
    assert reply["ok"] and reply["data"] == {"model": "bearing-hit-mfs-v1", "previous": None}, reply
    assert app.loaded.id == "bearing-hit-mfs-v1" and app.sampler.windows == 3
    assert _records(hal, "score") or app.score is not None
    pipeline.feed(app, hal, counts, 0, 16, [(0, b"!model activate\n")])
    reply = _records(hal, "reply")[-1]
    assert not reply["ok"] and "nothing staged" in reply["error"]
    for _ in range(5):
        app.anomaly.update(True)  # an anomaly alarm is on when the model is replaced
    scratch.put_package(root + "/staging")
    hal.input = b"!model activate\n"
    app.tick()
    alarm = _records(hal, "alarm")[-1]
    assert (alarm["kind"], alarm["event"]) == ("anomaly", "clear") and not app.anomaly.active


def check_reboot_command_replies_then_resets():
    app, hal = pipeline.make_app(scratch.folder("models"))
    hal.input = b"!reboot\n"
    app.tick()
    assert _records(hal, "reply")[-1]["cmd"] == "reboot" and hal.resets == 1


def check_without_a_model_the_features_follow_the_sensor_rate():
    for rate in (1000, 4000):
        sensor = FakeSensor(odr_hz=rate)
        app, hal = pipeline.make_app(scratch.folder("models"), sensor=sensor)
        assert app.spec["rate_hz"] == rate and app.spec["velocity_hz"][1] <= 0.45 * rate
        counts = _sine_counts(1024 + 512, 50, 0.1)
        pipeline.feed(app, hal, counts, 0, len(counts) // 3)
        assert app.sampler.windows == 2 and app.window_errors == 0
        assert _records(hal, "hello")[0]["rate_hz"] == rate


def check_a_sensor_found_late_is_self_tested_and_gets_its_interrupt():
    sensor = FakeSensor()
    sensor.failing = True
    tests = []
    sensor.self_test = lambda sleep_ms: tests.append(1) or True
    app, hal = pipeline.make_app(scratch.folder("models"), sensor=sensor)
    assert hal.irq is None and app.sensor_selftest == "unsupported"
    sensor.failing = False
    hal.now += 6000
    app.tick()
    assert tests == [1] and app.sensor_selftest == "pass" and hal.irq is not None


def check_model_reload_picks_up_a_replaced_active_model():
    root = scratch.folder("models")
    app, hal = pipeline.make_app(root)
    hal.input = b"!model reload\n"
    app.tick()
    reply = _records(hal, "reply")[-1]
    assert not reply["ok"] and "no active model" in reply["error"], reply
    scratch.put_package(root + "/active")
    hal.input = b"!model reload\n"
    app.tick()
    reply = _records(hal, "reply")[-1]
    assert reply["ok"] and reply["data"] == {"model": "bearing-hit-mfs-v1"} and app.loaded is not None


def check_a_failed_selftest_says_which_part_failed():
    temp = FakeTemperature()
    app, hal = pipeline.make_app(scratch.folder("models"), temp=temp)
    temp.failing = True
    hal.now += 5000
    app.tick()
    hal.now += 800
    hal.input = b"!selftest\n"
    app.tick()
    reply = _records(hal, "reply")[-1]
    assert not reply["ok"] and "temperature" in reply["error"], reply
    assert reply["data"]["temperature"].startswith("fail: ds18b20") and reply["data"]["sensor"] == "pass"


def check_a_model_that_breaks_the_loader_leaves_a_model_free_node():
    from monitor import store

    def out_of_memory(root, rate):
        raise MemoryError("memory allocation failed, allocating 90000 bytes")

    real = store.load_active
    store.load_active = out_of_memory
    try:
        app, hal = pipeline.make_app(_model_root())
    finally:
        store.load_active = real
    assert app.loaded is None and app.status_payload()["faults"] == ["model"]
    error = _records(hal, "error")[0]
    assert error["where"] == "model" and "MemoryError" in error["msg"], error
    counts = _sine_counts(1024, 50, 0.1)
    pipeline.feed(app, hal, counts, 0, 1024)
    assert app.sampler.windows == 1 and app.window_errors == 0


def check_a_failing_report_is_logged_and_sampling_goes_on():
    app, hal = pipeline.make_app(scratch.folder("models"))

    def broken():
        raise OSError(5, "EIO")

    hal.mem_free = broken
    counts = _sine_counts(1024 + 6 * 512, 50, 0.1)
    pipeline.feed(app, hal, counts, 0, len(counts) // 3)  # 1.28 s of samples: a periodic report was due
    assert any(e["where"] == "report" for e in _records(hal, "error"))
    assert app.sampler.windows == 7


def check_a_sensor_without_watermark_is_drained_by_a_timer():
    sensor = FakeSensor(odr_hz=1000)
    sensor.HAS_WATERMARK = False
    sensor.FIFO_FRAMES = 170
    app, hal = pipeline.make_app(scratch.folder("models"), sensor=sensor)
    assert hal.irq is None and hal.timer[0] == 42  # a quarter of 170 ms
    sensor.push([(1, 2, 3)] * 100)
    hal.timer[1](None)  # the timer fires between two bytecodes of a long computation
    assert app.sampler.available() == 100 and not sensor.fifo
