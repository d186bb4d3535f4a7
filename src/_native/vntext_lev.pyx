# cython: language_level=3
"""Edit-distance kernel for character error rates (callers pass code-point arrays)."""

from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc


cdef Py_ssize_t levenshtein_kernel(const uint32_t[::1] a, const uint32_t[::1] b,
                                   Py_ssize_t* row) noexcept nogil:
    # Classic two-row-in-one dynamic programme (Wagner-Fischer), unit costs for insertion,
    # deletion and substitution.  ``row`` has len(b) + 1 slots.
    cdef Py_ssize_t n = a.shape[0], m = b.shape[0], i, j, diag, up, best
    cdef uint32_t ca
    for j in range(m + 1):
        row[j] = j
    for i in range(1, n + 1):
        ca = a[i - 1]
        diag = row[0]
        row[0] = i
        for j in range(1, m + 1):
            up = row[j]
            best = diag + (0 if ca == b[j - 1] else 1)
            if up + 1 < best:
                best = up + 1
            if row[j - 1] + 1 < best:
                best = row[j - 1] + 1
            row[j] = best
            diag = up
    return row[m]


def levenshtein(const uint32_t[::1] a, const uint32_t[::1] b):
    """Return the unit-cost edit distance between two code-point arrays; releases the GIL."""
    cdef Py_ssize_t m = b.shape[0], d
    cdef Py_ssize_t* row = <Py_ssize_t*>malloc((m + 1) * sizeof(Py_ssize_t))
    if row == NULL:
        raise MemoryError()
    try:
        with nogil:
            d = levenshtein_kernel(a, b, row)
    finally:
        free(row)
    return d
