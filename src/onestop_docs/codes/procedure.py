"""Procedure, field and result-type codes of the national TTHC database.

* :class:`ProcedureCode` (mã thủ tục hành chính): ``1.001193``, optionally followed by the
  identifier of the agency applying a local variant, ``1.000234.000.00.00.H42`` (INFERRED).
* :class:`FieldCode` (mã ngành, lĩnh vực, TT 01/2018/TT-VPCP Điều 20): ``MX1X2-LV``.
* :class:`ResultTypeCode` (mã loại kết quả): ``KQ.G15.000031`` (INFERRED from DVCQG data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..errors import InvalidArgumentError, InvalidCodeError
from ._diag import char_reason, invalid
from .agency import AGENCY_PATTERN, AgencyId, Level1Table, _check_agency_text

__all__ = [
    "PROCEDURE_PATTERN",
    "RESULT_TYPE_PATTERN",
    "FieldCode",
    "ProcedureCode",
    "ResultTypeCode",
]

#: Mã TTHC with optional agency suffix (INFERRED, regulations.md §2.3).
PROCEDURE_PATTERN: Final = rf"[12]\.[0-9]{{6}}(?:\.{AGENCY_PATTERN})?"
#: Mã loại kết quả (INFERRED from DVCQG data, regulations.md §3.3).
RESULT_TYPE_PATTERN: Final = r"KQ\.[A-Y][0-9]{2}\.[0-9]{6}"

_PROCEDURE_RE = re.compile(rf"([12])\.([0-9]{{6}})(?:\.({AGENCY_PATTERN}))?")
_FIELD_RE = re.compile(r"([A-Y][0-9]{2})-([0-9A-Z]+)")
_RESULT_RE = re.compile(r"KQ\.([A-Y][0-9]{2})\.([0-9]{6})")
_UPPER_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LEVEL1_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXY"


def _need_str(s: object, kind: str) -> str:
    if not isinstance(s, str):
        raise InvalidArgumentError(f"a {kind} must be str, got {type(s).__name__}")
    return s


def _walk(s: str, kind: str, template: str) -> InvalidCodeError:
    """Diagnose ``s`` against a fixed-width template (9 digit, L level-1 letter, literal)."""
    for i, want in enumerate(template):
        if i >= len(s):
            return invalid(kind, s, i, "too-short", f"{len(template)} characters {template}")
        ch = s[i]
        if want == "9":
            if ch not in "0123456789":
                reason = char_reason(ch) if ch not in _UPPER_ALNUM else "format"
                return invalid(kind, s, i, reason, "a digit 0-9")
        elif want == "L":
            if ch not in _LEVEL1_LETTERS:
                if ch == "Z":
                    reason = "reserved-z"
                elif ch in _UPPER_ALNUM:
                    reason = "bad-level1"
                else:
                    reason = char_reason(ch)
                return invalid(kind, s, i, reason, "a level-1 letter A-Y")
        elif ch != want:
            reason = char_reason(ch) if ch not in _UPPER_ALNUM and ch not in ".-" else "format"
            return invalid(kind, s, i, reason, f"{want!r}")
    return invalid(kind, s, len(template), "too-long", f"exactly {len(template)} characters")


@dataclass(frozen=True, order=True)
class ProcedureCode:
    """Administrative procedure code (mã TTHC) on the national TTHC database.

    Attributes
    ----------
    prefix : int
        Leading digit (1 or 2) as published.
    number : str
        The six digits after the prefix.
    agency : AgencyId or None
        Agency suffix of a locally-applied variant (INFERRED format).

    Examples
    --------
    >>> p = ProcedureCode.parse("1.000234.000.00.00.H42")
    >>> p.national, str(p.agency)
    ('1.000234', '000.00.00.H42')
    >>> str(ProcedureCode.parse("1.001193"))
    '1.001193'
    """

    prefix: int
    number: str
    agency: AgencyId | None = None

    def __post_init__(self) -> None:
        if self.prefix not in (1, 2) or isinstance(self.prefix, bool):
            raise InvalidArgumentError(f"prefix must be 1 or 2, got {self.prefix!r}")
        if not isinstance(self.number, str) or re.fullmatch(r"[0-9]{6}", self.number) is None:
            raise InvalidArgumentError(f"number must be 6 digits, got {self.number!r}")
        if self.agency is not None and not isinstance(self.agency, AgencyId):
            raise InvalidArgumentError(
                f"agency must be an AgencyId or None, got {type(self.agency).__name__}"
            )

    @property
    def national(self) -> str:
        """The code without agency suffix (``1.001193``)."""
        return f"{self.prefix}.{self.number}"

    def __str__(self) -> str:
        return self.national if self.agency is None else f"{self.national}.{self.agency}"

    @classmethod
    def parse(
        cls,
        s: str,
        strict: bool = False,
        *,
        table: Level1Table | None = None,
        check_table: bool = True,
    ) -> ProcedureCode:
        """Parse ``[12].dddddd[.agency]``.

        Raises
        ------
        InvalidCodeError
            With ``position`` and ``reason``; unknown level-1 codes of the suffix follow
            ``strict`` as in :meth:`AgencyId.parse`.
        """
        kind = "procedure code"
        _need_str(s, kind)
        m = _PROCEDURE_RE.fullmatch(s)
        if m is None or (m.group(3) is not None and len(m.group(3)) > 35):
            if not s:
                raise invalid(kind, s, 0, "empty", "a procedure code 1.dddddd")
            if s[0] not in "12":
                reason = char_reason(s[0]) if s[0] not in _UPPER_ALNUM else "format"
                raise invalid(kind, s, 0, reason, "the prefix 1 or 2")
            err = _walk(s, kind, "9.999999")
            if err.reason != "too-long":
                raise err
            if s[8] != ".":
                reason = char_reason(s[8]) if s[8] not in _UPPER_ALNUM else "format"
                raise invalid(kind, s, 8, reason, "the end, or '.' and an agency identifier")
            _check_agency_text(s[9:], 9, s, kind)
            raise invalid(kind, s, 9, "invalid", "an agency identifier")  # pragma: no cover
        agency = None
        if m.group(3) is not None:
            agency = AgencyId._trusted(m.group(3))
            if check_table:
                agency.check_level1(strict=strict, table=table)
        return cls(int(m.group(1)), m.group(2), agency)


@dataclass(frozen=True, order=True)
class FieldCode:
    """Field code (mã ngành, lĩnh vực), TT 01/2018/TT-VPCP Điều 20: ``MX1X2-LV``.

    Examples
    --------
    >>> f = FieldCode.parse("G15-HT")
    >>> f.level1, f.field, str(f)
    ('G15', 'HT', 'G15-HT')
    """

    level1: str
    field: str

    def __post_init__(self) -> None:
        text = f"{self.level1}-{self.field}"
        if _FIELD_RE.fullmatch(text) is None:
            raise InvalidArgumentError(f"expected MX1X2 and [0-9A-Z]+, got {text!r}")

    def __str__(self) -> str:
        return f"{self.level1}-{self.field}"

    @classmethod
    def parse(cls, s: str) -> FieldCode:
        """Parse ``MX1X2-LV``.

        Raises
        ------
        InvalidCodeError
            With ``position`` and ``reason``.
        """
        kind = "field code"
        _need_str(s, kind)
        m = _FIELD_RE.fullmatch(s)
        if m is None:
            if len(s) >= 4 and re.fullmatch(r"[A-Y][0-9]{2}-", s[:4]):
                for i in range(4, len(s)):
                    if s[i] not in _UPPER_ALNUM:
                        raise invalid(kind, s, i, char_reason(s[i]), "0-9 or A-Z in the field code")
                raise invalid(kind, s, 4, "empty-group", "the field code LV after '-'")
            raise _walk(s, kind, "L99-")  # the first four characters are wrong
        return cls(m.group(1), m.group(2))


@dataclass(frozen=True, order=True)
class ResultTypeCode:
    """Result-type code (mã loại kết quả) on the national TTHC database: ``KQ.G15.000031``.

    Examples
    --------
    >>> r = ResultTypeCode.parse("KQ.G15.000031")
    >>> r.level1, r.number
    ('G15', '000031')
    """

    level1: str
    number: str

    def __post_init__(self) -> None:
        if _RESULT_RE.fullmatch(f"KQ.{self.level1}.{self.number}") is None:
            raise InvalidArgumentError(
                f"expected MX1X2 and 6 digits, got {self.level1!r}, {self.number!r}"
            )

    def __str__(self) -> str:
        return f"KQ.{self.level1}.{self.number}"

    @classmethod
    def parse(cls, s: str) -> ResultTypeCode:
        """Parse ``KQ.MX1X2.dddddd``.

        Raises
        ------
        InvalidCodeError
            With ``position`` and ``reason``.
        """
        kind = "result-type code"
        _need_str(s, kind)
        m = _RESULT_RE.fullmatch(s)
        if m is None:
            raise _walk(s, kind, "KQ.L99.999999")
        return cls(m.group(1), m.group(2))
