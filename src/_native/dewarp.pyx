# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Kernel of text-line dewarping: resample a page with a smooth vertical displacement field.

``remap_rows(src, grid, step, out, fill)``: ``out[y, x, c] = src[y + d(x, y), x, c]`` with
``d`` the bilinear interpolation of ``grid`` (float32, one value every ``step`` pixels in both
directions, ``grid[j, i]`` at ``(x, y) = (i * step, j * step)``) and ``src`` sampled linearly
between its two nearest rows; rows outside the source give ``fill``.  The caller checks shapes
(``src`` and ``out`` equal, ``grid`` covering ``out``).  Releases the GIL.
"""

from libc.math cimport floor
from libc.stdint cimport uint8_t


cdef inline Py_ssize_t _cell(Py_ssize_t p, Py_ssize_t step, Py_ssize_t n,
                             Py_ssize_t *nxt, double *frac) noexcept nogil:
    """Grid cell of pixel ``p`` (clamped to the ``n`` samples), the next one, and the
    fraction of the way to it (at most 1 past the last sample)."""
    cdef double f = <double> p / step
    cdef Py_ssize_t c = <Py_ssize_t> f
    if c > n - 1:
        c = n - 1
    nxt[0] = c + 1 if c + 1 < n else n - 1
    f = f - c
    frac[0] = f if f < 1.0 else 1.0
    return c


def remap_rows(const uint8_t[:, :, ::1] src, const float[:, ::1] grid, Py_ssize_t step,
               uint8_t[:, :, ::1] out, int fill):
    cdef Py_ssize_t h = out.shape[0], w = out.shape[1], nc = out.shape[2]
    cdef Py_ssize_t gh = grid.shape[0], gw = grid.shape[1]
    cdef Py_ssize_t y, x, c, gy0, gx0, gy1, gx1, y0
    cdef double fy, fx, d, sy, t, v
    with nogil:
        for y in range(h):
            gy0 = _cell(y, step, gh, &gy1, &fy)
            for x in range(w):
                gx0 = _cell(x, step, gw, &gx1, &fx)
                d = ((1.0 - fy) * ((1.0 - fx) * grid[gy0, gx0] + fx * grid[gy0, gx1])
                     + fy * ((1.0 - fx) * grid[gy1, gx0] + fx * grid[gy1, gx1]))
                sy = y + d
                if sy < 0.0 or sy > h - 1:
                    for c in range(nc):
                        out[y, x, c] = <uint8_t> fill
                    continue
                y0 = <Py_ssize_t> floor(sy)
                if y0 >= h - 1:
                    y0 = h - 2 if h > 1 else 0
                t = sy - y0
                for c in range(nc):
                    if h > 1:
                        v = (1.0 - t) * src[y0, x, c] + t * src[y0 + 1, x, c]
                    else:
                        v = src[y0, x, c]
                    out[y, x, c] = <uint8_t> (v + 0.5)
