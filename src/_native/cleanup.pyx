# cython: language_level=3
"""Page cleanup kernels: local thresholds, background maps, run-based components.

Callers (``onestop_docs.cleanup``) validate shapes, dtypes and parameter ranges first; these
loops trust their input and release the GIL.
"""

from libc.stdint cimport uint8_t, int32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.math cimport sqrt

import numpy as np

# Local threshold methods.
DEF M_SAUVOLA = 0
DEF M_NIBLACK = 1
DEF M_WOLF = 2
# Conventions: window border handling and the exact floating-point formula.
DEF C_OURS = 0      # clipped window, exact integer variance, ink iff p < T
DEF C_SKIMAGE = 1   # reflect padding, skimage's float64 formula, ink iff not (p > T)
DEF C_DOXA = 2      # clipped window, Doxa's float formula (sum * 1/count), ink iff p <= T


cdef inline Py_ssize_t reflect_index(Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    # numpy.pad(mode="reflect") for any pad width: period 2 (n - 1), edge not repeated.
    cdef Py_ssize_t p
    if n == 1:
        return 0
    p = 2 * (n - 1)
    i = i % p
    if i < 0:
        i += p
    if i >= n:
        i = p - i
    return i


cdef inline void slide_rows(const uint8_t[:, ::1] src, Py_ssize_t enter, Py_ssize_t leave,
                            int32_t *colsum, int32_t *colsq) noexcept nogil:
    # Add row ``enter`` and subtract row ``leave`` (-1 = none) from the column sums.
    cdef Py_ssize_t x, w = src.shape[1]
    cdef int32_t a, b
    cdef const uint8_t *pa
    cdef const uint8_t *pb
    if enter >= 0 and leave >= 0:
        pa = &src[enter, 0]
        pb = &src[leave, 0]
        for x in range(w):
            a = pa[x]
            b = pb[x]
            colsum[x] += a - b
            colsq[x] += a * a - b * b
    elif enter >= 0:
        pa = &src[enter, 0]
        for x in range(w):
            a = pa[x]
            colsum[x] += a
            colsq[x] += a * a
    elif leave >= 0:
        pb = &src[leave, 0]
        for x in range(w):
            b = pb[x]
            colsum[x] -= b
            colsq[x] -= b * b


cdef inline void row_ours_sauvola(const uint8_t *p, uint8_t *o, const double *ps,
                                  const double *pq, const double *cols,
                                  const double *invcols, double rows, double invrows,
                                  Py_ssize_t w,
                                  Py_ssize_t ww, double k, double r) noexcept nogil:
    # p < m (1 + k (sd / r - 1))  <=>  a = p - m (1 - k) < m k sd / r; squared to drop sqrt.
    # In count-scaled units (multiply through by n, all terms >= 0 except a):
    # a = n p - s (1 - k) < s k sqrt(n q - s^2) / (n r).
    cdef Py_ssize_t x
    cdef double s, q, n, a, c, d, omk = 1.0 - k, kr = k / r
    for x in range(w):
        s = ps[x + ww] - ps[x]
        q = pq[x + ww] - pq[x]
        n = rows * cols[x]
        d = n * q - s * s
        a = n * p[x] - s * omk
        c = s * kr * invcols[x] * invrows
        o[x] = (a < 0.0) | (a * a < c * c * d)


cdef inline void row_general(const uint8_t *p, uint8_t *o, const double *ps, const double *pq,
                             const double *cols, double rows, Py_ssize_t w, Py_ssize_t ww,
                             int method, int conv, double k, double r, double gmin,
                             double max_std, double *best) noexcept nogil:
    cdef Py_ssize_t x
    cdef double s, q, n, inv_n, mean, var, sd, t, v
    for x in range(w):
        s = ps[x + ww] - ps[x]
        q = pq[x + ww] - pq[x]
        n = rows * cols[x]
        if conv == C_OURS:
            mean = s / n
            var = (n * q - s * s) / (n * n)
            if var < 0.0:
                var = 0.0
        elif conv == C_SKIMAGE:
            mean = s / n
            var = q / n - mean * mean
            if var < 0.0:
                var = 0.0
        else:
            inv_n = 1.0 / n
            mean = s * inv_n
            var = q * inv_n - mean * mean
        if best != NULL:
            if var > best[0]:
                best[0] = var
            continue
        sd = sqrt(var)
        if method == M_SAUVOLA:
            t = mean * (1 + k * ((sd / r) - 1))
        elif method == M_NIBLACK:
            if conv == C_DOXA:
                t = mean + k * sd
            else:
                t = mean - k * sd
        else:
            t = mean - k * (1 - (sd / max_std)) * (mean - gmin)
        v = p[x]
        if conv == C_OURS:
            o[x] = v < t
        elif conv == C_SKIMAGE:
            o[x] = not (v > t)
        else:
            o[x] = v <= t


cdef int threshold_rows(const uint8_t[:, ::1] src, uint8_t[:, ::1] out,
                        Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t wh, Py_ssize_t ww,
                        int method, int conv, double k, double r, double gmin,
                        double max_std, double *max_var) noexcept nogil:
    """Threshold rows [y0, y1) of ``src`` into ``out`` (1 = ink), or, when ``max_var`` is not
    NULL, only report the largest local variance of those rows (Wolf's first pass).

    Running sums: one vertical (sum, sum of squares) integer pair per column, updated by
    adding the row entering the window and subtracting the row leaving it, then a horizontal
    prefix sum per row over the padded width.  The prefix sums are integers held in doubles
    (exact below 2**53: width * window * 255**2 stays far below).  Memory is O(width +
    window) for any window size; time is O(pixels).
    """
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1]
    cdef Py_ssize_t ra = wh // 2, rb = wh - 1 - wh // 2
    cdef Py_ssize_t ca = ww // 2, cb = ww - 1 - ww // 2
    cdef Py_ssize_t x, y, i, j, n_ext = w + ww, enter, leave
    cdef int32_t *colsum = <int32_t *> malloc(w * sizeof(int32_t))
    cdef int32_t *colsq = <int32_t *> malloc(w * sizeof(int32_t))
    cdef double *ps = <double *> malloc((n_ext + 1) * sizeof(double))
    cdef double *pq = <double *> malloc((n_ext + 1) * sizeof(double))
    cdef double *cols = <double *> malloc(2 * w * sizeof(double))
    cdef double *invcols = cols + w
    cdef Py_ssize_t *xmap = <Py_ssize_t *> malloc(n_ext * sizeof(Py_ssize_t))
    cdef double rows, best = 0.0, accs, accq
    cdef bint reflect = conv == C_SKIMAGE
    cdef bint fast = conv == C_OURS and method == M_SAUVOLA and max_var == NULL
    if (colsum == NULL or colsq == NULL or ps == NULL or pq == NULL or cols == NULL
            or xmap == NULL):
        free(colsum)
        free(colsq)
        free(ps)
        free(pq)
        free(cols)
        free(xmap)
        return -1
    for x in range(w):
        colsum[x] = 0
        colsq[x] = 0
        if reflect:
            cols[x] = <double> ww
        else:
            cols[x] = <double> ((x + cb if x + cb < w else w - 1)
                                - (x - ca if x - ca > 0 else 0) + 1)
        invcols[x] = 1.0 / cols[x]
    # Padded column j of the prefix covers image column j - ca (reflected, or -1 = outside).
    for j in range(n_ext - 1):
        i = j - ca
        if reflect:
            xmap[j] = reflect_index(i, w)
        elif 0 <= i < w:
            xmap[j] = i
        else:
            xmap[j] = -1
    # Prime with the rows of the window of y0, except the last one (added in the loop).
    for i in range(y0 - ra, y0 + rb):
        if reflect:
            slide_rows(src, reflect_index(i, h), -1, colsum, colsq)
        elif 0 <= i < h:
            slide_rows(src, i, -1, colsum, colsq)
    ps[0] = 0.0
    pq[0] = 0.0
    for y in range(y0, y1):
        i = y + rb
        enter = reflect_index(i, h) if reflect else (i if i < h else -1)
        leave = -1
        if y > y0:
            i = y - ra - 1
            leave = reflect_index(i, h) if reflect else (i if i >= 0 else -1)
        slide_rows(src, enter, leave, colsum, colsq)
        if reflect:
            rows = <double> wh
        else:
            rows = <double> ((y + rb if y + rb < h else h - 1) - (y - ra if y - ra > 0 else 0) + 1)
        if reflect:
            accs = 0.0
            accq = 0.0
            for j in range(n_ext - 1):
                i = xmap[j]
                accs += colsum[i]
                accq += colsq[i]
                ps[j + 1] = accs
                pq[j + 1] = accq
        else:
            # Zero padding outside the image: flat prefix on both sides.
            for j in range(ca if ca < n_ext - 1 else n_ext - 1):
                ps[j + 1] = 0.0
                pq[j + 1] = 0.0
            accs = 0.0
            accq = 0.0
            for x in range(w):
                accs += colsum[x]
                accq += colsq[x]
                ps[ca + x + 1] = accs
                pq[ca + x + 1] = accq
            for j in range(ca + w, n_ext - 1):
                ps[j + 1] = accs
                pq[j + 1] = accq
        if fast:
            row_ours_sauvola(&src[y, 0], &out[y, 0], ps, pq, cols, invcols, rows, 1.0 / rows,
                             w, ww, k, r)
        elif max_var != NULL:
            row_general(&src[y, 0], NULL, ps, pq, cols, rows, w, ww, method, conv, k, r,
                        gmin, max_std, &best)
        else:
            row_general(&src[y, 0], &out[y, 0], ps, pq, cols, rows, w, ww, method, conv, k,
                        r, gmin, max_std, NULL)
    if max_var != NULL:
        max_var[0] = best
    free(colsum)
    free(colsq)
    free(ps)
    free(pq)
    free(cols)
    free(xmap)
    return 0


def local_threshold(const uint8_t[:, ::1] src, uint8_t[:, ::1] out, Py_ssize_t wh,
                    Py_ssize_t ww, int method, int conv, double k, double r, double gmin,
                    double max_std, Py_ssize_t strip=0):
    """Fill ``out`` with 1 where ``src`` is ink under the local ``method``; releases the GIL.

    ``strip`` > 0 processes the page in bands of that many rows (each band re-primes its
    column sums), the unit a caller can hand to separate threads.
    """
    cdef Py_ssize_t h = src.shape[0], y0, y1
    cdef int rc = 0
    if strip <= 0:
        strip = h
    with nogil:
        y0 = 0
        while y0 < h and rc == 0:
            y1 = y0 + strip if y0 + strip < h else h
            rc = threshold_rows(src, out, y0, y1, wh, ww, method, conv, k, r, gmin, max_std,
                                NULL)
            y0 = y1
    if rc != 0:
        raise MemoryError("local_threshold: out of memory for the running sums")


def max_local_variance(const uint8_t[:, ::1] src, Py_ssize_t wh, Py_ssize_t ww, int conv):
    """Largest local variance over the page (first pass of Wolf's method); releases the GIL."""
    cdef double best = 0.0
    cdef int rc
    cdef uint8_t[:, ::1] dummy = np.zeros((1, 1), np.uint8)
    with nogil:
        rc = threshold_rows(src, dummy, 0, src.shape[0], wh, ww, M_WOLF, conv, 0.0, 1.0, 0.0,
                            1.0, &best)
    if rc != 0:
        raise MemoryError("max_local_variance: out of memory for the running sums")
    return best


# ---------------------------------------------------------------------------------------
# Background estimation (Leptonica-style: tile statistic on a reduced grid, then a smooth
# per-pixel gain that maps the paper to white).

cdef void tile_percentile_kernel(const uint8_t[:, :, ::1] src, Py_ssize_t tile,
                                 Py_ssize_t step, double q, uint8_t[:, :, ::1] out) noexcept nogil:
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2]
    cdef Py_ssize_t th = out.shape[0], tw = out.shape[1]
    cdef Py_ssize_t ty, tx, c, y, x, v, yend, xend
    cdef int64_t hist[256]
    cdef int64_t total, rank, acc
    for ty in range(th):
        yend = (ty + 1) * tile if (ty + 1) * tile < h else h
        for tx in range(tw):
            xend = (tx + 1) * tile if (tx + 1) * tile < w else w
            for c in range(nc):
                for v in range(256):
                    hist[v] = 0
                total = 0
                y = ty * tile
                while y < yend:
                    x = tx * tile
                    while x < xend:
                        hist[src[y, x, c]] += 1
                        total += 1
                        x += step
                    y += step
                # Smallest level whose cumulative count exceeds q * total.
                rank = <int64_t> (q * total)
                if rank >= total:
                    rank = total - 1
                acc = 0
                for v in range(256):
                    acc += hist[v]
                    if acc > rank:
                        break
                out[ty, tx, c] = <uint8_t> v


def tile_percentile(const uint8_t[:, :, ::1] src, Py_ssize_t tile, Py_ssize_t step, double q,
                    uint8_t[:, :, ::1] out):
    """Per tile and channel, the ``q`` quantile (0..1) of every ``step``-th pixel; no GIL."""
    with nogil:
        tile_percentile_kernel(src, tile, step, q, out)


cdef inline void gain_row_gray(const uint8_t *p, uint8_t *o, const double *g, Py_ssize_t w,
                               Py_ssize_t tw, Py_ssize_t tile) noexcept nogil:
    # Piecewise-linear gain between tile centres c_j = (j + 0.5) tile - 0.5, constant
    # outside the first and last centre; each segment is a branch-free loop.
    cdef Py_ssize_t j, x, xa, xb
    cdef double cj, slope, v
    xa = 0
    for j in range(-1, tw):
        if j < tw - 1:
            xb = <Py_ssize_t> ((j + 1.5) * tile - 0.5) + 1
            if xb > w:
                xb = w
        else:
            xb = w
        if j < 0 or j == tw - 1:
            cj = g[0] if j < 0 else g[tw - 1]
            for x in range(xa, xb):
                v = p[x] * cj + 0.5
                o[x] = 255 if v >= 255.0 else <uint8_t> v
        else:
            slope = (g[j + 1] - g[j]) / tile
            cj = (j + 0.5) * tile - 0.5
            for x in range(xa, xb):
                v = p[x] * (g[j] + (x - cj) * slope) + 0.5
                o[x] = 255 if v >= 255.0 else <uint8_t> v
        xa = xb


cdef void apply_gain_kernel(const uint8_t[:, :, ::1] src, const float[:, :, ::1] gain,
                            Py_ssize_t tile, uint8_t[:, :, ::1] out, double *rowbuf,
                            Py_ssize_t *x0, double *wx) noexcept nogil:
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2]
    cdef Py_ssize_t th = gain.shape[0], tw = gain.shape[1]
    cdef Py_ssize_t y, x, c, i0, i1, j0, j1
    cdef double f, wy, g, v
    for x in range(w):
        f = (x + 0.5) / tile - 0.5
        if f < 0.0:
            f = 0.0
        if f > tw - 1:
            f = <double> (tw - 1)
        j0 = <Py_ssize_t> f
        if j0 > tw - 2:
            j0 = tw - 2 if tw >= 2 else 0
        x0[x] = j0
        wx[x] = f - j0
    for y in range(h):
        f = (y + 0.5) / tile - 0.5
        if f < 0.0:
            f = 0.0
        if f > th - 1:
            f = <double> (th - 1)
        i0 = <Py_ssize_t> f
        if i0 > th - 2:
            i0 = th - 2 if th >= 2 else 0
        i1 = i0 + 1 if th >= 2 else i0
        wy = f - i0
        for j0 in range(tw):
            for c in range(nc):
                rowbuf[j0 * nc + c] = gain[i0, j0, c] + wy * (gain[i1, j0, c] - gain[i0, j0, c])
        if nc == 1:
            gain_row_gray(&src[y, 0, 0], &out[y, 0, 0], rowbuf, w, tw, tile)
            continue
        if tw == 1:
            for x in range(w):
                for c in range(nc):
                    v = src[y, x, c] * rowbuf[c] + 0.5
                    out[y, x, c] = 255 if v >= 255.0 else <uint8_t> v
            continue
        for x in range(w):
            j0 = x0[x]
            j1 = j0 + 1
            for c in range(nc):
                g = rowbuf[j0 * nc + c] + wx[x] * (rowbuf[j1 * nc + c] - rowbuf[j0 * nc + c])
                v = src[y, x, c] * g + 0.5
                out[y, x, c] = 255 if v >= 255.0 else <uint8_t> v


def apply_gain(const uint8_t[:, :, ::1] src, const float[:, :, ::1] gain, Py_ssize_t tile,
               uint8_t[:, :, ::1] out):
    """``out = min(255, round(src * gain))`` with ``gain`` (per tile centre) interpolated
    bilinearly to every pixel; releases the GIL."""
    cdef Py_ssize_t w = src.shape[1], nc = src.shape[2], tw = gain.shape[1]
    cdef double *rowbuf = <double *> malloc(tw * nc * sizeof(double))
    cdef Py_ssize_t *x0 = <Py_ssize_t *> malloc(w * sizeof(Py_ssize_t))
    cdef double *wx = <double *> malloc(w * sizeof(double))
    if rowbuf == NULL or x0 == NULL or wx == NULL:
        free(rowbuf)
        free(x0)
        free(wx)
        raise MemoryError("apply_gain: out of memory")
    with nogil:
        apply_gain_kernel(src, gain, tile, out, rowbuf, x0, wx)
    free(rowbuf)
    free(x0)
    free(wx)


# ---------------------------------------------------------------------------------------
# Connected components (8-connectivity) by run-length labelling with union-find.

cdef Py_ssize_t count_runs_kernel(const uint8_t[:, ::1] mask) noexcept nogil:
    cdef Py_ssize_t h = mask.shape[0], w = mask.shape[1], y, x, n = 0
    cdef uint8_t prev
    for y in range(h):
        prev = 0
        for x in range(w):
            if mask[y, x] != 0 and prev == 0:
                n += 1
            prev = mask[y, x] != 0
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
    for y in range(h):
        cur_lo = n
        x = 0
        while x < w:
            if mask[y, x] == 0:
                x += 1
                continue
            start = x
            while x < w and mask[y, x] != 0:
                x += 1
            ry[n] = <int32_t> y
            rx0[n] = <int32_t> start
            rx1[n] = <int32_t> x
            parent[n] = n
            n += 1
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
               uint8_t value, Py_ssize_t grow):
    """Set every channel of the runs whose component is selected to ``value``, each run
    grown by ``grow`` pixels in x and y (clipped to the image); releases the GIL."""
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
                        img[y, x, c] = value


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
