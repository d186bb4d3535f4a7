"""Document number and notation (số, ký hiệu văn bản), NĐ 30/2020/NĐ-CP Phụ lục I and III.

``Số: 223/KH-UBND``: number ``223``, type ``KH`` (Kế hoạch), issuer ``UBND``.
``09/2025/QĐ-TTg``: normative documents add the year.  A Công văn has no type:
``05/BNV-VP`` (issuer ``BNV``, drafting unit ``VP``).

Rules (Phụ lục I, Phần I, mục II.3): numbers below 10 get a leading zero, "/" between number
and notation, "-" between notation groups, no spaces.  The number restarts at 01 each year per
issuer (Điều 15); :class:`~onestop_docs.codes.issuer.DocumentNumberIssuer` issues it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from .._validate import check_int
from ..errors import InvalidArgumentError, InvalidCodeError
from ._diag import char_reason, invalid

__all__ = [
    "COPY_TYPES",
    "DOCUMENT_TYPES",
    "NORMATIVE_TYPES",
    "DocumentNotation",
    "NotationRules",
]

#: NĐ 30/2020/NĐ-CP Phụ lục III, mục I: abbreviations of administrative document types.
DOCUMENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "NQ": "Nghị quyết (cá biệt)",
        "QĐ": "Quyết định (cá biệt)",
        "CT": "Chỉ thị",
        "QC": "Quy chế",
        "QyĐ": "Quy định",
        "TC": "Thông cáo",
        "TB": "Thông báo",
        "HD": "Hướng dẫn",
        "CTr": "Chương trình",
        "KH": "Kế hoạch",
        "PA": "Phương án",
        "ĐA": "Đề án",
        "DA": "Dự án",
        "BC": "Báo cáo",
        "BB": "Biên bản",
        "TTr": "Tờ trình",
        "HĐ": "Hợp đồng",
        "CĐ": "Công điện",
        "BGN": "Bản ghi nhớ",
        "BTT": "Bản thỏa thuận",
        "GUQ": "Giấy ủy quyền",
        "GM": "Giấy mời",
        "GGT": "Giấy giới thiệu",
        "GNP": "Giấy nghỉ phép",
        "PG": "Phiếu gửi",
        "PC": "Phiếu chuyển",
        "PB": "Phiếu báo",
    }
)

#: NĐ 30/2020/NĐ-CP Phụ lục III, mục II: copy forms.
COPY_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"SY": "Bản sao y", "TrS": "Bản trích sao", "SL": "Bản sao lục"}
)

#: Normative documents (Luật Ban hành VBQPPL; abbreviations as used in practice, INFERRED).
NORMATIVE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "NĐ": "Nghị định",
        "TT": "Thông tư",
        "TTLT": "Thông tư liên tịch",
        "NQLT": "Nghị quyết liên tịch",
    }
)

_GROUP_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzĐđ")
_GROUP_RE = re.compile(r"[0-9A-Za-zĐđ]+")
_NOTATION_RE = re.compile(
    r"(?:Số:[ ]?)?([1-9][0-9]+|0[1-9])(?:/([0-9]{4}))?/([0-9A-Za-zĐđ]+(?:-[0-9A-Za-zĐđ]+)*)"
)
_KIND = "document notation"


@dataclass(frozen=True)
class NotationRules:
    """Which type abbreviations a notation may start with, and the accepted year range.

    Attributes
    ----------
    types : frozenset of str
        Default: Phụ lục III document types + copy forms + :data:`NORMATIVE_TYPES`.
    min_year, max_year : int
        Accepted years in ``number/year/notation`` (default 1945-2099).
    """

    types: frozenset[str] = (
        frozenset(DOCUMENT_TYPES) | frozenset(COPY_TYPES) | frozenset(NORMATIVE_TYPES)
    )
    min_year: int = 1945
    max_year: int = 2099


_DEFAULT_RULES = NotationRules()


@dataclass(frozen=True)
class DocumentNotation:
    """Số, ký hiệu văn bản (document number and notation).

    Parameters
    ----------
    number : int
        Document number, >= 1 (written with at least two digits).
    year : int or None
        Year written in the notation (normative documents), else None.
    type_abbrev : str or None
        Type abbreviation (Phụ lục III), None for a Công văn.
    issuer : str
        Abbreviation of the issuing body (``UBND``, ``TTg``).
    units : tuple of str
        Further groups (drafting unit, ...).
    rules : NotationRules
        Accepted types and years (not part of equality).

    Raises
    ------
    InvalidArgumentError
        Wrong types or number/year out of range.
    InvalidCodeError
        Unknown type abbreviation or a group with characters outside ``[0-9A-Za-zĐđ]``.

    Examples
    --------
    >>> n = DocumentNotation.parse("Số: 223/KH-UBND")
    >>> n.number, n.year, n.type_abbrev, n.issuer, n.type_name
    (223, None, 'KH', 'UBND', 'Kế hoạch')
    >>> str(n), n.text(label=True)
    ('223/KH-UBND', 'Số: 223/KH-UBND')
    >>> DocumentNotation.parse("09/2025/QĐ-TTg").year
    2025
    >>> DocumentNotation.parse("05/BNV-VP").type_abbrev is None  # Công văn
    True
    """

    number: int
    year: int | None
    type_abbrev: str | None
    issuer: str
    units: tuple[str, ...] = ()
    rules: NotationRules = field(default=_DEFAULT_RULES, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_int(self.number, "number", 1)
        if self.year is not None:
            check_int(self.year, "year", self.rules.min_year, self.rules.max_year)
        if not isinstance(self.units, tuple):
            raise InvalidArgumentError(f"units must be a tuple, got {type(self.units).__name__}")
        groups = [self.issuer, *self.units]
        if self.type_abbrev is not None:
            groups.insert(0, self.type_abbrev)
        for g in groups:
            if not isinstance(g, str):
                raise InvalidArgumentError(f"notation groups must be str, got {type(g).__name__}")
            if _GROUP_RE.fullmatch(g) is None or unicodedata.normalize("NFC", g) != g:
                raise InvalidCodeError(
                    f"invalid notation group {g!r}: expected letters A-Z/a-z/Đ/đ and digits",
                    code=g,
                    reason="bad-group",
                )
        if self.type_abbrev is not None and self.type_abbrev not in self.rules.types:
            raise InvalidCodeError(
                f"unknown document type abbreviation {self.type_abbrev!r}: expected one of "
                f"NĐ 30/2020 Phụ lục III ({', '.join(sorted(self.rules.types))})",
                code=self.type_abbrev,
                reason="unknown-type",
            )

    @property
    def type_name(self) -> str | None:
        """Vietnamese name of the type (``"Kế hoạch"``), None for a Công văn or unknown."""
        if self.type_abbrev is None:
            return None
        for table in (DOCUMENT_TYPES, COPY_TYPES, NORMATIVE_TYPES):
            if self.type_abbrev in table:
                return table[self.type_abbrev]
        return None

    @property
    def is_official_letter(self) -> bool:
        """True for a Công văn (no type abbreviation)."""
        return self.type_abbrev is None

    @property
    def notation(self) -> str:
        """The ký hiệu part after the number (and year): ``KH-UBND``."""
        groups = [self.issuer, *self.units]
        if self.type_abbrev is not None:
            groups.insert(0, self.type_abbrev)
        return "-".join(groups)

    def text(self, *, label: bool = False) -> str:
        """Canonical text; ``label=True`` prefixes ``"Số: "``."""
        year = f"/{self.year:04d}" if self.year is not None else ""
        body = f"{self.number:02d}{year}/{self.notation}"
        return f"Số: {body}" if label else body

    def __str__(self) -> str:
        return self.text()

    @classmethod
    def parse(cls, s: str, *, rules: NotationRules | None = None) -> DocumentNotation:
        """Parse ``[Số: ]number[/year]/notation`` (text is NFC-normalised first).

        The first notation group is the type when it is in ``rules.types``; otherwise the
        document is read as a Công văn whose first group is the issuer.

        Raises
        ------
        InvalidCodeError
            With ``position`` (index in the NFC text) and ``reason``: ``"number-format"``
            (fewer than 2 digits, 00, or a superfluous leading zero), ``"dash-lookalike"``,
            ``"whitespace"``, ``"empty-group"``, ``"bad-year"``, ``"missing-issuer"``, ...

        Examples
        --------
        >>> DocumentNotation.parse("Số: 3739/QĐ-UBND").number
        3739
        >>> DocumentNotation.parse("223/KH – UBND")
        Traceback (most recent call last):
        ...
        onestop_docs.errors.InvalidCodeError: ... [whitespace] (at position 6)
        """
        if not isinstance(s, str):
            raise InvalidArgumentError(f"a notation must be str, got {type(s).__name__}")
        r = rules or _DEFAULT_RULES
        text = unicodedata.normalize("NFC", s)
        m = _NOTATION_RE.fullmatch(text)
        if m is None:
            raise _diagnose(text)
        number_s, year_s, notation = m.groups()
        year = int(year_s) if year_s is not None else None
        if year is not None and not r.min_year <= year <= r.max_year:
            raise invalid(
                _KIND, text, m.start(2), "bad-year", f"a year in {r.min_year}-{r.max_year}"
            )
        groups = notation.split("-")
        if groups[0] in r.types:
            if len(groups) == 1:
                raise invalid(
                    _KIND, text, len(text), "missing-issuer", "'-' and the issuer abbreviation"
                )
            return cls(int(number_s), year, groups[0], groups[1], tuple(groups[2:]), rules=r)
        return cls(int(number_s), year, None, groups[0], tuple(groups[1:]), rules=r)


def _diagnose(text: str) -> InvalidCodeError:
    i = 0
    if text.startswith("Số"):
        i = 2
        if not text.startswith(":", i):
            return invalid(_KIND, text, i, "label", "':' right after 'Số'")
        i += 1
        if text.startswith(" ", i):
            i += 1
    start = i
    while i < len(text) and text[i] in "0123456789":
        i += 1
    digits = text[start:i]
    if not digits:
        if i < len(text) and text[i] not in "/":
            reason = char_reason(text[i]) if text[i] not in _GROUP_CHARS else "number-format"
            return invalid(_KIND, text, i, reason, "the document number (digits 0-9)")
        return invalid(_KIND, text, i, "number-format", "the document number")
    if int(digits) == 0 or digits != f"{int(digits):02d}":
        return invalid(
            _KIND,
            text,
            start,
            "number-format",
            f"a number >= 01 written with 2 digits below 10 and no leading zero above, not {digits!r}",
        )
    if i >= len(text) or text[i] != "/":
        ch = text[i] if i < len(text) else ""
        reason = char_reason(ch) if ch and ch not in _GROUP_CHARS else "structure"
        return invalid(_KIND, text, i, reason, "'/' after the number")
    i += 1
    rest = text[i:]
    ym = re.match(r"[0-9]+(?=/)", rest)
    if ym is not None:
        if len(ym.group()) != 4:
            return invalid(_KIND, text, i, "bad-year", "a 4-digit year")
        i += 5
    group_start = i
    while i < len(text):
        ch = text[i]
        if ch == "-":
            if i == group_start:
                return invalid(_KIND, text, i, "empty-group", "a notation group before '-'")
            group_start = i + 1
        elif ch not in _GROUP_CHARS:
            return invalid(
                _KIND, text, i, char_reason(ch), "letters, digits or '-' in the notation"
            )
        i += 1
    if group_start >= len(text):
        return invalid(_KIND, text, len(text), "empty-group", "a notation group at the end")
    return invalid(_KIND, text, 0, "invalid", "a document notation")  # pragma: no cover
