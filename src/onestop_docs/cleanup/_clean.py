"""Clean one page: background, borders, threshold, specks and the blank-page flag.

Private module; import the public names from :mod:`onestop_docs.cleanup`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validate import as_gray, as_image, check_int, check_range
from ..errors import InvalidArgumentError
from ..types import Box
from ._binarize import MIDPOINT_K, _midpoint_mask
from ._regions import (
    BorderMode,
    _despeckle,
    _find_borders,
    _normalize,
    _paper_colour,
    _protect_distance,
    _speck_area,
    _whiten_borders,
)
from ._threshold import (
    _DEFAULT_K,
    Method,
    _check_method,
    _check_window,
    _dpi_of,
    _local,
    default_window,
    otsu_threshold,
)

__all__ = ["BlankCheck", "CleanOptions", "CleanResult", "clean_page", "detect_blank"]

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
    method : {"midpoint", "sauvola", "otsu", "wolf", "niblack"}
        Threshold method for the mask (see :func:`binarize`).  Default ``"midpoint"``:
        halfway between the page's ink level and the paper, so faint handwriting and
        faded print keep their strokes and bleed-through stays paper.
    window : int or None
        Odd local window for the local methods; None = :func:`default_window` of the
        dpi.  ``midpoint`` takes none.
    k : float or None
        Method constant; None = the method's default (midpoint 0.5, Sauvola 0.2).
    ink_contrast : float
        A pixel is ink only when darker than ``(1 - ink_contrast)`` of the normalized
        paper (255).  Default 0 (off): the midpoint threshold already follows the page's
        contrast.  0.1.0 used 0.5 with Sauvola, which deleted faint handwriting (a
        page with two real handwritten lines was called blank).
    despeckle : bool
        Remove isolated specks (:func:`despeckle`).  Default True.
    max_speck_area, protect_distance : int or None
        :func:`despeckle` parameters; None = dpi-scaled defaults.
    whiten_specks : bool
        Also paint the removed specks white in :attr:`CleanResult.image`.  Default True;
        False despeckles only the mask (and so the blank check), for an archive copy that
        must keep every mark of the paper.
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
    method: Method = "midpoint"
    window: int | None = None
    k: float | None = None
    ink_contrast: float = 0.0
    despeckle: bool = True
    max_speck_area: int | None = None
    protect_distance: int | None = None
    whiten_specks: bool = True
    detect_blank: bool = True
    blank_min_ink_mm2: float = 3.0
    dpi: float | None = None

    def __post_init__(self) -> None:
        if self.border_mode not in ("whiten", "crop"):
            raise InvalidArgumentError(
                f"border_mode must be 'whiten' or 'crop', got {self.border_mode!r}"
            )
        _check_method(self.method)
        check_range(self.ink_contrast, "ink_contrast", 0.0, 1.0, hi_open=True)
        check_range(self.blank_min_ink_mm2, "blank_min_ink_mm2", 0.0, 1e6)
        if self.method == "midpoint":
            if self.window is not None:
                raise InvalidArgumentError("method 'midpoint' takes no window")
            if self.k is not None:
                check_range(self.k, "k", 0.0, 1.0, lo_open=True, hi_open=True)
        elif self.k is not None:
            check_range(self.k, "k", -5.0, 5.0)
        if self.dpi is not None:
            check_range(self.dpi, "dpi", 50.0, 4800.0)
        for name in ("max_speck_area", "protect_distance"):
            v = getattr(self, name)
            if v is not None:
                check_int(v, name, 0, numpy_ok=True)


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
    # ``out`` is always a new array, so the steps below paint it in place.
    if opt.normalize_background:
        out, meas["paper_level"] = _normalize(img, res)
        paper: tuple[int, ...] = (255,) * (3 if img.ndim == 3 else 1)
    else:
        out = img.copy()
        paper = _paper_colour(img, res)
        meas["paper_level"] = float(np.mean(paper))
    gray = as_gray(out)  # grey input: ``gray`` is ``out``, painting one paints both
    timings["background"] = time.perf_counter() - t

    t = time.perf_counter()
    box = Box(0, 0, w, h)
    meas["border_pixels"] = 0.0
    if opt.remove_borders:
        borders = _find_borders(gray, res)
        box = borders.box
        meas["border_pixels"] = float(borders.pixels)
        if borders.select.any():
            _whiten_borders(out, borders, res, paper)
            gray = as_gray(out)
    timings["borders"] = time.perf_counter() - t

    t = time.perf_counter()
    gate = math.ceil(255.0 * (1.0 - opt.ink_contrast)) if opt.ink_contrast > 0 else 256
    if opt.method == "otsu":
        mask = gray <= min(otsu_threshold(gray), gate - 1)
        meas["window"] = 0.0
    elif opt.method == "midpoint":
        norm = gray if opt.normalize_background else _normalize(gray, res)[0]
        kk = MIDPOINT_K if opt.k is None else float(opt.k)
        mask = _midpoint_mask(norm, res, kk)
        if gate < 256:
            mask &= norm < gate
        meas["window"] = 0.0
        meas["k"] = kk
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
        if opt.whiten_specks and comps is not None and removed is not None and removed.any():
            # Whiten the removed specks in the image too (grown by 1 px for their halo).
            comps.paint(out, removed, paper, 1)
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
