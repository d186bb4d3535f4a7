"""The ink mask of a page: :func:`binarize` and its default method, ``"midpoint"``.

Private module; import :func:`binarize` from :mod:`onestop_docs.cleanup`.  The method is
described, with its measurements, in ``docs/cleanup.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._native import cleanup as _k  # type: ignore[attr-defined]
from .._validate import as_gray, check_range
from ..errors import InvalidArgumentError
from ._regions import (
    _BORDER_MIN_FILL,
    _border_select,
    _Components,
    _drop_borders_and_specks,
    _normalize,
)
from ._threshold import (
    _COMPAT_CODE,
    _COMPAT_WINDOW,
    _DEFAULT_K,
    Compat,
    Method,
    _check_method,
    _check_window,
    _dpi_of,
    _local,
    _otsu_of_histogram,
    default_window,
    otsu_threshold,
)

__all__ = ["binarize"]

#: Default ``k`` of the midpoint method: the threshold halfway between ink and paper.
MIDPOINT_K = 0.5
#: Darkest ink level (0..255 on the normalized page) still taken as ink; a page whose
#: darkest marks are lighter than this (bleed-through, shading, an empty page) is thresholded
#: as if its ink were black, so those marks stay paper.  Faded print measures 140-160.
MAX_INK_LEVEL = 200
#: Quantile of each tile taken as its darkest level: 2 % of the tile, so a tile with a
#: stroke in it reaches the stroke's core while an isolated noise pixel does not.
_TILE_QUANTILE = 0.02


def _ink_tile(dpi: float) -> int:
    # About 2.7 mm: a tile crossed by a stroke of 10-12 pt text is >= 2 % ink.
    return max(8, round(dpi * 32.0 / 300.0))


def _ink_level(norm: NDArray[np.uint8], dpi: float) -> int:
    """The page's ink level on its normalized grey (paper = 255): 0..255.

    Each tile's darkest 2 % gives its darkest level; Otsu on those levels separates the
    tiles with ink from the paper tiles, and the lower quartile of the ink tiles is the
    page's ink level.  A level above :data:`MAX_INK_LEVEL` means no ink: 0 is returned.

    A dark scanner border is a third grey level: Otsu's split can fall between the border
    and everything else, and the border's tiles then become the page's "ink", so that faded
    text (a level close to the paper's) is thresholded as paper.  When the dark tiles form a
    border on the tile grid (the rule of :func:`_border_select`) that is at most half as
    bright as the ink of the rest, the border is confirmed on the pixels -- solid dark
    components at the image edge, the rule :func:`_drop_borders_and_specks` applies to the
    mask, so that text or handwriting filling a crop is never taken for one -- and the
    level is measured again with those components painted paper.
    """
    levels = _tile_levels(norm, dpi)
    flat = levels.ravel()
    split = _otsu_of_histogram(np.bincount(flat, minlength=256))
    level = _ink_quartile(flat, split)
    border = _border_tiles(levels <= split)
    if border is not None and 2 * np.median(flat[border]) <= _ink_quartile(flat[~border]):
        unbordered = _paint_borders(norm, dpi)
        if unbordered is not None:
            level = _ink_quartile(_tile_levels(unbordered, dpi).ravel())
    return level if level <= MAX_INK_LEVEL else 0


def _tile_levels(norm: NDArray[np.uint8], dpi: float) -> NDArray[np.uint8]:
    """The darkest 2 % level of each ~2.7 mm tile: (tiles down, tiles across)."""
    tile = _ink_tile(dpi)
    h, w = norm.shape
    levels = np.empty((-(-h // tile), -(-w // tile), 1), np.uint8)
    _k.tile_percentile(norm[:, :, None], tile, max(1, tile // 16), _TILE_QUANTILE, levels)
    return levels[:, :, 0]


def _ink_quartile(flat: NDArray[np.uint8], split: int | None = None) -> int:
    """Lower quartile of the tile levels on the dark side of ``split`` (default: Otsu's
    split of these levels); 0 if none."""
    if split is None:
        split = _otsu_of_histogram(np.bincount(flat, minlength=256))
    inked = flat[flat <= split]
    return int(np.percentile(inked, 25)) if inked.size else 0


def _border_tiles(dark: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
    """Flattened mask of the dark tiles (``dark``: tiles down x across) that form a border
    on the tile grid, or None (none, or every tile)."""
    th, tw = dark.shape
    comps = _Components.of(np.ascontiguousarray(dark).view(np.uint8))
    select = _border_select(comps, th, tw, _BORDER_MIN_FILL)
    if not select.any():
        return None
    painted = np.zeros((th, tw), np.uint8)
    comps.paint(painted, select, (1,))
    border = painted.ravel() == 1
    return None if border.all() else border


def _paint_borders(norm: NDArray[np.uint8], dpi: float) -> NDArray[np.uint8] | None:
    """A copy of the page with its solid dark edge components (and a tile around them)
    painted paper, or None when there is none."""
    h, w = norm.shape
    comps = _Components.of((norm < 128).view(np.uint8))
    select = _border_select(comps, h, w, _BORDER_MIN_FILL, 2.0 * dpi / 25.4)
    if not select.any():
        return None
    out = norm.copy()
    comps.paint(out, select, (255,), _ink_tile(dpi))
    return out


def _midpoint_mask(norm: NDArray[np.uint8], dpi: float, k: float) -> NDArray[np.bool_]:
    """``norm < level + k (255 - level)`` with the page's :func:`_ink_level`."""
    level = _ink_level(norm, dpi)
    # For integer pixels, p < t  <=>  p < ceil(t); a Python int keeps the compare in uint8.
    return np.asarray(norm < math.ceil(level + k * (255.0 - level)), np.bool_)


def binarize(
    image: Any,
    method: Method | None = None,
    *,
    window: int | tuple[int, int] | None = None,
    k: float | None = None,
    dpi: float | None = None,
    compat: Compat | None = None,
) -> NDArray[np.bool_]:
    """Binary ink mask (True = ink) of a page by a global or local threshold.

    The default, ``"midpoint"``, normalizes the background (:func:`normalize_background`:
    paper, grey or coloured, lit evenly or not, becomes 255), measures the page's ink level
    (the darkest 2 % of small tiles, split from the paper tiles by Otsu), calls a pixel ink
    when it is darker than the level ``k`` of the way from that ink level to the paper, then
    drops scanner borders and isolated specks (:func:`find_content_box`, :func:`despeckle`).
    The threshold follows the paper and the ink, not a window: faded print, coloured paper
    and dark borders keep their strokes, while bleed-through stays paper.

    The local methods keep, per column, integer running sums of the pixel value and its
    square over the window height and slide a prefix sum along each row: O(pixels) for any
    window, O(width + window) extra memory, GIL released.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB (converted to luma).
    method : {"midpoint", "sauvola", "otsu", "wolf", "niblack"}, optional
        ``midpoint``: above; the default, except that a ``window`` or ``compat`` given
        without a method selects ``sauvola`` (the 0.1.0 calls keep their meaning).  ``sauvola``: T = m (1 + k (s / R - 1)), R = 128.
        ``niblack``: T = m - k s.  ``wolf``: T = m - k (1 - s / max s) (m - min I).
        ``otsu``: global, see :func:`otsu_threshold` (ink is ``gray <= T``).
    window : int or (int, int), optional
        Odd window side(s) in pixels, at most the image size, for the local methods.
        Default :func:`default_window` of the dpi (or the reference library's default in
        compat mode).  ``midpoint`` takes none (``otsu`` ignores it).
    k : float, optional
        Method constant.  ``midpoint``: the fraction of the way from the ink level to the
        paper, in (0, 1), default 0.5.  Local methods: in [-5, 5]; defaults sauvola 0.2,
        niblack 0.2, wolf 0.5.
    dpi : float, optional
        Resolution for the default window, tiles and speck size; defaults to the Page's,
        else 300.
    compat : {None, "skimage", "doxa"}
        For the local methods.  ``None`` (ours): window clipped at the page edge (mean over
        the pixels inside), ink iff ``p < T``.  ``"skimage"``: reflect padding, R = 127.5,
        ink iff ``not p > T`` -- equal to ``~(img > threshold_sauvola(img, window, k))``.
        ``"doxa"``: Doxa's clipped window and float formula, R = 128, ink iff ``p <= T``,
        niblack with Doxa's sign (T = m + k s) -- equal to doxapy's black pixels.  With
        ``window``/``k`` left out, a compat call uses that library's defaults (window 15
        or 75 even on a smaller page; doxapy 0.9.2 itself corrupts memory there).
        ``binarize(img, "sauvola", compat="doxa")`` is doxapy's Sauvola with its defaults.

    Returns
    -------
    ndarray of bool
        Same (H, W) as the input, True = ink.

    Raises
    ------
    InvalidArgumentError
        Bad dtype/shape, unknown method or compat, even window, window larger than the
        image or than :data:`MAX_WINDOW`, a window or compat with ``midpoint``, non-finite
        or out-of-range ``k`` or ``dpi``, ``wolf`` with ``compat="skimage"`` (scikit-image
        has no Wolf).
    InvalidImageError
        Empty array.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 200, np.uint8); img[4, 2:7] = 30
    >>> binarize(img, "sauvola", window=5).sum()
    np.int64(5)
    >>> binarize(img, "otsu")[4].tolist()[:3]
    [False, False, True]
    >>> page = np.full((300, 200), 180, np.uint8)       # grey paper
    >>> page[100:104, 20:180] = 120                      # one faint rule
    >>> int(binarize(page, dpi=100).sum())
    640
    """
    if method is None:
        method = "midpoint" if window is None and compat is None else "sauvola"
    _check_method(method)
    if compat not in _COMPAT_CODE:
        raise InvalidArgumentError(f"compat must be None, 'skimage' or 'doxa', got {compat!r}")
    gray = as_gray(image)
    if method == "otsu":
        return gray <= otsu_threshold(gray)
    res = _dpi_of(image, dpi)
    if method == "midpoint":
        if window is not None or compat is not None:
            raise InvalidArgumentError("method 'midpoint' takes no window and no compat mode")
        kk = MIDPOINT_K if k is None else check_range(k, "k", 0.0, 1.0, lo_open=True, hi_open=True)
        norm = _normalize(gray, res)[0]
        return _drop_borders_and_specks(_midpoint_mask(norm, res, kk), res)
    if compat == "skimage" and method == "wolf":
        raise InvalidArgumentError("compat='skimage' has no 'wolf' method (scikit-image lacks it)")
    if window is None:
        # Compat defaults are the library's own, unclipped: reflect padding (skimage) and
        # the clipped-window mean (Doxa) both define windows larger than the page.
        wh = ww = default_window(res, gray.shape) if compat is None else _COMPAT_WINDOW[compat]
    else:
        wh, ww = _check_window(window, gray.shape)
    kk = _DEFAULT_K[compat][method] if k is None else check_range(k, "k", -5.0, 5.0)
    return _local(gray, method, wh, ww, kk, compat)
