"""The reuse index: pages of digitized records, labelled by record and page."""

from __future__ import annotations

import threading
from typing import Any


class ReuseIndex:
    """Pages of digitized records for the reuse check (kiểm tra tái sử dụng).

    Wraps :class:`onestop_docs.dedup.DuplicateIndex` and remembers, for every page added,
    which record and page number it was.  Thread-safe: a kiosk server can share one.

    Examples
    --------
    >>> index = ReuseIndex()
    >>> len(index)
    0
    """

    def __init__(self, options: Any | None = None) -> None:
        from ..dedup import DuplicateIndex

        self._index = DuplicateIndex(options)
        self._labels: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, record_id: str, page_number: int, key: Any) -> None:
        """Add the document key of page ``page_number`` of ``record_id``."""
        with self._lock:
            ident = len(self._labels)
            self._labels.append((record_id, page_number))
        self._index.add_key(ident, key)

    def lookup(self, key: Any) -> list[dict[str, Any]]:
        """Earlier pages matching ``key``: dicts with record_id, page, kind and distances."""
        out = []
        for m in self._index.lookup_key(key):
            record_id, page_number = self._labels[m.id]
            out.append(
                {
                    "record_id": record_id,
                    "page": page_number,
                    "kind": m.kind,
                    "pdq_distance": m.pdq_distance,
                    "dct_distance": m.dct_distance,
                    "region_diff": None
                    if m.region_diff is None
                    else round(float(m.region_diff), 4),
                }
            )
        return out
