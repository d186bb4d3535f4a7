# cython: boundscheck=False, wraparound=False, cdivision=True
"""Lossless context coding of pairs of bilevel planes (a document key's ink and tolerance).

An adaptive binary range coder (the carry-propagating coder of LZMA, with 16-bit
probabilities) driven by a context model in the manner of JBIG's generic region:

* a row flag first: is the row all zero (context: was the previous row all zero);
* the ink plane, pixel by pixel on rows that are not all zero, in the context of ten
  causal neighbours (row r-2: c-1..c+1, row r-1: c-2..c+2, row r: c-2, c-1);
* the tolerance plane, in the context of six causal neighbours of its own (row r-2: c,
  row r-1: c-1..c+1, row r: c-2, c-1) and two bits of the ink plane, which the decoder
  already has in full: ink within one pixel of (r, c), ink within two pixels.

Outside the plane reads as 0.  Any non-zero byte of a plane is coded as 1.
The Python layer (``onestop_docs.dedup._key``) validates sizes and owns the format; these
kernels assume checked input, run without the GIL and never read or write out of bounds,
whatever the coded bytes are (a decoder that runs out of input reads zeros and reports it).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

cdef enum:
    _PROB_BITS = 16
    _PROB_INIT = 32768
    _SHIFT = 5
    _TOP = 1 << 24
    _INK_CTX = 1024
    _TOL_CTX = 256
    _ROW_CTX = 4
    _PAD = 2


cdef struct Enc:
    uint64_t low
    uint32_t rng
    uint8_t cache
    uint64_t cache_size
    uint8_t* out
    Py_ssize_t cap
    Py_ssize_t pos
    int overflow


cdef struct Dec:
    uint32_t rng
    uint32_t code
    const uint8_t* data
    Py_ssize_t size
    Py_ssize_t pos
    Py_ssize_t over


cdef inline void _put(Enc* e, uint8_t b) noexcept nogil:
    if e.pos < e.cap:
        e.out[e.pos] = b
    else:
        e.overflow = 1
    e.pos += 1


cdef inline void _shift_low(Enc* e) noexcept nogil:
    cdef uint8_t carry
    cdef uint8_t temp
    if e.low < <uint64_t>0xFF000000 or e.low > <uint64_t>0xFFFFFFFF:
        carry = <uint8_t>(e.low >> 32)
        temp = e.cache
        while True:
            _put(e, <uint8_t>(temp + carry))
            temp = 0xFF
            e.cache_size -= 1
            if e.cache_size == 0:
                break
        e.cache = <uint8_t>((e.low >> 24) & 0xFF)
    e.cache_size += 1
    e.low = (e.low & <uint64_t>0x00FFFFFF) << 8


cdef inline void _enc_bit(Enc* e, uint16_t* p, int bit) noexcept nogil:
    cdef uint32_t bound = (e.rng >> _PROB_BITS) * p[0]
    if bit == 0:
        e.rng = bound
        p[0] = <uint16_t>(p[0] + ((65536 - p[0]) >> _SHIFT))
    else:
        e.low += bound
        e.rng -= bound
        p[0] = <uint16_t>(p[0] - (p[0] >> _SHIFT))
    while e.rng < _TOP:
        e.rng <<= 8
        _shift_low(e)


cdef inline uint8_t _get(Dec* d) noexcept nogil:
    if d.pos < d.size:
        d.pos += 1
        return d.data[d.pos - 1]
    d.over += 1
    return 0


cdef inline int _dec_bit(Dec* d, uint16_t* p) noexcept nogil:
    cdef uint32_t bound = (d.rng >> _PROB_BITS) * p[0]
    cdef int bit
    if d.code < bound:
        d.rng = bound
        p[0] = <uint16_t>(p[0] + ((65536 - p[0]) >> _SHIFT))
        bit = 0
    else:
        d.code -= bound
        d.rng -= bound
        p[0] = <uint16_t>(p[0] - (p[0] >> _SHIFT))
        bit = 1
    while d.rng < _TOP:
        d.rng <<= 8
        d.code = (d.code << 8) | _get(d)
    return bit


cdef inline void _init_probs(uint16_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = _PROB_INIT


cdef struct Work:
    uint16_t* probs
    uint8_t* pad_i
    uint8_t* pad_t
    uint8_t* near1
    uint8_t* near2
    uint8_t* tmp


cdef int _alloc(Work* w, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    # zeroed buffers: probabilities, the two planes padded by _PAD on every side, the
    # ink-nearness planes and their scratch; 0 on success (else all NULL-safe to release)
    cdef Py_ssize_t stride = cols + 2 * _PAD
    w.probs = <uint16_t*>calloc(2 * _ROW_CTX + _INK_CTX + _TOL_CTX, sizeof(uint16_t))
    w.pad_i = <uint8_t*>calloc((rows + 2 * _PAD) * stride, 1)
    w.pad_t = <uint8_t*>calloc((rows + 2 * _PAD) * stride, 1)
    w.near1 = <uint8_t*>calloc(rows * cols + 1, 1)
    w.near2 = <uint8_t*>calloc(rows * cols + 1, 1)
    w.tmp = <uint8_t*>calloc((rows + 2 * _PAD) * cols + 1, 1)
    if (w.probs == NULL or w.pad_i == NULL or w.pad_t == NULL or w.near1 == NULL
            or w.near2 == NULL or w.tmp == NULL):
        return -1
    _init_probs(w.probs, 2 * _ROW_CTX + _INK_CTX + _TOL_CTX)
    return 0


cdef void _release(Work* w) noexcept nogil:
    free(w.probs)
    free(w.pad_i)
    free(w.pad_t)
    free(w.near1)
    free(w.near2)
    free(w.tmp)


cdef inline int _row_empty(const uint8_t* row, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t c
    for c in range(cols):
        if row[c]:
            return 0
    return 1


cdef void _near(const uint8_t* ink, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t stride,
                int radius, uint8_t* tmp, uint8_t* out) noexcept nogil:
    # out (rows x cols, unpadded) = 1 where ink (padded, row stride `stride`, origin at
    # (_PAD, _PAD)) has a 1 within `radius` pixels (a square); tmp: rows + 2 _PAD rows of
    # cols, whose last byte (index (rows + 2 _PAD) cols) marks nothing; all-white rows are
    # skipped (a row of tmp is all 0 where its source row is)
    cdef Py_ssize_t r, c, k
    cdef const uint8_t* src
    cdef uint8_t* dst
    cdef uint8_t v
    cdef int any_row
    for r in range(rows + 2 * _PAD):
        src = ink + r * stride
        dst = tmp + r * cols
        if _row_empty(src + _PAD, cols):
            memset(dst, 0, cols)
            continue
        for c in range(cols):
            v = 0
            for k in range(-radius, radius + 1):
                v |= src[c + _PAD + k]
            dst[c] = v
    for r in range(rows):
        dst = out + r * cols
        any_row = 0
        for k in range(-radius, radius + 1):
            if not _row_empty(ink + (r + _PAD + k) * stride + _PAD, cols):
                any_row = 1
                break
        if not any_row:
            memset(dst, 0, cols)
            continue
        for c in range(cols):
            v = 0
            for k in range(-radius, radius + 1):
                v |= tmp[(r + _PAD + k) * cols + c]
            dst[c] = v


ctypedef fused Coder:
    Enc
    Dec


cdef inline int _code_bit(Coder* k, uint16_t* p, int bit) noexcept nogil:
    # one binary decision: encoded (Enc) or decoded (Dec); chosen when compiled
    if Coder is Enc:
        _enc_bit(k, p, bit)
        return bit
    else:
        return _dec_bit(k, p)


cdef inline int _code_row_flag(Coder* k, uint16_t* probs, const uint8_t* row, Py_ssize_t cols,
                               int* prev_empty) noexcept nogil:
    # a row's flag (1: all white, its pixels are not coded), in the context of the row
    # above's flag; a decoded all-white row stays as the zeroed buffer has it
    cdef int empty = _row_empty(row, cols) if Coder is Enc else 0
    empty = _code_bit(k, &probs[prev_empty[0]], empty)
    prev_empty[0] = empty
    return empty


cdef void _code_planes(Work* w, Coder* k, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    # The model, once for both directions: the ink plane then the tolerance plane of
    # w.pad_i / w.pad_t, read when encoding (Enc), written when decoding (Dec).
    cdef Py_ssize_t stride = cols + 2 * _PAD, r, c, i
    cdef uint8_t* r0
    cdef const uint8_t* r1
    cdef const uint8_t* r2
    cdef uint32_t c2, c1, c0, ctx
    cdef int prev_empty, bit
    # the ink plane: a row flag, then ten causal neighbours per pixel
    prev_empty = 1
    for r in range(rows):
        r0 = w.pad_i + (r + _PAD) * stride
        if _code_row_flag(k, w.probs, r0 + _PAD, cols, &prev_empty):
            continue
        r1 = r0 - stride
        r2 = r1 - stride
        c2 = (r2[_PAD - 1] << 1) | r2[_PAD]
        c1 = (r1[_PAD - 2] << 3) | (r1[_PAD - 1] << 2) | (r1[_PAD] << 1) | r1[_PAD + 1]
        c0 = (r0[_PAD - 2] << 1) | r0[_PAD - 1]
        for c in range(cols):
            c2 = ((c2 << 1) | r2[_PAD + c + 1]) & 7
            c1 = ((c1 << 1) | r1[_PAD + c + 2]) & 31
            ctx = (c2 << 7) | (c1 << 2) | c0
            bit = _code_bit(k, &w.probs[2 * _ROW_CTX + ctx], r0[_PAD + c])
            r0[_PAD + c] = <uint8_t>bit
            c0 = ((c0 << 1) | <uint32_t>bit) & 3
    # the tolerance plane, with the (now complete) ink plane as side information
    _near(w.pad_i, rows, cols, stride, 1, w.tmp, w.near1)
    _near(w.pad_i, rows, cols, stride, 2, w.tmp, w.near2)
    prev_empty = 1
    for r in range(rows):
        r0 = w.pad_t + (r + _PAD) * stride
        if _code_row_flag(k, w.probs + _ROW_CTX, r0 + _PAD, cols, &prev_empty):
            continue
        r1 = r0 - stride
        r2 = r1 - stride
        c1 = (r1[_PAD - 1] << 1) | r1[_PAD]
        c0 = (r0[_PAD - 2] << 1) | r0[_PAD - 1]
        for c in range(cols):
            c1 = ((c1 << 1) | r1[_PAD + c + 1]) & 7
            i = r * cols + c
            ctx = ((r2[_PAD + c] << 7) | (c1 << 4) | (c0 << 2)
                   | (w.near1[i] << 1) | w.near2[i])
            bit = _code_bit(k, &w.probs[2 * _ROW_CTX + _INK_CTX + ctx], r0[_PAD + c])
            r0[_PAD + c] = <uint8_t>bit
            c0 = ((c0 << 1) | <uint32_t>bit) & 3


def encode_pair(const uint8_t[:, ::1] ink, const uint8_t[:, ::1] tol, uint8_t[::1] out):
    """Code ``ink`` then ``tol`` (same shape, values 0/1) into ``out``.

    Returns the number of bytes written, or -1 if ``out`` is too small (nothing
    meaningful is in it then), or -2 when memory runs out.
    """
    cdef Py_ssize_t rows = ink.shape[0], cols = ink.shape[1]
    cdef Py_ssize_t stride = cols + 2 * _PAD, r, c
    cdef Enc e
    cdef Work w
    cdef const uint8_t* src_i
    cdef const uint8_t* src_t
    cdef uint8_t* dst_i
    cdef uint8_t* dst_t
    cdef Py_ssize_t result
    e.low = 0
    e.rng = 0xFFFFFFFF
    e.cache = 0
    e.cache_size = 1
    e.out = &out[0] if out.shape[0] > 0 else NULL
    e.cap = out.shape[0]
    e.pos = 0
    e.overflow = 0
    with nogil:
        if _alloc(&w, rows, cols) != 0:
            result = -2
        else:
            for r in range(rows):
                src_i = &ink[r, 0]
                src_t = &tol[r, 0]
                dst_i = w.pad_i + (r + _PAD) * stride + _PAD
                dst_t = w.pad_t + (r + _PAD) * stride + _PAD
                for c in range(cols):
                    dst_i[c] = src_i[c] != 0
                    dst_t[c] = src_t[c] != 0
            _code_planes(&w, &e, rows, cols)
            for _ in range(5):
                _shift_low(&e)
            result = -1 if e.overflow else e.pos
        _release(&w)
    return result


def decode_pair(const uint8_t[::1] data, uint8_t[:, ::1] ink, uint8_t[:, ::1] tol):
    """Decode what :func:`encode_pair` wrote into ``ink`` and ``tol`` (shape given by them).

    Returns the number of input bytes read; -1 if the decoder had to read past the end of
    ``data`` (the planes then hold garbage, not a key), -2 when memory runs out.
    """
    cdef Py_ssize_t rows = ink.shape[0], cols = ink.shape[1]
    cdef Py_ssize_t stride = cols + 2 * _PAD, r
    cdef Dec d
    cdef Work w
    cdef Py_ssize_t result
    d.rng = 0xFFFFFFFF
    d.code = 0
    d.data = &data[0] if data.shape[0] > 0 else NULL
    d.size = data.shape[0]
    d.pos = 0
    d.over = 0
    with nogil:
        if _alloc(&w, rows, cols) != 0:
            result = -2
        else:
            for _ in range(5):
                d.code = (d.code << 8) | _get(&d)
            _code_planes(&w, &d, rows, cols)
            for r in range(rows):
                memcpy(&ink[r, 0], w.pad_i + (r + _PAD) * stride + _PAD, cols)
                memcpy(&tol[r, 0], w.pad_t + (r + _PAD) * stride + _PAD, cols)
            result = -1 if d.over > 0 else d.pos
        _release(&w)
    return result
