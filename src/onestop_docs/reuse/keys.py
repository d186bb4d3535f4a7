"""The document key as the store sees it: an opaque versioned blob plus a 256-bit candidate.

Everything the store knows about the key goes through this module, so a new key (or key
version) changes this file only.  A stored key is ``(version, blob)``; the store indexes the
key's 256-bit candidate hash for Hamming search and hands blobs back to the key's own
verifier.  Blobs of a version this library cannot read are reported, never guessed at.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dedup import CANDIDATE_RADIUS as _RADIUS
from ..dedup import KEY_VERSION as _VERSION
from ..dedup import DocumentKey, PageHash, Verdict, document_key, match_keys
from ..errors import BlankPageError, InvalidArgumentError, KeyFormatError, ReuseStoreError

__all__ = [
    "CANDIDATE_BYTES",
    "CANDIDATE_RADIUS",
    "KEY_VERSION",
    "PHOTO_DPI",
    "PHOTO_MIN_SIDE",
    "SEARCH_RADIUS",
    "Key",
    "PackedKey",
    "candidate_of",
    "is_key",
    "key_from_blob",
    "key_of_page",
    "key_of_photo",
    "key_to_blob",
    "pack",
    "query_candidates",
    "verdict_json",
    "verify_keys",
    "verify_stored",
]

Key = DocumentKey
#: Width of the candidate hash the store indexes (bytes).
CANDIDATE_BYTES = 32
#: Version of the keys this library makes and reads (:data:`onestop_docs.dedup.KEY_VERSION`).
KEY_VERSION = _VERSION
#: Hamming radius (of 256 bits) within which a stored candidate goes to the verifier.
CANDIDATE_RADIUS = _RADIUS
#: Hamming radius the store's candidate search guarantees by default: every stored page
#: within it (either orientation) goes to the verifier.  Measured on the tuning corpora
#: (``benchmarks/reuse_radius.py``, evalkit s1 small, s12 full, s13 hard): every pair the
#: verifier accepts is within 20 bits (scanner rescans 2-16, phone captures 10-20), pages
#: of other documents are 36 or more apart (other fillings of one form: 4 or more).  31 is
#: the largest radius whose multi-index search probes one-bit neighbours only
#: (``31 // 16 == 1``): 16 x 17 buckets per query instead of a scan of every stored page.
#: Pairs between 32 and :data:`CANDIDATE_RADIUS` are not verified;
#: ``ReuseStore(search_radius=CANDIDATE_RADIUS)`` verifies them too (scan, slower).
SEARCH_RADIUS = 31


def key_of_page(page: Any, *, dpi: float | None = None) -> tuple[Key | None, str | None]:
    """The key of a page, or ``(None, reason)`` for a page without one (blank, near-blank)."""
    try:
        return document_key(page, dpi=dpi), None
    except BlankPageError as exc:
        return None, exc.reason


@dataclass(frozen=True)
class PackedKey:
    """A document key kept as its bytes (``DocumentKey.to_bytes``: context-coded, about 30
    times smaller than the key in memory) until it is compared.

    Every function of this module that takes a key takes a ``PackedKey`` too; a long
    document holds its pages' keys this way, so its memory does not grow with its length.

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.dedup import DocumentKey, Hash, KEY_SHAPE
    >>> z = np.zeros(KEY_SHAPE, np.uint8); z[40:44, 20:200] = 1
    >>> k = DocumentKey(Hash(bytes(32), 256), Hash(bytes(32), 256), z, z, 1.4)
    >>> packed = pack(k)
    >>> len(packed.blob) < z.nbytes // 100, verify_keys(k, packed).duplicate
    (True, True)
    """

    version: int
    blob: bytes

    def unpack(self) -> Key:
        """The key itself (decoded; a damaged blob raises ``ReuseStoreError``)."""
        return key_from_blob(self.version, self.blob)


def pack(key: Key | PageHash | PackedKey) -> PackedKey:
    """The key as a :class:`PackedKey`."""
    if isinstance(key, PackedKey):
        return key
    return PackedKey(*key_to_blob(key))


def _check_key(key: Any) -> Key:
    if isinstance(key, PageHash):
        return key.key
    if isinstance(key, PackedKey):
        return key.unpack()
    if not isinstance(key, DocumentKey):
        raise InvalidArgumentError(
            f"expected a document key (DocumentKey or PageHash), got {type(key).__name__}"
        )
    return key


def key_to_blob(key: Key | PageHash) -> tuple[int, bytes]:
    """``(version, bytes)`` of a key, for the store and the metadata XML."""
    if isinstance(key, PackedKey):
        return key.version, key.blob
    k = _check_key(key)
    return k.version, k.to_bytes()


def key_from_blob(version: int, blob: bytes, *, where: str = "", fine: bool = True) -> Key:
    """Read a key written by :func:`key_to_blob` (``fine=False``: without its fine bitmaps).

    Raises
    ------
    ReuseStoreError
        Another key version (``reason="key-version"``) or damaged bytes (``"corrupt"``).
    """
    at = f" ({where})" if where else ""
    if version != KEY_VERSION:
        raise ReuseStoreError(
            f"document key version {version}{at}: this library reads version {KEY_VERSION}; "
            "re-index the records with this version",
            reason="key-version",
        )
    try:
        key = DocumentKey.from_bytes(blob, fine=fine)
    except KeyFormatError as exc:
        raise ReuseStoreError(f"damaged document key{at}: {exc}", reason="corrupt") from None
    return key


def _hashes_of(key: Any) -> Key:
    # the key for its candidate hashes: a packed key is read without its fine bitmaps
    if isinstance(key, PackedKey):
        return key_from_blob(key.version, key.blob, fine=False)
    return _check_key(key)


def candidate_of(key: Key | PageHash) -> bytes:
    """The 256-bit candidate hash the store indexes (32 bytes)."""
    return bytes(_hashes_of(key).candidate.data)


def query_candidates(key: Key | PageHash) -> list[bytes]:
    """The candidate hashes a lookup probes (the key as given and turned by 180 degrees)."""
    k = _hashes_of(key)
    return [bytes(k.candidate.data), bytes(k.candidate_flip.data)]


def verify_keys(query: Key | PageHash, stored: Key | PageHash) -> Verdict:
    """The key's own second-stage decision on a candidate pair."""
    return match_keys(_check_key(query), _check_key(stored))


#: A stored key as the store holds it: (version, bytes, where it is, for errors).
StoredBlob = tuple[int, bytes, str]


def verify_stored(
    query: Key | PageHash | PackedKey | StoredBlob, stored: Key | PageHash | PackedKey | StoredBlob
) -> Verdict:
    """:func:`verify_keys` on stored bytes, reading the fine bitmaps only when needed.

    The keys are read without their fine bitmaps first (about 3-4 ms instead of 15-18 for
    a context-coded key); only a pair that the coarse stages accept is read again in full
    for the final stage.  The verdict is the one :func:`verify_keys` gives on the fully
    read keys, since the final stage runs on exactly those pairs.
    """

    def read(k: Key | PageHash | PackedKey | StoredBlob, fine: bool) -> Key:
        if isinstance(k, tuple):
            return key_from_blob(k[0], k[1], where=k[2], fine=fine)
        if isinstance(k, PackedKey):
            return key_from_blob(k.version, k.blob, fine=fine)
        return _check_key(k)

    verdict = match_keys(read(query, False), read(stored, False))
    if not verdict.duplicate:
        return verdict
    a, b = read(query, True), read(stored, True)
    if not (a.has_fine and b.has_fine):
        return verdict
    return match_keys(a, b)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """A JSON-friendly dict of a verdict (NaN as None, floats rounded to 4 places)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(verdict):
        v = getattr(verdict, f.name)
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 4)
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def is_key(obj: Any) -> bool:
    """True for a document key (or a page hash carrying one)."""
    return isinstance(obj, DocumentKey | PageHash)


#: Resolution a phone photo's sheet is rectified to before keying: the key works at about
#: 100 dpi, so warping a 12-megapixel photo's sheet (about 220 dpi) at full size and reducing
#: it afterwards costs twice the time for the same key (see docs/benchmarks.md).
PHOTO_DPI = 100.0

#: Shorter side, in pixels, a phone photo's JPEG is decoded down to (libjpeg's 1/2, 1/4 or
#: 1/8 scaling, :func:`onestop_docs.imageio.load_pages` ``reduce_to_side``) before the sheet
#: is found: a sheet filling 70 % of it still has the 827 pixels of an A4 short side at
#: :data:`PHOTO_DPI`.  A 12-megapixel photo (4000 x 3000) decodes at 2000 x 1500.  On
#: evalkit's hard s13 phone captures (2480 x 3508 JPEGs, decoded at 1240 x 1754) the same
#: pairs verified as at full size, in half the CPU time (72 against 144 ms).
PHOTO_MIN_SIDE = 1200

#: What :func:`onestop_docs.capture.rectify` statuses mean for a lookup.
_PHOTO_REASONS = {
    "no-page": "no page found",
    "incomplete": "page incomplete",
    "two-pages": "two pages",
    "blank": "blank",
}


def key_of_photo(
    image: Any, *, dpi: float | None = None, rectify_dpi: float | None = PHOTO_DPI
) -> tuple[Key | None, str | None]:
    """The key of the page in a phone photo, or ``(None, reason)``: ``"no page found"``,
    ``"page incomplete"``, ``"two pages"``, ``"blank"``, ``"near-blank"``.

    The sheet is found and rectified by :func:`onestop_docs.capture.rectify`, straight to
    ``rectify_dpi`` (default :data:`PHOTO_DPI`; None: the photo's own resolution) when its
    paper size is known; a photo whose paper fills the frame (a scan, a screenshot) is keyed
    as it is.  A sheet cut off by the frame whose corners could be placed outside it is
    keyed from its rectified page, as :func:`onestop_docs.dedup.page_hash` keys it, and
    comes with the reason ``"page incomplete"``: ``(key, "page incomplete")``.  A flatbed
    scan with a dark scanner border along one to three sides looks like that (its paper
    runs out of the frame on the other sides): 68 of the 194 scanner pages of evalkit's
    tuning full s12 did, and were refused before (``docs/reuse.md``).
    """
    import importlib

    try:
        capture: Any = importlib.import_module("onestop_docs.capture")
    except ImportError:
        raise InvalidArgumentError(
            "looking up a phone photo needs onestop_docs.capture, which this build lacks"
        ) from None
    res = None
    if rectify_dpi is not None:
        try:
            res = capture.rectify(image, dpi=rectify_dpi)
        except InvalidArgumentError:
            res = None  # a sheet of no known paper size: rectify at the photo's resolution
    if res is None:
        res = capture.rectify(image)
    if res.status == "ok" and res.page is not None:
        return key_of_page(res.page, dpi=res.dpi or dpi or 150.0)
    if res.status == "incomplete" and res.page is not None:
        key, reason = key_of_page(res.page, dpi=res.dpi or dpi or 150.0)
        return key, _PHOTO_REASONS["incomplete"] if key is not None else reason
    if res.status == "full-frame":
        return key_of_page(image, dpi=dpi)
    return None, _PHOTO_REASONS.get(str(res.status), str(res.status))
