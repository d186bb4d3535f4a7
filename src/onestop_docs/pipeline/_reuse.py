"""The reuse check of ``digitize``: look pages up in a reuse store, remember new records,
and flag pages repeated across the components of a batch."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, OnestopError
from ..reuse import PageEntry, ReuseStore, parse_owner_id
from ..reuse import keys as _keys

__all__ = ["ReuseIndex", "batch_duplicates"]


pack = _keys.pack  # a key kept compressed (reuse.keys.PackedKey) until it is compared


class ReuseIndex:
    """Pages of digitized records held in memory (kiểm tra tái sử dụng), labelled by record
    and page: what ``digitize`` uses to find a page scanned twice inside one document, and a
    store-less reuse check for tests and small jobs.  For a station or a province use
    :class:`onestop_docs.reuse.ReuseStore`, which ``digitize`` accepts in the same place.

    Thread-safe: a kiosk server can share one.

    Examples
    --------
    >>> index = ReuseIndex()
    >>> len(index)
    0
    """

    def __init__(self) -> None:
        from ..dedup import HashIndex

        self._index = HashIndex(256)
        self._entries: list[tuple[str, int, Any]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, record_id: str, page_number: int, key: Any) -> None:
        """Add the document key of page ``page_number`` of ``record_id``."""
        cand = _keys.candidate_of(key)
        packed = _keys.pack(key)  # bitmaps compressed until a candidate needs them
        with self._lock:
            row = len(self._entries)
            self._entries.append((record_id, page_number, packed))
            self._index.add([row], np.frombuffer(cand, np.uint8))

    def lookup(self, key: Any) -> list[dict[str, Any]]:
        """Earlier pages matching ``key``: dicts with record_id, page, kind, candidate
        distance and the verifier's verdict, nearest first."""
        best: dict[int, int] = {}
        for m in self._index.radius_batch(_keys.query_candidates(key), _keys.CANDIDATE_RADIUS):
            for row, dist in m:
                best[row] = min(dist, best.get(row, dist))
        out = []
        for row in sorted(best, key=lambda r: (best[r], r)):
            with self._lock:
                record_id, page_number, stored = self._entries[row]
            verdict = _keys.verify_stored(key, stored)
            if verdict.duplicate:
                out.append(
                    {
                        "record_id": record_id,
                        "page": page_number,
                        "kind": "same-page",
                        "candidate_distance": best[row],
                        "verdict": _keys.verdict_json(verdict),
                    }
                )
        return out


# --- the target digitize looks pages up in -----------------------------------------------------

_open_stores: dict[str, ReuseStore] = {}
_open_lock = threading.Lock()


def store_for(location: str) -> ReuseStore:
    """The process-wide :class:`ReuseStore` of a configured location (opened once, so a
    worker process that digitizes many records keeps its in-memory index)."""
    with _open_lock:
        store = _open_stores.get(location)
        if store is None:
            store = _open_stores[location] = ReuseStore(location)
        return store


def resolve_target(duplicate_index: Any, reuse_store: str | None) -> Any:
    """What ``digitize`` looks pages up in: the ``duplicate_index`` argument (a ReuseStore or
    ReuseIndex), else the store named in the options, else None."""
    if duplicate_index is None:
        return None if reuse_store is None else store_for(reuse_store)
    if isinstance(duplicate_index, ReuseStore | ReuseIndex):
        return duplicate_index
    raise InvalidArgumentError(
        "duplicate_index must be an onestop_docs.reuse.ReuseStore or a pipeline.ReuseIndex, "
        f"got {type(duplicate_index).__name__} (a dedup.DuplicateIndex labels pages with "
        "integers and cannot say which record a page came from)"
    )


def check_owner(target: Any, extra: dict[str, Any]) -> None:
    """A record that goes into a reuse store needs a valid owner id (CCCD or MST) or none."""
    owner = extra.get("owner_id")
    if isinstance(target, ReuseStore) and owner is not None:
        parse_owner_id(owner)


def earlier_copies(target: Any, key: Any) -> list[dict[str, Any]]:
    """Earlier pages in ``target`` that ``key`` duplicates, as report dicts."""
    if target is None:
        return []
    if isinstance(target, ReuseIndex):
        return target.lookup(key)
    return [
        {k: v for k, v in m.to_json().items() if k in _REPORT_KEYS} for m in target.lookup_key(key)
    ]


_REPORT_KEYS = ("record_id", "page", "kind", "owner_id", "candidate_distance", "verdict")


def remember(target: Any, record_id: str, pages: Sequence[Any], extra: dict[str, Any]) -> None:
    """Add a finished record's pages to ``target``.

    ``pages``: ``(PageReport, key or None, file SHA-256 or None)`` per page, in order.
    """
    if target is None:
        return
    if isinstance(target, ReuseIndex):
        for report, key, _ in pages:
            if key is not None:
                target.add(record_id, report.number, key)
        return
    target.add_record(
        record_id,
        [PageEntry(r.number, key, r.sha256, fsha) for r, key, fsha in pages],
        owner_id=extra.get("owner_id"),
        document_type=extra.get("type_name"),
        procedure=extra.get("procedure_code"),
        component=extra.get("component_code"),
        dossier_code=extra.get("dossier_code"),
    )


def ensure_stored(target: Any, directory: Any) -> None:
    """A complete record found on a re-run is in the store too (the run that made it may have
    stopped between the record's rename and adding it; adding is idempotent)."""
    if not isinstance(target, ReuseStore):
        return
    from ..reuse import read_record_folder

    try:
        entry = read_record_folder(directory)
    except OnestopError:  # a record from before document keys: nothing to add
        return
    entry.add_to(target)


class SourceHasher:
    """SHA-256 of the files pages were read from, each file hashed once."""

    def __init__(self) -> None:
        self._done: dict[str, str | None] = {}

    def __call__(self, source: str) -> str | None:
        if source not in self._done:
            from ..integrity import sha256_file

            digest = None
            if os.path.isfile(source):
                try:
                    digest = sha256_file(source)
                except (OSError, OnestopError):
                    digest = None
            self._done[source] = digest
        return self._done[source]


# --- duplicates across the components of a batch ------------------------------------------------


def batch_duplicates(directories: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """Pages of different records of one batch that are the same page.

    Keys are read back from each record's metadata XML; candidates come from one
    :class:`~onestop_docs.dedup.HashIndex` over the batch and every candidate pair of two
    records is verified.  Each pair is reported once, the later record pointing at the earlier
    (in the order given).

    Returns
    -------
    tuple of dict
        ``{"record_id", "page", "duplicates_record_id", "duplicates_page",
        "candidate_distance", "verdict"}``.
    """
    from ..dedup import HashIndex
    from ..reuse import read_record_folder

    entries: list[tuple[int, str, int, Any]] = []  # (record order, record id, page, key)
    for order, d in enumerate(directories):
        try:
            rec = read_record_folder(d)
        except OnestopError:  # a record from before document keys: nothing to compare
            continue
        entries.extend((order, rec.record_id, p.number, p.key) for p in rec.pages if p.key)
    if len(entries) < 2:
        return ()
    index = HashIndex(256)
    index.add(
        np.arange(len(entries)),
        np.frombuffer(b"".join(_keys.candidate_of(e[3]) for e in entries), np.uint8).reshape(
            -1, 32
        ),
    )
    best: dict[tuple[int, int], int] = {}
    for i, (_, _, _, key) in enumerate(entries):
        for m in index.radius_batch(_keys.query_candidates(key), _keys.CANDIDATE_RADIUS):
            for j, dist in m:
                if entries[j][0] < entries[i][0]:  # an earlier record of the batch
                    best[(i, j)] = min(dist, best.get((i, j), dist))
    out = []
    for (i, j), dist in sorted(best.items()):
        verdict = _keys.verify_stored(entries[i][3], entries[j][3])
        if verdict.duplicate:
            out.append(
                {
                    "record_id": entries[i][1],
                    "page": entries[i][2],
                    "duplicates_record_id": entries[j][1],
                    "duplicates_page": entries[j][2],
                    "candidate_distance": dist,
                    "verdict": _keys.verdict_json(verdict),
                }
            )
    return tuple(out)


def digest_fields(key: Any, file_sha256: str | None) -> dict[str, Any]:
    """The reuse fields of a page's :class:`~onestop_docs.metadata.PageDigest`: the key
    (so a store can be rebuilt from the archive) and the source file's SHA-256."""
    out: dict[str, Any] = {"file_sha256": file_sha256}
    if key is not None:
        version, blob = _keys.key_to_blob(key)
        out["document_key"] = blob
        out["document_key_version"] = version
    return out
