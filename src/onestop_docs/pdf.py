"""Searchable PDF/A records of scanned pages: page images at true size plus an invisible OCR layer.

:func:`build_pdf` turns :class:`~onestop_docs.imageio.Page` objects (and, optionally, one
:class:`~onestop_docs.types.OcrResult` per page) into the digitized copy that NĐ 30/2020/NĐ-CP
Phụ lục I Phần II mục I asks for: PDF ≥ 1.4, colour kept, the scan's own resolution, 100 % scale.
The file is written with pikepdf (qpdf); nothing here serialises PDF syntax by hand except the
page content streams.

Conventions (see ``docs/records.md``):

* **Size**: a page of ``W x H`` pixels at ``(dx, dy)`` dpi becomes a ``W*72/dx x H*72/dy`` pt
  page and the image fills it exactly, so A4 at 300 dpi (2480 x 3508 px) → 595.2 x 841.9 pt
  = 210 x 297 mm, and ``pdfimages -list`` reports 300 dpi.  Pages without a dpi are refused.
* **Compression**: colour (``"RGB"``) and grey (``"L"``) pages are JPEG (DCTDecode) at
  ``jpeg_quality`` (default 85, 4:2:0 chroma subsampling for colour: the point where text edges
  show no visible ringing at 200–300 dpi while A4 colour stays near 1 MB); bitonal pages
  (``mode="1"``) are stored losslessly, 1 bit per pixel, Flate.
* **Text layer**: every OCR word is drawn in text render mode 3 (invisible) with a generated
  *glyphless* TrueType font (one empty glyph, the technique of Tesseract's ``pdf.ttf``): each
  character is coded as its UTF-16 code unit (Identity-H), a ToUnicode CMap maps the code back
  to the same code point, and horizontal scaling (``Tz``) stretches each word over its box.
  So copy/paste and ``pdftotext`` give back the NFC text, in line order, and selection
  rectangles match the word boxes.  No font file is shipped or read at run time.
* **PDF/A-2b** (default ``profile="pdfa-2b"``): XMP metadata in predefined schemas only
  (title, dossier code as ``dc:identifier``, số/ký hiệu as ``dc:source``, issuing body, issue
  date, every code as an ``onestop:<Key>=<value>`` entry of ``dc:relation``, creator tool,
  dates, ``pdfaid``), the same title/dates in the Info dictionary, an output intent with
  Pillow's built-in sRGB ICC profile, the font embedded, no encryption, a file identifier.
  pikepdf's PDF/A validator (``pikepdf.pdfa``) approves the file.  Signatures appended later as incremental updates (``onestop_docs.signing``)
  keep the original bytes.  ``profile="pdf"`` writes the same file without the PDF/A claim.

Examples
--------
>>> import numpy as np
>>> from onestop_docs.imageio import Page
>>> from onestop_docs.pdf import build_pdf
>>> page = Page(np.full((297, 210, 3), 250, np.uint8), mode="RGB", dpi=(25.4 * 4, 25.4 * 4))
>>> data = build_pdf([page])
>>> data[:8]
b'%PDF-1.7'
"""

from __future__ import annotations

import io
import os
import struct
import threading
import unicodedata
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
from PIL import Image

from ._deps import require_module
from ._fileutil import atomic_write
from ._validate import check_int
from .errors import InvalidArgumentError
from .imageio import Page
from .metadata import RecordMetadata
from .types import OcrResult
from .vntext import normalize

if TYPE_CHECKING:
    import pikepdf

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "XMP_RELATION_KEYS",
    "PdfWriter",
    "build_pdf",
    "glyphless_font",
    "srgb_icc_profile",
]

#: JPEG quality for colour and grey pages (see the module docstring for why 85).
DEFAULT_JPEG_QUALITY = 85

Profile = Literal["pdfa-2b", "pdf"]
_PROFILES = ("pdfa-2b", "pdf")

_FONT_NAME = "GlyphLessFont"
_UNITS_PER_EM = 1000
_ADVANCE = 500  # every glyph is half an em wide; Tz stretches words to their boxes
_FONT_DATE = 3850070400  # 2026-01-01T00:00:00 in seconds since 1904 (TrueType epoch)


# ----------------------------------------------------------------------------- resources


def _table_checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return int(sum(struct.unpack(f">{len(padded) // 4}I", padded))) & 0xFFFFFFFF


# fmt: off
def _build_glyphless_font() -> bytes:
    """A valid TrueType font with two empty glyphs (.notdef and glyph 1), both 500 units wide."""
    n_glyphs = 2
    head = struct.pack(
        ">IIIIHHqqhhhhHHhhh",
        0x00010000, 0x00010000, 0, 0x5F0F3CF5, 0x000B, _UNITS_PER_EM,
        _FONT_DATE, _FONT_DATE,  # created, modified: fixed, so output is reproducible
        0, 0, _ADVANCE, _UNITS_PER_EM,  # xMin yMin xMax yMax
        0, 3, 2, 0, 0,  # macStyle lowestRecPPEM fontDirectionHint indexToLocFormat glyphDataFormat
    )
    hhea = struct.pack(
        ">IhhhHhhhhhhhhhhhH",
        0x00010000, _UNITS_PER_EM, 0, 0, _ADVANCE, 0, 0, _ADVANCE,
        1, 0, 0, 0, 0, 0, 0, 0, n_glyphs,
    )
    maxp = struct.pack(">IHHHHHHHHHHHHHH", 0x00010000, n_glyphs, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", _ADVANCE, 0, _ADVANCE, 0)
    loca = struct.pack(">HHH", 0, 0, 0)  # both glyphs empty
    glyf = b""
    # cmap: one (3,1) format-4 subtable mapping U+0020 to glyph 1, plus the 0xFFFF terminator.
    seg_count = 2
    fmt4 = struct.pack(
        ">HHHHHHH" "HH" "H" "HH" "hh" "HH",
        4, 16 + 8 * seg_count, 0, seg_count * 2, 4, 1, 0,
        0x0020, 0xFFFF,  # endCode
        0,  # reservedPad
        0x0020, 0xFFFF,  # startCode
        1 - 0x20, 1,  # idDelta
        0, 0,  # idRangeOffset
    )
    cmap = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + fmt4
    names = {1: _FONT_NAME, 2: "Regular", 3: f"onestop_docs:{_FONT_NAME}", 4: _FONT_NAME,
             5: "Version 1.0", 6: _FONT_NAME}
    records, strings = b"", b""
    for name_id, value in names.items():
        raw = value.encode("utf-16-be")
        records += struct.pack(">HHHHHH", 3, 1, 0x0409, name_id, len(raw), len(strings))
        strings += raw
    name = struct.pack(">HHH", 0, len(names), 6 + 12 * len(names)) + records + strings
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, -100, 50, 1, 0, 0, 0, 0)
    os2 = struct.pack(
        ">HhHHHhhhhhhhhhhh10sIIII4sHHHhhhHHII",
        3, _ADVANCE, 400, 5, 0,  # version xAvgCharWidth weight width fsType=0 (installable)
        650, 700, 0, 140, 650, 700, 0, 480, 50, 250, 0,  # sub/superscript, strikeout, family
        b"\0" * 10, 0, 0, 0, 0, b"ONES",
        0x0040, 0x0020, 0xFFFF,  # fsSelection REGULAR, first/last char index
        _UNITS_PER_EM, 0, 0, _UNITS_PER_EM, 0,  # typo ascender/descender/gap, win ascent/descent
        1, 0,  # code page ranges (Latin 1)
    ) + struct.pack(">hhHHH", 500, 700, 0, 0x20, 1)  # version 2+ fields
    tables = {"OS/2": os2, "cmap": cmap, "glyf": glyf, "head": head, "hhea": hhea,
              "hmtx": hmtx, "loca": loca, "maxp": maxp, "name": name, "post": post}
    num = len(tables)
    entry_selector = num.bit_length() - 1
    search_range = 16 * (1 << entry_selector)
    out = struct.pack(">IHHHH", 0x00010000, num, search_range, entry_selector, num * 16 - search_range)
    offset = 12 + 16 * num
    directory, body = b"", b""
    for tag in sorted(tables):
        data = tables[tag]
        directory += struct.pack(">4sIII", tag.encode("ascii"), _table_checksum(data),
                                 offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = bytearray(out + directory + body)
    adjust = (0xB1B0AFBA - _table_checksum(bytes(font))) & 0xFFFFFFFF
    head_offset = 12 + 16 * num + sum(
        len(tables[t]) + (-len(tables[t]) % 4) for t in sorted(tables) if t < "head")
    font[head_offset + 8: head_offset + 12] = struct.pack(">I", adjust)
    return bytes(font)
# fmt: on


_resource_lock = threading.Lock()
_resources: dict[str, bytes] = {}


def glyphless_font() -> bytes:
    """The TrueType program embedded for the invisible text layer (generated, ~700 bytes).

    Examples
    --------
    >>> glyphless_font()[:4]
    b'\\x00\\x01\\x00\\x00'
    """
    with _resource_lock:
        if "font" not in _resources:
            _resources["font"] = _build_glyphless_font()
        return _resources["font"]


def srgb_icc_profile() -> bytes:
    """Pillow's built-in sRGB ICC profile (LittleCMS), used as the PDF/A output intent.

    Examples
    --------
    >>> srgb_icc_profile()[36:40]
    b'acsp'
    """
    with _resource_lock:
        if "icc" not in _resources:
            from PIL import ImageCms

            profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            _resources["icc"] = profile.tobytes()
        return _resources["icc"]


def _to_unicode_cmap() -> bytes:
    # One bfrange per high byte so no range crosses a first-byte boundary (PDF 32000 9.10.3);
    # the surrogate block has no characters of its own and is left out.
    ranges = [
        f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256) if not 0xD8 <= hi <= 0xDF
    ]
    body = []
    for i in range(0, len(ranges), 100):
        chunk = ranges[i : i + 100]
        body.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(body)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


# ----------------------------------------------------------------------------- page images


def _encode_page(page: Page, index: int, quality: int) -> tuple[bytes, str, str, int]:
    if not isinstance(page, Page):
        raise InvalidArgumentError(
            f"page {index}: expected onestop_docs.imageio.Page, got {type(page).__name__}"
        )
    if page.dpi is None:
        raise InvalidArgumentError(
            f"page {index} ({page.source}): resolution unknown (dpi_status={page.dpi_status!r}); "
            "the PDF page size comes from the dpi, pass assume_dpi= to load_pages"
        )
    if page.mode == "1":
        bits = np.packbits(page.pixels > 127, axis=1)  # 1 = white in DeviceGray 1-bit
        return zlib.compress(bits.tobytes(), 6), "/FlateDecode", "/DeviceGray", 1
    im = Image.fromarray(page.pixels, "RGB" if page.mode == "RGB" else "L")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, subsampling="4:2:0", optimize=False)
    return buf.getvalue(), "/DCTDecode", "/DeviceRGB" if page.mode == "RGB" else "/DeviceGray", 8


def _fmt(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def _text_ops(ocr: OcrResult, page: Page, index: int) -> bytes:
    if not isinstance(ocr, OcrResult):
        raise InvalidArgumentError(
            f"text[{index}]: expected OcrResult or None, got {type(ocr).__name__}"
        )
    if ocr.width <= 0 or ocr.height <= 0:
        raise InvalidArgumentError(
            f"text[{index}]: OcrResult has an empty frame {ocr.width}x{ocr.height}"
        )
    assert page.dpi is not None
    # OCR may have run on a resampled copy: map its frame onto the page.
    sx = page.width / ocr.width * 72.0 / page.dpi[0]
    sy = page.height / ocr.height * 72.0 / page.dpi[1]
    page_h = page.height * 72.0 / page.dpi[1]
    ops: list[str] = []
    for line in ocr.lines:
        words = [w for w in line.words if w.box.width > 0 and w.box.height > 0]
        if not words:
            continue
        size = max(1.0, line.box.height * sy)
        baseline = page_h - line.box.y1 * sy
        ops.append(f"/F1 {_fmt(size)} Tf")
        for k, word in enumerate(words):
            text = "".join(
                c if ord(c) <= 0xFFFF and unicodedata.category(c)[0] != "C" else "\ufffd"
                for c in normalize(word.text)
            )
            if not text.strip():
                continue
            em = size * _ADVANCE / _UNITS_PER_EM  # natural width of one character
            scale = 100.0 * word.box.width * sx / (len(text) * em)
            ops.append(
                f"1 0 0 1 {_fmt(word.box.x0 * sx)} {_fmt(baseline)} Tm {_fmt(scale)} Tz "
                f"<{text.encode('utf-16-be').hex().upper()}> Tj"
            )
            if k + 1 < len(words):
                # A real space glyph spanning the gap, so extractors see the word break while
                # the word's own box stays exact.
                gap = (words[k + 1].box.x0 - word.box.x1) * sx
                if gap > 0:
                    ops.append(f"{_fmt(100.0 * gap / em)} Tz <0020> Tj")
    if not ops:
        return b""
    return ("BT\n3 Tr\n" + "\n".join(ops) + "\nET\n").encode("ascii")


# ----------------------------------------------------------------------------- metadata


def _pdf_date(t: datetime) -> str:
    off = t.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return t.strftime("D:%Y%m%d%H%M%S") + f"{sign}{minutes // 60:02d}'{minutes % 60:02d}'"


#: Record facts written to XMP ``dc:relation`` as ``"onestop:<Key>=<value>"`` entries.
XMP_RELATION_KEYS = (
    "RecordId",  # record folder name, {dossier code}.{component:03d} (docs/integrity.md)
    "DossierCode",  # mã số hồ sơ
    "DocumentCode",  # số, ký hiệu văn bản
    "ResultCode",  # mã kết quả số hóa / kết quả TTHC
    "ComponentCode",  # mã thành phần hồ sơ
    "ProcedureCode",  # mã thủ tục hành chính
    "AgencyId",  # mã định danh cơ quan ban hành
    "PageCount",  # số trang vật lý
)


def _xmp(
    meta: RecordMetadata | None,
    title: str,
    created: datetime,
    tool: str,
    n_pages: int,
    pdfa: bool,
    record_id: str | None = None,
) -> bytes:
    # Only schemas predefined by PDF/A (Dublin Core, XMP basic, pdfaid) are used: a private
    # namespace would need a PDF/A extension schema, which allowlist validators (pikepdf's)
    # do not accept.  The codes go to Dublin Core: dc:identifier = dossier code, dc:source =
    # the paper document's số/ký hiệu, dc:publisher = issuing body, dc:date = issue date, and
    # every code as a "onestop:<Key>=<value>" entry of dc:relation.
    et = require_module("lxml.etree", "pdf")
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    ns = {
        "x": "adobe:ns:meta/",
        "rdf": rdf,
        "dc": "http://purl.org/dc/elements/1.1/",
        "xmp": "http://ns.adobe.com/xap/1.0/",
        "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    }

    def q(tag: str) -> str:
        prefix, local = tag.split(":")
        return "{" + ns[prefix] + "}" + local

    root = et.Element(q("x:xmpmeta"), nsmap={"x": ns["x"]})
    rdf_el = et.SubElement(root, q("rdf:RDF"), nsmap={"rdf": rdf})
    desc = et.SubElement(
        rdf_el, q("rdf:Description"), nsmap={k: v for k, v in ns.items() if k not in ("x", "rdf")}
    )
    desc.set(q("rdf:about"), "")

    def simple(tag: str, value: str) -> None:
        et.SubElement(desc, q(tag)).text = value

    def alt(tag: str, value: str) -> None:
        li = et.SubElement(et.SubElement(et.SubElement(desc, q(tag)), q("rdf:Alt")), q("rdf:li"))
        li.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
        li.text = value

    def array(tag: str, kind: str, values: list[str]) -> None:
        container = et.SubElement(et.SubElement(desc, q(tag)), q(kind))
        for value in values:
            et.SubElement(container, q("rdf:li")).text = value

    simple("dc:format", "application/pdf")
    alt("dc:title", title)
    if meta is not None and meta.subject:
        alt("dc:description", meta.subject)
    array("dc:language", "rdf:Bag", [meta.language if meta is not None else "vi"])
    relations = {"PageCount": str(n_pages)}
    if meta is not None:
        simple("dc:identifier", meta.dossier_code)
        if meta.document_code:
            simple("dc:source", meta.document_code)
        if meta.organ_name:
            array("dc:publisher", "rdf:Bag", [meta.organ_name])
        if meta.issued_date:
            array("dc:date", "rdf:Seq", [meta.issued_date.isoformat()])
        codes = {
            "DossierCode": meta.dossier_code,
            "DocumentCode": meta.document_code,
            "ResultCode": meta.result_code,
            "ComponentCode": meta.component_code,
            "ProcedureCode": meta.procedure_code,
            "AgencyId": meta.organ_id,
            "PageCount": str(meta.page_amount or n_pages),
        }
        relations = {k: v for k, v in codes.items() if v is not None}
    if record_id is not None:
        relations["RecordId"] = record_id
    array(
        "dc:relation",
        "rdf:Bag",
        [f"onestop:{k}={relations[k]}" for k in XMP_RELATION_KEYS if k in relations],
    )
    stamp = created.isoformat()
    simple("xmp:CreateDate", stamp)
    simple("xmp:ModifyDate", stamp)
    simple("xmp:MetadataDate", stamp)
    simple("xmp:CreatorTool", tool)
    # No pdf:Producer and no Info /Producer: when pyHanko signs it appends its name to the
    # Info entry but replaces the XMP one, which would break the Info/XMP equality of PDF/A.
    if pdfa:
        simple("pdfaid:part", "2")
        simple("pdfaid:conformance", "B")
    body: bytes = et.tostring(root, encoding="UTF-8")
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + body
        + b"\n"
        + b" " * 2048
        + b'\n<?xpacket end="w"?>'
    )


# ----------------------------------------------------------------------------- build


@overload
def build_pdf(
    pages: Iterable[Page],
    *,
    output: None = None,
    text: Sequence[OcrResult | None] | None = None,
    metadata: RecordMetadata | None = None,
    profile: Profile = "pdfa-2b",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    title: str | None = None,
    created: datetime | None = None,
    workers: int | None = None,
) -> bytes: ...


@overload
def build_pdf(
    pages: Iterable[Page],
    *,
    output: str | os.PathLike[str],
    text: Sequence[OcrResult | None] | None = None,
    metadata: RecordMetadata | None = None,
    profile: Profile = "pdfa-2b",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    title: str | None = None,
    created: datetime | None = None,
    workers: int | None = None,
) -> None: ...


def build_pdf(
    pages: Iterable[Page],
    *,
    output: str | os.PathLike[str] | None = None,
    text: Sequence[OcrResult | None] | None = None,
    metadata: RecordMetadata | None = None,
    profile: Profile = "pdfa-2b",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    title: str | None = None,
    created: datetime | None = None,
    workers: int | None = None,
) -> bytes | None:
    """Write scanned pages as one searchable PDF (PDF/A-2b by default).

    Parameters
    ----------
    pages : iterable of Page
        Physical pages in order; each must carry a dpi (``Page.dpi``).  Colour pages stay
        colour.
    output : path, optional
        Write the file there atomically and return None; without it the PDF bytes are returned.
    text : sequence of OcrResult or None, optional
        One entry per page (``None`` for a page without text).  Word boxes are in the pixel
        frame ``OcrResult.width x OcrResult.height``, scaled onto the page if that differs.
        Pages (and texts) are consumed lazily: a generator of pages is never held whole.
    metadata : RecordMetadata, optional
        Record facts copied into the XMP packet (never ``owner_id``, which is personal data).
    profile : {"pdfa-2b", "pdf"}
        ``"pdfa-2b"`` claims PDF/A-2b in XMP; ``"pdf"`` writes the same content without it.
    jpeg_quality : int
        1..95, for colour and grey pages.
    title : str, optional
        Document title; default ``metadata.title``, else ``metadata.subject``, else the dossier
        code, else ``"Bản số hóa"``.
    created : datetime, optional
        Creation time (timezone-aware); default ``metadata.scan_time``, else now (UTC).  Fix it
        to get byte-identical output for identical input.
    workers : int, optional
        Threads that encode page images (Pillow releases the GIL); default ``min(4, cpus)``.

    Returns
    -------
    bytes or None
        The PDF when ``output`` is None.

    Raises
    ------
    InvalidArgumentError
        No pages, a page without dpi, ``text`` of the wrong length or type, a bad option.
    MissingDependencyError
        pikepdf or lxml missing (``pip install 'onestop_docs[pdf]'``).

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.imageio import Page
    >>> p = Page(np.zeros((100, 100), np.uint8), mode="L")
    >>> build_pdf([p])
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: page 0 (<array>): resolution unknown ...
    """
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    check_int(workers, "workers", 1)
    writer = PdfWriter(profile=profile, jpeg_quality=jpeg_quality)
    if metadata is not None and not isinstance(metadata, RecordMetadata):
        raise InvalidArgumentError(
            f"metadata must be RecordMetadata, got {type(metadata).__name__}"
        )
    texts: Iterator[OcrResult | None] | None = None if text is None else iter(text)
    page_iter = iter(pages)

    def next_pair() -> tuple[Page, OcrResult | None] | None:
        page = next(page_iter, _END)
        if page is _END:
            return None
        t = None
        if texts is not None:
            t = next(texts, _END)
            if t is _END:
                raise InvalidArgumentError(
                    f"text has {index} entries for more pages (at least {index + 1})"
                )
        return page, t  # type: ignore[return-value]

    # Pages are consumed lazily and at most 2 x workers are being encoded at once, so memory
    # holds compressed images, never the whole document's pixels.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: deque[Future[_EncodedPage]] = deque()
        index = 0
        while True:
            while len(window) < 2 * workers:
                pair = next_pair()
                if pair is None:
                    break
                window.append(
                    pool.submit(_encode_item, pair[0], pair[1], index, writer.jpeg_quality)
                )
                index += 1
            if not window:
                break
            writer._append(window.popleft().result())
    if texts is not None and next(texts, _END) is not _END:
        extra = 1 + sum(1 for _ in texts)
        raise InvalidArgumentError(
            f"text has {len(writer) + extra} entries for {len(writer)} pages"
        )
    return writer.save(output, metadata=metadata, title=title, created=created)


_END: Any = object()
#: Pages a spooling PdfWriter holds in memory before appending them to its spool file.
_SPOOL_CHUNK = 16


@dataclass(frozen=True)
class _EncodedPage:
    index: int
    width: int
    height: int
    dpi: tuple[float, float]
    data: bytes
    filter: str
    colorspace: str
    bpc: int
    text_ops: bytes


def _encode_item(page: Page, text: OcrResult | None, index: int, quality: int) -> _EncodedPage:
    data, filt, cs, bpc = _encode_page(page, index, quality)
    assert page.dpi is not None
    ops = b"" if text is None else _text_ops(text, page, index)
    return _EncodedPage(index, page.width, page.height, page.dpi, data, filt, cs, bpc, ops)


class PdfWriter:
    """Build a record PDF page by page; only compressed page images are kept in memory.

    This is what :func:`build_pdf` uses underneath; use it directly when pages come one at a
    time (a 300-page scan) and the metadata is only known at the end.  Not thread-safe: one
    writer per document.

    Parameters
    ----------
    profile : {"pdfa-2b", "pdf"}
    jpeg_quality : int
        1..95 for colour and grey pages (bitonal pages are stored losslessly).
    spool_dir : path, optional
        Move pages to a spool PDF in this directory every 16 pages instead of keeping them in
        memory; :meth:`save` then writes the record from the spool (qpdf copies the image
        data from that file while writing).  Memory then stays flat however many pages there
        are.  The caller owns the directory and removes it afterwards.

    Raises
    ------
    InvalidArgumentError
        Bad profile, quality or spool directory.
    MissingDependencyError
        pikepdf missing (``pip install 'onestop_docs[pdf]'``).

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.imageio import Page
    >>> w = PdfWriter()
    >>> w.add_page(Page(np.full((200, 100), 255, np.uint8), dpi=(200.0, 200.0)))
    >>> data = w.save()
    >>> data[:5], len(w)
    (b'%PDF-', 1)
    """

    def __init__(
        self,
        *,
        profile: Profile = "pdfa-2b",
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._pk: Any = require_module("pikepdf", "pdf")
        if profile not in _PROFILES:
            raise InvalidArgumentError(f"profile must be one of {_PROFILES}, got {profile!r}")
        check_int(jpeg_quality, "jpeg_quality", 1, 95)
        self.profile = profile
        self.jpeg_quality = jpeg_quality
        self._pdf = self._pk.Pdf.new()
        self._font: Any = None
        self._count = 0
        self._saved = False
        self._spool = None if spool_dir is None else Path(spool_dir)
        self._spooled: Path | None = None  # the pages flushed so far, as one PDF
        self._pending = 0  # pages in self._pdf not yet flushed to the spool
        if self._spool is not None and not self._spool.is_dir():
            raise InvalidArgumentError(f"spool_dir {self._spool} is not a directory")

    def __len__(self) -> int:
        """Pages added so far."""
        return self._count

    def add_page(self, page: Page, text: OcrResult | None = None) -> None:
        """Encode ``page`` (and its OCR text layer) and append it.

        Raises
        ------
        InvalidArgumentError
            Not a Page, a page without dpi, a bad OcrResult, or the writer was saved already.
        """
        self._append(_encode_item(page, text, self._count, self.jpeg_quality))

    def _append(self, enc: _EncodedPage) -> None:
        if self._saved:
            raise InvalidArgumentError("this PdfWriter was saved already; make a new one")
        if enc.text_ops and self._font is None:
            self._font = _add_font(self._pdf)
        _add_page(self._pk, self._pdf, enc, self._font)
        self._count += 1
        self._pending += 1
        if self._spool is not None and self._pending >= _SPOOL_CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Move the pages held in memory into the spool PDF on disk.

        The spool is re-saved with the new pages appended; qpdf copies the pages already in
        it straight from its input file, so memory holds one chunk of pages, never the record.
        """
        assert self._spool is not None
        pk = self._pk
        target = self._spool / f"spool-{self._count:05d}.pdf"
        if self._spooled is None:
            self._pdf.save(target)
        else:
            with pk.Pdf.open(self._spooled) as acc:
                acc.pages.extend(self._pdf.pages)
                acc.save(target)
            self._spooled.unlink()
        self._pdf.close()
        self._spooled = target
        self._pdf = pk.Pdf.new()
        self._font = None
        self._pending = 0

    def save(
        self,
        output: str | os.PathLike[str] | None = None,
        *,
        metadata: RecordMetadata | None = None,
        title: str | None = None,
        created: datetime | None = None,
        record_id: str | None = None,
    ) -> bytes | None:
        """Add the metadata (XMP, output intent) and write the PDF; see :func:`build_pdf`.

        ``record_id`` is written to XMP as ``onestop:RecordId=...`` in ``dc:relation``, so a
        signed record PDF names the record it belongs to (docs/integrity.md).

        Raises
        ------
        InvalidArgumentError
            No pages, bad metadata or created time, or saved twice.
        """
        if self._saved:
            raise InvalidArgumentError("this PdfWriter was saved already; make a new one")
        if self._count == 0:
            raise InvalidArgumentError("build_pdf needs at least one page, got none")
        if metadata is not None and not isinstance(metadata, RecordMetadata):
            raise InvalidArgumentError(
                f"metadata must be RecordMetadata, got {type(metadata).__name__}"
            )
        if created is None:
            created = metadata.scan_time if metadata is not None and metadata.scan_time else None
        if created is None:
            created = datetime.now(UTC).replace(microsecond=0)
        if not isinstance(created, datetime) or created.utcoffset() is None:
            raise InvalidArgumentError(
                f"created must be a timezone-aware datetime, got {created!r}"
            )
        pk = self._pk
        if self._spooled is not None:
            if self._pending:
                self._flush()
            self._pdf.close()
            assert self._spooled is not None
            # Opened from disk: qpdf reads the page images from the spool while writing.
            pdf = pk.Pdf.open(self._spooled)
        else:
            pdf = self._pdf
        try:
            _add_metadata(
                pdf,
                pk,
                metadata,
                title,
                created,
                self._count,
                self.profile == "pdfa-2b",
                record_id,
            )
            options = {
                "min_version": "1.7",
                "deterministic_id": True,  # /ID from the content: same input, same bytes
                "object_stream_mode": pk.ObjectStreamMode.generate,
                "compress_streams": True,
            }
            self._saved = True
            if output is None:
                buf = io.BytesIO()
                pdf.save(buf, **options)
                return buf.getvalue()
            with atomic_write(output) as fh:  # streamed to disk, never held whole in memory
                pdf.save(fh, **options)
            return None
        finally:
            pdf.close()
            self._pdf = None


def _add_page(pk: Any, pdf: Any, enc: _EncodedPage, font: Any) -> None:
    """Append one encoded page: the image at its physical size, then the text layer."""
    w_pt = enc.width * 72.0 / enc.dpi[0]
    h_pt = enc.height * 72.0 / enc.dpi[1]
    image = pk.Stream(pdf, enc.data)
    image.Type = pk.Name.XObject
    image.Subtype = pk.Name.Image
    image.Width = enc.width
    image.Height = enc.height
    image.ColorSpace = pk.Name(enc.colorspace)
    image.BitsPerComponent = enc.bpc
    if enc.filter == "/DCTDecode":
        image.stream_dict.Filter = pk.Name.DCTDecode
    else:
        image.stream_dict.Filter = pk.Name.FlateDecode
    content = f"q {_fmt(w_pt)} 0 0 {_fmt(h_pt)} 0 0 cm /Im0 Do Q\n".encode("ascii") + enc.text_ops
    resources = pk.Dictionary(XObject=pk.Dictionary(Im0=image))
    if enc.text_ops:
        resources.Font = pk.Dictionary(F1=font)
    page_obj = pk.Dictionary(
        Type=pk.Name.Page,
        MediaBox=[0, 0, round(w_pt, 4), round(h_pt, 4)],
        Resources=resources,
        Contents=pk.Stream(pdf, content),
    )
    pdf.pages.append(pk.Page(page_obj))


def _add_font(pdf: pikepdf.Pdf) -> Any:
    import pikepdf as pk

    font_file = pk.Stream(pdf, glyphless_font())
    font_file.Length1 = len(glyphless_font())
    descriptor = pk.Dictionary(
        Type=pk.Name.FontDescriptor,
        FontName=pk.Name("/" + _FONT_NAME),
        Flags=5,
        FontBBox=[0, 0, _ADVANCE, _UNITS_PER_EM],
        ItalicAngle=0,
        Ascent=_UNITS_PER_EM,
        Descent=0,
        CapHeight=_UNITS_PER_EM,
        StemV=80,
        FontFile2=font_file,
    )
    # Every CID maps to glyph 1, never to .notdef (PDF/A-2 6.2.11.8).
    cid_to_gid = pk.Stream(pdf, b"\x00\x01" * 65536)
    cid_font = pk.Dictionary(
        Type=pk.Name.Font,
        Subtype=pk.Name.CIDFontType2,
        BaseFont=pk.Name("/" + _FONT_NAME),
        CIDSystemInfo=pk.Dictionary(
            Registry=pk.String("Adobe"), Ordering=pk.String("Identity"), Supplement=0
        ),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=_ADVANCE,
        CIDToGIDMap=cid_to_gid,
    )
    font = pk.Dictionary(
        Type=pk.Name.Font,
        Subtype=pk.Name.Type0,
        BaseFont=pk.Name("/" + _FONT_NAME),
        Encoding=pk.Name("/Identity-H"),
        DescendantFonts=[pdf.make_indirect(cid_font)],
        ToUnicode=pk.Stream(pdf, _to_unicode_cmap()),
    )
    return pdf.make_indirect(font)


def _add_metadata(
    pdf: pikepdf.Pdf,
    pk: Any,
    meta: RecordMetadata | None,
    title: str | None,
    created: datetime,
    n_pages: int,
    pdfa: bool,
    record_id: str | None = None,
) -> None:
    from . import __version__

    if title is None and meta is not None:
        title = meta.title or meta.subject or meta.dossier_code
    title = normalize(title or "Bản số hóa")
    tool = f"onestop_docs {__version__}"
    xmp = _xmp(meta, title, created, tool, n_pages, pdfa, record_id)
    md = pk.Stream(pdf, xmp)
    md.Type = pk.Name.Metadata
    md.Subtype = pk.Name.XML
    pdf.Root.Metadata = pdf.make_indirect(md)
    # The Info entries mirror the XMP exactly (PDF/A-2 6.6.2.1 / ISO 16684 equivalence).
    info = pk.Dictionary(
        Title=pk.String(title),
        Creator=pk.String(tool),
        CreationDate=pk.String(_pdf_date(created)),
        ModDate=pk.String(_pdf_date(created)),
    )
    if meta is not None and meta.subject:
        info.Subject = pk.String(meta.subject)
    pdf.trailer.Info = pdf.make_indirect(info)
    icc = pk.Stream(pdf, srgb_icc_profile())
    icc.N = 3
    pdf.Root.OutputIntents = [
        pdf.make_indirect(
            pk.Dictionary(
                Type=pk.Name.OutputIntent,
                S=pk.Name.GTS_PDFA1,
                OutputConditionIdentifier=pk.String("sRGB"),
                Info=pk.String("sRGB IEC61966-2.1"),
                RegistryName=pk.String("http://www.color.org"),
                DestOutputProfile=icc,
            )
        )
    ]
    pdf.Root.MarkInfo = pk.Dictionary(Marked=False)
    pdf.Root.Lang = pk.String(meta.language if meta is not None else "vi")
