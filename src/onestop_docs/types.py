"""Small result types shared by several modules (OCR output feeds PDF text layers, metadata, ...).

Coordinates are page pixels of the page the caller passed in, origin top-left, x right,
y down; boxes are half-open ``[x0, x1) x [y0, y1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, timezone

__all__ = ["VN_TZ", "Box", "OcrLine", "OcrResult", "OcrWord"]

#: Vietnam time (giờ Việt Nam): Asia/Ho_Chi_Minh has been UTC+07:00 without daylight saving
#: since 1975, so a fixed offset is exact for every date the library handles and needs no
#: time-zone database (``zoneinfo`` has none on Windows without the ``tzdata`` package).
#: Re-exported as ``signing.VN_TZ``, ``pipeline.VN_TZ`` and ``codes.VIETNAM_TZ``.
VN_TZ = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class Box:
    """An axis-aligned pixel box ``[x0, x1) x [y0, y1)``.

    Examples
    --------
    >>> Box(10, 20, 30, 50).width, Box(10, 20, 30, 50).height
    (20, 30)
    """

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """``x1 - x0``."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """``y1 - y0``."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Pixel area (0 for an empty box)."""
        return max(0, self.width) * max(0, self.height)

    def contains(self, other: Box) -> bool:
        """True when ``other`` lies inside this box."""
        return (
            self.x0 <= other.x0
            and self.y0 <= other.y0
            and other.x1 <= self.x1
            and other.y1 <= self.y1
        )


@dataclass(frozen=True)
class OcrWord:
    """One recognised word (từ): NFC text, its box in input-page pixels and confidence 0..100."""

    text: str
    box: Box
    confidence: float
    line_index: int = 0


@dataclass(frozen=True)
class OcrLine:
    """One text line: its words in reading order and the union box."""

    words: tuple[OcrWord, ...]
    box: Box

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class OcrResult:
    """Text of one page with geometry, as produced by :func:`onestop_docs.ocr.recognize`.

    Attributes
    ----------
    text : str
        Whole-page text in reading order, Unicode NFC, lines separated by ``\\n``.
    lines : tuple of OcrLine
        Lines in reading order; each word's box is in **input-page** pixel coordinates.
    mean_confidence : float
        Mean word confidence (0..100), ``0.0`` when no word was found.
    width, height : int
        Size of the input page in pixels (the coordinate frame of the boxes).
    dpi : float or None
        Resolution passed to the OCR engine.
    dpi_source : str or None
        Where ``dpi`` came from: ``"argument"`` (the caller), ``"page"`` (the file's own,
        when plausible), ``"paper"`` (the page is a whole sheet at a scanner setting,
        :func:`onestop_docs.ocr.dpi_from_paper_size`), ``"text"`` (estimated from the text
        size, :func:`onestop_docs.deskew.estimate_resolution`), or ``None`` (unknown: the
        engine guessed).
    language : str
        Tesseract language string, e.g. ``"vie"``.
    """

    text: str
    lines: tuple[OcrLine, ...]
    mean_confidence: float
    width: int
    height: int
    dpi: float | None = None
    language: str = "vie"
    engine: str = "tesseract"
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    dpi_source: str | None = None

    @property
    def words(self) -> tuple[OcrWord, ...]:
        """Every word of the page in reading order."""
        return tuple(w for line in self.lines for w in line.words)
