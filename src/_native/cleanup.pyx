# cython: language_level=3
"""Page cleanup kernels: local thresholds and background maps.

Connected components live in ``cleanup_components.pyx``.

Callers (``onestop_docs.cleanup``) validate shapes, dtypes and parameter ranges first; these
loops trust their input and release the GIL.
"""

from libc.stdint cimport uint8_t, int32_t, int64_t, uint32_t
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport sqrt

import numpy as np

cdef extern from *:
    """
    /* Hot inner loops in plain C with restrict pointers, so the compiler vectorizes them
       (Cython's generated indexing defeats its alias analysis). */
    #include <stdint.h>
    #include <stddef.h>
    #include <math.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Wheels target baseline x86-64 (SSE2); on Linux/GCC the hottest loops are also
       compiled for AVX2 and picked at load time (ifunc), twice the lanes.  No FMA is
       enabled, so both versions round identically. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define OSD_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define OSD_CLONES
    #endif
    OSD_CLONES static void osd_slide(const uint8_t *restrict pa, const uint8_t *restrict pb,
                                 int32_t *restrict cs, int32_t *restrict cq, ptrdiff_t w) {
        for (ptrdiff_t x = 0; x < w; x++) {
            int32_t a = pa[x], b = pb[x];
            cs[x] += a - b;
            cq[x] += a * a - b * b;
        }
    }
    /* Sauvola's T = m (1 + k (sd / r - 1)) from the local mean m and variance var, as the
       integer ti = floor(T - 1e-4) + 1 clamped to 0..257, so that for an integer pixel p:
       p < T <=> p < ti (up to T within 1e-4 above an integer).  Evaluated in float. */
    static inline int32_t osd_sauvola_ti(float m, float var, float k, float rinv) {
        var = var > 0.0f ? var : 0.0f;
        float t = m * (1.0f + k * (sqrtf(var) * rinv - 1.0f)) - 1e-4f + 1.0f;
        t = t > 0.0f ? t : 0.0f;
        t = t < 257.0f ? t : 257.0f;
        return (int32_t)t;
    }
    /* Sauvola in two vectorizable passes.  Pass 1 (no 8-bit data, so it vectorizes) writes
       ti (osd_sauvola_ti); the variance comes from the exact sums in double.  Pass 2
       (osd_below) compares the pixels with ti. */
    static inline void osd_sauvola_thr(int32_t *restrict ti, const double *restrict ps,
                                       const double *restrict pq, const double *restrict cols,
                                       const double *restrict invcols, double rows,
                                       double invrows, ptrdiff_t w, ptrdiff_t ww, double k,
                                       double r) {
        const double *restrict ps2 = ps + ww;
        const double *restrict pq2 = pq + ww;
        const float kf = (float)k, rinv = (float)(1.0 / r);
        for (ptrdiff_t x = 0; x < w; x++) {
            double s = ps2[x] - ps[x], q = pq2[x] - pq[x];
            double n = rows * cols[x];
            double inv = invrows * invcols[x];
            double d = n * q - s * s;
            /* The variance needs doubles (n q and s^2 nearly cancel); the threshold itself
               is computed in float, 4 lanes wide (relative error ~1e-7 on T <= 255). */
            ti[x] = osd_sauvola_ti((float)(s * inv), (float)(d * inv * inv), kf, rinv);
        }
    }
    OSD_CLONES static void osd_below(const uint8_t *restrict p, const int32_t *restrict ti,
                                 uint8_t *restrict o, ptrdiff_t w, int32_t max_level) {
        for (ptrdiff_t x = 0; x < w; x++) {
            int32_t v = p[x];
            o[x] = (uint8_t)((v < ti[x]) & (v < max_level));
        }
    }
    /* pa[x + 1] = a[0] + ... + a[x] (and pb for b) with pa[0] = pb[0] = 0 written by the
       caller.  Four interleaved chains hide the latency of the floating-point adds; the
       sums are integers below 2**53, so the order does not change them. */
    static inline void osd_prefix(const int32_t *restrict a, const int32_t *restrict b,
                                  double *restrict pa, double *restrict pb, ptrdiff_t w) {
        ptrdiff_t L = w / 4, j;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
        for (j = 0; j < L; j++) {
            s0 += a[j]; pa[j + 1] = s0; q0 += b[j]; pb[j + 1] = q0;
            s1 += a[L + j]; pa[L + j + 1] = s1; q1 += b[L + j]; pb[L + j + 1] = q1;
            s2 += a[2 * L + j]; pa[2 * L + j + 1] = s2; q2 += b[2 * L + j]; pb[2 * L + j + 1] = q2;
        }
        for (j = 3 * L; j < w; j++) {
            s3 += a[j]; pa[j + 1] = s3; q3 += b[j]; pb[j + 1] = q3;
        }
        const double os1 = s0, os2 = s0 + s1, os3 = s0 + s1 + s2;
        const double oq1 = q0, oq2 = q0 + q1, oq3 = q0 + q1 + q2;
        for (j = L; j < 2 * L; j++) { pa[j + 1] += os1; pb[j + 1] += oq1; }
        for (j = 2 * L; j < 3 * L; j++) { pa[j + 1] += os2; pb[j + 1] += oq2; }
        for (j = 3 * L; j < w; j++) { pa[j + 1] += os3; pb[j + 1] += oq3; }
    }
    /* The same threshold in 32-bit arithmetic for windows of at most 33025 pixels (181 x
       181): window sums of p and p^2 then fit in int32, so uint32 prefix sums (wrapping is
       harmless, only differences are used) and float lanes do the work 4 pixels at a time.
       The variance E[p^2] - m^2 in float carries an absolute error of about 0.01 grey
       level^2, which moves T by < 0.05 grey levels only where the local deviation is ~0. */
    static inline void osd_prefix_u32(const int32_t *restrict a, const int32_t *restrict b,
                                      uint32_t *restrict pa, uint32_t *restrict pb,
                                      ptrdiff_t w) {
        uint32_t s = 0, q = 0;
        ptrdiff_t x = 0;
    #if defined(__SSE2__)
        /* Four lanes at a time: in-register log-step prefix, then add the running carry
           (SSE2 is part of every x86-64 CPU; other targets take the scalar loop). */
        __m128i cs = _mm_setzero_si128(), cq = _mm_setzero_si128();
        for (; x + 4 <= w; x += 4) {
            __m128i va = _mm_loadu_si128((const __m128i *)(a + x));
            __m128i vb = _mm_loadu_si128((const __m128i *)(b + x));
            va = _mm_add_epi32(va, _mm_slli_si128(va, 4));
            vb = _mm_add_epi32(vb, _mm_slli_si128(vb, 4));
            va = _mm_add_epi32(va, _mm_slli_si128(va, 8));
            vb = _mm_add_epi32(vb, _mm_slli_si128(vb, 8));
            va = _mm_add_epi32(va, cs);
            vb = _mm_add_epi32(vb, cq);
            _mm_storeu_si128((__m128i *)(pa + x + 1), va);
            _mm_storeu_si128((__m128i *)(pb + x + 1), vb);
            cs = _mm_shuffle_epi32(va, 0xFF);
            cq = _mm_shuffle_epi32(vb, 0xFF);
        }
        s = (uint32_t)_mm_cvtsi128_si32(cs);
        q = (uint32_t)_mm_cvtsi128_si32(cq);
    #endif
        for (; x < w; x++) {
            s += (uint32_t)a[x];
            q += (uint32_t)b[x];
            pa[x + 1] = s;
            pb[x + 1] = q;
        }
    }
    OSD_CLONES static void osd_sauvola_thr32(int32_t *restrict ti, const uint32_t *restrict ps,
                                         const uint32_t *restrict pq,
                                         const float *restrict invcols, float invrows,
                                         ptrdiff_t w, ptrdiff_t ww, float k, float rinv) {
        const uint32_t *restrict ps2 = ps + ww;
        const uint32_t *restrict pq2 = pq + ww;
        const int32_t n = (int32_t)w;
        for (int32_t x = 0; x < n; x++) {
            float s = (float)(int32_t)(ps2[x] - ps[x]);
            float q = (float)(int32_t)(pq2[x] - pq[x]);
            float inv = invrows * invcols[x];
            float m = s * inv;
            ti[x] = osd_sauvola_ti(m, q * inv - m * m, k, rinv);
        }
    }
    /* One row of background gain: o = min(255, p * (gt + wy (gb - gt)) + 0.5) over the row's
       n = width * channels bytes, gt / gb the gains of the tile-centre rows above / below. */
    OSD_CLONES static void osd_gain_row(const uint8_t *restrict p, uint8_t *restrict o,
                                    const float *restrict gt, const float *restrict gb,
                                    float wy, ptrdiff_t n) {
        const int32_t m = (int32_t)n;  /* 32-bit induction: vectorizes */
        for (int32_t i = 0; i < m; i++) {
            float v = (float)(int32_t)p[i] * (gt[i] + wy * (gb[i] - gt[i])) + 0.5f;
            o[i] = (uint8_t)(int32_t)(v < 255.0f ? v : 255.0f);
        }
    }
    """
    void osd_slide(const uint8_t *pa, const uint8_t *pb, int32_t *cs, int32_t *cq,
                   Py_ssize_t w) noexcept nogil
    void osd_sauvola_thr(int32_t *ti, const double *ps, const double *pq, const double *cols,
                         const double *invcols, double rows, double invrows, Py_ssize_t w,
                         Py_ssize_t ww, double k, double r) noexcept nogil
    void osd_below(const uint8_t *p, const int32_t *ti, uint8_t *o, Py_ssize_t w,
                   int32_t max_level) noexcept nogil
    void osd_prefix(const int32_t *a, const int32_t *b, double *pa, double *pb,
                    Py_ssize_t w) noexcept nogil
    void osd_prefix_u32(const int32_t *a, const int32_t *b, uint32_t *pa, uint32_t *pb,
                        Py_ssize_t w) noexcept nogil
    void osd_sauvola_thr32(int32_t *ti, const uint32_t *ps, const uint32_t *pq,
                           const float *invcols, float invrows, Py_ssize_t w, Py_ssize_t ww,
                           float k, float rinv) noexcept nogil
    void osd_gain_row(const uint8_t *p, uint8_t *o, const float *gt, const float *gb,
                      float wy, Py_ssize_t n) noexcept nogil

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
                            const uint8_t *zero, int32_t *colsum, int32_t *colsq) noexcept nogil:
    # Add row ``enter`` and subtract row ``leave`` (-1 = none: an all-zero row stands in).
    cdef const uint8_t *pa = &src[enter, 0] if enter >= 0 else zero
    cdef const uint8_t *pb = &src[leave, 0] if leave >= 0 else zero
    osd_slide(pa, pb, colsum, colsq, src.shape[1])


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
                        double max_std, double max_level, double *max_var) noexcept nogil:
    """Threshold rows [y0, y1) of ``src`` into ``out`` (1 = ink), or, when ``max_var`` is not
    NULL, only report the largest local variance of those rows (Wolf's first pass).

    Running sums: one vertical (sum, sum of squares) integer pair per column, updated by
    adding the row entering the window and subtracting the row leaving it, then a horizontal
    prefix sum per row over the padded width.  The prefix sums are integers held in doubles
    (exact below 2**53: width * window * 255**2 stays far below), or in uint32 for our
    Sauvola with windows of at most 33025 pixels.  Memory is O(width + window) for any
    window size; time is O(pixels).
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
    cdef float *invcolsf = <float *> malloc(w * sizeof(float))
    cdef uint32_t *ps32 = <uint32_t *> ps
    cdef uint32_t *pq32 = <uint32_t *> pq
    cdef Py_ssize_t *xmap = <Py_ssize_t *> malloc(n_ext * sizeof(Py_ssize_t))
    cdef double rows, best = 0.0, accs, accq
    cdef bint reflect = conv == C_SKIMAGE
    cdef bint fast = conv == C_OURS and method == M_SAUVOLA and max_var == NULL
    cdef bint fast32 = fast and wh * ww <= 33025
    cdef uint8_t *zero = <uint8_t *> calloc(w, 1)
    cdef int32_t *ti = <int32_t *> malloc(w * sizeof(int32_t))
    cdef int32_t max_int = <int32_t> max_level if max_level < 256.0 else 256
    if (colsum == NULL or colsq == NULL or ps == NULL or pq == NULL or cols == NULL
            or xmap == NULL or zero == NULL or ti == NULL or invcolsf == NULL):
        free(invcolsf)
        free(zero)
        free(ti)
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
        invcolsf[x] = <float> invcols[x]
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
            slide_rows(src, reflect_index(i, h), -1, zero, colsum, colsq)
        elif 0 <= i < h:
            slide_rows(src, i, -1, zero, colsum, colsq)
    ps[0] = 0.0
    pq[0] = 0.0
    for y in range(y0, y1):
        i = y + rb
        enter = reflect_index(i, h) if reflect else (i if i < h else -1)
        leave = -1
        if y > y0:
            i = y - ra - 1
            leave = reflect_index(i, h) if reflect else (i if i >= 0 else -1)
        slide_rows(src, enter, leave, zero, colsum, colsq)
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
        elif fast32:
            # 32-bit prefix sums with zero padding on both sides.
            for j in range(ca + 1):
                ps32[j] = 0
                pq32[j] = 0
            osd_prefix_u32(colsum, colsq, ps32 + ca, pq32 + ca, w)
            for j in range(ca + w, n_ext - 1):
                ps32[j + 1] = ps32[ca + w]
                pq32[j + 1] = pq32[ca + w]
        else:
            # Zero padding outside the image: flat prefix on both sides.
            for j in range(ca if ca < n_ext - 1 else n_ext - 1):
                ps[j + 1] = 0.0
                pq[j + 1] = 0.0
            osd_prefix(colsum, colsq, ps + ca, pq + ca, w)
            accs = ps[ca + w]
            accq = pq[ca + w]
            for j in range(ca + w, n_ext - 1):
                ps[j + 1] = accs
                pq[j + 1] = accq
        if fast32:
            osd_sauvola_thr32(ti, ps32, pq32, invcolsf, <float> (1.0 / rows), w, ww, <float> k,
                              <float> (1.0 / r))
            osd_below(&src[y, 0], ti, &out[y, 0], w, max_int)
        elif fast:
            osd_sauvola_thr(ti, ps, pq, cols, invcols, rows, 1.0 / rows, w, ww, k, r)
            osd_below(&src[y, 0], ti, &out[y, 0], w, max_int)
        elif max_var != NULL:
            row_general(&src[y, 0], NULL, ps, pq, cols, rows, w, ww, method, conv, k, r,
                        gmin, max_std, &best)
        else:
            row_general(&src[y, 0], &out[y, 0], ps, pq, cols, rows, w, ww, method, conv, k,
                        r, gmin, max_std, NULL)
            if max_level < 256.0:
                for x in range(w):
                    if src[y, x] >= max_level:
                        out[y, x] = 0
    if max_var != NULL:
        max_var[0] = best
    free(colsum)
    free(colsq)
    free(ps)
    free(pq)
    free(cols)
    free(xmap)
    free(zero)
    free(ti)
    free(invcolsf)
    return 0


def local_threshold(const uint8_t[:, ::1] src, uint8_t[:, ::1] out, Py_ssize_t wh,
                    Py_ssize_t ww, int method, int conv, double k, double r, double gmin,
                    double max_std, Py_ssize_t strip=0, double max_level=256.0):
    """Fill ``out`` with 1 where ``src`` is ink under the local ``method``; releases the GIL.

    ``strip`` > 0 processes the page in bands of that many rows (each band re-primes its
    column sums), the unit a caller can hand to separate threads.  Pixels ``>= max_level``
    are never ink (the global contrast gate of ``clean_page``).
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
                                max_level, NULL)
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
                            1.0, 256.0, &best)
    if rc != 0:
        raise MemoryError("max_local_variance: out of memory for the running sums")
    return best


# ---------------------------------------------------------------------------------------
# Background estimation (Leptonica-style: tile statistic on a reduced grid, then a smooth
# per-pixel gain that maps the paper to white).

cdef void tile_percentile_kernel(const uint8_t[:, :, ::1] src, Py_ssize_t tile,
                                 Py_ssize_t step, double q, uint8_t[:, :, ::1] out) noexcept nogil:
    # One pass over each tile fills the histograms of all channels (at most 3).
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2]
    cdef Py_ssize_t th = out.shape[0], tw = out.shape[1]
    cdef Py_ssize_t ty, tx, c, y, x, v, yend, xend
    cdef int32_t hist[3][256]
    cdef int64_t total, rank, acc
    cdef const uint8_t *px
    for ty in range(th):
        yend = (ty + 1) * tile if (ty + 1) * tile < h else h
        for tx in range(tw):
            xend = (tx + 1) * tile if (tx + 1) * tile < w else w
            for c in range(nc):
                for v in range(256):
                    hist[c][v] = 0
            total = 0
            y = ty * tile
            while y < yend:
                x = tx * tile
                while x < xend:
                    px = &src[y, x, 0]
                    for c in range(nc):
                        hist[c][px[c]] += 1
                    total += 1
                    x += step
                y += step
            # Per channel, the smallest level whose cumulative count exceeds q * total.
            rank = <int64_t> (q * total)
            if rank >= total:
                rank = total - 1
            for c in range(nc):
                acc = 0
                for v in range(256):
                    acc += hist[c][v]
                    if acc > rank:
                        break
                out[ty, tx, c] = <uint8_t> v


def tile_percentile(const uint8_t[:, :, ::1] src, Py_ssize_t tile, Py_ssize_t step, double q,
                    uint8_t[:, :, ::1] out):
    """Per tile and channel (1 to 3), the ``q`` quantile (0..1) of every ``step``-th pixel
    in x and y; releases the GIL."""
    with nogil:
        tile_percentile_kernel(src, tile, step, q, out)


cdef void gain_line(const float[:, :, ::1] gain, Py_ssize_t i, Py_ssize_t w,
                    Py_ssize_t tile, float *line) noexcept nogil:
    # Gains of tile row ``i`` at every pixel and channel of a full-width line: linear
    # between tile centres c_j = (j + 0.5) tile - 0.5, constant beyond the outer ones.
    cdef Py_ssize_t tw = gain.shape[1], nc = gain.shape[2], x, c, j
    cdef double f, fx
    for x in range(w):
        f = (x + 0.5) / tile - 0.5
        if f <= 0.0 or tw == 1:
            for c in range(nc):
                line[x * nc + c] = gain[i, 0, c]
            continue
        if f >= tw - 1:
            for c in range(nc):
                line[x * nc + c] = gain[i, tw - 1, c]
            continue
        j = <Py_ssize_t> f
        fx = f - j
        for c in range(nc):
            line[x * nc + c] = <float> (gain[i, j, c] + fx * (gain[i, j + 1, c] - gain[i, j, c]))


cdef void apply_gain_kernel(const uint8_t[:, :, ::1] src, const float[:, :, ::1] gain,
                            Py_ssize_t tile, uint8_t[:, :, ::1] out, float *gt,
                            float *gb) noexcept nogil:
    # Bilinear gain: two full-width gain lines (the tile-centre rows above and below),
    # rebuilt only when the row crosses a tile centre; each pixel row is then one flat,
    # vectorized blend over width * channels bytes.
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2]
    cdef Py_ssize_t th = gain.shape[0], y, i0, i1, cur = -1
    cdef double f
    cdef float wy
    for y in range(h):
        f = (y + 0.5) / tile - 0.5
        if f <= 0.0 or th == 1:
            i0 = 0
            wy = 0.0
        elif f >= th - 1:
            i0 = th - 1
            wy = 0.0
        else:
            i0 = <Py_ssize_t> f
            wy = <float> (f - i0)
        i1 = i0 + 1 if i0 + 1 < th else i0
        if i0 != cur:
            gain_line(gain, i0, w, tile, gt)
            gain_line(gain, i1, w, tile, gb)
            cur = i0
        osd_gain_row(&src[y, 0, 0], &out[y, 0, 0], gt, gb, wy, w * nc)


def apply_gain(const uint8_t[:, :, ::1] src, const float[:, :, ::1] gain, Py_ssize_t tile,
               uint8_t[:, :, ::1] out):
    """``out = min(255, round(src * gain))`` with ``gain`` (per tile centre and channel)
    interpolated bilinearly to every pixel; releases the GIL."""
    cdef Py_ssize_t n = src.shape[1] * src.shape[2]
    cdef float *gt = <float *> malloc(2 * n * sizeof(float))
    if gt == NULL:
        raise MemoryError("apply_gain: out of memory")
    with nogil:
        apply_gain_kernel(src, gain, tile, out, gt, gt + n)
    free(gt)
