"""Page regions for :mod:`onestop_docs.cleanup`: background, borders, specks.

Private helper module; import the public names from :mod:`onestop_docs.cleanup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._native import cleanup as _k  # type: ignore[attr-defined]
from .._native import cleanup_components as _cc  # type: ignore[attr-defined]
from .._validate import as_gray, as_image, as_mask, check_int
from ..errors import InvalidArgumentError
from ..types import Box
from ._threshold import _as_rgb3, _dpi_of

__all__ = [
    "BorderMode",
    "BorderResult",
    "DespeckleResult",
    "despeckle",
    "find_content_box",
    "normalize_background",
    "remove_borders",
]

BorderMode = Literal["whiten", "crop"]

# --------------------------------------------------------------------------- background


def _tile_size(dpi: float) -> int:
    # About 4 mm: larger than a text stroke or a 12 pt letter, smaller than the scale of
    # illumination changes.
    return max(8, round(dpi / 6.0))


def _background_map(img3: NDArray[np.uint8], tile: int) -> NDArray[np.float32]:
    """Paper level per tile and channel: 90th percentile, holes filled, smoothed."""
    h, w, nc = img3.shape
    th, tw = -(-h // tile), -(-w // tile)
    small = np.zeros((th, tw, nc), np.uint8)
    _k.tile_percentile(img3, tile, max(1, tile // 16), 0.9, small)
    bg = small.astype(np.float32)
    lum = bg.max(axis=2)
    ref = float(np.percentile(lum, 75))
    # A tile is a hole (ink, border, stamp fill) when it is much darker than the paper
    # around it or than the page as a whole; illumination does not change that fast.
    pad = np.pad(lum, 2, mode="edge")
    local_max = np.zeros_like(lum)
    for dy in range(5):
        for dx in range(5):
            np.maximum(local_max, pad[dy : dy + th, dx : dx + tw], out=local_max)
    valid = (lum >= 0.75 * local_max) & (lum >= 0.4 * ref) & (lum > 0)
    if not valid.any():
        # No paper anywhere (a solid dark frame): a flat map leaves the page as it is.
        return np.full((th, tw, nc), 255.0, np.float32)
    filled = bg.copy()
    ok = valid.copy()
    while not ok.all():
        acc = np.zeros_like(filled)
        cnt = np.zeros((th, tw), np.float32)
        fp = np.pad(filled * ok[:, :, None], ((1, 1), (1, 1), (0, 0)))
        op = np.pad(ok.astype(np.float32), 1)
        for dy in range(3):
            for dx in range(3):
                acc += fp[dy : dy + th, dx : dx + tw]
                cnt += op[dy : dy + th, dx : dx + tw]
        grow = (~ok) & (cnt > 0)
        filled[grow] = acc[grow] / cnt[grow][:, None]
        ok |= grow
    # 3x3 box smoothing on the reduced grid.
    fp = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
    smooth = np.zeros_like(filled)
    for dy in range(3):
        for dx in range(3):
            smooth += fp[dy : dy + th, dx : dx + tw]
    return np.asarray(smooth / 9.0, np.float32)


def _normalize(img: NDArray[np.uint8], dpi: float) -> tuple[NDArray[np.uint8], float]:
    """The page with its paper mapped to white, and the mean paper level before (0..255)."""
    tile = _tile_size(dpi)
    img3 = _as_rgb3(img)
    bg = _background_map(img3, tile)
    gain = np.ascontiguousarray(255.0 / np.maximum(bg, 16.0), dtype=np.float32)
    out = np.empty_like(img)
    _k.apply_gain(img3, gain, tile, _as_rgb3(out))
    return out, float(bg.mean())


def normalize_background(image: Any, *, dpi: float | None = None) -> NDArray[np.uint8]:
    """Map the paper background to white, page by page and channel by channel.

    The paper level is estimated on a reduced grid (tiles of about 4 mm, ``dpi / 6`` px):
    the 90th percentile of each tile and channel, tiles much darker than their
    neighbourhood or than the page (ink, stamps, black borders) replaced from their
    neighbours, then a 3x3 smoothing -- the approach of Leptonica's background
    normalization.  Each pixel is multiplied by ``255 / background`` interpolated
    bilinearly between tile centres and clipped to 255.  Per-channel gains turn grey or
    yellow paper white while red stamps and blue signatures stay red and blue.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3).
    dpi : float, optional
        Resolution for the tile size; defaults to the Page's, else 300.

    Returns
    -------
    ndarray of uint8
        Same shape as the input.

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape or dpi.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> grey_paper = np.full((40, 40), 180, np.uint8); grey_paper[20, 5:35] = 60
    >>> out = normalize_background(grey_paper, dpi=100)
    >>> int(out[0, 0]), int(out[20, 20])
    (255, 85)
    """
    img = as_image(image)
    return _normalize(img, _dpi_of(image, dpi))[0]


# --------------------------------------------------------------------------- components


@dataclass(frozen=True)
class _Components:
    """Run-length 8-connected components of a mask (internal)."""

    ry: NDArray[np.int32]
    rx0: NDArray[np.int32]
    rx1: NDArray[np.int32]
    rlab: NDArray[np.int32]
    area: NDArray[np.int64]
    bx0: NDArray[np.int32]
    by0: NDArray[np.int32]
    bx1: NDArray[np.int32]
    by1: NDArray[np.int32]

    @classmethod
    def of(cls, mask_u8: NDArray[np.uint8]) -> _Components:
        return cls(*_cc.label_runs(mask_u8))

    def paint(
        self,
        img: NDArray[np.uint8],
        select: NDArray[np.bool_],
        colour: tuple[int, ...],
        grow: int = 0,
    ) -> None:
        """Paint the selected components of a grey or RGB image in place with ``colour``
        (one value per channel)."""
        _cc.paint_runs(
            _as_rgb3(img),
            self.ry,
            self.rx0,
            self.rx1,
            self.rlab,
            select.view(np.uint8),
            np.array(colour, np.uint8),
            grow,
        )


# --------------------------------------------------------------------------- borders


@dataclass(frozen=True)
class BorderResult:
    """Result of :func:`remove_borders`.

    Attributes
    ----------
    image : ndarray of uint8
        Whitened page (same shape) or the crop to ``box`` (mode ``"crop"``).
    box : Box
        Content box in input-page pixels (see :func:`find_content_box`).
    border_pixels : int
        Pixels found to belong to borders, wedges or the page frame.
    """

    image: NDArray[np.uint8]
    box: Box
    border_pixels: int = 0


@dataclass(frozen=True)
class _Borders:
    comps: _Components
    select: NDArray[np.bool_]
    box: Box
    pixels: int


def _border_select(
    comps: _Components, h: int, w: int, min_fill: float = 0.0, min_run: float = 0.0
) -> NDArray[np.bool_]:
    """The components of an (h, w) mask that are borders: touching the image edge along
    >= 15 % of it or covering >= 1 % of the page from the edge (scanner bars, wedges of a
    skewed sheet, the desk around a phone capture) and solid -- filling at least
    ``min_fill`` of their bounding box or with runs of ``min_run`` px on average -- or
    outlining >= 85 % of the page thinly (a frame)."""
    bw = comps.bx1 - comps.bx0
    bh = comps.by1 - comps.by0
    box_area = np.maximum(bw.astype(np.int64) * bh, 1)
    touches_lr = (comps.bx0 == 0) | (comps.bx1 == w)
    touches_tb = (comps.by0 == 0) | (comps.by1 == h)
    edge = (touches_lr & (bh >= 0.15 * h)) | (touches_tb & (bw >= 0.15 * w))
    edge |= (touches_lr | touches_tb) & (comps.area >= 0.01 * h * w)
    if min_fill > 0.0:
        runs = np.bincount(comps.rlab, minlength=comps.area.shape[0])
        edge &= (comps.area >= min_fill * box_area) | (comps.area >= min_run * runs)
    frame = (bw >= 0.85 * w) & (bh >= 0.85 * h) & (comps.area <= 0.2 * box_area)
    return np.asarray(edge | frame, np.bool_)


def _find_borders(norm_gray: NDArray[np.uint8], dpi: float) -> _Borders:
    """Dark components that touch the image edge along >= 15 % of it (scanner bars,
    wedges of a skewed sheet) or that outline >= 85 % of the page thinly (a frame)."""
    h, w = norm_gray.shape
    comps = _Components.of((norm_gray < 128).view(np.uint8))
    select = _border_select(comps, h, w)
    speck = _speck_area(dpi)
    ink = (~select) & (comps.area > speck)
    # Per-row and per-column border coverage from the runs.
    sel_run = select[comps.rlab]
    lengths = (comps.rx1 - comps.rx0)[sel_run]
    row_cov = np.bincount(comps.ry[sel_run], weights=lengths, minlength=h)
    diff = np.zeros(w + 1, np.int64)
    np.add.at(diff, comps.rx0[sel_run], 1)
    np.add.at(diff, comps.rx1[sel_run], -1)
    col_cov = np.cumsum(diff[:w])
    x0, x1 = _trim(col_cov, h), _trim(col_cov[::-1], h)
    y0, y1 = _trim(row_cov, w), _trim(row_cov[::-1], w)
    box = [x0, y0, w - x1, h - y1]
    if box[0] >= box[2] or box[1] >= box[3]:
        box = [0, 0, w, h]
    if ink.any():
        box = [
            min(box[0], int(comps.bx0[ink].min())),
            min(box[1], int(comps.by0[ink].min())),
            max(box[2], int(comps.bx1[ink].max())),
            max(box[3], int(comps.by1[ink].max())),
        ]
    return _Borders(comps, select, Box(*box), int(comps.area[select].sum()))


def _trim(coverage: NDArray[Any], length: int) -> int:
    """Depth from one side: one past the innermost line, within the outer third, that is
    at least half border."""
    n = coverage.shape[0]
    outer = coverage[: max(1, n // 3)]
    hits = np.flatnonzero(outer >= 0.5 * length)
    return int(hits[-1]) + 1 if hits.size else 0


def find_content_box(image: Any, *, dpi: float | None = None) -> Box:
    """The page area inside scanner borders, wedges and the page frame.

    Borders are dark (< 50 % of the local paper level) connected regions that touch the
    image edge along at least 15 % of it, or cover 1 % of the page; a frame is a thin dark
    outline spanning 85 % of both sides.  From each side the box drops the lines (within
    the outer third) that are at least half border, and it is then grown to hold every
    non-border ink component, so it never cuts into text.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB.
    dpi : float, optional
        Resolution; defaults to the Page's, else 300.

    Returns
    -------
    Box
        Half-open ``[x0, x1) x [y0, y1)`` in input pixels; the whole image when there is
        no border.

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape or dpi.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((100, 80), 235, np.uint8); img[:, :10] = 15   # black bar on the left
    >>> img[40:44, 30:60] = 30                                        # a word
    >>> find_content_box(img, dpi=100)
    Box(x0=10, y0=0, x1=80, y1=100)
    """
    res = _dpi_of(image, dpi)
    gray = as_gray(image)
    return _find_borders(_normalize(gray, res)[0], res).box


def _paper_colour(img: NDArray[np.uint8], dpi: float) -> tuple[int, ...]:
    img3 = _as_rgb3(img)
    bg = _background_map(img3, _tile_size(dpi))
    return tuple(round(float(np.median(bg[:, :, c]))) for c in range(img3.shape[2]))


def remove_borders(
    image: Any, *, mode: BorderMode = "whiten", dpi: float | None = None
) -> BorderResult:
    """Whiten (paint with the paper colour) or crop away scanner borders and frames.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB; the output keeps its colour.
    mode : {"whiten", "crop"}
        ``whiten`` paints border pixels (grown by ``dpi / 100`` px to cover their
        anti-aliased edge) with the median paper colour and keeps the shape; ``crop``
        returns ``image[box]``.
    dpi : float, optional
        Resolution; defaults to the Page's, else 300.

    Returns
    -------
    BorderResult
        ``(image, box, border_pixels)``.

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape, dpi or mode.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((100, 80), 235, np.uint8); img[:8, :] = 10     # dark top bar
    >>> res = remove_borders(img, dpi=100)
    >>> res.box, int(res.image.min())
    (Box(x0=0, y0=8, x1=80, y1=100), 235)
    """
    if mode not in ("whiten", "crop"):
        raise InvalidArgumentError(f"mode must be 'whiten' or 'crop', got {mode!r}")
    img = as_image(image)
    res = _dpi_of(image, dpi)
    gray = as_gray(img)
    borders = _find_borders(_normalize(gray, res)[0], res)
    return _apply_borders(img, borders, mode, res, _paper_colour(img, res))


def _apply_borders(
    img: NDArray[np.uint8], borders: _Borders, mode: str, dpi: float, paper: tuple[int, ...]
) -> BorderResult:
    b = borders.box
    if mode == "crop":
        return BorderResult(np.ascontiguousarray(img[b.y0 : b.y1, b.x0 : b.x1]), b, borders.pixels)
    out = img.copy()
    _whiten_borders(out, borders, dpi, paper)
    return BorderResult(out, b, borders.pixels)


def _whiten_borders(
    img: NDArray[np.uint8], borders: _Borders, dpi: float, paper: tuple[int, ...]
) -> None:
    """Paint the border components of ``img`` in place with ``paper``, grown by ``dpi / 100``
    px to cover their anti-aliased edge."""
    if borders.select.any():
        borders.comps.paint(img, borders.select, paper, max(1, round(dpi / 100.0)))


# --------------------------------------------------------------------------- despeckle


def _speck_area(dpi: float) -> int:
    # 30 px at 300 dpi (a dust dot of ~0.45 mm), scaled with the pixel area.
    return max(1, round(30.0 * (dpi / 300.0) ** 2))


def _protect_distance(dpi: float) -> int:
    # 1 mm: the gap between a Vietnamese mark (dấu nặng, tone marks, the dot of i) and its
    # letter is 0.2-0.6 mm at 10-14 pt.
    return max(2, round(dpi / 25.4))


@dataclass(frozen=True)
class DespeckleResult:
    """Result of :func:`despeckle`.

    Attributes
    ----------
    mask : ndarray of bool
        The cleaned mask (True = ink), same shape as the input.
    removed_components : int
        Number of 8-connected components removed.
    removed_pixels : int
        Number of ink pixels removed.
    """

    mask: NDArray[np.bool_]
    removed_components: int
    removed_pixels: int


def despeckle(
    mask: Any,
    *,
    dpi: float | None = None,
    max_area: int | None = None,
    protect_distance: int | None = None,
) -> DespeckleResult:
    """Remove small isolated ink components, keeping the ones that sit next to text.

    A component (8-connected) of at most ``max_area`` pixels is a speck candidate; it is
    kept when a larger component lies within ``protect_distance`` pixels of its bounding
    box -- so Vietnamese diacritics (dấu nặng under a vowel, the dot of i, tone marks),
    full stops and commas survive while dust in the margins goes.

    Parameters
    ----------
    mask : ndarray of bool or Page-like
        2-D bool mask, True = ink.
    dpi : float, optional
        Resolution for the defaults; defaults to the Page's, else 300.
    max_area : int, optional
        Largest speck in pixels; default ``round(30 * (dpi / 300) ** 2)``.
    protect_distance : int, optional
        Neighbourhood in pixels; default ``round(dpi / 25.4)`` (1 mm).

    Returns
    -------
    DespeckleResult

    Raises
    ------
    InvalidArgumentError
        Not a 2-D bool array; negative ``max_area`` or ``protect_distance``.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((40, 40), bool)
    >>> m[10:30, 10:13] = True        # the stem of an i
    >>> m[6:8, 10:12] = True          # its dot: small, but next to the stem
    >>> m[35, 35] = True              # dust
    >>> r = despeckle(m, dpi=150)
    >>> r.removed_components, r.removed_pixels, bool(r.mask[6, 10])
    (1, 1, True)
    """
    m = as_mask(mask)
    res = _dpi_of(mask, dpi)
    area = (
        _speck_area(res) if max_area is None else check_int(max_area, "max_area", 0, numpy_ok=True)
    )
    dist = (
        _protect_distance(res)
        if protect_distance is None
        else check_int(protect_distance, "protect_distance", 0, numpy_ok=True)
    )
    return _despeckle(m, area, dist)[0]


def _despeckle(
    m: NDArray[np.bool_], max_area: int, dist: int
) -> tuple[DespeckleResult, _Components | None, NDArray[np.bool_] | None]:
    comps = _Components.of(m.view(np.uint8))
    small = comps.area <= max_area
    if not small.any():
        return DespeckleResult(m.copy(), 0, 0), None, None
    big = m.copy()
    removed = _remove_specks(big, comps, small, dist)
    result = DespeckleResult(big, int(removed.sum()), int(comps.area[removed].sum()))
    return result, comps, removed


def _remove_specks(
    m: NDArray[np.bool_], comps: _Components, small: NDArray[np.bool_], dist: int
) -> NDArray[np.bool_]:
    """Clear, in place, the ``small`` components of ``m`` that have no other ink within
    ``dist`` px of their bounding box; return which components were cleared."""
    comps.paint(m.view(np.uint8), small, (0,))
    near = np.zeros(small.shape[0], np.uint8)
    _cc.near_ink(
        m.view(np.uint8),
        comps.bx0,
        comps.by0,
        comps.bx1,
        comps.by1,
        small.view(np.uint8),
        dist,
        near,
    )
    removed = np.asarray(small & (near == 0), np.bool_)
    # Put back the specks that sit next to ink.
    comps.paint(m.view(np.uint8), small & ~removed, (1,))
    return removed


#: Smallest ink fraction of its bounding box for an edge component of a binarized mask to be
#: a border (unless its runs average >= 2 mm): a bar fills ~100 %, the wedge of a skewed
#: sheet 50 %, text 10-40 %; the desk around a phone capture fills less but has long runs.
_BORDER_MIN_FILL = 0.45


def _drop_borders_and_specks(m: NDArray[np.bool_], dpi: float) -> NDArray[np.bool_]:
    """Clear, in place, the border components of a mask (grown by ``dpi / 100`` px, see
    :func:`_border_select`) and its isolated specks (:func:`despeckle` defaults), with one
    labelling; returns ``m``."""
    h, w = m.shape
    comps = _Components.of(m.view(np.uint8))
    # Bars, wedges and desks are solid; handwriting that reaches the edge of a cropped page
    # is not (strokes: runs of 2-10 px).
    border = _border_select(comps, h, w, _BORDER_MIN_FILL, 2.0 * dpi / 25.4)
    if border.any():
        comps.paint(m.view(np.uint8), border, (0,), max(1, round(dpi / 100.0)))
    small = (comps.area <= _speck_area(dpi)) & ~border
    if small.any():
        _remove_specks(m, comps, small, _protect_distance(dpi))
    return m
