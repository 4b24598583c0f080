"""Cost of the simulated sensors per sample the firmware reads, under the MicroPython WebAssembly port.

    python bench/bench_sim_hw.py [--seconds S]

For each board's vibration sensor, the node's interpreter reads S simulated seconds of samples
through ``machine`` the way a driver does (ADXL345: FIFO_STATUS then one 6-byte burst per
sample; MPU6050: FIFO_COUNT then FIFO_R_W bursts; ADXL355: FIFO_ENTRIES then FIFO_DATA bursts
over SPI), from a rendered synthetic signal, and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from fabnode.boards import get_board
from fabnode.mpwasm import run_micropython
from fabnode.sim.hardware import SIGNAL_PATH, SignalSource, hw_config, hw_files, render_signal, vibration_rate_hz

DRIVERS = {
    "esp32-devkitc": """
i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21))
for reg, value in ((0x31, 0x0B), (0x2C, 0x0F), (0x38, 0x90), (0x2D, 0x08)):
    i2c.writeto_mem(0x53, reg, bytes([value]))
buf = bytearray(6)
count = bytearray(1)
def drain():
    i2c.readfrom_mem_into(0x53, 0x39, count)
    for _ in range(count[0] & 0x3F):
        i2c.readfrom_mem_into(0x53, 0x32, buf)
    return count[0] & 0x3F
""",
    "esp32c3-xiao": """
i2c = machine.I2C(0, scl=machine.Pin(7), sda=machine.Pin(6))
for reg, value in ((0x1A, 0x01), (0x19, 0x00), (0x23, 0x08), (0x6A, 0x44), (0x6B, 0x00)):
    i2c.writeto_mem(0x68, reg, bytes([value]))
buf = bytearray(6 * 32)
count = bytearray(2)
def drain():
    i2c.readfrom_mem_into(0x68, 0x72, count)
    frames = min((count[0] << 8 | count[1]) // 6, 32)
    i2c.readfrom_mem_into(0x68, 0x74, memoryview(buf)[:6 * frames])
    return frames
""",
    "esp32s3-devkitc": """
cs = machine.Pin(10, machine.Pin.OUT, value=1)
spi = machine.SPI(2, baudrate=8000000, sck=machine.Pin(12), mosi=machine.Pin(11), miso=machine.Pin(13))
cs(0); spi.write(bytes([0x2D << 1, 0x00])); cs(1)
entries = bytearray(2)
buf = bytearray(1 + 9 * 32)
def drain():
    cs(0); spi.write_readinto(bytes([0x05 << 1 | 1, 0]), entries); cs(1)
    samples = entries[1] // 3
    out = memoryview(buf)[:1 + 9 * samples]
    out[0] = 0x11 << 1 | 1
    cs(0); spi.write_readinto(out, out); cs(1)
    return samples
""",
}

LOOP = """
import time
samples = 0
started = time.ticks_us()
for _ in range(STEPS):
    simhw.advance_us(STEP_US)
    samples += drain()
print(samples, time.ticks_diff(time.ticks_us(), started))
"""


def measure(board_id: str, seconds: float) -> tuple[float, int, float]:
    board = get_board(board_id)
    rate = vibration_rate_hz(board)
    with tempfile.TemporaryDirectory() as tmp:
        signal = Path(tmp) / "v.fnsig"
        render_signal(signal, rate, SignalSource(duration_s=2.0))
        files = hw_files()
        files["/.sim/hw.json"] = json.dumps(hw_config(board)).encode()
        files[SIGNAL_PATH] = signal.read_bytes()
    step_us = 5000
    code = ("import sys\nsys.path.append('/.sim')\nimport simhw, machine\n" + DRIVERS[board_id]
            + LOOP.replace("STEPS", str(int(seconds * 1e6 / step_us))).replace("STEP_US", str(step_us)))
    samples, elapsed_us = map(int, run_micropython(code, files).stdout.split())
    return rate, samples, elapsed_us / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated seconds per sensor")
    args = parser.parse_args()
    print("| board | sensor, bus | ODR | samples read | µs/sample | CPU share at real time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for board_id in DRIVERS:
        sensor = get_board(board_id).sensor("vibration")
        rate, samples, per_sample = measure(board_id, args.seconds)
        print(f"| {board_id} | {sensor.type}, {sensor.bus} | {rate:g} Hz | {samples} | {per_sample:.1f} "
              f"| {per_sample * rate / 1e4:.1f} % |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
