"""Dossier codes (mã số hồ sơ thủ tục hành chính): ``{agency}-{YYMMDD}-{NNNN}``.

TT 01/2018/TT-VPCP Điều 19 k1: "V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX", where the agency part is
the identifier of the *receiving* body (NĐ 61/2018 Điều 26 k2a; today also the QĐ 20/2020
form, see :mod:`onestop_docs.codes.agency`), ``YYMMDD`` the receipt date and ``XXXX`` the
running number of dossiers received that day.

Conventions (see ``docs/codes.md``): ``YY`` means 20YY; the sequence runs 0001-9999 (0000 is
unused: INFERRED); the date must be a real calendar date.  "Not in the future" is INFERRED and
therefore optional (``not_after``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .._validate import check_int
from ..errors import InvalidArgumentError, InvalidCodeError
from ._diag import char_reason, invalid
from .agency import AGENCY_PATTERN, AgencyId, Level1Table, _check_agency_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DOSSIER_CODE_PATTERN",
    "MAX_SEQUENCE",
    "DossierCode",
    "archive_file_name",
    "parse_archive_file_name",
    "validate_dossier_codes",
]

#: Highest daily sequence number: four digits (TT 01/2018 Điều 19 k1).
MAX_SEQUENCE: Final = 9999

DOSSIER_CODE_PATTERN: Final = (
    rf"(?P<agency>{AGENCY_PATTERN})-(?P<yymmdd>[0-9]{{6}})-(?P<seq>[0-9]{{4}})"
)
_DOSSIER_RE = re.compile(rf"({AGENCY_PATTERN})-([0-9][0-9])([0-9][0-9])([0-9][0-9])-([0-9]{{4}})")
_CODE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")
_KIND = "dossier code"


def _diagnose(s: str) -> InvalidCodeError:
    if not s:
        return invalid(_KIND, s, 0, "empty", "a dossier code {agency}-{YYMMDD}-{NNNN}")
    for i, ch in enumerate(s):
        if ch not in _CODE_CHARS:
            return invalid(_KIND, s, i, char_reason(ch), "only 0-9, A-Z, '.' and '-'")
    dashes = [i for i, ch in enumerate(s) if ch == "-"]
    if len(dashes) < 2:
        return invalid(_KIND, s, len(s), "structure", "two '-' separating agency, YYMMDD and NNNN")
    if len(dashes) > 2:
        return invalid(_KIND, s, dashes[0], "structure", "no '-' inside the agency identifier")
    d1, d2 = dashes
    _check_agency_text(s[:d1], 0, s, _KIND)
    return _diagnose_tail(s, d1, d2)


def _diagnose_tail(s: str, d1: int, d2: int) -> InvalidCodeError:
    date_s, seq_s = s[d1 + 1 : d2], s[d2 + 1 :]
    for i, ch in enumerate(date_s):
        if ch not in "0123456789":
            return invalid(_KIND, s, d1 + 1 + i, "date-format", "a digit of YYMMDD")
    if len(date_s) != 6:
        return invalid(_KIND, s, d1 + 1 + min(len(date_s), 6), "date-format", "6 digits YYMMDD")
    for i, ch in enumerate(seq_s):
        if ch not in "0123456789":
            return invalid(_KIND, s, d2 + 1 + i, "seq-format", "a digit of the sequence NNNN")
    if len(seq_s) != 4:
        return invalid(_KIND, s, d2 + 1 + min(len(seq_s), 4), "seq-format", "4 digits NNNN")
    bad = _date_problem(date_s)
    if bad is not None:
        offset, expected = bad
        return invalid(_KIND, s, d1 + 1 + offset, "bad-date", expected)
    if seq_s == "0000":
        return invalid(_KIND, s, d2 + 1, "seq-zero", "a sequence 0001-9999 (0000 is unused)")
    return invalid(_KIND, s, 0, "invalid", "a dossier code")  # pragma: no cover


def _date_problem(yymmdd: str) -> tuple[int, str] | None:
    """(offset, expected) of an impossible calendar date, or None."""
    year, month, day = 2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    if not 1 <= month <= 12:
        return 2, f"a month 01-12 in YYMMDD, not {yymmdd[2:4]}"
    try:
        _dt.date(year, month, day)
    except ValueError:
        return 4, f"a day that exists in {year:04d}-{month:02d}, not {yymmdd[4:6]}"
    return None


class DossierCode:
    """Dossier code (mã số hồ sơ thủ tục hành chính), TT 01/2018/TT-VPCP Điều 19.

    Immutable and hashable.  Codes order by (agency text, receipt date, sequence), so codes of
    one agency sort chronologically.

    Parameters
    ----------
    agency : AgencyId or str
        Identifier of the receiving body (either form).
    date : datetime.date
        Receipt date in Vietnam (2000-01-01 .. 2099-12-31, because YY means 20YY).
        A ``datetime`` is refused: convert it in Asia/Ho_Chi_Minh first.
    seq : int
        Running number of the dossier that day, 1-9999.

    Raises
    ------
    InvalidCodeError
        ``agency`` is a malformed identifier.
    InvalidArgumentError
        ``date`` or ``seq`` has the wrong type or is out of range.

    Examples
    --------
    >>> import datetime
    >>> c = DossierCode("H56.14", datetime.date(2024, 8, 23), 1)
    >>> str(c)
    'H56.14-240823-0001'
    >>> DossierCode.parse("000.17.22.H56-210531-0001").date
    datetime.date(2021, 5, 31)
    >>> DossierCode.parse("H56.14-210230-0001")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidCodeError: ... [bad-date] (at position 11)
    """

    __slots__ = ("_agency", "_date", "_seq")

    _agency: AgencyId
    _date: _dt.date
    _seq: int

    def __init__(self, agency: AgencyId | str, date: _dt.date, seq: int) -> None:
        if isinstance(agency, str):
            agency = AgencyId(agency)
        elif not isinstance(agency, AgencyId):
            raise InvalidArgumentError(
                f"agency must be an AgencyId or str, got {type(agency).__name__}"
            )
        if isinstance(date, _dt.datetime) or not isinstance(date, _dt.date):
            raise InvalidArgumentError(
                f"date must be a datetime.date (the receipt date in Vietnam), "
                f"got {type(date).__name__}"
            )
        if not 2000 <= date.year <= 2099:
            raise InvalidArgumentError(
                f"date must be in 2000-2099 (YY means 20YY), got {date.isoformat()}"
            )
        seq = check_int(seq, "seq", 1, MAX_SEQUENCE, numpy_ok=True)
        object.__setattr__(self, "_agency", agency)
        object.__setattr__(self, "_date", date)
        object.__setattr__(self, "_seq", seq)

    @classmethod
    def _trusted(cls, agency: AgencyId, date: _dt.date, seq: int) -> DossierCode:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_agency", agency)
        object.__setattr__(obj, "_date", date)
        object.__setattr__(obj, "_seq", seq)
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DossierCode is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (DossierCode, (self._agency, self._date, self._seq))

    @property
    def agency(self) -> AgencyId:
        """Identifier of the receiving body."""
        return self._agency

    @property
    def date(self) -> _dt.date:
        """Receipt date (Vietnam)."""
        return self._date

    @property
    def seq(self) -> int:
        """Running number of the dossier on that date, 1-9999."""
        return self._seq

    @property
    def yymmdd(self) -> str:
        """The date part as written in the code."""
        return self._date.strftime("%y%m%d")

    @classmethod
    def parse(
        cls,
        s: str,
        strict: bool = False,
        *,
        table: Level1Table | None = None,
        not_after: _dt.date | None = None,
        check_table: bool = True,
    ) -> DossierCode:
        """Parse and validate a dossier code.

        Parameters
        ----------
        s : str
            Exact text (no spaces, uppercase ASCII, hyphen-minus separators).
        strict : bool, default False
            Unknown Mã cấp 1: raise when True, warn when False (see :meth:`AgencyId.parse`).
        table : Level1Table, optional
            Level-1 table; defaults to the process-wide one.
        not_after : datetime.date, optional
            Reject receipt dates after this day (e.g. today in Vietnam). Not checked by
            default because the rule is only INFERRED.
        check_table : bool, default True
            False skips the level-1 table (syntax only; no warning).

        Returns
        -------
        DossierCode

        Raises
        ------
        InvalidCodeError
            With ``position`` (index in ``s``) and ``reason`` (``"lowercase"``,
            ``"dash-lookalike"``, ``"bad-date"``, ``"seq-zero"``, ``"future-date"``, ...).

        Examples
        --------
        >>> DossierCode.parse("H56.14-240823-0001").seq
        1
        >>> DossierCode.parse("H56.14–240823–0001")
        Traceback (most recent call last):
        ...
        onestop_docs.errors.InvalidCodeError: ... [dash-lookalike] (at position 6)
        """
        if not isinstance(s, str):
            raise InvalidArgumentError(f"a dossier code must be str, got {type(s).__name__}")
        m = _DOSSIER_RE.fullmatch(s)
        if m is None:
            raise _diagnose(s)
        agency_s, yy, mm, dd, seq_s = m.groups()
        if len(agency_s) > 35:
            _check_agency_text(agency_s, 0, s, _KIND)
        try:
            date = _dt.date(2000 + int(yy), int(mm), int(dd))
        except ValueError:
            raise _diagnose_tail(s, len(agency_s), len(agency_s) + 7) from None
        seq = int(seq_s)
        if seq == 0:
            raise _diagnose_tail(s, len(agency_s), len(agency_s) + 7)
        if not_after is not None and date > not_after:
            raise invalid(
                _KIND,
                s,
                len(agency_s) + 1,
                "future-date",
                f"a receipt date on or before {not_after.isoformat()}, not {date.isoformat()}",
            )
        agency = AgencyId._trusted(agency_s)
        if check_table:
            agency.check_level1(strict=strict, table=table)
        return cls._trusted(agency, date, seq)

    def __str__(self) -> str:
        return f"{self._agency.text}-{self._date.strftime('%y%m%d')}-{self._seq:04d}"

    def __repr__(self) -> str:
        return f"DossierCode({str(self)!r})"

    def _key(self) -> tuple[str, _dt.date, int]:
        return (self._agency.text, self._date, self._seq)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DossierCode):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: DossierCode) -> bool:
        if not isinstance(other, DossierCode):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: DossierCode) -> bool:
        if not isinstance(other, DossierCode):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: DossierCode) -> bool:
        if not isinstance(other, DossierCode):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: DossierCode) -> bool:
        if not isinstance(other, DossierCode):
            return NotImplemented
        return self._key() >= other._key()

    def __hash__(self) -> int:
        return hash(self._key())


# --------------------------------------------------------------------------- bulk validation


def _validate_python(codes: Sequence[str]) -> NDArray[np.bool_]:
    out = np.zeros(len(codes), dtype=np.bool_)
    match = _DOSSIER_RE.fullmatch
    date = _dt.date
    for i, s in enumerate(codes):
        m = match(s)
        if m is None:
            continue
        agency_s, yy, mm, dd, seq_s = m.groups()
        if len(agency_s) > 35 or seq_s == "0000":
            continue
        try:
            date(2000 + int(yy), int(mm), int(dd))
        except ValueError:
            continue
        out[i] = True
    return out


def validate_dossier_codes(codes: Sequence[str]) -> NDArray[np.bool_]:
    """Check many dossier codes at once (syntax, calendar date, sequence 0001-9999).

    Intended for re-checking an archive: a compiled kernel checks the codes without creating
    objects.  The level-1 table is **not** consulted; use :meth:`DossierCode.parse` on the
    rejected (or all) codes for diagnostics and table checks.

    Parameters
    ----------
    codes : sequence of str

    Returns
    -------
    numpy.ndarray of bool, shape (len(codes),)
        True where the code is valid.

    Raises
    ------
    InvalidArgumentError
        If ``codes`` is not a sequence (e.g. None) or an element is not a ``str``.

    Examples
    --------
    >>> validate_dossier_codes(["H56.14-240823-0001", "H56.14-240230-0001", "h56.14-240823-0001"])
    array([ True, False, False])
    """
    if isinstance(codes, str):
        raise InvalidArgumentError("expected a sequence of codes, got a single str")
    if not isinstance(codes, list | tuple):
        if not isinstance(codes, Iterable):
            raise InvalidArgumentError(f"expected a sequence of codes, got {type(codes).__name__}")
        codes = list(codes)
    n = len(codes)
    try:
        joined = "".join(codes)
    except TypeError:
        bad = next(i for i, c in enumerate(codes) if not isinstance(c, str))
        raise InvalidArgumentError(
            f"codes[{bad}] must be str, got {type(codes[bad]).__name__}"
        ) from None
    try:
        from .._native import codes_validate  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - source checkout without a build
        return _validate_python(codes)
    # Every code point becomes exactly one byte ('?' for non-ASCII, which no rule accepts), so
    # the offsets computed from str lengths index the encoded buffer.
    data = np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, codes), dtype=np.int64, count=n), out=offsets[1:])
    status = np.empty(n, dtype=np.uint8)
    if n:
        codes_validate.validate_packed(data, offsets, status)
    result: NDArray[np.bool_] = status == 0
    return result


# --------------------------------------------------------------------------- archive names

_ARCHIVE_RE = re.compile(r"(.+)\.([0-9]{3})\.pdf")


def archive_file_name(code: DossierCode | str, index: int) -> str:
    """Archive file name ``{dossier_code}.{NNN}.pdf`` (TT 02/2019/TT-BNV: "Mã hồ sơ.STT").

    Parameters
    ----------
    code : DossierCode or str
        The dossier code (a str is parsed and validated).
    index : int
        Position of the document inside the dossier, 1-999.

    Raises
    ------
    InvalidCodeError
        ``code`` is malformed.
    InvalidArgumentError
        ``index`` outside 1-999.

    Examples
    --------
    >>> archive_file_name("H56.14-240823-0001", 3)
    'H56.14-240823-0001.003.pdf'
    """
    dc = code if isinstance(code, DossierCode) else DossierCode.parse(code)
    check_int(index, "index", 1, 999)
    return f"{dc}.{index:03d}.pdf"


def parse_archive_file_name(name: str) -> tuple[DossierCode, int]:
    """Inverse of :func:`archive_file_name`: ``(code, index)``.

    Raises
    ------
    InvalidCodeError
        The name is not ``{dossier_code}.{NNN}.pdf`` with NNN in 001-999.

    Examples
    --------
    >>> code, idx = parse_archive_file_name("H56.14-240823-0001.003.pdf")
    >>> str(code), idx
    ('H56.14-240823-0001', 3)
    """
    m = _ARCHIVE_RE.fullmatch(name)
    if m is None or m.group(2) == "000":
        raise InvalidCodeError(
            f"invalid archive file name {name!r}: expected {{dossier_code}}.{{NNN}}.pdf "
            f"with NNN in 001-999",
            code=name,
            position=None,
            reason="archive-name",
        )
    return DossierCode.parse(m.group(1)), int(m.group(2))
