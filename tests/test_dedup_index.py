"""HashIndex against a numpy brute-force reference, persistence and bad input."""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs._native import dedup_index as _k
from onestop_docs.dedup import INDEX_MAGIC, Hash, HashIndex, popcount_kernel
from onestop_docs.errors import IndexFormatError, InvalidArgumentError


def _ref_dist(db: np.ndarray, q: np.ndarray) -> np.ndarray:
    # Independent reference: unpack to bits and count differences.
    return (np.unpackbits(db, axis=1) != np.unpackbits(q)[None, :]).sum(axis=1)


def _ref_radius(ids, db, alive, q, r):
    d = _ref_dist(db, q)
    sel = np.nonzero((d <= r) & alive)[0]
    order = np.lexsort((sel, d[sel]))
    return [(int(ids[i]), int(d[i])) for i in sel[order]]


def _clustered(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    # Near-duplicates (few flipped bits) of a few centres, so that small radii have hits.
    centres = rng.integers(0, 256, (max(1, n // 8), nbytes), dtype=np.uint8)
    db = centres[rng.integers(0, len(centres), n)]
    bits = np.unpackbits(db, axis=1)
    flips = rng.random(bits.shape) < rng.uniform(0, 0.08)
    return np.packbits(bits ^ flips, axis=1)


@given(
    bits=st.sampled_from([64, 256]),
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    radii=st.lists(st.integers(0, 256), min_size=1, max_size=3),
    k=st.integers(1, 20),
)
def test_index_matches_reference(bits: int, n: int, seed: int, radii: list[int], k: int) -> None:
    rng = np.random.default_rng(seed)
    nb = bits // 8
    db = _clustered(rng, n, nb)
    ids = rng.integers(-(2**40), 2**40, n)
    index = HashIndex(bits)
    index.add(ids, db)
    alive = np.ones(n, bool)
    if n:
        gone = rng.choice(ids, size=min(n, 5), replace=False)
        assert index.remove(gone) == int(np.isin(ids, gone).sum())
        alive &= ~np.isin(ids, gone)
    assert len(index) == int(alive.sum())
    queries = np.concatenate([db[:3], rng.integers(0, 256, (2, nb), dtype=np.uint8)])
    for r in radii:
        r = min(r, bits)
        batch = index.radius_batch(queries, r, threads=2)
        for q, got in zip(queries, batch):
            want = _ref_radius(ids, db, alive, q, r)
            assert list(got) == want
            assert list(index.radius(q, r, method="brute")) == want
    for q, got in zip(queries, index.nearest_batch(queries, k)):
        want = _ref_radius(ids, db, alive, q, bits)[:k]
        assert list(got) == want
    # the same answers after save and a memory-mapped reopen, and after editing the copy
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.idx"
        index.save(path)
        back = HashIndex.open(path, mmap=True)
        r = min(radii[0], bits)
        for q in queries:
            assert list(back.radius(q, r)) == _ref_radius(ids, db, alive, q, r)
        extra = rng.integers(0, 256, (3, nb), dtype=np.uint8)
        back.add([7, 8, 9], extra)
        if n:
            back.remove(ids[:1])
        all_ids = np.concatenate([ids, [7, 8, 9]])
        all_db = np.concatenate([db, extra])
        all_alive = np.concatenate([alive & ~np.isin(ids, ids[:1]), [True] * 3])
        all_alive &= ~np.isin(all_ids, ids[:1])
        for q in queries:
            assert list(back.radius(q, r)) == _ref_radius(all_ids, all_db, all_alive, q, r)
        del back


@given(seed=st.integers(0, 2**32 - 1), r=st.integers(0, 47))
def test_multi_index_hashing_equals_brute(seed: int, r: int) -> None:
    rng = np.random.default_rng(seed)
    db = _clustered(rng, 3000, 32)
    index = HashIndex(256)
    index.add(np.arange(3000), db)
    index.remove([5, 17])
    q = db[rng.integers(0, 3000)]
    mih = index.radius(q, r, method="mih")
    assert list(mih) == list(index.radius(q, r, method="brute"))
    assert list(mih) == _ref_radius(np.arange(3000), db, ~np.isin(np.arange(3000), [5, 17]), q, r)
    # rows added after the tables were built are still found
    index.add([9999], q[None, :])
    assert (9999, 0) in list(index.radius(q, r, method="mih"))


def test_mih_refuses_large_radius() -> None:
    index = HashIndex(64)
    index.add([1], [Hash(bytes(8), 64)])
    with pytest.raises(InvalidArgumentError):
        index.radius(Hash(bytes(8), 64), 12, method="mih")


def test_radius_zero_and_full_width() -> None:
    rng = np.random.default_rng(0)
    db = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    index = HashIndex(256)
    index.add(range(50), db)
    assert list(index.radius(db[7], 0)) == [(7, 0)]
    assert len(index.radius(db[7], 256)) == 50
    with pytest.raises(InvalidArgumentError):
        index.radius(db[7], 257)
    with pytest.raises(InvalidArgumentError):
        index.radius(db[7], -1)


@pytest.mark.parametrize("impl", ["generic", "popcnt", "avx512"])
@pytest.mark.parametrize("nq", [1, 4, 11])
@pytest.mark.parametrize(("bits", "r"), [(256, 100), (64, 26)])
def test_kernel_builds_agree(impl: str, nq: int, bits: int, r: int) -> None:
    rng = np.random.default_rng(1)
    db = rng.integers(0, 256, (2000, bits // 8), dtype=np.uint8)
    q = db[:nq].copy()
    q[:, :3] ^= 0x5A
    index = HashIndex(bits)
    index.add(range(2000), db)
    before = _k.impl()
    try:
        _k.select_impl(impl)
    except RuntimeError:
        pytest.skip(f"CPU cannot run the {impl} build")
    try:
        for qq, got in zip(q, index.radius_batch(q, r, method="brute")):
            assert list(got) == _ref_radius(np.arange(2000), db, np.ones(2000, bool), qq, r)
    finally:
        _k.select_impl(before)


def test_hardware_popcount_selected_on_x86() -> None:
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("dispatch only exists on x86")
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " popcnt" not in flags:
        pytest.skip("CPU without POPCNT")
    assert popcount_kernel() in ("popcnt", "avx512")


def test_save_open_roundtrip_mmap_and_add_remove(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    db = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    ids = np.arange(500) * 3
    index = HashIndex(256)
    index.add(ids, db)
    index.remove([0, 3])
    path = tmp_path / "a.idx"
    index.save(path)
    assert path.stat().st_size == 64 + 498 * 40
    for mm in (True, False):
        back = HashIndex.open(path, mmap=mm, verify=True)
        assert len(back) == 498 and back.bits == 256
        for q in db[:5]:
            assert list(back.radius(q, 40)) == list(index.radius(q, 40))
        back.add([7777], db[:1])
        back.remove([6])
        alive = ~np.isin(ids, [0, 3, 6])
        want = sorted([*_ref_radius(ids, db, alive, db[0], 256), (7777, 0)], key=lambda t: t[1])
        assert sorted(back.radius(db[0], 256)) == sorted(want)
    # the file was not modified by the in-memory edits
    assert len(HashIndex.open(path)) == 498


def test_empty_index(tmp_path: Path) -> None:
    index = HashIndex(64)
    q = Hash(bytes(8), 64)
    assert len(index.radius(q, 64)) == 0 and len(index.nearest(q, 3)) == 0
    index.save(tmp_path / "e.idx")
    assert len(HashIndex.open(tmp_path / "e.idx")) == 0


def test_mixing_widths_and_bad_input() -> None:
    index = HashIndex(256)
    with pytest.raises(InvalidArgumentError, match="cannot be mixed"):
        index.add([1], [Hash(bytes(8), 64)])
    with pytest.raises(InvalidArgumentError):
        index.add([1], np.zeros((1, 8), np.uint8))
    with pytest.raises(InvalidArgumentError):
        index.add([1, 2], np.zeros((1, 32), np.uint8))
    with pytest.raises(InvalidArgumentError):
        index.add([1], ["zz" * 32])
    with pytest.raises(InvalidArgumentError):
        index.add([1.5], np.zeros((1, 32), np.uint8))
    with pytest.raises(InvalidArgumentError):
        HashIndex(128)
    with pytest.raises(InvalidArgumentError):
        index.nearest(Hash(bytes(32), 256), 0)
    with pytest.raises(InvalidArgumentError):
        index.radius_batch([Hash(bytes(32), 256)], 3, threads=0)


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def test_corrupt_files_detected(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    index = HashIndex(64)
    index.add(range(100), rng.integers(0, 256, (100, 8), dtype=np.uint8))
    good = tmp_path / "g.idx"
    index.save(good)
    data = good.read_bytes()
    cases = {
        "magic": b"NOTANIDX" + data[8:],
        "truncated": data[:-5],
        "short": data[:20],
        "header-bit": data[:16] + bytes([data[16] ^ 1]) + data[17:],
        "extra": data + b"\0" * 16,
    }
    for name, blob in cases.items():
        p = tmp_path / f"{name}.idx"
        _write(p, blob)
        with pytest.raises(IndexFormatError):
            HashIndex.open(p)
    # payload corruption: only the full check (verify or mmap=False) can see it
    flipped = bytearray(data)
    flipped[200] ^= 0xFF
    p = tmp_path / "payload.idx"
    _write(p, bytes(flipped))
    HashIndex.open(p)  # header is fine
    with pytest.raises(IndexFormatError, match="CRC"):
        HashIndex.open(p, verify=True)
    with pytest.raises(IndexFormatError):
        HashIndex.open(p, mmap=False)
    # another version with a valid header checksum
    head = bytearray(data[:64])
    struct.pack_into("<H", head, 8, 99)
    import zlib

    struct.pack_into("<I", head, 60, zlib.crc32(bytes(head[:60])))
    p = tmp_path / "v99.idx"
    _write(p, bytes(head) + data[64:])
    with pytest.raises(IndexFormatError, match="version 99"):
        HashIndex.open(p)
    assert data.startswith(INDEX_MAGIC)


def test_crash_during_save_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = HashIndex(64)
    index.add([1, 2], [Hash(bytes(8), 64), Hash(b"\xff" * 8, 64)])
    path = tmp_path / "i.idx"
    index.save(path)
    before = path.read_bytes()
    index.add([3], [Hash(b"\x0f" * 8, 64)])

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["i.idx"]


def test_concurrent_readers_and_writer() -> None:
    rng = np.random.default_rng(4)
    db = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    index = HashIndex(256)
    index.add(range(2000), db[:2000])
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for i in range(40):
                got = index.radius(db[i], 0)
                assert (i, 0) in list(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for a in range(2000, 4000, 100):
        index.add(range(a, a + 100), db[a : a + 100])
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 4000
