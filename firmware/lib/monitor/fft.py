"""In-place radix-2 FFT on caller-owned ``array('f')`` buffers (real and imaginary parts).

Tables (twiddles, bit reversal) are built once per size; a transform allocates no buffers.
"""

import math
from array import array


class FFT:
    """Complex FFT of size ``n`` (a power of two), in place on two float arrays."""

    def __init__(self, n: int) -> None:
        if n < 2 or n & (n - 1):
            raise ValueError("FFT size must be a power of two >= 2")
        self.n = n
        half = n >> 1
        self._cos = array("f", (math.cos(2 * math.pi * k / n) for k in range(half)))
        self._sin = array("f", (math.sin(2 * math.pi * k / n) for k in range(half)))
        bits = 0
        while (1 << bits) < n:
            bits += 1
        self._reverse = array("H", (_reverse_bits(i, bits) for i in range(n)))

    def forward(self, re: "array[float]", im: "array[float]") -> None:
        """X[k] = sum x[t] exp(-2 pi i k t / n), unscaled."""
        self._transform(re, im, -1.0, self.n)

    def inverse(self, re: "array[float]", im: "array[float]") -> None:
        """x[t] = 1/n sum X[k] exp(+2 pi i k t / n)."""
        self._transform(re, im, 1.0, self.n)
        scale = 1.0 / self.n
        for i in range(self.n):
            re[i] *= scale
            im[i] *= scale

    def real_forward(self, re: "array[float]", im: "array[float]") -> None:
        """Spectrum of the real signal in ``re`` (``im`` is scratch): X[0..n/2] into re/im[0..n/2].

        Half the work of ``forward``: the n real samples are an n/2-point complex signal (even
        samples real, odd imaginary), transformed, then split into the spectrum of the real one.
        Bins above n/2 (the conjugate mirror) are left undefined.
        """
        m = self.n >> 1
        for j in range(m):
            im[j] = re[2 * j + 1]
            re[j] = re[2 * j]
        self._transform(re, im, -1.0, m)
        z_re = re[0]
        z_im = im[0]
        re[0] = z_re + z_im
        im[0] = 0.0
        re[m] = z_re - z_im
        im[m] = 0.0
        cos_table = self._cos
        sin_table = self._sin
        for k in range(1, (m >> 1) + 1):
            j = m - k
            a_re = re[k]
            a_im = im[k]
            b_re = re[j]
            b_im = -im[j]
            # Even part E = (A + B) / 2, odd part O = (A - B) / 2i, with A = Z[k], B = conj(Z[m - k]).
            e_re = (a_re + b_re) * 0.5
            e_im = (a_im + b_im) * 0.5
            o_re = (a_im - b_im) * 0.5
            o_im = (b_re - a_re) * 0.5
            w_re = cos_table[k]
            w_im = -sin_table[k]
            t_re = w_re * o_re - w_im * o_im
            t_im = w_re * o_im + w_im * o_re
            # X[k] = E + W^k O and X[m - k] = conj(E - W^k O).
            re[k] = e_re + t_re
            im[k] = e_im + t_im
            re[j] = e_re - t_re
            im[j] = t_im - e_im

    def _transform(self, re: "array[float]", im: "array[float]", sign: float, size: int) -> None:
        """In-place complex FFT of the first ``size`` entries (a power of two up to n)."""
        stride = self.n // size
        shift = 0
        while (size << shift) < self.n:
            shift += 1
        reverse = self._reverse
        for i in range(size):
            j = reverse[i] >> shift
            if j > i:
                re[i], re[j] = re[j], re[i]
                im[i], im[j] = im[j], im[i]
        cos_table = self._cos
        sin_table = self._sin
        span = 2
        step = (size >> 1) * stride
        while span <= size:
            half = span >> 1
            for k in range(half):
                wr = cos_table[k * step]
                wi = sign * sin_table[k * step]
                for i in range(k, size, span):
                    j = i + half
                    xr = re[j]
                    xi = im[j]
                    tr = wr * xr - wi * xi
                    ti = wr * xi + wi * xr
                    ur = re[i]
                    ui = im[i]
                    re[j] = ur - tr
                    im[j] = ui - ti
                    re[i] = ur + tr
                    im[i] = ui + ti
            span <<= 1
            step >>= 1


def _reverse_bits(value: int, bits: int) -> int:
    result = 0
    for _ in range(bits):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result
