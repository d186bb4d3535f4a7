"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs, and their verifiers.

Definitions (RFC 9162 §2.1.1, identical to RFC 6962 §2.1 with SHA-256):

* leaf hash ``HASH(0x00 || entry)``, interior node ``HASH(0x01 || left || right)``;
* the hash of the empty tree is ``SHA-256("")``;
* a tree of ``n > 1`` leaves splits at ``k``, the largest power of two **smaller** than ``n``.

Leaf indices are 0-based.  A proof is a tuple of 32-byte hashes, ordered from the leaf (or
the older tree) upwards, exactly as RFC 9162 ``PATH`` and ``PROOF`` produce them, so proofs
interoperate with Certificate Transparency and ``transparency-dev/merkle`` clients.

Verifiers return ``True``/``False`` and never raise for a wrong proof; they raise
:class:`~onestop_docs.errors.InvalidArgumentError` only for arguments of the wrong type.

Examples
--------
>>> tree = MerkleTree()
>>> for entry in (b"a", b"b", b"c"):
...     _ = tree.append(entry)
>>> proof = tree.inclusion_proof(2)
>>> verify_inclusion(leaf_hash(b"c"), 2, 3, proof, tree.root())
True
>>> verify_consistency(2, 3, tree.consistency_proof(2), tree.root(2), tree.root())
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .._validate import check_int
from ..errors import InvalidArgumentError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ConsistencyProof",
    "InclusionProof",
    "MerkleTree",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: Root of the empty tree, ``SHA-256("")`` (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """Return ``SHA-256(0x00 || entry)``, the RFC 9162 leaf hash.

    Examples
    --------
    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return hashlib.sha256(b"\x00" + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the RFC 9162 interior node hash.

    Examples
    --------
    >>> node_hash(b"N123", b"N456").hex()[:16]
    'aa217fe888e47007'
    """
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only in-memory Merkle tree over leaf hashes (RFC 9162 §2.1).

    Every complete, aligned subtree hash is kept (``levels[h]`` holds the hashes of the
    subtrees of ``2**h`` leaves, 32 bytes each in one ``bytearray``), so appending costs
    O(1) amortised, the root of any earlier size costs O(log n) and a proof O(log² n) at
    worst.  Memory is about 64 bytes per leaf.  Not thread-safe by itself: the
    :class:`~onestop_docs.integrity.TransparencyLog` that owns it holds a lock.

    Examples
    --------
    >>> t = MerkleTree()
    >>> t.append(b"")
    0
    >>> t.root().hex()[:16]
    '6e340b9cffb37a98'
    >>> len(t)
    1
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    def __len__(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def append(self, entry: bytes) -> int:
        """Append an entry (hashed as a leaf); return its 0-based index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append an already computed leaf hash; return its 0-based index."""
        if len(h) != HASH_SIZE:
            raise InvalidArgumentError(f"a leaf hash has {HASH_SIZE} bytes, got {len(h)}")
        index = len(self)
        self._levels[0] += h
        # Complete every subtree that this leaf closes: while the node index is odd, its
        # parent (hash of the left sibling and itself) becomes available.
        level, i, cur = 0, index, bytes(h)
        while i & 1:
            left = self._node(level, i - 1)
            cur = node_hash(left, cur)
            level += 1
            i >>= 1
            if len(self._levels) <= level:
                self._levels.append(bytearray())
            self._levels[level] += cur
        return index

    def leaf_hash(self, index: int) -> bytes:
        """Leaf hash of entry ``index``."""
        self._check_index(index, len(self))
        return self._node(0, index)

    def find_leaf(self, h: bytes) -> int | None:
        """Index of the first leaf whose hash is ``h``, or None (a C-speed scan)."""
        lv = self._levels[0]
        pos = lv.find(h)
        while pos >= 0:
            if pos % HASH_SIZE == 0:
                return pos // HASH_SIZE
            pos = lv.find(h, pos + 1)
        return None

    def _node(self, level: int, i: int) -> bytes:
        lv = self._levels[level]
        return bytes(lv[i * HASH_SIZE : (i + 1) * HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for ``0 <= start < end <= len``."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            # An aligned complete subtree: stored.
            return self._node(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self._range_hash(start, start + k), self._range_hash(start + k, end))

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return len(self)
        return check_int(size, "tree size", 0, len(self))

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= check_int(index, "leaf index") < size:
            raise InvalidArgumentError(f"leaf index must be in [0, {size}), got {index}")

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` leaves (default: all), MTH(D[0:size])."""
        n = self._check_size(size)
        if n == 0:
            return EMPTY_ROOT
        return self._range_hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])``: the audit path of one leaf."""
        n = self._check_size(size)
        self._check_index(index, n)
        path: list[bytes] = []
        start, end, m = 0, n, index
        # Walk down from the root, collecting the sibling subtree at every split.
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                path.append(self._range_hash(start + k, end))
                end = start + k
            else:
                path.append(self._range_hash(start, start + k))
                start += k
                m -= k
        path.reverse()
        return tuple(path)

    def consistency_proof(self, old_size: int, size: int | None = None) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.4.1 ``PROOF(old_size, D[0:size])``.

        Empty when ``old_size`` is 0 or equal to ``size``; :func:`verify_consistency`
        accepts no proof from ``old_size`` 0 (RFC 9162 defines them for ``0 < m < n``).
        """
        n = self._check_size(size)
        m = self._check_size(old_size)
        if m > n:
            raise InvalidArgumentError(f"old size {m} is larger than the new size {n}")
        if m == 0 or m == n:
            return ()
        path: list[bytes] = []
        start, end, mm, complete = 0, n, m, True
        while True:
            if mm == end - start:
                if not complete:
                    path.append(self._range_hash(start, end))
                break
            k = _split(end - start)
            if mm <= k:
                path.append(self._range_hash(start + k, end))
                end = start + k
            else:
                path.append(self._range_hash(start, start + k))
                start += k
                mm -= k
                complete = False
        path.reverse()
        return tuple(path)


def merkle_root(entries: Sequence[bytes]) -> bytes:
    """Root hash of a list of entries (each hashed as a leaf).

    Examples
    --------
    >>> merkle_root([]).hex()[:16]
    'e3b0c44298fc1c14'
    >>> merkle_root([b"x"]) == leaf_hash(b"x")
    True
    """
    tree = MerkleTree()
    for e in entries:
        tree.append(e)
    return tree.root()


def _hashes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes | bytearray) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.

    Parameters
    ----------
    leaf : bytes
        The 32-byte **leaf hash** (``leaf_hash(entry)``), not the entry.
    index : int
        0-based leaf index.
    size : int
        Tree size the proof was made for.
    proof : sequence of bytes
        The audit path, leaf side first.
    root : bytes
        Trusted root hash of the tree of ``size`` leaves (e.g. from a verified checkpoint).

    Returns
    -------
    bool
        ``True`` only if the path recomputes ``root`` exactly and has no extra elements.

    Raises
    ------
    InvalidArgumentError
        ``index`` or ``size`` is not an int.

    Examples
    --------
    >>> a, b = leaf_hash(b"a"), leaf_hash(b"b")
    >>> verify_inclusion(a, 0, 2, [b], node_hash(a, b))
    True
    >>> verify_inclusion(a, 1, 2, [b], node_hash(a, b))
    False
    """
    index = check_int(index, "index")
    size = check_int(size, "size")
    if not (0 <= index < size) or not _hashes_ok(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(bytes(p), r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, bytes(p))
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == bytes(root)


def verify_consistency(
    old_size: int, size: int, proof: Sequence[bytes], old_root: bytes, root: bytes
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 §2.1.4.2.

    RFC 9162 §2.1.4 defines proofs for ``0 < old_size < size``.  Outside that: equal sizes
    need an empty proof and equal roots; ``old_size == 0`` is always rejected (a proof from
    the empty tree is meaningless; transparency-dev/merkle rejects it too), even an empty
    proof with :data:`EMPTY_ROOT`.

    Parameters
    ----------
    old_size, size : int
        Sizes of the older and the newer tree, ``0 <= old_size <= size``.
    proof : sequence of bytes
        ``PROOF(old_size, D[0:size])``.
    old_root, root : bytes
        Trusted root hashes of both trees.

    Returns
    -------
    bool
        ``True`` if the newer tree contains the older one as a prefix.

    Raises
    ------
    InvalidArgumentError
        A size is not an int.

    Examples
    --------
    >>> a, b = leaf_hash(b"a"), leaf_hash(b"b")
    >>> verify_consistency(1, 2, [b], a, node_hash(a, b))
    True
    >>> verify_consistency(1, 2, [b], b, node_hash(a, b))
    False
    """
    m = check_int(old_size, "old_size")
    n = check_int(size, "size")
    if not (0 < m <= n) or not _hashes_ok(old_root, root, *proof):
        return False  # old_size 0 included: no proof from the empty tree exists
    if m == n:
        return len(proof) == 0 and bytes(old_root) == bytes(root)
    if len(proof) == 0:
        return False
    path = [bytes(p) for p in proof]
    if m & (m - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == bytes(old_root) and sr == bytes(root) and sn == 0


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """RFC 9162 inclusion proof (audit path) of leaf ``leaf_index`` in a tree of ``tree_size``.

    Attributes
    ----------
    leaf_index : int
        0-based index of the leaf.
    tree_size : int
        Size of the tree the proof is for.
    path : tuple of bytes
        32-byte hashes, leaf side first.
    """

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]

    def verify(self, leaf: bytes, root: bytes) -> bool:
        """True if ``leaf`` (a leaf hash) is at ``leaf_index`` under ``root``."""
        return verify_inclusion(leaf, self.leaf_index, self.tree_size, self.path, root)


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 consistency proof between tree sizes ``old_size`` and ``tree_size``.

    Attributes
    ----------
    old_size, tree_size : int
        Sizes of the older and newer tree.
    path : tuple of bytes
        32-byte hashes as ``PROOF(old_size, D[0:tree_size])`` orders them.
    """

    old_size: int
    tree_size: int
    path: tuple[bytes, ...]

    def verify(self, old_root: bytes, root: bytes) -> bool:
        """True if the tree with ``root`` extends the tree with ``old_root``."""
        return verify_consistency(self.old_size, self.tree_size, self.path, old_root, root)
