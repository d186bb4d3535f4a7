"""The visible signature stamp: its text, font, line layout and place on page 1.

The text is set in Liberation Serif 2 — metric-compatible with Times New Roman, which NĐ
30/2020 Phụ lục I prescribes, and with every Vietnamese glyph — at 10 pt.  This module
prepares the font copy pyHanko embeds and measures lines with the font's own metrics.

:func:`plan_stamps` decides where the two stamps go on a scanned page 1 so that they never
cover ink: in their corner, moved to the nearest blank spot, shrunk, or on a blank strip.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import logging
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .._deps import require_module
from ..errors import InvalidArgumentError
from ..vntext import normalize
from .certs import vn_time

__all__ = [
    "INK_LEVEL",
    "LIBERATION_SERIF",
    "MAX_INK_FRACTION",
    "MIN_FONT_PT",
    "Role",
    "StampLayout",
    "StampPlacement",
    "StampPlan",
    "iso_vn",
    "pdf_font_path",
    "plan_stamps",
    "stamp_layout",
    "stamp_text",
    "text_width_pt",
    "wrap_lines",
]

#: Liberation Serif **2** (Times New Roman metrics, full Vietnamese coverage).  Liberation 1.x
#: lacks Vietnamese glyphs; do not point ``font_path`` at it.
LIBERATION_SERIF = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")

Role = Literal["officer", "organisation"]

# fontTools logs a warning per unknown table while subsetting; it is noise for a stamp.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


def iso_vn(moment: dt.datetime) -> str:
    """ISO 8601 with seconds and the +07:00 offset, e.g. ``2025-06-30T14:05:09+07:00``.

    Examples
    --------
    >>> import datetime as dt
    >>> iso_vn(dt.datetime(2025, 6, 30, 7, 5, 9, 500, tzinfo=dt.timezone.utc))
    '2025-06-30T14:05:09+07:00'
    """
    return vn_time(moment).replace(microsecond=0).isoformat()


def stamp_text(
    role: Role,
    *,
    signing_time: dt.datetime,
    signer_name: str | None = None,
    copied_at: dt.datetime | None = None,
    copy_form: str = "SAO Y",
    agency_name: str | None = None,
) -> str:
    """The visible text of a stamp, one item per line, in the library's normal form.

    Names go through :func:`onestop_docs.vntext.normalize` (NFC with Vietnamese mark-order
    repair), so a name typed with the tone mark before the circumflex still gets one glyph.

    Examples
    --------
    >>> import datetime as dt
    >>> from onestop_docs.signing import VN_TZ
    >>> t = dt.datetime(2025, 6, 30, 14, 5, 9, tzinfo=VN_TZ)
    >>> print(stamp_text("organisation", signing_time=t, agency_name="UBND xã Hòa Bình"))
    SAO Y
    UBND xã Hòa Bình
    2025-06-30T14:05:09+07:00
    >>> print(stamp_text("officer", signing_time=t, signer_name="Nguyễn Thị Ánh"))
    Người số hóa: Nguyễn Thị Ánh
    Thời gian: 2025-06-30T14:05:09+07:00

    Raises
    ------
    InvalidArgumentError
        Unknown role, missing signer or agency name, or text with control characters.
    """
    if role == "officer":
        if not signer_name:
            raise InvalidArgumentError("role='officer' needs the officer's name (signer_name)")
        lines = [
            f"Người số hóa: {signer_name}",
            f"Thời gian: {iso_vn(copied_at or signing_time)}",
        ]
    elif role == "organisation":
        if not agency_name:
            raise InvalidArgumentError("role='organisation' needs agency_name (tên cơ quan sao)")
        if not copy_form:
            raise InvalidArgumentError("copy_form must be e.g. 'SAO Y', 'SAO LỤC', 'TRÍCH SAO'")
        lines = [copy_form, agency_name, iso_vn(signing_time)]
    else:
        raise InvalidArgumentError(f"role must be 'officer' or 'organisation', got {role!r}")
    text = normalize("\n".join(lines))
    if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in text):
        raise InvalidArgumentError(f"stamp text contains control characters: {text!r}")
    return text


@functools.lru_cache(maxsize=4)
def _font_metrics(font_path: str) -> tuple[dict[int, str], dict[str, tuple[int, int]], int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(font_path, lazy=True) as font:
        cmap = dict(font.getBestCmap())
        hmtx = dict(font["hmtx"].metrics)
        upem = int(font["head"].unitsPerEm)
    return cmap, hmtx, upem


_FONT_CACHE_LOCK = threading.Lock()

#: Characters a stamp may contain: ASCII, Latin-1, Latin Extended-A/B, combining marks,
#: Latin Extended Additional (ạ…ỹ), general punctuation and currency (₫).
_STAMP_REPERTOIRE = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    *range(0x300, 0x370),
    *range(0x1E00, 0x1F00),
    *range(0x2000, 0x2070),
    *range(0x20A0, 0x20C0),
]
_STAMP_CHARS = frozenset(_STAMP_REPERTOIRE)


@functools.lru_cache(maxsize=4)
def _font_for_pdf(font_path: str, mtime_ns: int) -> str:
    """A 1000-units-per-em copy of the font for pyHanko's glyph accumulator.

    pyHanko (0.38) writes glyph widths (/W) and TJ kerning in font units, which PDF reads as
    thousandths of an em; for a 2048-unit font such as Liberation Serif that doubles every
    advance.  Rescaling the font to 1000 units makes both exact.  ``mtime_ns`` is part of
    the cache key so an updated font file is picked up.
    """
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

    with TTFont(font_path) as font:
        if int(font["head"].unitsPerEm) != 1000:
            scale_upem(font, 1000)
        # Keep only the glyphs a Vietnamese stamp can use, without OpenType layout tables
        # or hinting: pyHanko re-subsets the font for every signature and decompiling
        # GSUB/GPOS dominated the signing time (~170 ms).  NFC Vietnamese is precomposed,
        # so no shaping is lost; only pair kerning is.  Glyph ids are retained.
        options = subset.Options()
        options.retain_gids = True
        options.layout_features = []
        options.hinting = False
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "hdmx", "VDMX", "LTSH"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(unicodes=_STAMP_REPERTOIRE)
        subsetter.subset(font)
        directory = Path(tempfile.mkdtemp(prefix="onestop-font-"))
        atexit.register(shutil.rmtree, directory, True)
        out = directory / Path(font_path).name
        font.save(str(out))
    return str(out)


def pdf_font_path(font_path: Path) -> str:
    """Path of the font file to embed (see :func:`_font_for_pdf`); thread-safe.

    Raises
    ------
    MissingDependencyError
        Without fontTools and uharfbuzz (``pyhanko[opentype]``, part of the ``sign`` extra).
    InvalidArgumentError
        If the font file cannot be read.
    """
    for module in ("fontTools", "uharfbuzz"):
        require_module(module, "sign")
    try:
        mtime = font_path.stat().st_mtime_ns
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read font {str(font_path)!r}: {exc}") from exc
    with _FONT_CACHE_LOCK:
        return _font_for_pdf(str(font_path), mtime)


def text_width_pt(text: str, font_path: Path, size: float) -> float:
    """Advance width of one line of ``text`` in points, from the font's hmtx table.

    Raises
    ------
    InvalidArgumentError
        If the font has no glyph for a character (it would render as a box).
    """
    cmap, hmtx, upem = _font_metrics(str(font_path))
    total = 0
    for ch in text:
        glyph = cmap.get(ord(ch))
        if glyph is None or ord(ch) not in _STAMP_CHARS:
            # Outside the embedded repertoire the PDF would show an empty box.
            raise InvalidArgumentError(
                f"the stamp font has no glyph for {ch!r} (U+{ord(ch):04X}); expected Vietnamese "
                f"or Latin text, set in {font_path.name} (Liberation Serif 2)"
            )
        total += hmtx[glyph][0]
    return total * size / upem


def wrap_lines(
    lines: Sequence[str], font_path: Path, size: float, max_width_pt: float
) -> list[str]:
    """Greedy word wrap of each line to ``max_width_pt``; a single over-long word stays whole.

    Examples
    --------
    >>> wrap_lines(["Ủy ban nhân dân xã Hòa Bình"], LIBERATION_SERIF, 10, 60)
    ['Ủy ban nhân', 'dân xã Hòa', 'Bình']
    """
    out: list[str] = []
    for line in lines:
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and text_width_pt(candidate, font_path, size) > max_width_pt:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
    return out


# --- placement: stamps that never cover ink ---------------------------------------------------

#: Smallest font a stamp is shrunk to (points); below it the time string stops being legible
#: on a 300-dpi print.  The rules prescribe 10 pt (NĐ 30/2020 Phụ lục I); shrinking is the
#: second choice, after moving within the corner.
MIN_FONT_PT = 7
#: Grey level below which a pixel of the page counts as ink.
INK_LEVEL = 160
#: Ink allowed under a stamp, as a fraction of its area.
MAX_INK_FRACTION = 0.001
_MM = 72.0 / 25.4


@dataclass(frozen=True)
class StampLayout:
    """Size of a stamp's box for a given text, font and page width (as :func:`sign_pdf` sets it).

    Attributes
    ----------
    lines : tuple of str
        The text after wrapping.
    width_pt, height_pt : float
        The box, points.
    font_size : int
    """

    lines: tuple[str, ...]
    width_pt: float
    height_pt: float
    font_size: int


def stamp_layout(
    text: str,
    *,
    page_width_pt: float,
    font_path: Path = LIBERATION_SERIF,
    font_size: int = 10,
    margin_pt: float = 28.35,
    padding_pt: float = 2.0,
) -> StampLayout:
    """Wrap ``text`` and measure its box: at most half the usable width, so two never overlap.

    Examples
    --------
    >>> lay = stamp_layout("SAO Y\\nUBND xã Hòa Bình", page_width_pt=595.0)
    >>> lay.lines, round(lay.height_pt, 1)
    (('SAO Y', 'UBND xã Hòa Bình'), 28.0)
    """
    max_text_width = (page_width_pt - 2 * margin_pt) / 2 - 2 * padding_pt - 6.0
    lines = wrap_lines(text.split("\n"), font_path, font_size, max_text_width)
    width = max(text_width_pt(line, font_path, font_size) for line in lines)
    width += 2 * padding_pt + 1.0
    height = len(lines) * font_size * 1.2 + 2 * padding_pt
    return StampLayout(tuple(lines), width, height, font_size)


@dataclass(frozen=True)
class StampPlacement:
    """Where one stamp goes on page 1 and how large its text is.

    Attributes
    ----------
    role : {"officer", "organisation"}
    box : tuple of float
        ``(x1, y1, x2, y2)`` in PDF points, origin bottom-left, on the page as written
        (including ``PagePlan.strip_pt`` when a strip was added).
    font_size : int
    ink_fraction : float
        Share of the box area that is ink on the page image (0 on a blank strip).
    how : {"corner", "moved", "shrunk", "strip"}
        ``"corner"``: the regulated spot, 10 mm from the corner, at full size; ``"moved"``:
        elsewhere in the corner zone at full size; ``"shrunk"``: a smaller font (moved or not);
        ``"strip"``: on the blank strip added above the page.
    """

    role: Role
    box: tuple[float, float, float, float]
    font_size: int
    ink_fraction: float
    how: Literal["corner", "moved", "shrunk", "strip"]


@dataclass(frozen=True)
class StampPlan:
    """The stamps of page 1 and the blank strip (if any) to add above the page image.

    ``strip_px`` rows of paper white go on top of the page image before it is written; the
    boxes are already in the coordinates of the taller page.
    """

    placements: tuple[StampPlacement, ...]
    strip_px: int
    page_size_pt: tuple[float, float]

    def get(self, role: Role) -> StampPlacement | None:
        """The placement of ``role``, or None."""
        return next((p for p in self.placements if p.role == role), None)


def _ink_cells(gray: NDArray[np.uint8], block: int) -> NDArray[np.int64]:
    """Integral image of ``block``×``block`` cells holding any ink (a cell is ink or not)."""
    h, w = gray.shape
    hc, wc = -(-h // block), -(-w // block)
    padded = np.full((hc * block, wc * block), 255, np.uint8)
    padded[:h, :w] = gray
    ink = (padded < INK_LEVEL).reshape(hc, block, wc, block).any(axis=(1, 3))
    integral = np.zeros((hc + 1, wc + 1), np.int64)
    integral[1:, 1:] = ink.cumsum(0).cumsum(1)
    return integral


def plan_stamps(
    pixels: NDArray[np.uint8],
    dpi: tuple[float, float],
    texts: dict[Role, str],
    *,
    font_path: Path = LIBERATION_SERIF,
    font_size: int = 10,
    min_font_size: int = MIN_FONT_PT,
    margin_pt: float = 28.35,
    padding_pt: float = 2.0,
    min_margin_mm: float = 5.0,
    clearance_mm: float = 1.0,
    zone_depth: float = 0.3,
) -> StampPlan:
    """Place the officer and organisation stamps on page 1 so that they cover no ink.

    Each stamp stays in its corner of the page (officer top-left, organisation top-right,
    TT 01/2023 Điều 8 k1 and NĐ 30/2020 Phụ lục I): its box lies in its half of the page
    width and in the top ``zone_depth`` of the height, at least ``min_margin_mm`` from the
    edges.  In that zone it takes, in order of preference:

    1. the regulated spot (``margin_pt`` from the corner) at ``font_size``, if blank;
    2. the blank spot nearest to it, at ``font_size``;
    3. the same at smaller sizes, down to ``min_font_size``;
    4. a blank strip added above the page (the page grows; the scan is never covered).

    "Blank" means at most :data:`MAX_INK_FRACTION` of the box, grown by ``clearance_mm`` on
    every side, is ink (grey < :data:`INK_LEVEL`) at a resolution of about 0.3 mm.

    Parameters
    ----------
    pixels : uint8 array
        Page 1 as it will be written (grey or RGB).
    dpi : (float, float)
    texts : dict
        Stamp text by role (from :func:`stamp_text`; any date of the same length).

    Returns
    -------
    StampPlan

    Examples
    --------
    >>> import datetime as dt, numpy as np
    >>> page = np.full((1754, 1240), 255, np.uint8)  # A4 at 150 dpi
    >>> page[83:, :] = 0  # ink from 14 mm down
    >>> t = stamp_text("officer", signing_time=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    ...                signer_name="Lê Văn Tám")
    >>> plan = plan_stamps(page, (150.0, 150.0), {"officer": t})
    >>> p = plan.get("officer")
    >>> p.how, p.font_size, plan.strip_px
    ('shrunk', 7, 0)
    """
    from .._validate import as_gray

    gray = as_gray(pixels)
    dx, dy = float(dpi[0]), float(dpi[1])
    h_px, w_px = gray.shape
    page_w, page_h = w_px * 72.0 / dx, h_px * 72.0 / dy
    # Cells of about 0.3 mm: fine enough to use the gap between two text lines.
    block = max(1, round(min(dx, dy) / 85))
    integral = _ink_cells(gray, block)
    cell_w, cell_h = block * 72.0 / dx, block * 72.0 / dy
    n_rows, n_cols = integral.shape[0] - 1, integral.shape[1] - 1
    min_margin, clearance = min_margin_mm * _MM, clearance_mm * _MM

    def search(role: Role, size: int) -> tuple[tuple[float, float, float, float], float] | None:
        lay = stamp_layout(
            texts[role],
            page_width_pt=page_w,
            font_path=font_path,
            font_size=size,
            margin_pt=margin_pt,
            padding_pt=padding_pt,
        )
        bw = int(np.ceil((lay.width_pt + 2 * clearance) / cell_w))
        bh = int(np.ceil((lay.height_pt + 2 * clearance) / cell_h))
        if bw > n_cols or bh > n_rows:
            return None
        ink = (
            integral[bh:, bw:] - integral[:-bh, bw:] - integral[bh:, :-bw] + integral[:-bh, :-bw]
        )  # ink cells of the (clearance-grown) box whose top-left cell is (row, col)
        rows = np.arange(ink.shape[0])[:, None]
        cols = np.arange(ink.shape[1])[None, :]
        # Box edges in points from the top-left corner of the page (clearance removed).
        top = rows * cell_h + clearance
        left = cols * cell_w + clearance
        right = left + lay.width_pt
        ok = (top >= min_margin) & (top + lay.height_pt <= zone_depth * page_h)
        if role == "officer":
            ok = ok & (left >= min_margin) & (right <= page_w / 2)
            want_left = margin_pt
        else:
            ok = ok & (left >= page_w / 2) & (right <= page_w - min_margin)
            want_left = page_w - margin_pt - lay.width_pt
        ok = ok & (ink <= MAX_INK_FRACTION * bw * bh)
        if not ok.any():
            return None
        dist = (top - margin_pt) ** 2 + (left - want_left) ** 2
        dist = np.where(ok, dist, np.inf)
        r, c = np.unravel_index(int(np.argmin(dist)), dist.shape)
        x1 = float(left[0, c])
        y2 = page_h - float(top[r, 0])
        frac = float(ink[r, c]) / (bw * bh)
        return (x1, y2 - lay.height_pt, x1 + lay.width_pt, y2), frac

    found: dict[Role, StampPlacement] = {}
    missing: list[Role] = []
    for role in texts:
        for size in range(font_size, min_font_size - 1, -1):
            hit = search(role, size)
            if hit is None:
                continue
            box, frac = hit
            nominal_top = abs(page_h - box[3] - margin_pt) < cell_h
            nominal_x = (
                abs(box[0] - margin_pt) < cell_w
                if role == "officer"
                else abs(page_w - margin_pt - box[2]) < cell_w
            )
            how: Literal["corner", "moved", "shrunk", "strip"] = (
                "shrunk" if size < font_size else "corner" if nominal_top and nominal_x else "moved"
            )
            found[role] = StampPlacement(role, box, size, frac, how)
            break
        else:
            missing.append(role)
    strip_px = 0
    if missing:
        heights = {
            role: stamp_layout(
                texts[role],
                page_width_pt=page_w,
                font_path=font_path,
                font_size=font_size,
                margin_pt=margin_pt,
                padding_pt=padding_pt,
            )
            for role in missing
        }
        strip_pt = max(lay.height_pt for lay in heights.values()) + min_margin + clearance
        strip_px = int(np.ceil(strip_pt * dy / 72.0))
        new_h = page_h + strip_px * 72.0 / dy
        for role, lay in heights.items():
            y2 = new_h - min_margin
            x1 = margin_pt if role == "officer" else page_w - margin_pt - lay.width_pt
            found[role] = StampPlacement(
                role, (x1, y2 - lay.height_pt, x1 + lay.width_pt, y2), font_size, 0.0, "strip"
            )
        page_h = new_h
    order = tuple(found[r] for r in texts)
    return StampPlan(order, strip_px, (page_w, page_h))
