"""The visible signature stamp: its text, font and line layout (NĐ 30/2020, TT 01/2023).

The text is set in Liberation Serif 2 — metric-compatible with Times New Roman, which NĐ
30/2020 Phụ lục I prescribes, and with every Vietnamese glyph — at 10 pt.  This module
prepares the font copy pyHanko embeds and measures lines with the font's own metrics.
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
from pathlib import Path
from typing import Literal

from .._deps import require_module
from ..errors import InvalidArgumentError
from ..vntext import normalize
from .certs import vn_time

__all__ = [
    "LIBERATION_SERIF",
    "Role",
    "iso_vn",
    "pdf_font_path",
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
