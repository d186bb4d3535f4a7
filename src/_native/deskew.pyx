# cython: language_level=3
"""Skew and orientation kernels: block reduction, ink point lists, projection-profile scores.

Callers (``onestop_docs.deskew``) validate shapes, dtypes and buffer sizes first.
"""

from libc.math cimport floor, sin, cos
from libc.stdint cimport uint8_t, uint32_t, int32_t


cdef void reduce_mean_kernel(const uint8_t[:, ::1] src, Py_ssize_t r,
                             uint8_t[:, ::1] out, uint32_t[::1] acc) noexcept nogil:
    # Mean of each r x r block (the partial blocks at the right and bottom edges are dropped).
    # Rows are first summed column-wise over the whole width (a contiguous, vectorisable
    # loop), then r neighbouring column sums are added on the r times smaller result.
    cdef Py_ssize_t ho = out.shape[0], wo = out.shape[1], wi = wo * r, oy, k, bx, j, x
    cdef uint32_t s, area = <uint32_t>(r * r), half = <uint32_t>(r * r // 2)
    cdef uint32_t *a = &acc[0]
    cdef const uint8_t *row
    for oy in range(ho):
        row = &src[oy * r, 0]
        for x in range(wi):
            a[x] = row[x]
        for k in range(1, r):
            row = &src[oy * r + k, 0]
            for x in range(wi):
                a[x] += row[x]
        for bx in range(wo):
            s = 0
            for j in range(r):
                s += a[bx * r + j]
            out[oy, bx] = <uint8_t>((s + half) // area)


def reduce_mean(const uint8_t[:, ::1] src, Py_ssize_t r, uint8_t[:, ::1] out,
                uint32_t[::1] acc):
    """Fill ``out`` (H // r, W // r) with r x r block means of ``src``; releases the GIL.

    ``acc`` is scratch space of at least ``(W // r) * r`` entries.
    """
    with nogil:
        reduce_mean_kernel(src, r, out, acc)


cdef Py_ssize_t clear_border_kernel(uint8_t[:, ::1] img, uint8_t thr,
                                    int32_t[::1] stack) noexcept nogil:
    # Set every dark pixel (< thr) 4-connected to the image edge to 255: scanner borders and
    # paper-edge shadows are aligned with the scanner, not with the text, and would pull the
    # estimate towards 0 degrees.  Returns the number of pixels cleared.
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], top = 0, y, x, n = 0
    cdef int32_t p
    for y in range(h):
        for x in range(w):
            if (y == 0 or y == h - 1 or x == 0 or x == w - 1) and img[y, x] < thr:
                img[y, x] = 255
                stack[top] = <int32_t>(y * w + x)
                top += 1
    while top > 0:
        top -= 1
        n += 1
        p = stack[top]
        y = p // w
        x = p - y * w
        if y > 0 and img[y - 1, x] < thr:
            img[y - 1, x] = 255
            stack[top] = p - <int32_t>w
            top += 1
        if y + 1 < h and img[y + 1, x] < thr:
            img[y + 1, x] = 255
            stack[top] = p + <int32_t>w
            top += 1
        if x > 0 and img[y, x - 1] < thr:
            img[y, x - 1] = 255
            stack[top] = p - 1
            top += 1
        if x + 1 < w and img[y, x + 1] < thr:
            img[y, x + 1] = 255
            stack[top] = p + 1
            top += 1
    return n


def clear_border(uint8_t[:, ::1] img, int thr, int32_t[::1] stack):
    """Whiten dark pixels (< ``thr``) connected to the edge; ``stack`` holds H*W entries."""
    cdef Py_ssize_t n
    with nogil:
        n = clear_border_kernel(img, <uint8_t>thr, stack)
    return n


cdef Py_ssize_t ink_points_kernel(const uint8_t[:, ::1] img, uint8_t thr,
                                  int32_t[::1] xs, int32_t[::1] ys) noexcept nogil:
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y, x, n = 0, cap = xs.shape[0]
    for y in range(h):
        for x in range(w):
            if img[y, x] < thr:
                if n == cap:
                    return n
                xs[n] = <int32_t>x
                ys[n] = <int32_t>y
                n += 1
    return n


def ink_points(const uint8_t[:, ::1] img, int thr, int32_t[::1] xs, int32_t[::1] ys):
    """Write the (x, y) of pixels darker than ``thr`` into ``xs``, ``ys``; return the count."""
    cdef Py_ssize_t n
    with nogil:
        n = ink_points_kernel(img, <uint8_t>thr, xs, ys)
    return n


cdef void profile_kernel(const int32_t[::1] xs, const int32_t[::1] ys, double s, double c,
                         double off, double[::1] prof) noexcept nogil:
    # Projection p = x sin(a) + y cos(a) + off of every point, spread over the three nearest
    # bins with quadratic B-spline weights.  Their second moment does not depend on where p
    # falls between bins (B-splines reproduce quadratics), so the profile is blurred the same
    # at every angle; a linear split would blur least at exactly 0 degrees, where the rows of
    # an aligned page all land on bin centres, and bias the search.
    cdef Py_ssize_t n = xs.shape[0], i, k, m = prof.shape[0]
    cdef double p, t, u, v
    for k in range(m):
        prof[k] = 0.0
    for i in range(n):
        p = xs[i] * s + ys[i] * c + off
        k = <Py_ssize_t>(p + 0.5)
        t = p - k
        u = 0.5 - t
        v = 0.5 + t
        prof[k - 1] += 0.5 * u * u
        prof[k] += 0.75 - t * t
        prof[k + 1] += 0.5 * v * v


cdef double diff_square_sum(const double[::1] prof) noexcept nogil:
    cdef Py_ssize_t k, m = prof.shape[0]
    cdef double d, acc = 0.0
    for k in range(m - 1):
        d = prof[k + 1] - prof[k]
        acc += d * d
    return acc


def profile(const int32_t[::1] xs, const int32_t[::1] ys, double angle_rad, double cx,
            double cy, double[::1] prof):
    """Fill ``prof`` with the quadratic B-spline projection profile of the points at ``angle_rad``.

    Bin ``k`` holds the points with ``(x - cx) sin(a) + (y - cy) cos(a) + len(prof) / 2 == k``;
    the caller sizes ``prof`` so that every point lands inside (2 * radius + 4 bins).
    """
    cdef double s = sin(angle_rad), c = cos(angle_rad)
    cdef double off = floor(prof.shape[0] / 2.0) - cx * s - cy * c
    with nogil:
        profile_kernel(xs, ys, s, c, off, prof)


def scores(const int32_t[::1] xs, const int32_t[::1] ys, const double[::1] angles_rad,
           double cx, double cy, double[::1] prof, double[::1] out):
    """Differential square sum of the projection profile at each angle (see ``profile``)."""
    cdef Py_ssize_t i, m = prof.shape[0]
    cdef double s, c, off
    with nogil:
        for i in range(angles_rad.shape[0]):
            s = sin(angles_rad[i])
            c = cos(angles_rad[i])
            off = floor(m / 2.0) - cx * s - cy * c
            profile_kernel(xs, ys, s, c, off, prof)
            out[i] = diff_square_sum(prof)


cdef Py_ssize_t binarize_kernel(const uint8_t[:, ::1] src, uint8_t thr,
                                uint8_t[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], y, x, n = 0
    cdef uint8_t v
    for y in range(h):
        for x in range(w):
            v = 0 if src[y, x] < thr else 255
            out[y, x] = v
            n += v == 0
    return n


def binarize(const uint8_t[:, ::1] src, int thr, uint8_t[:, ::1] out):
    """Write 0 (ink, ``src < thr``) or 255 into ``out``; return the number of ink pixels."""
    cdef Py_ssize_t n
    with nogil:
        n = binarize_kernel(src, <uint8_t>thr, out)
    return n


cdef Py_ssize_t clear_blobs_kernel(uint8_t[:, ::1] img, Py_ssize_t max_w, Py_ssize_t max_h,
                                   int32_t[::1] stack, int32_t[::1] members) noexcept nogil:
    # On a 0 (ink) / 255 (paper) image, whiten every 8-connected ink component whose bounding
    # box is wider than max_w AND taller than max_h: a photograph, a large stamp or a dark
    # blob is not a text line, and its mass would swamp the profile of the few lines around
    # it.  Rules stay (thin in one direction), and so do characters.  Ink being visited is
    # marked 1 and kept ink 2 until the end.  The first pixel met in raster order is the
    # component's top row.  Returns the number of pixels cleared.
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y0, x0, y, x, yy, xx
    cdef Py_ssize_t top, m, i, cleared = 0, x_lo, x_hi, y_lo, y_hi
    cdef int32_t p
    cdef uint8_t keep
    for y0 in range(h):
        for x0 in range(w):
            if img[y0, x0] != 0:
                continue
            img[y0, x0] = 1
            stack[0] = <int32_t>(y0 * w + x0)
            top = 1
            m = 0
            x_lo = x_hi = x0
            y_lo = y_hi = y0
            while top > 0:
                top -= 1
                p = stack[top]
                members[m] = p
                m += 1
                y = p // w
                x = p - y * w
                if x < x_lo:
                    x_lo = x
                if x > x_hi:
                    x_hi = x
                if y > y_hi:
                    y_hi = y
                for yy in range(y - 1 if y > 0 else 0, y + 2 if y + 1 < h else h):
                    for xx in range(x - 1 if x > 0 else 0, x + 2 if x + 1 < w else w):
                        if img[yy, xx] == 0:
                            img[yy, xx] = 1
                            stack[top] = <int32_t>(yy * w + xx)
                            top += 1
            keep = 2  # judged and kept; back to 0 at the end
            if x_hi - x_lo + 1 > max_w and y_hi - y_lo + 1 > max_h:
                keep = 255
                cleared += m
            for i in range(m):
                p = members[i]
                img[p // w, p - (p // w) * w] = keep
    for y in range(h):
        for x in range(w):
            if img[y, x] == 2:
                img[y, x] = 0
    return cleared


def clear_blobs(uint8_t[:, ::1] img, Py_ssize_t max_w, Py_ssize_t max_h, int32_t[::1] stack,
                int32_t[::1] members):
    """Whiten ink components larger than ``max_w`` x ``max_h``; buffers hold H*W entries."""
    cdef Py_ssize_t n
    with nogil:
        n = clear_blobs_kernel(img, max_w, max_h, stack, members)
    return n
