"""The context coder of document-key bitmaps (`_native.bitplane`, flag bit 1 of the key bytes).

Checks: lossless on any bitmaps (property test, extreme densities and shapes), the stream
is consumed exactly, hostile bytes with a recomputed CRC give `KeyFormatError` or a key but
never a crash, keys written before the coder (zlib body, built here by hand from the
documented layout) are still read, and a real key is much smaller than its zlib body.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import test_dedup_forms as forms
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop_docs._native import bitplane  # type: ignore[attr-defined]
from onestop_docs.dedup import FINE_SHAPE, KEY_SHAPE, KEY_VERSION, DocumentKey, Hash, document_key
from onestop_docs.errors import InvalidArgumentError, KeyFormatError

_HEAD = "<3sBHHfB32s32sI"


def _round_trip(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    out = np.empty(3 * a.size + 8192, np.uint8)
    n = bitplane.encode_pair(a, b, out)
    x = np.full_like(a, 7)
    y = np.full_like(b, 7)
    m = bitplane.decode_pair(out[:n].copy(), x, y)
    return x, y, n, m


@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=200, deadline=None)
def test_coder_is_lossless_and_consumes_exactly_its_stream(
    rows: int, cols: int, pa: float, pb: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.random((rows, cols)) < pa).astype(np.uint8)
    b = (rng.random((rows, cols)) < pb).astype(np.uint8)
    x, y, n, m = _round_trip(a, b)
    assert n > 0 and m == n
    assert np.array_equal(x, a) and np.array_equal(y, b)


@pytest.mark.parametrize("pattern", ["zeros", "ones", "checker", "stripes", "one-dot"])
def test_coder_extremes(pattern: str) -> None:
    r, c = np.indices((97, 131))
    a = {
        "zeros": np.zeros((97, 131)),
        "ones": np.ones((97, 131)),
        "checker": (r + c) % 2,
        "stripes": (c // 3) % 2,
        "one-dot": (r == 96) & (c == 130),
    }[pattern].astype(np.uint8)
    b = np.ascontiguousarray(1 - a[::-1])
    x, y, n, m = _round_trip(a, b)
    assert m == n and np.array_equal(x, a) and np.array_equal(y, b)
    # non-zero bytes other than 1 are ink too (numpy's packbits agrees)
    x, y, _, _ = _round_trip(a * 255, b * 3)
    assert np.array_equal(x, a) and np.array_equal(y, b)


def test_coder_reports_a_short_output_buffer_and_a_short_stream() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random((64, 64)) < 0.5).astype(np.uint8)
    assert bitplane.encode_pair(a, a, np.empty(10, np.uint8)) == -1
    out = np.empty(3 * a.size + 8192, np.uint8)
    n = bitplane.encode_pair(a, a, out)
    x, y = np.empty_like(a), np.empty_like(a)
    assert bitplane.decode_pair(out[: n // 2].copy(), x, y) == -1
    assert bitplane.decode_pair(np.empty(0, np.uint8), x, y) == -1


def _key() -> DocumentKey:
    lines = forms.form_lines(np.random.default_rng(6), 0)
    return document_key(forms.rescan(lines, np.random.default_rng(31), dpi=200), dpi=200)


def _zlib_blob(k: DocumentKey) -> bytes:
    # version 2 bytes as written before the context coder: flags bit 0 only, zlib body of
    # the packed planes (the layout in DocumentKey.to_bytes' docstring)
    assert k.fine_ink is not None and k.fine_tolerance is not None
    planes = np.packbits(k.ink).tobytes() + np.packbits(k.tolerance).tobytes()
    planes += k.fine_ink.tobytes() + k.fine_tolerance.tobytes()
    body = zlib.compress(planes, 6)
    head = struct.pack(
        _HEAD,
        b"ODK",
        KEY_VERSION,
        *KEY_SHAPE,
        k.aspect,
        1,
        k.candidate.data,
        k.candidate_flip.data,
        len(body),
    )
    return head + body + struct.pack("<I", zlib.crc32(head + body))


@pytest.fixture(scope="module")
def key() -> DocumentKey:
    return _key()


def _same(a: DocumentKey, b: DocumentKey) -> None:
    assert a.candidate == b.candidate and a.candidate_flip == b.candidate_flip
    assert np.float32(a.aspect) == np.float32(b.aspect) and a.version == b.version
    assert np.array_equal(a.ink, b.ink) and np.array_equal(a.tolerance, b.tolerance)
    assert a.has_fine and b.has_fine
    for x, y in zip(a.fine_bitmaps(), b.fine_bitmaps(), strict=True):
        assert np.array_equal(x, y)


def test_real_key_is_coded_losslessly_and_small(key: DocumentKey) -> None:
    blob = key.to_bytes()
    assert blob[:3] == b"ODK" and blob[3] == KEY_VERSION
    _same(DocumentKey.from_bytes(blob), key)
    old = _zlib_blob(key)
    # the context coder: at most half the zlib body (2.5x smaller on a synthetic A4 page)
    assert len(blob) <= 0.5 * len(old), (len(blob), len(old))


def test_keys_written_with_a_zlib_body_are_still_read(key: DocumentKey) -> None:
    _same(DocumentKey.from_bytes(_zlib_blob(key)), key)


def _with_body(blob: bytes, body: bytes, flags: int | None = None) -> bytes:
    head = bytearray(blob[: struct.calcsize(_HEAD)])
    struct.pack_into("<I", head, len(head) - 4, len(body))
    if flags is not None:
        head[struct.calcsize("<3sBHHf")] = flags
    raw = bytes(head) + body
    return raw + struct.pack("<I", zlib.crc32(raw))


def test_hostile_bodies_with_a_valid_crc_are_typed_errors(key: DocumentKey) -> None:
    # Someone who can write the store can also recompute the CRC: the decoder must then
    # give KeyFormatError (or some key), never crash, hang or read out of bounds.
    blob = key.to_bytes()
    hs = struct.calcsize(_HEAD)
    body = blob[hs:-4]
    (clen,) = struct.unpack_from("<I", body)
    rng = np.random.default_rng(9)
    bad_bodies = [
        b"",
        body[:3],
        struct.pack("<I", 2**31) + body[4:],  # coarse length beyond the body
        body[: 4 + clen],  # the fine part missing
        body[: 4 + clen // 2] + body[4 + clen :],  # coarse stream cut
        body + b"\0" * 9,  # trailing bytes
        body[:-5],  # fine stream cut
    ]
    for body_ in bad_bodies:
        with pytest.raises(KeyFormatError):
            DocumentKey.from_bytes(_with_body(blob, body_))
    with pytest.raises(KeyFormatError):  # an unknown flag bit
        DocumentKey.from_bytes(_with_body(blob, body, flags=blob[struct.calcsize("<3sBHHf")] | 4))
    # flipped bytes and random streams: a typed error or a key of the right shapes
    for i in range(40):
        mutated = bytearray(body)
        for _ in range(int(rng.integers(1, 4))):
            j = int(rng.integers(4, len(mutated)))
            mutated[j] ^= int(rng.integers(1, 256))
        if i % 4 == 0:
            mutated = bytearray(body[:4]) + bytearray(rng.bytes(len(body) - 4))
        try:
            k = DocumentKey.from_bytes(_with_body(blob, bytes(mutated)))
        except KeyFormatError:
            continue
        assert k.ink.shape == KEY_SHAPE and k.fine_bitmaps()[0].shape == FINE_SHAPE


def test_a_key_without_fine_bitmaps_is_coded_too() -> None:
    rng = np.random.default_rng(2)
    ink = (rng.random(KEY_SHAPE) < 0.05).astype(np.uint8)
    k = DocumentKey(Hash(bytes(32), 256), Hash(bytes(32), 256), ink, ink | ink[::-1], 1.3)
    blob = k.to_bytes()
    assert blob[struct.calcsize("<3sBHHf")] == 2  # coded, no fine bitmaps
    back = DocumentKey.from_bytes(blob)
    assert not back.has_fine
    assert np.array_equal(back.ink, k.ink) and np.array_equal(back.tolerance, k.tolerance)


def test_reading_without_the_fine_bitmaps(key: DocumentKey) -> None:
    blob = key.to_bytes()
    coarse = DocumentKey.from_bytes(blob, fine=False)
    assert not coarse.has_fine
    assert np.array_equal(coarse.ink, key.ink) and np.array_equal(coarse.tolerance, key.tolerance)
    assert coarse.candidate == key.candidate
    old = DocumentKey.from_bytes(_zlib_blob(key), fine=False)  # the zlib body too
    assert not old.has_fine and np.array_equal(old.ink, key.ink)
    with pytest.raises(InvalidArgumentError):
        DocumentKey.from_bytes(blob, fine=1)  # type: ignore[arg-type]


def test_verify_stored_decides_as_the_full_keys() -> None:
    # Reading stored keys coarse first and in full only for pairs the coarse stages accept
    # gives the verdicts of the fully read keys: a rescan (accepted by the final stage), a
    # same-width name change (rejected by the final stage only) and another page.
    from test_dedup_document import _name_page, _same_width_names

    from onestop_docs.reuse.keys import PackedKey, pack, verify_keys, verify_stored

    first, second = _same_width_names()
    a = document_key(_name_page(first, 200, 10), dpi=200, capture="off")
    b = document_key(_name_page(first, 200, 11), dpi=200, capture="off")
    c = document_key(_name_page(second, 200, 21), dpi=200, capture="off")
    d = _key()
    reasons = []
    for x, y in ((a, b), (b, a), (a, c), (c, b), (a, d)):
        want = verify_keys(x, y)
        px, py = pack(x), pack(y)
        assert isinstance(px, PackedKey)
        for q, s in ((x, py), (px, py), ((px.version, px.blob, "q"), (py.version, py.blob, "s"))):
            got = verify_stored(q, s)
            assert (got.duplicate, got.reason) == (want.duplicate, want.reason), (q, got, want)
            assert got.fine_score == want.fine_score or (
                np.isnan(got.fine_score) and np.isnan(want.fine_score)
            )
        reasons.append(want.reason)
    assert reasons[:4] == ["match", "match", "fine-ink", "fine-ink"], reasons
    assert reasons[4] != "match"
