# cython: language_level=3
"""Document-key kernels: reduction, paper-relative darkness, skew profile, canonical warp and
the block-wise ink verifier.

Callers (``onestop_docs.dedup._document``) validate shapes, dtypes and ranges; every kernel
here releases the GIL.
"""

cimport cython
from libc.math cimport cos, sin, floor
from libc.stdint cimport uint8_t, int32_t, int64_t
from libc.stdlib cimport malloc, free, calloc


@cython.boundscheck(False)
@cython.wraparound(False)
def reduce_mean(const uint8_t[:, ::1] src, int f, uint8_t[:, ::1] out):
    """``out[i, j]`` = rounded mean of the ``f`` x ``f`` block of ``src`` at ``(i*f, j*f)``."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef Py_ssize_t i, j, k, c
    cdef uint8_t* acc_src
    cdef int64_t* acc
    cdef int64_t half = (f * f) // 2, area = f * f
    with nogil:
        acc = <int64_t*>malloc(cols * sizeof(int64_t))
        if acc == NULL:
            with gil:
                raise MemoryError()
        for i in range(rows):
            for j in range(cols):
                acc[j] = 0
            for k in range(f):
                acc_src = <uint8_t*>&src[i * f + k, 0]
                for j in range(cols):
                    for c in range(f):
                        acc[j] += acc_src[j * f + c]
            for j in range(cols):
                out[i, j] = <uint8_t>((acc[j] + half) // area)
        free(acc)


@cython.boundscheck(False)
@cython.wraparound(False)
def darkness(const uint8_t[:, ::1] gray, const float[:, ::1] paper, int block,
             float[:, ::1] out):
    """Ink darkness relative to the local paper level, 0 (paper) .. 1 (black).

    ``paper`` holds one level per ``block`` x ``block`` cell (cell centres at
    ``(k + 0.5) * block``); it is interpolated bilinearly between cell centres.
    """
    cdef Py_ssize_t rows = gray.shape[0], cols = gray.shape[1]
    cdef Py_ssize_t gr = paper.shape[0], gc = paper.shape[1]
    cdef Py_ssize_t i, j, y0, x0, y1, x1
    cdef double fy, fx, wy, wx, p, d
    with nogil:
        for i in range(rows):
            fy = (i + 0.5) / block - 0.5
            if fy < 0:
                fy = 0
            if fy > gr - 1:
                fy = gr - 1
            y0 = <Py_ssize_t>fy
            y1 = y0 + 1 if y0 + 1 < gr else y0
            wy = fy - y0
            for j in range(cols):
                fx = (j + 0.5) / block - 0.5
                if fx < 0:
                    fx = 0
                if fx > gc - 1:
                    fx = gc - 1
                x0 = <Py_ssize_t>fx
                x1 = x0 + 1 if x0 + 1 < gc else x0
                wx = fx - x0
                p = ((1 - wy) * ((1 - wx) * paper[y0, x0] + wx * paper[y0, x1])
                     + wy * ((1 - wx) * paper[y1, x0] + wx * paper[y1, x1]))
                if p < 16:
                    p = 16
                d = (p - gray[i, j]) / p
                if d < 0:
                    d = 0
                elif d > 1:
                    d = 1
                out[i, j] = <float>d


@cython.boundscheck(False)
@cython.wraparound(False)
def clear_edge_components(uint8_t[:, ::1] mask):
    """Set to 0 every 8-connected run of 1s that touches the image edge (scanner borders,
    background around the paper).  Returns the number of pixels cleared."""
    cdef Py_ssize_t rows = mask.shape[0], cols = mask.shape[1]
    cdef Py_ssize_t n = rows * cols, top = 0, cleared = 0, p, y, x, yy, xx, i
    cdef Py_ssize_t* stack
    cdef int dy, dx
    if rows == 0 or cols == 0:
        return 0
    with nogil:
        stack = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))
        if stack == NULL:
            with gil:
                raise MemoryError()
        for i in range(n):
            y = i // cols
            x = i - y * cols
            if y != 0 and y != rows - 1 and x != 0 and x != cols - 1:
                continue
            if mask[y, x] == 0:
                continue
            mask[y, x] = 0
            cleared += 1
            stack[top] = i
            top += 1
            while top > 0:
                top -= 1
                p = stack[top]
                y = p // cols
                x = p - y * cols
                for dy in range(-1, 2):
                    yy = y + dy
                    if yy < 0 or yy >= rows:
                        continue
                    for dx in range(-1, 2):
                        xx = x + dx
                        if xx < 0 or xx >= cols or mask[yy, xx] == 0:
                            continue
                        mask[yy, xx] = 0
                        cleared += 1
                        stack[top] = yy * cols + xx
                        top += 1
        free(stack)
    return cleared


@cython.boundscheck(False)
@cython.wraparound(False)
def skew_scores(const int32_t[::1] ys, const int32_t[::1] xs, const double[::1] angles,
                int width, int height, double[::1] out):
    """Projection-profile sharpness (sum of squared bin counts) of the ink points for each
    angle ``t`` (radians): points are binned by ``y*cos(t) - x*sin(t)``, so the angle of the
    text lines (image coordinates, y down) gives the highest score."""
    cdef Py_ssize_t n = ys.shape[0], na = angles.shape[0], a, k, b
    cdef Py_ssize_t nbins = width + height + 4, off = width + 2
    cdef double c, s, acc
    cdef int64_t* hist
    with nogil:
        hist = <int64_t*>malloc(nbins * sizeof(int64_t))
        if hist == NULL:
            with gil:
                raise MemoryError()
        for a in range(na):
            c = cos(angles[a])
            s = sin(angles[a])
            for b in range(nbins):
                hist[b] = 0
            for k in range(n):
                b = <Py_ssize_t>floor(ys[k] * c - xs[k] * s + 0.5) + off
                if 0 <= b < nbins:
                    hist[b] += 1
            acc = 0
            for b in range(nbins):
                acc += <double>hist[b] * hist[b]
            out[a] = acc
        free(hist)


@cython.boundscheck(False)
@cython.wraparound(False)
def warp_mean(const float[:, ::1] src, double m00, double m01, double m02,
              double m10, double m11, double m12, float[:, ::1] out):
    """``out[r, c]`` = mean of ``src`` bilinearly sampled at the 2 x 2 sub-points of output
    pixel ``(r, c)`` mapped by ``x = m00*u + m01*v + m02``, ``y = m10*u + m11*v + m12``
    (``u`` along columns, ``v`` along rows); outside ``src`` counts as 0."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef Py_ssize_t sh = src.shape[0], sw = src.shape[1]
    cdef Py_ssize_t r, c, x0, y0
    cdef int si, sj
    cdef double u, v, x, y, wx, wy, acc, a00, a01, a10, a11
    with nogil:
        for r in range(rows):
            for c in range(cols):
                acc = 0
                for si in range(2):
                    v = r + 0.25 + 0.5 * si
                    for sj in range(2):
                        u = c + 0.25 + 0.5 * sj
                        x = m00 * u + m01 * v + m02 - 0.5
                        y = m10 * u + m11 * v + m12 - 0.5
                        if x <= -1 or y <= -1 or x >= sw or y >= sh:
                            continue
                        x0 = <Py_ssize_t>floor(x)
                        y0 = <Py_ssize_t>floor(y)
                        wx = x - x0
                        wy = y - y0
                        a00 = src[y0, x0] if y0 >= 0 and x0 >= 0 else 0
                        a01 = src[y0, x0 + 1] if y0 >= 0 and x0 + 1 < sw else 0
                        a10 = src[y0 + 1, x0] if y0 + 1 < sh and x0 >= 0 else 0
                        a11 = src[y0 + 1, x0 + 1] if y0 + 1 < sh and x0 + 1 < sw else 0
                        acc += ((1 - wy) * ((1 - wx) * a00 + wx * a01)
                                + wy * ((1 - wx) * a10 + wx * a11))
                out[r, c] = <float>(acc * 0.25)


cdef inline int32_t _unexplained(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                                 const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                                 Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                                 int dy, int dx, int32_t* worst) noexcept nogil:
    # Ink of a not covered by b's tolerance (b shifted by dy, dx) plus the converse;
    # ``worst`` gets the larger of the two one-sided counts.
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1], y, x, yb, xb
    cdef int32_t ua = 0, ub = 0
    cdef uint8_t tb, ib
    for y in range(y0, y1):
        yb = y + dy
        for x in range(x0, x1):
            xb = x + dx
            if 0 <= yb < rows and 0 <= xb < cols:
                tb = tol_b[yb, xb]
                ib = ink_b[yb, xb]
            else:
                tb = 0
                ib = 0
            if ink_a[y, x] and not tb:
                ua += 1
            if ib and not tol_a[y, x]:
                ub += 1
    worst[0] = ua if ua > ub else ub
    return ua + ub


@cython.boundscheck(False)
@cython.wraparound(False)
def block_verify(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                 const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                 int block, int shift, int gdy, int gdx, int min_abs, double frac,
                 bint stop, float[:, ::1] score):
    """Block-wise ink comparison of two canonical bitmaps.

    For each ``block`` x ``block`` cell, the shift of ``b`` within ``shift`` pixels of the
    global shift ``(gdy, gdx)`` that leaves the least unexplained ink is searched (ink of
    one bitmap outside the other's tolerance mask).  ``score[i, j]`` receives the worse
    one-sided count at that shift divided by the cell's limit ``max(min_abs, frac * mean ink
    of the two cells)``.  Returns the flat index of the first cell scoring above 1 (and stops
    there when ``stop``), else -1.
    """
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1]
    cdef Py_ssize_t nbr = score.shape[0], nbc = score.shape[1]
    cdef Py_ssize_t bi, bj, y0, y1, x0, x1, y, x, fail = -1
    cdef int dy, dx
    cdef int32_t best, w, tot, worst, inks
    cdef double limit
    with nogil:
        for bi in range(nbr):
            y0 = bi * block
            y1 = y0 + block if y0 + block < rows else rows
            for bj in range(nbc):
                x0 = bj * block
                x1 = x0 + block if x0 + block < cols else cols
                inks = 0
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        inks += ink_a[y, x]
                        if 0 <= y + gdy < rows and 0 <= x + gdx < cols:
                            inks += ink_b[y + gdy, x + gdx]
                limit = frac * inks * 0.5
                if limit < min_abs:
                    limit = min_abs
                tot = _unexplained(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, gdy, gdx, &w)
                best = w
                if best > limit:
                    for dy in range(gdy - shift, gdy + shift + 1):
                        for dx in range(gdx - shift, gdx + shift + 1):
                            if dy == gdy and dx == gdx:
                                continue
                            tot = _unexplained(ink_a, tol_a, ink_b, tol_b,
                                               y0, y1, x0, x1, dy, dx, &w)
                            if w < best:
                                best = w
                score[bi, bj] = <float>(best / limit)
                if best > limit and fail < 0:
                    fail = bi * nbc + bj
                    if stop:
                        break
            if fail >= 0 and stop:
                break
    return fail
