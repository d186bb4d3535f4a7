"""Batch grouping (:func:`find_duplicates`) and the reuse check (:class:`DuplicateIndex`)."""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._fileutil import atomic_write
from .._validate import check_int, check_range
from ..errors import BlankPageError, IndexFormatError, InvalidArgumentError
from ..integrity.fixity import sha256_file
from ._document import PageHash
from ._index import HashIndex
from ._key import DocumentKey, MatchOptions, document_key, match_keys

__all__ = ["DuplicateIndex", "DuplicateMatch", "file_sha256", "find_duplicates"]

Source = Any  # Page, ndarray, bytes or path
_DUP_FORMAT = 2


def file_sha256(src: str | os.PathLike[str] | bytes) -> str:
    """Hex SHA-256 of a file's bytes (exact-duplicate check); paths are read with
    :func:`onestop_docs.integrity.sha256_file`.

    Examples
    --------
    >>> file_sha256(b"abc")[:16]
    'ba7816bf8f01cfea'
    """
    if isinstance(src, bytes | bytearray | memoryview):
        return hashlib.sha256(src).hexdigest()
    return sha256_file(src)


def _is_file(item: Any) -> bool:
    return isinstance(item, bytes | bytearray | str | os.PathLike)


def _key_of(item: Any, dpi: float | None) -> DocumentKey | None:
    if _is_file(item):
        from ..imageio import load_page

        src = item if isinstance(item, bytes) else Path(os.fspath(item))
        item = load_page(bytes(src) if isinstance(src, bytearray) else src)
    try:
        return document_key(item, dpi=dpi)
    except BlankPageError:
        return None


def _as_key(key: Any) -> DocumentKey:
    if isinstance(key, PageHash):
        return key.key
    if isinstance(key, DocumentKey):
        return key
    raise InvalidArgumentError(f"key must be a DocumentKey or PageHash, got {type(key).__name__}")


def _options(options: MatchOptions | None, threshold: float | None) -> MatchOptions:
    opts = options or MatchOptions()
    if threshold is not None:
        opts = replace(opts, ink_allowance=check_range(threshold, "threshold", 0.0, 1.0))
    return opts


def _candidates(keys: Sequence[DocumentKey], radius: int) -> set[tuple[int, int]]:
    index = HashIndex(256)
    index.add(np.arange(len(keys)), [k.candidate for k in keys])
    pairs: set[tuple[int, int]] = set()
    for queries in ([k.candidate for k in keys], [k.candidate_flip for k in keys]):
        for i, m in enumerate(index.radius_batch(queries, radius)):
            pairs.update((min(i, int(j)), max(i, int(j))) for j in m.ids if j != i)
    return pairs


def _cliques(n: int, edges: set[tuple[int, int]]) -> list[list[int]]:
    # Greedy, in index order: an item joins the first group whose every member it matches,
    # else starts its own.  Groups never chain through a middle page.
    adj: list[set[int]] = [set() for _ in range(n)]
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    groups: list[list[int]] = []
    for i in range(n):
        if not adj[i]:
            continue
        for g in groups:
            if all(j in adj[i] for j in g):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def find_duplicates(
    items: Sequence[Source],
    *,
    threshold: float | None = None,
    options: MatchOptions | None = None,
    dpi: float | None = None,
) -> list[list[int]]:
    """Group a batch of pages (or files) that show the same document page.

    Files (bytes or paths) with identical SHA-256 are matched without decoding.  Every
    other item is keyed with :func:`document_key` (a file stands for its first page), a
    :class:`HashIndex` proposes pairs within ``options.candidate_radius`` (either
    orientation) and :func:`match_keys` decides.  A group holds only items that each match
    every other item of the group (no chaining through a middle page): items are taken in
    index order and join the first group they fully match.  Blank and near-blank pages are
    never grouped by their content.

    Parameters
    ----------
    items : sequence of Page, numpy.ndarray, bytes or path
    threshold : float, optional
        Verifier limit (``ink_allowance``), overriding ``options``.
    options : MatchOptions, optional
    dpi : float, optional
        Resolution for arrays without one (default 300).

    Returns
    -------
    list of list of int
        Groups of two or more item indices, each sorted, ordered by first index.

    Raises
    ------
    InvalidArgumentError
        Bad threshold or pixel data.
    InvalidImageError
        A file cannot be decoded.

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("L", (150, 200), 255).save(buf, format="PNG")
    >>> blank = np.full((200, 150), 255, np.uint8)
    >>> find_duplicates([buf.getvalue(), blank, buf.getvalue()], dpi=100)
    [[0, 2]]
    """
    opts = _options(options, threshold)
    n = len(items)
    edges: set[tuple[int, int]] = set()
    first_by_sha: dict[str, int] = {}
    same_file: dict[int, list[int]] = {}
    to_key: list[int] = []
    for i, item in enumerate(items):
        if _is_file(item):
            digest = file_sha256(item)
            if digest in first_by_sha:
                same_file[first_by_sha[digest]].append(i)
                continue
            first_by_sha[digest] = i
            same_file[i] = []
        to_key.append(i)
    keyed: list[tuple[int, DocumentKey]] = []
    for i in to_key:
        key = _key_of(items[i], dpi)
        if key is not None:
            keyed.append((i, key))
    keys = [k for _, k in keyed]
    for a, b in _candidates(keys, opts.candidate_radius):
        if match_keys(keys[a], keys[b], options=opts).duplicate:
            edges.add((keyed[a][0], keyed[b][0]))
    # A byte-identical copy matches whatever its first copy matches.
    for first, copies in same_file.items():
        linked = {first} | {b for a, b in edges if a == first} | {a for a, b in edges if b == first}
        for c in copies:
            edges.update((min(c, j), max(c, j)) for j in linked)
        for x, c in enumerate(copies):
            edges.update((min(c, d), max(c, d)) for d in copies[x + 1 :])
    groups = [sorted(g) for g in _cliques(n, edges) if len(g) > 1]
    return sorted(groups, key=lambda g: g[0])


@dataclass(frozen=True)
class DuplicateMatch:
    """An earlier page that the looked-up page duplicates.

    Attributes
    ----------
    id : int
        The id it was added under (e.g. a record id).
    kind : {"identical-file", "same-page"}
        Byte-identical file (SHA-256), or same page by document key and verifier.
    candidate_distance : int or None
        Candidate-hash distance (None for identical files).
    ink_score : float or None
        Worst verifier cell score, 0..1 (None for identical files).
    """

    id: int
    kind: Literal["identical-file", "same-page"]
    candidate_distance: int | None = None
    ink_score: float | None = None

    @property
    def pdq_distance(self) -> None:
        """Not measured since key version 1 (kept for older callers): None."""
        return None

    @property
    def dct_distance(self) -> int | None:
        """Alias of :attr:`candidate_distance` (the candidate is a DCT hash)."""
        return self.candidate_distance

    @property
    def region_diff(self) -> float | None:
        """Alias of :attr:`ink_score` for older callers."""
        return self.ink_score


class DuplicateIndex:
    """Reuse check (kiểm tra tái sử dụng): find earlier digitized copies of a page.

    Holds, per added page, its :class:`DocumentKey` (candidate hashes in a
    :class:`HashIndex`), and optionally the SHA-256 of the file it came from.
    :meth:`lookup` checks the file hash first, then proposes candidates within the
    candidate radius (both orientations) and confirms them with :func:`match_keys`.

    Thread safety: lookups may run concurrently with each other and with :meth:`add`
    (an internal lock guards the tables).  :meth:`save` / :meth:`open` keep it across
    restarts (written atomically).

    Parameters
    ----------
    options : MatchOptions, optional
        Radius and verifier limits.

    Examples
    --------
    >>> import numpy as np
    >>> index = DuplicateIndex()
    >>> index.add(7, np.full((200, 150), 255, np.uint8), file_sha256=file_sha256(b"x"), dpi=100)
    >>> index.lookup(np.full((200, 150), 255, np.uint8), file_sha256=file_sha256(b"x"), dpi=100)
    [DuplicateMatch(id=7, kind='identical-file', candidate_distance=None, ink_score=None)]
    """

    def __init__(self, options: MatchOptions | None = None) -> None:
        self._opts = options or MatchOptions()
        self._cand = HashIndex(256)
        self._keys: list[DocumentKey] = []
        self._ids: list[int] = []
        self._sha: dict[str, list[int]] = {}
        self._lock = threading.RLock()
        self._count = 0

    def __len__(self) -> int:
        """Number of pages (or files) added."""
        return self._count

    def add(
        self,
        id: int,
        page: Any,
        *,
        file_sha256: str | None = None,
        dpi: float | None = None,
    ) -> DocumentKey | None:
        """Add one page under ``id``; returns its key (None for a blank page).

        Raises
        ------
        InvalidArgumentError
            Bad id, SHA-256 text or pixel data.
        """
        key = _key_of(page, dpi)
        self.add_key(id, key, file_sha256=file_sha256)
        return key

    def add_key(self, id: int, key: Any, *, file_sha256: str | None = None) -> None:
        """Add a precomputed key (:class:`DocumentKey` or :class:`PageHash`, or None for a
        page without one) and/or a file hash under ``id``."""
        check_int(id, "id", numpy_ok=True)
        digest = _check_sha(file_sha256)
        dkey = None if key is None else _as_key(key)
        with self._lock:
            self._count += 1
            if digest is not None:
                self._sha.setdefault(digest, []).append(int(id))
            if dkey is not None:
                row = len(self._keys)
                self._keys.append(dkey)
                self._ids.append(int(id))
                self._cand.add([row], [dkey.candidate])

    def lookup(
        self, page: Any, *, file_sha256: str | None = None, dpi: float | None = None
    ) -> list[DuplicateMatch]:
        """Earlier pages that ``page`` duplicates, identical files first, then by score.

        Raises
        ------
        InvalidArgumentError
            Bad SHA-256 text or pixel data.
        """
        digest = _check_sha(file_sha256)
        out: list[DuplicateMatch] = []
        if digest is not None:
            with self._lock:
                out.extend(DuplicateMatch(i, "identical-file") for i in self._sha.get(digest, []))
        key = _key_of(page, dpi)
        if key is not None:
            out.extend(self.lookup_key(key))
        return out

    def lookup_key(self, key: Any) -> list[DuplicateMatch]:
        """:meth:`lookup` for a precomputed key (no file check)."""
        dkey = _as_key(key)
        rows: set[int] = set()
        for h in (dkey.candidate, dkey.candidate_flip):
            rows.update(self._cand.radius(h, self._opts.candidate_radius).ids.tolist())
        with self._lock:
            cands = [(self._keys[r], self._ids[r]) for r in sorted(rows)]
        found = []
        for other, rid in cands:
            v = match_keys(dkey, other, options=self._opts)
            if v.duplicate:
                found.append(DuplicateMatch(rid, "same-page", v.candidate_distance, v.ink_score))
        found.sort(key=lambda m: (m.ink_score or 0.0, m.candidate_distance or 0))
        return found

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every key (:meth:`DocumentKey.to_bytes`), id and file hash to ``path``
        (numpy ``.npz``), atomically.  The options are not stored: pass them again to
        :meth:`open`."""
        with self._lock:
            blobs = [k.to_bytes() for k in self._keys]
            ids = list(self._ids)
            sha = [(d, i) for d, lst in self._sha.items() for i in lst]
            count = self._count
        lengths = np.array([len(b) for b in blobs], np.int64)
        arrays: dict[str, Any] = {
            "format": np.array([_DUP_FORMAT], np.int64),
            "count": np.array([count], np.int64),
            "ids": np.array(ids, np.int64),
            "key_lengths": lengths,
            "keys": np.frombuffer(b"".join(blobs), np.uint8),
            "sha": np.array([bytes.fromhex(d) for d, _ in sha], dtype="S32").reshape(-1),
            "sha_ids": np.array([i for _, i in sha], np.int64),
        }
        with atomic_write(path) as fh:
            np.savez(fh, **arrays)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, options: MatchOptions | None = None
    ) -> DuplicateIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        IndexFormatError
            Not such a file, another format version, or inconsistent arrays
            (:class:`~onestop_docs.errors.KeyFormatError` for a corrupt key).
        FileNotFoundError
            ``path`` does not exist.
        """
        name = os.fspath(path)
        try:
            with np.load(name, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise IndexFormatError(f"{name!r} is not a duplicate index file: {exc}") from None
        need = {"format", "count", "ids", "key_lengths", "keys", "sha", "sha_ids"}
        if not need <= data.keys():
            raise IndexFormatError(f"{name!r}: missing arrays {sorted(need - data.keys())}")
        if data["format"].tolist() != [_DUP_FORMAT]:
            raise IndexFormatError(
                f"{name!r} has format {data['format'].tolist()}, expected [{_DUP_FORMAT}]"
            )
        # A crafted file may hold any dtype and shape: check both before reading a value.
        n = data["ids"].shape[0] if data["ids"].ndim == 1 else -1
        m = data["sha"].shape[0] if data["sha"].ndim == 1 else -1
        layout = {
            "count": ("i", (1,)),
            "ids": ("i", (n,)),
            "key_lengths": ("i", (n,)),
            "keys": ("u", (data["keys"].size,)),
            "sha": ("S", (m,)),
            "sha_ids": ("i", (m,)),
        }
        for k, (kind, shape) in layout.items():
            arr = data[k]
            if arr.dtype.kind != kind or arr.shape != shape or (k == "keys" and arr.itemsize != 1):
                raise IndexFormatError(
                    f"{name!r}: {k} is {arr.dtype} of shape {arr.shape}, expected {kind} {shape}"
                )
        lengths, blob = data["key_lengths"], data["keys"]
        if (lengths < 0).any() or int(lengths.sum()) != blob.size:
            raise IndexFormatError(f"{name!r}: keys and their ids are inconsistent")
        if int(data["count"][0]) < 0 or (m > 0 and data["sha"].itemsize != 32):
            raise IndexFormatError(f"{name!r}: negative count or malformed file hashes")
        index = cls(options)
        raw = blob.tobytes()
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        try:
            for j, ident in enumerate(data["ids"].tolist()):
                key = DocumentKey.from_bytes(raw[offsets[j] : offsets[j + 1]])
                index.add_key(int(ident), key)
        except (InvalidArgumentError, ValueError, OverflowError) as exc:
            raise IndexFormatError(f"{name!r}: inconsistent values: {exc}") from None
        for digest, i in zip(data["sha"].tolist(), data["sha_ids"].tolist()):
            index._sha.setdefault(digest.hex(), []).append(int(i))
        index._count = int(data["count"][0])
        return index


def _check_sha(digest: str | None) -> str | None:
    if digest is None:
        return None
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest.lower())
    ):
        raise InvalidArgumentError(f"file_sha256 must be 64 hex digits, got {digest!r}")
    return digest.lower()
