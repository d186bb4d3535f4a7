# cython: language_level=3
"""Page-capture kernels: perspective resampling and lighting flattening.

Callers (``onestop_docs.capture``) validate shapes, dtypes and the homography; every kernel
releases the GIL.
"""

cimport cython
from libc.stdint cimport uint8_t

from paper_grid cimport (
    PaperGrid, paper_grid_at, paper_grid_free, paper_grid_init, paper_grid_row,
)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
def warp_homography(const uint8_t[:, ::1] src, const double[::1] h, uint8_t[:, ::1] out,
                    int fill):
    """``out[v, u]`` = ``src`` bilinearly sampled at the image of pixel centre ``(u, v)``
    under the 3 x 3 output-to-input homography ``h`` (row-major, 9 values, pixel-centre
    coordinates); points outside ``src`` take ``fill``.  ``src`` must be at least 2 x 2."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef Py_ssize_t sh = src.shape[0], sw = src.shape[1], r, c, x0, y0
    cdef double X, Y, W, x, y, wx, wy, top, bottom, iw
    cdef double xmax = sw - 1, ymax = sh - 1
    if sh < 2 or sw < 2 or h.shape[0] != 9:
        raise ValueError("warp_homography needs a source of at least 2 x 2 and 9 coefficients")
    with nogil:
        for r in range(rows):
            # the row's start, then one step of the first column per pixel
            X = h[1] * r + h[2]
            Y = h[4] * r + h[5]
            W = h[7] * r + h[8]
            for c in range(cols):
                if W > 1e-12:
                    iw = 1.0 / W
                    x = X * iw
                    y = Y * iw
                else:
                    x = -1.0
                    y = -1.0
                X += h[0]
                Y += h[3]
                W += h[6]
                if x < 0 or y < 0 or x > xmax or y > ymax:
                    out[r, c] = <uint8_t>fill
                    continue
                x0 = <Py_ssize_t>x  # x >= 0: truncation is the floor
                y0 = <Py_ssize_t>y
                if x0 > sw - 2:
                    x0 = sw - 2
                if y0 > sh - 2:
                    y0 = sh - 2
                wx = x - x0
                wy = y - y0
                top = src[y0, x0] + wx * (<double>src[y0, x0 + 1] - src[y0, x0])
                bottom = src[y0 + 1, x0] + wx * (<double>src[y0 + 1, x0 + 1] - src[y0 + 1, x0])
                out[r, c] = <uint8_t>(top + wy * (bottom - top) + 0.5)


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
