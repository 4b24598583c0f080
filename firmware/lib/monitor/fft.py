"""In-place radix-2 FFT in integers (block floating point) on caller-owned ``array('i')`` buffers.

Every value stays a small int on a 32-bit MicroPython, so a transform allocates nothing and
gives the same bits on the node and in CPython. Twiddles are Q14. Before each stage the block is
scaled down (by whole bits) until its largest component is at most 2**13, so the butterflies'
products stay below 2**28 and their outputs below 2**15; every transform returns the exponent
``e`` with result = (re + i*im) * 2**e. Tables are made once per size, in integers only. Where
the port has a native emitter (the ESP32s) the butterfly stage runs in viper (``monitor.fft_viper``,
the same bits).
"""

from array import array

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# 2*pi in Q60, for the integer-only twiddle tables (a float table rounds differently on the ESP32).
TWO_PI_Q60 = 7244019458077122842
_Q60 = 1 << 60
_MAX_INPUT = 1 << 13  # largest component a stage takes


class FFT:
    """Complex FFT of size ``n`` (a power of two), in place on two int arrays."""

    def __init__(self, n: int) -> None:
        if n < 2 or n & (n - 1):
            raise ValueError("FFT size must be a power of two >= 2")
        self.n = n
        bits = 0
        while (1 << bits) < n:
            bits += 1
        self.bits = bits
        half = n >> 1
        self.cos_table = array("h", bytes(2 * half))
        self.sin_table = array("h", bytes(2 * half))
        _fill_twiddles(self.cos_table, self.sin_table, n)
        self._reverse = array("H", (_reverse_bits(i, bits) for i in range(n)))

    def forward(self, re: "array[int]", im: "array[int]") -> int:
        """X[k] = sum x[t] exp(-2 pi i k t / n) = (re + i im)[k] * 2**returned."""
        return self._transform(re, im, -1, self.n)

    def inverse(self, re: "array[int]", im: "array[int]", size: int = 0) -> int:
        """x[t] = 1/size sum X[k] exp(+2 pi i k t / size) = (re + i im)[t] * 2**returned.

        ``size``: a power of two up to n (default n); entries from ``size`` on are left alone.
        """
        size = size or self.n
        exponent = self._transform(re, im, 1, size)
        while size > 1:
            size >>= 1
            exponent -= 1
        return exponent

    def real_forward(self, re: "array[int]", im: "array[int]", size: int = 0) -> int:
        """Spectrum of the ``size`` (default n) real samples in ``re`` (``im`` is scratch):
        X[0..size/2] = (re + i im) * 2**returned.

        Half the work of ``forward``: the real samples are a size/2-point complex signal (even
        samples real, odd imaginary), transformed, then split into the spectrum of the real one.
        Bins above size/2 (the conjugate mirror) are left undefined. Components end below 2**14.3,
        so a bin's power re**2 + im**2 is a small int.
        """
        size = size or self.n
        stride = self.n // size
        m = size >> 1
        for j in range(m):
            im[j] = re[2 * j + 1]
            re[j] = re[2 * j]
        exponent = self._transform(re, im, -1, m)
        # The split below can grow components by 2 * (1 + sqrt 2): start from at most 2**12.
        shift = 0
        while (self._top >> shift) >= _MAX_INPUT >> 1:
            shift += 1
        rounding = (1 << shift) >> 1
        z_re = (re[0] + rounding) >> shift
        z_im = (im[0] + rounding) >> shift
        # Computing 2X (no halving of E and O below) keeps the low bit: the exponent takes the 2.
        re[0] = (z_re + z_im) << 1
        im[0] = 0
        re[m] = (z_re - z_im) << 1
        im[m] = 0
        cos_table = self.cos_table
        sin_table = self.sin_table
        for k in range(1, (m >> 1) + 1):
            j = m - k
            a_re = (re[k] + rounding) >> shift
            a_im = (im[k] + rounding) >> shift
            b_re = (re[j] + rounding) >> shift
            b_im = -((im[j] + rounding) >> shift)
            # 2E = A + B and 2O = (A - B) / i, with A = Z[k], B = conj(Z[m - k]).
            e_re = a_re + b_re
            e_im = a_im + b_im
            o_re = a_im - b_im
            o_im = b_re - a_re
            w_re = cos_table[k * stride]
            w_im = -sin_table[k * stride]
            t_re = (w_re * o_re - w_im * o_im + 8192) >> 14
            t_im = (w_re * o_im + w_im * o_re + 8192) >> 14
            # X[k] = E + W^k O and X[m - k] = conj(E - W^k O).
            re[k] = e_re + t_re
            im[k] = e_im + t_im
            re[j] = e_re - t_re
            im[j] = t_im - e_im
        return exponent + shift - 1

    def _transform(self, re: "array[int]", im: "array[int]", sign: int, size: int) -> int:
        """In-place complex FFT of the first ``size`` entries (a power of two up to n), unscaled.

        Returns the exponent of the block scaling; leaves a bound of the outputs in ``_top``.
        """
        stride = self.n // size
        drop = 0
        while (size << drop) < self.n:
            drop += 1
        reverse = self._reverse
        top = 0
        for i in range(size):
            j = reverse[i] >> drop
            if j > i:
                re[i], re[j] = re[j], re[i]
                im[i], im[j] = im[j], im[i]
            # x ^ (x >> 31) is |x| (|x| - 1 when negative): OR-ed, a bound on the largest magnitude
            # that costs a few integer operations (max() over an array is slow on MicroPython).
            value = re[i]
            top |= value ^ (value >> 31)
            value = im[i]
            top |= value ^ (value >> 31)
        exponent = 0
        if top >= 1 << 15:  # too large for the first stage's products: scale down first
            shift = 0
            while (top >> shift) >= _MAX_INPUT:
                shift += 1
            _scale_down(re, im, size, shift)
            exponent = shift
            top >>= shift
        span = 2
        step = (size >> 1) * stride
        while span <= size:
            shift = 0
            while (top >> shift) >= _MAX_INPUT:
                shift += 1
            exponent += shift
            top = _STAGE(re, im, self.cos_table, self.sin_table, size, span, step, sign, shift)
            span <<= 1
            step >>= 1
        self._top = top
        return exponent


def _stage(re: "array[int]", im: "array[int]", cos_table: "array[int]", sin_table: "array[int]",
           size: int, span: int, step: int, sign: int, shift: int) -> int:
    """Butterflies of span ``span`` over re/im[0:size], inputs scaled down by ``shift``; a bound of the outputs.

    ``monitor.fft_viper.stage`` is the same in viper, used where the port has a native emitter.
    """
    rounding = (1 << shift) >> 1
    product_shift = 14 + shift
    product_rounding = 1 << (product_shift - 1)
    half = span >> 1
    top = 0
    # k = 0: the twiddle is 1, and (x * 2**14 + rounding) >> (14 + shift) is (x + rounding) >> shift.
    i = 0
    while i < size:
        j = i + half
        tr = (re[j] + rounding) >> shift
        ti = (im[j] + rounding) >> shift
        ur = (re[i] + rounding) >> shift
        ui = (im[i] + rounding) >> shift
        a = ur + tr
        b = ui + ti
        c = ur - tr
        d = ui - ti
        re[i] = a
        im[i] = b
        re[j] = c
        im[j] = d
        top |= (a ^ (a >> 31)) | (b ^ (b >> 31)) | (c ^ (c >> 31)) | (d ^ (d >> 31))
        i += span
    for k in range(1, half):
        wr = cos_table[k * step]
        wi = sin_table[k * step]
        if sign < 0:
            wi = -wi
        i = k
        while i < size:
            j = i + half
            xr = re[j]
            xi = im[j]
            tr = (wr * xr - wi * xi + product_rounding) >> product_shift
            ti = (wr * xi + wi * xr + product_rounding) >> product_shift
            ur = (re[i] + rounding) >> shift
            ui = (im[i] + rounding) >> shift
            a = ur + tr
            b = ui + ti
            c = ur - tr
            d = ui - ti
            re[i] = a
            im[i] = b
            re[j] = c
            im[j] = d
            top |= (a ^ (a >> 31)) | (b ^ (b >> 31)) | (c ^ (c >> 31)) | (d ^ (d >> 31))
            i += span
    return top


def _fast_stage() -> "Any":
    """monitor.fft_viper.stage where this MicroPython has a native emitter, else None."""
    import sys

    if sys.implementation.name != "micropython":
        return None
    try:
        from monitor import fft_viper
    except (SyntaxError, ImportError):  # a port without native code: its source rejected, or not deployed
        return None
    return fft_viper.stage


_STAGE = _fast_stage() or _stage


def _scale_down(re: "array[int]", im: "array[int]", size: int, shift: int) -> None:
    rounding = (1 << shift) >> 1
    for i in range(size):
        re[i] = (re[i] + rounding) >> shift
        im[i] = (im[i] + rounding) >> shift


def _fill_twiddles(cos_table: "array[int]", sin_table: "array[int]", n: int) -> None:
    """cos and sin of 2 pi k / n in Q14 for k < n/2, from a quarter wave of cosines.

    The quarter wave is a rotation by 2 pi / n, repeated in Q60. Set-up only (Q60 values are long
    ints); every platform makes the same table.
    """
    if n < 4:  # n = 2: the one twiddle is 1
        cos_table[0] = 16384
        sin_table[0] = 0
        return
    angle = TWO_PI_Q60 // n
    # cos and sin of the step angle (at most pi / 2) by their Taylor series, to Q60.
    c = 0
    s = 0
    term = _Q60  # angle**k / k!, k = 0, 1, 2, ...
    k = 0
    while term:
        if k & 1:
            s += -term if k & 2 else term
        else:
            c += -term if k & 2 else term
        k += 1
        term = term * angle // _Q60 // k
    quarter = n >> 2
    x = _Q60
    y = 0
    half_q14 = 1 << 45
    for k in range(quarter + 1):
        cos_table[k] = (x + half_q14) >> 46
        x, y = (x * c - y * s) // _Q60, (x * s + y * c) // _Q60
    # Past a quarter cos(t) = -cos(pi - t); sin(t) = cos(pi/2 - t) = cos(t - pi/2).
    for k in range(quarter + 1, n >> 1):
        cos_table[k] = -cos_table[(n >> 1) - k]
    for k in range(n >> 1):
        sin_table[k] = cos_table[quarter - k] if k <= quarter else cos_table[k - quarter]


def _reverse_bits(value: int, bits: int) -> int:
    result = 0
    for _ in range(bits):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result
