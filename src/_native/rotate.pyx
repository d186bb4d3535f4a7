# cython: language_level=3
"""Affine resampling kernels (bilinear and bicubic) for grey and interleaved colour images.

Every kernel takes the 2 x 3 matrix ``m`` that maps an **output** pixel centre (x, y) to the
input position ``(m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5])``.  Samples outside the
input take the fill value.  Callers (``onestop_docs.deskew``) validate shapes and values.
"""

from libc.math cimport floor
from libc.stdint cimport uint8_t, uint32_t, int64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* One output row of grey bilinear resampling whose 2 x 2 footprints are all inside.
       Positions are 32.32 fixed point; weights are the top 8 fraction bits.  The SSE2 path
       (every x86-64 CPU) gathers 8 pixel pairs with scalar loads and interpolates them in
       16-bit lanes, rounding the horizontal step to 8 bits first: it may differ from the
       scalar formula by one grey level. */
    static inline uint8_t onestop_bilin_px(const uint8_t *base, ptrdiff_t stride,
                                           ptrdiff_t ps, int64_t X, int64_t Y) {
        const uint8_t *p0 = base + (Y >> 32) * stride + (X >> 32) * ps;
        int32_t fx = (int32_t)((X >> 24) & 255), fy = (int32_t)((Y >> 24) & 255);
        int32_t a = ((int32_t)p0[0] << 8) + ((int32_t)p0[ps] - (int32_t)p0[0]) * fx;
        int32_t b = ((int32_t)p0[stride] << 8)
                    + ((int32_t)p0[stride + ps] - (int32_t)p0[stride]) * fx;
        return (uint8_t)(((a << 8) + (b - a) * fy + 32768) >> 16);
    }
    #if defined(__SSE2__)
    /* The 8-bit weights of 8 consecutive output pixels: the top bits of the low 32 bits
       (the fraction) of their 32.32 positions, in 4-lane registers for pixels k = 0..3
       (fx, fy); dx4, dy4 step them by 4 pixels. */
    typedef struct { __m128i fx, fy, dx4, dy4; } onestop_frac8;
    static inline onestop_frac8 onestop_frac8_start(int64_t X, int64_t Y, int64_t dx,
                                                    int64_t dy) {
        uint32_t xl = (uint32_t)X, yl = (uint32_t)Y, dxl = (uint32_t)dx, dyl = (uint32_t)dy;
        onestop_frac8 f;
        f.fx = _mm_setr_epi32((int)xl, (int)(xl + dxl), (int)(xl + 2 * dxl),
                              (int)(xl + 3 * dxl));
        f.fy = _mm_setr_epi32((int)yl, (int)(yl + dyl), (int)(yl + 2 * dyl),
                              (int)(yl + 3 * dyl));
        f.dx4 = _mm_set1_epi32((int)(4 * dxl));
        f.dy4 = _mm_set1_epi32((int)(4 * dyl));
        return f;
    }
    /* The weights of the next 8 pixels as 16-bit lanes; advances f by 8 pixels. */
    static inline void onestop_frac8_next(onestop_frac8 *f, __m128i *vfx, __m128i *vfy) {
        __m128i fx4 = _mm_add_epi32(f->fx, f->dx4), fy4 = _mm_add_epi32(f->fy, f->dy4);
        *vfx = _mm_packs_epi32(_mm_srli_epi32(f->fx, 24), _mm_srli_epi32(fx4, 24));
        *vfy = _mm_packs_epi32(_mm_srli_epi32(f->fy, 24), _mm_srli_epi32(fy4, 24));
        f->fx = _mm_add_epi32(fx4, f->dx4);
        f->fy = _mm_add_epi32(fy4, f->dy4);
    }
    /* Bilinear blend of 8 pixel pairs in 16-bit lanes: vt, vb hold (left | right << 8) of
       the top and bottom rows, vfx, vfy the 8-bit weights.  The horizontal step is rounded
       to 8 bits first. */
    static inline __m128i onestop_lerp8(__m128i vt, __m128i vb, __m128i vfx, __m128i vfy) {
        const __m128i lo8 = _mm_set1_epi16(0xFF), c256 = _mm_set1_epi16(256);
        const __m128i r128 = _mm_set1_epi16(128);
        __m128i t0 = _mm_and_si128(vt, lo8), t1 = _mm_srli_epi16(vt, 8);
        __m128i b0 = _mm_and_si128(vb, lo8), b1 = _mm_srli_epi16(vb, 8);
        __m128i top = _mm_add_epi16(_mm_slli_epi16(t0, 8),
                                    _mm_mullo_epi16(_mm_sub_epi16(t1, t0), vfx));
        __m128i bot = _mm_add_epi16(_mm_slli_epi16(b0, 8),
                                    _mm_mullo_epi16(_mm_sub_epi16(b1, b0), vfx));
        top = _mm_srli_epi16(_mm_add_epi16(top, r128), 8);
        bot = _mm_srli_epi16(_mm_add_epi16(bot, r128), 8);
        __m128i out = _mm_add_epi16(_mm_mullo_epi16(top, _mm_sub_epi16(c256, vfy)),
                                    _mm_mullo_epi16(bot, vfy));
        return _mm_srli_epi16(_mm_add_epi16(out, r128), 8);
    }
    #endif
    /* ps: bytes per input pixel (1 grey, 3 colour, with base at the channel); ds: bytes
       per output pixel. */
    static void onestop_bilin_row(const uint8_t *base, ptrdiff_t stride, ptrdiff_t ps,
                                  uint8_t *d, ptrdiff_t ds, int64_t X, int64_t Y,
                                  int64_t dx, int64_t dy, ptrdiff_t n) {
        ptrdiff_t i = 0;
    #if defined(__SSE2__)
        onestop_frac8 frac = onestop_frac8_start(X, Y, dx, dy);
        for (; i + 8 <= n; i += 8) {
            __m128i vt = _mm_setzero_si128(), vb = _mm_setzero_si128();
            __m128i vfx, vfy, out;
            uint16_t u;
    #define ONESTOP_GATHER(k) do { \
                const uint8_t *p = base + (Y >> 32) * stride + (X >> 32) * ps; \
                if (ps == 1) { \
                    memcpy(&u, p, 2); vt = _mm_insert_epi16(vt, u, k); \
                    memcpy(&u, p + stride, 2); vb = _mm_insert_epi16(vb, u, k); \
                } else { \
                    vt = _mm_insert_epi16(vt, p[0] | (p[ps] << 8), k); \
                    vb = _mm_insert_epi16(vb, p[stride] | (p[stride + ps] << 8), k); \
                } \
                X += dx; Y += dy; } while (0)
            ONESTOP_GATHER(0); ONESTOP_GATHER(1); ONESTOP_GATHER(2); ONESTOP_GATHER(3);
            ONESTOP_GATHER(4); ONESTOP_GATHER(5); ONESTOP_GATHER(6); ONESTOP_GATHER(7);
    #undef ONESTOP_GATHER
            onestop_frac8_next(&frac, &vfx, &vfy);
            out = onestop_lerp8(vt, vb, vfx, vfy);
            if (ds == 1) {
                _mm_storel_epi64((__m128i *)(d + i), _mm_packus_epi16(out, out));
            } else {
                uint8_t tmp[16];
                int k;
                _mm_storeu_si128((__m128i *)tmp, _mm_packus_epi16(out, out));
                for (k = 0; k < 8; k++) d[(i + k) * ds] = tmp[k];
            }
        }
    #endif
        for (; i < n; i++) {
            d[i * ds] = onestop_bilin_px(base, stride, ps, X, Y);
            X += dx;
            Y += dy;
        }
    }
    #if defined(__SSE2__)
    /* Channel pairs (left | right << 8) of 8 RGB pixels from their two 32-bit loads. */
    static inline __m128i onestop_pack_u16(__m128i lo4, __m128i hi4) {
        /* packs_epi32 saturates signed: bias by 32768, then flip the top bit back. */
        const __m128i bias32 = _mm_set1_epi32(32768), flip16 = _mm_set1_epi16((short)0x8000);
        return _mm_xor_si128(_mm_packs_epi32(_mm_sub_epi32(lo4, bias32),
                                             _mm_sub_epi32(hi4, bias32)), flip16);
    }
    static inline void onestop_pairs3(const uint32_t *a, const uint32_t *b, __m128i *r,
                                      __m128i *g, __m128i *bl) {
        const __m128i m0 = _mm_set1_epi32(0xFF), m1 = _mm_set1_epi32(0xFF00);
        __m128i a0, a1, b0, b1, x0, x1;
        memcpy(&a0, a, 16); memcpy(&a1, a + 4, 16);
        memcpy(&b0, b, 16); memcpy(&b1, b + 4, 16);
        x0 = _mm_or_si128(_mm_and_si128(a0, m0), _mm_and_si128(_mm_srli_epi32(a0, 16), m1));
        x1 = _mm_or_si128(_mm_and_si128(a1, m0), _mm_and_si128(_mm_srli_epi32(a1, 16), m1));
        *r = onestop_pack_u16(x0, x1);
        x0 = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(a0, 8), m0),
                          _mm_and_si128(_mm_srli_epi32(b0, 8), m1));
        x1 = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(a1, 8), m0),
                          _mm_and_si128(_mm_srli_epi32(b1, 8), m1));
        *g = onestop_pack_u16(x0, x1);
        x0 = _mm_or_si128(_mm_and_si128(b0, m0), _mm_and_si128(_mm_srli_epi32(b0, 16), m1));
        x1 = _mm_or_si128(_mm_and_si128(b1, m0), _mm_and_si128(_mm_srli_epi32(b1, 16), m1));
        *bl = onestop_pack_u16(x0, x1);
    }
    #endif
    /* Interleaved RGB: one address computation per pixel for the three channels. */
    static void onestop_bilin_row_rgb(const uint8_t *base, ptrdiff_t stride, uint8_t *d,
                                      int64_t X, int64_t Y, int64_t dx, int64_t dy,
                                      ptrdiff_t n) {
        ptrdiff_t i = 0;
        int ch;
    #if defined(__SSE2__)
        onestop_frac8 frac = onestop_frac8_start(X, Y, dx, dy);
        for (; i + 8 <= n; i += 8) {
            __m128i t0, t1, t2, b0, b1, b2, vfx, vfy;
            uint8_t tmp[3][16];
            uint32_t ta[8], tb[8], ba[8], bb[8];
            int k;
            /* Per pixel two 32-bit loads per row: bytes 0..3 (r0 g0 b0 r1) and 2..5
               (b0 r1 g1 b1) of the 2 x 1 footprint, both inside the pixel pair. */
            for (k = 0; k < 8; k++) {
                const uint8_t *p = base + (Y >> 32) * stride + (X >> 32) * 3;
                memcpy(&ta[k], p, 4);
                memcpy(&tb[k], p + 2, 4);
                memcpy(&ba[k], p + stride, 4);
                memcpy(&bb[k], p + stride + 2, 4);
                X += dx;
                Y += dy;
            }
            onestop_pairs3(ta, tb, &t0, &t1, &t2);
            onestop_pairs3(ba, bb, &b0, &b1, &b2);
            onestop_frac8_next(&frac, &vfx, &vfy);
            t0 = onestop_lerp8(t0, b0, vfx, vfy);
            t1 = onestop_lerp8(t1, b1, vfx, vfy);
            t2 = onestop_lerp8(t2, b2, vfx, vfy);
            _mm_storeu_si128((__m128i *)tmp[0], _mm_packus_epi16(t0, t0));
            _mm_storeu_si128((__m128i *)tmp[1], _mm_packus_epi16(t1, t1));
            _mm_storeu_si128((__m128i *)tmp[2], _mm_packus_epi16(t2, t2));
            for (k = 0; k < 8; k++) {
                d[(i + k) * 3] = tmp[0][k];
                d[(i + k) * 3 + 1] = tmp[1][k];
                d[(i + k) * 3 + 2] = tmp[2][k];
            }
        }
    #endif
        for (; i < n; i++) {
            for (ch = 0; ch < 3; ch++)
                d[i * 3 + ch] = onestop_bilin_px(base + ch, stride, 3, X, Y);
            X += dx;
            Y += dy;
        }
    }
    """
    void bilin_row "onestop_bilin_row"(const uint8_t *base, Py_ssize_t stride, Py_ssize_t ps,
                                       uint8_t *d, Py_ssize_t ds, int64_t X, int64_t Y,
                                       int64_t dx, int64_t dy, Py_ssize_t n) noexcept nogil
    void bilin_row_rgb "onestop_bilin_row_rgb"(const uint8_t *base, Py_ssize_t stride,
                                               uint8_t *d, int64_t X, int64_t Y, int64_t dx,
                                               int64_t dy, Py_ssize_t n) noexcept nogil


# Positions are 32.32 fixed point; bilinear weights use the top 8 fraction bits.
cdef double ONE = 4294967296.0
cdef int64_t FRAC = (<int64_t>1 << 32) - 1


cdef inline int64_t fix(double v) noexcept nogil:
    return <int64_t>floor(v * ONE + 0.5)


cdef inline int fetch(const uint8_t[:, ::1] src, Py_ssize_t w, Py_ssize_t h, Py_ssize_t nc,
                      Py_ssize_t x, Py_ssize_t y, Py_ssize_t ch, int fill) noexcept nogil:
    if x < 0 or y < 0 or x >= w or y >= h:
        return fill
    return src[y, x * nc + ch]


cdef inline void clip_axis(int64_t p0, int64_t dp, int64_t pmax, double *a,
                           double *b) noexcept nogil:
    # Narrow the column interval [a, b) to where 0 <= p0 + t dp < pmax (floating point).
    cdef double t0, t1
    if dp == 0:
        if p0 < 0 or p0 >= pmax:
            b[0] = 0.0
        return
    t0 = (0.0 - <double>p0) / <double>dp
    t1 = (<double>pmax - <double>p0) / <double>dp
    if t0 > t1:
        t0, t1 = t1, t0
    a[0] = max(a[0], t0)
    b[0] = min(b[0], t1)


cdef void row_range(int64_t x0, int64_t dx, int64_t y0, int64_t dy, Py_ssize_t wo,
                    int64_t xmax, int64_t ymax, Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    # Output columns [lo, hi) whose sample position has 0 <= X < xmax and 0 <= Y < ymax, so
    # that the interpolation footprint lies inside the input.  A first estimate in floating
    # point is shrunk until both ends pass the exact integer test; the position is linear in
    # the column, so every column between two valid ends is valid too.
    cdef double a = 0.0, b = <double>wo
    cdef Py_ssize_t first, last
    clip_axis(x0, dx, xmax, &a, &b)
    clip_axis(y0, dy, ymax, &a, &b)
    if b <= a:
        lo[0] = 0
        hi[0] = 0
        return
    first = <Py_ssize_t>floor(a)
    last = <Py_ssize_t>floor(b) + 1
    if first < 0:
        first = 0
    if last > wo:
        last = wo
    while first < last and not (0 <= x0 + first * dx < xmax and 0 <= y0 + first * dy < ymax):
        first += 1
    while last > first and not (0 <= x0 + (last - 1) * dx < xmax
                                and 0 <= y0 + (last - 1) * dy < ymax):
        last -= 1
    lo[0] = first
    hi[0] = last


cdef inline void bilinear_border(const uint8_t[:, ::1] src, Py_ssize_t nc, uint8_t *d,
                                 int64_t X, int64_t Y, Py_ssize_t xo, Py_ssize_t w,
                                 Py_ssize_t h, const int[::1] fill) noexcept nogil:
    cdef Py_ssize_t ix = <Py_ssize_t>(X >> 32), iy = <Py_ssize_t>(Y >> 32), ch
    cdef uint32_t fx = <uint32_t>((X >> 24) & 255), fy = <uint32_t>((Y >> 24) & 255), top, bot
    for ch in range(nc):
        if ix < -1 or iy < -1 or ix >= w or iy >= h:
            d[xo * nc + ch] = <uint8_t>fill[ch]
            continue
        top = (fetch(src, w, h, nc, ix, iy, ch, fill[ch]) * (256 - fx)
               + fetch(src, w, h, nc, ix + 1, iy, ch, fill[ch]) * fx)
        bot = (fetch(src, w, h, nc, ix, iy + 1, ch, fill[ch]) * (256 - fx)
               + fetch(src, w, h, nc, ix + 1, iy + 1, ch, fill[ch]) * fx)
        d[xo * nc + ch] = <uint8_t>((top * (256 - fy) + bot * fy + 32768) >> 16)


cdef void bilinear_kernel(const uint8_t[:, ::1] src, Py_ssize_t nc, uint8_t[:, ::1] dst,
                          const double[::1] m, const int[::1] fill) noexcept nogil:
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1] // nc
    cdef Py_ssize_t ho = dst.shape[0], wo = dst.shape[1] // nc
    cdef Py_ssize_t yo, xo, ch, lo, hi
    cdef int64_t dx = fix(m[0]), dy = fix(m[3]), x0, y0, X, Y
    cdef int64_t xmax = (<int64_t>(w - 1)) << 32, ymax = (<int64_t>(h - 1)) << 32
    cdef uint32_t fx, fy, top, bot
    cdef const uint8_t *p0
    cdef const uint8_t *base = &src[0, 0]
    cdef uint8_t *d
    cdef Py_ssize_t stride = src.strides[0]
    for yo in range(ho):
        x0 = fix(m[1] * yo + m[2])
        y0 = fix(m[4] * yo + m[5])
        row_range(x0, dx, y0, dy, wo, xmax, ymax, &lo, &hi)
        d = &dst[yo, 0]
        X = x0 + lo * dx
        Y = y0 + lo * dy
        if nc == 1:
            # Grey fast path: the whole 2 x 2 footprint is inside, no checks.  Raw pointers and
            # locals keep gcc from reloading the memoryview fields after every byte store.
            bilin_row(base, stride, 1, d + lo, 1, X, Y, dx, dy, hi - lo)
        elif nc == 3:
            bilin_row_rgb(base, stride, d + lo * 3, X, Y, dx, dy, hi - lo)
        else:
            for xo in range(lo, hi):
                p0 = base + (Y >> 32) * stride + (X >> 32) * nc
                fx = <uint32_t>((X >> 24) & 255)
                fy = <uint32_t>((Y >> 24) & 255)
                for ch in range(nc):
                    top = p0[ch] * (256 - fx) + p0[ch + nc] * fx
                    bot = p0[ch + stride] * (256 - fx) + p0[ch + stride + nc] * fx
                    d[xo * nc + ch] = <uint8_t>((top * (256 - fy) + bot * fy + 32768) >> 16)
                X += dx
                Y += dy
        # Border columns: footprint partly or wholly outside, outside samples take the fill.
        for xo in range(lo):
            bilinear_border(src, nc, d, x0 + xo * dx, y0 + xo * dy, xo, w, h, fill)
        for xo in range(max(hi, lo), wo):
            bilinear_border(src, nc, d, x0 + xo * dx, y0 + xo * dy, xo, w, h, fill)


cdef inline void cubic_weights(double t, double *wt) noexcept nogil:
    # Keys (1981) cubic convolution with a = -0.5 (the Catmull-Rom spline).
    cdef double t2 = t * t, t3 = t2 * t
    wt[0] = -0.5 * t3 + t2 - 0.5 * t
    wt[1] = 1.5 * t3 - 2.5 * t2 + 1.0
    wt[2] = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    wt[3] = 0.5 * t3 - 0.5 * t2


cdef void bicubic_kernel(const uint8_t[:, ::1] src, Py_ssize_t nc, uint8_t[:, ::1] dst,
                         const double[::1] m, const int[::1] fill) noexcept nogil:
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1] // nc
    cdef Py_ssize_t ho = dst.shape[0], wo = dst.shape[1] // nc
    cdef Py_ssize_t yo, xo, ix, iy, ch, i, j, lo, hi
    cdef int64_t dx = fix(m[0]), dy = fix(m[3]), x0, y0, X, Y
    cdef int64_t xmax = (<int64_t>(w - 3)) << 32, ymax = (<int64_t>(h - 3)) << 32
    cdef double wx[4]
    cdef double wy[4]
    cdef double acc, row
    cdef bint inside
    cdef const uint8_t *base = &src[0, 0]
    cdef const uint8_t *p
    cdef uint8_t *d
    cdef Py_ssize_t stride = src.strides[0]
    for yo in range(ho):
        x0 = fix(m[1] * yo + m[2])
        y0 = fix(m[4] * yo + m[5])
        # Columns whose 4 x 4 footprint is inside: 1 <= ix <= w - 3 (shifted by one below).
        if w >= 4 and h >= 4:
            row_range(x0 - (<int64_t>1 << 32), dx, y0 - (<int64_t>1 << 32), dy, wo,
                      xmax, ymax, &lo, &hi)
        else:
            lo = 0
            hi = 0
        X = x0
        Y = y0
        d = &dst[yo, 0]
        for xo in range(wo):
            ix = <Py_ssize_t>(X >> 32)
            iy = <Py_ssize_t>(Y >> 32)
            inside = lo <= xo < hi
            if not inside and (ix < -2 or iy < -2 or ix > w or iy > h):
                for ch in range(nc):
                    d[xo * nc + ch] = <uint8_t>fill[ch]
            else:
                cubic_weights(<double>(X & FRAC) / ONE, wx)
                cubic_weights(<double>(Y & FRAC) / ONE, wy)
                for ch in range(nc):
                    acc = 0.0
                    if inside:
                        # Whole 4 x 4 footprint inside: raw pointers, no checks.
                        p = base + (iy - 1) * stride + (ix - 1) * nc + ch
                        for j in range(4):
                            acc = acc + wy[j] * (wx[0] * p[0] + wx[1] * p[nc]
                                                 + wx[2] * p[2 * nc] + wx[3] * p[3 * nc])
                            p = p + stride
                    else:
                        for j in range(4):
                            row = 0.0
                            for i in range(4):
                                row = row + wx[i] * fetch(src, w, h, nc, ix - 1 + i,
                                                          iy - 1 + j, ch, fill[ch])
                            acc = acc + wy[j] * row
                    if acc < 0.0:
                        acc = 0.0
                    elif acc > 255.0:
                        acc = 255.0
                    d[xo * nc + ch] = <uint8_t>(acc + 0.5)
            X += dx
            Y += dy


def warp(const uint8_t[:, ::1] src, Py_ssize_t nc, uint8_t[:, ::1] dst, const double[::1] m,
         const int[::1] fill, bint cubic):
    """Resample ``src`` into ``dst`` through the output-to-input affine ``m``; releases the GIL.

    ``src`` and ``dst`` are (H, W * nc) views of grey (nc = 1) or interleaved colour images;
    ``fill`` holds ``nc`` values in 0..255.
    """
    with nogil:
        if cubic:
            bicubic_kernel(src, nc, dst, m, fill)
        else:
            bilinear_kernel(src, nc, dst, m, fill)
