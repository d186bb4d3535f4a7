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
======================  ===========================================================  ==========

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ._deps import require_module
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

    def __post_init__(self) -> None:
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


def _matmul(m: tuple[float, ...], n: tuple[float, ...]) -> tuple[float, ...]:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _placed_images(pk: Any, page: Any) -> Iterator[tuple[Any, tuple[float, ...]]]:
    """Yield (image XObject, CTM) for every image painted on ``page`` (forms followed 4 deep)."""

    def walk(
        contents: Any, resources: Any, base: tuple[float, ...], depth: int
    ) -> Iterator[tuple[Any, tuple[float, ...]]]:
        ctm, stack = base, []
        xobjects = resources.get("/XObject", {}) if resources is not None else {}
        for operands, op in pk.parse_content_stream(contents, "q Q cm Do"):
            name = str(op)
            if name == "q":
                stack.append(ctm)
            elif name == "Q":
                ctm = stack.pop() if stack else base
            elif name == "cm" and len(operands) == 6:
                ctm = _matmul(tuple(float(v) for v in operands), ctm)
            elif name == "Do" and operands:
                xo = xobjects.get(str(operands[0])) if xobjects else None
                if xo is None:
                    continue
                sub = xo.get("/Subtype")
                if sub == "/Image":
                    yield xo, ctm
                elif sub == "/Form" and depth < 4:
                    matrix = tuple(float(v) for v in xo.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                    yield from walk(
                        xo, xo.get("/Resources", resources), _matmul(matrix, ctm), depth + 1
                    )

    yield from walk(page, page.obj.get("/Resources"), (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), 0)


def _colour(pk: Any, image: Any) -> bool | None:
    if image.get("/ImageMask", False) or int(image.get("/BitsPerComponent", 8)) == 1:
        return False
    cs = image.get("/ColorSpace")
    for _ in range(4):
        if cs is None:
            return None  # e.g. JPX with its own colour space
        if isinstance(cs, pk.Array) and len(cs) > 0:
            kind = str(cs[0])
            if kind == "/ICCBased":
                return int(cs[1].get("/N", 3)) >= 3
            if kind in ("/Indexed", "/I"):
                cs = cs[1]
                continue
            if kind in ("/CalRGB", "/Lab"):
                return True
            if kind == "/CalGray":
                return False
            if kind in ("/Separation", "/DeviceN"):
                return kind == "/DeviceN" and len(cs[1]) >= 3
            return None
        name = str(cs)
        return name in ("/DeviceRGB", "/DeviceCMYK", "/RGB", "/CMYK")
    return None


def _ink_fraction(pk: Any, image: Any) -> float | None:
    # Uploaded files are untrusted: never decode more pixels than a scan can have.
    if int(image.get("/Width", 0)) * int(image.get("/Height", 0)) > DEFAULT_MAX_PIXELS:
        return None
    try:
        filters = image.get("/Filter")
        if filters == "/DCTDecode":
            im = Image.open(io.BytesIO(image.read_raw_bytes()))
            im.draft("L", (max(1, im.width // 4), max(1, im.height // 4)))  # fast reduced decode
        else:
            im = pk.PdfImage(image).as_pil_image()
        gray = np.asarray(im.convert("L"))
    except Exception:  # an undecodable image: the blank check is skipped, not guessed
        return None
    h, w = gray.shape
    mh, mw = h * 4 // 100, w * 4 // 100
    core = gray[mh : h - mh or None, mw : w - mw or None]
    if core.size == 0:
        return None
    return float(np.count_nonzero(core < 128)) / core.size


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


def _parse_xmp(pdf: Any) -> dict[str, str] | None:
    md = pdf.Root.get("/Metadata")
    if md is None:
        return None
    et = require_module("lxml.etree", "metadata")
    try:
        raw = md.read_bytes()
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


def _direct_dicts(pk: Any, obj: Any, depth: int) -> Iterator[Any]:
    """``obj`` and the dictionaries nested in it directly (not through indirect references)."""
    yield obj
    if depth >= 6:
        return
    values = obj.values() if isinstance(obj, pk.Dictionary) else obj
    for value in values:
        if isinstance(value, (pk.Dictionary, pk.Array)) and not value.is_indirect:
            for d in _direct_dicts(pk, value, depth + 1):
                if isinstance(d, pk.Dictionary):
                    yield d


def check_pdfa(
    path: str | os.PathLike[str], *, use_pikepdf: bool = True, strict: bool = False
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

    Returns
    -------
    tuple of Finding
        Rule ``"pdfa"``; no error when every covered requirement holds.

    Raises
    ------
    ComplianceError
        The file cannot be opened as a PDF.
    """
    pk: Any = require_module("pikepdf", "pdf")
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
        pdf = pk.open(path)
    except Exception as exc:
        raise ComplianceError(f"{path}: cannot open as PDF: {exc}") from None
    with pdf:
        version = pdf.Root.get("/Version")
        if version is not None and str(version).lstrip("/") > "1.7":
            # PDF/A-2 is based on PDF 1.7, but 6.1.2 only constrains the header (which is what
            # veraPDF checks); pikepdf's validator also rejects the catalog version.  pyHanko
            # raises it to 2.0 when it appends an ECDSA signature (ISO 32002).
            findings.append(
                Finding(
                    "pdfa",
                    None,
                    "error" if strict else "warning",
                    f"catalog /Version is {version}, above PDF 1.7 (6.1.2, strict reading)",
                )
            )
        if pdf.is_encrypted:
            bad("the file is encrypted (6.1.3)")
        if "/ID" not in pdf.trailer:
            bad("the trailer has no /ID (6.1.3)")
        xmp = _parse_xmp(pdf)
        md = pdf.Root.get("/Metadata")
        if xmp is None or md is None:
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
        if info is not None:
            for key, xkey in (
                ("/Title", "dc:title"),
                ("/Producer", "pdf:Producer"),
                ("/Creator", "xmp:CreatorTool"),
                ("/Subject", "dc:description"),
                ("/Author", "dc:creator"),
            ):
                if key in info and str(info[key]) != xmp.get(xkey):
                    bad(f"Info {key} {str(info[key])!r} differs from XMP {xkey} {xmp.get(xkey)!r}")
        intents = [oi for oi in pdf.Root.get("/OutputIntents", []) if oi.get("/S") == "/GTS_PDFA1"]
        intent_n = None
        if not intents:
            bad("no GTS_PDFA1 output intent (6.2.3)")
        else:
            profiles = {
                oi.get("/DestOutputProfile").objgen for oi in intents if "/DestOutputProfile" in oi
            }
            if not profiles:
                bad("the output intent has no DestOutputProfile (6.2.3)")
            elif len(profiles) > 1:
                bad("several output intents with different profiles (6.2.3)")
            else:
                intent_n = int(intents[0].DestOutputProfile.get("/N", 0))
        if "/AcroForm" in pdf.Root and pdf.Root.AcroForm.get("/NeedAppearances", False):
            bad("AcroForm NeedAppearances is true (6.4.1)")
        names = pdf.Root.get("/Names")
        if names is not None and "/JavaScript" in names:
            bad("the document has JavaScript (6.6.1)")
        if names is not None and "/EmbeddedFiles" in names:
            bad("the document has embedded files; PDF/A-2 allows only PDF/A ones (6.8)")
        for obj in pdf.objects:
            if isinstance(obj, pk.Stream):
                d = obj.stream_dict
                filters = d.get("/Filter")
                flist = (
                    [str(f) for f in filters] if isinstance(filters, pk.Array) else [str(filters)]
                )
                if "/LZWDecode" in flist:
                    bad(f"stream {obj.objgen} uses LZWDecode (6.1.7.2)")
                if "/F" in d:
                    bad(f"stream {obj.objgen} refers to an external file (6.1.7.1)")
                if d.get("/Subtype") == "/Image":
                    if "/Alternates" in d or "/OPI" in d or d.get("/Interpolate", False):
                        bad(f"image {obj.objgen} has Alternates, OPI or Interpolate (6.2.8)")
                    cs = str(d.get("/ColorSpace", ""))
                    if cs == "/DeviceRGB" and intent_n != 3:
                        bad(
                            f"image {obj.objgen} uses DeviceRGB without an RGB output intent (6.2.4.3)"
                        )
                    if cs == "/DeviceCMYK" and intent_n != 4:
                        bad(
                            f"image {obj.objgen} uses DeviceCMYK without a CMYK output intent (6.2.4.3)"
                        )
                continue
            if not isinstance(obj, pk.Dictionary):
                continue
            typ, sub = obj.get("/Type"), obj.get("/Subtype")
            if any(d.get("/S") in _FORBIDDEN_ACTIONS for d in _direct_dicts(pk, obj, 0)):
                bad(
                    f"object {obj.objgen} holds a forbidden action (JavaScript, Launch, ...) (6.5.1)"
                )
            if typ == "/Font" and sub not in ("/Type0", "/Type3"):
                desc = obj.get("/FontDescriptor")
                if desc is None or not any(
                    k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")
                ):
                    bad(f"font {obj.get('/BaseFont')} is not embedded (6.2.11.4)")
                if sub == "/CIDFontType2" and "/CIDToGIDMap" not in obj:
                    bad(f"CIDFontType2 {obj.get('/BaseFont')} has no CIDToGIDMap (6.2.11.3.2)")
        for number, page in enumerate(pdf.pages, start=1):
            for annot in page.obj.get("/Annots", []):
                sub = annot.get("/Subtype")
                if sub == "/Popup":
                    continue
                flags = int(annot.get("/F", 0))
                if not flags & 4 or flags & (1 | 2 | 32):
                    bad(f"annotation {sub} must be printable and not hidden (6.3.2)", number)
                rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
                zero = abs(rect[2] - rect[0]) < 1e-9 or abs(rect[3] - rect[1]) < 1e-9
                if sub != "/Link" and not zero and "/AP" not in annot:
                    bad(f"annotation {sub} has no appearance stream (6.3.3)", number)
    if use_pikepdf:
        findings.extend(_pikepdf_validator(path, strict))
    return tuple(findings)


def _pikepdf_validator(path: str | os.PathLike[str], strict: bool) -> list[Finding]:
    try:
        import pikepdf.pdfa as pdfa_mod  # needs jsonschema, referencing, fontTools
    except ImportError:
        return []
    report: Any = pdfa_mod.validate_written(os.fspath(path), "2b")
    out = []
    for f in report.findings:
        severity: Severity = "error" if strict and f.kind == "violation" else "warning"
        out.append(
            Finding("pdfa", None, severity, f"pikepdf.pdfa {f.rule} at {f.where}: {f.message}")
        )
    return out


# ----------------------------------------------------------------------------- main check


def _signature_fields(pk: Any, pdf: Any) -> Iterator[tuple[str, Any, Any]]:
    """Yield (name, field, widget) for every signature field's widget."""
    form = pdf.Root.get("/AcroForm")
    if form is None:
        return
    todo = [(f, "") for f in form.get("/Fields", [])]
    seen = 0
    while todo and seen < 10000:
        seen += 1
        node, prefix = todo.pop()
        name = prefix + str(node.get("/T", ""))
        ft = node.get("/FT")
        kids = node.get("/Kids")
        if ft == "/Sig" or (ft is None and "/V" in node and "/Parent" in node):
            if kids:
                for kid in kids:
                    yield name, node, kid
            else:
                yield name, node, node
        elif kids:
            todo.extend((k, name + ".") for k in kids)


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
        if catalog_version is not None:
            cm = re.fullmatch(r"/?(\d)\.(\d)", str(catalog_version))
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
        for number, page in enumerate(pdf.pages, start=1):
            pages.append(_check_page(pk, page, number, rules, add))
        n_pages = len(pages)
        xmp = _parse_xmp(pdf)
        signatures = _check_signatures(pk, pdf, rules, add)
        _check_metadata(xmp, record, rules, n_pages, declared_pages, add)
        if xmp and xmp.get("pdfaid:part"):
            for f in check_pdfa(path, strict=rules.strict_pdfa):
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


def _check_page(pk: Any, page: Any, number: int, rules: Rules, add: Any) -> PageReport:
    box = [float(v) for v in page.obj.get("/CropBox", page.obj.get("/MediaBox", [0, 0, 612, 792]))]
    unit = float(page.obj.get("/UserUnit", 1.0))
    w_pt, h_pt = abs(box[2] - box[0]) * unit, abs(box[3] - box[1]) * unit
    # The image is drawn in unrotated user space; /Rotate only turns the displayed page.
    user_w_mm, user_h_mm = w_pt * _MM_PER_PT, h_pt * _MM_PER_PT
    w_mm, h_mm = user_w_mm, user_h_mm
    if int(page.obj.get("/Rotate", 0)) % 180 == 90:
        w_mm, h_mm = h_mm, w_mm
    paper = _paper(w_mm, h_mm, rules)
    if paper is None:
        add(
            "scale",
            number,
            f"page is {w_mm:.1f} x {h_mm:.1f} mm, not A4/A5/A3/Letter or the "
            f"declared size within {rules.size_tolerance_mm} mm (100 % scale required)",
        )
    images = []
    for image, ctm in _placed_images(pk, page):
        a, b, c, d = (v * unit for v in ctm[:4])
        pw, ph = math.hypot(a, b), math.hypot(c, d)
        if pw * ph >= 0.1 * w_pt * h_pt:  # logos and stamps are not the page scan
            images.append((pw * ph, image, pw, ph, ctm))
    if not images:
        add("page-image", number, "no page-sized image: a digitized page is one scanned image")
        return PageReport(number, (w_mm, h_mm), paper, None, None, None)
    if len(images) > 1:
        add(
            "page-image",
            number,
            f"{len(images)} page-sized images on one page, expected 1",
            "warning",
        )
    _, image, pw, ph, ctm = max(images, key=lambda t: t[0])
    px_w, px_h = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    # With a rotation in the CTM the image's width runs along the page's height.
    dpi = (px_w / (pw / 72.0), px_h / (ph / 72.0)) if pw > 0 and ph > 0 else None
    if dpi is not None and min(dpi) < rules.min_dpi - 0.5:
        add(
            "resolution",
            number,
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
            number,
            f"the scan is drawn at {placed_w:.1f} x {placed_h:.1f} mm on a {user_w_mm:.1f} x "
            f"{user_h_mm:.1f} mm page ({100 * placed_w / user_w_mm:.0f} %): not 100 % scale",
        )
    colour = _colour(pk, image)
    if rules.require_colour and colour is not True:
        what = "unknown colour space" if colour is None else "grey or bitonal"
        add(
            "colour",
            number,
            f"the page image is {what}; colour images are required (ảnh màu)",
            "warning" if colour is None else "error",
        )
    ink = _ink_fraction(pk, image) if rules.blank_ink_fraction is not None else None
    if ink is not None and rules.blank_ink_fraction is not None and ink < rules.blank_ink_fraction:
        add(
            "blank-page",
            number,
            f"page looks blank ({100 * ink:.3f} % dark pixels); kept and flagged, never dropped",
            "warning",
        )
    return PageReport(number, (w_mm, h_mm), paper, dpi, colour, ink)


def _check_signatures(
    pk: Any, pdf: Any, rules: Rules, add: Any
) -> tuple[tuple[str, int | None, str, bool], ...]:
    page_of: dict[Any, tuple[int | None, Any]] = {}
    for number, page in enumerate(pdf.pages, start=1):
        for annot in page.obj.get("/Annots", []):
            page_of[annot.objgen] = (number, page)
    found: list[tuple[str, int | None, str, bool]] = []
    for name, fld, widget in _signature_fields(pk, pdf):
        signed = isinstance(fld.get("/V"), pk.Dictionary) and "/Contents" in fld.V
        page_number, page = page_of.get(widget.objgen, (None, None))
        corner = "other"
        rect = [float(v) for v in widget.get("/Rect", [0, 0, 0, 0])]
        if abs(rect[2] - rect[0]) < 1e-6 or abs(rect[3] - rect[1]) < 1e-6 or page is None:
            corner = "invisible"
        else:
            box = [float(v) for v in page.obj.get("/CropBox", page.obj.get("/MediaBox"))]
            cx = ((rect[0] + rect[2]) / 2 - box[0]) / (box[2] - box[0])
            cy = ((rect[1] + rect[3]) / 2 - box[1]) / (box[3] - box[1])
            if cy > 0.5:
                corner = "top-left" if cx < 0.5 else "top-right"
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
