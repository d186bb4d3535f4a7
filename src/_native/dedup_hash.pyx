# cython: language_level=3
"""Perceptual-hash kernels: PDQ (Meta's reference arithmetic) and area resampling.

Callers (``onestop_docs.dedup``) validate shapes and dtypes.  The PDQ kernels reproduce the
float32 operation order of the reference C++ (``pdq/cpp/downscaling``, ``pdq/cpp/hashing``), so
a build without ``-ffast-math`` gives bit-identical 16x16 DCT outputs.
"""

from libc.math cimport cos, sqrt, M_PI
from libc.stdint cimport uint8_t, int64_t
from libc.stdlib cimport malloc, free


cdef float DCT16[16][64]
cdef bint _dct_ready = False


cdef void _init_dct() noexcept nogil:
    # Same expression as the reference: float scale * double cosine, rounded to float.
    global _dct_ready
    cdef float scale = <float>sqrt(2.0 / 64.0)
    cdef int i, j
    for i in range(16):
        for j in range(64):
            DCT16[i][j] = <float>(scale * cos((M_PI / 2.0 / 64.0) * (i + 1) * (2 * j + 1)))
    _dct_ready = True


_init_dct()


cdef void box1d(const float* invec, float* outvec, int n, int stride, int window) noexcept nogil:
    # Reference box1DFloat: running float sum, four phases, division by the current width.
    cdef int half = (window + 2) // 2
    cdef int p1 = half - 1
    cdef int p2 = window - half + 1
    cdef int p3 = n - window
    cdef int p4 = half - 1
    cdef int li = 0, ri = 0, oi = 0, i
    cdef float s = 0.0
    cdef int cur = 0
    for i in range(p1):
        s += invec[ri]
        cur += 1
        ri += stride
    for i in range(p2):
        s += invec[ri]
        cur += 1
        outvec[oi] = s / cur
        ri += stride
        oi += stride
    for i in range(p3):
        s += invec[ri]
        s -= invec[li]
        outvec[oi] = s / cur
        li += stride
        ri += stride
        oi += stride
    for i in range(p4):
        s -= invec[li]
        cur -= 1
        outvec[oi] = s / cur
        li += stride
        oi += stride


cdef void box_cols(const float* src, float* dst, int rows, int cols, int window) noexcept nogil:
    # Same arithmetic as box1d down each column, but swept row by row so that memory is read
    # sequentially (each column keeps its own running sum, count and phase).
    cdef int half = (window + 2) // 2
    cdef int p1 = half - 1
    cdef int p2 = window - half + 1
    cdef int p3 = rows - window
    cdef int p4 = half - 1
    cdef float* s = <float*>malloc(cols * sizeof(float))
    cdef int i, j, ri = 0, li = 0, oi = 0, cur = 0
    cdef const float* rin
    cdef const float* lin
    cdef float* o
    if s == NULL:
        return
    for j in range(cols):
        s[j] = 0.0
    for i in range(p1):
        rin = src + <Py_ssize_t>ri * cols
        for j in range(cols):
            s[j] += rin[j]
        cur += 1
        ri += 1
    for i in range(p2):
        rin = src + <Py_ssize_t>ri * cols
        o = dst + <Py_ssize_t>oi * cols
        cur += 1
        for j in range(cols):
            s[j] += rin[j]
            o[j] = s[j] / cur
        ri += 1
        oi += 1
    for i in range(p3):
        rin = src + <Py_ssize_t>ri * cols
        lin = src + <Py_ssize_t>li * cols
        o = dst + <Py_ssize_t>oi * cols
        for j in range(cols):
            s[j] += rin[j]
            s[j] -= lin[j]
            o[j] = s[j] / cur
        li += 1
        ri += 1
        oi += 1
    for i in range(p4):
        lin = src + <Py_ssize_t>li * cols
        o = dst + <Py_ssize_t>oi * cols
        cur -= 1
        for j in range(cols):
            s[j] -= lin[j]
            o[j] = s[j] / cur
        li += 1
        oi += 1
    free(s)


cdef int pdq_kernel(float* buf1, float* buf2, int rows, int cols,
                    float* out16x16) noexcept nogil:
    """Jarosz tent filter, 64x64 decimation, quality metric and 16x16 DCT; returns quality."""
    cdef float a64[64][64]
    cdef float t[16][64]
    cdef int wr, wc, rep, i, j, k, ini, inj, d, grad = 0, quality
    cdef float s, u, v
    if rows == 64 and cols == 64:
        for i in range(64):
            for j in range(64):
                a64[i][j] = buf1[i * 64 + j]
    else:
        wr = (cols + 2 * 64 - 1) // (2 * 64)
        wc = (rows + 2 * 64 - 1) // (2 * 64)
        for rep in range(2):
            for i in range(rows):
                box1d(buf1 + <Py_ssize_t>i * cols, buf2 + <Py_ssize_t>i * cols, cols, 1, wr)
            box_cols(buf2, buf1, rows, cols, wc)
        for i in range(64):
            ini = <int>(((i + 0.5) * rows) / 64)
            for j in range(64):
                inj = <int>(((j + 0.5) * cols) / 64)
                a64[i][j] = buf1[<Py_ssize_t>ini * cols + inj]
    for i in range(63):
        for j in range(64):
            u = a64[i][j]
            v = a64[i + 1][j]
            d = <int>(((u - v) * 100) / 255)
            grad += d if d >= 0 else -d
    for i in range(64):
        for j in range(63):
            u = a64[i][j]
            v = a64[i][j + 1]
            d = <int>(((u - v) * 100) / 255)
            grad += d if d >= 0 else -d
    quality = grad // 90
    if quality > 100:
        quality = 100
    for i in range(16):
        for j in range(64):
            s = 0.0
            for k in range(64):
                s += DCT16[i][k] * a64[k][j]
            t[i][j] = s
    for i in range(16):
        for j in range(16):
            s = 0.0
            for k in range(64):
                s += t[i][k] * DCT16[j][k]
            out16x16[i * 16 + j] = s
    return quality


def pdq_float(float[:, ::1] buf1, float[:, ::1] buf2, float[:, ::1] out16x16):
    """PDQ float stage on a float32 luma plane ``buf1`` (overwritten; ``buf2`` is scratch).

    Fills ``out16x16`` with the 16x16 DCT block and returns the quality (0..100).  Releases
    the GIL.
    """
    cdef int rows = buf1.shape[0], cols = buf1.shape[1], q
    with nogil:
        q = pdq_kernel(&buf1[0, 0], &buf2[0, 0], rows, cols, &out16x16[0, 0])
    return q


def luma_pdq(const uint8_t[:, :, ::1] rgb, float[:, ::1] out):
    """Luma as the ``pdqhash`` package computes it: ``0.299 R + 0.587 G + 0.114 B`` in double,
    rounded to float32."""
    cdef Py_ssize_t h = rgb.shape[0], w = rgb.shape[1], y, x
    with nogil:
        for y in range(h):
            for x in range(w):
                out[y, x] = <float>(rgb[y, x, 0] * 0.299 + rgb[y, x, 1] * 0.587
                                    + rgb[y, x, 2] * 0.114)


def gray_to_float(const uint8_t[:, ::1] img, float[:, ::1] out):
    """Copy a uint8 plane into float32."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y, x
    with nogil:
        for y in range(h):
            for x in range(w):
                out[y, x] = img[y, x]


cdef void _weights(Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t* lo, Py_ssize_t* hi,
                   double* wlo, double* whi) noexcept nogil:
    # Output cell i covers [i * n_in / n_out, (i + 1) * n_in / n_out) of the input axis; the
    # partially covered end pixels get fractional weights.
    cdef Py_ssize_t i
    cdef double a, b, scale = <double>n_in / n_out
    for i in range(n_out):
        a = i * scale
        b = (i + 1) * scale
        lo[i] = <Py_ssize_t>a
        hi[i] = <Py_ssize_t>b
        if hi[i] >= n_in:
            hi[i] = n_in - 1
            whi[i] = 1.0 if b > hi[i] else b - hi[i]
        else:
            whi[i] = b - hi[i]
        wlo[i] = 1.0 - (a - lo[i])
        if lo[i] == hi[i]:
            wlo[i] = b - a
            whi[i] = 0.0


def area_resize(const uint8_t[:, ::1] src, double[:, ::1] out):
    """Area-average (box) resampling of ``src`` to ``out.shape``; exact pixel-overlap weights.

    Every input pixel contributes in proportion to the area it shares with the output cell,
    and each output value is the mean over its cell.  Releases the GIL.
    """
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1]
    cdef Py_ssize_t th = out.shape[0], tw = out.shape[1]
    cdef Py_ssize_t y, x, i, k
    cdef double acc, cell = (<double>h / th) * (<double>w / tw)
    cdef Py_ssize_t* xlo = <Py_ssize_t*>malloc(tw * sizeof(Py_ssize_t))
    cdef Py_ssize_t* xhi = <Py_ssize_t*>malloc(tw * sizeof(Py_ssize_t))
    cdef double* xwl = <double*>malloc(tw * sizeof(double))
    cdef double* xwh = <double*>malloc(tw * sizeof(double))
    cdef Py_ssize_t* ylo = <Py_ssize_t*>malloc(th * sizeof(Py_ssize_t))
    cdef Py_ssize_t* yhi = <Py_ssize_t*>malloc(th * sizeof(Py_ssize_t))
    cdef double* ywl = <double*>malloc(th * sizeof(double))
    cdef double* ywh = <double*>malloc(th * sizeof(double))
    cdef double* rows = <double*>malloc(h * tw * sizeof(double))
    cdef int64_t isum
    try:
        if (xlo == NULL or xhi == NULL or xwl == NULL or xwh == NULL or ylo == NULL
                or yhi == NULL or ywl == NULL or ywh == NULL or rows == NULL):
            raise MemoryError()
        with nogil:
            _weights(w, tw, xlo, xhi, xwl, xwh)
            _weights(h, th, ylo, yhi, ywl, ywh)
            for y in range(h):
                for i in range(tw):
                    isum = 0
                    for x in range(xlo[i] + 1, xhi[i]):
                        isum += src[y, x]
                    acc = <double>isum + xwl[i] * src[y, xlo[i]]
                    if xhi[i] != xlo[i]:
                        acc += xwh[i] * src[y, xhi[i]]
                    rows[y * tw + i] = acc
            for k in range(th):
                for i in range(tw):
                    acc = ywl[k] * rows[ylo[k] * tw + i]
                    if yhi[k] != ylo[k]:
                        acc += ywh[k] * rows[yhi[k] * tw + i]
                    for y in range(ylo[k] + 1, yhi[k]):
                        acc += rows[y * tw + i]
                    out[k, i] = acc / cell
    finally:
        free(xlo)
        free(xhi)
        free(xwl)
        free(xwh)
        free(ylo)
        free(yhi)
        free(ywl)
        free(ywh)
        free(rows)


def box_reduce(const uint8_t[:, ::1] src, int factor, float[:, ::1] out):
    """Mean of each ``factor`` x ``factor`` block into float32 ``out`` (ceil-sized; edge blocks
    average the pixels they hold).  Releases the GIL."""
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1]
    cdef Py_ssize_t oh = out.shape[0], ow = out.shape[1], y, x, oy, ox, cnt_y, cnt_x
    cdef unsigned int* acc = <unsigned int*>malloc(ow * sizeof(unsigned int))
    if acc == NULL:
        raise MemoryError()
    try:
        with nogil:
            for oy in range(oh):
                for ox in range(ow):
                    acc[ox] = 0
                cnt_y = factor if (oy + 1) * factor <= h else h - oy * factor
                for y in range(oy * factor, oy * factor + cnt_y):
                    x = 0
                    for ox in range(ow):
                        cnt_x = x + factor if x + factor <= w else w
                        while x < cnt_x:
                            acc[ox] += src[y, x]
                            x += 1
                for ox in range(ow):
                    cnt_x = factor if (ox + 1) * factor <= w else w - ox * factor
                    out[oy, ox] = <float>(<double>acc[ox] / (cnt_x * cnt_y))
    finally:
        free(acc)
