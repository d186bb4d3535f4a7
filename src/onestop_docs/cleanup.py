"""Page cleanup: thresholds, background normalization, borders, specks and blank pages.

Scan stations feed phone shots and cheap-scanner pages (uneven light, grey or yellow paper,
black scanner borders, dust, bleed-through, red stamps, blue signatures).  This module makes
the archive copy clean (colour is kept for colour input) and produces the binary ink mask
(True = ink) that deskew, duplicate hashing and OCR use.

The building blocks (:func:`otsu_threshold`, :func:`binarize`, :func:`normalize_background`,
:func:`find_content_box`, :func:`remove_borders`, :func:`despeckle`, :func:`detect_blank`)
are public; :func:`clean_page` runs them in order with safe defaults.  The loops live in
the Cython kernels of ``onestop_docs._native.cleanup`` and release the GIL, so a server can
clean two pages on two threads at once.

Conventions (see ``docs/cleanup.md``):

* Input pixels follow :mod:`onestop_docs._validate`: uint8 grey (H, W) or RGB (H, W, 3), or
  a :class:`~onestop_docs.imageio.Page`.  Float images are rejected, never rescaled.
* Resolution: an explicit ``dpi=`` wins, else the Page's dpi (mean of x and y), else
  :data:`DEFAULT_DPI`.  Every size default (window, tile, speck area) scales with it.
* Blank pages are flagged, never dropped: the archive keeps one image per physical page.

Examples
--------
>>> import numpy as np
>>> from onestop_docs.cleanup import CleanOptions, binarize, clean_page, otsu_threshold
>>> page = np.full((60, 80), 230, np.uint8)
>>> page[20:40, 30:34] = 20                      # one dark stroke
>>> otsu_threshold(page)
20
>>> mask = binarize(page, "sauvola", dpi=100)
>>> int(mask.sum()), mask.shape
(80, (60, 80))
>>> result = clean_page(page, CleanOptions(dpi=100))
>>> result.blank.is_blank, result.content_box
(False, Box(x0=0, y0=0, x1=80, y1=60))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._native import cleanup as _k  # type: ignore[attr-defined]
from ._validate import as_gray, as_image, as_mask, check_range
from .errors import InvalidArgumentError
from .types import Box

__all__ = [
    "DEFAULT_DPI",
    "MAX_WINDOW",
    "BlankCheck",
    "BorderResult",
    "CleanOptions",
    "CleanResult",
    "DespeckleResult",
    "binarize",
    "clean_page",
    "default_window",
    "despeckle",
    "detect_blank",
    "find_content_box",
    "normalize_background",
    "otsu_threshold",
    "remove_borders",
]

#: Resolution assumed when neither ``dpi=`` nor the Page says (a typical desk scanner).
DEFAULT_DPI = 300.0
#: Largest local window side; keeps the exact integer running sums far from overflow.
MAX_WINDOW = 3001

Method = Literal["otsu", "sauvola", "wolf", "niblack"]
Compat = Literal["skimage", "doxa"]
BorderMode = Literal["whiten", "crop"]

_METHOD_CODE = {"sauvola": 0, "niblack": 1, "wolf": 2}
_COMPAT_CODE = {None: 0, "skimage": 1, "doxa": 2}
# Defaults: ours (see docs/cleanup.md), and the reference libraries' own defaults so a
# compat call with no window/k reproduces the library called with no arguments.
_DEFAULT_K: dict[str | None, dict[str, float]] = {
    None: {"sauvola": 0.2, "niblack": 0.2, "wolf": 0.5},
    "skimage": {"sauvola": 0.2, "niblack": 0.2},
    "doxa": {"sauvola": 0.2, "niblack": 0.2, "wolf": 0.2},
}
_COMPAT_WINDOW = {"skimage": 15, "doxa": 75}
_DBL_MIN = 2.2250738585072014e-308


# --------------------------------------------------------------------------- helpers


def _dpi_of(image: Any, dpi: float | None) -> float:
    """Explicit dpi, else the Page's, else DEFAULT_DPI (validated to [50, 4800])."""
    if dpi is not None:
        return check_range(dpi, "dpi", 50.0, 4800.0)
    page_dpi = getattr(image, "dpi", None)
    if isinstance(page_dpi, tuple) and len(page_dpi) == 2:
        return float(page_dpi[0] + page_dpi[1]) / 2.0
    return DEFAULT_DPI


def default_window(dpi: float, shape: tuple[int, ...] | None = None) -> int:
    """Default local-threshold window: ``2 * floor(dpi / 8) + 1`` pixels (about 1/4 inch).

    A quarter inch spans about two lines of 12 pt text, enough for every window to see
    both ink and paper.  With ``shape`` the window is clipped to the largest odd size that
    fits the image.

    Examples
    --------
    >>> default_window(300), default_window(200), default_window(150)
    (75, 51, 37)
    >>> default_window(300, (20, 400))
    19
    """
    w = 2 * int(dpi // 8) + 1
    if shape is not None:
        side = min(shape[0], shape[1])
        w = min(w, side if side % 2 == 1 else side - 1)
    return max(1, w)


def _check_window(window: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    if isinstance(window, tuple | list):
        if len(window) != 2:
            raise InvalidArgumentError(f"window must be an int or (height, width), got {window!r}")
        wh, ww = window
    else:
        wh = ww = window
    out = []
    for v, side, name in ((wh, shape[0], "height"), (ww, shape[1], "width")):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise InvalidArgumentError(f"window must be an odd int, got {v!r}")
        v = int(v)
        if v < 1 or v % 2 == 0:
            raise InvalidArgumentError(f"window must be an odd int >= 1, got {v}")
        if v > MAX_WINDOW:
            raise InvalidArgumentError(f"window must be <= {MAX_WINDOW}, got {v}")
        if v > side:
            raise InvalidArgumentError(
                f"window {v} is larger than the image {name} {side}; "
                "pass a smaller odd window or window=None for the default"
            )
        out.append(v)
    return out[0], out[1]


def _as_rgb3(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W) or (H, W, 3) as a C-contiguous (H, W, C) view for the channel kernels."""
    return img[:, :, None] if img.ndim == 2 else img


# --------------------------------------------------------------------------- thresholds


def otsu_threshold(image: Any) -> int:
    """Otsu's global threshold of a grey page; ink is ``gray <= threshold``.

    Identical to ``skimage.filters.threshold_otsu`` on uint8 input (same histogram trim,
    same float32/float64 arithmetic), computed from a 256-bin histogram kernel.  RGB input
    is converted to luma first.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3).

    Returns
    -------
    int
        Threshold level 0..255; a single-valued image returns that value.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype (floats included), shape or type.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> otsu_threshold(np.array([[10, 10, 200, 210]], np.uint8))
    10
    """
    from ._native import gray as _gray  # type: ignore[attr-defined]

    g = as_gray(image)
    hist = np.zeros(256, np.int64)
    _gray.histogram(g, hist)
    nz = np.flatnonzero(hist)
    lo, hi = int(nz[0]), int(nz[-1])
    if lo == hi:
        return lo
    # Same expressions, dtypes and order as skimage 0.2x threshold_otsu (float32 counts,
    # int64 bin centres), so ties and rounding resolve identically.
    counts = hist[lo : hi + 1].astype(np.float32)
    bin_centers = np.arange(lo, hi + 1, dtype=np.int64)
    weight1 = np.cumsum(counts)
    weight2 = np.cumsum(counts[::-1])[::-1]
    mean1 = np.cumsum(counts * bin_centers) / weight1
    mean2 = (np.cumsum((counts * bin_centers)[::-1]) / weight2[::-1])[::-1]
    variance12 = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return int(bin_centers[int(np.argmax(variance12))])


def binarize(
    image: Any,
    method: Method = "sauvola",
    *,
    window: int | tuple[int, int] | None = None,
    k: float | None = None,
    dpi: float | None = None,
    compat: Compat | None = None,
) -> NDArray[np.bool_]:
    """Binary ink mask (True = ink) of a page by a global or local threshold.

    Local methods keep, per column, integer running sums of the pixel value and its square
    over the window height and slide a prefix sum along each row: O(pixels) for any window,
    O(width + window) extra memory, GIL released.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB (converted to luma).
    method : {"sauvola", "otsu", "wolf", "niblack"}
        ``sauvola``: T = m (1 + k (s / R - 1)), R = 128.  ``niblack``: T = m - k s.
        ``wolf``: T = m - k (1 - s / max s) (m - min I).  ``otsu``: global, see
        :func:`otsu_threshold` (ink is ``gray <= T``).
    window : int or (int, int), optional
        Odd window side(s) in pixels, at most the image size.  Default
        :func:`default_window` of the dpi (or the reference library's default in compat mode).
    k : float, optional
        Method constant, in [-5, 5].  Defaults: sauvola 0.2, niblack 0.2, wolf 0.5.
    dpi : float, optional
        Resolution for the default window; defaults to the Page's, else 300.
    compat : {None, "skimage", "doxa"}
        ``None`` (ours): window clipped at the page edge (mean over the pixels inside),
        ink iff ``p < T``.  ``"skimage"``: reflect padding, R = 127.5, ink iff
        ``not p > T`` -- equal to ``~(img > threshold_sauvola(img, window, k))``.
        ``"doxa"``: Doxa's clipped window and float formula, R = 128, ink iff ``p <= T``,
        niblack with Doxa's sign (T = m + k s) -- equal to doxapy's black pixels.  With
        ``window``/``k`` left out, a compat call uses that library's defaults.

    Returns
    -------
    ndarray of bool
        Same (H, W) as the input, True = ink.

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape, unknown method or compat, even window, window larger than the
        image or than :data:`MAX_WINDOW`, non-finite or out-of-range ``k`` or ``dpi``,
        ``wolf`` with ``compat="skimage"`` (scikit-image has no Wolf).
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 200, np.uint8); img[4, 2:7] = 30
    >>> binarize(img, window=5).sum()
    np.int64(5)
    >>> binarize(img, "otsu")[4].tolist()[:3]
    [False, False, True]
    """
    if method not in ("otsu", "sauvola", "wolf", "niblack"):
        raise InvalidArgumentError(
            f"method must be 'otsu', 'sauvola', 'wolf' or 'niblack', got {method!r}"
        )
    if compat not in _COMPAT_CODE:
        raise InvalidArgumentError(f"compat must be None, 'skimage' or 'doxa', got {compat!r}")
    gray = as_gray(image)
    if method == "otsu":
        return gray <= otsu_threshold(gray)
    if compat == "skimage" and method == "wolf":
        raise InvalidArgumentError("compat='skimage' has no 'wolf' method (scikit-image lacks it)")
    res = _dpi_of(image, dpi)
    if window is None:
        wh = ww = (
            default_window(res, gray.shape)
            if compat is None
            else min(_COMPAT_WINDOW[compat], default_window(1e9, gray.shape))
        )
    else:
        wh, ww = _check_window(window, gray.shape)
    kk = _DEFAULT_K[compat][method] if k is None else check_range(k, "k", -5.0, 5.0)
    return _local(gray, method, wh, ww, kk, compat)


def _local(
    gray: NDArray[np.uint8],
    method: str,
    wh: int,
    ww: int,
    k: float,
    compat: str | None,
    max_level: int = 256,
) -> NDArray[np.bool_]:
    conv = _COMPAT_CODE[compat]
    r = 127.5 if compat == "skimage" else 128.0
    gmin, max_std = 0.0, 1.0
    if method == "wolf":
        gmin = float(gray.min())
        max_std = math.sqrt(max(_k.max_local_variance(gray, wh, ww, conv), _DBL_MIN))
    out = np.empty(gray.shape, np.bool_)
    _k.local_threshold(
        gray,
        out.view(np.uint8),
        wh,
        ww,
        _METHOD_CODE[method],
        conv,
        k,
        r,
        gmin,
        max_std,
        0,
        float(max_level),
    )
    return out


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


def _normalize(img: NDArray[np.uint8], dpi: float) -> NDArray[np.uint8]:
    tile = _tile_size(dpi)
    img3 = _as_rgb3(img)
    bg = _background_map(img3, tile)
    gain = np.ascontiguousarray(255.0 / np.maximum(bg, 16.0), dtype=np.float32)
    out = np.empty_like(img)
    _k.apply_gain(img3, gain, tile, _as_rgb3(out))
    return out


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
    return _normalize(img, _dpi_of(image, dpi))


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
        return cls(*_k.label_runs(mask_u8))

    def paint(
        self, img: NDArray[np.uint8], select: NDArray[np.bool_], value: int, grow: int = 0
    ) -> None:
        _k.paint_runs(
            _as_rgb3(img),
            self.ry,
            self.rx0,
            self.rx1,
            self.rlab,
            select.view(np.uint8),
            value,
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


def _find_borders(norm_gray: NDArray[np.uint8], dpi: float) -> _Borders:
    """Dark components that touch the image edge along >= 15 % of it (scanner bars,
    wedges of a skewed sheet) or that outline >= 85 % of the page thinly (a frame)."""
    h, w = norm_gray.shape
    comps = _Components.of((norm_gray < 128).view(np.uint8))
    bw = comps.bx1 - comps.bx0
    bh = comps.by1 - comps.by0
    touches_lr = (comps.bx0 == 0) | (comps.bx1 == w)
    touches_tb = (comps.by0 == 0) | (comps.by1 == h)
    edge = (touches_lr & (bh >= 0.15 * h)) | (touches_tb & (bw >= 0.15 * w))
    edge |= (touches_lr | touches_tb) & (comps.area >= 0.01 * h * w)
    box_area = np.maximum(bw.astype(np.int64) * bh, 1)
    frame = (bw >= 0.85 * w) & (bh >= 0.85 * h) & (comps.area <= 0.2 * box_area)
    select = edge | frame
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
    return _find_borders(_normalize(gray, res), res).box


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
    borders = _find_borders(_normalize(gray, res), res)
    return _apply_borders(img, borders, mode, res, _paper_colour(img, res))


def _apply_borders(
    img: NDArray[np.uint8], borders: _Borders, mode: str, dpi: float, paper: tuple[int, ...]
) -> BorderResult:
    b = borders.box
    if mode == "crop":
        return BorderResult(np.ascontiguousarray(img[b.y0 : b.y1, b.x0 : b.x1]), b, borders.pixels)
    out = img.copy()
    if borders.select.any():
        grow = max(1, round(dpi / 100.0))
        if out.ndim == 2:
            borders.comps.paint(out, borders.select, paper[0], grow)
        else:
            for c in range(out.shape[2]):
                plane = np.ascontiguousarray(out[:, :, c])
                borders.comps.paint(plane, borders.select, paper[c], grow)
                out[:, :, c] = plane
    return BorderResult(out, b, borders.pixels)


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
    area = _speck_area(res) if max_area is None else _nonneg_int(max_area, "max_area")
    dist = (
        _protect_distance(res)
        if protect_distance is None
        else _nonneg_int(protect_distance, "protect_distance")
    )
    return _despeckle(m, area, dist)[0]


def _nonneg_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        raise InvalidArgumentError(f"{name} must be an int >= 0, got {v!r}")
    return int(v)


def _despeckle(
    m: NDArray[np.bool_], max_area: int, dist: int
) -> tuple[DespeckleResult, _Components | None, NDArray[np.bool_] | None]:
    comps = _Components.of(m.view(np.uint8))
    small = comps.area <= max_area
    if not small.any():
        return DespeckleResult(m.copy(), 0, 0), None, None
    big = m.copy()
    comps.paint(big.view(np.uint8), small, 0)
    near = np.zeros(small.shape[0], np.uint8)
    _k.near_ink(
        big.view(np.uint8),
        comps.bx0,
        comps.by0,
        comps.bx1,
        comps.by1,
        small.view(np.uint8),
        dist,
        near,
    )
    removed = small & (near == 0)
    out = m.copy()
    comps.paint(out.view(np.uint8), removed, 0)
    result = DespeckleResult(out, int(removed.sum()), int(comps.area[removed].sum()))
    return result, comps, removed


# --------------------------------------------------------------------------- blank pages


@dataclass(frozen=True)
class BlankCheck:
    """Whether a page is blank (trang trắng).  Blank pages are flagged, never dropped.

    Attributes
    ----------
    is_blank : bool
        True when the ink left after border removal and despeckling is below the limit
        (:attr:`CleanOptions.blank_min_ink_mm2`, default 3 mm², about two letters).
    ink_fraction : float
        Ink pixels / content-box pixels, 0..1.
    confidence : float
        0..1: how far the ink amount is from the limit on a log scale (1 = a factor of
        ten or more either way); 0.0 when detection was switched off.
    """

    is_blank: bool
    ink_fraction: float
    confidence: float


def _blank_check(ink_pixels: int, box_area: int, min_ink_px: float) -> BlankCheck:
    frac = ink_pixels / box_area if box_area > 0 else 0.0
    conf = min(1.0, abs(math.log(ink_pixels + 1.0) - math.log(min_ink_px + 1.0)) / math.log(10))
    return BlankCheck(ink_pixels < min_ink_px, frac, conf)


def detect_blank(image: Any, *, dpi: float | None = None) -> BlankCheck:
    """Detect a blank page after background normalization, border removal and despeckle.

    Ink must be both locally dark (Sauvola) and darker than half the paper level, so
    bleed-through and noise do not count; scanner borders and isolated specks are removed
    first.  Equivalent to ``clean_page(image).blank`` with default options.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB.
    dpi : float, optional
        Resolution; defaults to the Page's, else 300.

    Returns
    -------
    BlankCheck

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape or dpi.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> paper = np.clip(rng.normal(225, 6, (300, 200)), 0, 255).astype(np.uint8)
    >>> detect_blank(paper, dpi=100).is_blank
    True
    >>> paper[100:104, 20:180] = 30                       # one ruled line of ink
    >>> detect_blank(paper, dpi=100).is_blank
    False
    """
    return clean_page(image, CleanOptions(dpi=dpi)).blank


# --------------------------------------------------------------------------- clean_page


@dataclass(frozen=True)
class CleanOptions:
    """Options of :func:`clean_page`; every step can be switched off.

    Attributes
    ----------
    normalize_background : bool
        Map the paper to white (:func:`normalize_background`).  Default True.
    remove_borders : bool
        Remove scanner borders, wedges and the frame.  Default True.
    border_mode : {"whiten", "crop"}
        ``whiten`` keeps the page size (default); ``crop`` crops image and mask to the
        content box.
    method : {"sauvola", "otsu", "wolf", "niblack"}
        Threshold method for the mask.  Default ``"sauvola"``.
    window : int or None
        Odd local window; None = :func:`default_window` of the dpi.
    k : float or None
        Method constant; None = the method's default (Sauvola 0.2).
    ink_contrast : float
        A pixel is ink only when darker than ``(1 - ink_contrast)`` of the normalized
        paper (255): default 0.5, so marks lighter than half the paper brightness
        (bleed-through, faint noise, the blurred fringe of strokes) are paper -- the same
        rule that defines the reference masks of synthetic pages.  0 switches it off.
    despeckle : bool
        Remove isolated specks (:func:`despeckle`).  Default True.
    max_speck_area, protect_distance : int or None
        :func:`despeckle` parameters; None = dpi-scaled defaults.
    detect_blank : bool
        Compute :attr:`CleanResult.blank`.  Default True.
    blank_min_ink_mm2 : float
        Ink area below which a page is blank.  Default 3.0 mm² (about two 12 pt letters;
        one short line of text has 15 mm² or more).
    dpi : float or None
        Override of the page resolution (else the Page's, else 300).
    """

    normalize_background: bool = True
    remove_borders: bool = True
    border_mode: BorderMode = "whiten"
    method: Method = "sauvola"
    window: int | None = None
    k: float | None = None
    ink_contrast: float = 0.5
    despeckle: bool = True
    max_speck_area: int | None = None
    protect_distance: int | None = None
    detect_blank: bool = True
    blank_min_ink_mm2: float = 3.0
    dpi: float | None = None

    def __post_init__(self) -> None:
        if self.border_mode not in ("whiten", "crop"):
            raise InvalidArgumentError(
                f"border_mode must be 'whiten' or 'crop', got {self.border_mode!r}"
            )
        if self.method not in ("otsu", "sauvola", "wolf", "niblack"):
            raise InvalidArgumentError(
                f"method must be 'otsu', 'sauvola', 'wolf' or 'niblack', got {self.method!r}"
            )
        check_range(self.ink_contrast, "ink_contrast", 0.0, 1.0, hi_open=True)
        check_range(self.blank_min_ink_mm2, "blank_min_ink_mm2", 0.0, 1e6)
        if self.k is not None:
            check_range(self.k, "k", -5.0, 5.0)
        if self.dpi is not None:
            check_range(self.dpi, "dpi", 50.0, 4800.0)
        for name in ("max_speck_area", "protect_distance"):
            v = getattr(self, name)
            if v is not None:
                _nonneg_int(v, name)


@dataclass(frozen=True)
class CleanResult:
    """Result of :func:`clean_page`.

    Attributes
    ----------
    image : ndarray of uint8
        Cleaned page: grey for grey input, RGB for colour input (stamps and signatures keep
        their colour); cropped to ``content_box`` when ``border_mode="crop"``.
    mask : ndarray of bool
        Ink mask (True = ink), same height and width as ``image``.
    content_box : Box
        Content box in input-page pixels.
    blank : BlankCheck
        Blank-page flag.
    measurements : dict of str to float
        Per-step figures: ``paper_level`` (mean background before normalization, 0..255),
        ``border_pixels``, ``window``, ``k``, ``ink_pixels_before_despeckle``,
        ``specks_removed``, ``speck_pixels_removed``, ``ink_pixels``, ``ink_fraction``,
        ``dpi``.
    timings : dict of str to float
        Seconds per step.
    """

    image: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    content_box: Box
    blank: BlankCheck
    measurements: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def clean_page(page_or_array: Any, options: CleanOptions | None = None) -> CleanResult:
    """Clean one page: background, borders, binarization, despeckle, blank check.

    Steps, in order (each can be switched off in ``options``): normalize the background
    (colour kept), find borders on the normalized grey and paint them white, binarize the
    grey with the local method and the ``ink_contrast`` gate, despeckle the mask (and
    whiten the removed specks in the image), measure ink inside the content box.

    Parameters
    ----------
    page_or_array : Page or ndarray
        uint8 grey (H, W) or RGB (H, W, 3).
    options : CleanOptions, optional
        Defaults to ``CleanOptions()``.

    Returns
    -------
    CleanResult

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape, options or dpi; a window larger than the image.
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((120, 90, 3), (240, 230, 200), np.uint8)   # yellowish paper
    >>> img[50:54, 10:80] = (20, 20, 20)                          # a line of ink
    >>> r = clean_page(img, CleanOptions(dpi=100))
    >>> r.image.shape, r.image[0, 0].tolist(), int(r.mask.sum())
    ((120, 90, 3), [255, 255, 255], 280)
    """
    opt = CleanOptions() if options is None else options
    if not isinstance(opt, CleanOptions):
        raise InvalidArgumentError(f"options must be CleanOptions, got {type(opt).__name__}")
    timings: dict[str, float] = {}
    meas: dict[str, float] = {}
    t0 = time.perf_counter()
    img = as_image(page_or_array)
    res = _dpi_of(page_or_array, opt.dpi)
    meas["dpi"] = res
    h, w = img.shape[:2]

    t = time.perf_counter()
    if opt.normalize_background:
        tile = _tile_size(res)
        img3 = _as_rgb3(img)
        bg = _background_map(img3, tile)
        meas["paper_level"] = float(bg.mean())
        gain = np.ascontiguousarray(255.0 / np.maximum(bg, 16.0), dtype=np.float32)
        out = np.empty_like(img)
        _k.apply_gain(img3, gain, tile, _as_rgb3(out))
        paper: tuple[int, ...] = (255,) * img3.shape[2]
    else:
        out = img.copy()
        paper = _paper_colour(img, res)
        meas["paper_level"] = float(np.mean(paper))
    gray = as_gray(out)
    if gray is out:
        gray = out  # grey input: painting ``out`` paints ``gray`` too
    timings["background"] = time.perf_counter() - t

    t = time.perf_counter()
    box = Box(0, 0, w, h)
    meas["border_pixels"] = 0.0
    if opt.remove_borders:
        borders = _find_borders(gray, res)
        box = borders.box
        meas["border_pixels"] = float(borders.pixels)
        if borders.select.any():
            whitened = _apply_borders(out, borders, "whiten", res, paper).image
            out = whitened
            gray = as_gray(out) if out.ndim == 3 else out
    timings["borders"] = time.perf_counter() - t

    t = time.perf_counter()
    gate = math.ceil(255.0 * (1.0 - opt.ink_contrast)) if opt.ink_contrast > 0 else 256
    if opt.method == "otsu":
        mask = gray <= min(otsu_threshold(gray), gate - 1)
        meas["window"] = 0.0
    else:
        win = default_window(res, gray.shape) if opt.window is None else opt.window
        wh, ww = _check_window(win, gray.shape)
        kk = _DEFAULT_K[None][opt.method] if opt.k is None else float(opt.k)
        mask = _local(gray, opt.method, wh, ww, kk, None, gate)
        meas["window"] = float(wh)
        meas["k"] = kk
    meas["ink_pixels_before_despeckle"] = float(mask.sum())
    timings["binarize"] = time.perf_counter() - t

    t = time.perf_counter()
    meas["specks_removed"] = 0.0
    meas["speck_pixels_removed"] = 0.0
    if opt.despeckle:
        area = _speck_area(res) if opt.max_speck_area is None else opt.max_speck_area
        dist = _protect_distance(res) if opt.protect_distance is None else opt.protect_distance
        ds, comps, removed = _despeckle(mask, area, dist)
        mask = ds.mask
        meas["specks_removed"] = float(ds.removed_components)
        meas["speck_pixels_removed"] = float(ds.removed_pixels)
        if comps is not None and removed is not None and removed.any():
            # Whiten the removed specks in the image too (grown by 1 px for their halo).
            for c in range(1 if out.ndim == 2 else out.shape[2]):
                plane = out if out.ndim == 2 else np.ascontiguousarray(out[:, :, c])
                comps.paint(plane, removed, paper[c], 1)
                if out.ndim == 3:
                    out[:, :, c] = plane
    timings["despeckle"] = time.perf_counter() - t

    t = time.perf_counter()
    ink = int(np.count_nonzero(mask[box.y0 : box.y1, box.x0 : box.x1]))
    meas["ink_pixels"] = float(ink)
    meas["ink_fraction"] = ink / box.area if box.area else 0.0
    if opt.detect_blank:
        min_px = opt.blank_min_ink_mm2 * (res / 25.4) ** 2
        blank = _blank_check(ink, box.area, min_px)
    else:
        blank = BlankCheck(False, meas["ink_fraction"], 0.0)
    timings["blank"] = time.perf_counter() - t

    if opt.border_mode == "crop":
        out = np.ascontiguousarray(out[box.y0 : box.y1, box.x0 : box.x1])
        mask = np.ascontiguousarray(mask[box.y0 : box.y1, box.x0 : box.x1])
    timings["total"] = time.perf_counter() - t0
    return CleanResult(out, mask, box, blank, meas, timings)
