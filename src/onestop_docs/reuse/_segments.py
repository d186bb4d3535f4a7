"""The in-memory candidate index of a store process: HashIndex segments that grow cheaply."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..dedup import HashIndex

#: Largest segment that later refreshes append to.  A cold load of the whole store becomes one
#: segment of exactly its size; new pages go to a small tail segment, so a refresh never
#: copies the big segments (HashIndex grows by copying).
TAIL_ROWS = 1 << 20


class SegmentedIndex:
    """Candidate hashes (ids = page ``seq``) in :class:`~onestop_docs.dedup.HashIndex`
    segments; thread-safe like HashIndex (queries see the segments of when they started)."""

    def __init__(self) -> None:
        self._segs: list[HashIndex] = []
        self._tail = False  # the last segment takes appends
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(s) for s in self._segs)

    @property
    def segments(self) -> int:
        return len(self._segs)

    def nbytes(self) -> int:
        """Bytes held by the segments' arrays (capacity included), for benchmarks."""
        return sum(s._words.nbytes + s._ids.nbytes for s in self._segs)

    def add(self, ids: NDArray[np.int64], words: NDArray[np.uint8]) -> None:
        n = len(ids)
        if n == 0:
            return
        with self._lock:
            last = self._segs[-1] if self._segs else None
            if n >= TAIL_ROWS:
                seg = HashIndex(256)
                seg.add(ids, words)
                self._segs.append(seg)
                self._tail = False
            elif last is not None and self._tail and len(last) + n <= TAIL_ROWS:
                last.add(ids, words)
            else:
                seg = HashIndex(256)
                seg.add(ids, words)
                self._segs.append(seg)
                self._tail = True

    def radius(self, queries: list[bytes], r: int) -> dict[int, int]:
        """``{id: smallest distance}`` over all queries and segments."""
        with self._lock:
            segs = list(self._segs)
        best: dict[int, int] = {}
        for seg in segs:
            for m in seg.radius_batch(queries, r):
                for i, d in m:
                    if d < best.get(i, 1 << 30):
                        best[i] = d
        return best

    def save(self, path: Path) -> int:
        """Write segment k to ``path`` (k = 0) or ``path.k``; returns the number of files."""
        with self._lock:
            segs = list(self._segs)
        for k, seg in enumerate(segs):
            seg.save(_seg_path(path, k))
        return len(segs)

    @classmethod
    def open(cls, path: Path, files: int) -> SegmentedIndex:
        index = cls()
        index._segs = [HashIndex.open(_seg_path(path, k), mmap=True) for k in range(files)]
        return index


def _seg_path(path: Path, k: int) -> Path:
    return path if k == 0 else path.with_name(f"{path.name}.{k}")
