# cython: language_level=3
"""Document-key kernels: reduction, paper-relative darkness, skew profile, canonical warp and
the block-wise ink verifier.

Callers (``onestop_docs.dedup._document``) validate shapes, dtypes and ranges; every kernel
here releases the GIL.
"""

cimport cython
from libc.math cimport cos, sin, floor, sqrt
from libc.stdint cimport uint8_t, int32_t, int64_t, uint32_t
from libc.stdlib cimport malloc, free, calloc

from paper_grid cimport (
    PaperGrid, paper_grid_at, paper_grid_free, paper_grid_init, paper_grid_row,
)


@cython.boundscheck(False)
@cython.wraparound(False)
def reduce_mean(const uint8_t[:, ::1] src, int f, uint8_t[:, ::1] out):
    """``out[i, j]`` = rounded mean of the ``f`` x ``f`` block of ``src`` at ``(i*f, j*f)``."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1], width = cols * f
    cdef Py_ssize_t i, j, k, c
    cdef const uint8_t* row
    cdef uint32_t* acc
    cdef uint32_t s, half = (f * f) // 2, area = f * f
    with nogil:
        acc = <uint32_t*>malloc(width * sizeof(uint32_t))
        if acc == NULL:
            with gil:
                raise MemoryError()
        for i in range(rows):
            for j in range(width):
                acc[j] = 0
            for k in range(f):
                row = &src[i * f + k, 0]
                for j in range(width):  # contiguous: vectorised
                    acc[j] += row[j]
            for j in range(cols):
                s = 0
                for c in range(f):
                    s += acc[j * f + c]
                out[i, j] = <uint8_t>((s + half) // area)
        free(acc)


@cython.boundscheck(False)
@cython.wraparound(False)
def cell_quantile(const uint8_t[:, ::1] src, int block, double q, float[:, ::1] out):
    """``out[i, j]`` = the ``q`` quantile of the grey values of cell ``(i, j)`` (cells of
    ``block`` x ``block`` pixels, the last row and column of cells possibly smaller), from a
    256-bin histogram."""
    cdef Py_ssize_t rows = src.shape[0], cols = src.shape[1]
    cdef Py_ssize_t gr = out.shape[0], gc = out.shape[1], bi, bj, y, x, y1, x1
    cdef int64_t hist[256]
    cdef int64_t n, need, run
    cdef int v
    with nogil:
        for bi in range(gr):
            y1 = (bi + 1) * block if (bi + 1) * block < rows else rows
            for bj in range(gc):
                x1 = (bj + 1) * block if (bj + 1) * block < cols else cols
                for v in range(256):
                    hist[v] = 0
                for y in range(bi * block, y1):
                    for x in range(bj * block, x1):
                        hist[src[y, x]] += 1
                n = (y1 - bi * block) * (x1 - bj * block)
                need = <int64_t>(q * n)
                run = 0
                for v in range(256):
                    run += hist[v]
                    if run > need:
                        break
                out[bi, bj] = <float>(v if v < 256 else 255)


@cython.boundscheck(False)
@cython.wraparound(False)
def darkness(const uint8_t[:, ::1] gray, const float[:, ::1] paper, int block,
             float[:, ::1] out):
    """Ink darkness relative to the local paper level, 0 (paper) .. 1 (black).

    ``paper`` holds one level per ``block`` x ``block`` cell (cell centres at
    ``(k + 0.5) * block``); it is interpolated bilinearly between cell centres.
    """
    cdef Py_ssize_t rows = gray.shape[0], cols = gray.shape[1]
    cdef Py_ssize_t i, j
    cdef double d
    cdef PaperGrid g
    with nogil:
        if paper_grid_init(&g, cols, paper.shape[0], paper.shape[1], block) != 0:
            with gil:
                raise MemoryError()
        for i in range(rows):
            paper_grid_row(&g, paper, i)
            for j in range(cols):
                d = 1.0 - gray[i, j] / paper_grid_at(&g, j)
                if d < 0:
                    d = 0
                elif d > 1:
                    d = 1
                out[i, j] = <float>d
        paper_grid_free(&g)


@cython.boundscheck(False)
@cython.wraparound(False)
def clear_edge_components(uint8_t[:, ::1] mask):
    """Set to 0 every 8-connected run of 1s that touches the image edge (scanner borders,
    background around the paper).  Returns the number of pixels cleared."""
    cdef Py_ssize_t rows = mask.shape[0], cols = mask.shape[1]
    cdef Py_ssize_t n = rows * cols, top = 0, cleared = 0, p, y, x, yy, xx, i, k
    cdef Py_ssize_t* stack
    cdef int dy, dx
    if rows == 0 or cols == 0:
        return 0
    with nogil:
        stack = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))
        if stack == NULL:
            with gil:
                raise MemoryError()
        # seeds: the edge pixels only, in raster order (top row, both sides of each inner
        # row, bottom row)
        for k in range(2 * cols + 2 * rows):
            if k < cols:
                y = 0
                x = k
            elif k < cols + 2 * (rows - 2) and rows > 2:
                y = 1 + (k - cols) // 2
                x = 0 if (k - cols) % 2 == 0 else cols - 1
            elif k >= cols + 2 * (rows - 2) and k < 2 * cols + 2 * (rows - 2) and rows > 1:
                y = rows - 1
                x = k - cols - 2 * (rows - 2)
            else:
                continue
            i = y * cols + x
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
              double m10, double m11, double m12, int ss, float[:, ::1] out):
    """``out[r, c]`` = mean of ``src`` bilinearly sampled at the ``ss`` x ``ss`` sub-points
    of output pixel ``(r, c)`` mapped by ``x = m00*u + m01*v + m02``, ``y = m10*u + m11*v + m12``
    (``u`` along columns, ``v`` along rows); outside ``src`` counts as 0."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef Py_ssize_t sh = src.shape[0], sw = src.shape[1]
    cdef Py_ssize_t r, c, x0, y0
    cdef int si, sj
    cdef double u, v, x, y, wx, wy, acc, a00, a01, a10, a11, step = 1.0 / ss
    with nogil:
        for r in range(rows):
            for c in range(cols):
                acc = 0
                for si in range(ss):
                    v = r + step * (si + 0.5)
                    for sj in range(ss):
                        u = c + step * (sj + 0.5)
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
                out[r, c] = <float>(acc * step * step)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int32_t _unexplained(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                                 const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                                 Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                                 int dy, int dx, int32_t* out_a,
                                 int32_t* out_b, bint outside_tol=False,
                                 int32_t bound=0x7fffffff) noexcept nogil:
    # Ink of a not covered by b's tolerance (b shifted by dy, dx), and the converse.  Where
    # the shifted b falls outside the bitmap it has neither ink nor tolerance (with
    # outside_tol: no ink, and tolerance everywhere).  The overlap of each row is a
    # branch-free loop the compiler vectorises.  The counts only grow row by row, so once
    # either side reaches ``bound`` the shift cannot beat a search's best (which must be
    # strictly lower): the count stops there, partial (at least ``bound`` on that side).
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1], y, x, yb, xa, xe
    cdef int32_t ua = 0, ub = 0
    cdef const uint8_t* pa
    cdef const uint8_t* ta
    cdef const uint8_t* pb
    cdef const uint8_t* tb
    xa = x0 if x0 >= -dx else -dx
    if xa > x1:
        xa = x1
    xe = x1 if x1 <= cols - dx else cols - dx
    if xe < xa:
        xe = xa
    for y in range(y0, y1):
        yb = y + dy
        pa = &ink_a[y, 0]
        if yb < 0 or yb >= rows:
            if not outside_tol:
                for x in range(x0, x1):
                    ua += pa[x] != 0
            continue
        ta = &tol_a[y, 0]
        pb = &ink_b[yb, 0]
        tb = &tol_b[yb, 0]
        if not outside_tol:
            for x in range(x0, xa):
                ua += pa[x] != 0
            for x in range(xe, x1):
                ua += pa[x] != 0
        for x in range(xa, xe):
            ua += (pa[x] != 0) & (tb[x + dx] == 0)
            ub += (pb[x + dx] != 0) & (ta[x] == 0)
        if ua >= bound or ub >= bound:
            break
    out_a[0] = ua
    out_b[0] = ub
    return ua + ub


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline double _field_at(const double[::1] f, Py_ssize_t k, double cr,
                             double cc) noexcept nogil:
    # one component of the quadratic field f[k:k + 6] at (cr, cc), 100-pixel units
    return (f[k] + f[k + 1] * cr + f[k + 2] * cc + f[k + 3] * cr * cc + f[k + 4] * cr * cr
            + f[k + 5] * cc * cc)


@cython.boundscheck(False)
@cython.wraparound(False)
def block_verify(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                 const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                 int block, int shift, int quiet, const double[::1] field, bint track,
                 int32_t[:, :, ::1] counts, bint outside_unknown=False,
                 double stop_above=0.0, int min_abs=0, double allowance=0.0):
    """Block-wise ink comparison of two canonical bitmaps around a shift field.

    ``field`` is empty (shift 0 everywhere) or holds twelve values, the quadratic field
    ``dy = f[0] + f[1] r + f[2] c + f[3] r c + f[4] r^2 + f[5] c^2`` (``dx`` likewise with
    ``f[6:12]``) at the cell's centre ``(r, c)`` in units of 100 pixels: a global alignment
    of the two pages, or a registration fitted to a first pass (scale, shift, rotation and
    the keystone of a photo).

    Cells are visited in raster order.  Without ``track`` each cell's shift of ``b`` is
    searched within ``shift`` pixels of the field.  With ``track`` the search is centred on
    the field plus the mean deviation from it of the cell's already-visited inked
    neighbours (up-left, up, up-right, left; else of all inked cells so far), so a smooth
    distortion (keystone, curl) is followed while a cell cannot borrow ink from a distant
    line; without a field, the left neighbour's deviation is extrapolated along the line (a
    scale mismatch grows linearly).  The shift with the least unexplained ink (ink of one
    bitmap outside the other's tolerance mask, the worse side) wins; ``counts[i, j]`` gets
    (unexplained ink of a, of b, ink of a + b, dy, dx).  A cell with at most ``quiet``
    unexplained pixels at the predicted shift is not searched.  With ``outside_unknown``,
    ink of ``a`` whose shifted place lies beyond ``b``'s bitmap counts as explained, as
    :func:`fine_verify` counts it (``b``'s ink beyond ``a``'s bitmap is never visited):
    neither page's key holds what lies beyond its canonical frame.

    With ``stop_above`` > 0 the pass stops at the first cell whose score, the worse
    side's unexplained ink over ``max(min_abs, allowance * ink / 2)``, exceeds it (a pass
    that a caller uses only when no cell does) and returns True; the cells after it keep
    their values.  Returns False when every cell was visited.
    """
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1]
    cdef Py_ssize_t nbr = counts.shape[0], nbc = counts.shape[1]
    cdef Py_ssize_t bi, bj, y0, y1, x0, x1, y, x, k, ni, nj, p
    cdef int dy, dx, pdy, pdx, bdy, bdx, cnt, gcnt = 0
    cdef double gsy = 0, gsx = 0
    cdef int32_t best, w, inks, ua, ub, bua, bub
    cdef double sy, sx, fy, fx
    cdef uint8_t* inked
    cdef double* dev
    cdef int nbrs[4][2]
    cdef bint use_field = field.shape[0] >= 12
    cdef bint extrapolate = not use_field
    cdef double cr, cc
    cdef Py_ssize_t xb0, xb1
    cdef bint stopped = False
    cdef double limit
    cdef const uint8_t* pa
    cdef const uint8_t* pb
    nbrs[0][0] = -1
    nbrs[0][1] = -1
    nbrs[1][0] = -1
    nbrs[1][1] = 0
    nbrs[2][0] = -1
    nbrs[2][1] = 1
    nbrs[3][0] = 0
    nbrs[3][1] = -1
    with nogil:
        inked = <uint8_t*>calloc(nbr * nbc, 1)
        dev = <double*>calloc(2 * nbr * nbc, sizeof(double))
        if inked == NULL or dev == NULL:
            free(inked)
            free(dev)
            with gil:
                raise MemoryError()
        for bi in range(nbr):
            y0 = bi * block
            y1 = y0 + block if y0 + block < rows else rows
            for bj in range(nbc):
                x0 = bj * block
                x1 = x0 + block if x0 + block < cols else cols
                fy = 0
                fx = 0
                if use_field:
                    cr = (y0 + y1) * 0.005
                    cc = (x0 + x1) * 0.005
                    fy = _field_at(field, 0, cr, cc)
                    fx = _field_at(field, 6, cr, cc)
                sy = 0
                sx = 0
                if track:
                    cnt = 0
                    for k in range(4):
                        ni = bi + nbrs[k][0]
                        nj = bj + nbrs[k][1]
                        if 0 <= ni < nbr and 0 <= nj < nbc and inked[ni * nbc + nj]:
                            p = 2 * (ni * nbc + nj)
                            if extrapolate and k == 3 and nj >= 1 and inked[ni * nbc + nj - 1]:
                                sy += 2 * dev[p] - dev[p - 2]
                                sx += 2 * dev[p + 1] - dev[p - 1]
                            else:
                                sy += dev[p]
                                sx += dev[p + 1]
                            cnt += 1
                    if cnt > 0:
                        sy /= cnt
                        sx /= cnt
                    elif gcnt > 0:
                        sy = gsy / gcnt
                        sx = gsx / gcnt
                pdy = <int>floor(fy + sy + 0.5)
                pdx = <int>floor(fx + sx + 0.5)
                # ink of a in the cell plus b's inside the bitmap at the predicted shift
                # (row loops over the clipped overlap, no test per pixel)
                inks = 0
                xb0 = x0 + pdx if x0 + pdx > 0 else 0
                xb1 = x1 + pdx if x1 + pdx < cols else cols
                for y in range(y0, y1):
                    pa = &ink_a[y, 0]
                    for x in range(x0, x1):
                        inks += pa[x]
                    if 0 <= y + pdy < rows:
                        pb = &ink_b[y + pdy, 0]
                        for x in range(xb0, xb1):
                            inks += pb[x]
                _unexplained(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, pdy, pdx, &ua, &ub,
                             outside_unknown)
                best = ua if ua > ub else ub
                bua = ua
                bub = ub
                bdy = pdy
                bdx = pdx
                if best > quiet:
                    for dy in range(pdy - shift, pdy + shift + 1):
                        for dx in range(pdx - shift, pdx + shift + 1):
                            if dy == pdy and dx == pdx:
                                continue
                            # bounded by the best so far: a shift that reaches it on
                            # either side cannot win (the same counts, ~2x fewer rows)
                            _unexplained(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, dy, dx,
                                         &ua, &ub, outside_unknown, best)
                            w = ua if ua > ub else ub
                            if w < best:
                                best = w
                                bua = ua
                                bub = ub
                                bdy = dy
                                bdx = dx
                counts[bi, bj, 0] = bua
                counts[bi, bj, 1] = bub
                counts[bi, bj, 2] = inks
                counts[bi, bj, 3] = bdy
                counts[bi, bj, 4] = bdx
                if stop_above > 0:
                    # the caller's score, in its order of operations (the same doubles)
                    limit = allowance * inks / 2
                    if limit < min_abs:
                        limit = min_abs
                    if best / limit > stop_above:
                        stopped = True
                        break
                if inks >= 2 * quiet + 8:
                    p = 2 * (bi * nbc + bj)
                    dev[p] = bdy - fy
                    dev[p + 1] = bdx - fx
                    inked[bi * nbc + bj] = 1
                    gsy += dev[p]
                    gsx += dev[p + 1]
                    gcnt += 1
            if stopped:
                break
        free(inked)
        free(dev)
    return stopped


@cython.boundscheck(False)
@cython.wraparound(False)
def profile_alignment(const double[::1] pa, const double[::1] pb, double scale0,
                      double scale_step, double tmin, double t_step,
                      double[:, ::1] out):
    """Correlation of two ink profiles over a grid of scales and offsets.

    ``out[i, j]`` = Pearson correlation, over the positions ``y`` of ``pa`` whose image
    ``q = c + s (y - c) + t`` falls inside ``pb`` (``c`` the centre of ``pa``, ``s = scale0
    + i scale_step``, ``t = tmin + j t_step``), of ``pa[y]`` and ``pb`` linearly
    interpolated at ``q``; 0 where fewer than half the positions (or fewer than two) overlap,
    ``pb`` has fewer than two values, or a side is flat.
    """
    cdef Py_ssize_t n = pa.shape[0], m = pb.shape[0]
    cdef Py_ssize_t ns = out.shape[0], nt = out.shape[1], i, j, y, q0, used
    cdef double c = (n - 1) * 0.5, s, t, q, f, v, sa, sb, saa, sbb, sab, va, vb
    with nogil:
        for i in range(ns):
            s = scale0 + i * scale_step
            for j in range(nt):
                t = tmin + j * t_step
                sa = 0
                sb = 0
                saa = 0
                sbb = 0
                sab = 0
                used = 0
                for y in range(n):
                    q = c + s * (y - c) + t
                    if q < 0 or q > m - 1 or m < 2:
                        continue
                    q0 = <Py_ssize_t>q
                    if q0 >= m - 1:
                        q0 = m - 2
                    f = q - q0
                    v = pb[q0] + f * (pb[q0 + 1] - pb[q0])
                    sa += pa[y]
                    sb += v
                    saa += pa[y] * pa[y]
                    sbb += v * v
                    sab += pa[y] * v
                    used += 1
                out[i, j] = 0
                if used < 2 or 2 * used < n:
                    continue
                va = saa - sa * sa / used
                vb = sbb - sb * sb / used
                if va <= 0 or vb <= 0:
                    continue
                out[i, j] = (sab - sa * sb / used) / sqrt(va * vb)


@cython.boundscheck(False)
@cython.wraparound(False)
def ink_profiles(const uint8_t[:, ::1] ink, double[::1] rows_out, double[::1] cols_out):
    """Row sums of a 0/1 bitmap into ``rows_out`` and column sums into ``cols_out``."""
    cdef Py_ssize_t rows = ink.shape[0], cols = ink.shape[1], y, x
    cdef int64_t s
    cdef const uint8_t* p
    with nogil:
        for x in range(cols):
            cols_out[x] = 0
        for y in range(rows):
            p = &ink[y, 0]
            s = 0
            for x in range(cols):
                s += p[x]
                cols_out[x] += p[x]
            rows_out[y] = s


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline double _paper_at(const float[:, ::1] paper, double x, double y,
                             double pblock) noexcept nogil:
    # paper level at pixel-index coordinates (x, y): bilinear between cell centres, clamped
    cdef Py_ssize_t gr = paper.shape[0], gc = paper.shape[1], px0, py0, px1, py1
    cdef double fx = (x + 0.5) / pblock - 0.5, fy = (y + 0.5) / pblock - 0.5, wx, wy, p
    if fx < 0:
        fx = 0
    if fx > gc - 1:
        fx = gc - 1
    if fy < 0:
        fy = 0
    if fy > gr - 1:
        fy = gr - 1
    px0 = <Py_ssize_t>fx
    py0 = <Py_ssize_t>fy
    px1 = px0 + 1 if px0 + 1 < gc else px0
    py1 = py0 + 1 if py0 + 1 < gr else py0
    wx = fx - px0
    wy = fy - py0
    p = ((1 - wy) * ((1 - wx) * paper[py0, px0] + wx * paper[py0, px1])
         + wy * ((1 - wx) * paper[py1, px0] + wx * paper[py1, px1]))
    return 16.0 if p < 16 else p


@cython.boundscheck(False)
@cython.wraparound(False)
def fine_sample(const uint8_t[:, ::1] gray, const float[:, ::1] paper, double pblock,
                double m00, double m01, double m02, double m10, double m11, double m12,
                const uint8_t[:, ::1] where, double ink_level, double faint_level,
                uint8_t[:, ::1] ink_out, uint8_t[:, ::1] faint_out):
    """Fine canonical bitmaps sampled from the page at full resolution.

    Fine pixel ``(r, c)`` is computed only where ``where[r // 2, c // 2]`` is 1 (0
    elsewhere; where it is 2, ``faint_out`` is 1 and ``ink_out`` 0: an unknown area): the
    grey value bilinearly sampled at ``x = m00 (c + .5) + m01 (r + .5) + m02``,
    ``y = m10 (c + .5) + m11 (r + .5) + m12`` (pixel-index coordinates of ``gray``;
    outside reads as paper), its darkness ``1 - g / p`` against the paper level ``p`` of
    ``paper`` (one level per ``pblock`` x ``pblock`` cell of ``gray``, cell centres
    interpolated bilinearly, clamped at the borders, at least 16; taken once per 16 x 16
    fine pixels, at their centre), then ``ink_out`` = darkness at least ``ink_level`` and
    ``faint_out`` = at least ``faint_level``.
    """
    cdef Py_ssize_t rows = ink_out.shape[0], cols = ink_out.shape[1]
    cdef Py_ssize_t sh = gray.shape[0], sw = gray.shape[1]
    cdef Py_ssize_t r, c, cc, x0, y0, half = where.shape[1]
    cdef Py_ssize_t tr = (rows + 15) // 16, tc = (cols + 15) // 16, i, j
    cdef double u, v, x, y, wx, wy, g, p, t_ink = 0, t_faint = 0
    cdef uint8_t* io
    cdef uint8_t* fo
    cdef const uint8_t* wrow
    cdef float* thr
    if half * 2 > cols:
        half = cols // 2
    with nogil:
        # grey levels of the two thresholds, per 16 x 16 fine pixels
        thr = <float*>malloc(2 * tr * tc * sizeof(float))
        if thr == NULL:
            with gil:
                raise MemoryError()
        for i in range(tr):
            v = i * 16 + 8.0
            for j in range(tc):
                u = j * 16 + 8.0
                p = _paper_at(paper, m00 * u + m01 * v + m02, m10 * u + m11 * v + m12, pblock)
                thr[2 * (i * tc + j)] = <float>(p * (1 - ink_level))
                thr[2 * (i * tc + j) + 1] = <float>(p * (1 - faint_level))
        for r in range(rows):
            io = &ink_out[r, 0]
            fo = &faint_out[r, 0]
            for c in range(cols):
                io[c] = 0
                fo[c] = 0
            if (r >> 1) >= where.shape[0]:
                continue
            wrow = &where[r >> 1, 0]
            v = r + 0.5
            for cc in range(half):
                if wrow[cc] != 1:
                    if wrow[cc] == 2:
                        fo[2 * cc] = 1
                        fo[2 * cc + 1] = 1
                    continue
                i = 2 * ((r >> 4) * tc + (cc >> 3))
                t_ink = thr[i]
                t_faint = thr[i + 1]
                for c in range(2 * cc, 2 * cc + 2):
                    u = c + 0.5
                    x = m00 * u + m01 * v + m02
                    y = m10 * u + m11 * v + m12
                    if x < 0 or y < 0 or x > sw - 1 or y > sh - 1:
                        continue
                    x0 = <Py_ssize_t>x
                    y0 = <Py_ssize_t>y
                    if x0 > sw - 2:
                        x0 = sw - 2
                    if y0 > sh - 2:
                        y0 = sh - 2
                    if x0 < 0 or y0 < 0:
                        continue
                    wx = x - x0
                    wy = y - y0
                    g = ((1 - wy) * ((1 - wx) * gray[y0, x0] + wx * gray[y0, x0 + 1])
                         + wy * ((1 - wx) * gray[y0 + 1, x0] + wx * gray[y0 + 1, x0 + 1]))
                    if g <= t_faint:
                        fo[c] = 1
                        if g <= t_ink:
                            io[c] = 1
        free(thr)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int32_t _core_2x2(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                              const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                              Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                              int dy, int dx, bint side_b) noexcept nogil:
    # Pixels (y, x) of the cell whose 2 x 2 block (y..y+1, x..x+1, inside the cell) is all
    # unexplained ink: of a (outside b's tolerance shifted by dy, dx), or with side_b of the
    # shifted b (outside a's tolerance); outside its bitmap b has no ink and tolerance
    # everywhere (what lies beyond the other page's canonical frame cannot be checked).
    # The core of a cluster, which one-pixel fringes do not have.  Cells of at most 64
    # columns.
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1], y, x, yb, xb, k
    cdef Py_ssize_t w = x1 - x0
    cdef int32_t n = 0
    cdef uint8_t prev_row[64]
    cdef uint8_t row[64]
    cdef uint8_t cur, inside
    if w > 64:
        w = 64
    for y in range(y0, y1):
        yb = y + dy
        for k in range(w):
            x = x0 + k
            xb = x + dx
            inside = 0 <= yb < rows and 0 <= xb < cols
            if side_b:
                cur = inside and ink_b[yb, xb] != 0 and tol_a[y, x] == 0
            else:
                cur = ink_a[y, x] != 0 and inside and tol_b[yb, xb] == 0
            row[k] = cur
        if y > y0:
            for k in range(w - 1):
                n += prev_row[k] & prev_row[k + 1] & row[k] & row[k + 1]
        for k in range(w):
            prev_row[k] = row[k]
    return n


# thick cores: the region searched for a residue's attachment reaches this far around the
# cell (fine pixels); buffers for cells of at most 64 pixels
DEF _REACH = 4
DEF _REGION = 64 + 2 * _REACH


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline bint _block3(const uint8_t* state, Py_ssize_t w, Py_ssize_t y,
                         Py_ssize_t x) noexcept nogil:
    # the 3 x 3 block with top-left pixel (y, x) is all unexplained ink (state & 3 == 1)
    cdef int k
    for k in range(9):
        if state[(y + k // 3) * w + x + k % 3] & 3 != 1:
            return False
    return True


@cython.boundscheck(False)
@cython.wraparound(False)
cdef Py_ssize_t _grow(uint8_t* state, Py_ssize_t h, Py_ssize_t w, int32_t* buf,
                      Py_ssize_t tail, bint any_ink, uint8_t mark,
                      bint* touches_explained) noexcept nogil:
    # Breadth-first growth of the 8-connected set in buf[:tail] (already marked) over
    # unexplained ink (state & 3 == 1), or any ink of the page with ``any_ink``, not yet
    # marked with ``mark``; returns the new tail.  ``touches_explained`` is set when a
    # neighbour is explained ink (state & 3 == 2).
    cdef Py_ssize_t head = 0, k, y, x, ny, nx
    cdef int i, j
    cdef uint8_t v
    while head < tail:
        k = buf[head]
        head += 1
        y = k // w
        x = k - y * w
        for i in range(-1, 2):
            ny = y + i
            if ny < 0 or ny >= h:
                continue
            for j in range(-1, 2):
                nx = x + j
                if nx < 0 or nx >= w:
                    continue
                v = state[ny * w + nx]
                if v & 3 == 2:
                    touches_explained[0] = True
                if v & mark == 0 and (v & 3 != 0 if any_ink else v & 3 == 1):
                    state[ny * w + nx] = v | mark
                    buf[tail] = <int32_t>(ny * w + nx)
                    tail += 1
    return tail


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int32_t _attached_thick(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                             const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                             Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                             int dy, int dx, bint side_b, uint8_t* state,
                             int32_t* queue, int32_t* glyph, int explain,
                             double cover) noexcept nogil:
    # Pixels (y, x) of the cell whose 3 x 3 block (y..y+2, x..x+2, which may reach two
    # pixels past the cell) is all unexplained ink of a (outside b's tolerance shifted by
    # dy, dx; with side_b of the shifted b, outside a's tolerance), counted only when that
    # residue is attached to the same page's explained ink: its 8-connected component,
    # within the cell and _REACH pixels around it, has a pixel next to ink of that page
    # which the other page's tolerance covers.  A stroke missing from a glyph the other
    # page also has in part; a speck in blank paper is not attached, and a one- or
    # two-pixel fringe along a stroke has no 3 x 3 block.  Nor is a misplaced stroke
    # counted: a component with a thick block is left out when at some extra shift within
    # ``explain`` pixels of (dy, dx) the other page's tolerance covers at least ``cover``
    # of its pixels and of its glyph's (the 8-connected ink of its page in the region that
    # it belongs to): a stroke the other page has a little further on, with its glyph, as
    # where a photo's keystone bends the shift within a cell; a missing stroke is covered
    # there only with its glyph uncovered.  ``state``, ``queue`` and ``glyph`` hold
    # _REGION * _REGION values.  Outside its bitmap b has no ink and tolerance everywhere,
    # and a has tolerance everywhere.
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1]
    cdef Py_ssize_t ry0 = y0 - _REACH if y0 >= _REACH else 0
    cdef Py_ssize_t rx0 = x0 - _REACH if x0 >= _REACH else 0
    cdef Py_ssize_t ry1 = y1 + _REACH if y1 + _REACH <= rows else rows
    cdef Py_ssize_t rx1 = x1 + _REACH if x1 + _REACH <= cols else cols
    cdef Py_ssize_t h = ry1 - ry0, w = rx1 - rx0, y, x, yb, xb, k, tail, p
    cdef Py_ssize_t gtail, q
    cdef int32_t n = 0, sy, sx, ccov, gcov, ncomp
    cdef bint any_thick = False, attached, has_thick, moved, touched = False
    cdef uint8_t mine, covered
    # state: 1 unexplained ink, 2 explained ink of the page, | 4 visited, | 8 counted,
    # | 16 in the glyph being measured
    for y in range(h):
        for x in range(w):
            yb = ry0 + y + dy
            xb = rx0 + x + dx
            if side_b:
                if 0 <= yb < rows and 0 <= xb < cols and ink_b[yb, xb] != 0:
                    state[y * w + x] = 2 if tol_a[ry0 + y, rx0 + x] != 0 else 1
                else:
                    state[y * w + x] = 0
            else:
                mine = ink_a[ry0 + y, rx0 + x] != 0
                covered = not (0 <= yb < rows and 0 <= xb < cols) or tol_b[yb, xb] != 0
                state[y * w + x] = (2 if covered else 1) if mine else 0
    # the 3 x 3 blocks whose top-left pixel lies in the cell
    for y in range(y0 - ry0, y1 - ry0):
        if y + 2 >= h:
            break
        for x in range(x0 - rx0, x1 - rx0):
            if x + 2 >= w:
                break
            if _block3(state, w, y, x):
                any_thick = True
                break
        if any_thick:
            break
    if not any_thick:
        return 0
    # the residue's components, each marked attached or not
    for p in range(h * w):
        if state[p] & 7 != 1:
            continue
        state[p] |= 4
        queue[0] = <int32_t>p
        attached = False
        tail = _grow(state, h, w, queue, 1, False, 4, &attached)
        if not attached:
            continue
        # a thick block whose top-left pixel lies in the cell (all its pixels are in this
        # component)
        has_thick = False
        for q in range(tail):
            k = queue[q]
            y = k // w
            x = k - y * w
            if y < y0 - ry0 or y >= y1 - ry0 or x < x0 - rx0 or x >= x1 - rx0:
                continue
            if y + 2 >= h or x + 2 >= w:
                continue
            if _block3(state, w, y, x):
                has_thick = True
                break
        if not has_thick:
            continue
        # its glyph: the page's ink 8-connected to it in the region
        for q in range(tail):
            state[queue[q]] |= 16
            glyph[q] = queue[q]
        gtail = _grow(state, h, w, glyph, tail, True, 16, &touched)
        for q in range(gtail):
            state[glyph[q]] &= ~16
        # the component and its glyph (the glyph's first ``tail`` pixels) at the extra shifts
        moved = False
        ncomp = <int32_t>tail
        for sy in range(-explain, explain + 1):
            for sx in range(-explain, explain + 1):
                if sy == 0 and sx == 0:
                    continue
                ccov = 0
                gcov = 0
                for q in range(gtail):
                    k = glyph[q]
                    y = ry0 + k // w
                    x = rx0 + k % w
                    if side_b:
                        yb = y - sy
                        xb = x - sx
                        covered = not (0 <= yb < rows and 0 <= xb < cols) or tol_a[yb, xb] != 0
                    else:
                        yb = y + dy + sy
                        xb = x + dx + sx
                        covered = not (0 <= yb < rows and 0 <= xb < cols) or tol_b[yb, xb] != 0
                    if covered:
                        gcov += 1
                        if q < tail:
                            ccov += 1
                if ccov >= cover * ncomp and gcov >= cover * gtail:
                    moved = True
                    break
            if moved:
                break
        if not moved:
            for k in range(tail):
                state[queue[k]] |= 8
    for y in range(y0 - ry0, y1 - ry0):
        if y + 2 >= h:
            break
        for x in range(x0 - rx0, x1 - rx0):
            if x + 2 >= w:
                break
            if state[y * w + x] & 8 != 0 and _block3(state, w, y, x):
                n += 1
    return n


# lost holes: the region reaches this far around the cell (fine pixels), and a hole must
# keep this far from the region's edge (the other page's ring around it, shifted a little,
# must lie in the region too); buffers for cells of at most 64 pixels
DEF _HOLE_REACH = 24
DEF _HOLE_BAND = 8
DEF _HREGION = 64 + 2 * _HOLE_REACH
DEF _HOLE_CANDIDATES = 32  # holes measured per cell and side, at most


@cython.boundscheck(False)
@cython.wraparound(False)
cdef Py_ssize_t _grow4(uint8_t* st, Py_ssize_t h, Py_ssize_t w, int32_t* buf,
                       Py_ssize_t head, Py_ssize_t tail, uint8_t test, uint8_t want,
                       uint8_t mark) noexcept nogil:
    # Breadth-first growth, 4-connected, of the pixels in buf[head:tail]: a neighbour n
    # joins (appended and marked with ``mark``, a bit of ``test`` that ``want`` lacks) when
    # st[n] & test == want; returns the new tail.
    cdef Py_ssize_t k, y, x, ny, nx, n
    cdef int d
    while head < tail:
        k = buf[head]
        head += 1
        y = k // w
        x = k - y * w
        for d in range(4):
            ny = y + (1 if d == 1 else (-1 if d == 0 else 0))
            nx = x + (1 if d == 3 else (-1 if d == 2 else 0))
            if 0 <= ny < h and 0 <= nx < w:
                n = ny * w + nx
                if st[n] & test == want:
                    st[n] |= mark
                    buf[tail] = <int32_t>n
                    tail += 1
    return tail


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int32_t _lost_hole(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                        const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                        Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1,
                        int dy, int dx, bint side_b, uint8_t* st, int32_t* q,
                        int hmin, int hmax, int bridge, double share) noexcept nogil:
    # The largest hole of one page (X: a, or with side_b the shifted b) that the other (Y)
    # leaves open: paper that X's ink encloses (4-connected, hmin to hmax pixels, centred
    # in the cell, at least _HOLE_BAND pixels inside the region of _HOLE_REACH around it)
    # of which at least ``share`` is, on Y, paper connected to the region's edge around Y's
    # ink dilated by one pixel (3 x 3); and counted only when X's ink where Y leaves it
    # open, next to the hole (4-connected), has at least ``bridge`` pixels outside Y's
    # tolerance: the stroke that closes X's glyph and that Y lacks (an 8 against a 6, a 6
    # against a 5).  A stroke broken in one scan leaves a gap of a pixel or two, which the
    # dilation closes, or the other page's tolerance covers; beyond b's bitmap b blocks (it
    # cannot be checked).  0 when there is none.  Y is read only when X has a hole of that
    # size in the cell (most cells have none).  ``st`` and ``q`` hold _HREGION * _HREGION
    # values.
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1]
    cdef Py_ssize_t ry0 = y0 - _HOLE_REACH if y0 >= _HOLE_REACH else 0
    cdef Py_ssize_t rx0 = x0 - _HOLE_REACH if x0 >= _HOLE_REACH else 0
    cdef Py_ssize_t ry1 = y1 + _HOLE_REACH if y1 + _HOLE_REACH <= rows else rows
    cdef Py_ssize_t rx1 = x1 + _HOLE_REACH if x1 + _HOLE_REACH <= cols else cols
    cdef Py_ssize_t h = ry1 - ry0, w = rx1 - rx0, y, x, ya, xa, yb, xb, p, ny, nx
    cdef Py_ssize_t tail, t2, qi
    cdef int i, j, c, ncand = 0
    cdef int32_t best = 0, nopen, unex
    cdef int64_t sy, sx
    cdef bint inband
    cdef uint8_t v
    cdef int32_t cand[_HOLE_CANDIDATES]
    # bits: 1 X's ink, 2 Y's ink, 4 Y's tolerance, 8 Y's ink dilated, 16 open on Y,
    # 32 X's paper visited, 64 bridge visited, 128 hole measured
    for y in range(h):
        ya = ry0 + y
        yb = ya + dy
        for x in range(w):
            xa = rx0 + x
            xb = xa + dx
            if side_b:
                st[y * w + x] = (0 <= yb < rows and 0 <= xb < cols and ink_b[yb, xb] != 0)
            else:
                st[y * w + x] = ink_a[ya, xa] != 0
    # X's holes of the size sought, centred in the cell (their first pixels)
    for p in range(h * w):
        if st[p] & 33 != 0:
            continue
        st[p] |= 32
        q[0] = <int32_t>p
        tail = _grow4(st, h, w, q, 0, 1, 33, 0, 32)
        if tail < hmin or tail > hmax or ncand == _HOLE_CANDIDATES:
            continue
        inband = False
        sy = 0
        sx = 0
        for qi in range(tail):
            y = q[qi] // w
            x = q[qi] - y * w
            sy += y
            sx += x
            if y < _HOLE_BAND or y >= h - _HOLE_BAND or x < _HOLE_BAND or x >= w - _HOLE_BAND:
                inband = True
                break
        if inband:
            continue
        y = ry0 + sy // tail
        x = rx0 + sx // tail
        if y0 <= y < y1 and x0 <= x < x1:
            cand[ncand] = <int32_t>p
            ncand += 1
    if ncand == 0:
        return 0
    # Y's ink, tolerance and dilated ink
    for y in range(h):
        ya = ry0 + y
        yb = ya + dy
        for x in range(w):
            xa = rx0 + x
            xb = xa + dx
            v = 0
            if side_b:
                if ink_a[ya, xa] != 0:
                    v = 2
                if tol_a[ya, xa] != 0:
                    v |= 4
            elif not (0 <= yb < rows and 0 <= xb < cols):
                v = 6
            else:
                if ink_b[yb, xb] != 0:
                    v = 2
                if tol_b[yb, xb] != 0:
                    v |= 4
            st[y * w + x] |= v
    for y in range(h):
        for x in range(w):
            if st[y * w + x] & 2 == 0:
                continue
            for i in range(-1, 2):
                ny = y + i
                if ny < 0 or ny >= h:
                    continue
                for j in range(-1, 2):
                    nx = x + j
                    if 0 <= nx < w:
                        st[ny * w + nx] |= 8
    # Y's open paper: from the region's edge, 4-connected, around Y's dilated ink
    tail = 0
    for p in range(h * w):
        y = p // w
        x = p - y * w
        if (y == 0 or y == h - 1 or x == 0 or x == w - 1) and st[p] & 8 == 0:
            st[p] |= 16
            q[tail] = <int32_t>p
            tail += 1
    _grow4(st, h, w, q, 0, tail, 24, 0, 16)
    # each hole again: its share open on Y, then its bridge (X's ink open on Y, grown from
    # the hole's pixels, which it follows in the queue)
    for c in range(ncand):
        p = cand[c]
        st[p] |= 128
        q[0] = <int32_t>p
        tail = _grow4(st, h, w, q, 0, 1, 129, 0, 128)
        if tail <= best:
            continue
        nopen = 0
        for qi in range(tail):
            if st[q[qi]] & 16 != 0:
                nopen += 1
        if nopen < share * tail:
            continue
        t2 = _grow4(st, h, w, q, 0, tail, 81, 17, 64)
        unex = 0
        for qi in range(tail, t2):
            if st[q[qi]] & 4 == 0:
                unex += 1
            st[q[qi]] &= ~64
        if unex >= bridge:
            best = <int32_t>tail
    return best


@cython.boundscheck(False)
@cython.wraparound(False)
def fine_verify(const uint8_t[:, ::1] ink_a, const uint8_t[:, ::1] tol_a,
                const uint8_t[:, ::1] ink_b, const uint8_t[:, ::1] tol_b,
                const int32_t[:, :, ::1] counts, const double[::1] field, int scale,
                int shift, int min_ink, int quiet, int32_t[:, :, ::1] out, int wide=0,
                int32_t[:, ::1] thick=None, int explain=0, double cover=1.0,
                int32_t[:, ::1] holes=None, int hole_min=0, int hole_max=0, int bridge=0,
                double hole_open=0.5):
    """Final stage of the verifier on the fine bitmaps, cell by cell at the coarse shifts.

    ``counts`` is :func:`block_verify`'s result for the coarse bitmaps (cells of
    ``ink_a.shape // counts.shape`` fine pixels, coarse shift ``counts[i, j, 3:5]``); the
    fine bitmaps are ``scale`` times finer.  For every cell with at least ``min_ink``
    coarse ink, the shift of ``b`` is searched within ``shift`` fine pixels of ``scale``
    times the coarse one, for the least unexplained ink (the worse side, as
    :func:`block_verify`, except that outside its bitmap ``b`` counts as tolerance: what
    lies beyond the other page's canonical frame cannot be checked), and when that leaves
    more than ``quiet`` pixels and ``field`` holds a coarse shift field (twelve values, as
    :func:`block_verify`'s), within ``shift`` of ``scale`` times the field's shift at the
    cell's centre too (a cell the coarse pass explained at a wrong shift: its tolerance
    mask is wide).  ``out[i, j]`` gets, at the best shift, the two sides' counts (of a, of
    b) of 2 x 2 blocks of unexplained ink (the core of a changed letter's strokes; a
    rescan's or a photo's one-pixel fringes have none).  The search stops at the first
    shift (each centre first) with at most ``quiet`` unexplained pixels.  With ``thick``
    (shape of ``counts``' first two axes), ``thick[i, j]`` gets, for a cell left with
    cores, the two sides' count of 3 x 3 blocks of unexplained ink attached to that page's
    explained ink (a stroke missing from a glyph the other page partly has; not a speck in
    blank paper) at the same shift, else 0; a component that the other page's tolerance
    covers for at least ``cover`` of its pixels and of its glyph's (the page's ink
    8-connected to it) at some shift within ``explain`` fine pixels of the cell's (a
    misplaced stroke) is not counted.  With ``holes`` (same shape), ``holes[i, j]`` gets,
    for a cell left with cores, the area of the largest hole of either page, ``hole_min``
    to ``hole_max`` fine pixels, that the other page leaves open (``hole_open`` of it at
    least) with a bridge of at least ``bridge`` pixels outside its tolerance (see
    ``_lost_hole``) at the same shift, else 0.
    """
    cdef Py_ssize_t nbr = counts.shape[0], nbc = counts.shape[1]
    cdef Py_ssize_t rows = ink_a.shape[0], cols = ink_a.shape[1], bi, bj
    cdef Py_ssize_t fb = rows // nbr if nbr > 0 else rows
    cdef Py_ssize_t y0, y1, x0, x1, k
    cdef int cy, cx, dy, dx, bdy = 0, bdx = 0, order, centre, ncentres, rad, r
    cdef int32_t ua, ub, w, best, ca, cb
    cdef bint use_field = field.shape[0] >= 12
    cdef double cr, cc
    cdef int fy = 0, fx = 0, kdy = 0, kdx = 0
    cdef bint want_thick = thick is not None
    cdef bint want_holes = holes is not None
    cdef uint8_t* hst = NULL
    cdef int32_t* hq = NULL
    cdef int32_t ha, hb
    cdef int32_t* cshift = NULL
    cdef int sdy = 0, sdx = 0, ni, nj
    cdef bint near
    cdef uint8_t* state = NULL
    cdef int32_t* queue = NULL
    cdef int32_t* glyph = NULL
    if fb > 64:
        raise ValueError("fine cells of at most 64 pixels")
    if want_thick and (thick.shape[0] != nbr or thick.shape[1] != nbc):
        raise ValueError("thick must have the shape of counts' cell grid")
    if want_holes and (holes.shape[0] != nbr or holes.shape[1] != nbc):
        raise ValueError("holes must have the shape of counts' cell grid")
    with nogil:
        if want_thick:
            state = <uint8_t*>malloc(_REGION * _REGION * sizeof(uint8_t))
            queue = <int32_t*>malloc(_REGION * _REGION * sizeof(int32_t))
            glyph = <int32_t*>malloc(_REGION * _REGION * sizeof(int32_t))
            if state == NULL or queue == NULL or glyph == NULL:
                free(state)
                free(queue)
                free(glyph)
                with gil:
                    raise MemoryError()
        if want_holes:
            hst = <uint8_t*>malloc(_HREGION * _HREGION * sizeof(uint8_t))
            hq = <int32_t*>malloc(_HREGION * _HREGION * sizeof(int32_t))
            # per cell: searched (1) or not (0), and the shift its search chose
            cshift = <int32_t*>calloc(3 * nbr * nbc + 1, sizeof(int32_t))
            if hst == NULL or hq == NULL or cshift == NULL:
                free(hst)
                free(hq)
                free(cshift)
                free(state)
                free(queue)
                free(glyph)
                with gil:
                    raise MemoryError()
        for bi in range(nbr):
            y0 = bi * fb
            y1 = y0 + fb if y0 + fb < rows else rows
            for bj in range(nbc):
                out[bi, bj, 0] = 0
                out[bi, bj, 1] = 0
                if want_thick:
                    thick[bi, bj] = 0
                if want_holes:
                    holes[bi, bj] = 0
                if counts[bi, bj, 2] < min_ink:
                    continue
                x0 = bj * fb
                x1 = x0 + fb if x0 + fb < cols else cols
                ncentres = 1
                if use_field:
                    # the field at the cell's centre, in coarse pixels
                    cr = (y0 + y1) * 0.005 / scale
                    cc = (x0 + x1) * 0.005 / scale
                    fy = <int>floor(scale * _field_at(field, 0, cr, cc) + 0.5)
                    fx = <int>floor(scale * _field_at(field, 6, cr, cc) + 0.5)
                    ncentres = 2
                # the search within ``shift``; a cell left with cores once more within
                # ``wide`` (the fewer cores of the two searches count)
                for rad in range(2):
                    r = shift if rad == 0 else wide
                    if rad == 1 and (wide <= shift or out[bi, bj, 0] + out[bi, bj, 1] == 0):
                        break
                    best = -1
                    for centre in range(ncentres):
                        if centre == 0:
                            cy = scale * counts[bi, bj, 3]
                            cx = scale * counts[bi, bj, 4]
                        else:
                            if best <= quiet:
                                break
                            if fy - cy <= r and cy - fy <= r and fx - cx <= r and cx - fx <= r:
                                break  # searched already
                            cy = fy
                            cx = fx
                        # the centre first, then the others
                        for order in range(-1, (2 * r + 1) * (2 * r + 1)):
                            if order < 0:
                                dy = cy
                                dx = cx
                            else:
                                dy = cy - r + order // (2 * r + 1)
                                dx = cx - r + order % (2 * r + 1)
                                if dy == cy and dx == cx:
                                    continue
                            _unexplained(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, dy, dx,
                                         &ua, &ub, True)
                            w = ua if ua > ub else ub
                            if best < 0 or w < best:
                                best = w
                                bdy = dy
                                bdx = dx
                            if best <= quiet:
                                break
                    if rad == 0:
                        sdy = bdy
                        sdx = bdx
                    if best < 4:
                        out[bi, bj, 0] = 0
                        out[bi, bj, 1] = 0
                        break
                    ca = _core_2x2(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, bdy, bdx, False)
                    cb = _core_2x2(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, bdy, bdx, True)
                    if rad == 0 or ca + cb < out[bi, bj, 0] + out[bi, bj, 1]:
                        out[bi, bj, 0] = ca
                        out[bi, bj, 1] = cb
                        kdy = bdy
                        kdx = bdx
                if want_thick and out[bi, bj, 0] + out[bi, bj, 1] > 0:
                    thick[bi, bj] = (
                        _attached_thick(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, kdy, kdx,
                                        False, state, queue, glyph, explain, cover)
                        + _attached_thick(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1, kdy,
                                          kdx, True, state, queue, glyph, explain, cover))
                if want_holes:
                    k = 3 * (bi * nbc + bj)
                    cshift[k] = 1
                    cshift[k + 1] = kdy if out[bi, bj, 0] + out[bi, bj, 1] > 0 else sdy
                    cshift[k + 2] = kdx if out[bi, bj, 0] + out[bi, bj, 1] > 0 else sdx
        # lost holes: in each cell left with cores, and in each searched cell next to one
        # (a changed digit may leave its cores in the cell below its hole's), each at the
        # shift its own search chose
        if want_holes:
            for bi in range(nbr):
                y0 = bi * fb
                y1 = y0 + fb if y0 + fb < rows else rows
                for bj in range(nbc):
                    k = 3 * (bi * nbc + bj)
                    if cshift[k] == 0:
                        continue
                    near = out[bi, bj, 0] + out[bi, bj, 1] > 0
                    ni = bi - 1
                    while not near and ni <= bi + 1:
                        nj = bj - 1
                        while not near and nj <= bj + 1:
                            if 0 <= ni < nbr and 0 <= nj < nbc:
                                near = out[ni, nj, 0] + out[ni, nj, 1] > 0
                            nj += 1
                        ni += 1
                    if not near:
                        continue
                    x0 = bj * fb
                    x1 = x0 + fb if x0 + fb < cols else cols
                    ha = _lost_hole(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1,
                                    cshift[k + 1], cshift[k + 2], False, hst, hq, hole_min,
                                    hole_max, bridge, hole_open)
                    hb = _lost_hole(ink_a, tol_a, ink_b, tol_b, y0, y1, x0, x1,
                                    cshift[k + 1], cshift[k + 2], True, hst, hq, hole_min,
                                    hole_max, bridge, hole_open)
                    holes[bi, bj] = ha if ha > hb else hb
        free(hst)
        free(hq)
        free(cshift)
        free(state)
        free(queue)
        free(glyph)


@cython.boundscheck(False)
@cython.wraparound(False)
def dilate3x3_u8(const uint8_t[:, ::1] src, uint8_t[:, ::1] out, uint8_t[:, ::1] tmp):
    """``out`` = 1 where ``src`` has a non-zero pixel in the 3 x 3 neighbourhood, else 0
    (``tmp``: scratch of the same shape; all three of one shape)."""
    cdef Py_ssize_t rows = src.shape[0], cols = src.shape[1], r, c
    cdef const uint8_t* s
    cdef uint8_t* t
    cdef uint8_t* o
    cdef const uint8_t* a
    cdef const uint8_t* b
    if rows == 0 or cols == 0:
        return
    with nogil:
        for r in range(rows):
            s = &src[r, 0]
            t = &tmp[r, 0]
            t[0] = (s[0] != 0) | (cols > 1 and s[1] != 0)
            for c in range(1, cols - 1):
                t[c] = (s[c - 1] | s[c] | s[c + 1]) != 0
            if cols > 1:
                t[cols - 1] = (s[cols - 2] | s[cols - 1]) != 0
        for r in range(rows):
            o = &out[r, 0]
            a = &tmp[r - 1 if r > 0 else r, 0]
            b = &tmp[r + 1 if r + 1 < rows else r, 0]
            t = &tmp[r, 0]
            for c in range(cols):
                o[c] = a[c] | t[c] | b[c]
