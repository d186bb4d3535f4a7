"""The reuse store: every digitized page of a province, searchable by its document key."""

from __future__ import annotations

import os
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._validate import check_int, check_range
from ..dedup import Verdict
from ..errors import InvalidArgumentError, InvalidImageError, ReuseStoreError
from ..vntext import normalize
from . import keys as _keys
from ._backend import PageRow, StoredRecord, open_backend
from ._owner import parse_owner_id
from ._segments import SegmentedIndex

__all__ = ["LookupResult", "PageEntry", "ReuseMatch", "ReuseStore"]

LookupStatus = Literal["found", "not-found", "no-page", "blank"]
_REFRESH_BATCH = 200_000
_CACHE_AFTER = 100_000  # pages loaded by one refresh after which the cache is rewritten


@dataclass(frozen=True)
class PageEntry:
    """One page of a record to add: its 1-based ``number`` and what identifies it.

    Attributes
    ----------
    number : int
        1-based physical page number.
    key : document key or None
        None for a blank or near-blank page (kept in the record, never matched).
    page_sha256 : str or None
        SHA-256 of the archived page's pixels (:func:`onestop_docs.metadata.page_digest`).
    file_sha256 : str or None
        SHA-256 of the file the page was read from (finds byte-identical uploads).
    """

    number: int
    key: Any = None
    page_sha256: str | None = None
    file_sha256: str | None = None


@dataclass(frozen=True)
class ReuseMatch:
    """An earlier digitized page that the looked-up page is a copy of.

    Attributes
    ----------
    record_id : str
    page : int
        1-based page number inside the record.
    owner_id, document_type, procedure_code, component_code : str or None
        The record's owner (CCCD/MST), loại giấy tờ, mã TTHC and mã thành phần hồ sơ.
    kind : {"identical-file", "same-page"}
        A byte-identical file (SHA-256), or the same page by document key and verifier.
    candidate_distance : int or None
        Hamming distance (of 256 bits) of the candidate hashes; None for identical files.
    verdict : Verdict or None
        The verifier's decision, with its distances; None for identical files.
    """

    record_id: str
    page: int
    owner_id: str | None
    document_type: str | None
    procedure_code: str | None
    component_code: str | None
    kind: Literal["identical-file", "same-page"]
    candidate_distance: int | None = None
    verdict: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "record_id": self.record_id,
            "page": self.page,
            "owner_id": self.owner_id,
            "document_type": self.document_type,
            "procedure_code": self.procedure_code,
            "component_code": self.component_code,
            "kind": self.kind,
            "candidate_distance": self.candidate_distance,
            "verdict": None if self.verdict is None else _keys.verdict_json(self.verdict),
        }


@dataclass(frozen=True)
class LookupResult:
    """What :meth:`ReuseStore.lookup` found.

    Attributes
    ----------
    status : {"found", "not-found", "no-page", "blank"}
        ``"no-page"``: the photo shows no usable document page (``reason`` says: ``"no page
        found"``, ``"page incomplete"``, ``"two pages"``), never a match; a sheet cut off by
        the frame (or a scan with a dark scanner border) is still looked up from its
        rectified page: ``"found"`` with ``reason="page incomplete"`` when an earlier page
        matches it, else ``"no-page"`` with that reason (take the photo again);
        ``"blank"``: the page has no key (blank or near-blank), only an identical file can
        match it.
    matches : tuple of ReuseMatch
        Identical files first, then verified pages by candidate distance.
    reason : str or None
        Why there is no key (``"no page found"``, ``"blank"``, ``"near-blank"``, ...).
    candidates : int
        Stored pages the candidate search handed to the verifier.
    seconds : float
    """

    status: LookupStatus
    matches: tuple[ReuseMatch, ...]
    reason: str | None = None
    candidates: int = 0
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        """True when at least one earlier page matched."""
        return bool(self.matches)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "status": self.status,
            "reason": self.reason,
            "candidates": self.candidates,
            "seconds": round(self.seconds, 6),
            "matches": [m.to_json() for m in self.matches],
        }


def _text(value: str | None, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__}")
    text = normalize(value.strip())
    if not text or len(text) > limit or any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidArgumentError(
            f"{name} must be 1..{limit} characters without control characters, got {value!r}"
        )
    return text


def _sha(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) != 64
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise InvalidArgumentError(f"{name} must be 64 lower-case hex digits, got {value!r}")
    return value


def _is_file(item: Any) -> bool:
    return isinstance(item, str | os.PathLike | bytes | bytearray)


class ReuseStore:
    """Kho tái sử dụng: the pages of every digitized record, looked up by document key.

    Rows live in a SQLite file (default, nothing to start) or a PostgreSQL database
    (``location`` a ``postgresql://`` URI or a libpq ``key=value`` DSN; extra ``postgres``),
    shared by scan stations that add records and kiosks that look pages up.  Each process
    keeps the 256-bit candidate hashes in memory with multi-index search tables (about 108
    bytes per page; an exact radius search, see ``search_radius``) and refreshes them
    incrementally: a lookup first loads the pages added since the last refresh when that was
    more than ``refresh_interval_s`` ago, so a kiosk sees new records within that time.  The
    key blobs stay in the database and are read only for the few candidates of a lookup.

    Guarantees: a record and its pages are added in one transaction (a crash while adding
    leaves no half-added record visible); readers never block writers; every method is
    thread-safe, so one store can serve a kiosk server's threads.

    Parameters
    ----------
    location : str or path
        SQLite file path, or a PostgreSQL DSN/URI.
    create : bool
        Create the store when it does not exist (default True).
    timeout_s : float
        How long to wait for a lock or a connection before :class:`ReuseStoreError`.
    refresh_interval_s : float
        Largest age of the in-memory index at lookup time (0: refresh before every lookup).
    max_candidates : int
        At most this many nearest candidates are verified per lookup.
    index_cache : path, optional
        File where this process keeps a copy of its in-memory index (written after a large
        refresh and on :meth:`close`, atomically), so a restarted kiosk maps it and loads only
        the pages added since instead of every page.  A cache of another store (each store
        has a random id) or a damaged one is ignored.
    search_radius : int, optional
        Hamming radius (of 256 bits) of the candidate search; every stored page within it
        goes to the verifier.  Default :data:`reuse.keys.SEARCH_RADIUS` (31: every verified
        duplicate of the tuning corpora is within 20); at most
        :data:`reuse.keys.CANDIDATE_RADIUS` (72, the verifier's own limit), which verifies
        everything the verifier could accept at the cost of a scan of every stored page.

    Raises
    ------
    ReuseStoreError
        The store is corrupt (``reason="corrupt"``), from a newer version
        (``"newer-version"``), locked (``"locked"``) or unreachable (``"unreachable"``); the
        message names it.
    MissingDependencyError
        A PostgreSQL location without psycopg installed.

    Examples
    --------
    >>> import tempfile, os
    >>> store = ReuseStore(os.path.join(tempfile.mkdtemp(), "reuse.sqlite"))
    >>> store.add_record("H27.01-210630-0001.001", [None], owner_id="042203004567")
    True
    >>> [r.record_id for r in store.records_of("042203004567")]
    ['H27.01-210630-0001.001']
    >>> store.close()
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        create: bool = True,
        timeout_s: float = 10.0,
        refresh_interval_s: float = 2.0,
        max_candidates: int = 256,
        index_cache: str | os.PathLike[str] | None = None,
        search_radius: int | None = None,
    ) -> None:
        loc = os.fspath(location) if isinstance(location, os.PathLike) else location
        check_range(timeout_s, "timeout_s", 0.0, 3600.0, lo_open=True)
        self._refresh_interval = check_range(refresh_interval_s, "refresh_interval_s", 0.0, 3600.0)
        self._max_candidates = check_int(max_candidates, "max_candidates", 1, 1_000_000)
        self._radius = (
            _keys.SEARCH_RADIUS
            if search_radius is None
            else check_int(search_radius, "search_radius", 0, _keys.CANDIDATE_RADIUS)
        )
        self._db = open_backend(loc, create=create, timeout_s=timeout_s)
        self._index = SegmentedIndex()
        self._seen = 0  # highest seq in the in-memory index
        self._last_refresh = -float("inf")
        self._refresh_lock = threading.Lock()
        self._cache = None if index_cache is None else Path(os.fspath(index_cache))
        self._cached_seen = 0  # highest seq in the cache file

    @classmethod
    def open(cls, location: str | os.PathLike[str], **kwargs: Any) -> ReuseStore:
        """Open (or create) the store at ``location``; same parameters as the constructor."""
        return cls(location, **kwargs)

    @property
    def location(self) -> str:
        """Where the store is (a PostgreSQL DSN is shown without its password)."""
        return self._db.location

    def __repr__(self) -> str:
        return f"ReuseStore({self.location!r}, indexed={len(self._index)})"

    def __enter__(self) -> ReuseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connections (the in-memory index is dropped; with
        ``index_cache`` it is saved first when it grew)."""
        try:
            if self._cache is not None and self._seen > self._cached_seen:
                self.save_index_cache()
        finally:
            self._db.close()

    def save_index_cache(self) -> None:
        """Write the in-memory index to ``index_cache`` (index file first, then its sidecar
        ``.json`` naming the store and the last page in it; a crash between the two leaves
        an older sidecar, so some pages are loaded twice, which lookups tolerate)."""
        if self._cache is None or self._db.store_id is None:
            return
        import json

        from .._fileutil import atomic_write_bytes

        with self._refresh_lock:
            seen = self._seen
            files = self._index.save(self._cache)
            side = {
                "store_id": self._db.store_id,
                "seen": seen,
                "rows": len(self._index),
                "files": files,
            }
            atomic_write_bytes(self._sidecar(), json.dumps(side).encode())
            self._cached_seen = seen

    def _sidecar(self) -> Path:
        assert self._cache is not None
        return self._cache.with_name(self._cache.name + ".json")

    def _load_cache(self) -> None:
        # called under the refresh lock, before the first refresh
        import json

        from ..errors import IndexFormatError

        assert self._cache is not None
        try:
            side = json.loads(self._sidecar().read_text(encoding="utf-8"))
            if side.get("store_id") != self._db.store_id or self._db.store_id is None:
                return
            index = SegmentedIndex.open(self._cache, int(side["files"]))
            seen = int(side["seen"])
            if len(index) != int(side["rows"]) or seen < 0:
                return
        except (OSError, ValueError, KeyError, TypeError, IndexFormatError):
            return  # no usable cache: load everything from the store
        self._index, self._seen, self._cached_seen = index, seen, seen

    # ------------------------------------------------------------------ writing

    def add_record(
        self,
        record_id: str,
        pages: Sequence[PageEntry | Any],
        *,
        owner_id: str | None = None,
        document_type: str | None = None,
        procedure: str | None = None,
        component: str | None = None,
        dossier_code: str | None = None,
    ) -> bool:
        """Add a record and all its pages, atomically.

        Parameters
        ----------
        record_id : str
            The record's archive name (unique in the store).
        pages : sequence of PageEntry, document keys or None
            Every physical page in order; a bare key (or None for a blank page) stands for
            ``PageEntry(i + 1, key)``.
        owner_id : str, optional
            CCCD (12 digits) or MST (10 or 10-3 digits), validated.
        document_type, procedure, component, dossier_code : str, optional
            Loại giấy tờ, mã TTHC, mã thành phần hồ sơ, mã số hồ sơ.

        Returns
        -------
        bool
            True when added; False when the record was already stored with the same pages
            (adding is idempotent, so re-indexing an archive twice is harmless).

        Raises
        ------
        InvalidArgumentError
            A malformed owner id, page list or field.
        ReuseStoreError
            The record id is stored with other pages (``reason="conflict"``), or the store
            failed (locked, unreachable, corrupt).
        """
        rid = _text(record_id, "record_id", 200)
        if rid is None:
            raise InvalidArgumentError("record_id must be given")
        owner = None if owner_id is None else parse_owner_id(owner_id)
        if isinstance(pages, str | bytes) or not isinstance(pages, Sequence):
            raise InvalidArgumentError("pages must be a sequence of PageEntry or keys")
        rows: list[PageRow] = []
        for i, p in enumerate(pages):
            entry = p if isinstance(p, PageEntry) else PageEntry(i + 1, p)
            if entry.number != i + 1:
                raise InvalidArgumentError(
                    f"pages must be numbered 1..{len(pages)} in order, page {i + 1} says "
                    f"{entry.number}"
                )
            version = blob = cand = flip = None
            if entry.key is not None:
                version, blob = _keys.key_to_blob(entry.key)
                cand, flip = _keys.query_candidates(entry.key)
            rows.append(
                PageRow(
                    rid,
                    i + 1,
                    _sha(entry.page_sha256, "page_sha256"),
                    _sha(entry.file_sha256, "file_sha256"),
                    version,
                    blob,
                    cand,
                    flip,
                )
            )
        if not rows:
            raise InvalidArgumentError(f"record {rid!r} has no pages")
        rec = StoredRecord(
            rid,
            owner,
            _text(document_type, "document_type", 200),
            _text(procedure, "procedure", 100),
            _text(component, "component", 100),
            _text(dossier_code, "dossier_code", 100),
            len(rows),
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        added = self._db.add_record(rec, rows)
        if added:
            self._last_refresh = -float("inf")  # this process sees its own records at once
        return added

    # ------------------------------------------------------------------ the in-memory index

    def refresh(self) -> int:
        """Load the pages added since the last refresh into the in-memory index.

        Returns the number of pages loaded.  Lookups call this themselves when the index is
        older than ``refresh_interval_s``.

        Raises
        ------
        ReuseStoreError
            The store failed, or a stored candidate hash is damaged.
        """
        with self._refresh_lock:
            if self._cache is not None and self._seen == 0 and len(self._index) == 0:
                self._load_cache()
            seen = self._seen
            seq_parts, word_parts = [], []
            while True:
                rows = self._db.pages_after(seen, _REFRESH_BATCH)
                if not rows:
                    break
                bad = [s for s, c in rows if len(c) != _keys.CANDIDATE_BYTES]
                if bad:
                    raise ReuseStoreError(
                        f"page row seq={bad[0]} has a {len(dict(rows)[bad[0]])}-byte candidate "
                        f"hash, expected {_keys.CANDIDATE_BYTES}: corrupt",
                        reason="corrupt",
                        store=self.location,
                    )
                seq_parts.append(np.fromiter((s for s, _ in rows), np.int64, len(rows)))
                word_parts.append(
                    np.frombuffer(b"".join(c for _, c in rows), np.uint8).reshape(-1, 32)
                )
                seen = int(seq_parts[-1][-1])
                if len(rows) < _REFRESH_BATCH:
                    break
            loaded = sum(len(p) for p in seq_parts)
            if loaded:
                # one add: a cold start makes one segment of exactly the store's size
                self._index.add(np.concatenate(seq_parts), np.concatenate(word_parts))
                self._seen = seen
            self._last_refresh = time.monotonic()
        if self._cache is not None and loaded >= _CACHE_AFTER:
            self.save_index_cache()
        return loaded

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._last_refresh >= self._refresh_interval:
            self.refresh()

    def wait_index(self, timeout_s: float | None = None) -> bool:
        """Wait until the search tables of the in-memory index are built; True when they are.

        Tables are built on a background thread after a large refresh or a cache load;
        until then the affected pages are scanned, so lookups are exact but slower.
        """
        return self._index.wait_tables(timeout_s)

    def __len__(self) -> int:
        """Keyed pages in this process's in-memory index (as of the last refresh)."""
        return len(self._index)

    def counts(self) -> tuple[int, int]:
        """``(records, pages)`` in the store itself."""
        return self._db.counts()

    # ------------------------------------------------------------------ lookups

    def lookup(
        self,
        item: Any,
        *,
        photo: bool = False,
        dpi: float | None = None,
        limit: int | None = None,
    ) -> LookupResult:
        """Find the earlier digitized copies of a page.

        Parameters
        ----------
        item : document key, Page, numpy.ndarray, bytes or path
            A key is searched as it is.  A file (bytes or path) is first matched by its
            SHA-256 (a byte-identical upload), then decoded (its first page) and keyed.
        photo : bool
            The image is a phone photo: the page is found and rectified first
            (:mod:`onestop_docs.capture`); a photo without a page gives ``"no-page"``.
        dpi : float, optional
            Resolution of an array without one (default 300).
        limit : int, optional
            Stop after this many verified pages.  Candidates are verified nearest first, so
            ``limit=1`` answers "is there an earlier copy?" without verifying every other
            filling of the same form; without it every candidate is verified.

        Returns
        -------
        LookupResult

        Raises
        ------
        InvalidImageError, UnsupportedFormatError
            The file cannot be decoded.
        ReuseStoreError
            The store failed.
        """
        t = time.perf_counter()
        identical: list[ReuseMatch] = []
        page = item
        if _is_file(item):
            from ..dedup import file_sha256
            from ..imageio import load_page

            digest = file_sha256(bytes(item) if isinstance(item, bytearray) else item)
            identical = [_match(p, r, "identical-file") for p, r in self._db.pages_by_file(digest)]
            src = item if isinstance(item, bytes | bytearray) else Path(os.fspath(item))
            try:
                page = load_page(
                    bytes(src) if isinstance(src, bytearray) else src,
                    # A camera JPEG holds four times the pixels the key needs: decode it
                    # reduced (DCT scaling), as PHOTO_MIN_SIDE explains.
                    reduce_to_side=_keys.PHOTO_MIN_SIDE if photo else None,
                )
            except InvalidImageError as exc:
                if not identical:
                    raise
                # byte-identical to a stored file: found, whatever the file holds
                return LookupResult(
                    "found", tuple(identical), f"not an image: {exc}", 0, time.perf_counter() - t
                )
        if _keys.is_key(page):
            key, reason = page, None
        elif photo:
            key, reason = _keys.key_of_photo(page, dpi=dpi)
        else:
            key, reason = _keys.key_of_page(page, dpi=dpi)
        if key is None:
            status: LookupStatus = "blank" if reason in ("blank", "near-blank") else "no-page"
            if identical and status == "blank":
                status = "found"
            return LookupResult(status, tuple(identical), reason, 0, time.perf_counter() - t)
        found, ncand = self._lookup_key(key, limit)
        seen = {(m.record_id, m.page) for m in identical}
        matches = identical + [m for m in found if (m.record_id, m.page) not in seen]
        # A photo's sheet cut off by the frame ("page incomplete") is keyed from what the
        # frame holds: a match is a match, no match says to take the photo again.
        missing: LookupStatus = "no-page" if reason else "not-found"
        return LookupResult(
            "found" if matches else missing,
            tuple(matches),
            reason,
            ncand,
            time.perf_counter() - t,
        )

    def lookup_key(self, key: Any, *, limit: int | None = None) -> list[ReuseMatch]:
        """Verified matches of a document key, nearest candidate first (see :meth:`lookup`)."""
        return self._lookup_key(key, limit)[0]

    def _lookup_key(self, key: Any, limit: int | None = None) -> tuple[list[ReuseMatch], int]:
        if limit is not None:
            check_int(limit, "limit", 1)
        queries = _keys.query_candidates(key)
        self._maybe_refresh()
        best = self._index.radius(queries, self._radius)
        if not best:
            return [], 0
        order = sorted(best, key=lambda s: (best[s], s))[: self._max_candidates]
        out: list[ReuseMatch] = []
        verified = 0
        step = len(order) if limit is None else 8
        for a in range(0, len(order), step):
            rows = self._db.pages_by_seq(order[a : a + step])
            rows.sort(key=lambda pr: (best[pr[0].seq], pr[0].seq))
            for prow, rrow in rows:
                if prow.key is None or prow.key_version is None:
                    continue
                where = f"{prow.record_id} page {prow.page}"
                verified += 1
                verdict = _keys.verify_stored(key, (prow.key_version, prow.key, where))
                if verdict.duplicate:
                    out.append(_match(prow, rrow, "same-page", best[prow.seq], verdict))
                    if limit is not None and len(out) >= limit:
                        return out, verified
        out.sort(key=lambda m: (m.candidate_distance or 0, m.record_id, m.page))
        return out, verified

    def records_of(self, owner_id: str) -> list[StoredRecord]:
        """Every record of an owner (CCCD or MST), oldest first.

        Raises
        ------
        InvalidArgumentError
            A malformed owner id.
        """
        owner = parse_owner_id(owner_id)
        return self._db.records_where("owner_id = ?", [owner])

    def record(self, record_id: str) -> StoredRecord | None:
        """The stored record ``record_id``, or None."""
        rows = self._db.records_where("record_id = ?", [record_id])
        return rows[0] if rows else None

    def pages(self, record_id: str) -> list[PageEntry]:
        """The pages stored for ``record_id`` (keys decoded), in order."""
        out = []
        for p in self._db.pages_of(record_id):
            key = (
                None
                if p.key is None or p.key_version is None
                else _keys.key_from_blob(p.key_version, p.key, where=f"{record_id} page {p.page}")
            )
            out.append(PageEntry(p.page, key, p.page_sha256, p.file_sha256))
        return out


def _match(
    p: PageRow,
    r: StoredRecord,
    kind: Literal["identical-file", "same-page"],
    distance: int | None = None,
    verdict: Verdict | None = None,
) -> ReuseMatch:
    return ReuseMatch(
        r.record_id,
        p.page,
        r.owner_id,
        r.document_type,
        r.procedure_code,
        r.component_code,
        kind,
        distance,
        verdict,
    )
