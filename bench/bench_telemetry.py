"""Telemetry speed: host decoder throughput, and node-side encoding cost under real MicroPython.

    python bench/bench_telemetry.py [--seconds 3]

Decoder: bytes/s of a recorded-like stream (status, score, features records; and a raw
data-collection stream) fed in 4 KiB chunks on one core, as a multiple of what a 921600-baud
line can deliver (92160 bytes/s at 10 bits per byte). Encoder: microseconds per record of
``monitor.telemetry.encode`` under the MicroPython WebAssembly port (figures for the virtual
node; an ESP32 at 240 MHz is slower, see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import time

import numpy as np

from fabnode.mpwasm import run_micropython, tree_files
from fabnode.resources import firmware_lib_dir, use_firmware_lib
from fabnode.telemetry import Decoder

use_firmware_lib()
from monitor.telemetry import encode  # noqa: E402  (firmware module, importable after use_firmware_lib)

LINE_BYTES_PER_S = 921600 / 10
CHUNK = 4096

STATUS = {"uptime_s": 3600, "rate_hz": 3199.8, "odr_hz": 3200, "overruns": 0, "dropped": 0, "windows": 22500,
          "window_errors": 0, "heap_free": 81234, "temp_c": 24.5, "velocity_mm_s": 1.234, "zone": "B",
          "machine_class": "I", "score": 0.1234, "threshold": 0.5, "alarm": False, "alarms": [], "faults": [],
          "stream": "off", "safe_mode": False}
FEATURES = {"window": 22500, "rms_g": [0.0123, 0.0111, 1.0002], "peak_g": [0.05, 0.045, 1.04],
            "crest": [4.1, 4.0, 1.04], "kurtosis": [3.1, 3.0, 3.0], "skewness": [0.01, -0.02, 0.0],
            "dominant_hz": [29.7, 29.7, 59.4], "velocity_mm_s": 1.234, "temp_c": 24.5}
SCORE = {"window": 22500, "score": 0.1234, "max": 0.2, "windows": 63, "over": 0, "threshold": 0.5, "model": "ref-1"}


def telemetry_stream(records: int) -> bytes:
    kinds = [("status", STATUS), ("features", FEATURES), ("score", SCORE)]
    return b"".join(encode(kinds[i % 3][0], "press-7", i, 1000 + 10 * i, kinds[i % 3][1]) for i in range(records))


def raw_stream(blocks: int) -> bytes:
    counts = (np.random.default_rng(1).normal(0, 300, (512, 3))).astype("<i2")
    payload = {"kind": "raw", "dtype": "<i2", "shape": [512, 3], "scale_g": 0.0039, "rate_hz": 3200,
               "data": base64.b64encode(counts.tobytes()).decode()}
    return b"".join(encode("raw", "press-7", i, i, {**payload, "first": 512 * i}) for i in range(blocks))


def decode_rate(data: bytes, seconds: float) -> tuple[float, int]:
    """Bytes/s decoding ``data`` repeatedly for about ``seconds``; also records per pass."""
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    passes, start = 0, time.perf_counter()
    while True:
        decoder = Decoder()
        for chunk in chunks:
            decoder.feed(chunk)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return passes * len(data) / elapsed, decoder.stats.records


ENCODE_CODE = """
import time, json
from monitor.telemetry import encode
payload = json.loads(%r)
n = %d
encode('status', 'press-7', 0, 0, payload)
t0 = time.ticks_us()
for i in range(n):
    encode('status', 'press-7', i, i, payload)
t1 = time.ticks_us()
print(time.ticks_diff(t1, t0) / n)
"""


def encode_cost_us(payload: dict[str, object], n: int) -> float:
    files = tree_files(firmware_lib_dir(), "/lib")
    result = run_micropython(ENCODE_CODE % (json.dumps(payload), n), files)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per decoder measurement")
    args = parser.parse_args()
    for name, data in (("telemetry (status/features/score)", telemetry_stream(3000)), ("raw blocks", raw_stream(200))):
        rate, records = decode_rate(data, args.seconds)
        per_record = len(data) / records
        print(f"decoder, {name}: {rate / 1e6:.2f} MB/s = {rate / LINE_BYTES_PER_S:.0f}x a 921600-baud line "
              f"({per_record:.0f} bytes/record, {rate / per_record:,.0f} records/s)")
    for name, payload in (("status", STATUS), ("features", FEATURES), ("score", SCORE)):
        print(f"encoder under MicroPython (WebAssembly), {name}: {encode_cost_us(payload, 2000):.0f} us/record")


if __name__ == "__main__":
    main()
