# cython: language_level=3
"""Page cleanup kernels: 8-connected components of a mask as runs, painting and proximity.

Callers (``onestop_docs.cleanup``) validate shapes and dtypes first; these loops trust their
input and release the GIL.
"""

from libc.stdint cimport uint8_t, int32_t, int64_t
from libc.stdlib cimport malloc, free

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <stddef.h>
    #include <string.h>
    /* Index of the first nonzero byte of row[x:w] (w if none), 8 bytes at a time: masks
       are mostly paper, so run finding skips the empty stretches quickly. */
    static inline ptrdiff_t osd_skip_zeros(const uint8_t *row, ptrdiff_t x, ptrdiff_t w) {
        uint64_t word;
        while (x + 8 <= w) {
            memcpy(&word, row + x, 8);
            if (word != 0) break;
            x += 8;
        }
        while (x < w && row[x] == 0) x++;
        return x;
    }
    /* Index of the first zero byte of row[x:w] (w if none). */
    static inline ptrdiff_t osd_skip_ones(const uint8_t *row, ptrdiff_t x, ptrdiff_t w) {
        while (x < w && row[x] != 0) x++;
        return x;
    }
    """
    Py_ssize_t osd_skip_zeros(const uint8_t *row, Py_ssize_t x, Py_ssize_t w) noexcept nogil
    Py_ssize_t osd_skip_ones(const uint8_t *row, Py_ssize_t x, Py_ssize_t w) noexcept nogil


# Connected components (8-connectivity) by run-length labelling with union-find.

cdef Py_ssize_t count_runs_kernel(const uint8_t[:, ::1] mask) noexcept nogil:
    cdef Py_ssize_t h = mask.shape[0], w = mask.shape[1], y, x, n = 0
    cdef const uint8_t *row
    for y in range(h):
        row = &mask[y, 0]
        x = osd_skip_zeros(row, 0, w)
        while x < w:
            n += 1
            x = osd_skip_zeros(row, osd_skip_ones(row, x, w), w)
    return n


cdef inline Py_ssize_t uf_find(Py_ssize_t *parent, Py_ssize_t i) noexcept nogil:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


cdef Py_ssize_t label_runs_kernel(const uint8_t[:, ::1] mask, int32_t[::1] ry, int32_t[::1] rx0,
                                  int32_t[::1] rx1, int32_t[::1] rlab,
                                  Py_ssize_t *parent) noexcept nogil:
    # Runs are half-open [x0, x1).  Two runs on adjacent rows touch (8-connectivity) when
    # a.x0 <= b.x1 and b.x0 <= a.x1.  The root of a set is its smallest run index.
    cdef Py_ssize_t h = mask.shape[0], w = mask.shape[1], y, x, n = 0, start
    cdef Py_ssize_t prev_lo = 0, prev_hi = 0, cur_lo, i, j, a, b, nl = 0
    cdef const uint8_t *row
    for y in range(h):
        cur_lo = n
        row = &mask[y, 0]
        x = osd_skip_zeros(row, 0, w)
        while x < w:
            start = x
            x = osd_skip_ones(row, x, w)
            ry[n] = <int32_t> y
            rx0[n] = <int32_t> start
            rx1[n] = <int32_t> x
            parent[n] = n
            n += 1
            x = osd_skip_zeros(row, x, w)
        # Merge with the previous row's runs (both lists sorted by x0).
        i = prev_lo
        j = cur_lo
        while i < prev_hi and j < n:
            if rx0[i] <= rx1[j] and rx0[j] <= rx1[i]:
                a = uf_find(parent, i)
                b = uf_find(parent, j)
                if a < b:
                    parent[b] = a
                elif b < a:
                    parent[a] = b
            # Advance the run that ends first.
            if rx1[i] < rx1[j]:
                i += 1
            else:
                j += 1
        prev_lo = cur_lo
        prev_hi = n
    for i in range(n):
        a = uf_find(parent, i)
        if a == i:
            rlab[i] = <int32_t> nl
            nl += 1
        else:
            rlab[i] = rlab[a]
    return nl


def label_runs(const uint8_t[:, ::1] mask):
    """8-connected components of ``mask != 0`` as runs.

    Returns ``(ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1)``: per run its row, half-open
    column span and component label (0..n-1, in raster order of first pixel); per component
    its pixel count and half-open bounding box.  Releases the GIL.
    """
    cdef Py_ssize_t nr, nl, i, lab
    with nogil:
        nr = count_runs_kernel(mask)
    ry_a = np.empty(nr, np.int32)
    rx0_a = np.empty(nr, np.int32)
    rx1_a = np.empty(nr, np.int32)
    rlab_a = np.empty(nr, np.int32)
    cdef int32_t[::1] ry = ry_a, rx0 = rx0_a, rx1 = rx1_a, rlab = rlab_a
    cdef Py_ssize_t *parent = <Py_ssize_t *> malloc((nr if nr > 0 else 1) * sizeof(Py_ssize_t))
    if parent == NULL:
        raise MemoryError("label_runs: out of memory")
    with nogil:
        nl = label_runs_kernel(mask, ry, rx0, rx1, rlab, parent)
    free(parent)
    area_a = np.zeros(nl, np.int64)
    bx0_a = np.full(nl, mask.shape[1], np.int32)
    by0_a = np.full(nl, mask.shape[0], np.int32)
    bx1_a = np.zeros(nl, np.int32)
    by1_a = np.zeros(nl, np.int32)
    cdef int64_t[::1] area = area_a
    cdef int32_t[::1] bx0 = bx0_a, by0 = by0_a, bx1 = bx1_a, by1 = by1_a
    with nogil:
        for i in range(nr):
            lab = rlab[i]
            area[lab] += rx1[i] - rx0[i]
            if rx0[i] < bx0[lab]:
                bx0[lab] = rx0[i]
            if rx1[i] > bx1[lab]:
                bx1[lab] = rx1[i]
            if ry[i] < by0[lab]:
                by0[lab] = ry[i]
            if ry[i] + 1 > by1[lab]:
                by1[lab] = ry[i] + 1
    return ry_a, rx0_a, rx1_a, rlab_a, area_a, bx0_a, by0_a, bx1_a, by1_a


def paint_runs(uint8_t[:, :, ::1] img, const int32_t[::1] ry, const int32_t[::1] rx0,
               const int32_t[::1] rx1, const int32_t[::1] rlab, const uint8_t[::1] select,
               const uint8_t[::1] colour, Py_ssize_t grow):
    """Set the runs whose component is selected to ``colour`` (one value per channel), each
    run grown by ``grow`` pixels in x and y (clipped to the image); releases the GIL."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], nc = img.shape[2]
    cdef Py_ssize_t i, y, x, c, ya, yb, xa, xb
    with nogil:
        for i in range(ry.shape[0]):
            if select[rlab[i]] == 0:
                continue
            ya = ry[i] - grow if ry[i] - grow > 0 else 0
            yb = ry[i] + grow + 1 if ry[i] + grow + 1 < h else h
            xa = rx0[i] - grow if rx0[i] - grow > 0 else 0
            xb = rx1[i] + grow if rx1[i] + grow < w else w
            for y in range(ya, yb):
                for x in range(xa, xb):
                    for c in range(nc):
                        img[y, x, c] = colour[c]


def near_ink(const uint8_t[:, ::1] mask, const int32_t[::1] bx0, const int32_t[::1] by0,
             const int32_t[::1] bx1, const int32_t[::1] by1, const uint8_t[::1] candidate,
             Py_ssize_t dist, uint8_t[::1] near):
    """``near[i] = 1`` when candidate component ``i`` has a nonzero ``mask`` pixel within
    ``dist`` pixels (Chebyshev) of its bounding box; releases the GIL."""
    cdef Py_ssize_t h = mask.shape[0], w = mask.shape[1], i, y, x, ya, yb, xa, xb
    cdef bint found
    with nogil:
        for i in range(candidate.shape[0]):
            near[i] = 0
            if candidate[i] == 0:
                continue
            ya = by0[i] - dist if by0[i] - dist > 0 else 0
            yb = by1[i] + dist if by1[i] + dist < h else h
            xa = bx0[i] - dist if bx0[i] - dist > 0 else 0
            xb = bx1[i] + dist if bx1[i] + dist < w else w
            found = False
            for y in range(ya, yb):
                for x in range(xa, xb):
                    if mask[y, x] != 0:
                        found = True
                        break
                if found:
                    break
            near[i] = found
