"""Regression tests: public entry points given hostile arguments raise the documented typed
error (issue 18, "API edges"), never TypeError, OverflowError or a huge allocation."""

from __future__ import annotations

import numpy as np
import pytest

from onestop_docs import errors

# --------------------------------------------------------------------------- dedup index


def test_hash_index_add_refuses_a_non_hash() -> None:
    from onestop_docs.dedup import HashIndex

    index = HashIndex(64)
    with pytest.raises(errors.InvalidArgumentError, match="got int"):
        index.add([1], 5)
    assert len(index) == 0


def test_nearest_with_a_huge_k_returns_every_row() -> None:
    from onestop_docs.dedup import HashIndex

    index = HashIndex(64)
    index.add([1, 2], ["00" * 8, "ff" * 8])
    got = index.nearest("00" * 8, k=2**63)
    assert got.ids.tolist() == [1, 2] and got.distances.tolist() == [0, 64]
    with pytest.raises(errors.InvalidArgumentError):
        index.nearest("00" * 8, k=0)


# --------------------------------------------------------------------------- dedup hashes


@pytest.mark.parametrize("size", [16.0, 8.0, "8", None, True])
def test_phash_size_must_be_an_int(size: object) -> None:
    from onestop_docs.dedup._hash import phash

    with pytest.raises(errors.InvalidArgumentError, match="hash_size"):
        phash(np.zeros((64, 64), np.uint8), size)  # type: ignore[arg-type]
