"""The reuse store's candidate index against a brute-force reference (numpy, no index)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator

import numpy as np
import onestop_docs._native.reuse_mih as _mih
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop_docs.reuse import _segments
from onestop_docs.reuse._segments import SegmentedIndex, Tables, probe_masks, search_rows


@contextlib.contextmanager
def _small_segments(*, tail: int, tables: int, merge_rows: int, merge_count: int) -> Iterator[None]:
    """Segment sizes small enough that a test sees tails frozen, tables built and merges."""
    names = ("TAIL_ROWS", "_TABLE_ROWS", "_MERGE_ROWS", "_MERGE_COUNT")
    old = [getattr(_segments, n) for n in names]
    for n, v in zip(names, (tail, tables, merge_rows, merge_count)):
        setattr(_segments, n, v)
    try:
        yield
    finally:
        for n, v in zip(names, old):
            setattr(_segments, n, v)


def _reference(words: np.ndarray, queries: np.ndarray, r: int) -> set[tuple[int, int, int]]:
    """(row, query, distance) of every row within r: XOR and popcount of every pair."""
    out = set()
    for qi, q in enumerate(queries):
        d = np.bitwise_count(words ^ q).sum(axis=1)
        out |= {(int(i), qi, int(d[i])) for i in np.nonzero(d <= r)[0]}
    return out


def _flip(rng: np.random.Generator, row: np.ndarray, bits: int) -> np.ndarray:
    """``row`` with exactly ``bits`` distinct bits flipped."""
    b = np.unpackbits(row.view(np.uint8))
    b[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(b).view(np.uint64)


def _planted(seed: int, n: int, r: int, n_queries: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Random rows plus, for each query, rows at distances r - 1, r, r + 1 and a few within."""
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 2**64, (n_queries, 4), dtype=np.uint64)
    rows = [rng.integers(0, 2**64, (n, 4), dtype=np.uint64)]
    for q in queries:
        for d in (r - 1, r, r, r + 1, r + 2, rng.integers(0, r + 1), 0):
            if 0 <= d <= 256:
                rows.append(_flip(rng, q, int(d))[None, :])
        # bits concentrated in one substring, then spread evenly: the pigeonhole's edges
        for s in range(0, 16, 5):
            w = q.copy().view(np.uint16)
            w[s] ^= np.uint16(0xFFFF)
            rows.append(w.view(np.uint64)[None, :])
        spread = q.copy().view(np.uint16)
        t = r // 16
        for s in range(16):  # t + 1 bits in every substring: distance 16 (t + 1) = r + 1..
            spread[s] ^= np.uint16((1 << (t + 1)) - 1)
        rows.append(spread.view(np.uint64)[None, :])
    words = np.ascontiguousarray(np.concatenate(rows))
    perm = rng.permutation(len(words))
    return np.ascontiguousarray(words[perm]), queries


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    r=st.sampled_from([0, 1, 15, 16, 17, 30, 31, 32, 46, 47, 48, 63]),
)
def test_table_search_equals_brute_force(seed: int, n: int, r: int) -> None:
    words, queries = _planted(seed, n, r)
    tables = Tables.build(words)
    want = _reference(words, queries, r)
    rows, qi, dist = _mih.search(
        words, tables.order, tables.offsets, queries, r, probe_masks(r // 16)
    )
    got = list(zip(rows.tolist(), qi.tolist(), dist.tolist()))
    assert len(got) == len(set(got))  # no row reported twice for a query
    assert set(got) == want
    assert {(i, q, d) for i, q, d in want if d == r}  # the boundary rows are there
    # the dispatcher (tables or scan, whichever it picks) answers the same
    rows, qi, dist = search_rows(words, tables, queries, r)
    assert set(zip(rows.tolist(), qi.tolist(), dist.tolist())) == want


def test_tables_are_a_counting_sort_of_every_substring() -> None:
    rng = np.random.default_rng(5)
    words = rng.integers(0, 2**64, (5000, 4), dtype=np.uint64)
    words[::3, 0] = words[0, 0]  # large buckets
    t = Tables.build(words)
    sub = words.view(np.uint16)
    for s in range(16):
        ref = np.argsort(sub[:, s], kind="stable")
        assert np.array_equal(t.order[s], ref)
        counts = np.bincount(sub[:, s], minlength=65536)
        assert np.array_equal(np.diff(t.offsets[s]), counts)


def test_probe_masks_are_every_value_within_t_bits() -> None:
    for t in range(4):
        m = probe_masks(t).astype(np.int64)
        ref = [v for v in range(65536) if bin(v).count("1") <= t]
        assert m.tolist() == ref


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), r=st.sampled_from([31, 47, 72]))
def test_segmented_index_equals_brute_force_while_growing(seed: int, r: int) -> None:
    rng = np.random.default_rng(seed)
    words, queries = _planted(seed, 600, r)
    ids = rng.permutation(10_000)[: len(words)].astype(np.int64) + 1
    with _small_segments(tail=64, tables=100, merge_rows=400, merge_count=3):
        index = SegmentedIndex()
        cuts = np.unique(np.r_[0, rng.integers(0, len(words), 12), len(words)])
        qbytes = [q.tobytes() for q in queries]
        for a, b in itertools.pairwise(cuts):
            index.add(ids[a:b], words[a:b].view(np.uint8))
            # during the build some segments may be scanned, some searched by tables
            ref: dict[int, int] = {}
            for row, _, d in _reference(words[:b], queries, r):
                ref[int(ids[row])] = min(d, ref.get(int(ids[row]), d))
            assert index.radius(qbytes, r) == ref
        assert index.wait_tables(30)
        assert index.radius(qbytes, r) == ref and len(index) == len(words)


def test_queries_during_refreshes_and_table_builds_stay_exact() -> None:
    """Threads query while one thread appends (tail, freeze, builds, merges)."""
    rng = np.random.default_rng(11)
    words, queries = _planted(11, 4000, 31)
    ids = np.arange(1, len(words) + 1, dtype=np.int64)
    qbytes = [q.tobytes() for q in queries]
    with _small_segments(tail=256, tables=300, merge_rows=2000, merge_count=4):
        index = SegmentedIndex()
        dist: dict[int, int] = {}
        for row, _, d in _reference(words, queries, 31):
            dist[int(ids[row])] = min(d, dist.get(int(ids[row]), d))
        errors: list[str] = []
        done = threading.Event()

        def reader() -> None:
            while not done.is_set():
                got = index.radius(qbytes, 31)
                # a snapshot: every hit is a true hit with its true (smallest) distance
                for i, d in got.items():
                    if dist.get(i) != d:
                        errors.append(f"id {i} distance {d}, expected {dist.get(i)}")

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        pos = 0
        while pos < len(words):
            step = int(rng.integers(1, 300))
            index.add(ids[pos : pos + step], words[pos : pos + step].view(np.uint8))
            pos += step
        done.set()
        for t in threads:
            t.join()
        assert not errors, errors[:5]
        assert index.wait_tables(30)
        assert index.radius(qbytes, 31) == dist


def test_search_radius_is_validated(tmp_path: object) -> None:
    from onestop_docs.errors import InvalidArgumentError
    from onestop_docs.reuse import ReuseStore

    with pytest.raises(InvalidArgumentError):
        ReuseStore(str(tmp_path) + "/s.sqlite", search_radius=73)
