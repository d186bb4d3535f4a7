"""Exact Hamming-distance index over 64- or 256-bit hashes (brute force + multi-index hashing)."""

from __future__ import annotations

import itertools
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

import onestop_docs._native.dedup_index as _k

from .._fileutil import atomic_write
from .._validate import check_int
from ..errors import IndexFormatError, InvalidArgumentError
from ._hash import Hash

__all__ = ["INDEX_MAGIC", "INDEX_VERSION", "HashIndex", "Matches", "popcount_kernel"]

#: First 8 bytes of an index file.
INDEX_MAGIC = b"OSDHIDX\x00"
#: Current file-format version.
INDEX_VERSION = 1
_HEADER = struct.Struct("<8sHHIQII28s")  # magic, version, bits, flags, count, crc, 0, pad
_HEADER_SIZE = 64  # _HEADER (60 bytes) + header CRC32 (4 bytes)
_BLOCK_ROWS = 2048  # 64 KiB of 256-bit rows: stays in L2 while a query batch passes over it
_CHUNK = 1 << 20
_SUB_BITS = 16  # multi-index hashing substring width
Method = Literal["auto", "brute", "mih"]

IdsLike = int | Sequence[int] | NDArray[np.integer[Any]]


def popcount_kernel() -> str:
    """Which Hamming kernel build is in use, chosen at import from what the CPU runs:
    ``"avx512"`` (AVX-512 VPOPCNTDQ for query batches, POPCNT otherwise), ``"popcnt"``
    (the hardware instruction) or ``"generic"``.

    Examples
    --------
    >>> popcount_kernel() in ("avx512", "popcnt", "generic")
    True
    """

    return str(_k.impl())


@dataclass(frozen=True, eq=False)
class Matches:
    """Hits of one query, nearest first (ties in insertion order).

    Attributes
    ----------
    ids : numpy.ndarray
        int64 ids, as given to :meth:`HashIndex.add`.
    distances : numpy.ndarray
        int32 Hamming distances, ascending.
    """

    ids: NDArray[np.int64]
    distances: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self.ids.tolist(), self.distances.tolist()))

    def __repr__(self) -> str:
        return f"Matches({list(self)!r})"


def _probe_masks(t: int) -> NDArray[np.int64]:
    v = np.arange(1 << _SUB_BITS, dtype=np.int64)
    pc = np.bitwise_count(v)
    return v[pc <= t]


_PROBES = {t: _probe_masks(t) for t in (0, 1, 2)}


class _Mih:
    """Multi-index hashing (Norouzi et al.): one bucket table per 16-bit substring.

    Two hashes within distance r agree to within ``r // m`` bits on at least one of the m
    substrings (pigeonhole), so probing every substring's buckets within that radius
    yields every true hit; candidates are then checked exactly.
    """

    def __init__(self, words: NDArray[np.uint64]) -> None:
        self.rows = int(words.shape[0])
        sub = np.ascontiguousarray(words).view(np.uint16)
        dtype = np.int32 if self.rows < 2**31 else np.int64
        self.order: list[NDArray[Any]] = []
        self.offsets: list[NDArray[np.int64]] = []
        for s in range(sub.shape[1]):
            keys = sub[:, s]
            counts = np.bincount(keys, minlength=1 << _SUB_BITS)
            off = np.zeros((1 << _SUB_BITS) + 1, np.int64)
            np.cumsum(counts, out=off[1:])
            self.order.append(np.argsort(keys, kind="stable").astype(dtype))
            self.offsets.append(off)

    def plan(self, query: NDArray[np.uint64], r: int) -> tuple[list[Any], int] | None:
        m = len(self.order)
        t = r // m
        if t not in _PROBES:
            return None
        qsub = query.view(np.uint16)
        spans = []
        total = 0
        for s in range(m):
            keys = _PROBES[t] ^ int(qsub[s])
            starts = self.offsets[s][keys]
            ends = self.offsets[s][keys + 1]
            total += int((ends - starts).sum())
            spans.append((starts, ends))
        return spans, total

    def candidates(self, spans: list[Any]) -> NDArray[np.int64]:
        parts: list[NDArray[Any]] = []
        for s, (starts, ends) in enumerate(spans):
            nz = ends > starts
            order = self.order[s]
            parts.extend(order[a:b] for a, b in zip(starts[nz].tolist(), ends[nz].tolist()))
        if not parts:
            return np.empty(0, np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)


@dataclass(frozen=True)
class _Snapshot:
    words: NDArray[np.uint64]
    ids: NDArray[np.int64]
    alive: NDArray[np.uint8] | None
    mih: _Mih | None


class HashIndex:
    """Exact Hamming-distance search over ``bits``-bit hashes (chỉ mục mã băm).

    Rows are (id, hash) pairs; ids are int64 chosen by the caller and need not be unique (the
    pages of one record may share a record id).  Queries return every row within a radius
    (:meth:`radius`) or the k nearest rows (:meth:`nearest`), always exact.

    Search strategy, chosen per query by ``method="auto"``: a blocked brute-force scan with
    the hardware popcount kernel (the database is read once per query batch; AVX-512
    VPOPCNTDQ compares 8 queries at once where the CPU has it), or multi-index hashing over
    16-bit substrings when ``r // (bits / 16) <= 2`` and the bucket counts predict that
    checking the candidates costs less than the scan (small radii).  The substring tables are built
    lazily on the first query that can use them (about 64 bytes per 256-bit row) for indexes
    of at most ``mih_max_rows`` rows; rows added later are scanned until the tables are
    rebuilt.

    Thread safety: any number of threads may query concurrently, also while one thread adds
    or removes; a query sees a consistent snapshot of the rows that existed when it started
    (a concurrent :meth:`remove` may or may not be visible to it).  Writers (:meth:`add`,
    :meth:`remove`, :meth:`save`) serialise on an internal lock.  Across processes, share an
    index read-only through :meth:`open` (memory-mapped) and let one writer :meth:`save` a
    new version; the rename is atomic, and readers reopen to see it.

    Parameters
    ----------
    bits : {64, 256}
        Hash width.
    mih_max_rows : int
        Largest index for which multi-index tables are built (memory guard).

    Raises
    ------
    InvalidArgumentError
        ``bits`` not 64 or 256.

    Examples
    --------
    >>> from onestop_docs.dedup import Hash, HashIndex
    >>> index = HashIndex(bits=64)
    >>> index.add([1, 2], [Hash.from_hex("00000000000000ff"), Hash.from_hex("ffffffffffffffff")])
    >>> list(index.radius(Hash.from_hex("000000000000000f"), 6))
    [(1, 4)]
    >>> list(index.nearest(Hash.from_hex("ffffffffffffff00"), 1))
    [(2, 8)]
    """

    def __init__(self, bits: int = 256, *, mih_max_rows: int = 4_000_000) -> None:
        if isinstance(bits, bool) or bits not in (64, 256):
            raise InvalidArgumentError(f"HashIndex bits must be 64 or 256, got {bits!r}")
        self._bits = int(bits)
        self._w = self._bits // 64
        self._lock = threading.RLock()
        self._words: NDArray[np.uint64] = np.empty((0, self._w), np.uint64)
        self._ids: NDArray[np.int64] = np.empty(0, np.int64)
        self._alive: NDArray[np.uint8] | None = None
        self._n = 0
        self._dead = 0
        self._mih: _Mih | None = None
        self._mih_max_rows = int(mih_max_rows)
        self._path: str | None = None

    # ------------------------------------------------------------------ properties

    @property
    def bits(self) -> int:
        """Hash width in bits (64 or 256)."""
        return self._bits

    def __len__(self) -> int:
        """Number of live rows."""
        return self._n - self._dead

    def __repr__(self) -> str:
        src = f", path={self._path!r}" if self._path else ""
        return f"HashIndex(bits={self._bits}, rows={len(self)}{src})"

    # ------------------------------------------------------------------ input conversion

    def _as_words(self, hashes: Any, what: str = "hashes") -> NDArray[np.uint64]:
        nbytes = self._bits // 8
        if isinstance(hashes, np.ndarray):
            arr = hashes
            if arr.dtype == np.uint64:
                if arr.ndim == 1 and arr.shape[0] == self._w:
                    arr = arr[None, :]
                if arr.ndim != 2 or arr.shape[1] != self._w:
                    raise InvalidArgumentError(
                        f"{what}: uint64 array must have shape (n, {self._w}) for "
                        f"{self._bits}-bit hashes, got {arr.shape}"
                    )
                return np.ascontiguousarray(arr)
            if arr.dtype == np.uint8:
                if arr.ndim == 1:
                    arr = arr[None, :]
                if arr.ndim != 2 or arr.shape[1] != nbytes:
                    raise InvalidArgumentError(
                        f"{what}: uint8 array must have shape (n, {nbytes}) for "
                        f"{self._bits}-bit hashes, got {arr.shape}"
                    )
                return np.ascontiguousarray(arr).view(np.uint64)
            raise InvalidArgumentError(
                f"{what}: expected uint8 (n, {nbytes}) or uint64 (n, {self._w}) array, "
                f"got dtype {arr.dtype}"
            )
        if isinstance(hashes, Hash | str | bytes):
            items = [hashes]
        elif isinstance(hashes, Iterable):
            items = list(hashes)
        else:
            raise InvalidArgumentError(
                f"{what}: expected a Hash, hex str, bytes, a sequence of them or an array, "
                f"got {type(hashes).__name__}"
            )
        buf = bytearray()
        for i, h in enumerate(items):
            if isinstance(h, str):
                h = Hash.from_hex(h)
            if isinstance(h, Hash):
                if h.nbits != self._bits:
                    raise InvalidArgumentError(
                        f"{what}[{i}] is a {h.nbits}-bit hash; this index holds "
                        f"{self._bits}-bit hashes (64- and 256-bit hashes cannot be mixed)"
                    )
                buf += h.data
            elif isinstance(h, bytes | bytearray):
                if len(h) != nbytes:
                    raise InvalidArgumentError(
                        f"{what}[{i}] has {len(h)} bytes; {self._bits}-bit hashes need {nbytes}"
                    )
                buf += h
            else:
                raise InvalidArgumentError(
                    f"{what}[{i}] must be a Hash, hex str or bytes, got {type(h).__name__}"
                )
        return np.frombuffer(bytes(buf), np.uint64).reshape(len(items), self._w)

    @staticmethod
    def _as_ids(ids: IdsLike, n: int | None = None) -> NDArray[np.int64]:
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr[None]
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise InvalidArgumentError(
                f"ids must be integers (a 1-D sequence), got {arr.dtype} of shape {arr.shape}"
            )
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise InvalidArgumentError("ids must fit in int64")
        out = arr.astype(np.int64)
        if n is not None and out.shape[0] != n:
            raise InvalidArgumentError(f"got {out.shape[0]} ids for {n} hashes")
        return out

    # ------------------------------------------------------------------ writers

    def add(self, ids: IdsLike, hashes: Any) -> None:
        """Append rows.

        Parameters
        ----------
        ids : int or sequence of int
            One id per hash (int64).
        hashes : Hash, hex str, bytes, or a sequence of them, or an array
            ``uint8 (n, bits / 8)`` or ``uint64 (n, bits / 64)`` (the bytes of
            :attr:`Hash.data`).

        Raises
        ------
        InvalidArgumentError
            Wrong width (e.g. a 64-bit hash in a 256-bit index), malformed hex, or a
            different number of ids and hashes.
        """
        words = self._as_words(hashes)
        id_arr = self._as_ids(ids, words.shape[0])
        k = words.shape[0]
        if k == 0:
            return
        with self._lock:
            n = self._n
            if n + k > self._words.shape[0] or not self._words.flags.writeable:
                cap = max(n + k, 2 * n, 1024)
                nw = np.empty((cap, self._w), np.uint64)
                nw[:n] = self._words[:n]
                ni = np.empty(cap, np.int64)
                ni[:n] = self._ids[:n]
                self._words, self._ids = nw, ni
                if self._alive is not None:
                    na = np.ones(cap, np.uint8)
                    na[:n] = self._alive[:n]
                    self._alive = na
            # Rows beyond a reader's snapshot are invisible to it, so in-place writes are safe.
            self._words[n : n + k] = words
            self._ids[n : n + k] = id_arr
            if self._alive is not None:
                self._alive[n : n + k] = 1
            self._n = n + k

    def remove(self, ids: IdsLike) -> int:
        """Remove every row whose id is in ``ids``; returns the number of rows removed.

        Raises
        ------
        InvalidArgumentError
            ``ids`` are not integers.
        """
        id_arr = self._as_ids(ids)
        with self._lock:
            n = self._n
            hit = np.isin(self._ids[:n], id_arr)
            if self._alive is None:
                self._alive = np.ones(self._words.shape[0], np.uint8)
            hit &= self._alive[:n].astype(bool)
            count = int(hit.sum())
            self._alive[:n][hit] = 0
            self._dead += count
            return count

    def ids(self) -> NDArray[np.int64]:
        """Ids of the live rows, in insertion order."""
        snap = self._snapshot(build_mih=False)
        if snap.alive is None:
            return np.array(snap.ids, np.int64)
        return np.asarray(snap.ids[snap.alive.astype(bool)], np.int64)

    def rows(self) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """``(ids, words)`` of the live rows in insertion order: int64 ``(n,)`` and uint64
        ``(n, bits / 64)``, read-only views of a snapshot (copies when rows were removed),
        for callers that build their own search structure over the rows.

        Examples
        --------
        >>> index = HashIndex(bits=64)
        >>> index.add([7], ["00000000000000ff"])
        >>> ids, words = index.rows()
        >>> ids.tolist(), words.shape
        ([7], (1, 1))
        """
        snap = self._snapshot(build_mih=False)
        ids, words = snap.ids, snap.words
        if snap.alive is not None:
            keep = snap.alive.astype(bool)
            ids, words = ids[keep], words[keep]
        ids, words = ids.view(), words.view()
        ids.flags.writeable = False
        words.flags.writeable = False
        return ids, words

    # ------------------------------------------------------------------ queries

    def _snapshot(self, build_mih: bool) -> _Snapshot:
        with self._lock:
            n = self._n
            mih = self._mih
            if (
                build_mih
                and n <= self._mih_max_rows
                and (mih is None or n - mih.rows > max(65536, mih.rows // 8))
            ):
                mih = self._mih = _Mih(self._words[:n])
            alive = None if self._alive is None else self._alive[:n]
            return _Snapshot(self._words[:n], self._ids[:n], alive, mih)

    def _check_radius(self, r: int) -> int:
        return check_int(r, "radius", 0, self._bits, numpy_ok=True)

    def _brute(
        self, snap: _Snapshot, q: NDArray[np.uint64], r: int, start: int = 0
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:

        db = snap.words[start:]
        if db.shape[0] == 0 or q.shape[0] == 0:
            e = np.empty(0, np.int32)
            return np.empty(0, np.int64), e, e.copy()
        alive = np.empty(0, np.uint8) if snap.alive is None else snap.alive[start:]
        rows, qi, dist = _k.radius_search(db, alive, q, r, _BLOCK_ROWS)
        return rows + start, qi, dist

    def _mih_one(
        self, snap: _Snapshot, q: NDArray[np.uint64], r: int, method: Method, row_cost: float
    ) -> tuple[NDArray[np.int64], NDArray[np.int32]] | None:
        mih = snap.mih
        if mih is None:
            return None
        plan = mih.plan(q[0], r)
        if plan is None:
            return None
        spans, total = plan
        # Cost model (seconds, measured on x86-64): a probe costs a fixed ~100 us of Python
        # work plus ~150 ns per candidate; a scan costs row_cost per row.
        if method == "auto" and 100e-6 + 150e-9 * total > row_cost * mih.rows:
            return None
        cand = mih.candidates(spans)
        if snap.alive is not None and cand.size:
            cand = cand[snap.alive[cand].astype(bool)]
        dist = np.bitwise_count(snap.words[cand] ^ q[0]).sum(axis=1, dtype=np.int32)
        keep = dist <= r
        rows, dists = cand[keep], dist[keep]
        if snap.words.shape[0] > mih.rows:  # rows added after the tables were built
            tr, _, td = self._brute(snap, q, r, start=mih.rows)
            rows, dists = np.concatenate([rows, tr]), np.concatenate([dists, td])
        return rows, dists

    def _matches(
        self, snap: _Snapshot, rows: NDArray[np.int64], dist: NDArray[np.int32]
    ) -> Matches:
        order = np.lexsort((rows, dist))
        return Matches(snap.ids[rows[order]], dist[order].astype(np.int32))

    def radius(self, query: Any, r: int, *, method: Method = "auto") -> Matches:
        """Every live row within Hamming distance ``r`` (inclusive) of ``query``.

        Parameters
        ----------
        query : Hash, hex str, bytes or array
            One hash of this index's width.
        r : int
            Radius, ``0 <= r <= bits``.
        method : {"auto", "brute", "mih"}
            Force a strategy (results are identical; for benchmarks and tests).

        Returns
        -------
        Matches

        Raises
        ------
        InvalidArgumentError
            Wrong width, bad radius or method.
        """
        return self.radius_batch(self._as_words(query, "query")[:1], r, method=method)[0]

    def radius_batch(
        self, queries: Any, r: int, *, method: Method = "auto", threads: int = 1
    ) -> list[Matches]:
        """:meth:`radius` for many queries; brute force reads the database once per batch.

        ``threads`` > 1 splits the batch across threads (the kernel releases the GIL).
        """
        r = self._check_radius(r)
        _split(0, threads)  # validates ``threads``
        if method not in ("auto", "brute", "mih"):
            raise InvalidArgumentError(f"method must be 'auto', 'brute' or 'mih', got {method!r}")
        q = self._as_words(queries, "queries")
        nq = q.shape[0]
        mih_ok = r // (self._bits // 16) <= 2
        if method == "mih" and not mih_ok:
            raise InvalidArgumentError(
                f"multi-index hashing needs r <= {3 * (self._bits // 16) - 1}, got {r}"
            )
        snap = self._snapshot(build_mih=method != "brute" and mih_ok)
        if method == "mih" and snap.mih is None:
            raise InvalidArgumentError(
                f"multi-index hashing is not available for this index ({self._n} rows, "
                f"mih_max_rows={self._mih_max_rows})"
            )
        out: list[Matches | None] = [None] * nq
        pending = []
        # per-row scan cost: batches on AVX-512 VPOPCNTDQ compare 8 queries per instruction
        row_cost = 0.25e-9 if nq >= 4 and _k.impl() == "avx512" else 1.1e-9
        if method != "brute" and mih_ok:
            for i in range(nq):
                res = self._mih_one(snap, q[i : i + 1], r, method, row_cost)
                if res is None:
                    pending.append(i)
                else:
                    out[i] = self._matches(snap, *res)
        else:
            pending = list(range(nq))
        if pending:
            sub = q[pending]
            chunks = _split(len(pending), threads)
            if len(chunks) > 1:
                with ThreadPoolExecutor(len(chunks)) as pool:
                    parts = list(pool.map(lambda c: self._brute(snap, sub[c[0] : c[1]], r), chunks))
            else:
                parts = [self._brute(snap, sub, r)]
            for (a, b), hits in zip(chunks, parts):
                for j, m in enumerate(_per_query(snap, *hits, b - a)):
                    out[pending[a + j]] = m
        return [
            m if m is not None else Matches(np.empty(0, np.int64), np.empty(0, np.int32))
            for m in out
        ]

    def nearest(self, query: Any, k: int) -> Matches:
        """The ``k`` live rows closest to ``query`` (fewer if the index is smaller).

        Ties at the k-th distance are broken by insertion order.

        Raises
        ------
        InvalidArgumentError
            Wrong width or ``k < 1``.
        """
        return self.nearest_batch(self._as_words(query, "query")[:1], k)[0]

    def nearest_batch(self, queries: Any, k: int, *, threads: int = 1) -> list[Matches]:
        """:meth:`nearest` for many queries (distance histogram pass, then a radius pass)."""

        # A k above any possible row count means "all rows" (fewer if the index is smaller);
        # clamped so the kernels never see a number beyond their C integer.
        k = min(check_int(k, "k", 1, numpy_ok=True), np.iinfo(np.int32).max)
        _split(0, threads)  # validates ``threads``
        q = self._as_words(queries, "queries")
        snap = self._snapshot(build_mih=False)
        nq = q.shape[0]
        hist = np.zeros((nq, self._bits + 1), np.int64)
        if snap.words.shape[0] and nq:
            alive = np.empty(0, np.uint8) if snap.alive is None else snap.alive
            chunks = _split(nq, threads)

            def run(c: tuple[int, int]) -> None:
                _k.distance_histogram(
                    snap.words, alive, q[c[0] : c[1]], hist[c[0] : c[1]], _BLOCK_ROWS
                )

            if len(chunks) > 1:
                with ThreadPoolExecutor(len(chunks)) as pool:
                    list(pool.map(run, chunks))
            else:
                run(chunks[0])
        cum = np.cumsum(hist, axis=1)
        want = np.minimum(k, cum[:, -1])
        radii = np.argmax(cum >= want[:, None], axis=1)
        out = [Matches(np.empty(0, np.int64), np.empty(0, np.int32)) for _ in range(nq)]
        live = np.nonzero(want > 0)[0]
        for rad in np.unique(radii[live]).tolist():
            sel = live[radii[live] == rad]
            hits = self._brute(snap, q[sel], int(rad))
            for i, m in zip(sel.tolist(), _per_query(snap, *hits, len(sel), limit=int(k))):
                out[i] = m
        return out

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the live rows to ``path`` atomically (temp file, fsync, rename).

        A crash during ``save`` leaves the previous file intact.  Removed rows are dropped.
        See ``docs/dedup.md`` for the format (64-byte header with magic, version, width,
        count, payload CRC-32 and header CRC-32; then int64 ids and the hash bytes).
        """
        snap = self._snapshot(build_mih=False)
        keep = None if snap.alive is None else snap.alive.astype(bool)
        count = len(snap.ids) if keep is None else int(keep.sum())
        with self._lock, atomic_write(path) as fh:
            fh.write(bytes(_HEADER_SIZE))
            crc = 0
            for part in (snap.ids, snap.words):
                for a in range(0, len(part), _CHUNK):
                    block = part[a : a + _CHUNK]
                    if keep is not None:
                        block = block[keep[a : a + _CHUNK]]
                    data = np.ascontiguousarray(block).tobytes()
                    crc = zlib.crc32(data, crc)
                    fh.write(data)
            fh.seek(0)
            fh.write(_header(self._bits, count, crc))

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, mmap: bool = True, verify: bool = False
    ) -> HashIndex:
        """Open an index file written by :meth:`save`.

        Parameters
        ----------
        path : path-like
        mmap : bool
            Map the file read-only instead of reading it (default): opening costs a header
            read whatever the size, and pages are loaded on first use.  A later :meth:`add`
            copies the rows into memory; the file itself is never modified in place.
        verify : bool
            Also check the payload CRC-32 (reads the whole file).  Always done when
            ``mmap=False``.

        Raises
        ------
        IndexFormatError
            Not an index file, unknown version, bad header checksum, truncated or
            oversized file, or payload checksum mismatch.
        FileNotFoundError
            ``path`` does not exist.
        """
        p = Path(path)
        size = p.stat().st_size
        with open(p, "rb") as fh:
            raw = fh.read(_HEADER_SIZE)
        bits, count, crc = _parse_header(raw, str(p))
        w = bits // 64
        expect = _HEADER_SIZE + count * 8 * (1 + w)
        if size != expect:
            raise IndexFormatError(
                f"index file {str(p)!r} is {size} bytes; its header declares {count} rows of "
                f"{bits} bits, which need {expect} bytes (truncated or corrupt)"
            )
        index = cls(bits)
        index._path = str(p)
        if count:
            ids: NDArray[np.int64]
            words: NDArray[np.uint64]
            if mmap:
                ids = np.memmap(p, np.int64, "r", offset=_HEADER_SIZE, shape=(count,))
                words = np.memmap(
                    p, np.uint64, "r", offset=_HEADER_SIZE + 8 * count, shape=(count, w)
                )
            else:
                data = p.read_bytes()
                ids = np.frombuffer(data, np.int64, count, _HEADER_SIZE).copy()
                words = (
                    np.frombuffer(data, np.uint64, count * w, _HEADER_SIZE + 8 * count)
                    .reshape(count, w)
                    .copy()
                )
            if verify or not mmap:
                got = zlib.crc32(words.data, zlib.crc32(ids.data))
                if got != crc:
                    raise IndexFormatError(
                        f"index file {str(p)!r}: payload CRC-32 is {got:08x}, header says "
                        f"{crc:08x} (corrupt)"
                    )
            index._ids, index._words, index._n = ids, words, count
        return index


def _per_query(
    snap: _Snapshot,
    rows: NDArray[np.int64],
    qi: NDArray[np.int32],
    dist: NDArray[np.int32],
    nq: int,
    limit: int | None = None,
) -> list[Matches]:
    """Split a kernel's (row, query, distance) hits into one :class:`Matches` per query,
    nearest first, ties in row order; at most ``limit`` per query."""
    order = np.lexsort((rows, dist, qi))
    rows, qi, dist = rows[order], qi[order], dist[order]
    bounds = np.searchsorted(qi, np.arange(nq + 1)).tolist()
    out = []
    for lo, hi in itertools.pairwise(bounds):
        if limit is not None:
            hi = min(hi, lo + limit)
        out.append(Matches(snap.ids[rows[lo:hi]], dist[lo:hi]))
    return out


def _split(n: int, threads: int) -> list[tuple[int, int]]:
    check_int(threads, "threads", 1)
    parts = max(1, min(threads, n))
    step = -(-n // parts) if n else 0
    return [(a, min(a + step, n)) for a in range(0, n, step)] if n else [(0, 0)]


def _header(bits: int, count: int, crc: int) -> bytes:
    head = _HEADER.pack(INDEX_MAGIC, INDEX_VERSION, bits, 0, count, crc, 0, bytes(28))
    return head + struct.pack("<I", zlib.crc32(head))


def _parse_header(raw: bytes, name: str) -> tuple[int, int, int]:
    if len(raw) < _HEADER_SIZE:
        raise IndexFormatError(
            f"index file {name!r} is {len(raw)} bytes, shorter than the {_HEADER_SIZE}-byte header"
        )
    magic, version, bits, _flags, count, crc, _z, _pad = _HEADER.unpack_from(raw)
    if magic != INDEX_MAGIC:
        raise IndexFormatError(
            f"{name!r} is not a onestop_docs hash index (magic {magic!r}, expected {INDEX_MAGIC!r})"
        )
    (hcrc,) = struct.unpack_from("<I", raw, _HEADER.size)
    if zlib.crc32(raw[: _HEADER.size]) != hcrc:
        raise IndexFormatError(f"index file {name!r}: header checksum mismatch (corrupt header)")
    if version != INDEX_VERSION:
        raise IndexFormatError(
            f"index file {name!r} has format version {version}; this library reads version "
            f"{INDEX_VERSION}"
        )
    if bits not in (64, 256):
        raise IndexFormatError(f"index file {name!r} declares {bits}-bit hashes (64 or 256)")
    return int(bits), int(count), int(crc)
