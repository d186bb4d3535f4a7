"""Owner identifiers of a record: personal ID numbers (CCCD) and tax codes (MST)."""

from __future__ import annotations

import re
from typing import Literal

from ..errors import InvalidArgumentError

__all__ = ["OwnerKind", "owner_kind", "parse_owner_id"]

OwnerKind = Literal["cccd", "mst", "mst-branch"]

_CCCD = re.compile(r"[0-9]{12}")
_MST = re.compile(r"([0-9]{10})(?:-([0-9]{3}))?")
# Weights of the tax code check digit (mã số thuế): N10 = 10 - (sum(w_i * N_i) mod 11).
_MST_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def _mst_check_digit(first9: str) -> int | None:
    rem = sum(w * int(d) for w, d in zip(_MST_WEIGHTS, first9)) % 11
    check = 10 - rem
    return None if check == 10 else check  # remainder 0 gives no digit: never issued


def owner_kind(text: str) -> OwnerKind:
    """Which kind of owner identifier ``text`` is, after validating it.

    * ``"cccd"``: số định danh cá nhân / căn cước công dân, 12 digits whose first three are the
      province of birth registration (001-096, TT 59/2021/TT-BCA);
    * ``"mst"``: mã số thuế / mã số doanh nghiệp, 10 digits, the last a check digit
      (``10 - (31·N1 + 29·N2 + 23·N3 + 19·N4 + 17·N5 + 13·N6 + 7·N7 + 5·N8 + 3·N9) mod 11``);
    * ``"mst-branch"``: a dependent unit's tax code, ``NNNNNNNNNN-NNN`` (the parent's 10
      digits, a hyphen and 3 digits, 001-999).

    Raises
    ------
    InvalidArgumentError
        Anything else, with what was expected.

    Examples
    --------
    >>> owner_kind("042203004567"), owner_kind("0100109106"), owner_kind("0100109106-001")
    ('cccd', 'mst', 'mst-branch')
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"owner id must be a str, got {type(text).__name__}")
    if _CCCD.fullmatch(text):
        if not 1 <= int(text[:3]) <= 96:
            raise InvalidArgumentError(
                f"owner id {text!r}: a 12-digit personal ID starts with a province code "
                f"001-096, got {text[:3]}"
            )
        return "cccd"
    m = _MST.fullmatch(text)
    if m is None:
        raise InvalidArgumentError(
            f"owner id must be a 12-digit personal ID (CCCD) or a tax code of 10 digits "
            f"(MST) or 10-3 digits (branch), got {text!r}"
        )
    base, branch = m.group(1), m.group(2)
    expect = _mst_check_digit(base[:9])
    if expect is None or int(base[9]) != expect:
        raise InvalidArgumentError(
            f"owner id {text!r}: tax code check digit is {base[9]}, expected "
            f"{'none (this prefix is never issued)' if expect is None else expect}"
        )
    if branch is not None:
        if branch == "000":
            raise InvalidArgumentError(f"owner id {text!r}: branch number must be 001-999")
        return "mst-branch"
    return "mst"


def parse_owner_id(text: str) -> str:
    """Validate an owner identifier and return it in canonical form (surrounding spaces
    removed); see :func:`owner_kind` for the accepted forms.

    Raises
    ------
    InvalidArgumentError
        Not a valid CCCD or MST.

    Examples
    --------
    >>> parse_owner_id(" 0300588569 ")
    '0300588569'
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"owner id must be a str, got {type(text).__name__}")
    text = text.strip()
    owner_kind(text)
    return text
