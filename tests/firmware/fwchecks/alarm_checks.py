"""Alarm state machines (monitor/alarms.py)."""

from monitor import alarms


def check_k_of_n_starts_on_the_kth_window_and_clears_with_hysteresis():
    state = alarms.AlarmState(3, 5, clear=1)
    events = [state.update(x) for x in (1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0)]
    # over at windows 0, 2, 5, 6: window 6 is the first with 3 of its last 5 (2..6) over
    assert events[:6] == [None] * 6, events
    assert events[6] == alarms.START, events
    assert alarms.CLEAR in events, events
    cleared_at = events.index(alarms.CLEAR)
    assert cleared_at == 10, events  # windows 6..10 hold one over: count 1 <= clear
    assert not state.active


def check_isolated_anomalies_never_start_an_alarm():
    state = alarms.AlarmState(3, 5)
    for i in range(200):
        assert state.update(i % 3 == 0) is None  # at most 2 of any 5 consecutive windows


def check_alarm_stays_active_inside_the_hysteresis_band():
    state = alarms.AlarmState(3, 5, clear=1)
    for _ in range(5):
        state.update(True)
    assert state.active
    for is_over in (False, False, False, True, True, False, False, True):
        assert state.update(is_over) is None  # count stays 2..3: above clear=1
    assert state.active


def check_default_clear_is_below_k():
    assert alarms.AlarmState(3, 5).clear == 1
    assert alarms.AlarmState(1, 1).clear == 0


def check_bad_parameters_raise_value_error():
    for k, n, clear in ((0, 5, None), (6, 5, None), (3, 31, None), (3, 5, 3), (3, 5, -1)):
        try:
            alarms.AlarmState(k, n, clear)
        except ValueError:
            continue
        raise AssertionError(f"accepted k={k} n={n} clear={clear}")


def check_iso_zones_by_machine_class():
    assert alarms.iso_zone(0.5, "I") == "A"
    assert alarms.iso_zone(0.71, "I") == "B"
    assert alarms.iso_zone(2.0, "I") == "C"
    assert alarms.iso_zone(4.5, "I") == "D"
    assert alarms.iso_zone(2.0, "II") == "B"
    assert alarms.iso_zone(7.0, "III") == "C"
    assert alarms.iso_zone(17.9, "IV") == "C"
    assert alarms.iso_zone(18.0, "IV") == "D"
    assert alarms.zone_limit("C", "II") == 2.8


def check_machine_class_names():
    assert alarms.machine_class(2) == "II"
    assert alarms.machine_class("iv") == "IV"
    try:
        alarms.machine_class("V")
    except ValueError:
        return
    raise AssertionError("accepted class V")


def check_level_alarm_hysteresis():
    alarm = alarms.LevelAlarm(70.0, 2.0)
    assert [alarm.update(t) for t in (60.0, 70.5, 71.0, 69.0, 67.9, 69.0)] == \
        [None, alarms.START, None, None, alarms.CLEAR, None]
