"""Duplicate detection: perceptual hashes, a fast Hamming index and the document key.

Three layers (see ``docs/dedup.md``):

* standard hashes, bit-exact with their references so stored values can be mixed:
  :func:`ahash`, :func:`dhash`, :func:`phash` (``imagehash``) and :func:`pdq` (Meta's PDQ);
* :class:`HashIndex`, an exact Hamming-distance index (hardware popcount, multi-index
  hashing, memory-mapped files);
* the document key: :func:`document_key` makes a :class:`DocumentKey` (candidate hash +
  canonical ink bitmaps, :meth:`DocumentKey.to_bytes` for storage), :func:`match_keys` is
  the second-stage verifier (search candidates within :data:`CANDIDATE_RADIUS` first);
  :func:`page_hash` / :func:`verify_pair` are the page-level layer over it,
  :func:`find_duplicates` groups a batch and :class:`DuplicateIndex` is the reuse check at a
  kiosk or portal.

Examples
--------
>>> from onestop_docs.dedup import Hash
>>> Hash.from_hex("ff" * 8) - Hash.from_hex("fe" * 8)
8
"""

from __future__ import annotations

from ._document import PageHash, PageHashOptions, PageKey, page_hash, page_key, verify_pair
from ._duplicates import DuplicateIndex, DuplicateMatch, file_sha256, find_duplicates
from ._hash import Compat, Hash, PdqResult, ahash, dhash, pdq, phash
from ._index import INDEX_MAGIC, INDEX_VERSION, HashIndex, Matches, popcount_kernel
from ._key import (
    CANDIDATE_RADIUS,
    FINE_SHAPE,
    KEY_SHAPE,
    KEY_VERSION,
    MAX_ASPECT_DIFF,
    DocumentKey,
    MatchOptions,
    Verdict,
    document_key,
    match_keys,
)

__all__ = [
    "CANDIDATE_RADIUS",
    "FINE_SHAPE",
    "INDEX_MAGIC",
    "INDEX_VERSION",
    "KEY_SHAPE",
    "KEY_VERSION",
    "MAX_ASPECT_DIFF",
    "Compat",
    "DocumentKey",
    "DuplicateIndex",
    "DuplicateMatch",
    "Hash",
    "HashIndex",
    "MatchOptions",
    "Matches",
    "PageHash",
    "PageHashOptions",
    "PageKey",
    "PdqResult",
    "Verdict",
    "ahash",
    "dhash",
    "document_key",
    "file_sha256",
    "find_duplicates",
    "match_keys",
    "page_hash",
    "page_key",
    "pdq",
    "phash",
    "popcount_kernel",
    "verify_pair",
]
