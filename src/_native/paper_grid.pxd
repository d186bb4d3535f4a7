# cython: language_level=3
"""Bilinear interpolation of a per-cell paper level, shared by capture.pyx (``flatten``) and
dedup_key.pyx (``darkness``): one level per ``block`` x ``block`` cell, cell centres at
``(k + 0.5) * block``, clamped at the borders.  Callers hold no GIL; ``paper_grid_init``
returns -1 when memory runs out (raise MemoryError after it, with the GIL)."""

from libc.stdlib cimport malloc, free


cdef struct PaperGrid:
    Py_ssize_t* x0  # per column: the cell on its left
    float* wx  # per column: weight of the cell on its right
    float* prow  # the current row's levels, one per cell column (+1 pad)
    Py_ssize_t gr, gc
    int block


cdef inline int paper_grid_init(PaperGrid* g, Py_ssize_t cols, Py_ssize_t gr, Py_ssize_t gc,
                                int block) noexcept nogil:
    cdef Py_ssize_t j
    cdef double fx
    g.gr = gr
    g.gc = gc
    g.block = block
    g.x0 = <Py_ssize_t*>malloc(cols * sizeof(Py_ssize_t))
    g.wx = <float*>malloc(cols * sizeof(float))
    g.prow = <float*>malloc((gc + 1) * sizeof(float))
    if g.x0 == NULL or g.wx == NULL or g.prow == NULL:
        paper_grid_free(g)
        return -1
    for j in range(cols):
        fx = (j + 0.5) / block - 0.5
        if fx < 0:
            fx = 0
        if fx > gc - 1:
            fx = gc - 1
        g.x0[j] = <Py_ssize_t>fx
        g.wx[j] = <float>(fx - g.x0[j])
    return 0


cdef inline void paper_grid_row(PaperGrid* g, const float[:, ::1] paper,
                                Py_ssize_t i) noexcept nogil:
    # The levels of image row i, interpolated between the cell rows around it.
    cdef Py_ssize_t k, y0, y1
    cdef double fy, wy
    fy = (i + 0.5) / g.block - 0.5
    if fy < 0:
        fy = 0
    if fy > g.gr - 1:
        fy = g.gr - 1
    y0 = <Py_ssize_t>fy
    y1 = y0 + 1 if y0 + 1 < g.gr else y0
    wy = fy - y0
    for k in range(g.gc):
        g.prow[k] = <float>((1 - wy) * paper[y0, k] + wy * paper[y1, k])
    g.prow[g.gc] = g.prow[g.gc - 1]


cdef inline double paper_grid_at(PaperGrid* g, Py_ssize_t j) noexcept nogil:
    # The level at column j of the current row, never below 16.
    cdef double p = g.prow[g.x0[j]] * (1 - g.wx[j]) + g.prow[g.x0[j] + 1] * g.wx[j]
    return 16.0 if p < 16 else p


cdef inline void paper_grid_free(PaperGrid* g) noexcept nogil:
    free(g.x0)
    free(g.wx)
    free(g.prow)
    g.x0 = NULL
    g.wx = NULL
    g.prow = NULL
