# cython: language_level=3
"""Bulk dossier-code validation kernel (callers validate buffer shapes and offsets).

Status values: 0 valid, 1 structure/length, 2 agency identifier, 3 calendar date,
4 sequence.  The rules are those of ``onestop_docs.codes.dossier`` (TT 01/2018/TT-VPCP
Điều 19, QĐ 20/2020/QĐ-TTg Điều 4, QCVN 102:2016).
"""

from libc.stdint cimport uint8_t, int64_t


cdef inline bint is_digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint is_upper_alnum(uint8_t c) noexcept nogil:
    return (48 <= c <= 57) or (65 <= c <= 90)


cdef inline bint is_level1_letter(uint8_t c) noexcept nogil:
    return 65 <= c <= 89  # 'A'..'Y'; 'Z' is reserved (QĐ 20/2020 Điều 6)


cdef bint agency_ok(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint group_empty
    if n < 3 or n > 35:
        return False
    if is_digit(p[0]):
        # Legacy ddd.dd.dd.Mdd (QCVN 102:2016).
        if n != 13:
            return False
        for i in range(13):
            if i == 3 or i == 6 or i == 9:
                if p[i] != 46:
                    return False
            elif i == 10:
                if not is_level1_letter(p[i]):
                    return False
            elif not is_digit(p[i]):
                return False
        return True
    # QĐ 20/2020: Mdd(.group)*
    if not is_level1_letter(p[0]) or not is_digit(p[1]) or not is_digit(p[2]):
        return False
    group_empty = False
    for i in range(3, n):
        if p[i] == 46:
            if group_empty:
                return False
            group_empty = True
        elif is_upper_alnum(p[i]) and i > 3:
            group_empty = False
        else:
            return False
    return not group_empty


cdef uint8_t check_one(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef int yy, mm, dd, dim
    cdef Py_ssize_t i
    if n < 15 or n > 47 or p[n - 5] != 45 or p[n - 12] != 45:
        return 1
    if not agency_ok(p, n - 12):
        return 2
    for i in range(n - 11, n - 5):
        if not is_digit(p[i]):
            return 3
    yy = (p[n - 11] - 48) * 10 + (p[n - 10] - 48)
    mm = (p[n - 9] - 48) * 10 + (p[n - 8] - 48)
    dd = (p[n - 7] - 48) * 10 + (p[n - 6] - 48)
    if mm < 1 or mm > 12 or dd < 1:
        return 3
    if mm == 2:
        # 2000-2099: every year divisible by 4 is a leap year (2000 is divisible by 400).
        dim = 29 if yy % 4 == 0 else 28
    elif mm == 4 or mm == 6 or mm == 9 or mm == 11:
        dim = 30
    else:
        dim = 31
    if dd > dim:
        return 3
    for i in range(n - 4, n):
        if not is_digit(p[i]):
            return 4
    if p[n - 4] == 48 and p[n - 3] == 48 and p[n - 2] == 48 and p[n - 1] == 48:
        return 4
    return 0


cdef void validate_kernel(const uint8_t[::1] data, const int64_t[::1] offsets,
                          uint8_t[::1] out) noexcept nogil:
    cdef Py_ssize_t k, n = out.shape[0]
    cdef const uint8_t* base = &data[0] if data.shape[0] > 0 else NULL
    for k in range(n):
        if offsets[k + 1] == offsets[k]:
            out[k] = 1
        else:
            out[k] = check_one(base + offsets[k], offsets[k + 1] - offsets[k])


def validate_packed(const uint8_t[::1] data, const int64_t[::1] offsets, uint8_t[::1] out):
    """Status of each code ``data[offsets[k]:offsets[k+1]]`` into ``out[k]``; releases the GIL.

    ``offsets`` must be non-decreasing, start at 0, end at ``len(data)`` and have
    ``len(out) + 1`` entries (the caller guarantees it).
    """
    with nogil:
        validate_kernel(data, offsets, out)
