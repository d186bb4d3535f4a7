# cython: language_level=3
"""Hamming-distance kernels for ``onestop_docs.dedup.HashIndex`` (callers validate input).

Hashes are rows of 64-bit words.  The loops are compiled twice, once for the baseline ISA
and once with ``target("popcnt")``; the POPCNT build is chosen at import when the CPU has
the instruction (``__builtin_popcountll`` in a baseline x86-64 build is a slow bit-twiddling
routine), so a portable wheel still runs at full speed.
"""

import numpy as np

from libc.stdint cimport uint8_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>

    #include "osd_hits.h"

    #define OSD_PC(x) __builtin_popcountll(x)

    /* Database rows are processed in blocks that stay in cache while every query of the
       batch is compared with them, so the database is read from memory once per batch.
       For 256-bit rows the first two words are a lower bound on the distance: most rows
       are rejected after half the work. */
    static inline __attribute__((always_inline)) int osd_radius_body(
            const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int r, int64_t block, osd_hits *out) {
        int64_t b0, b1, i, qi;
        int w, dist;
        for (b0 = 0; b0 < n; b0 += block) {
            b1 = b0 + block < n ? b0 + block : n;
            for (qi = 0; qi < nq; qi++) {
                const uint64_t *q = qs + qi * W;
                if (W == 4) {
                    uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
                    for (i = b0; i < b1; i++) {
                        const uint64_t *d = db + i * 4;
                        dist = OSD_PC(d[0] ^ q0) + OSD_PC(d[1] ^ q1);
                        if (dist > r) continue;
                        dist += OSD_PC(d[2] ^ q2) + OSD_PC(d[3] ^ q3);
                        if (dist <= r && (alive == NULL || alive[i]))
                            if (osd_hits_push(out, i, (int32_t)qi, dist)) return -1;
                    }
                } else if (W == 1) {
                    uint64_t q0 = q[0];
                    for (i = b0; i < b1; i++) {
                        dist = OSD_PC(db[i] ^ q0);
                        if (dist <= r && (alive == NULL || alive[i]))
                            if (osd_hits_push(out, i, (int32_t)qi, dist)) return -1;
                    }
                } else {
                    for (i = b0; i < b1; i++) {
                        const uint64_t *d = db + i * W;
                        dist = 0;
                        for (w = 0; w < W; w++) dist += OSD_PC(d[w] ^ q[w]);
                        if (dist <= r && (alive == NULL || alive[i]))
                            if (osd_hits_push(out, i, (int32_t)qi, dist)) return -1;
                    }
                }
            }
        }
        return 0;
    }

    static inline __attribute__((always_inline)) void osd_hist_body(
            const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int64_t block, int64_t *hist) {
        int64_t b0, b1, i, qi;
        int w, dist;
        for (b0 = 0; b0 < n; b0 += block) {
            b1 = b0 + block < n ? b0 + block : n;
            for (qi = 0; qi < nq; qi++) {
                const uint64_t *q = qs + qi * W;
                int64_t *hq = hist + qi * (64 * W + 1);
                for (i = b0; i < b1; i++) {
                    const uint64_t *d = db + i * W;
                    dist = 0;
                    for (w = 0; w < W; w++) dist += OSD_PC(d[w] ^ q[w]);
                    if (alive == NULL || alive[i]) hq[dist]++;
                }
            }
        }
    }

    static int osd_radius_generic(const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int r, int64_t block, osd_hits *out) {
        return osd_radius_body(db, n, W, alive, qs, nq, r, block, out);
    }
    static void osd_hist_generic(const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int64_t block, int64_t *hist) {
        osd_hist_body(db, n, W, alive, qs, nq, block, hist);
    }

    #if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    #define OSD_HAVE_DISPATCH 1
    __attribute__((target("popcnt")))
    static int osd_radius_popcnt(const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int r, int64_t block, osd_hits *out) {
        return osd_radius_body(db, n, W, alive, qs, nq, r, block, out);
    }
    __attribute__((target("popcnt")))
    static void osd_hist_popcnt(const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int64_t block, int64_t *hist) {
        osd_hist_body(db, n, W, alive, qs, nq, block, hist);
    }
    static int osd_cpu_has_popcnt(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("popcnt") ? 1 : 0;
    }

    /* Batches on CPUs with AVX-512 VPOPCNTDQ: eight queries sit in the eight 64-bit lanes
       of a register (one register per hash word), each database row is broadcast against
       them, so one XOR + VPOPCNTQ per word gives eight distances at once. */
    #include <immintrin.h>
    #define OSD_HAVE_AVX512 1
    /* Push the hits of one database row: lane l of ``m`` set means query g + l is within
       the radius, at the distance in lane l of ``s``. */
    __attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
    static inline int osd_push_lanes(osd_hits *out, int64_t i, int64_t g, __mmask8 m,
                                     __m512i s) {
        uint64_t dist[8];
        int lane;
        _mm512_storeu_si512((void *)dist, s);
        while (m) {
            lane = __builtin_ctz((unsigned)m);
            m &= (__mmask8)(m - 1);
            if (osd_hits_push(out, i, (int32_t)(g + lane), (int32_t)dist[lane])) return -1;
        }
        return 0;
    }

    __attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
    static int osd_radius_avx512(const uint64_t *db, int64_t n, int W, const uint8_t *alive,
            const uint64_t *qs, int64_t nq, int r, int64_t block, osd_hits *out) {
        int64_t b0, b1, i, g;
        int w, lane;
        uint64_t idx[8];
        if (nq < 4 || (W != 1 && W != 4))
            return osd_radius_popcnt(db, n, W, alive, qs, nq, r, block, out);
        const __m512i rv = _mm512_set1_epi64(r);
        for (b0 = 0; b0 < n; b0 += block) {
            b1 = b0 + block < n ? b0 + block : n;
            for (g = 0; g < nq; g += 8) {
                int nl = nq - g < 8 ? (int)(nq - g) : 8;
                __mmask8 lanes = (__mmask8)((1u << nl) - 1u);
                __m512i q[4];
                for (w = 0; w < W; w++) {
                    for (lane = 0; lane < 8; lane++)
                        idx[lane] = qs[(g + (lane < nl ? lane : nl - 1)) * W + w];
                    q[w] = _mm512_loadu_si512((const void *)idx);
                }
                if (W == 4) {
                    for (i = b0; i < b1; i++) {
                        const uint64_t *d = db + i * 4;
                        __m512i s = _mm512_popcnt_epi64(
                            _mm512_xor_si512(q[0], _mm512_set1_epi64((long long)d[0])));
                        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(
                            _mm512_xor_si512(q[1], _mm512_set1_epi64((long long)d[1]))));
                        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(
                            _mm512_xor_si512(q[2], _mm512_set1_epi64((long long)d[2]))));
                        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(
                            _mm512_xor_si512(q[3], _mm512_set1_epi64((long long)d[3]))));
                        __mmask8 m = _mm512_mask_cmple_epu64_mask(lanes, s, rv);
                        if (m && (alive == NULL || alive[i]) && osd_push_lanes(out, i, g, m, s))
                            return -1;
                    }
                } else {
                    for (i = b0; i < b1; i++) {
                        __m512i s = _mm512_popcnt_epi64(
                            _mm512_xor_si512(q[0], _mm512_set1_epi64((long long)db[i])));
                        __mmask8 m = _mm512_mask_cmple_epu64_mask(lanes, s, rv);
                        if (m && (alive == NULL || alive[i]) && osd_push_lanes(out, i, g, m, s))
                            return -1;
                    }
                }
            }
        }
        return 0;
    }
    static int osd_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")
                && __builtin_cpu_supports("popcnt")) ? 1 : 0;
    }
    #else
    #define OSD_HAVE_DISPATCH 0
    /* Other architectures (aarch64: CNT) have a native popcount in the baseline ISA. */
    #define osd_radius_popcnt osd_radius_generic
    #define osd_hist_popcnt osd_hist_generic
    #define osd_radius_avx512 osd_radius_generic
    #define OSD_HAVE_AVX512 0
    static int osd_cpu_has_popcnt(void) { return 0; }
    static int osd_cpu_has_avx512(void) { return 0; }
    #endif

    typedef int (*osd_radius_fn)(const uint64_t *, int64_t, int, const uint8_t *,
                                 const uint64_t *, int64_t, int, int64_t, osd_hits *);
    typedef void (*osd_hist_fn)(const uint64_t *, int64_t, int, const uint8_t *,
                                const uint64_t *, int64_t, int64_t, int64_t *);
    """
    ctypedef struct osd_hits:
        int64_t *row
        int32_t *q
        int32_t *dist
        int64_t n
        int64_t cap
    ctypedef int (*osd_radius_fn)(const uint64_t *, int64_t, int, const uint8_t *,
                                  const uint64_t *, int64_t, int, int64_t,
                                  osd_hits *) noexcept nogil
    ctypedef void (*osd_hist_fn)(const uint64_t *, int64_t, int, const uint8_t *,
                                 const uint64_t *, int64_t, int64_t, int64_t *) noexcept nogil
    int OSD_HAVE_DISPATCH
    void osd_hits_free(osd_hits *h) noexcept nogil
    int osd_radius_generic(const uint64_t *, int64_t, int, const uint8_t *,
                           const uint64_t *, int64_t, int, int64_t, osd_hits *) noexcept nogil
    int osd_radius_popcnt(const uint64_t *, int64_t, int, const uint8_t *,
                          const uint64_t *, int64_t, int, int64_t, osd_hits *) noexcept nogil
    void osd_hist_generic(const uint64_t *, int64_t, int, const uint8_t *,
                          const uint64_t *, int64_t, int64_t, int64_t *) noexcept nogil
    void osd_hist_popcnt(const uint64_t *, int64_t, int, const uint8_t *,
                         const uint64_t *, int64_t, int64_t, int64_t *) noexcept nogil
    int osd_radius_avx512(const uint64_t *, int64_t, int, const uint8_t *,
                          const uint64_t *, int64_t, int, int64_t, osd_hits *) noexcept nogil
    int osd_cpu_has_popcnt() noexcept nogil
    int osd_cpu_has_avx512() noexcept nogil


cdef osd_radius_fn _radius = osd_radius_generic
cdef osd_hist_fn _hist = osd_hist_generic
cdef str _impl = "generic"


def select_impl(str name):
    """Choose the kernel build: ``"auto"`` (the best the CPU runs), ``"avx512"`` (AVX-512
    VPOPCNTDQ for batches of 4 or more queries, POPCNT otherwise), ``"popcnt"`` or
    ``"generic"``; returns the name in use.  A build the CPU cannot run raises RuntimeError."""
    global _radius, _hist, _impl
    if name == "auto":
        name = ("avx512" if osd_cpu_has_avx512() else
                "popcnt" if osd_cpu_has_popcnt() else "generic")
    if name == "avx512":
        if not osd_cpu_has_avx512():
            raise RuntimeError("this CPU has no AVX-512 VPOPCNTDQ")
        _radius = osd_radius_avx512
        _hist = osd_hist_popcnt
    elif name == "popcnt":
        if OSD_HAVE_DISPATCH and not osd_cpu_has_popcnt():
            raise RuntimeError("this CPU has no POPCNT instruction")
        _radius = osd_radius_popcnt
        _hist = osd_hist_popcnt
    elif name == "generic":
        _radius = osd_radius_generic
        _hist = osd_hist_generic
    else:
        raise ValueError(f"unknown kernel build {name!r}")
    _impl = name
    return _impl


def impl():
    """Name of the kernel build in use: ``"avx512"``, ``"popcnt"`` or ``"generic"``."""
    return _impl


select_impl("auto")


def radius_search(const uint64_t[:, ::1] db, const uint8_t[::1] alive,
                  const uint64_t[:, ::1] queries, int r, Py_ssize_t block):
    """All (row, query, distance) with distance <= r; ``alive`` empty means every row.

    ``db`` and ``queries`` must have the same (non-zero) number of columns and at least one
    row each.  Returns three arrays (int64 rows, int32 query indices, int32 distances) in
    block order.  Releases the GIL.
    """
    cdef osd_hits hits
    cdef int rc
    cdef const uint8_t* ap = NULL
    cdef int64_t n = db.shape[0], nq = queries.shape[0]
    cdef int W = <int>db.shape[1]
    hits.row = NULL
    hits.q = NULL
    hits.dist = NULL
    hits.n = 0
    hits.cap = 0
    if alive.shape[0] > 0:
        ap = &alive[0]
    with nogil:
        rc = _radius(&db[0, 0], n, W, ap, &queries[0, 0], nq, r, block, &hits)
    try:
        if rc != 0:
            raise MemoryError("out of memory collecting radius-search hits")
        rows = np.empty(hits.n, np.int64)
        qidx = np.empty(hits.n, np.int32)
        dist = np.empty(hits.n, np.int32)
        if hits.n:
            _copy_hits(rows, qidx, dist, &hits)
        return rows, qidx, dist
    finally:
        osd_hits_free(&hits)


cdef void _copy_hits(int64_t[::1] rows, int32_t[::1] qidx, int32_t[::1] dist,
                     osd_hits* hits) noexcept:
    memcpy(&rows[0], hits.row, hits.n * sizeof(int64_t))
    memcpy(&qidx[0], hits.q, hits.n * sizeof(int32_t))
    memcpy(&dist[0], hits.dist, hits.n * sizeof(int32_t))


def distance_histogram(const uint64_t[:, ::1] db, const uint8_t[::1] alive,
                       const uint64_t[:, ::1] queries, int64_t[:, ::1] hist, Py_ssize_t block):
    """Add to ``hist[q, d]`` the number of live rows at distance d from query q.

    ``hist`` has shape (n_queries, 64 * words + 1).  Releases the GIL.
    """
    cdef const uint8_t* ap = NULL
    cdef int64_t n = db.shape[0], nq = queries.shape[0]
    cdef int W = <int>db.shape[1]
    if alive.shape[0] > 0:
        ap = &alive[0]
    with nogil:
        _hist(&db[0, 0], n, W, ap, &queries[0, 0], nq, block, &hist[0, 0])
