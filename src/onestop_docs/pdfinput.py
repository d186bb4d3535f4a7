"""Scanner PDFs as page input: each page's embedded scan at its native resolution.

Most networked scanners write one image per page wrapped in a PDF.  Such a page is read by
taking that image out of the file (pikepdf): the pixels are the scanner's own, at the
scanner's resolution, with nothing rendered or resampled.  A page that is not a single
upright image filling the page (vector drawings, several images, a mask, a form XObject) is
rendered with ``pdftoppm`` (poppler-utils) at ``render_dpi``, and the page records that.

A page that already carries text (a born-digital PDF, or a scan OCR'd elsewhere) is reported,
not silently OCR'd again: with ``text="refuse"`` (the default) it raises
:class:`~onestop_docs.errors.UnsupportedFormatError` naming the file and the page; with
``text="ocr"`` its image is read as above and the new OCR replaces the old text.

Examples
--------
>>> import io, numpy as np
>>> from PIL import Image
>>> buf = io.BytesIO()
>>> Image.fromarray(np.full((300, 200), 255, np.uint8)).save(buf, "PDF", resolution=100)
>>> [(p.width, p.height, p.dpi, p.source_kind) for p in inspect_pdf(buf.getvalue()).pages]
[(200, 300, (100.0, 100.0), 'image')]
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from ._deps import require_module, require_tool
from ._pdfobj import matmul
from .errors import (
    ImageTooLargeError,
    InvalidArgumentError,
    InvalidImageError,
    MissingDependencyError,
    UnsupportedFormatError,
)
from .imageio import DEFAULT_MAX_PIXELS, MAX_DPI, MIN_DPI, Page, page_from_image

__all__ = ["PdfPageInfo", "PdfSummary", "TextPolicy", "inspect_pdf", "is_pdf", "load_pdf_pages"]

TextPolicy = Literal["refuse", "ocr"]

#: Operators that paint something other than an image (paths, shadings, inline images).
_PAINT_OPS = frozenset({"f", "F", "f*", "S", "s", "B", "B*", "b", "b*", "sh", "BI", "EI"})
_TEXT_OPS = frozenset({"Tj", "TJ", "'", '"'})
#: An image placed within this many points of the page box "fills the page".
_FILL_TOLERANCE_PT = 2.0
_RENDER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PdfPageInfo:
    """What a PDF page holds, found without decoding its pixels.

    Attributes
    ----------
    number : int
        1-based page number in the file.
    width, height : int
        Pixels of the page as it will be read (embedded image, or the rendering).
    dpi : (float, float)
        Resolution: the embedded image's pixels over the placed size, or the render dpi.
    source_kind : {"image", "render"}
        ``"image"``: the page is one embedded image, read as stored.  ``"render"``: anything
        else; the page is rendered (``reason`` says why).
    has_text : bool
        The page shows text (text operators in its content stream, visible or not).
    rotate : int
        The page's ``/Rotate`` (0, 90, 180, 270), applied to the pixels when read.
    reason : str or None
        Why a page is rendered rather than read as stored.
    """

    number: int
    width: int
    height: int
    dpi: tuple[float, float]
    source_kind: Literal["image", "render"]
    has_text: bool
    rotate: int
    reason: str | None = None


@dataclass(frozen=True)
class PdfSummary:
    """The pages of a PDF file (see :func:`inspect_pdf`)."""

    source: str
    pages: tuple[PdfPageInfo, ...]

    @property
    def text_pages(self) -> tuple[int, ...]:
        """1-based numbers of the pages that already carry text."""
        return tuple(p.number for p in self.pages if p.has_text)


def is_pdf(src: str | os.PathLike[Any] | bytes | bytearray) -> bool:
    """True when ``src`` (a path or bytes) starts with the PDF signature ``%PDF-``.

    Scanners and mail gateways sometimes put bytes before the header; the PDF specification
    allows the signature anywhere in the first 1024 bytes, and so does this check.

    Examples
    --------
    >>> is_pdf(b"%PDF-1.7\\n..."), is_pdf(b"\\x89PNG\\r\\n")
    (True, False)
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        head = bytes(src[:1024])
    else:
        try:
            with open(src, "rb") as fh:
                head = fh.read(1024)
        except OSError:
            return False
    return b"%PDF-" in head


def _pikepdf() -> Any:
    return require_module("pikepdf", "pdf")


def _open_pdf(src: str | os.PathLike[str] | bytes, name: str) -> Any:
    pikepdf = _pikepdf()
    try:
        if isinstance(src, (bytes, bytearray, memoryview)):
            return pikepdf.open(io.BytesIO(bytes(src)))
        return pikepdf.open(os.fspath(src))
    except pikepdf.PasswordError:
        raise UnsupportedFormatError(
            "the PDF is encrypted; save it without a password first", source=name
        ) from None
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise InvalidImageError(f"not a readable PDF: {exc}", source=name) from None


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float, Decimal)) else float(str(v))


def _box(page: Any) -> tuple[float, float, float, float]:
    raw = page.obj.get("/CropBox") or page.mediabox
    x1, y1, x2, y2 = (_num(v) for v in raw)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


@dataclass
class _Scan:
    """What one walk over a page's content stream found."""

    has_text: bool = False
    other_paint: bool = False
    images: list[tuple[Any, tuple[float, ...]]] | None = None
    forms: int = 0


def _scan_content(page: Any) -> _Scan:
    pikepdf = _pikepdf()
    scan = _Scan(images=[])
    ctm: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[float, ...]] = []
    xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
    for instr in pikepdf.parse_content_stream(page):
        op = str(instr.operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm":
            ctm = matmul(tuple(_num(v) for v in instr.operands), ctm)
        elif op in _TEXT_OPS:
            scan.has_text = True
        elif op in _PAINT_OPS:
            scan.other_paint = True
        elif op == "Do":
            xobj = xobjects.get(instr.operands[0]) if xobjects else None
            subtype = str(xobj.get("/Subtype")) if xobj is not None else ""
            if subtype == "/Image":
                assert scan.images is not None
                scan.images.append((xobj, ctm))
            else:
                scan.forms += 1
    return scan


def _form_has_text(page: Any) -> bool:
    """Text drawn inside form XObjects (one level deep is what OCR tools write)."""
    pikepdf = _pikepdf()
    xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
    for _, xobj in xobjects.items() if xobjects else ():
        if str(xobj.get("/Subtype")) != "/Form":
            continue
        try:
            ops = pikepdf.parse_content_stream(xobj)
        except pikepdf.PdfError:
            continue
        if any(str(i.operator) in _TEXT_OPS for i in ops):
            return True
    return False


def _describe(page: Any, number: int, render_dpi: float) -> tuple[PdfPageInfo, Any]:
    """The page's info and, for a single-image page, the image XObject to extract."""
    x1, y1, x2, y2 = _box(page)
    rotate = int(_num(page.obj.get("/Rotate", 0))) % 360
    if rotate % 90:
        rotate = 0
    scan = _scan_content(page)
    has_text = scan.has_text or (scan.forms > 0 and _form_has_text(page))
    images = scan.images or []
    reason: str | None = None
    if len(images) != 1:
        reason = f"{len(images)} images on the page" if images else "no image on the page"
    elif scan.other_paint or scan.forms:
        reason = "the page has drawings or form XObjects besides its image"
    xobj = None
    if reason is None:
        xobj, (a, b, c, d, e, f) = images[0]
        w_px, h_px = int(xobj.get("/Width", 0)), int(xobj.get("/Height", 0))
        placed = (min(e, e + a), min(f, f + d), max(e, e + a), max(f, f + d))
        if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
            reason = "the image is rotated, mirrored or sheared on the page"
        elif any(abs(p - q) > _FILL_TOLERANCE_PT for p, q in zip(placed, (x1, y1, x2, y2))):
            reason = "the image does not fill the page"
        elif "/SMask" in xobj or "/Mask" in xobj or bool(xobj.get("/ImageMask", False)):
            reason = "the image has a mask"
        elif w_px <= 0 or h_px <= 0:
            reason = "the image has no size"
        else:
            dpi = (w_px * 72.0 / a, h_px * 72.0 / d)
            if not all(MIN_DPI <= v <= MAX_DPI for v in dpi):
                reason = f"implausible image resolution {dpi[0]:.0f}x{dpi[1]:.0f} dpi"
    if reason is not None:
        w_pt, h_pt = x2 - x1, y2 - y1
        # pdftoppm rounds a fractional pixel up; say what it will produce.
        size = (
            math.ceil(w_pt * render_dpi / 72.0 - 1e-6),
            math.ceil(h_pt * render_dpi / 72.0 - 1e-6),
        )
        dpi = (float(render_dpi), float(render_dpi))
        kind: Literal["image", "render"] = "render"
        xobj = None
    else:
        size, kind = (w_px, h_px), "image"
        dpi = (round(dpi[0], 2), round(dpi[1], 2))
    if rotate in (90, 270):
        size, dpi = (size[1], size[0]), (dpi[1], dpi[0])
    info = PdfPageInfo(number, size[0], size[1], dpi, kind, has_text, rotate, reason)
    return info, xobj


def inspect_pdf(src: str | os.PathLike[str] | bytes, *, render_dpi: float = 300.0) -> PdfSummary:
    """Describe every page of a PDF: embedded scan or not, size, resolution, text.

    Parameters
    ----------
    src : path or bytes
    render_dpi : float
        Resolution reported for pages that would be rendered.

    Returns
    -------
    PdfSummary

    Raises
    ------
    InvalidImageError
        Not a readable PDF (names the file).
    UnsupportedFormatError
        An encrypted PDF.
    MissingDependencyError
        Without pikepdf (the ``pdf`` extra).

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.zeros((100, 100), np.uint8)).save(buf, "PDF", resolution=200)
    >>> inspect_pdf(buf.getvalue()).text_pages
    ()
    """
    _check_render_dpi(render_dpi)
    name = "<bytes>" if isinstance(src, (bytes, bytearray, memoryview)) else os.fspath(src)
    with _open_pdf(src, name) as pdf:
        pages = tuple(_describe(p, i, render_dpi)[0] for i, p in enumerate(pdf.pages, start=1))
    return PdfSummary(name, pages)


def _check_render_dpi(render_dpi: float) -> None:
    if not isinstance(render_dpi, (int, float)) or not MIN_DPI <= render_dpi <= 1200:
        raise InvalidArgumentError(f"render_dpi must lie in [{MIN_DPI}, 1200], got {render_dpi!r}")


def load_pdf_pages(
    src: str | os.PathLike[Any] | bytes | bytearray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    text: TextPolicy = "refuse",
    render_dpi: float = 300.0,
    start: int = 0,
) -> Iterator[Page]:
    """Read the pages of a scanner PDF one at a time, at native resolution.

    Parameters
    ----------
    src : path or bytes
    max_pixels : int
        Decompression-bomb guard per page (checked before decoding or rendering).
    text : {"refuse", "ocr"}
        What to do with a page that already has text: refuse it (default), or read its image
        so that it is OCR'd again.
    render_dpi : float
        Resolution for pages that are not a single embedded image.
    start : int
        0-based index of the first page to read.

    Yields
    ------
    Page
        ``source`` is the file, ``index`` the 0-based page number; ``dpi_status="ok"``.

    Raises
    ------
    UnsupportedFormatError
        A page with text under ``text="refuse"``, or an encrypted PDF.
    InvalidImageError
        Not a readable PDF, or a page image that cannot be decoded or rendered.
    ImageTooLargeError
        A page above ``max_pixels``.
    MissingDependencyError
        Without pikepdf, or without pdftoppm when a page must be rendered.

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.full((60, 40, 3), 200, np.uint8)).save(buf, "PDF", resolution=150)
    >>> [(p.mode, p.dpi) for p in load_pdf_pages(buf.getvalue())]
    [('RGB', (150.0, 150.0))]
    """
    if text not in ("refuse", "ocr"):
        raise InvalidArgumentError(f"text must be 'refuse' or 'ocr', got {text!r}")
    if not isinstance(max_pixels, int) or max_pixels <= 0:
        raise InvalidArgumentError(f"max_pixels must be a positive int, got {max_pixels!r}")
    if not isinstance(start, int) or start < 0:
        raise InvalidArgumentError(f"start must be a non-negative int, got {start!r}")
    _check_render_dpi(render_dpi)
    name = "<bytes>" if isinstance(src, (bytes, bytearray, memoryview)) else os.fspath(src)
    return _iter_pdf(src, name, max_pixels, text, float(render_dpi), start)


def _iter_pdf(
    src: Any, name: str, max_pixels: int, text: TextPolicy, render_dpi: float, start: int
) -> Iterator[Page]:
    pdf = _open_pdf(src, name)
    try:
        for i in range(start, len(pdf.pages)):
            info, xobj = _describe(pdf.pages[i], i + 1, render_dpi)
            if info.has_text and text == "refuse":
                raise UnsupportedFormatError(
                    "page already has text (a born-digital or already OCR'd PDF); it is not "
                    "OCR'd again unless asked (pdf_text='ocr')",
                    source=name,
                    page_index=i,
                )
            if info.width * info.height > max_pixels:
                raise ImageTooLargeError(
                    f"page is {info.width}x{info.height} = {info.width * info.height} pixels, "
                    f"above the limit of {max_pixels}",
                    source=name,
                    page_index=i,
                )
            im = _extract(xobj, name, i) if xobj is not None else None
            if im is None:  # not a single image, or one pikepdf cannot decode
                im = _render(src, name, i, render_dpi)
                info = _rendered_info(info, im.size, render_dpi)
            try:
                page = page_from_image(im, source=name, index=i, dpi=info.dpi)
            finally:
                im.close()
            if info.rotate:
                page = page.with_pixels(_rot(page.pixels, info.rotate))
            yield page
    finally:
        pdf.close()


def _rendered_info(info: PdfPageInfo, size: tuple[int, int], render_dpi: float) -> PdfPageInfo:
    from dataclasses import replace

    # pdftoppm applies /Rotate itself: nothing is left to turn.
    return replace(
        info,
        width=size[0],
        height=size[1],
        dpi=(render_dpi, render_dpi),
        source_kind="render",
        rotate=0,
    )


def _rot(pixels: Any, rotate: int) -> Any:
    import numpy as np

    # /Rotate turns the page clockwise for display; np.rot90 turns counter-clockwise.
    return np.ascontiguousarray(np.rot90(pixels, k=-(rotate // 90)))


def _extract(xobj: Any, name: str, index: int) -> Any:
    """The embedded image as Pillow decodes it, or None when pikepdf cannot extract it."""
    pikepdf = _pikepdf()
    try:
        im = pikepdf.PdfImage(xobj).as_pil_image()
        im.load()
    except (pikepdf.PdfError, NotImplementedError, ValueError, OSError, KeyError):
        return None
    except Exception as exc:  # pikepdf's UnsupportedImageTypeError / NotExtractableError
        if type(exc).__module__.startswith("pikepdf"):
            return None
        raise InvalidImageError(
            f"cannot decode the page image: {exc}", source=name, page_index=index
        ) from None
    return im


def _render(src: Any, name: str, index: int, dpi: float) -> Any:
    """Render one page with pdftoppm (poppler-utils) into a Pillow image."""
    from PIL import Image

    try:
        exe = require_tool("pdftoppm", "poppler-utils")
    except MissingDependencyError as exc:
        raise MissingDependencyError(
            f"{name} page {index + 1} is not a single embedded image and must be rendered: {exc}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="onestop-pdf-") as tmp:
        if isinstance(src, (bytes, bytearray, memoryview)):
            path = Path(tmp) / "in.pdf"
            path.write_bytes(bytes(src))
        else:
            path = Path(src)
        out = Path(tmp) / "page"
        cmd = [exe, "-r", f"{dpi:g}", "-f", str(index + 1), "-l", str(index + 1)]
        cmd += ["-png", "-singlefile", str(path), str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=_RENDER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise InvalidImageError(
                f"rendering the page took longer than {_RENDER_TIMEOUT_S:g} s",
                source=name,
                page_index=index,
            ) from None
        png = out.with_suffix(".png")
        if proc.returncode != 0 or not png.is_file():
            detail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
            raise InvalidImageError(
                f"pdftoppm could not render the page (exit {proc.returncode}): {detail}",
                source=name,
                page_index=index,
            )
        with Image.open(png) as im:
            im.load()
            return im.copy()
