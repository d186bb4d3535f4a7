"""The in-memory candidate index of a store process: segments with multi-index tables.

Every segment holds rows ``(page seq, 256-bit candidate hash)`` in a
:class:`~onestop_docs.dedup.HashIndex`.  A frozen segment also gets multi-index hashing tables
(Norouzi et al.: 16 substrings of 16 bits, one bucket table per substring, built by
``_native.reuse_mih`` on a background thread); the growing tail segment is small and is
scanned.  A radius query is exact whichever way a segment answers it: a table search probes
every bucket within ``r // 16`` bits of each query substring (two hashes within ``r`` agree
to within that on at least one substring) and checks every candidate on all 256 bits; a
segment whose tables are not built yet, or for which the probes would read more rows than a
scan, is scanned.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import onestop_docs._native.dedup_index as _scan
import onestop_docs._native.reuse_mih as _mih

from ..dedup import HashIndex

#: Rows of the tail segment that refreshes append to; a full tail is frozen (its tables are
#: built) and a new tail begins.  Small, because the tail is scanned on every query.
TAIL_ROWS = 1 << 16
#: Frozen segments of at least this many rows get tables (their offsets, 4 MB, stay under
#: 16 bytes per row); smaller ones are scanned until they are merged.
_TABLE_ROWS = 1 << 18
#: Frozen segments smaller than this are merged into one once there are ``_MERGE_COUNT`` of
#: them, so a process that grew by small refreshes does not query hundreds of segments.
_MERGE_ROWS = 1 << 21
_MERGE_COUNT = 4
#: A table candidate (random access) costs about this many scanned rows (sequential).
_CANDIDATE_COST = 8
_SCAN_BLOCK = 2048
_NO_ALIVE = np.empty(0, np.uint8)


def _probe_masks(t: int) -> NDArray[np.uint16]:
    v = np.arange(_mih.KEYS, dtype=np.int64)
    return np.ascontiguousarray(v[np.bitwise_count(v) <= t].astype(np.uint16))


_MASKS: dict[int, NDArray[np.uint16]] = {}


def probe_masks(t: int) -> NDArray[np.uint16]:
    """Every 16-bit value with at most ``t`` bits set (the probes of one substring)."""
    m = _MASKS.get(t)
    if m is None:
        m = _MASKS[t] = _probe_masks(t)
    return m


@dataclass(frozen=True)
class Tables:
    """Multi-index tables of a segment: ``order`` (16, n) int32 row numbers sorted by each
    substring, ``offsets`` (16, 65537) int32 bucket starts."""

    order: NDArray[np.int32]
    offsets: NDArray[np.int32]

    @classmethod
    def build(cls, words: NDArray[np.uint64]) -> Tables:
        n = words.shape[0]
        order = np.empty((_mih.SUBSTRINGS, n), np.int32)
        offsets = np.empty((_mih.SUBSTRINGS, _mih.KEYS + 1), np.int32)
        _mih.build_tables(np.ascontiguousarray(words).view(np.uint16), order, offsets)
        return cls(order, offsets)

    def candidates(self, queries: NDArray[np.uint64], r: int) -> int:
        """Rows the probes of ``queries`` within ``r`` would check (from the bucket sizes)."""
        masks = probe_masks(r // _mih.SUBSTRINGS).astype(np.int64)
        total = 0
        for q in queries.view(np.uint16):
            keys = masks[None, :] ^ q.astype(np.int64)[:, None]  # (16, probes)
            rows = np.arange(_mih.SUBSTRINGS)[:, None]
            total += int((self.offsets[rows, keys + 1] - self.offsets[rows, keys]).sum())
        return total

    @property
    def nbytes(self) -> int:
        return int(self.order.nbytes + self.offsets.nbytes)


class _Segment:
    __slots__ = ("index", "tables")

    def __init__(self, index: HashIndex) -> None:
        self.index = index
        self.tables: Tables | None = None


def search_rows(
    words: NDArray[np.uint64],
    tables: Tables | None,
    queries: NDArray[np.uint64],
    r: int,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """``(rows, query, distance)`` of every row of ``words`` within ``r`` of a query: by the
    tables when they predict fewer reads than a scan, else by a scan (both exact)."""
    n = words.shape[0]
    if tables is not None and r // _mih.SUBSTRINGS <= 3:
        probes = len(probe_masks(r // _mih.SUBSTRINGS)) * _mih.SUBSTRINGS * len(queries)
        if _CANDIDATE_COST * tables.candidates(queries, r) + probes < n * len(queries):
            masks = probe_masks(r // _mih.SUBSTRINGS)
            rows, qi, dist = _mih.search(words, tables.order, tables.offsets, queries, r, masks)
            return rows, qi, dist
    rows, qi, dist = _scan.radius_search(words, _NO_ALIVE, queries, r, _SCAN_BLOCK)
    return rows, qi, dist


class SegmentedIndex:
    """Candidate hashes (ids = page ``seq``) in segments; thread-safe: queries see the
    segments of when they started, while refreshes append and tables are built."""

    def __init__(self) -> None:
        self._segs: list[_Segment] = []
        self._tail = False  # the last segment takes appends
        self._lock = threading.Lock()
        self._builder: threading.Thread | None = None

    def __len__(self) -> int:
        return sum(len(s.index) for s in self._segs)

    @property
    def segments(self) -> int:
        return len(self._segs)

    def nbytes(self) -> int:
        """Bytes held by the rows (capacity included) and the tables, for benchmarks."""
        total = 0
        for s in list(self._segs):
            ids, words = s.index.rows()
            total += ids.nbytes + words.nbytes + (0 if s.tables is None else s.tables.nbytes)
        return total

    def add(self, ids: NDArray[np.int64], words: NDArray[np.uint8]) -> None:
        n = len(ids)
        if n == 0:
            return
        with self._lock:
            last = self._segs[-1] if self._segs else None
            if last is not None and self._tail and len(last.index) + n <= TAIL_ROWS:
                last.index.add(ids, words)
                return
            if last is not None and self._tail:
                self._tail = False  # frozen: its tables are built below
            seg = _Segment(HashIndex(256))
            seg.index.add(ids, words)
            self._segs.append(seg)
            self._tail = n < TAIL_ROWS  # a cold load: one frozen segment of exactly its size
        self._build_tables()

    def _build_tables(self) -> None:
        """Start the background builder unless it runs (it re-checks for work before it
        stops, under the lock that :meth:`add` takes, so no frozen segment is missed)."""
        with self._lock:
            if self._builder is None:
                self._builder = threading.Thread(
                    target=self._builder_run, name="reuse-index-tables", daemon=True
                )
                self._builder.start()

    def _builder_run(self) -> None:
        try:
            self._build_all()
        finally:  # also when a build failed (out of memory): segments stay scanned, exact
            with self._lock:
                if self._builder is threading.current_thread():
                    self._builder = None

    def _build_all(self) -> None:
        while True:
            with self._lock:
                frozen = self._segs[:-1] if self._tail else self._segs
                todo = [s for s in frozen if s.tables is None and len(s.index) >= _TABLE_ROWS]
                small = [s for s in frozen if len(s.index) < _MERGE_ROWS]
                if not todo and len(small) < _MERGE_COUNT:
                    self._builder = None  # under the lock: add() starts a new builder
                    return
            if todo:
                for seg in todo:
                    seg.tables = Tables.build(seg.index.rows()[1])
            else:
                self._merge(small)

    def _merge(self, small: list[_Segment]) -> None:
        """Replace frozen segments by one with their rows (and tables when it is big enough),
        so a process that grew by many small refreshes does not query many segments."""
        parts = [s.index.rows() for s in small]
        merged = _Segment(HashIndex(256))
        merged.index.add(
            np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        )
        if len(merged.index) >= _TABLE_ROWS:
            merged.tables = Tables.build(merged.index.rows()[1])
        with self._lock:
            gone = {id(s) for s in small}
            self._segs = [merged] + [s for s in self._segs if id(s) not in gone]

    def wait_tables(self, timeout_s: float | None = None) -> bool:
        """Wait until the background builder is idle; True when every frozen segment large
        enough for tables has them (and small ones are merged)."""
        b = self._builder
        if b is not None:
            b.join(timeout_s)
        with self._lock:
            return self._builder is None

    def radius(self, queries: list[bytes], r: int) -> dict[int, int]:
        """``{id: smallest distance}`` over all queries and segments (exact)."""
        with self._lock:
            segs = list(self._segs)
        q = np.frombuffer(b"".join(queries), np.uint64).reshape(len(queries), 4)
        best: dict[int, int] = {}
        for seg in segs:
            ids, words = seg.index.rows()
            rows, _, dist = search_rows(words, seg.tables, q, r)
            for i, d in zip(ids[rows].tolist(), dist.tolist()):
                if d < best.get(i, 1 << 30):
                    best[i] = d
        return best

    def save(self, path: Path) -> int:
        """Write segment k to ``path`` (k = 0) or ``path.k``; returns the number of files."""
        with self._lock:
            segs = list(self._segs)
        for k, seg in enumerate(segs):
            seg.index.save(_seg_path(path, k))
        return len(segs)

    @classmethod
    def open(cls, path: Path, files: int) -> SegmentedIndex:
        """Map saved segments; their tables are rebuilt on a background thread (until then
        they are scanned)."""
        index = cls()
        index._segs = [
            _Segment(HashIndex.open(_seg_path(path, k), mmap=True)) for k in range(files)
        ]
        index._build_tables()
        return index


def _seg_path(path: Path, k: int) -> Path:
    return path if k == 0 else path.with_name(f"{path.name}.{k}")
