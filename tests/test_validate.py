"""Tests of onestop_docs._validate.check_int: the one integer-argument check."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs._validate import check_int
from onestop_docs.errors import InvalidArgumentError


class _Level(IntEnum):
    LOW = 1


@pytest.mark.parametrize("value", [0, 1, -7, 2**70, _Level.LOW])
def test_int_accepted_and_returned_as_plain_int(value: int) -> None:
    out = check_int(value, "n")
    assert out == value
    assert type(out) is int


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "bool True"),
        (False, "bool False"),
        (1.0, "float 1.0"),
        (float("nan"), "float nan"),
        ("3", "str '3'"),
        (None, "NoneType None"),
        (np.bool_(True), f"bool {np.bool_(True)!r}"),
    ],
)
def test_non_int_rejected_with_its_type(value: Any, shown: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^n must be an int, got {re.escape(shown)}$"):
        check_int(value, "n")
    with pytest.raises(InvalidArgumentError, match=re.escape(f"got {shown}")):
        check_int(value, "n", numpy_ok=True)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.uint64])
def test_numpy_integers_only_when_allowed(dtype: type[np.integer[Any]]) -> None:
    value = dtype(5)
    with pytest.raises(InvalidArgumentError, match=rf"^n must be an int, got {dtype.__name__} "):
        check_int(value, "n")
    out = check_int(value, "n", 0, 10, numpy_ok=True)
    assert out == 5
    assert type(out) is int
    with pytest.raises(InvalidArgumentError, match=r"in \[6, 10\], got np\.\w+\(5\)$"):
        check_int(value, "n", 6, 10, numpy_ok=True)


def test_bounds_are_inclusive_and_named_in_the_message() -> None:
    assert check_int(1, "index", 1, 999) == 1
    assert check_int(999, "index", 1, 999) == 999
    with pytest.raises(InvalidArgumentError, match=r"^index must be an int in \[1, 999\], got 0$"):
        check_int(0, "index", 1, 999)
    with pytest.raises(
        InvalidArgumentError, match=r"^index must be an int in \[1, 999\], got 1000$"
    ):
        check_int(1000, "index", 1, 999)
    with pytest.raises(InvalidArgumentError, match=r"^workers must be an int >= 1, got -2$"):
        check_int(-2, "workers", 1)
    with pytest.raises(InvalidArgumentError, match=r"^depth must be an int <= 3, got 4$"):
        check_int(4, "depth", hi=3)
    with pytest.raises(InvalidArgumentError, match=r"^size must be an int >= 0, got float 0\.5$"):
        check_int(0.5, "size", 0)


@given(st.integers(), st.integers(-100, 100), st.integers(-100, 100))
def test_accepts_exactly_the_ints_in_range(value: int, lo: int, hi: int) -> None:
    if lo <= value <= hi:
        assert check_int(value, "v", lo, hi) == value
    else:
        with pytest.raises(InvalidArgumentError, match=f"got {value}$"):
            check_int(value, "v", lo, hi)
