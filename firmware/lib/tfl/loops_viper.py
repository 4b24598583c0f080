# ruff: noqa: F821 -- ptr8, ptr16 and ptr32 are viper built-ins
"""Viper versions of the MAC and pooling loops of tfl.loops, same data, same results.

Imported by tfl.loops on ports with a native emitter (the ESP32 port; not the WebAssembly
port, where importing this module raises SyntaxError). Viper integers are 32-bit machine words
and ptr8 reads bytes unsigned, so int8 values are sign-extended with (v ^ 0x80) - 0x80; the
requantization keeps every intermediate below 2**31, as tfl.common.multiply_by_split_multiplier does.
"""

import micropython

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@micropython.viper
def _requantize(acc: int, high: int, low: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier(acc, high << 15 | low, shift), as tfl.common computes it."""
    if shift > 0:
        acc = acc << shift
        shift = 0
    negative = acc < 0
    a = 0 - acc if negative else acc
    a0 = a & 0x7FFF
    a1 = (a >> 15) & 0x7FFF
    a2 = a >> 30
    b1 = high & 0x7FFF
    b2 = high >> 15
    if negative:
        t = a0 * low + 0x7FFF
        t = (t >> 15) + a0 * b1 + 0x7FFF
        nudge = 0
    else:
        t = a0 * low
        t = (t >> 15) + a0 * b1
        nudge = 1
    u = (t & 0x7FFF) + a1 * low
    v = a1 * b1 + (t >> 15)
    w = (v & 0x7FFF) + (u >> 15) + a0 * b2 + a2 * low + nudge
    h = ((w & 0x7FFF) >> 1) + (((v >> 15) + (w >> 15) + a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
    if negative:
        h = 0 - h
    exponent = 0 - shift
    mask = (1 << exponent) - 1
    threshold = mask >> 1
    if h < 0:
        threshold += 1
    result = h >> exponent
    if (h & mask) > threshold:
        result += 1
    return result


def dot_rows(d: "Any") -> None:
    for target, source in d[0]:
        target[:] = source
    _dot_rows(d)


@micropython.viper
def _dot_rows(d):  # type: ignore[no-untyped-def]  # viper: d is a Python object
    x = ptr8(d[1])
    w = ptr8(d[2])
    positions = ptr32(d[3])
    count = int(len(d[3]))  # noqa: RUF046 -- viper: object to machine int
    bias = ptr32(d[5])
    multipliers = d[6]
    high = ptr16(multipliers[0])
    low = ptr16(multipliers[1])
    shifts = ptr8(multipliers[2])
    out = ptr8(d[7])
    out_c = int(d[8])
    run = int(d[9])
    out_offset = int(d[10])
    lo = int(d[11])
    hi = int(d[12])
    for p in range(count):
        start = positions[p]
        o = p * out_c
        for c in range(out_c):
            acc = bias[c]
            k = c * run
            for i in range(start, start + run):
                acc += ((x[i] ^ 0x80) - 0x80) * ((w[k] ^ 0x80) - 0x80)
                k += 1
            acc = int(_requantize(acc, high[c], low[c], (shifts[c] ^ 0x80) - 0x80)) + out_offset
            if acc < lo:
                acc = lo
            if acc > hi:
                acc = hi
            out[o + c] = acc


def conv(d: "Any") -> None:
    for target, source in d[0]:
        target[:] = source
    _conv(d)


@micropython.viper
def _conv(d):  # type: ignore[no-untyped-def]  # viper: d is a Python object
    x = ptr8(d[1])
    w = ptr8(d[2])
    bias = ptr32(d[4])
    multipliers = d[5]
    high = ptr16(multipliers[0])
    low = ptr16(multipliers[1])
    shifts = ptr8(multipliers[2])
    out = ptr8(d[6])
    batches = int(d[7])
    batch_step = int(d[8])
    out_h = int(d[9])
    out_w = int(d[10])
    out_c = int(d[11])
    y_step = int(d[12])
    x_step = int(d[13])
    runs = ptr32(d[14])
    count = int(len(d[14]))  # noqa: RUF046 -- viper: object to machine int
    run = int(d[15])
    out_offset = int(d[16])
    lo = int(d[17])
    hi = int(d[18])
    taps = count * run
    o = 0
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                corner = b * batch_step + oy * y_step + ox * x_step
                for c in range(out_c):
                    acc = bias[c]
                    k = c * taps
                    for r in range(count):
                        start = corner + runs[r]
                        for i in range(start, start + run):
                            acc += ((x[i] ^ 0x80) - 0x80) * ((w[k] ^ 0x80) - 0x80)
                            k += 1
                    acc = int(_requantize(acc, high[c], low[c], (shifts[c] ^ 0x80) - 0x80)) + out_offset
                    if acc < lo:
                        acc = lo
                    if acc > hi:
                        acc = hi
                    out[o] = acc
                    o += 1


def depthwise_conv(d: "Any") -> None:
    for target, source in d[0]:
        target[:] = source
    _depthwise_conv(d)


@micropython.viper
def _depthwise_conv(d):  # type: ignore[no-untyped-def]  # viper: d is a Python object
    x = ptr8(d[1])
    w = ptr8(d[2])
    bias = ptr32(d[3])
    multipliers = d[4]
    high = ptr16(multipliers[0])
    low = ptr16(multipliers[1])
    shifts = ptr8(multipliers[2])
    out = ptr8(d[5])
    batches = int(d[6])
    batch_step = int(d[7])
    out_h = int(d[8])
    out_w = int(d[9])
    in_c = int(d[10])
    multiplier = int(d[11])
    y_step = int(d[12])
    x_step = int(d[13])
    input_taps = ptr32(d[14])
    filter_taps = ptr32(d[15])
    taps = int(len(d[14]))  # noqa: RUF046 -- viper: object to machine int
    out_offset = int(d[16])
    lo = int(d[17])
    hi = int(d[18])
    o = 0
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                corner = b * batch_step + oy * y_step + ox * x_step
                for ic in range(in_c):
                    base = corner + ic
                    for m in range(multiplier):
                        oc = ic * multiplier + m
                        acc = bias[oc]
                        for t in range(taps):
                            acc += ((x[base + input_taps[t]] ^ 0x80) - 0x80) * ((w[oc + filter_taps[t]] ^ 0x80) - 0x80)
                        acc = int(_requantize(acc, high[oc], low[oc], (shifts[oc] ^ 0x80) - 0x80)) + out_offset
                        if acc < lo:
                            acc = lo
                        if acc > hi:
                            acc = hi
                        out[o] = acc
                        o += 1


@micropython.viper
def _pool(d, average: int):  # type: ignore[no-untyped-def]  # viper: d is a Python object
    x = ptr8(d[0])
    out = ptr8(d[1])
    batches = int(d[2])
    in_h = int(d[3])
    in_w = int(d[4])
    channels = int(d[5])
    rows = ptr32(d[6])
    row_count = int(len(d[6]))  # noqa: RUF046 -- viper: object to machine int
    cols = ptr32(d[7])
    col_count = int(len(d[7]))  # noqa: RUF046 -- viper: object to machine int
    lo = int(d[8])
    hi = int(d[9])
    row_stride = in_w * channels
    o = 0
    for b in range(batches):
        for r in range(0, row_count, 2):
            y0 = rows[r]
            y1 = y0 + rows[r + 1]
            for q in range(0, col_count, 2):
                x0 = cols[q]
                x1 = x0 + cols[q + 1]
                count = rows[r + 1] * cols[q + 1]
                for c in range(channels):
                    acc = -128
                    if average:
                        acc = 0
                    for y in range(y0, y1):
                        base = (b * in_h + y) * row_stride + c
                        for i in range(x0, x1):
                            v = (x[base + i * channels] ^ 0x80) - 0x80
                            if average:
                                acc += v
                            elif v > acc:
                                acc = v
                    if average:
                        half = count >> 1
                        acc = (acc + half) // count if acc > 0 else 0 - (half - acc) // count
                    if acc < lo:
                        acc = lo
                    if acc > hi:
                        acc = hi
                    out[o] = acc
                    o += 1


def max_pool(d: "Any") -> None:
    _pool(d, 0)


def average_pool(d: "Any") -> None:
    _pool(d, 1)
