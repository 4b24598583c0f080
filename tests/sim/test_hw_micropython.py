"""The simulated hardware under the MicroPython WebAssembly port: the same results as under CPython.

One script drives every model through ``machine``/``onewire``/``ds18x20``; it runs in the node's
interpreter (hardware files at /.sim, wiring from /.sim/hw.json, a rendered signal file) and under
CPython, and the two transcripts must be identical - integer-only models make that possible.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from fabnode.boards import get_board
from fabnode.mpycross import ARCHES, compile_file
from fabnode.sim.hardware import HW_DIR, SIGNAL_PATH, SignalSource, hw_config, hw_files, load_cpython, render_signal

SCRIPT = """
import struct, gc
import simhw, machine, onewire, ds18x20, esp32

print("cause", machine.reset_cause(), machine.unique_id())
i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21))
print("scan", i2c.scan(), i2c.readfrom_mem(0x53, 0, 1))
for reg, value in ((0x31, 0x0B), (0x2C, 0x0F), (0x38, 0x90), (0x2E, 0x02), (0x2D, 0x08)):
    i2c.writeto_mem(0x53, reg, bytes([value]))
edges = []
machine.Pin(4, machine.Pin.IN).irq(lambda pin: edges.append(simhw.now_us()), machine.Pin.IRQ_RISING)
buf = bytearray(6)
status = bytearray(1)
total = 0
for step in range(40):
    simhw.advance_us(5000)
    i2c.readfrom_mem_into(0x53, 0x39, status)
    for _ in range(status[0] & 0x3F):
        i2c.readfrom_mem_into(0x53, 0x32, buf)
        total += sum(struct.unpack("<hhh", buf))
print("fifo", total, len(edges), edges[:3], sorted(simhw.status()["vibration"].items()))
mem_alloc = getattr(gc, "mem_alloc", lambda: 0)  # CPython has no heap counter
gc.collect()
before = mem_alloc()
for step in range(20):
    simhw.advance_us(5000)
    for _ in range(16):
        i2c.readfrom_mem_into(0x53, 0x32, buf)
allocated = mem_alloc() - before
print("alloc", allocated // 320)
simhw.fault("overrun", ms=100)
print("overrun", i2c.readfrom_mem(0x53, 0x39, 1), i2c.readfrom_mem(0x53, 0x30, 1)[0] & 1)
simhw.fault("unplugged")
try:
    i2c.readfrom_mem(0x53, 0, 1)
except OSError as exc:
    print("unplugged", exc.args[0], i2c.scan())
simhw.clear()
simhw.fault("bearing", after_s=0)
simhw.advance_us(20000)
peak = 0
for _ in range(32):
    i2c.readfrom_mem_into(0x53, 0x32, buf)
    peak = max(peak, max(abs(v) for v in struct.unpack("<hh", buf[:4])))
print("bearing peak", peak > 200)
ow = onewire.OneWire(machine.Pin(15))
sensor = ds18x20.DS18X20(ow)
roms = sensor.scan()
sensor.convert_temp()
simhw.advance_us(750000)
print("ds18b20", roms, sensor.read_temp(roms[0]), esp32.mcu_temperature())
simhw.fault("temp_ramp", c_per_min=30)
simhw.advance_us(60000000)
sensor.convert_temp()
simhw.advance_us(750000)
print("ramp", sensor.read_temp(roms[0]))
wdt = machine.WDT(timeout=50)
try:
    simhw.advance_us(60000)
except simhw.NodeReset as reset:
    print("reset", reset.cause)
"""


@pytest.fixture
def node_files(tmp_path: Path) -> tuple[dict[str, bytes], dict[str, object], Path]:
    board = get_board("esp32-devkitc")
    signal = tmp_path / "vibration.fnsig"
    render_signal(signal, 3200, SignalSource(duration_s=1.0, seed=5))
    config = hw_config(board, unique_id=bytes.fromhex("240ac4123456"))
    files = hw_files()
    files["/.sim/hw.json"] = json.dumps(config).encode()
    files[SIGNAL_PATH] = signal.read_bytes()
    return files, config, signal


def run_cpython(config: dict[str, object], signal: Path) -> str:
    simhw = load_cpython()
    simhw.configure(config["board"], str(signal), unique_id=config["unique_id"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SCRIPT, {})
    return out.getvalue()


@pytest.mark.micropython
def test_models_behave_the_same_under_micropython_and_cpython(micropython, node_files) -> None:  # type: ignore[no-untyped-def]
    files, config, signal = node_files
    wasm = micropython("import sys\nsys.path.append('/.sim')\n" + SCRIPT, files=files).stdout
    lines = dict(line.split(" ", 1) for line in wasm.strip().splitlines())
    assert lines["cause"] == "1 b'$\\n\\xc4\\x124V'"
    assert lines["scan"] == "[83] b'\\xe5'"
    assert "('lost', 0)" in lines["fifo"]
    assert lines["alloc"] == "0"  # bytes allocated per FIFO read (manual clock)
    assert lines["overrun"] == "b' ' 1"
    assert lines["unplugged"] == "19 []"
    assert lines["bearing"] == "peak True"
    assert lines["ds18b20"].endswith("24.0 32")
    assert lines["ramp"] == "54.375"
    assert lines["reset"] == "wdt"
    cpython = run_cpython(config, signal)
    assert wasm == cpython


@pytest.mark.parametrize("arch", ARCHES)
def test_hardware_modules_compile_for_micropython(arch: str) -> None:
    """mpy-cross rejects what CPython (and ruff's rewrites) would let through: ``[*a, b]``, ``!a``."""
    sources = sorted(HW_DIR.rglob("*.py"))
    assert len(sources) >= 10
    for path in sources:
        assert compile_file(path, arch, path.relative_to(HW_DIR).as_posix()).startswith(b"M\x06")
