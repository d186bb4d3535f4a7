"""Agency electronic identifiers (mã định danh điện tử của cơ quan, tổ chức).

Two forms are live in Vietnamese systems and both are accepted:

* **QĐ 20/2020/QĐ-TTg Điều 4** (current): ``Mdd(.group)*``, at most 35 characters, groups read
  left to right, e.g. ``H27.01`` (Văn phòng UBND tỉnh Hà Tĩnh).
* **QCVN 102:2016/BTTTT** (legacy, quoted by TT 01/2018/TT-VPCP Điều 19): fixed 13 characters
  ``ddd.dd.dd.Mdd``, levels read **right to left**, unused levels zero-filled, e.g.
  ``000.00.01.H27``.

The level-1 code (Mã cấp 1, ``[A-Y][0-9]{2}``) is checked against a table loaded from data
(:class:`Level1Table`); the packaged table is the partial one that could be confirmed, and a
deployment loads the full dmdc.ngsp.gov.vn catalogue from CSV.  There is no arithmetic
conversion between the forms (provinces re-issued their lists); :class:`AgencyMapping` loads
a published correspondence table instead.
"""

from __future__ import annotations

import csv
import enum
import io
import os
import re
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Final

from ..errors import InvalidArgumentError, InvalidCodeError
from ._diag import char_reason, invalid

__all__ = [
    "AGENCY_MAX_LENGTH",
    "AgencyForm",
    "AgencyId",
    "AgencyMapping",
    "Level1Entry",
    "Level1Table",
    "UnknownLevel1Warning",
    "default_level1_table",
    "set_default_level1_table",
]

#: QĐ 20/2020 Điều 4 k1: "chuỗi ký tự có độ dài tối đa là 35 ký tự".
AGENCY_MAX_LENGTH: Final = 35

AGENCY_LEGACY_PATTERN: Final = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Y][0-9]{2}"
AGENCY_QD20_PATTERN: Final = r"[A-Y][0-9]{2}(?:\.[0-9A-Z]+)*"
AGENCY_PATTERN: Final = rf"(?:{AGENCY_LEGACY_PATTERN}|{AGENCY_QD20_PATTERN})"
_AGENCY_RE = re.compile(AGENCY_PATTERN)
_ALLOWED = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.")
_DIGITS = frozenset("0123456789")
_LEVEL1_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXY")
_LEGACY_TEMPLATE = "999.99.99.L99"  # 9 = digit, L = level-1 letter A-Y


class UnknownLevel1Warning(UserWarning):
    """A syntactically valid agency identifier has a Mã cấp 1 missing from the loaded table."""


class AgencyForm(enum.Enum):
    """Which rule an agency identifier follows."""

    LEGACY = "legacy"
    """QCVN 102:2016/BTTTT ``ddd.dd.dd.Mdd`` (13 characters, levels read right to left)."""
    QD20 = "qd20"
    """QĐ 20/2020/QĐ-TTg ``Mdd(.group)*`` (at most 35 characters, levels read left to right)."""


def _level_expectation(code: str, i: int) -> tuple[str, str]:
    """(reason, expected) for a wrong character at ``i`` of a level-1 group."""
    if i == 0:
        ch = code[0] if code else ""
        if ch == "Z":
            return "reserved-z", "a level-1 letter A-Y (Z is reserved for QĐ 20 Điều 6 schemes)"
        return "bad-level1", "a level-1 letter A-Y (Mã cấp 1 = MX1X2)"
    return "bad-level1", "a digit 0-9 in the level-1 code MX1X2"


def _diagnose(code: str, base: int, full: str, kind: str) -> InvalidCodeError:
    """Explain why ``code`` (found at ``base`` inside ``full``) is not an agency identifier."""

    def err(i: int, reason: str, expected: str) -> InvalidCodeError:
        return invalid(kind, full, base + i, reason, expected)

    if not code:
        return err(0, "empty", "an agency identifier")
    for i, ch in enumerate(code):
        if ch not in _ALLOWED:
            return err(i, char_reason(ch), "only 0-9, A-Z and '.' in an agency identifier")
    if code[0] == ".":
        return err(0, "leading-dot", "the level-1 code before the first '.'")
    if code[0] in _DIGITS and code.count(".") == 3:
        # Legacy QCVN 102:2016 shape ddd.dd.dd.Mdd.
        for i, want in enumerate(_LEGACY_TEMPLATE):
            if i >= len(code):
                return err(i, "legacy-length", "13 characters ddd.dd.dd.Mdd (QCVN 102:2016)")
            ch = code[i]
            if want == "9" and ch not in _DIGITS:
                if i >= 11:
                    return err(i, "bad-level1", "a digit 0-9 in the level-1 code MX1X2")
                return err(i, "legacy-format", "a digit in ddd.dd.dd.Mdd (QCVN 102:2016)")
            if want == "." and ch != ".":
                return err(i, "legacy-format", "'.' in ddd.dd.dd.Mdd (QCVN 102:2016)")
            if want == "L" and ch not in _LEVEL1_LETTERS:
                reason, expected = _level_expectation(code[10:], 0)
                return err(i, reason, expected)
        return err(13, "legacy-length", "exactly 13 characters ddd.dd.dd.Mdd (QCVN 102:2016)")
    # QĐ 20/2020 shape Mdd(.group)*.
    if code[0] not in _LEVEL1_LETTERS:
        reason, expected = _level_expectation(code, 0)
        return err(0, reason, expected)
    for i in (1, 2):
        if i >= len(code) or code[i] not in _DIGITS:
            return err(i, "bad-level1", "a digit 0-9 in the level-1 code MX1X2")
    if len(code) > 3 and code[3] != ".":
        return err(3, "bad-level1", "'.' or the end after the 3-character level-1 code")
    double = code.find("..")
    if double >= 0:
        return err(double + 1, "empty-group", "a character group between two dots")
    if code.endswith("."):
        return err(len(code) - 1, "trailing-dot", "a character group after the last '.'")
    if len(code) > AGENCY_MAX_LENGTH:
        return err(AGENCY_MAX_LENGTH, "too-long", "at most 35 characters (QĐ 20/2020 Điều 4 k1)")
    return err(0, "invalid", "an agency identifier")  # pragma: no cover - regex and checks agree


def _is_valid_syntax(code: str) -> bool:
    return _AGENCY_RE.fullmatch(code) is not None and len(code) <= AGENCY_MAX_LENGTH


@dataclass(frozen=True, order=True)
class AgencyId:
    """Agency electronic identifier (mã định danh điện tử của cơ quan, tổ chức).

    Construct with :meth:`parse` (which also checks the level-1 table); the constructor checks
    syntax only.  Ordering and equality follow the text.

    Parameters
    ----------
    text : str
        The identifier, e.g. ``"H27.01"`` or ``"000.00.01.H27"``.

    Raises
    ------
    InvalidCodeError
        If ``text`` is not a syntactically valid identifier of either form.

    Examples
    --------
    >>> a = AgencyId.parse("000.17.22.H56")
    >>> a.form.value, a.level1, a.levels
    ('legacy', 'H56', ('H56', '22', '17'))
    >>> b = AgencyId.parse("H27.01")
    >>> b.form.value, b.levels, str(b)
    ('qd20', ('H27', '01'), 'H27.01')
    """

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InvalidArgumentError(
                f"an agency identifier must be str, got {type(self.text).__name__}"
            )
        if not _is_valid_syntax(self.text):
            raise _diagnose(self.text, 0, self.text, "agency identifier")

    @classmethod
    def _trusted(cls, text: str) -> AgencyId:
        # Callers have matched the full regex already; skip the second match.
        obj = object.__new__(cls)
        object.__setattr__(obj, "text", text)
        return obj

    @classmethod
    def parse(
        cls,
        s: str,
        strict: bool = False,
        *,
        table: Level1Table | None = None,
        check_table: bool = True,
    ) -> AgencyId:
        """Parse and validate an agency identifier of either form.

        Parameters
        ----------
        s : str
            Text to parse.  Must already be exact: no surrounding spaces, uppercase ASCII.
        strict : bool, default False
            When True, a Mã cấp 1 absent from ``table`` raises; when False it only emits an
            :class:`UnknownLevel1Warning` (the packaged table is partial).
        table : Level1Table, optional
            Level-1 table to check against; defaults to :func:`default_level1_table`.
        check_table : bool, default True
            False skips the table (syntax only; no warning).

        Returns
        -------
        AgencyId

        Raises
        ------
        InvalidCodeError
            Malformed text (``position`` and ``reason`` name the first problem), or an unknown
            level-1 code with ``strict=True`` (reason ``"unknown-level1"``).

        Examples
        --------
        >>> AgencyId.parse("H27.01").level1
        'H27'
        >>> AgencyId.parse("Z27.01")
        Traceback (most recent call last):
        ...
        onestop_docs.errors.InvalidCodeError: ... [reserved-z] (at position 0)
        """
        if not isinstance(s, str):
            raise InvalidArgumentError(f"an agency identifier must be str, got {type(s).__name__}")
        if not _is_valid_syntax(s):
            raise _diagnose(s, 0, s, "agency identifier")
        agency = cls._trusted(s)
        if check_table:
            agency.check_level1(strict=strict, table=table)
        return agency

    def check_level1(self, strict: bool = False, *, table: Level1Table | None = None) -> bool:
        """Whether the Mã cấp 1 is in ``table``; raise (strict) or warn when it is not.

        Raises
        ------
        InvalidCodeError
            With ``strict=True`` when the level-1 code is unknown (reason ``"unknown-level1"``).
        """
        tbl = table if table is not None else default_level1_table()
        code = self.level1
        if code in tbl:
            return True
        pos = 10 if self.form is AgencyForm.LEGACY else 0
        if strict:
            raise invalid(
                "agency identifier",
                self.text,
                pos,
                "unknown-level1",
                f"a Mã cấp 1 listed in the level-1 table ({tbl.source or 'loaded table'}), "
                f"not {code!r}",
            )
        warnings.warn(
            f"agency identifier {self.text!r}: Mã cấp 1 {code!r} is not in the level-1 table "
            f"({tbl.source or 'loaded table'}); load the full catalogue with Level1Table.from_csv",
            UnknownLevel1Warning,
            stacklevel=3,
        )
        return False

    @property
    def form(self) -> AgencyForm:
        """:class:`AgencyForm` of this identifier."""
        return AgencyForm.LEGACY if self.text[0] in _DIGITS else AgencyForm.QD20

    @property
    def level1(self) -> str:
        """The Mã cấp 1 ``MX1X2`` (ministry, province, ...)."""
        return self.text[10:13] if self.text[0] in _DIGITS else self.text[:3]

    @property
    def levels(self) -> tuple[str, ...]:
        """Groups from level 1 downwards.

        For the legacy form the groups are read right to left (``V.Z.Y.M`` gives
        ``(M, Y, Z, V)``) and trailing zero-filled (unused) levels are dropped.
        """
        if self.text[0] not in _DIGITS:
            return tuple(self.text.split("."))
        v, z, y, m = self.text.split(".")
        groups = [m, y, z, v]
        while len(groups) > 1 and set(groups[-1]) == {"0"}:
            groups.pop()
        return tuple(groups)

    @property
    def depth(self) -> int:
        """Number of levels (1 = a level-1 body itself)."""
        return len(self.levels)

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------- level-1 table


@dataclass(frozen=True)
class Level1Entry:
    """One row of the Mã cấp 1 table."""

    code: str
    name: str
    status: str = "unverified"
    note: str = ""


def _read_commented_csv(
    source: str | os.PathLike[str] | io.TextIOBase, required: tuple[str, ...]
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Rows of a CSV whose leading ``#`` lines carry ``key: value`` metadata."""
    if isinstance(source, io.TextIOBase):
        text = source.read()
        label = getattr(source, "name", "<stream>")
    else:
        with open(source, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
        label = os.fspath(source)
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip().lower() in {"source", "date"}:
                meta[key.strip().lower()] = value.strip()
            continue
        if line.strip():
            body.append(line)
    reader = csv.DictReader(body)
    fields = reader.fieldnames or []
    missing = [c for c in required if c not in fields]
    if missing:
        raise InvalidArgumentError(
            f"{label}: expected CSV columns {', '.join(required)}, found {', '.join(fields) or 'none'}"
        )
    rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    meta.setdefault("label", str(label))
    return rows, meta


class Level1Table:
    """Immutable table of level-1 agency codes (Mã cấp 1, QĐ 20/2020 Phụ lục I as amended).

    Parameters
    ----------
    entries : iterable of Level1Entry
    source, date : str
        Provenance shown in messages.

    Raises
    ------
    InvalidArgumentError
        If an entry's code is not ``[A-Y][0-9]{2}`` or appears twice.

    Examples
    --------
    >>> t = Level1Table.default()
    >>> "H27" in t, "H99" in t
    (True, False)
    >>> t.get("H27").name
    'UBND tỉnh Hà Tĩnh'
    """

    def __init__(self, entries: Iterable[Level1Entry], *, source: str = "", date: str = "") -> None:
        table: dict[str, Level1Entry] = {}
        for e in entries:
            if re.fullmatch(r"[A-Y][0-9]{2}", e.code) is None:
                raise InvalidArgumentError(
                    f"level-1 table {source!r}: expected codes [A-Y][0-9]{{2}}, found {e.code!r}"
                )
            if e.code in table:
                raise InvalidArgumentError(f"level-1 table {source!r}: code {e.code} listed twice")
            table[e.code] = e
        self._entries = table
        self.source = source
        self.date = date

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str] | io.TextIOBase) -> Level1Table:
        """Load a table from CSV with columns ``code,name[,status[,note]]``.

        Lines starting with ``#`` are comments; ``# source: ...`` and ``# date: ...`` are kept
        as provenance.

        Raises
        ------
        InvalidArgumentError
            Missing columns, malformed or duplicate codes.
        OSError
            The file cannot be read.
        """
        rows, meta = _read_commented_csv(path, ("code", "name"))
        entries = [
            Level1Entry(r["code"], r["name"], r.get("status") or "unverified", r.get("note", ""))
            for r in rows
        ]
        return cls(entries, source=meta.get("source", meta["label"]), date=meta.get("date", ""))

    @classmethod
    def default(cls) -> Level1Table:
        """The packaged partial table (``onestop_docs/data/codes_level1.csv``)."""
        ref = resources.files("onestop_docs").joinpath("data/codes_level1.csv")
        with ref.open("r", encoding="utf-8") as fh:
            return cls.from_csv(io.StringIO(fh.read()))

    def __contains__(self, code: object) -> bool:
        return code in self._entries

    def __iter__(self) -> Iterator[Level1Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, code: str) -> Level1Entry | None:
        """The entry for ``code``, or None."""
        return self._entries.get(code)

    @property
    def codes(self) -> frozenset[str]:
        """All level-1 codes in the table."""
        return frozenset(self._entries)

    def __repr__(self) -> str:
        return f"Level1Table({len(self)} codes, source={self.source!r}, date={self.date!r})"


_default_lock = threading.Lock()
_default_table: Level1Table | None = None


def default_level1_table() -> Level1Table:
    """The table :meth:`AgencyId.parse` checks against (packaged one unless replaced)."""
    global _default_table
    with _default_lock:
        if _default_table is None:
            _default_table = Level1Table.default()
        return _default_table


def set_default_level1_table(table: Level1Table | None) -> None:
    """Replace the process-wide default table (``None`` restores the packaged one).

    Examples
    --------
    >>> import io
    >>> t = Level1Table.from_csv(io.StringIO("code,name\\nH99,Test\\n"))
    >>> set_default_level1_table(t)
    >>> AgencyId.parse("H99.01", strict=True).level1
    'H99'
    >>> set_default_level1_table(None)
    """
    global _default_table
    if table is not None and not isinstance(table, Level1Table):
        raise InvalidArgumentError(f"expected a Level1Table or None, got {type(table).__name__}")
    with _default_lock:
        _default_table = table


# --------------------------------------------------------------------------- legacy mapping


class AgencyMapping:
    """Correspondence between legacy (QCVN 102:2016) and QĐ 20/2020 identifiers.

    Loaded from data, never computed: provinces re-issued whole lists in 2020-2021, so
    reversing the groups (``000.00.01.H27`` -> ``H27.01``) is only a coincidence of one
    confirmed instance.

    Parameters
    ----------
    pairs : iterable of (legacy, new)
        Each side must be a valid identifier of its form; each side must be unique.

    Raises
    ------
    InvalidCodeError
        A side is malformed.
    InvalidArgumentError
        A side has the wrong form or appears twice with different partners.

    Examples
    --------
    >>> m = AgencyMapping.default()
    >>> str(m.to_new("000.00.01.H27"))
    'H27.01'
    >>> str(m.to_legacy("H27.01"))
    '000.00.01.H27'
    >>> m.to_new("000.00.02.H27") is None
    True
    """

    def __init__(self, pairs: Iterable[tuple[str, str]], *, source: str = "") -> None:
        fwd: dict[AgencyId, AgencyId] = {}
        back: dict[AgencyId, AgencyId] = {}
        for old_s, new_s in pairs:
            old, new = AgencyId(old_s), AgencyId(new_s)
            if old.form is not AgencyForm.LEGACY or new.form is not AgencyForm.QD20:
                raise InvalidArgumentError(
                    f"mapping {source!r}: expected legacy -> QĐ 20 pair, found {old_s!r} -> {new_s!r}"
                )
            if fwd.get(old, new) != new or back.get(new, old) != old:
                raise InvalidArgumentError(
                    f"mapping {source!r}: {old_s!r} or {new_s!r} is mapped twice"
                )
            fwd[old], back[new] = new, old
        self._fwd, self._back = fwd, back
        self.source = source

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str] | io.TextIOBase) -> AgencyMapping:
        """Load from CSV with columns ``legacy,new`` (``#`` comment lines allowed).

        Raises
        ------
        InvalidArgumentError, InvalidCodeError
            Missing columns or bad rows.
        """
        rows, meta = _read_commented_csv(path, ("legacy", "new"))
        return cls(((r["legacy"], r["new"]) for r in rows), source=meta.get("source", ""))

    @classmethod
    def default(cls) -> AgencyMapping:
        """The packaged mapping (``onestop_docs/data/codes_agency_mapping.csv``)."""
        ref = resources.files("onestop_docs").joinpath("data/codes_agency_mapping.csv")
        with ref.open("r", encoding="utf-8") as fh:
            return cls.from_csv(io.StringIO(fh.read()))

    def to_new(self, legacy: AgencyId | str) -> AgencyId | None:
        """QĐ 20 identifier for a legacy one, or None when the table does not list it."""
        key = legacy if isinstance(legacy, AgencyId) else AgencyId(legacy)
        return self._fwd.get(key)

    def to_legacy(self, new: AgencyId | str) -> AgencyId | None:
        """Legacy identifier for a QĐ 20 one, or None when the table does not list it."""
        key = new if isinstance(new, AgencyId) else AgencyId(new)
        return self._back.get(key)

    def __len__(self) -> int:
        return len(self._fwd)


def _check_agency_text(code: str, base: int, full: str, kind: str) -> None:
    """Raise the diagnostic for an agency part embedded in a longer code."""
    if not _is_valid_syntax(code):
        raise _diagnose(code, base, full, kind)
