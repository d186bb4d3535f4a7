# cython: language_level=3
"""Colour conversion and histogram kernels (callers validate shapes and dtypes)."""

from libc.stdint cimport uint8_t, uint32_t, int64_t


cdef void rgb_to_gray_kernel(const uint8_t[:, :, ::1] rgb, uint8_t[:, ::1] out) noexcept nogil:
    # ITU-R 601-2 luma in 16.16 fixed point, rounded half up: identical to Pillow's
    # Image.convert("L") (19595 + 38470 + 7471 == 65536).  GCC does not vectorize the
    # stride-3 byte loads on baseline x86-64, so this runs scalar (~1 ns/pixel).
    cdef Py_ssize_t h = rgb.shape[0], w = rgb.shape[1], y, x
    cdef const uint8_t* src
    cdef uint8_t* dst
    for y in range(h):
        src = &rgb[y, 0, 0]
        dst = &out[y, 0]
        for x in range(w):
            dst[x] = <uint8_t>((<uint32_t>src[3 * x] * 19595 + <uint32_t>src[3 * x + 1] * 38470
                                + <uint32_t>src[3 * x + 2] * 7471 + 0x8000) >> 16)


def rgb_to_gray(const uint8_t[:, :, ::1] rgb, uint8_t[:, ::1] out):
    """Fill ``out`` (H, W) with the luma of ``rgb`` (H, W, 3); releases the GIL."""
    with nogil:
        rgb_to_gray_kernel(rgb, out)


cdef void histogram_kernel(const uint8_t[:, ::1] img, int64_t[::1] hist) noexcept nogil:
    # Four sub-histograms break the store-to-load dependency on runs of equal pixels.
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y, x, i
    cdef int64_t h0[256]
    cdef int64_t h1[256]
    cdef int64_t h2[256]
    cdef int64_t h3[256]
    for i in range(256):
        h0[i] = 0
        h1[i] = 0
        h2[i] = 0
        h3[i] = 0
    for y in range(h):
        x = 0
        while x + 4 <= w:
            h0[img[y, x]] += 1
            h1[img[y, x + 1]] += 1
            h2[img[y, x + 2]] += 1
            h3[img[y, x + 3]] += 1
            x += 4
        while x < w:
            h0[img[y, x]] += 1
            x += 1
    for i in range(256):
        hist[i] = h0[i] + h1[i] + h2[i] + h3[i]


def histogram(const uint8_t[:, ::1] img, int64_t[::1] hist):
    """Fill ``hist`` (256,) with the counts of each grey level of ``img``; releases the GIL."""
    with nogil:
        histogram_kernel(img, hist)


cdef void red_dropout_kernel(const uint8_t[:, :, ::1] rgb, uint8_t[:, ::1] out,
                             int lo, int span) noexcept nogil:
    # Luma as above, moved toward white by how much red outweighs green and blue: a
    # pixel with red - max(green, blue) <= lo keeps its luma, one at lo + span or more
    # becomes 255, linearly in between (integer arithmetic, floor).
    cdef Py_ssize_t h = rgb.shape[0], w = rgb.shape[1], y, x
    cdef const uint8_t* src
    cdef uint8_t* dst
    cdef int r, g, b, luma, excess
    for y in range(h):
        src = &rgb[y, 0, 0]
        dst = &out[y, 0]
        for x in range(w):
            r = src[3 * x]
            g = src[3 * x + 1]
            b = src[3 * x + 2]
            luma = <int>((<uint32_t>r * 19595 + <uint32_t>g * 38470
                          + <uint32_t>b * 7471 + 0x8000) >> 16)
            excess = r - (g if g > b else b) - lo
            if excess > 0:
                if excess > span:
                    excess = span
                luma = luma + ((255 - luma) * excess) // span
            dst[x] = <uint8_t>luma


def red_dropout(const uint8_t[:, :, ::1] rgb, uint8_t[:, ::1] out, int lo, int span):
    """Fill ``out`` with the luma of ``rgb`` where red ink is faded to white (``span`` > 0);
    releases the GIL."""
    with nogil:
        red_dropout_kernel(rgb, out, lo, span)
