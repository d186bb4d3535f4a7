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
from numpy.typing import NDArray

from .._fileutil import atomic_write
from .._validate import check_int, check_range
from ..errors import IndexFormatError, InvalidArgumentError
from ..integrity.fixity import sha256_file
from ._document import GRID, PageHash, PageHashOptions, page_key, verify_pair
from ._hash import Hash
from ._index import HashIndex

__all__ = ["DuplicateIndex", "DuplicateMatch", "file_sha256", "find_duplicates"]

Source = Any  # Page, ndarray, bytes or path
_DUP_FORMAT = 1


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


def _key_of(item: Any, dpi: float | None, opts: PageHashOptions) -> PageHash | None:
    if _is_file(item):
        from ..imageio import load_page

        src = item if isinstance(item, bytes) else Path(os.fspath(item))
        item = load_page(bytes(src) if isinstance(src, bytearray) else src)
    return page_key(item, dpi=dpi, options=opts).hash


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _options(options: PageHashOptions | None, threshold: float | None) -> PageHashOptions:
    opts = options or PageHashOptions()
    if threshold is not None:
        opts = replace(opts, max_region_diff=check_range(threshold, "threshold", 0.0, 1.0))
    return opts


def _candidates(keys: Sequence[PageHash], opts: PageHashOptions) -> set[tuple[int, int]]:
    pdq_index, dct_index = HashIndex(256), HashIndex(256)
    rows = np.arange(len(keys))
    pdq_index.add(rows, [k.pdq for k in keys])
    dct_index.add(rows, [k.dct for k in keys])
    pairs: set[tuple[int, int]] = set()
    for index, r, attr in (
        (pdq_index, opts.pdq_radius, "pdq"),
        (pdq_index, opts.pdq_radius, "pdq_flip"),
        (dct_index, opts.dct_radius, "dct"),
        (dct_index, opts.dct_radius, "dct_flip"),
    ):
        queries = [getattr(k, attr) or getattr(k, attr[:3]) for k in keys]
        for i, m in enumerate(index.radius_batch(queries, r)):
            pairs.update((min(i, int(j)), max(i, int(j))) for j in m.ids if j != i)
    return pairs


def find_duplicates(
    items: Sequence[Source],
    *,
    threshold: float | None = None,
    options: PageHashOptions | None = None,
    dpi: float | None = None,
) -> list[list[int]]:
    """Group a batch of pages (or files) that show the same document page.

    Files (bytes or paths) with identical SHA-256 are grouped first, without decoding.
    Then every remaining item is keyed with :func:`page_key` (a file stands for its first
    page), the two hash indexes propose pairs within ``options.pdq_radius`` /
    ``options.dct_radius``, :func:`verify_pair` decides, and a union-find joins the pairs.
    Blank and near-blank pages are never grouped by their content.

    Parameters
    ----------
    items : sequence of Page, numpy.ndarray, bytes or path
    threshold : float, optional
        Verifier limit (``max_region_diff``), overriding ``options``.
    options : PageHashOptions, optional
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
    uf = _UnionFind(n)
    first_by_sha: dict[str, int] = {}
    to_key: list[int] = []
    for i, item in enumerate(items):
        if _is_file(item):
            digest = file_sha256(item)
            if digest in first_by_sha:
                uf.union(first_by_sha[digest], i)
                continue
            first_by_sha[digest] = i
        to_key.append(i)
    keyed: list[tuple[int, PageHash]] = []
    for i in to_key:
        key = _key_of(items[i], dpi, opts)
        if key is not None:
            keyed.append((i, key))
    keys = [k for _, k in keyed]
    for a, b in _candidates(keys, opts):
        if verify_pair(keys[a], keys[b], opts).duplicate:
            uf.union(keyed[a][0], keyed[b][0])
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(uf.find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


@dataclass(frozen=True)
class DuplicateMatch:
    """An earlier page that the looked-up page duplicates.

    Attributes
    ----------
    id : int
        The id it was added under (e.g. a record id).
    kind : {"identical-file", "same-page"}
        Byte-identical file (SHA-256), or same page by document key and verifier.
    pdq_distance, dct_distance : int or None
        Hash distances (None for identical files).
    region_diff : float or None
        Verifier difference (None for identical files).
    """

    id: int
    kind: Literal["identical-file", "same-page"]
    pdq_distance: int | None = None
    dct_distance: int | None = None
    region_diff: float | None = None


class DuplicateIndex:
    """Reuse check (kiểm tra tái sử dụng): find earlier digitized copies of a page.

    Holds, per added page, its document key in two :class:`HashIndex` (PDQ and DCT) plus the
    verifier grid, and optionally the SHA-256 of the file it came from.  :meth:`lookup`
    checks the file hash first, then proposes candidates by hash radius and confirms them
    with :func:`verify_pair`.

    Thread safety: lookups may run concurrently with each other and with :meth:`add`
    (an internal lock guards the tables).  :meth:`save` / :meth:`open` keep it across
    restarts (written atomically).

    Parameters
    ----------
    options : PageHashOptions, optional
        Radii and verifier thresholds.

    Examples
    --------
    >>> import numpy as np
    >>> index = DuplicateIndex()
    >>> index.add(7, np.full((200, 150), 255, np.uint8), file_sha256=file_sha256(b"x"), dpi=100)
    >>> index.lookup(np.full((200, 150), 255, np.uint8), file_sha256=file_sha256(b"x"), dpi=100)
    [DuplicateMatch(id=7, kind='identical-file', pdq_distance=None, dct_distance=None, region_diff=None)]
    """

    def __init__(self, options: PageHashOptions | None = None) -> None:
        self._opts = options or PageHashOptions()
        self._pdq = HashIndex(256)
        self._dct = HashIndex(256)
        self._keys: list[PageHash] = []
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
    ) -> PageHash | None:
        """Add one page under ``id``; returns its key (None for a blank page).

        Raises
        ------
        InvalidArgumentError
            Bad id, SHA-256 text or pixel data.
        """
        key = page_key(page, dpi=dpi, options=self._opts).hash
        self.add_key(id, key, file_sha256=file_sha256)
        return key

    def add_key(self, id: int, key: PageHash | None, *, file_sha256: str | None = None) -> None:
        """Add a precomputed key (and/or a file hash) under ``id``."""
        check_int(id, "id", numpy_ok=True)
        digest = _check_sha(file_sha256)
        with self._lock:
            self._count += 1
            if digest is not None:
                self._sha.setdefault(digest, []).append(int(id))
            if key is not None:
                row = len(self._keys)
                self._keys.append(key)
                self._ids.append(int(id))
                self._pdq.add([row], [key.pdq])
                self._dct.add([row], [key.dct])

    def lookup(
        self, page: Any, *, file_sha256: str | None = None, dpi: float | None = None
    ) -> list[DuplicateMatch]:
        """Earlier pages that ``page`` duplicates, identical files first, then by distance.

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
        key = page_key(page, dpi=dpi, options=self._opts).hash
        if key is not None:
            out.extend(self.lookup_key(key))
        return out

    def lookup_key(self, key: PageHash) -> list[DuplicateMatch]:
        """:meth:`lookup` for a precomputed key (no file check)."""
        if not isinstance(key, PageHash):
            raise InvalidArgumentError(f"key must be a PageHash, got {type(key).__name__}")
        rows: set[int] = set()
        for h in (key.pdq, key.pdq_flip):
            if h is not None:
                rows.update(self._pdq.radius(h, self._opts.pdq_radius).ids.tolist())
        for h in (key.dct, key.dct_flip):
            if h is not None:
                rows.update(self._dct.radius(h, self._opts.dct_radius).ids.tolist())
        with self._lock:
            cands = [(r, self._keys[r], self._ids[r]) for r in sorted(rows)]
        found = []
        for _, other, rid in cands:
            v = verify_pair(key, other, self._opts)
            if v.duplicate:
                found.append(
                    DuplicateMatch(rid, "same-page", v.pdq_distance, v.dct_distance, v.region_diff)
                )
        found.sort(key=lambda m: (m.region_diff or 0.0, m.pdq_distance or 0))
        return found

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every key, id and file hash to ``path`` (numpy ``.npz``), atomically.

        Keys hold a 12 KiB verifier grid each, so the file grows by about 12.3 KiB per page.
        The options are not stored: pass them again to :meth:`open`.
        """
        with self._lock:
            keys, ids = list(self._keys), list(self._ids)
            sha = [(d, i) for d, lst in self._sha.items() for i in lst]
            count = self._count
        n = len(keys)

        def hashes(attr: str) -> NDArray[np.uint8]:
            out = np.zeros((n, 32), np.uint8)
            for j, k in enumerate(keys):
                h = getattr(k, attr)
                out[j] = np.frombuffer((h or getattr(k, attr[:3])).data, np.uint8)
            return out

        arrays: dict[str, Any] = {
            "format": np.array([_DUP_FORMAT], np.int64),
            "count": np.array([count], np.int64),
            "ids": np.array(ids, np.int64),
            "pdq": hashes("pdq"),
            "dct": hashes("dct"),
            "pdq_flip": hashes("pdq_flip"),
            "dct_flip": hashes("dct_flip"),
            "grid": np.stack([k.grid for k in keys]) if n else np.zeros((0, *GRID), np.uint8),
            "aspect": np.array([k.aspect for k in keys], np.float64),
            "skew": np.array([np.nan if k.skew_deg is None else k.skew_deg for k in keys]),
            "rotation": np.array([k.rotation for k in keys], np.int16),
            "sha": np.array([bytes.fromhex(d) for d, _ in sha], dtype="S32").reshape(-1),
            "sha_ids": np.array([i for _, i in sha], np.int64),
        }
        with atomic_write(path) as fh:
            np.savez(fh, **arrays)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, options: PageHashOptions | None = None
    ) -> DuplicateIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        IndexFormatError
            Not such a file, another format version, or inconsistent arrays.
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
        need = {
            "format",
            "count",
            "ids",
            "pdq",
            "dct",
            "pdq_flip",
            "dct_flip",
            "grid",
            "aspect",
            "skew",
            "rotation",
            "sha",
            "sha_ids",
        }
        if not need <= data.keys():
            raise IndexFormatError(f"{name!r}: missing arrays {sorted(need - data.keys())}")
        if data["format"].tolist() != [_DUP_FORMAT]:
            raise IndexFormatError(
                f"{name!r} has format {data['format'].tolist()}, expected [{_DUP_FORMAT}]"
            )
        n = len(data["ids"])
        m = len(data["sha"]) if data["sha"].ndim == 1 else -1
        # A crafted file may hold any dtype and shape: check both before reading a value.
        layout = {
            "count": ("i", (1,)),
            "ids": ("i", (n,)),
            "pdq": ("u1", (n, 32)),
            "dct": ("u1", (n, 32)),
            "pdq_flip": ("u1", (n, 32)),
            "dct_flip": ("u1", (n, 32)),
            "grid": ("u1", (n, *GRID)),
            "aspect": ("f", (n,)),
            "skew": ("f", (n,)),
            "rotation": ("i", (n,)),
            "sha": ("S32", (m,)),
            "sha_ids": ("i", (m,)),
        }
        for k, (kind, shape) in layout.items():
            arr = data[k]
            dtype_ok = arr.dtype.kind == kind if len(kind) == 1 else arr.dtype == np.dtype(kind)
            if not dtype_ok or arr.shape != shape:
                raise IndexFormatError(
                    f"{name!r}: {k} is {arr.dtype} of shape {arr.shape}, expected {kind} {shape}"
                )
        if int(data["count"][0]) < 0:
            raise IndexFormatError(f"{name!r}: negative count {int(data['count'][0])}")
        aspect, skew = data["aspect"], data["skew"]
        if not (np.all(np.isfinite(aspect) & (aspect > 0)) and not np.any(np.isinf(skew))):
            raise IndexFormatError(f"{name!r}: aspect ratios or skew angles are not finite")
        if not np.all(np.isin(data["rotation"], (0, 90, 180, 270))):
            raise IndexFormatError(f"{name!r}: rotations must be 0, 90, 180 or 270")
        try:
            return cls._from_arrays(data, n, options)
        except (InvalidArgumentError, ValueError, OverflowError) as exc:
            raise IndexFormatError(f"{name!r}: inconsistent values: {exc}") from None

    @classmethod
    def _from_arrays(
        cls, data: dict[str, Any], n: int, options: PageHashOptions | None
    ) -> DuplicateIndex:
        index = cls(options)
        for j in range(n):
            skew = float(data["skew"][j])
            key = PageHash(
                Hash(data["pdq"][j].tobytes(), 256),
                Hash(data["dct"][j].tobytes(), 256),
                np.ascontiguousarray(data["grid"][j]),
                float(data["aspect"][j]),
                None if np.isnan(skew) else skew,
                int(data["rotation"][j]),
                Hash(data["pdq_flip"][j].tobytes(), 256),
                Hash(data["dct_flip"][j].tobytes(), 256),
            )
            index.add_key(int(data["ids"][j]), key)
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
