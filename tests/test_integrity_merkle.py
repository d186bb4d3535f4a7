"""RFC 9162 Merkle hashing and proofs against published CT vectors and the RFC definitions."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import InvalidArgumentError
from onestop_docs.integrity import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- published vectors
# Source: transparency-dev/merkle, proof/verify_test.go (the `leaves`, `roots`,
# `inclusionProofs` and `consistencyProofs` variables; the same vectors as
# google/certificate-transparency python/ct/crypto/merkle_test.py, "lifted from the C++
# branch").  Inclusion vectors there use 1-based leaf numbers; converted to 0-based below.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _h(*hexes: str) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(x) for x in hexes)


# (0-based leaf index, tree size, path)
CT_INCLUSION = [
    (0, 1, ()),
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, path)
CT_CONSISTENCY = [
    (1, 1, ()),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# A real CT log audit path. Source: google/certificate-transparency,
# python/ct/crypto/merkle_test.py (MerkleVerifierTest: leaf_hash, leaf_index 848049,
# tree_size 3630887, sha256_audit_path, expected_root_hash).
CT_REAL_LEAF = bytes.fromhex("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78")
CT_REAL_INDEX, CT_REAL_SIZE = 848049, 3630887
CT_REAL_ROOT = bytes.fromhex("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb")
CT_REAL_PATH = _h(
    "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
    "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
    "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
    "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
    "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
    "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
    "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
    "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
    "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
    "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
    "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
    "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
    "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
    "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
    "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
    "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
    "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
    "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
    "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
    "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
    "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
    "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
)


@pytest.fixture(scope="module")
def ct_tree() -> MerkleTree:
    tree = MerkleTree()
    for leaf in CT_LEAVES:
        tree.append(leaf)
    return tree


def test_hasher_vectors() -> None:
    # transparency-dev/merkle rfc6962/rfc6962_test.go TestRFC6962Hasher.
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )
    # google/certificate-transparency merkle_test.py TreeHasherTest.sha256_leaves / _nodes.
    assert leaf_hash(bytes.fromhex("101112131415161718191a1b1c1d1e1f")).hex() == (
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"
    )
    left = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    right = bytes.fromhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")
    assert node_hash(left, right).hex() == (
        "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_roots_every_prefix(size: int, ct_tree: MerkleTree) -> None:
    assert ct_tree.root(size) == CT_ROOTS[size - 1]
    assert merkle_root(CT_LEAVES[:size]) == CT_ROOTS[size - 1]


def test_ct_root_grows_incrementally() -> None:
    tree = MerkleTree()
    for i, leaf in enumerate(CT_LEAVES):
        tree.append(leaf)
        assert tree.root() == CT_ROOTS[i]
    assert MerkleTree().root() == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path: tuple[bytes, ...], ct_tree) -> None:
    assert ct_tree.inclusion_proof(index, size) == path
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, path, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency_vectors(old: int, new: int, path: tuple[bytes, ...], ct_tree) -> None:
    assert ct_tree.consistency_proof(old, new) == path
    assert verify_consistency(old, new, path, CT_ROOTS[old - 1], CT_ROOTS[new - 1])


def test_real_ct_audit_path() -> None:
    assert verify_inclusion(CT_REAL_LEAF, CT_REAL_INDEX, CT_REAL_SIZE, CT_REAL_PATH, CT_REAL_ROOT)
    assert not verify_inclusion(CT_REAL_LEAF, CT_REAL_INDEX, CT_REAL_SIZE, CT_REAL_PATH, bytes(32))
    assert not verify_inclusion(
        CT_REAL_LEAF,
        CT_REAL_INDEX + 2 ** (len(CT_REAL_PATH) + 1),
        CT_REAL_SIZE,
        CT_REAL_PATH,
        CT_REAL_ROOT,
    )


# --------------------------------------------------------------------------- corruption probes
# Modelled on corruptInclusionProof / corruptConsistencyProof in transparency-dev/merkle
# proof/verify_test.go: every variant must be rejected.

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(path: tuple[bytes, ...], i: int, mask: int) -> tuple[bytes, ...]:
    p = list(path)
    p[i] = bytes([p[i][0] ^ mask]) + p[i][1:]
    return tuple(p)


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION[1:])
def test_inclusion_rejects_corruptions(index, size, path) -> None:
    root, leaf = CT_ROOTS[size - 1], leaf_hash(CT_LEAVES[index])
    probes = [
        (index - 1, size, root, leaf, path),
        (index + 1, size, root, leaf, path),
        (index ^ 2, size, root, leaf, path),
        (index, size * 2, root, leaf, path),
        (index, size // 2, root, leaf, path),
        (index, size, root, b"WrongLeaf", path),
        (index, size, EMPTY_ROOT, leaf, path),
        (index, size, SOME_HASH, leaf, path),
        (index, size, root, leaf, (*path, b"")),
        (index, size, root, leaf, (*path, root)),
        (index, size, root, leaf, (b"", *path)),
        (index, size, root, leaf, (root, *path)),
        (index, size, root, leaf, path[:-1]),
    ]
    probes += [(index, size, root, leaf, _flip(path, i, 8)) for i in range(len(path))]
    if len(path) > 1:
        probes.append((index, size, root, leaf, (path[0], SOME_HASH, *path[1:])))
    for probe in probes:
        assert not verify_inclusion(probe[3], probe[0], probe[1], probe[4], probe[2]), probe


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY[1:])
def test_consistency_rejects_corruptions(old, new, path) -> None:
    r1, r2 = CT_ROOTS[old - 1], CT_ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, b"WrongRoot", r2, path),
        (old, new, r1, b"WrongRoot", path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, ()),
        (old, new, r1, r2, (*path, b"")),
        (old, new, r1, r2, (*path, r1)),
        (old, new, r1, r2, (*path, r2)),
        (old, new, r1, r2, (b"", *path)),
        (old, new, r1, r2, (r1, *path)),
        (old, new, r1, r2, (r2, *path)),
        (old, new, r1, r2, (path[0], *path)),
        (old, new, r1, r2, path[:-1]),
    ]
    probes += [(old, new, r1, r2, _flip(path, i, 16)) for i in range(len(path))]
    for probe in probes:
        assert not verify_consistency(probe[0], probe[1], probe[4], probe[2], probe[3]), probe


def test_edge_cases_of_verifiers() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)
    for index, size in ((0, 0), (1, 0), (2, 1)):
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    # RFC 9162 proofs exist for 0 < m < n; transparency-dev rejects any from the empty tree.
    assert not verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert not verify_consistency(0, 5, [], EMPTY_ROOT, CT_ROOTS[4])
    assert not verify_consistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, CT_ROOTS[0])
    assert not verify_consistency(0, 1, [], SOME_HASH, CT_ROOTS[0])
    assert verify_consistency(3, 3, [], CT_ROOTS[2], CT_ROOTS[2])
    assert not verify_consistency(3, 3, [], CT_ROOTS[2], CT_ROOTS[3])
    assert not verify_consistency(3, 3, [EMPTY_ROOT], CT_ROOTS[2], CT_ROOTS[2])
    assert not verify_consistency(2, 1, [], CT_ROOTS[1], CT_ROOTS[0])
    assert not verify_consistency(1, 2, [], CT_ROOTS[0], CT_ROOTS[1])
    with pytest.raises(InvalidArgumentError):
        verify_inclusion(h, "0", 1, [], h)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        verify_consistency(1.0, 2, [], h, h)  # type: ignore[arg-type]


def test_tree_argument_errors(ct_tree: MerkleTree) -> None:
    with pytest.raises(InvalidArgumentError):
        ct_tree.inclusion_proof(8, 8)
    with pytest.raises(InvalidArgumentError):
        ct_tree.inclusion_proof(0, 9)
    with pytest.raises(InvalidArgumentError):
        ct_tree.consistency_proof(5, 4)
    with pytest.raises(InvalidArgumentError):
        ct_tree.root(-1)
    with pytest.raises(InvalidArgumentError):
        MerkleTree().append_leaf_hash(b"short")
    with pytest.raises(
        InvalidArgumentError, match=r"tree size must be an int in \[0, \d+\], got bool True"
    ):
        ct_tree.root(True)
    with pytest.raises(InvalidArgumentError, match="leaf index must be an int, got str"):
        ct_tree.leaf_hash("0")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- RFC definitions
# An independent, literal transcription of RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH and
# §2.1.4.1 PROOF/SUBPROOF (recursive, over the raw entries), memoised on sub-ranges.


def _rfc_reference(entries: list[bytes]):
    @cache
    def mth(a: int, b: int) -> bytes:
        n = b - a
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + entries[a]).digest()
        k = 1
        while k * 2 < n:
            k *= 2
        return hashlib.sha256(b"\x01" + mth(a, a + k) + mth(a + k, b)).digest()

    def split(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def path(m: int, a: int, b: int) -> list[bytes]:
        n = b - a
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return [*path(m, a, a + k), mth(a + k, b)]
        return [*path(m - k, a + k, b), mth(a, a + k)]

    def subproof(m: int, a: int, b: int, complete: bool) -> list[bytes]:
        n = b - a
        if m == n:
            return [] if complete else [mth(a, b)]
        k = split(n)
        if m <= k:
            return [*subproof(m, a, a + k, complete), mth(a + k, b)]
        return [*subproof(m - k, a + k, b, False), mth(a, a + k)]

    return mth, path, subproof


N_MAX = 200


@pytest.fixture(scope="module")
def big() -> tuple[list[bytes], MerkleTree]:
    entries = [f"hồ sơ {i:04d}".encode() for i in range(N_MAX)]
    tree = MerkleTree()
    for e in entries:
        tree.append(e)
    return entries, tree


def test_roots_match_rfc_for_every_size(big) -> None:
    entries, tree = big
    mth, _, _ = _rfc_reference(entries)
    for n in range(N_MAX + 1):
        assert tree.root(n) == mth(0, n)


def test_inclusion_every_leaf_every_size_1_to_200(big) -> None:
    entries, tree = big
    mth, path, _ = _rfc_reference(entries)
    for n in range(1, N_MAX + 1):
        root = mth(0, n)
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert list(proof) == path(m, 0, n), (m, n)
            assert verify_inclusion(leaf_hash(entries[m]), m, n, proof, root), (m, n)
            # the proof of one leaf must not prove its neighbour
            other = (m + 1) % n
            if other != m:
                assert not verify_inclusion(leaf_hash(entries[other]), m, n, proof, root)


def test_consistency_every_pair_of_sizes_1_to_200(big) -> None:
    entries, tree = big
    mth, _, subproof = _rfc_reference(entries)
    for n in range(1, N_MAX + 1):
        root = mth(0, n)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert list(proof) == (subproof(m, 0, n, True) if m < n else []), (m, n)
            assert verify_consistency(m, n, proof, mth(0, m), root), (m, n)
            if m < n:
                # a root of a different old tree must not be accepted
                assert not verify_consistency(m, n, proof, mth(1, m + 1), root), (m, n)


@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=70),
    st.data(),
)
def test_random_trees_property(entries: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree()
    for e in entries:
        tree.append(e)
    mth, _, _ = _rfc_reference(entries)
    n = len(entries)
    m = data.draw(st.integers(0, n - 1))
    size = data.draw(st.integers(m + 1, n))
    proof = tree.inclusion_proof(m, size)
    assert verify_inclusion(leaf_hash(entries[m]), m, size, proof, mth(0, size))
    old = data.draw(st.integers(1, size))  # no proof from the empty tree (RFC 9162)
    cproof = tree.consistency_proof(old, size)
    assert verify_consistency(old, size, cproof, mth(0, old), mth(0, size))
    if cproof:
        i = data.draw(st.integers(0, len(cproof) - 1))
        assert not verify_consistency(old, size, _flip(cproof, i, 1), mth(0, old), mth(0, size))
