"""The same firmware code prints the same output under the MicroPython WebAssembly port and CPython."""

import subprocess
import sys

import pytest

from fabnode.resources import firmware_lib_dir
from fabnode.telemetry import Decoder, Record

# Telemetry framing, alarm state machines and the integer features of a known window: text out, so
# any difference in MicroPython's json, binascii, math, int or array handling shows up as a diff.
PROGRAM = """\
from array import array
from monitor import alarms, features, telemetry

for seq, (kind, payload) in enumerate([
        ("hello", {"fw": "0.1.0", "board": "esp32-devkitc", "model": None, "safe_mode": False}),
        ("status", {"rate_hz": 3200.0, "zone": "B", "score": 0.0625, "alarms": ["iso"], "temp_c": -3.5}),
        ("alarm", {"kind": "anomaly", "event": "start", "value": 1.5, "limit": 0.25})]):
    print(telemetry.encode(kind, "press-7", seq, 123456 + seq, payload).decode().rstrip())

state = alarms.AlarmState(3, 5)
print([state.update(over) for over in (1, 0, 1, 1, 0, 0, 0, 0, 0, 0)])
print([alarms.iso_zone(v, "II") for v in (0.5, 1.2, 3.0, 8.0)])

spec = dict(features.DEFAULT_SPEC)
extractor = features.FeatureExtractor(spec, 1 / 256)
window, axes = spec["window"], spec["axes"]
samples = array("i", [0] * (window * axes))
for i in range(window):
    samples[i * axes + 2] = (i * i * 37 + i * 1013) % 257 - 128 + (256 if i % 100 == 7 else 0)
out = array("i", [0] * extractor.size)
extractor.compute(samples, out)
print(list(out))
print(list(extractor.summary))
print(["%.4g" % v for v in extractor.summary_values(2)])
"""


def _split(output: str) -> tuple[list[tuple[str, str, int, int, dict[str, object]]], list[str]]:
    """The telemetry records (decoded: MicroPython's dicts order keys differently) and the other lines."""
    lines = output.splitlines()
    events = Decoder().feed("".join(line + "\r\n" for line in lines if line.startswith("FN1|")).encode())
    records = [(e.type, e.node, e.seq, e.ticks_ms, e.payload) for e in events if isinstance(e, Record)]
    return records, [line for line in lines if not line.startswith("FN1|")]


@pytest.mark.micropython
def test_firmware_output_is_the_same_on_micropython_and_cpython(micropython):
    on_micropython = micropython(PROGRAM).stdout
    on_cpython = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True,
                                env={"PYTHONPATH": str(firmware_lib_dir())}).stdout
    records, others = _split(on_micropython)
    assert len(records) == 3, on_micropython  # every line framed with a valid CRC
    assert (records, others) == _split(on_cpython)
