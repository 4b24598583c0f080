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
        self._transform(re, im, -1.0)

    def inverse(self, re: "array[float]", im: "array[float]") -> None:
        """x[t] = 1/n sum X[k] exp(+2 pi i k t / n)."""
        self._transform(re, im, 1.0)
        scale = 1.0 / self.n
        for i in range(self.n):
            re[i] *= scale
            im[i] *= scale

    def _transform(self, re: "array[float]", im: "array[float]", sign: float) -> None:
        n = self.n
        reverse = self._reverse
        for i in range(n):
            j = reverse[i]
            if j > i:
                re[i], re[j] = re[j], re[i]
                im[i], im[j] = im[j], im[i]
        cos_table = self._cos
        sin_table = self._sin
        size = 2
        step = n >> 1
        while size <= n:
            half = size >> 1
            for k in range(half):
                wr = cos_table[k * step]
                wi = sign * sin_table[k * step]
                for i in range(k, n, size):
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
            size <<= 1
            step >>= 1


def _reverse_bits(value: int, bits: int) -> int:
    result = 0
    for _ in range(bits):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result
