"""Administrative data extraction (bóc tách dữ liệu) from the text of a Vietnamese document.

:func:`extract_fields` reads OCR output (or any text) and returns the fields an officer
would otherwise type by hand: số và ký hiệu (``Số: 223/KH-UBND``, ``09/2025/QĐ-TTg``), the
place and date line (``Hà Tĩnh, ngày 30 tháng 6 năm 2021``), the issuing body, the document
type, the subject line (trích yếu), dossier codes, agency identifiers, 12-digit citizen ID
numbers (số định danh cá nhân / CCCD) and dates in numeric form.

Layout rules followed (NĐ 30/2020/NĐ-CP Phụ lục I, see ``docs/ocr.md``): the number line
starts with "Số" and a colon; the notation's first group is the document type from Phụ lục III
(absent for a Công văn, whose subject follows "V/v"); the date line is
"<place>, ngày DD tháng MM năm YYYY"; the issuing body is the upper-case block at the top left.

Matching runs on *folded* text (:func:`onestop_docs.vntext.fold`: no diacritics, lower case,
same length), so OCR noise in the marks (``ngảy``, ``thang``, ``Sô``, ``QÐ``) does not stop a
match when the digits and the structure are clear; values are cut from the normalised text.
Every field carries its span in :attr:`Fields.text` and a confidence in [0, 1]: the match
quality (1.0 for the canonical form, lower for repaired or loose forms) times the mean OCR
confidence of the characters in the span (when an :class:`~onestop_docs.types.OcrResult` is
given).

Examples
--------
>>> from onestop_docs.fields import extract_fields
>>> f = extract_fields("ỦY BAN NHÂN DÂN\\nTỈNH HÀ TĨNH\\nSố: 223/KH-UBND\\n"
...                    "Hà Tĩnh, ngày 30 tháng 6 năm 2021\\nKẾ HOẠCH\\nSố hóa hồ sơ")
>>> str(f.notation.value), f.issue_date.value, f.place.value
('223/KH-UBND', datetime.date(2021, 6, 30), 'Hà Tĩnh')
>>> f.issuing_body.value, f.document_type.value, f.subject.value
('ỦY BAN NHÂN DÂN TỈNH HÀ TĨNH', 'Kế hoạch', 'Số hóa hồ sơ')
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from . import codes as _codes
from .codes import DocumentNotation
from .codes.agency import AGENCY_LEGACY_PATTERN
from .errors import InvalidArgumentError, InvalidCodeError
from .types import OcrResult, OcrWord
from .vntext import comparison_key, fold, normalize

__all__ = [
    "DocumentNotation",
    "Field",
    "Fields",
    "extract_fields",
    "words_of",
]

T = TypeVar("T")

# Type abbreviation -> name, from the codes module's tables (NĐ 30/2020 Phụ lục III, copy
# forms, normative documents); "Quyết định (cá biệt)" is shown as "Quyết định".
_TYPE_NAMES: dict[str, str] = {
    k: v.split(" (")[0]
    for table in (_codes.DOCUMENT_TYPES, _codes.COPY_TYPES, _codes.NORMATIVE_TYPES)
    for k, v in table.items()
}
CONG_VAN = "Công văn"

# Folded abbreviation -> canonical, only where folding is unambiguous (ĐA/DA, HĐ/HD, CT/CTr
# differ only by the stroke or case, so a folded "da" cannot say which was printed).
_FOLDED_TYPES: dict[str, str] = {}
for _abbr in _TYPE_NAMES:
    _k = fold(_abbr)
    _FOLDED_TYPES[_k] = "" if _k in _FOLDED_TYPES else _abbr
_FOLDED_TYPES = {k: v for k, v in _FOLDED_TYPES.items() if v}
# Title lines ("QUYẾT ĐỊNH", "KẾ HOẠCH") by comparison key.
_TITLE_TYPES: dict[str, str] = {comparison_key(v): v for v in [*_TYPE_NAMES.values(), CONG_VAN]}

# --- patterns on folded text (lower case, no diacritics, same length as the text) --------
_NUMBER_LABEL = r"(?P<label>s[o0]\s{0,2}[:;.,]\s{0,3})"
_NOTATION_CORE = (
    r"(?P<so>\d{1,5})\s?/\s?(?:(?P<nam>(?:19|20)\d{2})\s?/\s?)?"
    r"(?P<kh>[a-z][a-z0-9]{0,9}(?:\s?[-–]\s?[a-z0-9]{1,12}){0,4})(?![a-z0-9])"
)
_NOTATION_LABELLED = re.compile(
    r"(?<![a-z0-9])"
    + _NUMBER_LABEL
    + _NOTATION_CORE.replace(r"\s?/\s?", r"\s?(?P<slash>[/.|\\])\s?", 1)
)
_NOTATION_BARE = re.compile(r"(?<![a-z0-9/])" + _NOTATION_CORE)
_DATE_LINE = re.compile(
    r"(?P<ngay>ng[a-z]{1,2}y?|ng[a-z]y)\s{1,3}(?P<d>\d{1,2})\s{1,3}(?P<thang>th[a-z]{2,3}g)"
    r"\s{1,3}(?P<m>\d{1,2})\s{1,3}(?P<nam>n[a-z]{1,2}m?)\s{1,3}(?P<y>(?:19|20)\d{2})(?!\d)"
)
_DATE_LOOSE = re.compile(
    r"(?<![a-z0-9])[a-z]{2,5}\s{1,3}(?P<d>\d{1,2})\s{1,3}[a-z]{3,6}\s{1,3}(?P<m>\d{1,2})"
    r"\s{1,3}[a-z]{2,4}\s{1,3}(?P<y>(?:19|20)\d{2})(?!\d)"
)
_DATE_NUMERIC = re.compile(
    r"(?<![\d/.\-])(?P<d>\d{1,2})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<y>(?:19|20)\d{2})"
    r"(?![\d/\-]|\.\d)"
)
_DATE_ISO = re.compile(r"(?<![\d/.\-])(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d\-])")
_SUBJECT_VV = re.compile(r"(?<![a-z0-9])v\s?/\s?v\s?[:.]?\s*")
_CITIZEN_ID = re.compile(r"(?<![\d.\-/])(?P<id>\d{12})(?![\d\-/]|\.\d)")
_MOTTO = re.compile(
    r"cong\s+hoa\s+xa\s+hoi\s+chu\s+nghia\s+viet\s+nam"
    r"|doc\s+lap\s*[-–]\s*tu\s+do\s*[-–]\s*hanh\s+phuc"
)
# --- patterns on the normalised text (codes are upper-case ASCII; the codes module's) -----
_DOSSIER = re.compile(rf"(?<![0-9A-Z.\-])(?P<code>{_codes.DOSSIER_CODE_PATTERN})(?![0-9A-Za-z\-])")
# A stand-alone QĐ-20 identifier needs a dotted group: a bare "H27" is too common a token.
_AGENCY = re.compile(
    rf"(?<![0-9A-Za-z.\-])(?P<code>{AGENCY_LEGACY_PATTERN}|[A-Y][0-9]{{2}}(?:\.[0-9A-Z]+)+)"
    r"(?![0-9A-Za-z\-]|\.[0-9A-Z])"
)
# Words that start the body of a document, ending the subject block.
_BODY_STARTERS = (
    "can cu",
    "thuc hien",
    "kinh gui",
    "theo ",
    "xet ",
    "dieu ",
    "hom nay",
    "nham ",
    "de ",
    "ngay ",
)
# Words that continue the previous upper-case header line ("ỦY BAN NHÂN DÂN" / "TỈNH HÀ TĨNH").
_BODY_CONTINUATIONS = ("tinh ", "thanh pho ", "huyen ", "quan ", "thi xa ", "xa ", "phuong ")
_PLACE_CONNECTORS = frozenset({"pho", "xa", "thi", "tran", "-", "–", "tp.", "tp"})


@dataclass(frozen=True)
class Field(Generic[T]):
    """One extracted value with where it came from.

    Attributes
    ----------
    value : object
        The parsed value (str, :class:`datetime.date`,
        :class:`~onestop_docs.codes.DocumentNotation`).
    span : tuple of int
        ``(start, end)`` character offsets in :attr:`Fields.text`.
    source : str
        ``Fields.text[start:end]``, as read.
    confidence : float
        Match quality times mean OCR confidence of the span, in [0, 1].
    """

    value: T
    span: tuple[int, int]
    source: str
    confidence: float


@dataclass(frozen=True)
class _Raw:
    """A notation as matched, before it becomes a :class:`DocumentNotation`."""

    number: str
    year: int | None
    symbol: str
    type_code: str | None


@dataclass(frozen=True)
class Fields:
    """Everything :func:`extract_fields` found; absent fields are ``None`` or empty.

    Attributes
    ----------
    text : str
        The normalised text the spans refer to.
    notation : Field of onestop_docs.codes.DocumentNotation or None
        The document's own number and notation (the "Số:" line), validated by the codes
        module's parser.
    place : Field of str or None
        Place of issue (địa danh) from the date line.
    issue_date : Field of datetime.date or None
        Date of issue from the date line.
    issuing_body : Field of str or None
        Cơ quan ban hành (the last upper-case header block).
    parent_body : Field of str or None
        Cơ quan chủ quản above it, when the header has two blocks.
    document_type : Field of str or None
        Type name (``"Quyết định"``, ``"Công văn"``, ...) from the notation or the title line.
    subject : Field of str or None
        Trích yếu: the "V/v" line of a Công văn or the lines under the title.
    dossier_codes, agency_ids, citizen_ids : tuple of Field of str
        Every dossier code, stand-alone agency identifier and 12-digit citizen ID found.
    dates : tuple of Field of datetime.date
        Every valid date (long Vietnamese form and numeric forms) in text order.
    """

    text: str
    notation: Field[DocumentNotation] | None = None
    place: Field[str] | None = None
    issue_date: Field[_dt.date] | None = None
    issuing_body: Field[str] | None = None
    parent_body: Field[str] | None = None
    document_type: Field[str] | None = None
    subject: Field[str] | None = None
    dossier_codes: tuple[Field[str], ...] = ()
    agency_ids: tuple[Field[str], ...] = ()
    citizen_ids: tuple[Field[str], ...] = ()
    dates: tuple[Field[_dt.date], ...] = ()


class _Ctx:
    """Text, folded text and per-character OCR confidence shared by the extractors."""

    def __init__(self, text: str, char_conf: np.ndarray | None) -> None:
        self.text = text
        self.folded = fold(text)
        self.char_conf = char_conf
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def field(self, value: T, start: int, end: int, quality: float) -> Field[T]:
        conf = quality
        if self.char_conf is not None and end > start:
            seg = self.char_conf[start:end]
            seg = seg[~np.isnan(seg)]
            if seg.size:
                conf *= float(seg.mean()) / 100.0
        return Field(value, (start, end), self.text[start:end], round(min(1.0, max(0.0, conf)), 4))

    def lines(self) -> list[tuple[int, int]]:
        ends = [s - 1 for s in self.line_starts[1:]] + [len(self.text)]
        return list(zip(self.line_starts, ends))


def _word_offsets(result: OcrResult, text: str) -> list[tuple[int, int, OcrWord]] | None:
    """Where each word sits in ``text`` (OcrResult layout: words by " ", lines by "\\n")."""
    out: list[tuple[int, int, OcrWord]] = []
    pos = 0
    for li, line in enumerate(result.lines):
        if li:
            pos += 1
        for wi, word in enumerate(line.words):
            if wi:
                pos += 1
            if text[pos : pos + len(word.text)] != word.text:
                return None
            out.append((pos, pos + len(word.text), word))
            pos += len(word.text)
    return out if pos == len(text) else None


def _char_confidences(result: OcrResult, text: str) -> np.ndarray | None:
    offsets = _word_offsets(result, text)
    if offsets is None:
        return None
    conf = np.full(len(text), np.nan)
    for start, end, word in offsets:
        conf[start:end] = word.confidence
    return conf


def words_of(result: OcrResult, field: Field[Any]) -> tuple[OcrWord, ...]:
    """The OCR words (with their boxes on the page) under a field extracted from ``result``.

    Use it to highlight or redact a field on the scan, or to put its box in the metadata.

    Parameters
    ----------
    result : OcrResult
        The result :func:`extract_fields` was given.
    field : Field
        A field of ``extract_fields(result)``.

    Returns
    -------
    tuple of OcrWord
        Words whose characters overlap ``field.span``, in reading order; empty when the
        result's text is not in the layout :func:`onestop_docs.ocr.parse_tsv` produces.

    Raises
    ------
    InvalidArgumentError
        ``result`` is not an OcrResult or ``field`` not a Field.

    Examples
    --------
    >>> from onestop_docs.types import Box, OcrLine, OcrResult, OcrWord
    >>> ws = [OcrWord("Số:", Box(0, 0, 30, 12), 95.0), OcrWord("05/QĐ-UBND", Box(40, 0, 140, 12), 90.0)]
    >>> res = OcrResult("Số: 05/QĐ-UBND", (OcrLine(tuple(ws), Box(0, 0, 140, 12)),), 92.5, 200, 20)
    >>> f = extract_fields(res)
    >>> [w.box for w in words_of(res, f.notation)]
    [Box(x0=0, y0=0, x1=30, y1=12), Box(x0=40, y0=0, x1=140, y1=12)]
    """
    if not isinstance(result, OcrResult) or not isinstance(field, Field):
        raise InvalidArgumentError(
            f"words_of expects an OcrResult and a Field, got {type(result).__name__} and "
            f"{type(field).__name__}"
        )
    offsets = _word_offsets(result, normalize(result.text))
    if offsets is None:
        return ()
    s, e = field.span
    return tuple(w for start, end, w in offsets if start < e and s < end)


def _safe_date(y: str, m: str, d: str) -> _dt.date | None:
    try:
        return _dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def _type_code(symbol: str) -> tuple[str | None, float]:
    first = symbol.split("-")[0]
    if first in _TYPE_NAMES:
        return first, 1.0
    canon = _FOLDED_TYPES.get(fold(first))
    if canon is not None and (first.isupper() or first == canon):
        return canon, 0.85
    return None, 1.0


def _notation(ctx: _Ctx) -> Field[_Raw] | None:
    m = _NOTATION_LABELLED.search(ctx.folded)
    quality = 1.0
    if m is None:
        # No "Số:" label: take the first notation-shaped token of the header lines.
        lines = ctx.lines()
        limit = lines[min(len(lines), 8) - 1][1] if lines else 0
        m = _NOTATION_BARE.search(ctx.folded, 0, limit)
        if m is None or "-" not in m.group("kh").replace("–", "-"):
            return None
        quality = 0.6
    start, end = m.start("so"), m.end("kh")
    raw_symbol = ctx.text[m.start("kh") : m.end("kh")]
    symbol = re.sub(r"\s*[-–]\s*", "-", raw_symbol)
    if symbol != raw_symbol:
        quality *= 0.9  # spaces or en dashes inside the notation: repaired
    if not symbol[:1].isupper():
        quality *= 0.5
    type_code, tq = _type_code(symbol)
    if type_code is not None and not symbol.startswith(type_code):
        symbol = type_code + symbol[len(symbol.split("-")[0]) :]
    number = m.group("so")
    if len(number) < 2:
        quality *= 0.8  # NĐ 30: numbers below 10 are written with a leading zero
    if ctx.folded[m.start("so") : m.end("kh")].count(" "):
        quality *= 0.9
    if m.groupdict().get("slash", "/") != "/":
        quality *= 0.8  # the slash after the number was read as "." or "|"
    year = int(m.group("nam")) if m.group("nam") else None
    value = _Raw(number, year, symbol, type_code)
    if m.groupdict().get("label") is not None:
        start = m.start("label")
        label = ctx.text[start : m.end("label")]
        if "".join(label.split()) not in ("Số:", "SỐ:"):
            quality *= 0.9  # "Sô;", "S0:", "Số :": OCR-damaged label
    return ctx.field(value, start, end, quality * tq)


def _collapse_doubles(group: str) -> set[str]:
    """Every string made by dropping one letter of a doubled pair ("QĐĐ" -> "QĐ")."""
    return {group[:i] + group[i + 1 :] for i in range(1, len(group)) if group[i] == group[i - 1]}


def _initials(body: str) -> set[str]:
    """Folded initials of every run of two or more words of a header ("hdnd", ...)."""
    words = [w for w in body.split() if w[:1].isalpha()]
    return {
        fold("".join(w[0] for w in words[i:j]))
        for i in range(len(words))
        for j in range(i + 2, len(words) + 1)
    }


def _repair_notation(
    notation: Field[_Raw],
    title: Field[str] | None,
    bodies: tuple[Field[str] | None, ...],
) -> Field[_Raw]:
    """Undo the two OCR slips seen in notations: a doubled letter and a confused letter.

    The type group is checked against the closed Phụ lục III list (a confused letter is fixed
    only when the title line names the same type); the other groups against the initials of
    the header lines (``HỘI ĐỒNG NHÂN DÂN`` -> ``HĐND``), fixing only a doubled letter.
    """
    n = notation.value
    groups = n.symbol.split("-")
    fixed = list(groups)
    type_code = n.type_code
    if type_code is None:
        title_code = None
        if title is not None:
            title_code = next((k for k, v in _TYPE_NAMES.items() if v == title.value), None)
        doubles = _collapse_doubles(groups[0]) & _TYPE_NAMES.keys()
        if doubles:
            type_code = doubles.pop()
        elif (
            title_code is not None
            and len(groups) > 1
            and len(groups[0]) == len(title_code)
            and sum(a != b for a, b in zip(groups[0], title_code)) == 1
        ):
            type_code = title_code
        if type_code is not None:
            fixed[0] = type_code
    names = set().union(*(_initials(b.value) for b in bodies if b is not None))
    for i in range(1 if type_code is not None else 0, len(groups)):
        if fold(groups[i]) in names:
            continue
        hits = [c for c in _collapse_doubles(groups[i]) if fold(c) in names]
        if hits:
            fixed[i] = hits[0]
    if fixed == groups and type_code == n.type_code:
        return notation
    value = _Raw(n.number, n.year, "-".join(fixed), type_code)
    return Field(value, notation.span, notation.source, round(notation.confidence * 0.8, 4))


def _final_notation(raw: Field[_Raw]) -> Field[DocumentNotation] | None:
    """Validate with the codes module's parser; build directly when only the style is off."""
    r = raw.value
    text = f"{r.number}/{r.year}/{r.symbol}" if r.year is not None else f"{r.number}/{r.symbol}"
    try:
        value = DocumentNotation.parse(text)
        quality = 1.0
    except InvalidCodeError:
        # NĐ 30 style slips the parser rejects (a number without its leading zero, "005"):
        # keep the reading, with less confidence.
        groups = r.symbol.split("-")
        if r.type_code is not None and len(groups) < 2:
            return None
        try:
            if r.type_code is not None:
                value = DocumentNotation(
                    int(r.number), r.year, r.type_code, groups[1], tuple(groups[2:])
                )
            else:
                value = DocumentNotation(int(r.number), r.year, None, groups[0], tuple(groups[1:]))
        except (InvalidCodeError, InvalidArgumentError):
            return None
        quality = 0.8
    return Field(value, raw.span, raw.source, round(raw.confidence * quality, 4))


def _place_before(ctx: _Ctx, comma: int, line_start: int) -> tuple[int, int, str] | None:
    """Words before the comma of a date line that form a place name."""
    words = list(re.finditer(r"\S+", ctx.text[line_start:comma]))
    kept: list[re.Match[str]] = []
    for w in reversed(words):
        tok = w.group()
        ftok = fold(tok)
        # Title-case words; an all-capital word ("VỤ", "TỈNH") belongs to the header column.
        capital = tok[:1].isupper() and not (len(tok) >= 2 and tok.isupper() and tok.isalpha())
        if any(c.isdigit() for c in tok) or "/" in tok or ":" in tok or len(kept) >= 6:
            break
        if ftok in _PLACE_CONNECTORS or capital:
            kept.append(w)
            continue
        break
    while kept and fold(kept[-1].group()) in _PLACE_CONNECTORS - {"tp.", "tp"}:
        kept.pop()
    if not kept:
        return None
    return (
        line_start + kept[-1].start(),
        line_start + kept[0].end(),
        " ".join(w.group() for w in reversed(kept)),
    )


def _date_line(ctx: _Ctx) -> tuple[Field[str] | None, Field[_dt.date] | None]:
    # The issue date is the first long-form date anchored by "<place>,"; body text cites
    # other dates ("Căn cứ Luật ... ngày 19 tháng 6 năm 2015") without a place before them.
    fallback: Field[_dt.date] | None = None
    for pattern, quality in ((_DATE_LINE, 1.0), (_DATE_LOOSE, 0.7)):
        for m in pattern.finditer(ctx.folded):
            date = _safe_date(m.group("y"), m.group("m"), m.group("d"))
            if date is None:
                continue
            q = quality
            if pattern is _DATE_LINE and (
                m.group("ngay") != "ngay" or m.group("thang") != "thang" or m.group("nam") != "nam"
            ):
                q = 0.9
            line_start = ctx.text.rfind("\n", 0, m.start()) + 1
            before = ctx.text[line_start : m.start()].rstrip()
            if before.endswith(","):
                found = _place_before(ctx, line_start + len(before) - 1, line_start)
                if found is not None:
                    ps, pe, name = found
                    return ctx.field(name, ps, pe, q), ctx.field(date, ps, m.end(), q)
            if fallback is None and pattern is _DATE_LINE:
                fallback = ctx.field(date, m.start(), m.end(), 0.6 * q)
    return None, fallback


def _is_upper_block(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def _bodies(
    ctx: _Ctx, stop: int, skip: tuple[int, int] | None
) -> tuple[Field[str] | None, Field[str] | None]:
    """Issuing and parent body from the upper-case header block before ``stop``.

    The national motto and the ``skip`` span (the place and date line) are cut out first:
    two-column headers put them on the same OCR line as the body's name.
    """
    blocks: list[list[tuple[int, int]]] = []
    for ls, le in ctx.lines():
        if ls >= stop:
            break
        le = min(le, stop)
        cuts = [(m.start(), m.end()) for m in _MOTTO.finditer(ctx.folded, ls, le)]
        if skip is not None and skip[0] < le and ls < skip[1]:
            cuts.append((max(ls, skip[0]), min(le, skip[1])))
        segs: list[tuple[int, int]] = []
        pos = ls
        for cs, ce in sorted(cuts):
            segs.append((pos, cs))
            pos = max(pos, ce)
        segs.append((pos, le))
        for s, e in segs:
            chunk = ctx.text[s:e]
            lead = len(chunk) - len(chunk.lstrip(" -–_*."))
            chunk = chunk.strip(" -–_*.")
            if not chunk or not _is_upper_block(chunk):
                continue
            s += lead
            e = s + len(chunk)
            if blocks and ctx.folded[s:e].startswith(_BODY_CONTINUATIONS):
                blocks[-1].append((s, e))
            else:
                blocks.append([(s, e)])
    if not blocks:
        return None, None
    found = [
        ctx.field(" ".join(ctx.text[s:e] for s, e in b), b[0][0], b[-1][1], 0.9) for b in blocks
    ]
    return found[-1], (found[-2] if len(found) >= 2 else None)


def _title_and_subject(
    ctx: _Ctx, after: int, notation: Field[_Raw] | None
) -> tuple[Field[str] | None, Field[str] | None]:
    title: Field[str] | None = None
    subject: Field[str] | None = None
    # Công văn: "V/v <subject>" (possibly continued on a lower-case line).
    m = _SUBJECT_VV.search(ctx.folded)
    if m is not None:
        end = ctx.text.find("\n", m.end())
        end = len(ctx.text) if end < 0 else end
        # The "V/v" block wraps inside the left column: take up to two more lines that are
        # neither a header line, the motto, a date line, nor the start of the body.
        for _ in range(2):
            if end >= len(ctx.text):
                break
            nxt_end = ctx.text.find("\n", end + 1)
            nxt_end = len(ctx.text) if nxt_end < 0 else nxt_end
            line = ctx.text[end + 1 : nxt_end].strip()
            fl = ctx.folded[end + 1 : nxt_end].strip()
            if (
                not line
                or _is_upper_block(line)
                or fl.startswith(_BODY_STARTERS)
                or _MOTTO.search(fl)
                or _DATE_LINE.search(fl)
                or _NOTATION_LABELLED.search(fl)
            ):
                break
            end = nxt_end
        value = " ".join(ctx.text[m.end() : end].split())
        if value:
            subject = ctx.field(value, m.end(), end, 0.9)
    lines = ctx.lines()
    for i, (ls, le) in enumerate(lines):
        if le <= after:
            continue
        key = comparison_key(ctx.text[ls:le])
        name = _TITLE_TYPES.get(key)
        if name is None or not _is_upper_block(ctx.text[ls:le]):
            continue
        title = ctx.field(name, ls, le, 0.9)
        if subject is None:
            parts: list[tuple[int, int]] = []
            for ls2, le2 in lines[i + 1 : i + 4]:
                line = ctx.text[ls2:le2].strip()
                fl = fold(line)
                if not line or fl.startswith(_BODY_STARTERS) or _is_upper_block(line):
                    break
                parts.append((ls2, le2))
            if parts:
                value = " ".join(" ".join(ctx.text[s:e].split()) for s, e in parts)
                subject = ctx.field(value, parts[0][0], parts[-1][1], 0.8)
        break
    return title, subject


def _document_type(notation: Field[_Raw] | None, title: Field[str] | None) -> Field[str] | None:
    if notation is not None and notation.value.type_code is not None:
        name = _TYPE_NAMES[notation.value.type_code]
        if title is not None and title.value == name:
            return Field(
                name, notation.span, notation.source, max(notation.confidence, title.confidence)
            )
        return Field(name, notation.span, notation.source, notation.confidence)
    if title is not None:
        return title
    if notation is not None and notation.value.year is None:
        return Field(CONG_VAN, notation.span, notation.source, round(notation.confidence * 0.8, 4))
    return None


def _all_dates(ctx: _Ctx) -> tuple[Field[_dt.date], ...]:
    found: dict[int, Field[_dt.date]] = {}
    for pattern, quality in ((_DATE_LINE, 1.0), (_DATE_NUMERIC, 0.95), (_DATE_ISO, 0.95)):
        for m in pattern.finditer(ctx.folded):
            date = _safe_date(m.group("y"), m.group("m"), m.group("d"))
            if date is None or any(
                f.span[0] < m.end() and m.start() < f.span[1] for f in found.values()
            ):
                continue
            found[m.start()] = ctx.field(date, m.start(), m.end(), quality)
    return tuple(found[k] for k in sorted(found))


def _validated(ctx: _Ctx, pattern: re.Pattern[str], kind: str) -> tuple[Field[str], ...]:
    """Codes found by ``pattern``, checked by the codes module's parsers.

    ``strict=True`` instead of catching the unknown-level-1 warning (``warnings`` filters are
    process-wide, not thread-safe): a Mã cấp 1 missing from the partial packaged table is
    kept with confidence 0.8; any other defect (bad date, sequence 0000) drops the match.
    """
    parse: Callable[..., Any] = (
        _codes.DossierCode.parse if kind == "dossier" else _codes.AgencyId.parse
    )
    out: list[Field[str]] = []
    for m in pattern.finditer(ctx.text):
        code = m.group("code")
        quality = 1.0
        try:
            code = str(parse(code, strict=True))
        except InvalidCodeError as exc:
            if exc.reason != "unknown-level1":
                continue
            quality = 0.8
        out.append(ctx.field(code, m.start("code"), m.end("code"), quality))
    return tuple(out)


def _citizen_ids(ctx: _Ctx) -> tuple[Field[str], ...]:
    out: list[Field[str]] = []
    for m in _CITIZEN_ID.finditer(ctx.text):
        digits = m.group("id")
        # The first three digits are the province of birth registration (001-096).
        if not 1 <= int(digits[:3]) <= 96:
            continue
        out.append(ctx.field(digits, m.start(), m.end(), 1.0))
    return tuple(out)


def extract_fields(text_or_result: str | OcrResult) -> Fields:
    """Extract the administrative fields of one document from its text.

    Parameters
    ----------
    text_or_result : str or OcrResult
        Plain text (any normal form) or the result of :func:`onestop_docs.ocr.recognize`,
        whose word confidences then scale each field's confidence.

    Returns
    -------
    Fields
        Spans index :attr:`Fields.text` (the NFC-normalised text).

    Raises
    ------
    InvalidArgumentError
        The argument is neither a ``str`` nor an :class:`~onestop_docs.types.OcrResult`.

    Examples
    --------
    >>> f = extract_fields("BỘ TƯ PHÁP\\nSố: 09/2025/QĐ-BTP\\nHà Nội, ngày 05 tháng 01 năm 2025")
    >>> n = f.notation.value          # an onestop_docs.codes.DocumentNotation
    >>> n.number, n.year, n.type_abbrev, n.issuer, f.document_type.value
    (9, 2025, 'QĐ', 'BTP', 'Quyết định')
    >>> f.issue_date.value.isoformat(), f.issuing_body.value
    ('2025-01-05', 'BỘ TƯ PHÁP')
    >>> f = extract_fields("Hồ sơ 000.00.00.H27-210630-0001, CCCD 042203004567, nộp 30/06/2021")
    >>> [x.value for x in f.dossier_codes], [x.value for x in f.citizen_ids]
    (['000.00.00.H27-210630-0001'], ['042203004567'])
    >>> [d.value.isoformat() for d in f.dates]
    ['2021-06-30']
    """
    char_conf: np.ndarray | None = None
    if isinstance(text_or_result, OcrResult):
        text = normalize(text_or_result.text)
        if text == text_or_result.text:
            char_conf = _char_confidences(text_or_result, text)
    elif isinstance(text_or_result, str):
        text = normalize(text_or_result)
    else:
        raise InvalidArgumentError(
            f"extract_fields expects a str or an OcrResult, got {type(text_or_result).__name__}"
        )
    ctx = _Ctx(text, char_conf)
    notation = _notation(ctx)
    place, issue_date = _date_line(ctx)
    # The issuing body sits above the number (NĐ 30 layout); OCR may emit the right column
    # (motto, date line) first, so the date only bounds the header when there is no number.
    if notation is not None:
        header_end = notation.span[0]
    elif issue_date is not None:
        header_end = issue_date.span[0]
    else:
        header_end = ctx.lines()[min(3, len(ctx.lines())) - 1][1]
    issuing_body, parent_body = _bodies(
        ctx, header_end, issue_date.span if issue_date is not None else None
    )
    after = max([f.span[1] for f in (notation, issue_date) if f is not None], default=0)
    title, subject = _title_and_subject(ctx, after, notation)
    if notation is not None:
        notation = _repair_notation(notation, title, (issuing_body, parent_body))
    final = _final_notation(notation) if notation is not None else None
    return Fields(
        text=text,
        notation=final,
        place=place,
        issue_date=issue_date,
        issuing_body=issuing_body,
        parent_body=parent_body,
        document_type=_document_type(notation, title),
        subject=subject,
        dossier_codes=_validated(ctx, _DOSSIER, "dossier"),
        agency_ids=_validated(ctx, _AGENCY, "agency"),
        citizen_ids=_citizen_ids(ctx),
        dates=_all_dates(ctx),
    )
