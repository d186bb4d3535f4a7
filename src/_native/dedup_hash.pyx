# cython: language_level=3
"""Perceptual-hash kernels: PDQ (Meta's reference arithmetic) and area resampling.

Callers (``onestop_docs.dedup``) validate shapes and dtypes.  The PDQ kernels reproduce the
float32 operation order of the reference C++ (``pdq/cpp/downscaling``, ``pdq/cpp/hashing``), so
a build without ``-ffast-math`` gives bit-identical 16x16 DCT outputs.
"""

from libc.math cimport cos, sqrt, M_PI
from libc.stdint cimport uint8_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy


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
    cdef int li = 0, ri = 0, oi = 0, _i
    cdef float s = 0.0
    cdef int cur = 0
    for _i in range(p1):
        s += invec[ri]
        cur += 1
        ri += stride
    for _i in range(p2):
        s += invec[ri]
        cur += 1
        outvec[oi] = s / cur
        ri += stride
        oi += stride
    for _i in range(p3):
        s += invec[ri]
        s -= invec[li]
        outvec[oi] = s / cur
        li += stride
        ri += stride
        oi += stride
    for _i in range(p4):
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
    cdef int _i, j, ri = 0, li = 0, oi = 0, cur = 0
    cdef const float* rin
    cdef const float* lin
    cdef float* o
    if s == NULL:
        return
    for j in range(cols):
        s[j] = 0.0
    for _i in range(p1):
        rin = src + <Py_ssize_t>ri * cols
        for j in range(cols):
            s[j] += rin[j]
        cur += 1
        ri += 1
    for _i in range(p2):
        rin = src + <Py_ssize_t>ri * cols
        o = dst + <Py_ssize_t>oi * cols
        cur += 1
        for j in range(cols):
            s[j] += rin[j]
            o[j] = s[j] / cur
        ri += 1
        oi += 1
    for _i in range(p3):
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
    for _i in range(p4):
        lin = src + <Py_ssize_t>li * cols
        o = dst + <Py_ssize_t>oi * cols
        cur -= 1
        for j in range(cols):
            s[j] -= lin[j]
            o[j] = s[j] / cur
        li += 1
        oi += 1
    free(s)


cdef void box1d_int(const uint8_t* invec, float* outvec, int n, int window) noexcept nogil:
    # box1d on integer input: the reference's float running sum of integers below 2**24 is
    # exact, so an integer sum gives the same floats.
    cdef int half = (window + 2) // 2
    cdef int p1 = half - 1
    cdef int p2 = window - half + 1
    cdef int p3 = n - window
    cdef int p4 = half - 1
    cdef int li = 0, ri = 0, oi = 0, _i, s = 0, cur = 0
    cdef float fw = <float>window
    for _i in range(p1):
        s += invec[ri]
        cur += 1
        ri += 1
    for _i in range(p2):
        s += invec[ri]
        cur += 1
        outvec[oi] = <float>s / cur
        ri += 1
        oi += 1
    for _i in range(p3):
        s += invec[ri]
        s -= invec[li]
        outvec[oi] = <float>s / fw
        li += 1
        ri += 1
        oi += 1
    for _i in range(p4):
        s -= invec[li]
        cur -= 1
        outvec[oi] = <float>s / cur
        li += 1
        oi += 1


cdef enum:
    LANES = 8


cdef inline void _store(float** o, const float* acc, int nl, int cur, int oi,
                        const int* samp, int* k) noexcept nogil:
    cdef int q
    if samp == NULL:
        for q in range(nl):
            o[q][oi] = acc[q] / cur
        return
    while k[0] < 64 and samp[k[0]] == oi:
        for q in range(nl):
            o[q][k[0]] = acc[q] / cur
        k[0] += 1


cdef void rows_box(const float* src, float* dst, int rows, int cols, int window,
                   const int* samp) noexcept nogil:
    # box1d along every row.  With ``samp`` (64 increasing decimation columns) only those
    # outputs are divided and stored (dst is rows x 64); the running sums still pass every
    # column in the reference's order.  Without it dst is rows x cols.  LANES rows are swept
    # together: each row keeps its own float sum and order of operations, and the
    # independent dependency chains overlap in the pipeline.
    cdef int half = (window + 2) // 2
    cdef int p1 = half - 1
    cdef int p2 = window - half + 1
    cdef int p3 = cols - window
    cdef int p4 = half - 1
    cdef int r0, nl, q, li, ri, oi, _i, cur, k
    cdef int ostride = cols if samp == NULL else 64
    cdef float acc[LANES]
    cdef const float* v[LANES]
    cdef float* o[LANES]
    r0 = 0
    while r0 < rows:
        nl = LANES if r0 + LANES <= rows else rows - r0
        for q in range(LANES):
            # spare lanes repeat the last row; they are computed but never stored
            v[q] = src + <Py_ssize_t>(r0 + (q if q < nl else nl - 1)) * cols
            o[q] = dst + <Py_ssize_t>(r0 + (q if q < nl else nl - 1)) * ostride
            acc[q] = 0.0
        li = 0
        ri = 0
        oi = 0
        cur = 0
        k = 0
        for _i in range(p1):
            for q in range(LANES):
                acc[q] += v[q][ri]
            cur += 1
            ri += 1
        for _i in range(p2):
            for q in range(LANES):
                acc[q] += v[q][ri]
            cur += 1
            _store(o, acc, nl, cur, oi, samp, &k)
            ri += 1
            oi += 1
        for _i in range(p3):
            for q in range(LANES):
                acc[q] += v[q][ri]
            for q in range(LANES):
                acc[q] -= v[q][li]
            _store(o, acc, nl, cur, oi, samp, &k)
            li += 1
            ri += 1
            oi += 1
        for _i in range(p4):
            for q in range(LANES):
                acc[q] -= v[q][li]
            cur -= 1
            _store(o, acc, nl, cur, oi, samp, &k)
            li += 1
            oi += 1
        r0 += LANES


cdef int pdq_finish(float a64[64][64], float* out16x16) noexcept nogil:
    """Quality metric and 16x16 DCT of the decimated 64x64 plane; returns quality."""
    cdef float t[16][64]
    cdef int i, j, k, d, grad = 0, quality
    cdef float s, u, v
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


cdef void pdq_tail(float* buf1, float* buf2, int rows, int cols, int wr, int wc,
                   float a64[64][64]) noexcept nogil:
    # buf1 holds the first row pass (buf2 is scratch; both are overwritten).  Column pass,
    # then the second row and column passes restricted to the decimation columns, then
    # decimation of the rows.
    cdef int samp[64]
    cdef int i, j
    for j in range(64):
        samp[j] = <int>(((j + 0.5) * cols) / 64)
    box_cols(buf1, buf2, rows, cols, wc)
    rows_box(buf2, buf1, rows, cols, wr, samp)
    box_cols(buf1, buf2, rows, 64, wc)
    for i in range(64):
        j = <int>(((i + 0.5) * rows) / 64)
        memcpy(&a64[i][0], buf2 + <Py_ssize_t>j * 64, 64 * sizeof(float))


cdef int pdq_kernel(float* buf1, float* buf2, int rows, int cols,
                    float* out16x16) noexcept nogil:
    """Jarosz tent filter, 64x64 decimation, quality metric and 16x16 DCT; returns quality."""
    cdef float a64[64][64]
    cdef int wr, wc, i, j, ini, inj, _rep
    if rows == 64 and cols == 64:
        for i in range(64):
            for j in range(64):
                a64[i][j] = buf1[i * 64 + j]
        return pdq_finish(a64, out16x16)
    wr = (cols + 2 * 64 - 1) // (2 * 64)
    wc = (rows + 2 * 64 - 1) // (2 * 64)
    if cols >= 64:
        rows_box(buf1, buf2, rows, cols, wr, NULL)
        pdq_tail(buf2, buf1, rows, cols, wr, wc, a64)
        return pdq_finish(a64, out16x16)
    for _rep in range(2):
        for i in range(rows):
            box1d(buf1 + <Py_ssize_t>i * cols, buf2 + <Py_ssize_t>i * cols, cols, 1, wr)
        box_cols(buf2, buf1, rows, cols, wc)
    for i in range(64):
        ini = <int>(((i + 0.5) * rows) / 64)
        for j in range(64):
            inj = <int>(((j + 0.5) * cols) / 64)
            a64[i][j] = buf1[<Py_ssize_t>ini * cols + inj]
    return pdq_finish(a64, out16x16)


def pdq_float(float[:, ::1] buf1, float[:, ::1] buf2, float[:, ::1] out16x16):
    """PDQ float stage on a float32 luma plane ``buf1`` (overwritten; ``buf2`` is scratch).

    Fills ``out16x16`` with the 16x16 DCT block and returns the quality (0..100).  Releases
    the GIL.
    """
    cdef int rows = buf1.shape[0], cols = buf1.shape[1], q
    with nogil:
        q = pdq_kernel(&buf1[0, 0], &buf2[0, 0], rows, cols, &out16x16[0, 0])
    return q


cdef struct R1Source:
    const uint8_t* img
    int channels
    int rows
    int cols
    int wr
    float* luma
    float* chunk
    double* tr
    double* tg
    double* tb


cdef inline void _first_pass_row(R1Source* src, int ri, float* dst) noexcept nogil:
    # Row ri of the first (row) pass.  Grey: integer sums.  RGB: the reference's float luma,
    # made LANES rows at a time and swept together by rows_box.
    cdef int q, x, nl, cols = src.cols
    cdef const uint8_t* p
    cdef float* lrow
    if src.channels == 1:
        box1d_int(src.img + <Py_ssize_t>ri * cols, dst, cols, src.wr)
        return
    if ri % LANES == 0:
        nl = LANES if ri + LANES <= src.rows else src.rows - ri
        for q in range(nl):
            p = src.img + <Py_ssize_t>(ri + q) * cols * 3
            lrow = src.luma + <Py_ssize_t>q * cols
            for x in range(cols):
                lrow[x] = <float>(src.tr[p[3 * x]] + src.tg[p[3 * x + 1]] + src.tb[p[3 * x + 2]])
        rows_box(src.luma, src.chunk, nl, cols, src.wr, NULL)
    memcpy(dst, src.chunk + <Py_ssize_t>(ri % LANES) * cols, cols * sizeof(float))


cdef int pdq_stream(R1Source* src, int rows, int cols, float* ring, float* colsum,
                    float* batch, float* compact, float a64[64][64]) noexcept nogil:
    # The reference passes (rows, columns, rows, columns) fused into one sweep down the
    # page, so no full-size float plane is ever written: first-pass rows are made on demand
    # into a ring of (window + 1) rows, the column pass keeps one running sum per column,
    # its output rows are gathered LANES at a time for the sampled second row pass, and only
    # the rows x 64 result goes through the last column pass.  Every sum is formed in the
    # reference's order.  Buffers: ring (wc + 1) x cols, colsum cols, batch LANES x cols,
    # compact rows x 64.
    cdef int wr = (cols + 2 * 64 - 1) // (2 * 64)
    cdef int wc = (rows + 2 * 64 - 1) // (2 * 64)
    cdef int nring = wc + 1
    cdef int half = (wc + 2) // 2
    cdef int p1 = half - 1
    cdef int p2 = wc - half + 1
    cdef int p3 = rows - wc
    cdef int p4 = half - 1
    cdef int samp[64]
    cdef int ri = 0, li = 0, oi = 0, cur = 0, _i, j, base = 0
    cdef float* rr
    cdef const float* ll
    cdef float* o
    for j in range(64):
        samp[j] = <int>(((j + 0.5) * cols) / 64)
    for j in range(cols):
        colsum[j] = 0.0
    for _i in range(p1):
        rr = ring + <Py_ssize_t>(ri % nring) * cols
        _first_pass_row(src, ri, rr)
        for j in range(cols):
            colsum[j] += rr[j]
        cur += 1
        ri += 1
    for _i in range(p2 + p3 + p4):
        if _i < p2 + p3:
            rr = ring + <Py_ssize_t>(ri % nring) * cols
            _first_pass_row(src, ri, rr)
        o = batch + <Py_ssize_t>(oi % LANES) * cols
        if _i < p2:
            cur += 1
            for j in range(cols):
                colsum[j] += rr[j]
                o[j] = colsum[j] / cur
            ri += 1
        elif _i < p2 + p3:
            ll = ring + <Py_ssize_t>(li % nring) * cols
            for j in range(cols):
                colsum[j] += rr[j]
                colsum[j] -= ll[j]
                o[j] = colsum[j] / cur
            li += 1
            ri += 1
        else:
            ll = ring + <Py_ssize_t>(li % nring) * cols
            cur -= 1
            for j in range(cols):
                colsum[j] -= ll[j]
                o[j] = colsum[j] / cur
            li += 1
        oi += 1
        if oi % LANES == 0 or oi == rows:
            rows_box(batch, compact + <Py_ssize_t>base * 64, oi - base, cols, wr, samp)
            base = oi
    box_cols(compact, ring, rows, 64, wc)
    for _i in range(64):
        j = <int>(((_i + 0.5) * rows) / 64)
        memcpy(&a64[_i][0], ring + <Py_ssize_t>j * 64, 64 * sizeof(float))
    return 0


def pdq_stream_plane(const uint8_t[:, ::1] img, int channels, float[:, ::1] out16x16):
    """PDQ float stage on a uint8 plane (``channels`` 1: grey H x W; 3: RGB as H x 3W) with
    at least 64 rows and columns.

    Same result as ``pdq_float`` on the luma plane: grey first-pass sums are done in
    integers (exact below 2**24), RGB luma is the ``pdqhash`` double-precision formula, and
    the passes are fused so that no full-size float plane is written.  Returns the quality;
    releases the GIL.
    """
    cdef int rows = img.shape[0], cols = img.shape[1] // channels, q = 0, v
    cdef int wc = (rows + 2 * 64 - 1) // (2 * 64)
    cdef float a64[64][64]
    cdef double tr[256]
    cdef double tg[256]
    cdef double tb[256]
    cdef R1Source src
    cdef Py_ssize_t nring = max(<Py_ssize_t>(wc + 1) * cols, <Py_ssize_t>rows * 64)
    cdef float* ring = <float*>malloc(nring * sizeof(float))
    cdef float* colsum = <float*>malloc(cols * sizeof(float))
    cdef float* batch = <float*>malloc(<Py_ssize_t>LANES * cols * sizeof(float))
    cdef float* compact = <float*>malloc(<Py_ssize_t>rows * 64 * sizeof(float))
    cdef float* luma = <float*>malloc(<Py_ssize_t>LANES * cols * sizeof(float))
    cdef float* chunk = <float*>malloc(<Py_ssize_t>LANES * cols * sizeof(float))
    for v in range(256):
        tr[v] = v * 0.299
        tg[v] = v * 0.587
        tb[v] = v * 0.114
    src.img = &img[0, 0]
    src.channels = channels
    src.rows = rows
    src.cols = cols
    src.wr = (cols + 2 * 64 - 1) // (2 * 64)
    src.luma = luma
    src.chunk = chunk
    src.tr = tr
    src.tg = tg
    src.tb = tb
    try:
        if (ring == NULL or colsum == NULL or batch == NULL or compact == NULL or luma == NULL
                or chunk == NULL):
            raise MemoryError()
        with nogil:
            pdq_stream(&src, rows, cols, ring, colsum, batch, compact, a64)
            q = pdq_finish(a64, &out16x16[0, 0])
        return q
    finally:
        free(ring)
        free(colsum)
        free(batch)
        free(compact)
        free(luma)
        free(chunk)


def luma_pdq(const uint8_t[:, :, ::1] rgb, float[:, ::1] out):
    """Luma as the ``pdqhash`` package computes it: ``0.299 R + 0.587 G + 0.114 B`` in double,
    rounded to float32.  The three products come from tables (the same doubles), so only
    the two additions are left per pixel."""
    cdef Py_ssize_t h = rgb.shape[0], w = rgb.shape[1], y, x
    cdef double tr[256]
    cdef double tg[256]
    cdef double tb[256]
    cdef int v
    cdef const uint8_t* p
    for v in range(256):
        tr[v] = v * 0.299
        tg[v] = v * 0.587
        tb[v] = v * 0.114
    with nogil:
        for y in range(h):
            p = &rgb[y, 0, 0]
            for x in range(w):
                out[y, x] = <float>(tr[p[3 * x]] + tg[p[3 * x + 1]] + tb[p[3 * x + 2]])


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
