"""Duplicate detection: perceptual hashes, a fast Hamming index and the document key.

Three layers (see ``docs/dedup.md``):

* standard hashes, bit-exact with their references so stored values can be mixed:
  :func:`ahash`, :func:`dhash`, :func:`phash` (``imagehash``) and :func:`pdq` (Meta's PDQ);
* :class:`HashIndex`, an exact Hamming-distance index (hardware popcount, multi-index
  hashing, memory-mapped files);
* the document key :func:`page_hash` with its second-stage verifier, :func:`find_duplicates`
  for a batch and :class:`DuplicateIndex` for the reuse check at a kiosk or portal.

Examples
--------
>>> from onestop_docs.dedup import Hash
>>> Hash.from_hex("ff" * 8) - Hash.from_hex("fe" * 8)
8
"""

from __future__ import annotations

from ._document import (
    PageHash,
    PageHashOptions,
    PageKey,
    Verdict,
    page_hash,
    page_key,
    region_difference,
    verify_pair,
)
from ._duplicates import DuplicateIndex, DuplicateMatch, file_sha256, find_duplicates
from ._hash import Compat, Hash, PdqResult, ahash, dhash, pdq, phash
from ._index import INDEX_MAGIC, INDEX_VERSION, HashIndex, Matches, popcount_kernel

__all__ = [
    "INDEX_MAGIC",
    "INDEX_VERSION",
    "Compat",
    "DuplicateIndex",
    "DuplicateMatch",
    "Hash",
    "HashIndex",
    "Matches",
    "PageHash",
    "PageHashOptions",
    "PageKey",
    "PdqResult",
    "Verdict",
    "ahash",
    "dhash",
    "file_sha256",
    "find_duplicates",
    "page_hash",
    "page_key",
    "pdq",
    "phash",
    "popcount_kernel",
    "region_difference",
    "verify_pair",
]
