# ruff: noqa: F821 -- ptr16 and ptr32 are viper built-ins
"""One butterfly stage of monitor.fft in viper, for ports with a native emitter (the ESP32s).

Imported by monitor.fft where it loads (not on the WebAssembly port, where importing this module
raises SyntaxError, nor on nodes deployed without native code). The same integer operations as
``FFT._transform``'s stage, on 32-bit machine words: block floating point keeps every value and
product below 2**30, so the bits are the same. ptr16 reads the Q14 twiddles unsigned, so they
are sign-extended; the twiddle-free k = 0 butterflies need no special case here, (x * 2**14 +
rounding) >> (14 + shift) being (x + rounding') >> shift.
"""

import micropython


@micropython.viper
def stage(r: ptr32, m: ptr32, c: ptr16, s: ptr16, size: int, span: int, step: int, sign: int, shift: int) -> int:
    """Butterflies of span ``span`` over r/m[0:size] (re, im), inputs scaled down by ``shift``; a bound of the outputs.

    r, m: the int32 arrays; c, s: the Q14 cosine and sine tables (int16).
    """
    rounding = (1 << shift) >> 1
    product_shift = 14 + shift
    product_rounding = 1 << (product_shift - 1)
    half = span >> 1
    top = 0
    k = 0
    while k < half:
        wr = c[k * step]
        if wr > 32767:
            wr -= 65536
        wi = s[k * step]
        if wi > 32767:
            wi -= 65536
        if sign < 0:
            wi = 0 - wi
        i = k
        while i < size:
            j = i + half
            xr = r[j]
            xi = m[j]
            tr = (wr * xr - wi * xi + product_rounding) >> product_shift
            ti = (wr * xi + wi * xr + product_rounding) >> product_shift
            ur = (r[i] + rounding) >> shift
            ui = (m[i] + rounding) >> shift
            a = ur + tr
            b = ui + ti
            d = ur - tr
            e = ui - ti
            r[i] = a
            m[i] = b
            r[j] = d
            m[j] = e
            top |= (a ^ (a >> 31)) | (b ^ (b >> 31)) | (d ^ (d >> 31)) | (e ^ (e >> 31))
            i += span
        k += 1
    return top
