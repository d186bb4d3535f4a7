# cython: language_level=3
"""Page-capture kernels: perspective resampling and lighting flattening.

Callers (``onestop_docs.capture``) validate shapes, dtypes and the homography; every kernel
releases the GIL.
"""

cimport cython
from libc.math cimport floor
from libc.stdint cimport uint8_t

from paper_grid cimport (
    PaperGrid, paper_grid_at, paper_grid_free, paper_grid_init, paper_grid_row,
)


@cython.boundscheck(False)
@cython.wraparound(False)
def warp_homography(const uint8_t[:, ::1] src, const double[::1] h, uint8_t[:, ::1] out,
                    int fill):
    """``out[v, u]`` = ``src`` bilinearly sampled at the image of pixel centre ``(u, v)``
    under the 3 x 3 output-to-input homography ``h`` (row-major, 9 values, pixel-centre
    coordinates); points outside ``src`` take ``fill``."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef Py_ssize_t sh = src.shape[0], sw = src.shape[1], r, c, x0, y0
    cdef double u, v, X, Y, W, x, y, wx, wy, a00, a01, a10, a11, val
    with nogil:
        for r in range(rows):
            v = r
            for c in range(cols):
                u = c
                X = h[0] * u + h[1] * v + h[2]
                Y = h[3] * u + h[4] * v + h[5]
                W = h[6] * u + h[7] * v + h[8]
                if W <= 1e-12:
                    out[r, c] = <uint8_t>fill
                    continue
                x = X / W
                y = Y / W
                if x < 0 or y < 0 or x > sw - 1 or y > sh - 1:
                    out[r, c] = <uint8_t>fill
                    continue
                x0 = <Py_ssize_t>floor(x)
                y0 = <Py_ssize_t>floor(y)
                if x0 >= sw - 1:
                    x0 = sw - 2 if sw > 1 else 0
                if y0 >= sh - 1:
                    y0 = sh - 2 if sh > 1 else 0
                wx = x - x0
                wy = y - y0
                a00 = src[y0, x0]
                a01 = src[y0, x0 + 1] if sw > 1 else a00
                a10 = src[y0 + 1, x0] if sh > 1 else a00
                a11 = src[y0 + 1, x0 + 1] if sw > 1 and sh > 1 else a00
                val = ((1 - wy) * ((1 - wx) * a00 + wx * a01)
                       + wy * ((1 - wx) * a10 + wx * a11))
                out[r, c] = <uint8_t>(val + 0.5)


@cython.boundscheck(False)
@cython.wraparound(False)
def flatten(uint8_t[:, ::1] img, const float[:, ::1] paper, int block):
    """Divide ``img`` in place by its local paper level (one level per ``block`` x ``block``
    cell, interpolated bilinearly between cell centres), so paper becomes 255 and ink keeps
    its contrast under uneven light."""
    cdef Py_ssize_t rows = img.shape[0], cols = img.shape[1]
    cdef Py_ssize_t i, j
    cdef double val
    cdef PaperGrid g
    with nogil:
        if paper_grid_init(&g, cols, paper.shape[0], paper.shape[1], block) != 0:
            with gil:
                raise MemoryError()
        for i in range(rows):
            paper_grid_row(&g, paper, i)
            for j in range(cols):
                val = img[i, j] * 255.0 / paper_grid_at(&g, j)
                img[i, j] = <uint8_t>(255 if val >= 255 else val + 0.5)
        paper_grid_free(&g)
