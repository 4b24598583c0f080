"""The hot loops of the kernels, in plain bytecode: the reference every port can run.

Where MicroPython has a native emitter, ``tfl.loops_viper`` provides the same functions with
identical results and they replace these at import (see the end of this module).
"""

from struct import pack_into, unpack_from

from tfl.common import (
    multiply_by_split_multiplier,
    multiply_split_by_split,
    round_half_away,
    to_float32,
)
from tfl.fixedpoint import reciprocal_excess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def dot_rows(d: "Any") -> None:
    """FULLY_CONNECTED, and CONV_2D whose windows are one contiguous run of the input:
    out[p, c] = clamp(requantize(bias[c] + sum_j x[positions[p] + j] * rows[c][j]) + out_offset).

    Rows are views of the weights made at prepare time; iterating one is faster than indexing.
    Four output channels share each pass over the input, so each input value is read once per
    four multiply-accumulates.
    """
    copies, x, _weights, positions, rows, bias, (high, low, shifts), out, out_c, _run, out_offset, lo, hi, acc = d
    for target, source in copies:
        target[:] = source
    grouped = out_c - out_c % 4
    for p in range(len(positions)):
        start = positions[p]
        o = p * out_c
        for c in range(0, grouped, 4):
            row1 = rows[c + 1]
            row2 = rows[c + 2]
            row3 = rows[c + 3]
            acc0 = bias[c]
            acc1 = bias[c + 1]
            acc2 = bias[c + 2]
            acc3 = bias[c + 3]
            j = 0
            for weight in rows[c]:
                v = x[start + j]
                acc0 += weight * v
                acc1 += row1[j] * v
                acc2 += row2[j] * v
                acc3 += row3[j] * v
                j += 1  # noqa: SIM113 -- enumerate() would allocate a tuple per item
            acc[0] = acc0
            acc[1] = acc1
            acc[2] = acc2
            acc[3] = acc3
            for k in range(4):
                v = multiply_by_split_multiplier(acc[k], high[c + k], low[c + k], shifts[c + k]) + out_offset
                out[o + c + k] = lo if v < lo else hi if v > hi else v
        for c in range(grouped, out_c):
            total = bias[c]
            i = start
            for weight in rows[c]:
                total += weight * x[i]
                i += 1
            v = multiply_by_split_multiplier(total, high[c], low[c], shifts[c]) + out_offset
            out[o + c] = lo if v < lo else hi if v > hi else v


def lookup_table(d: "Any") -> None:
    """out[i] = table[x[i]] over the input's bytes (a unary int8 operator prepared as a table)."""
    x, out, table = d
    for i in range(len(out)):
        out[i] = table[x[i] & 0xFF]


def quantize_float(d: "Any") -> None:
    """AffineQuantize from float32 bytes."""
    x, out, count, s, zp = d
    for i in range(count):
        v = zp + round_half_away(to_float32(unpack_from("<f", x, 4 * i)[0] / s))
        out[i] = -128 if v < -128 else 127 if v > 127 else v


def dequantize(d: "Any") -> None:
    """float32 bytes from int8 through a table of the 256 possible results."""
    x, out, count, table = d
    for i in range(count):
        pack_into("<f", out, 4 * i, table[x[i] & 0xFF])


def conv(d: "Any") -> None:
    """CONV_2D over the zero-point padded input: one dot product per output element.

    Output channels are the outer loop, so a channel's filter views and requantization
    parameters stay in locals across all positions.
    """
    (copies, x, _weights, filter_runs, bias, (high, low, shifts), out, batches, batch_step, out_h, out_w, out_c,
     y_step, x_step, runs, _run, out_offset, lo, hi) = d
    for target, source in copies:
        target[:] = source
    count = len(runs)
    first_offset = runs[0]
    for c in range(out_c):
        channel_runs = filter_runs[c]
        first_run = channel_runs[0]
        channel_bias = bias[c]
        multiplier_high = high[c]
        multiplier_low = low[c]
        shift = shifts[c]
        o = c
        for b in range(batches):
            for oy in range(out_h):
                row = b * batch_step + oy * y_step
                for ox in range(out_w):
                    corner = row + ox * x_step
                    acc = channel_bias
                    i = corner + first_offset
                    for weight in first_run:
                        acc += weight * x[i]
                        i += 1
                    for r in range(1, count):
                        i = corner + runs[r]
                        for weight in channel_runs[r]:
                            acc += weight * x[i]
                            i += 1
                    acc = multiply_by_split_multiplier(acc, multiplier_high, multiplier_low, shift) + out_offset
                    out[o] = lo if acc < lo else hi if acc > hi else acc
                    o += out_c


def depthwise_conv(d: "Any") -> None:
    """DEPTHWISE_CONV_2D over the zero-point padded input; output channel = in_channel * multiplier + m."""
    (copies, x, w, bias, (high, low, shifts), out, batches, batch_step, out_h, out_w, in_c, multiplier,
     y_step, x_step, input_taps, filter_taps, out_offset, lo, hi) = d
    for target, source in copies:
        target[:] = source
    o = 0
    taps = len(input_taps)
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
                            acc += x[base + input_taps[t]] * w[oc + filter_taps[t]]
                        acc = multiply_by_split_multiplier(acc, high[oc], low[oc], shifts[oc]) + out_offset
                        out[o] = lo if acc < lo else hi if acc > hi else acc
                        o += 1


def _pool(d: "Any", average: bool) -> None:
    x, out, batches, in_h, in_w, channels, rows, cols, lo, hi = d
    o = 0
    row_stride = in_w * channels
    for b in range(batches):
        for r in range(0, len(rows), 2):
            y0 = rows[r]
            y1 = y0 + rows[r + 1]
            for q in range(0, len(cols), 2):
                x0 = cols[q]
                x1 = x0 + cols[q + 1]
                count = rows[r + 1] * cols[q + 1]
                for c in range(channels):
                    acc = 0 if average else -128
                    for y in range(y0, y1):
                        base = (b * in_h + y) * row_stride + c
                        # range() with a variable step would allocate a range object.
                        for i in range(x0, x1):
                            v = x[base + i * channels]
                            if average:
                                acc += v
                            elif v > acc:
                                acc = v
                    if average:
                        # Round half away from zero, as C's truncating division after +/- count / 2.
                        half = count >> 1
                        acc = (acc + half) // count if acc > 0 else -((half - acc) // count)
                    out[o] = lo if acc < lo else hi if acc > hi else acc
                    o += 1


def max_pool(d: "Any") -> None:
    _pool(d, False)


def average_pool(d: "Any") -> None:
    _pool(d, True)


def add(d: "Any") -> None:
    """ADD (sign 1) / SUB (sign -1): tabulated rescaled inputs, summed, rescaled to the output."""
    a, b, out, map_a, map_b, table_a, table_b, sign, high, low, shift, out_offset, lo, hi = d
    for i in range(len(out)):
        acc = table_a[a[map_a[i]] & 0xFF] + sign * table_b[b[map_b[i]] & 0xFF]
        acc = multiply_by_split_multiplier(acc, high, low, shift) + out_offset
        out[i] = lo if acc < lo else hi if acc > hi else acc


def mul(d: "Any") -> None:
    a, b, out, map_a, map_b, offset_a, offset_b, high, low, shift, out_offset, lo, hi = d
    for i in range(len(out)):
        acc = (a[map_a[i]] + offset_a) * (b[map_b[i]] + offset_b)
        acc = multiply_by_split_multiplier(acc, high, low, shift) + out_offset
        out[i] = lo if acc < lo else hi if acc > hi else acc


def _count_leading_zeros(x: int) -> int:
    n = 32
    while x:
        x >>= 1
        n -= 1
    return n


def softmax(d: "Any") -> None:
    """Per row: sum exp(x - max) in Q12.19, GetReciprocal, scale each exp to the int8 output.

    The reciprocal and the exp values lie in [2**30, 2**31): both are kept split into 15-bit
    halves, so nothing is allocated.
    """
    x, out, depth, max_negated, exps_high, exps_low, accumulated = d
    for row in range(len(out) // depth):
        start = row * depth
        end = start + depth
        top = -128
        for i in range(start, end):
            if x[i] > top:
                top = x[i]
        total = 0
        for i in range(start, end):
            negated = top - x[i]
            if negated <= max_negated:
                total += accumulated[negated]
        # GetReciprocal(total, 12): total << headroom_plus_one is 1 + a in Q1.31, a in [0, 1),
        # and 1 / (1 + a) in Q0.31 is 2**30 + 2 * reciprocal_excess(a >> 1), saturated.
        # A total of 2**30 or more (a row of over 2047 values) is a big int anyway.
        headroom_plus_one = _count_leading_zeros(total)
        half_a = (((total << (headroom_plus_one - 2)) - (1 << 29)) << 1 if headroom_plus_one >= 2
                  else total - (1 << 30))
        excess = reciprocal_excess(half_a)
        if excess < 1 << 29:
            scale_high = (1 << 15) + (excess >> 14)
            scale_low = (excess << 1) & 0x7FFF
        else:
            scale_high = 0xFFFF
            scale_low = 0x7FFF
        num_bits_over_unit = 12 - headroom_plus_one
        shift = -(num_bits_over_unit + 31 - 8)
        for i in range(start, end):
            negated = top - x[i]
            if negated <= max_negated:
                v = multiply_split_by_split(scale_high, scale_low, exps_high[negated], exps_low[negated], shift,
                                            False) - 128
                out[i] = -128 if v < -128 else 127 if v > 127 else v
            else:
                out[i] = -128


def _sum_into(x: "Any", index: "Any", sums: "Any") -> None:
    for i in range(len(sums)):
        sums[i] = 0
    for i in range(len(index)):
        sums[index[i]] += x[i]


def mean(d: "Any") -> None:
    x, out, index, sums, offset, high, low, shift, out_offset = d
    _sum_into(x, index, sums)
    for i in range(len(out)):
        v = multiply_by_split_multiplier(sums[i] - offset, high, low, shift) + out_offset
        out[i] = -128 if v < -128 else 127 if v > 127 else v


def mean_same_scale(d: "Any") -> None:
    """Mean: sum / count, C truncating division."""
    x, out, index, sums, count = d
    _sum_into(x, index, sums)
    for i in range(len(out)):
        s = sums[i]
        out[i] = s // count if s >= 0 else -(-s // count)


def copy_blocks(d: "Any") -> None:
    for target, source in d:
        target[:] = source


def fill(d: "Any") -> None:
    out, values = d
    for i in range(len(values)):
        out[i] = values[i]


def gather(d: "Any") -> None:
    x, out, index = d
    for i in range(len(index)):
        out[i] = x[index[i]]


def _native_loops() -> "Any":
    """tfl.loops_viper where this MicroPython has a native emitter, else None."""
    import sys

    if sys.implementation.name != "micropython":
        return None
    try:
        from tfl import loops_viper
    except (SyntaxError, ImportError):  # a port without native code: its source rejected, or not deployed
        return None
    return loops_viper


_native = _native_loops()
if _native is not None:
    dot_rows = _native.dot_rows
    conv = _native.conv
    depthwise_conv = _native.depthwise_conv
    max_pool = _native.max_pool
    average_pool = _native.average_pool
NATIVE = _native is not None
