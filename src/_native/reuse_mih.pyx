# cython: language_level=3
"""Multi-index hashing kernels for the reuse store's candidate index (callers validate input).

A 256-bit row is cut into 16 substrings of 16 bits.  If two rows are within Hamming distance
``r``, at least one substring differs in at most ``t = r // 16`` bits (pigeonhole), so probing,
in every substring's table, the buckets of all 16-bit values within ``t`` of the query's
substring finds every row within ``r``; each candidate is then checked on all 256 bits.  A row
is reported only from the first substring that is within ``t``, so no row is reported twice
for one query.  Rows are little-endian uint64 words; substring ``s`` is 16-bit word ``s`` of
the row's memory (numpy ``view(np.uint16)``).

Like ``dedup_index``, the loops are compiled for the baseline ISA and with
``target("popcnt")``, chosen at import.
"""

import numpy as np

from libc.stdint cimport uint16_t, int32_t, int64_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>

    #define OSD_MIH_SUBS 16
    #define OSD_MIH_KEYS 65536

    #include "osd_hits.h"

    /* Counting sort of the rows by each substring: order[s * n + j] is the j-th row of
       table s, rows of bucket v at offsets[s * 65537 + v] .. offsets[s * 65537 + v + 1]. */
    static int osd_mih_build(const uint16_t *sub, int64_t n, int32_t *order,
                             int32_t *offsets) {
        int32_t *pos = (int32_t *)malloc(OSD_MIH_KEYS * sizeof(int32_t));
        int64_t i;
        int s, v;
        if (!pos) return -1;
        for (s = 0; s < OSD_MIH_SUBS; s++) {
            int32_t *off = offsets + (int64_t)s * (OSD_MIH_KEYS + 1);
            int32_t *ord = order + (int64_t)s * n;
            memset(pos, 0, OSD_MIH_KEYS * sizeof(int32_t));
            for (i = 0; i < n; i++) pos[sub[i * OSD_MIH_SUBS + s]]++;
            off[0] = 0;
            for (v = 0; v < OSD_MIH_KEYS; v++) {
                off[v + 1] = off[v] + pos[v];
                pos[v] = off[v];
            }
            for (i = 0; i < n; i++) ord[pos[sub[i * OSD_MIH_SUBS + s]]++] = (int32_t)i;
        }
        free(pos);
        return 0;
    }

    #define OSD_MIH_SEARCH(NAME, ATTR)                                                    \\
    ATTR static int NAME(const uint64_t *db, int64_t n, const int32_t *order,             \\
                         const int32_t *offsets, const uint64_t *qs, int64_t nq, int r,   \\
                         const uint16_t *masks, int64_t nmask, osd_hits *out) {       \\
        int t = r / OSD_MIH_SUBS;                                                         \\
        int64_t qi, k, j;                                                                 \\
        int s, s2, d, seen;                                                               \\
        for (qi = 0; qi < nq; qi++) {                                                     \\
            const uint64_t *q = qs + qi * 4;                                              \\
            const uint16_t *qsub = (const uint16_t *)q;                                   \\
            uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];                          \\
            for (s = 0; s < OSD_MIH_SUBS; s++) {                                          \\
                const int32_t *off = offsets + (int64_t)s * (OSD_MIH_KEYS + 1);           \\
                const int32_t *ord = order + (int64_t)s * n;                              \\
                for (k = 0; k < nmask; k++) {                                             \\
                    unsigned v = (unsigned)(qsub[s] ^ masks[k]);                          \\
                    int64_t a = off[v], b = off[v + 1];                                   \\
                    for (j = a; j < b; j++) {                                             \\
                        int64_t row = ord[j];                                             \\
                        const uint64_t *w = db + row * 4;                                 \\
                        d = __builtin_popcountll(w[0] ^ q0)                               \\
                            + __builtin_popcountll(w[1] ^ q1)                             \\
                            + __builtin_popcountll(w[2] ^ q2)                             \\
                            + __builtin_popcountll(w[3] ^ q3);                            \\
                        if (d > r) continue;                                              \\
                        /* reported by the first substring within t only */               \\
                        const uint16_t *rs = (const uint16_t *)w;                         \\
                        seen = 0;                                                         \\
                        for (s2 = 0; s2 < s; s2++)                                        \\
                            if (__builtin_popcount((unsigned)(rs[s2] ^ qsub[s2])) <= t) { \\
                                seen = 1;                                                 \\
                                break;                                                    \\
                            }                                                             \\
                        if (!seen && osd_hits_push(out, row, (int32_t)qi, d)) return -1;   \\
                    }                                                                     \\
                }                                                                         \\
            }                                                                             \\
        }                                                                                 \\
        return 0;                                                                         \\
    }

    OSD_MIH_SEARCH(osd_mih_search_generic, )
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    OSD_MIH_SEARCH(osd_mih_search_popcnt, __attribute__((target("popcnt"))))
    static int osd_mih_has_popcnt(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("popcnt");
    }
    #else
    #define osd_mih_search_popcnt osd_mih_search_generic
    static int osd_mih_has_popcnt(void) { return 0; }
    #endif
    """
    ctypedef struct osd_hits:
        int64_t *row
        int32_t *q
        int32_t *dist
        int64_t n, cap

    void osd_hits_free(osd_hits *h) noexcept nogil
    int osd_mih_build(const uint16_t *sub, int64_t n, int32_t *order,
                      int32_t *offsets) noexcept nogil
    int osd_mih_search_generic(const uint64_t *db, int64_t n, const int32_t *order,
                               const int32_t *offsets, const uint64_t *qs, int64_t nq, int r,
                               const uint16_t *masks, int64_t nmask,
                               osd_hits *out) noexcept nogil
    int osd_mih_search_popcnt(const uint64_t *db, int64_t n, const int32_t *order,
                              const int32_t *offsets, const uint64_t *qs, int64_t nq, int r,
                              const uint16_t *masks, int64_t nmask,
                              osd_hits *out) noexcept nogil
    int osd_mih_has_popcnt() noexcept nogil

ctypedef int (*search_fn)(const uint64_t *, int64_t, const int32_t *, const int32_t *,
                          const uint64_t *, int64_t, int, const uint16_t *, int64_t,
                          osd_hits *) noexcept nogil

cdef search_fn _search = osd_mih_search_popcnt if osd_mih_has_popcnt() else \
    osd_mih_search_generic

#: Substrings per 256-bit row and distinct values of one substring.
SUBSTRINGS = 16
KEYS = 65536


def build_tables(const uint16_t[:, ::1] sub, int32_t[:, ::1] order, int32_t[:, ::1] offsets):
    """Fill ``order`` (16, n) and ``offsets`` (16, 65537) from the rows' substrings
    ``sub`` (n, 16) (a uint16 view of the (n, 4) uint64 rows); n < 2**31."""
    cdef int64_t n = sub.shape[0]
    cdef int rc
    if (sub.shape[1] != SUBSTRINGS or order.shape[0] != SUBSTRINGS or order.shape[1] != n
            or offsets.shape[0] != SUBSTRINGS or offsets.shape[1] != KEYS + 1
            or n >= 2**31):
        raise ValueError("multi-index tables: arrays of mismatched shapes")
    with nogil:
        rc = osd_mih_build(&sub[0, 0] if n else NULL, n,
                           &order[0, 0] if n else NULL, &offsets[0, 0])
    if rc:
        raise MemoryError("multi-index tables: out of memory")


def search(const uint64_t[:, ::1] db, const int32_t[:, ::1] order,
           const int32_t[:, ::1] offsets, const uint64_t[:, ::1] queries, int r,
           const uint16_t[::1] masks):
    """Rows of ``db`` within ``r`` of each query: ``(rows int64, query int32, dist int32)``.

    ``masks`` must be every 16-bit value with at most ``r // 16`` bits set (the probes).
    """
    cdef osd_hits hits
    cdef int rc
    cdef int64_t k
    cdef int64_t[::1] rv
    cdef int32_t[::1] qv, dv
    cdef int64_t n = db.shape[0]
    cdef int64_t nq = queries.shape[0]
    hits.row = NULL
    hits.q = NULL
    hits.dist = NULL
    hits.n = 0
    hits.cap = 0
    # the loops index these arrays without bounds checks
    if (db.shape[1] != 4 or queries.shape[1] != 4 or order.shape[0] != SUBSTRINGS
            or order.shape[1] != n or offsets.shape[0] != SUBSTRINGS
            or offsets.shape[1] != KEYS + 1):
        raise ValueError("multi-index search: arrays of mismatched shapes")
    if n == 0 or nq == 0:
        return (np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32))
    with nogil:
        rc = _search(&db[0, 0], n, &order[0, 0], &offsets[0, 0], &queries[0, 0], nq, r,
                     &masks[0], masks.shape[0], &hits)
    try:
        if rc:
            raise MemoryError("multi-index search: out of memory")
        rows = np.empty(hits.n, np.int64)
        qi = np.empty(hits.n, np.int32)
        dist = np.empty(hits.n, np.int32)
        rv, qv, dv = rows, qi, dist
        for k in range(hits.n):
            rv[k] = hits.row[k]
            qv[k] = hits.q[k]
            dv[k] = hits.dist[k]
    finally:
        osd_hits_free(&hits)
    return rows, qi, dist
