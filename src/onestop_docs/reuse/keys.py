"""The document key as the store sees it: an opaque versioned blob plus a 256-bit candidate.

Everything the store knows about the key goes through this module, so a new key (or key
version) changes this file only.  A stored key is ``(version, blob)``; the store indexes the
key's 256-bit candidate hash for Hamming search and hands blobs back to the key's own
verifier.  Blobs of a version this library cannot read are reported, never guessed at.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib
from typing import Any

import numpy as np

from ..dedup import Hash, PageHash, PageHashOptions, Verdict, page_key, verify_pair
from ..dedup._document import GRID
from ..errors import InvalidArgumentError, ReuseStoreError

__all__ = [
    "CANDIDATE_BYTES",
    "CANDIDATE_RADIUS",
    "KEY_VERSION",
    "Key",
    "candidate_of",
    "is_key",
    "key_from_blob",
    "key_of_page",
    "key_of_photo",
    "key_to_blob",
    "query_candidates",
    "verdict_json",
    "verify_keys",
]

Key = PageHash
#: Width of the candidate hash the store indexes (bytes).
CANDIDATE_BYTES = 32
#: Version of the blobs :func:`key_to_blob` writes.
KEY_VERSION = 1
_OPTS = PageHashOptions()
#: Hamming radius (of 256 bits) within which a stored candidate is handed to the verifier.
CANDIDATE_RADIUS = _OPTS.pdq_radius
_HEAD = struct.Struct("<4s32s32s32s32sddh")
_MAGIC = b"OSK1"


def key_of_page(page: Any, *, dpi: float | None = None) -> tuple[Key | None, str | None]:
    """The key of a page, or ``(None, reason)`` for a page without one (blank, near-blank)."""
    res = page_key(page, dpi=dpi, options=_OPTS)
    return res.hash, res.reason


def _check_key(key: Any) -> Key:
    if not isinstance(key, PageHash):
        raise InvalidArgumentError(f"expected a document key (PageHash), got {type(key).__name__}")
    return key


def key_to_blob(key: Key) -> tuple[int, bytes]:
    """``(version, bytes)`` of a key, for the store and the metadata XML."""
    k = _check_key(key)
    flip_p = k.pdq_flip or k.pdq
    flip_d = k.dct_flip or k.dct
    skew = math.nan if k.skew_deg is None else float(k.skew_deg)
    head = _HEAD.pack(
        _MAGIC,
        k.pdq.data,
        k.dct.data,
        flip_p.data,
        flip_d.data,
        float(k.aspect),
        skew,
        int(k.rotation),
    )
    return KEY_VERSION, head + zlib.compress(np.ascontiguousarray(k.grid).tobytes(), 6)


def key_from_blob(version: int, blob: bytes, *, where: str = "") -> Key:
    """Read a key written by :func:`key_to_blob`.

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
        magic, p, d, pf, df, aspect, skew, rot = _HEAD.unpack_from(blob)
        grid = np.frombuffer(zlib.decompress(bytes(blob[_HEAD.size :])), np.uint8)
        if magic != _MAGIC or grid.size != GRID[0] * GRID[1] or not aspect > 0:
            raise ValueError("bad layout")
    except (struct.error, zlib.error, ValueError) as exc:
        raise ReuseStoreError(f"damaged document key{at}: {exc}", reason="corrupt") from None
    return PageHash(
        Hash(p, 256),
        Hash(d, 256),
        grid.reshape(GRID).copy(),
        float(aspect),
        None if math.isnan(skew) else float(skew),
        int(rot),
        Hash(pf, 256),
        Hash(df, 256),
    )


def candidate_of(key: Key) -> bytes:
    """The 256-bit candidate hash the store indexes (32 bytes)."""
    return bytes(_check_key(key).pdq.data)


def query_candidates(key: Key) -> list[bytes]:
    """The candidate hashes a lookup probes (the key as given and turned by 180 degrees)."""
    k = _check_key(key)
    out = [bytes(k.pdq.data)]
    if k.pdq_flip is not None:
        out.append(bytes(k.pdq_flip.data))
    return out


def verify_keys(query: Key, stored: Key) -> Verdict:
    """The key's own second-stage decision on a candidate pair."""
    return verify_pair(query, stored, _OPTS)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """A JSON-friendly dict of a verdict (NaN as None, floats rounded to 4 places)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(verdict):
        v = getattr(verdict, f.name)
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 4)
        elif isinstance(v, np.generic):
            v = v.item()
        out[f.name] = v
    return out


def is_key(obj: Any) -> bool:
    """True for a document key."""
    return isinstance(obj, PageHash)


def key_of_photo(image: Any, *, dpi: float | None = None) -> tuple[Key | None, str | None]:
    """The key of the page in a phone photo, or ``(None, "no page found")``."""
    try:
        from .. import capture  # type: ignore[attr-defined]
    except ImportError:
        raise InvalidArgumentError(
            "looking up a phone photo needs onestop_docs.capture, which this build lacks"
        ) from None
    raise InvalidArgumentError(f"unsupported capture module {capture!r}")
