"""Integrity of records: SHA-256 fixity, BagIt manifests and a tamper-evident log.

* :func:`sha256_file`, :func:`hash_files` — streaming and parallel SHA-256 of files
  (:mod:`~onestop_docs.integrity.fixity`).
* :class:`Manifest` — BagIt 1.0 bags (RFC 8493) with SHA-256 payload and tag manifests,
  and :class:`BagReport` listing missing, extra and altered files
  (:mod:`~onestop_docs.integrity.bag`).
* :class:`TransparencyLog` — an append-only, crash-safe log of record hashes with RFC 9162
  Merkle proofs (:mod:`~onestop_docs.integrity.translog`, :mod:`~onestop_docs.integrity.merkle`)
  and signed :class:`Checkpoint`\\ s (:mod:`~onestop_docs.integrity.checkpoint`).

Standard library only, plus ``cryptography`` (extra ``sign``) for signing and verifying
checkpoints.  See ``docs/integrity.md``.

Examples
--------
>>> import pathlib, tempfile
>>> from onestop_docs.integrity import Manifest, sha256_file
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "data").mkdir(), (d / "data" / "to_khai.pdf").write_bytes(b"abc")
>>> sha256_file(d / "data" / "to_khai.pdf")[:12]
'ba7816bf8f01'
>>> Manifest.create(d).entries["data/to_khai.pdf"][:12]
'ba7816bf8f01'
>>> Manifest.validate(d).valid
True
"""

from __future__ import annotations

from .bag import BagReport, Manifest
from .checkpoint import Checkpoint
from .fixity import FileHash, hash_files, sha256_file
from .merkle import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from .translog import LogRecovery, TransparencyLog

__all__ = [
    "EMPTY_ROOT",
    "BagReport",
    "Checkpoint",
    "ConsistencyProof",
    "FileHash",
    "InclusionProof",
    "LogRecovery",
    "Manifest",
    "MerkleTree",
    "TransparencyLog",
    "hash_files",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "sha256_file",
    "verify_consistency",
    "verify_inclusion",
]
