"""Compliance checker for digitized records: does an uploaded PDF meet the digitization rules?

:func:`check_record` opens a PDF with pikepdf and reports every rule it breaks as a
:class:`Finding` that names the rule and the 1-based page.  The rules (project rules §4, §6):

======================  ===========================================================  ==========
rule                    requirement                                                  source
======================  ===========================================================  ==========
``format``              the file is a PDF among ``Rules.accepted_formats``           TT 32/2017 Đ7 k3b
``file-size``           at most ``Rules.max_bytes`` (each portal sets its own)       TT 32/2017 Đ7 k3c
``pdf-version``         header version ≥ 1.4                                         NĐ 30 PL I P.II
``colour``              the page image is colour (RGB, CMYK, Lab, ICC N ≥ 3)         NĐ 30 "Ảnh màu"
``resolution``          effective resolution ≥ 200 dpi (pixels ÷ placed inches)       NĐ 30, TT 02/2019
``scale``               page size within tolerance of A4/A5/A3/Letter (either        NĐ 30 "100 %"
                        orientation) or the declared size, and the image fills it
``page-image``          exactly one page-sized image per page                        TT 01/2023 Đ8 k2c
``page-count``          number of pages = declared physical page count               TT 01/2023 Đ8 k2c
``blank-page``          page without ink (warning: blank pages are kept, flagged)    rules §6.1
``signature-officer``   signed signature field at the top-left of page 1             TT 01/2023 Đ8 k1
``signature-org``       signed field at the top-right of page 1 (copies only)        NĐ 30 PL I
``metadata``            XMP with the dossier code; consistent with the XML record    TT 01/2023 Đ4
``pdfa``                the PDF/A-2 checks listed in ``docs/records.md``             TT 05/2025 (unverified)
``active-content``      no JavaScript, Launch, embedded files, RichMedia, XFA,        rules §4 (kiosk
                        additional actions (/AA) or non-GoTo open actions            uploads)
``malformed``           every object read has the type the PDF specification says    ISO 32000-1
``limit``               the file stays within ``Rules.max_objects``,                 docs/records.md
                        ``Rules.max_operators`` and ``Rules.max_nesting``
======================  ===========================================================  ==========

A hostile or broken file never raises: a malformed object (``/Rotate /Ninety``, a name in a
``/CropBox``) is a ``malformed`` finding for its page, and work beyond a limit stops early
with a ``limit`` finding.

The ``pdfa`` checks are a documented subset of ISO 19005-2 that this module can test itself
(no full PDF/A validator installs here); see :func:`check_pdfa`.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from onestop_docs.imageio import Page
>>> from onestop_docs.pdf import build_pdf
>>> from onestop_docs.compliance import check_record, Rules
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.pdf"
>>> page = Page(np.full((1169, 827), 250, np.uint8), mode="L", dpi=(100.0, 100.0))
>>> build_pdf([page], output=path)
>>> report = check_record(path, rules=Rules(require_officer_signature=False, require_metadata=False))
>>> report.ok, sorted({f.rule for f in report.errors})
(False, ['colour', 'resolution'])
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ._deps import require_module
from ._pdfobj import (
    LimitReached,
    MalformedObject,
    all_dicts,
    integer,
    is_name,
    matmul,
    number,
    numbers,
    rect,
    stream_bytes,
    text,
)
from ._validate import check_int
from .errors import ComplianceError, InvalidArgumentError, MetadataError
from .imageio import DEFAULT_MAX_PIXELS
from .metadata import RecordMetadata, from_xml

__all__ = [
    "PAPER_SIZES_MM",
    "RULE_IDS",
    "ComplianceReport",
    "Finding",
    "PageReport",
    "Rules",
    "check_pdfa",
    "check_record",
]

#: Standard paper sizes, portrait (width, height) in mm; landscape is accepted too.
PAPER_SIZES_MM: tuple[tuple[str, float, float], ...] = (
    ("A4", 210.0, 297.0),
    ("A5", 148.0, 210.0),
    ("A3", 297.0, 420.0),
    ("Letter", 215.9, 279.4),
)

#: Every rule id a :class:`Finding` can carry; each has an entry in ``docs/regulations.md``
#: (:attr:`Finding.reference`) and a row in ``docs/findings.md``.
RULE_IDS: tuple[str, ...] = (
    "format",
    "file-size",
    "pdf-version",
    "pdfa",
    "resolution",
    "colour",
    "scale",
    "page-image",
    "page-count",
    "blank-page",
    "signature-officer",
    "signature-org",
    "metadata",
    "active-content",
    "malformed",
    "limit",
)

Severity = Literal["error", "warning"]
_MM_PER_PT = 25.4 / 72.0


@dataclass(frozen=True)
class Finding:
    """One broken rule: ``rule`` id, 1-based ``page`` (None = whole file), severity, message."""

    rule: str
    page: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = "file" if self.page is None else f"page {self.page}"
        return f"[{self.severity}] {self.rule} ({where}): {self.message}"

    @property
    def reference(self) -> str:
        """Where the rule is explained: its entry in the rules register, ``docs/regulations.md``.

        Examples
        --------
        >>> Finding("resolution", 2, "error", "150 dpi").reference
        'docs/regulations.md#rule-resolution'
        """
        return f"docs/regulations.md#rule-{self.rule}"


@dataclass(frozen=True)
class PageReport:
    """What was measured on one page (None where it could not be measured)."""

    number: int
    size_mm: tuple[float, float]
    paper: str | None
    dpi: tuple[float, float] | None
    colour: bool | None
    ink_fraction: float | None


@dataclass(frozen=True)
class Rules:
    """Which rules :func:`check_record` applies, with their limits.

    Attributes
    ----------
    min_version : tuple of int
        Lowest accepted PDF header version, default ``(1, 4)`` (NĐ 30/2020 PL I).
    require_colour : bool
        Page images must be colour ("Ảnh màu"), default True.
    min_dpi : float
        Lowest effective resolution, default 200.
    paper_sizes_mm : tuple
        Accepted paper sizes ``(name, width, height)``; default :data:`PAPER_SIZES_MM`.
    declared_size_mm : (float, float) or None
        Also accept this page size (e.g. a receipt), either orientation.
    size_tolerance_mm : float
        Tolerance on page and image size, default 3 mm (INFERRED: a scanner's rounding of
        A4 to whole pixels is < 0.1 mm; 3 mm accepts trimmed sheets and rejects 90 % scaling).
    blank_ink_fraction : float or None
        A page whose image has less than this fraction of dark pixels (grey < 128 after
        trimming a 4 % border) is flagged ``blank-page`` (warning); None disables.  Default 0.001.
    require_officer_signature, require_organisation_signature : bool
        Default True and False (the organisation signs electronic copies only).
    require_metadata : bool
        XMP with a dossier code must be present, default True.
    require_pdfa : bool
        Error when the file does not claim PDF/A; claims are always checked.  Default False.
    strict_pdfa : bool
        Count pikepdf's allowlist verdicts and a catalog version above 1.7 as errors rather
        than warnings (see :func:`check_pdfa`).  Default False.
    max_bytes : int or None
        Portal's per-file limit (TT 32/2017 Đ7 k3c); None = no limit.
    accepted_formats : tuple of str
        Portal's accepted formats; this checker reads ``"pdf"`` only.
    max_objects : int
        Most objects read from one file (cross-reference ``/Size`` and the object walk),
        default 1,000,000; beyond it a ``limit`` finding and the object walks stop.
    max_operators : int
        Most content-stream operators examined per page, forms included, default 1,000,000.
        Counted before parsing as the words of the stream that can be operators (an upper
        bound: words inside strings count too), so a 2-million-``q`` stream stops in
        milliseconds with a ``limit`` finding instead of being parsed.
    max_nesting : int
        Deepest nesting followed: direct dictionaries and arrays inside one object, action
        ``/Next`` chains and form XObjects inside forms; default 64.
    max_stream_bytes : int
        Most bytes one content stream may decode to, default 256 MiB (Flate streams are
        inflated with this bound, so a zip bomb stops early with a ``limit`` finding).

    Examples
    --------
    >>> Rules.default().min_dpi
    200.0
    """

    min_version: tuple[int, int] = (1, 4)
    require_colour: bool = True
    min_dpi: float = 200.0
    paper_sizes_mm: tuple[tuple[str, float, float], ...] = PAPER_SIZES_MM
    declared_size_mm: tuple[float, float] | None = None
    size_tolerance_mm: float = 3.0
    blank_ink_fraction: float | None = 0.001
    require_officer_signature: bool = True
    require_organisation_signature: bool = False
    require_metadata: bool = True
    require_pdfa: bool = False
    strict_pdfa: bool = False
    max_bytes: int | None = None
    accepted_formats: tuple[str, ...] = ("pdf",)
    max_objects: int = 1_000_000
    max_operators: int = 1_000_000
    max_nesting: int = 64
    max_stream_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        check_int(self.max_objects, "Rules.max_objects", 1)
        check_int(self.max_operators, "Rules.max_operators", 1)
        check_int(self.max_nesting, "Rules.max_nesting", 1)
        check_int(self.max_stream_bytes, "Rules.max_stream_bytes", 1)
        if not (
            isinstance(self.min_dpi, (int, float))
            and math.isfinite(self.min_dpi)
            and self.min_dpi > 0
        ):
            raise InvalidArgumentError(
                f"Rules.min_dpi must be a positive number, got {self.min_dpi!r}"
            )
        object.__setattr__(self, "min_dpi", float(self.min_dpi))
        if not (math.isfinite(self.size_tolerance_mm) and self.size_tolerance_mm >= 0):
            raise InvalidArgumentError(
                f"Rules.size_tolerance_mm must be >= 0, got {self.size_tolerance_mm!r}"
            )
        if self.max_bytes is not None:
            check_int(self.max_bytes, "Rules.max_bytes", 1)
        if self.blank_ink_fraction is not None and not 0 <= self.blank_ink_fraction < 1:
            raise InvalidArgumentError(
                f"Rules.blank_ink_fraction must be in [0, 1), got {self.blank_ink_fraction!r}"
            )
        formats = tuple(f.lower().lstrip(".") for f in self.accepted_formats)
        object.__setattr__(self, "accepted_formats", formats)

    @classmethod
    def default(cls) -> Rules:
        """The rules of NĐ 30/2020 and TT 01/2023 with the defaults above."""
        return cls()


@dataclass(frozen=True)
class ComplianceReport:
    """Result of :func:`check_record`.

    Attributes
    ----------
    path : str
    findings : tuple of Finding
        Every broken rule, in check order.
    pdf_version : str or None
    page_count : int
    pages : tuple of PageReport
    signatures : tuple of (field name, page, corner, signed)
        ``corner`` is ``"top-left"``, ``"top-right"``, ``"other"`` or ``"invisible"``.
    """

    path: str
    findings: tuple[Finding, ...]
    pdf_version: str | None = None
    page_count: int = 0
    pages: tuple[PageReport, ...] = ()
    signatures: tuple[tuple[str, int | None, str, bool], ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``"error"``."""
        return not self.errors

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings of severity ``"error"``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings of severity ``"warning"``."""
        return tuple(f for f in self.findings if f.severity == "warning")

    def raise_if_failed(self) -> None:
        """Raise :class:`ComplianceError` listing the errors, if any.

        Raises
        ------
        ComplianceError
            At least one error finding.
        """
        if self.errors:
            raise ComplianceError(f"{self.path}: " + "; ".join(str(f) for f in self.errors))


# ----------------------------------------------------------------------------- geometry


# Words that can be content-stream operators: start with a letter or a quote, delimited by
# white space or PDF delimiters.  Names (/Im0) and numbers do not match; words inside
# strings do, which makes the count an upper bound (ISO 32000-1 7.8.2).
_OPERATOR_WORD = re.compile(rb"(?<![^\s\[\]()<>{}%])[A-Za-z'\"][^\s\[\]()<>{}/%]*")


def _content_bytes(pk: Any, contents: Any, what: str, rules: Rules) -> bytes:
    if contents is None:
        return b""
    if isinstance(contents, pk.Array):
        parts = [
            stream_bytes(s, f"{what}[{i}]", rules.max_stream_bytes) for i, s in enumerate(contents)
        ]
        return b"\n".join(parts)
    return stream_bytes(contents, what, rules.max_stream_bytes)


def _placed_images(pk: Any, page: Any, rules: Rules) -> Iterator[tuple[Any, tuple[float, ...]]]:
    """Yield (image XObject, CTM) for every image painted on ``page``, forms included.

    At most ``rules.max_operators`` operators are examined on the page (all its forms
    together) and forms are followed ``rules.max_nesting`` deep; beyond either the walk stops
    with :class:`LimitReached`.  Malformed operands raise :class:`MalformedObject`.
    """
    budget = [rules.max_operators]

    def walk(
        owner: Any, data: bytes, resources: Any, base: tuple[float, ...], depth: int, what: str
    ) -> Iterator[tuple[Any, tuple[float, ...]]]:
        budget[0] -= len(_OPERATOR_WORD.findall(data))
        if budget[0] < 0:
            raise LimitReached(
                "Rules.max_operators",
                f"more than {rules.max_operators} content-stream operators on the page; "
                "the page's images were not examined",
            )
        ctm, stack = base, []
        xobjects = resources.get("/XObject") if isinstance(resources, pk.Dictionary) else None
        if xobjects is not None and not isinstance(xobjects, pk.Dictionary):
            raise MalformedObject(f"{what} /Resources /XObject must be a dictionary")
        for operands, op in pk.parse_content_stream(owner, "q Q cm Do"):
            name = text(op)
            if name == "q":
                stack.append(ctm)
            elif name == "Q":
                ctm = stack.pop() if stack else base
            elif name == "cm":
                if len(operands) != 6:
                    raise MalformedObject(f"{what}: cm needs 6 numbers, found {len(operands)}")
                matrix = tuple(number(v, f"{what}: cm operand") for v in operands)
                ctm = matmul(matrix, ctm)
            elif name == "Do" and operands:
                key = operands[0]
                xo = xobjects.get(text(key)) if xobjects is not None and is_name(key) else None
                if not isinstance(xo, pk.Stream):
                    continue  # nothing drawn (a missing resource is the viewer's problem)
                sub = xo.get("/Subtype")
                if sub == "/Image":
                    yield xo, ctm
                elif sub == "/Form":
                    if depth >= rules.max_nesting:
                        raise LimitReached(
                            "Rules.max_nesting", f"forms nested more than {rules.max_nesting} deep"
                        )
                    form = f"form {text(key)}"
                    raw_matrix = xo.get("/Matrix")
                    matrix = (
                        (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
                        if raw_matrix is None
                        else numbers(raw_matrix, f"{form} /Matrix", 6)
                    )
                    inner = xo.get("/Resources", resources)
                    yield from walk(
                        xo,
                        stream_bytes(xo, form, rules.max_stream_bytes),
                        inner,
                        matmul(matrix, ctm),
                        depth + 1,
                        form,
                    )

    contents = _content_bytes(pk, page.obj.get("/Contents"), "/Contents", rules)
    identity = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    yield from walk(page, contents, page.obj.get("/Resources"), identity, 0, "page content")


def _colour(pk: Any, image: Any) -> bool | None:
    if image.get("/ImageMask", False) is True:
        return False
    bpc = image.get("/BitsPerComponent", 8)
    if integer(bpc, "image /BitsPerComponent", 1, 32) == 1:
        return False
    cs = image.get("/ColorSpace")
    for _ in range(4):
        if cs is None:
            return None  # e.g. JPX with its own colour space
        if isinstance(cs, pk.Array) and len(cs) > 0:
            kind = text(cs[0]) if is_name(cs[0]) else ""
            if kind == "/ICCBased" and len(cs) > 1 and isinstance(cs[1], pk.Stream):
                return integer(cs[1].get("/N", 3), "ICC profile /N", 1, 32) >= 3
            if kind in ("/Indexed", "/I") and len(cs) > 1:
                cs = cs[1]
                continue
            if kind in ("/CalRGB", "/Lab"):
                return True
            if kind == "/CalGray":
                return False
            if kind == "/DeviceN" and len(cs) > 1 and isinstance(cs[1], pk.Array):
                return len(cs[1]) >= 3
            if kind == "/Separation":
                return False
            return None
        if not is_name(cs):
            return None
        return text(cs) in ("/DeviceRGB", "/DeviceCMYK", "/RGB", "/CMYK")
    return None


def _ink_fraction(pk: Any, image: Any, width: int, height: int) -> float | None:
    # Uploaded files are untrusted: never decode more pixels than a scan can have.
    if width * height > DEFAULT_MAX_PIXELS:
        return None
    try:
        filters = image.get("/Filter")
        if filters == "/DCTDecode":
            im = Image.open(io.BytesIO(image.read_raw_bytes()))
            if im.width * im.height > DEFAULT_MAX_PIXELS:  # the JPEG's own size counts
                return None
            im.draft("L", (max(1, im.width // 4), max(1, im.height // 4)))  # fast reduced decode
        else:
            # At most 4 components of 16 bits plus a predictor byte per row: more decoded
            # data than that is a zip bomb behind a small /Width x /Height.
            if not _inflates_within(pk, image, width * height * 8 + height + 4096):
                return None
            im = pk.PdfImage(image).as_pil_image()
        gray = np.asarray(im.convert("L"))
    except Exception:  # an undecodable image: the blank check is skipped, not guessed
        return None
    if gray.ndim != 2:
        return None
    h, w = gray.shape
    mh, mw = h * 4 // 100, w * 4 // 100
    core = gray[mh : h - mh or None, mw : w - mw or None]
    if core.size == 0:
        return None
    return float(np.count_nonzero(core < 128)) / core.size


def _inflates_within(pk: Any, stream: Any, limit: int) -> bool:
    """False when a Flate stream decodes to more than ``limit`` bytes (checked with a
    bounded inflate, before qpdf would inflate all of it)."""
    filters = stream.get("/Filter")
    chain = list(filters) if isinstance(filters, pk.Array) else [filters]
    if "/FlateDecode" not in chain:
        return True
    if len(chain) > 1:
        return False  # not measured: the blank check is skipped
    try:
        out = zlib.decompressobj().decompress(stream.read_raw_bytes(), limit + 1)
    except zlib.error:
        return True  # the decoder reports it
    return len(out) <= limit


def _paper(w_mm: float, h_mm: float, rules: Rules) -> str | None:
    sizes = list(rules.paper_sizes_mm)
    if rules.declared_size_mm is not None:
        sizes.append(("declared", *rules.declared_size_mm))
    tol = rules.size_tolerance_mm
    for name, pw, ph in sizes:
        if (abs(w_mm - pw) <= tol and abs(h_mm - ph) <= tol) or (
            abs(w_mm - ph) <= tol and abs(h_mm - pw) <= tol
        ):
            return name
    return None


# ----------------------------------------------------------------------------- XMP


#: XMP packets larger than this are not parsed (a record's XMP is a few KB).
_MAX_XMP_BYTES = 16 * 1024 * 1024


def _parse_xmp(pdf: Any) -> dict[str, str] | None:
    md = pdf.Root.get("/Metadata")
    if md is None:
        return None
    et = require_module("lxml.etree", "metadata")
    try:
        raw = stream_bytes(md, "XMP", _MAX_XMP_BYTES)
        parser = et.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        root = et.fromstring(raw.strip(), parser)
    except Exception:
        return {}
    if root.getroottree().docinfo.internalDTD is not None:
        return {}
    out: dict[str, str] = {}
    names = {
        "{http://www.aiim.org/pdfa/ns/id/}part": "pdfaid:part",
        "{http://www.aiim.org/pdfa/ns/id/}conformance": "pdfaid:conformance",
        "{http://ns.adobe.com/xap/1.0/}CreatorTool": "xmp:CreatorTool",
        "{http://ns.adobe.com/pdf/1.3/}Producer": "pdf:Producer",
        "{http://ns.adobe.com/pdf/1.3/}Keywords": "pdf:Keywords",
    }
    rdf = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
    dc = "{http://purl.org/dc/elements/1.1/}"
    for desc in root.iter(rdf + "Description"):
        for key, value in desc.attrib.items():  # simple properties may be attributes
            if key in names:
                out[names[key]] = value
            elif key == dc + "identifier":
                out["dc:identifier"] = value
        for el in desc:
            if not isinstance(el.tag, str):
                continue
            items = [li.text or "" for li in el.iter(rdf + "li")]
            if el.tag in names:
                out[names[el.tag]] = (el.text or "").strip()
            elif el.tag in (dc + "identifier", dc + "source"):
                out["dc:" + el.tag.split("}")[1]] = (el.text or "").strip()
            elif el.tag == dc + "relation":
                # Record codes as written by onestop_docs.pdf: "onestop:<Key>=<value>".
                for item in items:
                    key, sep, value = item.partition("=")
                    if sep and key.startswith("onestop:"):
                        out[key] = value
            elif el.tag in (dc + "title", dc + "description", dc + "creator"):
                local = el.tag.split("}")[1]
                out["dc:" + local] = items[0] if local != "creator" else ", ".join(items)
    return out


# ----------------------------------------------------------------------------- PDF/A subset

# ISO 19005-2 6.5.1 forbids these action types.
_FORBIDDEN_ACTIONS = frozenset(
    (
        "/JavaScript",
        "/Launch",
        "/Sound",
        "/Movie",
        "/ResetForm",
        "/ImportData",
        "/Hide",
        "/SetOCGState",
        "/Rendition",
        "/Trans",
        "/GoTo3DView",
    )
)


# Action types that run code, open other files or programs, or send data (ISO 32000-1 12.6.4).
_ACTIVE_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "a Launch action (starts a program)",
    "/SubmitForm": "a SubmitForm action",
    "/ImportData": "an ImportData action",
    "/GoToR": "a GoToR action (opens another file)",
    "/GoToE": "a GoToE action (opens an embedded file)",
    "/Rendition": "a Rendition action",
    "/RichMediaExecute": "a RichMediaExecute action",
    "/Movie": "a Movie action",
    "/Sound": "a Sound action",
}
_ACTIVE_ANNOTATIONS = ("/RichMedia", "/Screen", "/Movie", "/Sound", "/FileAttachment", "/3D")


def _active_kinds(pk: Any, d: Any) -> Iterator[str]:
    """What active content the dictionary ``d`` itself holds (not its children)."""
    action = d.get("/S")
    if is_name(action) and text(action) in _ACTIVE_ACTIONS:
        yield _ACTIVE_ACTIONS[text(action)]
    if "/JS" in d:
        yield "JavaScript"
    if "/AA" in d:
        yield "additional actions (/AA)"
    open_action = d.get("/OpenAction")
    if isinstance(open_action, pk.Dictionary) and open_action.get("/S") != "/GoTo":
        yield "an open action other than GoTo (/OpenAction)"
    if d.get("/Type") == "/EmbeddedFile" or "/EF" in d:
        yield "an embedded file"
    names = d.get("/Names")
    if isinstance(names, pk.Dictionary):
        if "/JavaScript" in names:
            yield "document JavaScript (/Names /JavaScript)"
        if "/EmbeddedFiles" in names:
            yield "embedded files (/Names /EmbeddedFiles)"
    subtype = d.get("/Subtype")
    if is_name(subtype) and text(subtype) in _ACTIVE_ANNOTATIONS and "/Rect" in d:
        yield f"a {text(subtype)[1:]} annotation"
    if "/XFA" in d:
        yield "an XFA form"
    if "/RichMediaContent" in d:
        yield "RichMedia content"


def _check_active_content(pk: Any, pdf: Any, rules: Rules, add: Any) -> None:
    """Add one ``active-content`` error per kind of active content found anywhere."""
    first: dict[str, Any] = {}
    for obj, d in all_dicts(pdf, rules.max_objects, rules.max_nesting):
        for kind in _active_kinds(pk, d):
            first.setdefault(kind, obj.objgen)
    for kind, where in first.items():
        add(
            "active-content",
            None,
            f"the file holds {kind} (first in object {where[0]} {where[1]}); a record must "
            "not carry active content",
        )


def check_pdfa(
    path: str | os.PathLike[str],
    *,
    use_pikepdf: bool = True,
    strict: bool = False,
    rules: Rules | None = None,
) -> tuple[Finding, ...]:
    """Check the PDF/A-2b requirements listed in ``docs/records.md`` that need no renderer.

    Covered (ISO 19005-2 clause): header and binary comment (6.1.2), trailer ID and no
    encryption (6.1.3), no external or LZW streams (6.1.7), output intent with an ICC profile
    whose colour space matches the device colour spaces used by images (6.2.3, 6.2.4.3),
    images without Alternates/OPI/Interpolate (6.2.8), every font embedded, CIDFontType2 with a
    CIDToGIDMap (6.2.11.3–4), annotations printable, not hidden, with appearances (6.3.2–3),
    no NeedAppearances (6.4.1), no JavaScript or Launch actions (6.5.1, 6.6.1), an unfiltered
    XMP stream claiming part 2 (6.6.2.1, 6.6.4), Info entries equal to their XMP counterparts
    (6.6.2.1), embedded files absent (6.8 allows only PDF/A ones; not verified here).

    When ``pikepdf.pdfa`` is installed (``pip install 'pikepdf[pdfa]'``, part of the ``pdf``
    extra), its allowlist validator runs as well.  It approves only what it knows to conform,
    so a denial may be a false alarm: its findings are warnings, and errors only with
    ``strict=True``.  Without it, font program internals, transparency and XMP schemas are
    not checked.

    Parameters
    ----------
    path : path
        The PDF file.
    use_pikepdf : bool
        Run pikepdf's validator when it is installed (default True).
    strict : bool
        Make pikepdf's violations and a catalog ``/Version`` above 1.7 errors (default False).
    rules : Rules, optional
        Supplies the limits (``max_objects``, ``max_nesting``); default :meth:`Rules.default`.

    Returns
    -------
    tuple of Finding
        Rule ``"pdfa"``; no error when every covered requirement holds.  A malformed object
        or a limit stops the checks with a ``malformed`` or ``limit`` error.

    Raises
    ------
    ComplianceError
        The file cannot be opened as a PDF.
    """
    pk: Any = require_module("pikepdf", "pdf")
    rules = Rules.default() if rules is None else rules
    with open(path, "rb") as fh:  # the header only: records can be hundreds of MB
        raw_head = fh.read(64)
    findings: list[Finding] = []

    def bad(message: str, page: int | None = None) -> None:
        findings.append(Finding("pdfa", page, "error", message))

    lines = raw_head.split(b"\n", 2) if b"\n" in raw_head else raw_head.split(b"\r", 2)
    if not re.match(rb"%PDF-\d\.\d", raw_head):
        bad("header is not %PDF-n.m at offset 0 (6.1.2)")
    elif len(lines) < 2 or not (
        lines[1].startswith(b"%") and sum(b > 127 for b in lines[1][1:5]) >= 4
    ):
        bad("the header is not followed by a comment of four bytes > 127 (6.1.2)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pdf = pk.open(path)
    except Exception as exc:
        raise ComplianceError(f"{path}: cannot open as PDF: {exc}") from None
    with pdf:
        try:
            _pdfa_catalog_checks(pk, pdf, strict, bad, findings)
            _pdfa_object_checks(pk, pdf, rules, bad)
        except LimitReached as exc:
            findings.append(Finding("limit", None, "error", f"PDF/A checks stopped: {exc}"))
        except (MalformedObject, pk.PdfError) as exc:
            findings.append(Finding("malformed", None, "error", f"PDF/A checks stopped: {exc}"))
    if use_pikepdf:
        findings.extend(_pikepdf_validator(path, strict))
    return tuple(findings)


def _pdfa_catalog_checks(
    pk: Any, pdf: Any, strict: bool, bad: Any, findings: list[Finding]
) -> None:
    version = pdf.Root.get("/Version")
    if version is not None and text(version).lstrip("/") > "1.7":
        # PDF/A-2 is based on PDF 1.7, but 6.1.2 only constrains the header (which is what
        # veraPDF checks); pikepdf's validator also rejects the catalog version.  pyHanko
        # raises it to 2.0 when it appends an ECDSA signature (ISO 32002).
        findings.append(
            Finding(
                "pdfa",
                None,
                "error" if strict else "warning",
                f"catalog /Version is {text(version)}, above PDF 1.7 (6.1.2, strict reading)",
            )
        )
    if pdf.is_encrypted:
        bad("the file is encrypted (6.1.3)")
    if "/ID" not in pdf.trailer:
        bad("the trailer has no /ID (6.1.3)")
    xmp = _parse_xmp(pdf)
    md = pdf.Root.get("/Metadata")
    if xmp is None or not isinstance(md, pk.Stream):
        bad("no XMP metadata stream in the catalog (6.6.2.1)")
        xmp = {}
    elif "/Filter" in md:
        bad("the XMP metadata stream is filtered (6.6.2.1)")
    if xmp.get("pdfaid:part") != "2" or xmp.get("pdfaid:conformance", "").upper() not in (
        "A",
        "B",
        "U",
    ):
        bad(f"XMP does not claim PDF/A-2 (pdfaid:part={xmp.get('pdfaid:part')!r})")
    info = pdf.trailer.get("/Info")
    if isinstance(info, pk.Dictionary):
        for key, xkey in (
            ("/Title", "dc:title"),
            ("/Producer", "pdf:Producer"),
            ("/Creator", "xmp:CreatorTool"),
            ("/Subject", "dc:description"),
            ("/Author", "dc:creator"),
        ):
            if key in info and text(info[key]) != xmp.get(xkey):
                bad(f"Info {key} {text(info[key])!r} differs from XMP {xkey} {xmp.get(xkey)!r}")
    raw_intents = pdf.Root.get("/OutputIntents")
    intents = [
        oi
        for oi in (raw_intents if isinstance(raw_intents, pk.Array) else [])
        if isinstance(oi, pk.Dictionary) and oi.get("/S") == "/GTS_PDFA1"
    ]
    if not intents:
        bad("no GTS_PDFA1 output intent (6.2.3)")
    else:
        profiles = [oi.get("/DestOutputProfile") for oi in intents]
        streams = {p.objgen for p in profiles if isinstance(p, pk.Stream)}
        if not streams:
            bad("the output intent has no DestOutputProfile stream (6.2.3)")
        elif len(streams) > 1:
            bad("several output intents with different profiles (6.2.3)")
    form = pdf.Root.get("/AcroForm")
    if isinstance(form, pk.Dictionary) and form.get("/NeedAppearances", False) is True:
        bad("AcroForm NeedAppearances is true (6.4.1)")
    names = pdf.Root.get("/Names")
    if isinstance(names, pk.Dictionary) and "/JavaScript" in names:
        bad("the document has JavaScript (6.6.1)")
    if isinstance(names, pk.Dictionary) and "/EmbeddedFiles" in names:
        bad("the document has embedded files; PDF/A-2 allows only PDF/A ones (6.8)")


def _output_intent_components(pk: Any, pdf: Any) -> int | None:
    raw_intents = pdf.Root.get("/OutputIntents")
    for oi in raw_intents if isinstance(raw_intents, pk.Array) else []:
        if isinstance(oi, pk.Dictionary) and oi.get("/S") == "/GTS_PDFA1":
            profile = oi.get("/DestOutputProfile")
            if isinstance(profile, pk.Stream):
                return integer(profile.get("/N", 0), "output intent profile /N", 0, 32)
    return None


def _pdfa_object_checks(pk: Any, pdf: Any, rules: Rules, bad: Any) -> None:
    intent_n = _output_intent_components(pk, pdf)
    for obj, d in all_dicts(pdf, rules.max_objects, rules.max_nesting):
        if d is obj and isinstance(obj, pk.Stream):
            filters = d.get("/Filter")
            flist = [text(f) for f in filters] if isinstance(filters, pk.Array) else [text(filters)]
            if "/LZWDecode" in flist:
                bad(f"stream {obj.objgen} uses LZWDecode (6.1.7.2)")
            if "/F" in d:
                bad(f"stream {obj.objgen} refers to an external file (6.1.7.1)")
            if d.get("/Subtype") == "/Image":
                if "/Alternates" in d or "/OPI" in d or d.get("/Interpolate", False) is True:
                    bad(f"image {obj.objgen} has Alternates, OPI or Interpolate (6.2.8)")
                cs = d.get("/ColorSpace")
                if cs == "/DeviceRGB" and intent_n != 3:
                    bad(f"image {obj.objgen} uses DeviceRGB without an RGB output intent (6.2.4.3)")
                if cs == "/DeviceCMYK" and intent_n != 4:
                    bad(
                        f"image {obj.objgen} uses DeviceCMYK without a CMYK output intent (6.2.4.3)"
                    )
            continue
        if isinstance(d, pk.Stream):
            continue
        if d.get("/S") in _FORBIDDEN_ACTIONS:
            bad(f"object {obj.objgen} holds a forbidden action (JavaScript, Launch, ...) (6.5.1)")
        typ, sub = d.get("/Type"), d.get("/Subtype")
        # Fonts as indirect objects only: a direct /DR font of a form is not drawn (veraPDF
        # checks the fonts used).
        if d is obj and typ == "/Font" and sub not in ("/Type0", "/Type3"):
            desc = d.get("/FontDescriptor")
            if not isinstance(desc, pk.Dictionary) or not any(
                k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                bad(f"font {text(d.get('/BaseFont'))} is not embedded (6.2.11.4)")
            if sub == "/CIDFontType2" and "/CIDToGIDMap" not in d:
                bad(f"CIDFontType2 {text(d.get('/BaseFont'))} has no CIDToGIDMap (6.2.11.3.2)")
    for page_no, page in enumerate(pdf.pages, start=1):
        for annot in _annotations(pk, page):
            sub = text(annot.get("/Subtype"))
            if sub == "/Popup":
                continue
            flags = integer(annot.get("/F", 0), f"annotation {sub} /F", 0, 2**32 - 1)
            if not flags & 4 or flags & (1 | 2 | 32):
                bad(f"annotation {sub} must be printable and not hidden (6.3.2)", page_no)
            raw = annot.get("/Rect")
            r = (0.0, 0.0, 0.0, 0.0) if raw is None else rect(raw, f"annotation {sub} /Rect")
            zero = r[2] - r[0] < 1e-9 or r[3] - r[1] < 1e-9
            if sub != "/Link" and not zero and "/AP" not in annot:
                bad(f"annotation {sub} has no appearance stream (6.3.3)", page_no)


def _pikepdf_validator(path: str | os.PathLike[str], strict: bool) -> list[Finding]:
    try:
        import pikepdf.pdfa as pdfa_mod  # needs jsonschema, referencing, fontTools
    except ImportError:
        return []
    try:
        report: Any = pdfa_mod.validate_written(os.fspath(path), "2b")
    except Exception as exc:  # its failure on a hostile file is reported, not raised
        return [Finding("pdfa", None, "warning", f"pikepdf.pdfa could not check the file: {exc}")]
    out = []
    for f in report.findings:
        severity: Severity = "error" if strict and f.kind == "violation" else "warning"
        out.append(
            Finding("pdfa", None, severity, f"pikepdf.pdfa {f.rule} at {f.where}: {f.message}")
        )
    return out


# ----------------------------------------------------------------------------- main check


def check_record(
    pdf_path: str | os.PathLike[str],
    *,
    rules: Rules | None = None,
    metadata: RecordMetadata | bytes | str | os.PathLike[str] | None = None,
    declared_pages: int | None = None,
) -> ComplianceReport:
    """Check a digitized record (PDF) against the digitization rules.

    Parameters
    ----------
    pdf_path : path
        The PDF to check.
    rules : Rules, optional
        Default :meth:`Rules.default`.
    metadata : RecordMetadata, XML bytes/str, or path of the XML, optional
        The record's metadata file; its codes and page count must agree with the XMP.
    declared_pages : int, optional
        Physical page count declared at intake; default the metadata's ``PageAmount``, else the
        XMP ``onestop:PageCount``.

    Returns
    -------
    ComplianceReport
        ``.ok`` is False when any finding is an error.

    Raises
    ------
    InvalidArgumentError
        Bad ``rules``, ``declared_pages`` or ``metadata`` type.
    MetadataError
        ``metadata`` is XML that cannot be parsed or is not schema-valid.
    FileNotFoundError
        ``pdf_path`` does not exist.

    Examples
    --------
    >>> Rules(min_dpi=300).min_dpi
    300.0
    """
    pk: Any = require_module("pikepdf", "pdf")
    rules = Rules.default() if rules is None else rules
    if not isinstance(rules, Rules):
        raise InvalidArgumentError(f"rules must be Rules, got {type(rules).__name__}")
    if declared_pages is not None:
        check_int(declared_pages, "declared_pages", 0)
    record = _load_record(metadata)
    path = Path(pdf_path)
    name = str(path)
    size = path.stat().st_size
    findings: list[Finding] = []

    def add(rule: str, page: int | None, message: str, severity: Severity = "error") -> None:
        findings.append(Finding(rule, page, severity, message))

    with open(path, "rb") as fh:
        head = fh.read(1024)
    if rules.max_bytes is not None and size > rules.max_bytes:
        add(
            "file-size", None, f"file is {size} bytes, the portal accepts at most {rules.max_bytes}"
        )
    m = re.search(rb"%PDF-(\d)\.(\d)", head)
    if m is None:
        add("format", None, "not a PDF file (no %PDF- header in the first 1024 bytes)")
        return ComplianceReport(name, tuple(findings))
    if "pdf" not in rules.accepted_formats:
        add("format", None, f"PDF is not among the accepted formats {rules.accepted_formats}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pdf = pk.open(path)
    except Exception as exc:
        add("format", None, f"cannot be opened as a PDF: {exc}")
        return ComplianceReport(name, tuple(findings))
    with pdf:
        header = (int(m.group(1)), int(m.group(2)))
        version = header
        catalog_version = pdf.Root.get("/Version")  # the catalog may raise the version (7.2.2)
        if is_name(catalog_version):
            cm = re.fullmatch(r"/?(\d)\.(\d)", text(catalog_version))
            if cm:
                version = max(version, (int(cm.group(1)), int(cm.group(2))))
        version_str = f"{version[0]}.{version[1]}"
        if version < rules.min_version:
            add(
                "pdf-version",
                None,
                f"PDF version is {version_str}, at least "
                f"{rules.min_version[0]}.{rules.min_version[1]} required (NĐ 30/2020 PL I)",
            )
        pages: list[PageReport] = []
        signatures: tuple[tuple[str, int | None, str, bool], ...] = ()
        xmp: dict[str, str] | None = None
        try:
            for page_no, page in enumerate(pdf.pages, start=1):
                pages.append(_check_page(pk, page, page_no, rules, add))
            xmp = _parse_xmp(pdf)
            signatures = _check_signatures(pk, pdf, rules, add)
        except pk.PdfError as exc:  # a page tree or form qpdf cannot repair
            add("malformed", None, f"the file's structure cannot be read: {exc}")
        try:
            _check_active_content(pk, pdf, rules, add)
        except LimitReached as exc:
            add("limit", None, f"the active-content scan stopped: {exc}")
        except pk.PdfError as exc:
            add("malformed", None, f"the active-content scan stopped: {exc}")
        n_pages = len(pages)
        if n_pages == 0:
            add("format", None, "the PDF has no readable page")
        _check_metadata(xmp, record, rules, n_pages, declared_pages, add)
        if xmp and xmp.get("pdfaid:part"):
            for f in check_pdfa(path, strict=rules.strict_pdfa, rules=rules):
                findings.append(f)
        elif rules.require_pdfa:
            add("pdfa", None, "the file does not claim PDF/A (no pdfaid:part in XMP)")
    return ComplianceReport(name, tuple(findings), version_str, n_pages, tuple(pages), signatures)


def _load_record(metadata: Any) -> RecordMetadata | None:
    if metadata is None or isinstance(metadata, RecordMetadata):
        return metadata
    if isinstance(metadata, (bytes, bytearray)):
        return from_xml(bytes(metadata))
    if isinstance(metadata, str) and metadata.lstrip().startswith("<"):
        return from_xml(metadata)
    if isinstance(metadata, (str, os.PathLike)):
        try:
            data = Path(metadata).read_bytes()
        except OSError as exc:
            raise MetadataError(
                f"cannot read metadata file {os.fspath(metadata)!r}: {exc}"
            ) from None
        return from_xml(data)
    raise InvalidArgumentError(
        f"metadata must be RecordMetadata, XML bytes/str or a path, got {type(metadata).__name__}"
    )


def _inherited(pk: Any, node: Any, key: str, rules: Rules) -> Any:
    """Look ``key`` up on a page and its /Pages ancestors (ISO 32000-1 7.7.3.4)."""
    seen: set[tuple[int, int]] = set()
    for _ in range(rules.max_nesting):
        if not isinstance(node, pk.Dictionary):
            return None
        if key in node:
            return node.get(key)
        if node.is_indirect:
            if node.objgen in seen:
                return None
            seen.add(node.objgen)
        node = node.get("/Parent")
    return None


def _page_size_pt(pk: Any, page: Any, rules: Rules) -> tuple[float, float, float]:
    """(width, height, user unit) of the page's crop box in points, unrotated."""
    raw = _inherited(pk, page.obj, "/CropBox", rules)
    which = "/CropBox"
    if raw is None:
        raw, which = _inherited(pk, page.obj, "/MediaBox", rules), "/MediaBox"
    if raw is None:
        raise MalformedObject("the page has no /MediaBox")
    box = rect(raw, which, nonempty=True)
    raw_unit = page.obj.get("/UserUnit")
    unit = 1.0 if raw_unit is None else number(raw_unit, "/UserUnit")
    if not 0 < unit <= 75000:  # ISO 32000-1 Annex C: 14,400,000 inch pages at most
        raise MalformedObject(f"/UserUnit must be in (0, 75000], found {unit}")
    return (box[2] - box[0]) * unit, (box[3] - box[1]) * unit, unit


def _check_page(pk: Any, page: Any, page_no: int, rules: Rules, add: Any) -> PageReport:
    """Measure one page; a malformed object or a limit becomes a finding for the page."""
    try:
        return _measure_page(pk, page, page_no, rules, add)
    except LimitReached as exc:
        add("limit", page_no, str(exc))
    except MalformedObject as exc:
        add("malformed", page_no, f"malformed page object: {exc}")
    except pk.PdfError as exc:
        add("malformed", page_no, f"the page cannot be read: {exc}")
    return PageReport(page_no, (0.0, 0.0), None, None, None, None)


def _measure_page(pk: Any, page: Any, page_no: int, rules: Rules, add: Any) -> PageReport:
    w_pt, h_pt, unit = _page_size_pt(pk, page, rules)
    # The image is drawn in unrotated user space; /Rotate only turns the displayed page.
    user_w_mm, user_h_mm = w_pt * _MM_PER_PT, h_pt * _MM_PER_PT
    w_mm, h_mm = user_w_mm, user_h_mm
    rotate = integer(_inherited(pk, page.obj, "/Rotate", rules) or 0, "/Rotate")
    if rotate % 90:
        raise MalformedObject(f"/Rotate must be a multiple of 90, found {rotate}")
    if rotate % 180 == 90:
        w_mm, h_mm = h_mm, w_mm
    paper = _paper(w_mm, h_mm, rules)
    if paper is None:
        add(
            "scale",
            page_no,
            f"page is {w_mm:.1f} x {h_mm:.1f} mm, not A4/A5/A3/Letter or the "
            f"declared size within {rules.size_tolerance_mm} mm (100 % scale required)",
        )
    images = []
    for image, ctm in _placed_images(pk, page, rules):
        a, b, c, d = (v * unit for v in ctm[:4])
        pw, ph = math.hypot(a, b), math.hypot(c, d)
        if pw * ph >= 0.1 * w_pt * h_pt:  # logos and stamps are not the page scan
            images.append((pw * ph, image, pw, ph, ctm))
    if not images:
        add("page-image", page_no, "no page-sized image: a digitized page is one scanned image")
        return PageReport(page_no, (w_mm, h_mm), paper, None, None, None)
    if len(images) > 1:
        add(
            "page-image",
            page_no,
            f"{len(images)} page-sized images on one page, expected 1",
            "warning",
        )
    _, image, pw, ph, ctm = max(images, key=lambda t: t[0])
    px_w = integer(image.get("/Width"), "image /Width", 1, 2**31 - 1)
    px_h = integer(image.get("/Height"), "image /Height", 1, 2**31 - 1)
    # With a rotation in the CTM the image's width runs along the page's height.
    dpi = (px_w / (pw / 72.0), px_h / (ph / 72.0))
    if min(dpi) < rules.min_dpi - 0.5:
        add(
            "resolution",
            page_no,
            f"effective resolution {dpi[0]:.0f} x {dpi[1]:.0f} dpi, at "
            f"least {rules.min_dpi:.0f} required",
        )
    placed_w, placed_h = pw * _MM_PER_PT, ph * _MM_PER_PT
    if abs(ctm[1]) > abs(ctm[0]):  # quarter-turned image
        placed_w, placed_h = placed_h, placed_w
    tol = rules.size_tolerance_mm
    if abs(placed_w - user_w_mm) > tol or abs(placed_h - user_h_mm) > tol:
        add(
            "scale",
            page_no,
            f"the scan is drawn at {placed_w:.1f} x {placed_h:.1f} mm on a {user_w_mm:.1f} x "
            f"{user_h_mm:.1f} mm page ({100 * placed_w / user_w_mm:.0f} %): not 100 % scale",
        )
    colour = _colour(pk, image)
    if rules.require_colour and colour is not True:
        what = "unknown colour space" if colour is None else "grey or bitonal"
        add(
            "colour",
            page_no,
            f"the page image is {what}; colour images are required (ảnh màu)",
            "warning" if colour is None else "error",
        )
    ink = None
    if rules.blank_ink_fraction is not None:
        ink = _ink_fraction(pk, image, px_w, px_h)
    if ink is not None and rules.blank_ink_fraction is not None and ink < rules.blank_ink_fraction:
        add(
            "blank-page",
            page_no,
            f"page looks blank ({100 * ink:.3f} % dark pixels); kept and flagged, never dropped",
            "warning",
        )
    return PageReport(page_no, (w_mm, h_mm), paper, dpi, colour, ink)


def _annotations(pk: Any, page: Any) -> list[Any]:
    """The page's annotation dictionaries (malformed entries skipped)."""
    annots = page.obj.get("/Annots")
    if not isinstance(annots, pk.Array):
        return []
    return [a for a in annots if isinstance(a, pk.Dictionary)]


def _signature_fields(pk: Any, pdf: Any, rules: Rules) -> Iterator[tuple[str, Any, Any]]:
    """Yield (name, field, widget) for every signature field's widget."""
    form = pdf.Root.get("/AcroForm")
    fields = form.get("/Fields") if isinstance(form, pk.Dictionary) else None
    if not isinstance(fields, pk.Array):
        return
    todo = [(f, "", 0) for f in fields]
    seen: set[tuple[int, int]] = set()
    visited = 0
    while todo and visited < rules.max_objects:
        visited += 1
        node, prefix, depth = todo.pop()
        if not isinstance(node, pk.Dictionary) or depth > rules.max_nesting:
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue  # a /Kids cycle
            seen.add(node.objgen)
        title = node.get("/T")
        name = prefix + (str(title) if isinstance(title, pk.String) else "")
        ft = node.get("/FT")
        kids = node.get("/Kids")
        kids = (
            [k for k in kids if isinstance(k, pk.Dictionary)] if isinstance(kids, pk.Array) else []
        )
        if ft == "/Sig" or (ft is None and "/V" in node and "/Parent" in node):
            for kid in kids or [node]:
                yield name, node, kid
        else:
            todo.extend((k, name + ".", depth + 1) for k in kids)


def _check_signatures(
    pk: Any, pdf: Any, rules: Rules, add: Any
) -> tuple[tuple[str, int | None, str, bool], ...]:
    page_of: dict[Any, tuple[int | None, Any]] = {}
    for page_no, page in enumerate(pdf.pages, start=1):
        for annot in _annotations(pk, page):
            if annot.is_indirect:
                page_of[annot.objgen] = (page_no, page)
    found: list[tuple[str, int | None, str, bool]] = []
    for name, fld, widget in _signature_fields(pk, pdf, rules):
        value = fld.get("/V")
        signed = isinstance(value, pk.Dictionary) and "/Contents" in value
        page_number, page = (
            page_of.get(widget.objgen, (None, None)) if widget.is_indirect else (None, None)
        )
        corner = "other"
        try:
            raw = widget.get("/Rect")
            r = (0.0, 0.0, 0.0, 0.0) if raw is None else rect(raw, f"signature field {name} /Rect")
            if r[2] - r[0] < 1e-6 or r[3] - r[1] < 1e-6 or page is None:
                corner = "invisible"
            else:
                raw_box = _inherited(pk, page.obj, "/CropBox", rules)
                if raw_box is None:
                    raw_box = _inherited(pk, page.obj, "/MediaBox", rules)
                box = rect(raw_box, "/MediaBox", nonempty=True)
                cx = ((r[0] + r[2]) / 2 - box[0]) / (box[2] - box[0])
                cy = ((r[1] + r[3]) / 2 - box[1]) / (box[3] - box[1])
                if cy > 0.5:
                    corner = "top-left" if cx < 0.5 else "top-right"
        except MalformedObject as exc:
            add("malformed", page_number, f"malformed signature field: {exc}")
            corner = "invisible"
        found.append((name, page_number, corner, signed))
    for role, required, corner, rule, source in (
        (
            "scanning officer",
            rules.require_officer_signature,
            "top-left",
            "signature-officer",
            "TT 01/2023/TT-VPCP Điều 8 k1",
        ),
        (
            "organisation",
            rules.require_organisation_signature,
            "top-right",
            "signature-org",
            "NĐ 30/2020 Phụ lục I",
        ),
    ):
        if not required:
            continue
        hits = [s for s in found if s[1] == 1 and s[2] == corner]
        if not hits:
            add(
                rule,
                1,
                f"no signature field of the {role} at the {corner} of page 1 ({source}); "
                f"found {len(found)} signature field(s)",
            )
        elif not any(s[3] for s in hits):
            add(rule, 1, f"the {role}'s signature field at the {corner} of page 1 is not signed")
    return tuple(found)


def _check_metadata(
    xmp: dict[str, str] | None,
    record: RecordMetadata | None,
    rules: Rules,
    n_pages: int,
    declared_pages: int | None,
    add: Any,
) -> None:
    xmp = xmp or {}
    dossier = xmp.get("onestop:DossierCode") or xmp.get("dc:identifier")
    if rules.require_metadata and not dossier:
        add("metadata", None, "no XMP metadata with the dossier code (mã số hồ sơ)")
    elif dossier and xmp.get("dc:identifier", dossier) != dossier:
        add(
            "metadata",
            None,
            f"XMP dc:identifier {xmp['dc:identifier']!r} differs from "
            f"onestop:DossierCode {dossier!r}",
        )
    if dossier:
        _check_code(dossier, "DossierCode", add)
    notation = xmp.get("onestop:DocumentCode")
    if notation:
        _check_code(notation, "DocumentNotation", add)
    if record is not None:
        pairs = (
            ("DossierCode", record.dossier_code),
            ("DocumentCode", record.document_code),
            ("ResultCode", record.result_code),
            ("ComponentCode", record.component_code),
            ("ProcedureCode", record.procedure_code),
            ("AgencyId", record.organ_id),
        )
        for key, expected in pairs:
            got = xmp.get("onestop:" + key)
            if expected is not None and got != expected:
                add(
                    "metadata",
                    None,
                    f"metadata XML {key} is {expected!r} but the PDF's XMP has {got!r}",
                )
        if record.pages and len(record.pages) != record.page_amount:
            add(
                "metadata",
                None,
                "metadata XML lists a different number of page digests than PageAmount",
            )
    if declared_pages is None and record is not None and record.page_amount:
        declared_pages = record.page_amount
    if declared_pages is None and xmp.get("onestop:PageCount", "").isdigit():
        declared_pages = int(xmp["onestop:PageCount"])
    if declared_pages is None:
        add("page-count", None, "no declared physical page count to compare with", "warning")
    elif declared_pages != n_pages:
        add(
            "page-count",
            None,
            f"the PDF has {n_pages} pages but {declared_pages} physical pages "
            "were declared (TT 01/2023 Điều 8 k2c)",
        )


def _check_code(value: str, kind: str, add: Any) -> None:
    """Validate a code with :mod:`onestop_docs.codes` when that module is available."""
    try:
        codes: Any = __import__("onestop_docs.codes", fromlist=[kind])
        parser = getattr(codes, kind)
    except (ImportError, AttributeError):
        return  # the codes module is optional here; without it the code is compared, not parsed
    try:
        parser.parse(value)
    except ValueError as exc:
        add("metadata", None, f"XMP {kind} {value!r} is not valid: {exc}")
