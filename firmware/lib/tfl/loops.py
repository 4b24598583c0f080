"""The hot loops of the kernels, in plain bytecode: the reference every port can run.

Where MicroPython has a native emitter, ``tfl.loops_viper`` provides the same functions with
identical results and they replace these at import (see the end of this module).
"""

from struct import pack_into, unpack_from

from tfl.common import multiply_by_quantized_multiplier, round_half_away, to_float32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def fully_connected(d: "Any") -> None:
    """out[b, c] = clamp(requantize(bias[c] + sum_i x[b, i] * w[c, i]) + out_offset)."""
    x, w, bias, multipliers, shifts, out, batches, accum, depth, out_offset, lo, hi = d
    o = 0
    for b in range(batches):
        start = b * accum
        end = start + accum
        for c in range(depth):
            acc = bias[c]
            k = c * accum
            for i in range(start, end):
                acc += x[i] * w[k]
                k += 1
            acc = multiply_by_quantized_multiplier(acc, multipliers[c], shifts[c]) + out_offset
            out[o] = lo if acc < lo else hi if acc > hi else acc
            o += 1


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
