"""The document key: hashes of a geometrically normalised page plus a region-level verifier."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validate import as_gray, check_int, check_range
from ..errors import InvalidArgumentError
from ._hash import Hash, area_resize, dct2, pdq

__all__ = [
    "PageHash",
    "PageHashOptions",
    "PageKey",
    "Verdict",
    "page_hash",
    "page_key",
    "region_difference",
    "verify_pair",
]

_log = logging.getLogger(__name__)

#: Resolution the page is normalised to before hashing.
ANALYSIS_DPI = 100.0
#: Assumed resolution when neither the page nor the caller gives one.
DEFAULT_DPI = 300.0
#: Shape (rows, columns) of the ink-density grid kept for the verifier.  Rows are finer than
#: columns: text lines are what must line up.
GRID = (128, 96)


@dataclass(frozen=True)
class PageHashOptions:
    """Thresholds and parameters of the document key (see ``docs/dedup.md`` for how the
    defaults were chosen on generated pages).

    Attributes
    ----------
    pdq_radius : int
        Candidate stage: PDQ distance (of 256 bits) up to which a stored page is a candidate.
        Default 64.
    dct_radius : int
        Candidate stage, alternative: DCT-hash distance (of 256) up to which a stored page is
        a candidate.  Default 56.  A pair is a candidate when either hash is within radius.
    max_region_diff : float
        Verifier: largest allowed ink difference (mean absolute ink-density difference, 0..1)
        in the worst window of the aligned grids.  Default 0.115.
    max_aspect_diff : float
        Verifier: largest allowed ``|log(aspect_a / aspect_b)|`` of the content boxes.
        Default 0.06.
    max_angle : float
        Skew search range in degrees.  Default 15.
    """

    pdq_radius: int = 64
    dct_radius: int = 56
    max_region_diff: float = 0.115
    max_aspect_diff: float = 0.06
    max_angle: float = 15.0

    def __post_init__(self) -> None:
        check_int(self.pdq_radius, "pdq_radius", 0, 256)
        check_int(self.dct_radius, "dct_radius", 0, 256)
        check_range(self.max_region_diff, "max_region_diff", 0.0, 1.0)
        check_range(self.max_aspect_diff, "max_aspect_diff", 0.0, 10.0)
        check_range(self.max_angle, "max_angle", 0.0, 45.0, lo_open=True)


@dataclass(frozen=True, eq=False)
class PageHash:
    """The document key of one page (khóa nhận dạng trang): two 256-bit hashes of the
    normalised page and the ink-density grid the verifier compares.

    Attributes
    ----------
    pdq : Hash
        PDQ-256 of the upright, border-free page cropped to its ink (ink black, paper white).
    dct : Hash
        256-bit DCT hash (16x16 low frequencies of a 64x64 area average, median threshold)
        of the same crop.
    grid : numpy.ndarray
        uint8 ``GRID`` (128 x 96): mean ink darkness of the crop's cells (255 minus the
        cleaned grey value, paper noise below 48 set to 0).
    aspect : float
        Height / width of the ink box.
    skew_deg : float or None
        Skew that was removed (degrees, counter-clockwise positive), None if none was found.
    rotation : int
        Orientation that was removed (0, 90, 180, 270).
    pdq_flip, dct_flip : Hash or None
        The two hashes of the crop turned by 180 degrees (see :meth:`flipped`).
    """

    pdq: Hash
    dct: Hash
    grid: NDArray[np.uint8] = field(repr=False)
    aspect: float
    skew_deg: float | None = None
    rotation: int = 0
    pdq_flip: Hash | None = None
    dct_flip: Hash | None = None

    def hex_digests(self) -> dict[str, str]:
        """``{"pdq": hex, "dct": hex}``: the form reports, the CLI and the metadata XML carry.

        Examples
        --------
        >>> import numpy as np
        >>> from onestop_docs.dedup import Hash
        >>> h = PageHash(Hash.from_hex("ab" * 32), Hash.from_hex("cd" * 32),
        ...              np.zeros((128, 96), np.uint8), 1.4)
        >>> h.hex_digests()["pdq"][:8], h.hex_digests()["dct"][:8]
        ('abababab', 'cdcdcdcd')
        """
        return {"pdq": self.pdq.hex(), "dct": self.dct.hex()}

    def flipped(self) -> PageHash:
        """The key of the same page turned by 180 degrees (orientation detection can be
        wrong by 180 degrees; lookups try both)."""
        if self.pdq_flip is None or self.dct_flip is None:
            raise InvalidArgumentError("this PageHash carries no 180-degree hashes")
        return PageHash(
            self.pdq_flip,
            self.dct_flip,
            np.ascontiguousarray(self.grid[::-1, ::-1]),
            self.aspect,
            self.skew_deg,
            (self.rotation + 180) % 360,
            self.pdq,
            self.dct,
        )


@dataclass(frozen=True)
class PageKey:
    """:func:`page_key` result: the key, or None with the reason.

    Attributes
    ----------
    hash : PageHash or None
        None for blank and near-blank pages (they are never duplicates of each other).
    reason : str or None
        ``"blank"`` or ``"near-blank"`` when ``hash`` is None.
    ink_fraction : float
        Ink pixels / page pixels after cleaning.
    """

    hash: PageHash | None
    reason: str | None
    ink_fraction: float


@dataclass(frozen=True)
class Verdict:
    """Second-stage decision on a candidate pair.

    Attributes
    ----------
    duplicate : bool
    pdq_distance, dct_distance : int
    region_diff : float
        Worst-window ink difference after alignment (0..1).
    aspect_diff : float
    reason : str
        What decided: ``"match"``, ``"hash-distance"``, ``"aspect"`` or ``"region"``.
    """

    duplicate: bool
    pdq_distance: int
    dct_distance: int
    region_diff: float
    aspect_diff: float
    reason: str


def _dpi_of(page: Any, dpi: float | None) -> float:
    if dpi is not None:
        return check_range(dpi, "dpi", 50.0, 4800.0)
    pdpi = getattr(page, "dpi", None)
    if pdpi is not None:
        return float(min(pdpi))
    return DEFAULT_DPI


def _reduce(gray: NDArray[np.uint8], dpi: float) -> NDArray[np.uint8]:
    if dpi <= ANALYSIS_DPI * 1.05:
        return gray
    s = ANALYSIS_DPI / dpi
    h = max(8, round(gray.shape[0] * s))
    w = max(8, round(gray.shape[1] * s))
    return np.clip(area_resize(gray, h, w) + 0.5, 0, 255).astype(np.uint8)


def _upright(
    small: NDArray[np.uint8], max_angle: float
) -> tuple[NDArray[np.uint8], float | None, int]:
    from ..deskew import deskew

    res = deskew(small, max_angle=max_angle, dpi=ANALYSIS_DPI)
    return as_gray(res.page), res.skew.angle, int(res.orientation.rotation or 0)


def _trim_thin_runs(prof: NDArray[np.int64], min_run: int, min_gap: int) -> tuple[int, int]:
    # Ink extent along one axis, dropping thin runs at either end that stand apart from the
    # rest: leftover slivers of scanner borders, not content (text lines are thicker).
    idx = np.nonzero(prof >= 2)[0]
    if idx.size == 0:
        return 0, 0
    breaks = np.nonzero(np.diff(idx) > 1)[0]
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    lo, hi = 0, len(starts) - 1
    while lo < hi and ends[lo] - starts[lo] < min_run and starts[lo + 1] - ends[lo] >= min_gap:
        lo += 1
    while hi > lo and ends[hi] - starts[hi] < min_run and starts[hi] - ends[hi - 1] >= min_gap:
        hi -= 1
    return int(starts[lo]), int(ends[hi])


def _ink_box(mask: NDArray[np.bool_]) -> tuple[int, int, int, int] | None:
    # Rows and columns holding at least two ink pixels (cleaning has removed specks),
    # without thin detached runs at the ends.
    px_per_mm = ANALYSIS_DPI / 25.4
    min_run = max(2, round(1.0 * px_per_mm))
    min_gap = max(2, round(1.0 * px_per_mm))
    y0, y1 = 0, mask.shape[0]
    x0, x1 = 0, mask.shape[1]
    for _ in range(2):  # a sliver along one side can bridge the gaps along the other
        sub = mask[y0:y1, x0:x1]
        ny0, ny1 = _trim_thin_runs(sub.sum(axis=1), min_run, min_gap)
        nx0, nx1 = _trim_thin_runs(sub.sum(axis=0), min_run, min_gap)
        if ny1 <= ny0 or nx1 <= nx0:
            return None
        y0, y1, x0, x1 = y0 + ny0, y0 + ny1, x0 + nx0, x0 + nx1
    return y0, y1, x0, x1


def _dct_hash(ink_img: NDArray[np.uint8]) -> Hash:
    coeffs = dct2(area_resize(ink_img, 64, 64))[:16, :16]
    return Hash.from_bits(coeffs > np.median(coeffs))


def page_key(
    page: Any, *, dpi: float | None = None, options: PageHashOptions | None = None
) -> PageKey:
    """Normalise a page and compute its document key, or say why there is none.

    Steps (at 100 dpi, see ``docs/dedup.md``): reduce; clean (background, borders,
    despeckle, blank check: :func:`onestop_docs.cleanup.clean_page`); fix orientation and
    skew of the cleaned page (:func:`onestop_docs.deskew.deskew`); ink = darkness >= 96;
    crop to the ink box (rows and columns with ink, without thin detached slivers at the
    ends); hash the ink image of the crop and keep its darkness grid.

    Parameters
    ----------
    page : Page or numpy.ndarray
        uint8 grey or RGB scan.
    dpi : float, optional
        Resolution; defaults to the Page's, else 300.
    options : PageHashOptions, optional

    Returns
    -------
    PageKey

    Raises
    ------
    InvalidArgumentError
        Bad pixel data or dpi.
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> page_key(np.full((300, 200), 255, np.uint8), dpi=100).reason
    'blank'
    """
    from ..cleanup import CleanOptions, clean_page

    opts = options or PageHashOptions()
    gray = as_gray(page)
    small = _reduce(gray, _dpi_of(page, dpi))
    # Clean first: scanner borders are square to the scan, not to the skewed paper, so they
    # come off cleanly before the page is turned upright.
    clean = clean_page(small, CleanOptions(dpi=ANALYSIS_DPI))
    frac = float(np.asarray(clean.mask, dtype=bool).mean())
    if clean.blank is not None and clean.blank.is_blank:
        _log.debug("page_key: blank page (ink fraction %.5f)", frac)
        return PageKey(None, "blank", frac)
    # The cleaned grey page (paper normalised to white, borders whitened) is turned upright;
    # its darkness is steadier from scan to scan than a thresholded mask.
    cleaned = as_gray(clean.image)
    upright, skew, rot = _upright(cleaned, opts.max_angle)
    dark = 255 - upright.astype(np.int16)
    mask = dark >= 96
    box = _ink_box(mask)
    min_side = ANALYSIS_DPI * 0.4  # 1 cm of ink extent, or it is a mark, not a document
    if box is None or box[1] - box[0] < min_side or box[3] - box[2] < min_side:
        _log.debug("page_key: near-blank page (ink box %s)", box)
        return PageKey(None, "near-blank", frac)
    y0, y1, x0, x1 = box
    crop_dark = dark[y0:y1, x0:x1]
    darkness = np.where(crop_dark >= 48, crop_dark, 0).astype(np.uint8)
    return PageKey(_key_of_crop(mask[y0:y1, x0:x1], darkness, skew, rot), None, frac)


def _key_of_crop(
    crop: NDArray[np.bool_], darkness: NDArray[np.uint8], skew: float | None, rot: int
) -> PageHash:
    # crop: the ink mask of the content box; darkness: its grey darkness (C-contiguous).
    ink_img = np.where(crop, np.uint8(0), np.uint8(255))
    flipped = np.ascontiguousarray(ink_img[::-1, ::-1])
    grid = area_resize(darkness, *GRID)
    return PageHash(
        pdq=pdq(ink_img, max_side=512).hash,
        dct=_dct_hash(ink_img),
        grid=np.clip(grid + 0.5, 0, 255).astype(np.uint8),
        aspect=crop.shape[0] / crop.shape[1],
        skew_deg=skew,
        rotation=rot,
        pdq_flip=pdq(flipped, max_side=512).hash,
        dct_flip=_dct_hash(flipped),
    )


def page_hash(
    page: Any, *, dpi: float | None = None, options: PageHashOptions | None = None
) -> PageHash | None:
    """The document key of a page, or None for a blank or near-blank page.

    Shorthand for ``page_key(page, dpi=dpi, options=options).hash``; use :func:`page_key`
    to learn why a page has no key.  Compare two keys with :func:`verify_pair`; search many
    with :class:`~onestop_docs.dedup.DuplicateIndex`.

    Raises
    ------
    InvalidArgumentError
        Bad pixel data or dpi.

    Examples
    --------
    >>> import numpy as np
    >>> page_hash(np.full((300, 200), 255, np.uint8), dpi=100) is None
    True
    """
    return page_key(page, dpi=dpi, options=options).hash


def _box_mean(a: NDArray[np.float64], kh: int, kw: int) -> NDArray[np.float64]:
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), axis=0), axis=1)
    return np.asarray((c[kh:, kw:] - c[:-kh, kw:] - c[kh:, :-kw] + c[:-kh, :-kw]) / (kh * kw))


def region_difference(
    a: NDArray[np.uint8], b: NDArray[np.uint8], *, shift: int = 2, window: int = 4
) -> float:
    """Worst-window mean ink difference of two grids, minimised over small shifts.

    Both grids are blurred over 3 x 3 cells first (the ink box of a rescan moves by a
    fraction of a cell); then for each shift of up to ``shift`` cells the absolute
    difference is averaged over ``window`` x ``window`` windows and the worst window
    counts.  A filled-in name or number changes one window a lot; a rescan changes every
    window a little.

    Raises
    ------
    InvalidArgumentError
        Grids of different shapes.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise InvalidArgumentError(f"grids must have one 2-D shape, got {a.shape} and {b.shape}")
    fa = _box_mean(np.pad(a.astype(np.float64) / 255.0, 1, mode="edge"), 3, 3)
    fb = _box_mean(np.pad(b.astype(np.float64) / 255.0, 1, mode="edge"), 3, 3)
    n, m = fa.shape
    best = math.inf
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            ya, yb = max(0, dy), max(0, -dy)
            xa, xb = max(0, dx), max(0, -dx)
            h, w = n - abs(dy), m - abs(dx)
            diff = np.abs(fa[ya : ya + h, xa : xa + w] - fb[yb : yb + h, xb : xb + w])
            best = min(best, float(_box_mean(diff, window, window).max()))
    return best


def verify_pair(a: PageHash, b: PageHash, options: PageHashOptions | None = None) -> Verdict:
    """Decide whether two document keys are the same document (second stage).

    The hashes only propose: two filled copies of one form template are within a few bits.
    The verifier compares the ink-density grids region by region (see
    :func:`region_difference`) and rejects pairs whose content boxes have different shapes.

    Raises
    ------
    InvalidArgumentError
        ``a`` or ``b`` is not a :class:`PageHash`.

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.dedup import Hash
    >>> g = np.zeros((128, 96), np.uint8); g[10:20, 10:80] = 200
    >>> k = PageHash(Hash(bytes(32), 256), Hash(bytes(32), 256), g, 1.4)
    >>> verify_pair(k, k).duplicate
    True
    """
    if not isinstance(a, PageHash) or not isinstance(b, PageHash):
        raise InvalidArgumentError("verify_pair compares two PageHash values")
    opts = options or PageHashOptions()
    if a.pdq_flip is not None and a.dct_flip is not None:
        # Orientation detection may disagree by 180 degrees: use the closer orientation.
        straight = (a.pdq - b.pdq) + (a.dct - b.dct)
        turned = (a.pdq_flip - b.pdq) + (a.dct_flip - b.dct)
        if turned < straight:
            a = a.flipped()
    dp = a.pdq - b.pdq
    dd = a.dct - b.dct
    aspect = abs(math.log(a.aspect / b.aspect))
    if dp > opts.pdq_radius and dd > opts.dct_radius:
        return Verdict(False, dp, dd, math.nan, aspect, "hash-distance")
    if aspect > opts.max_aspect_diff:
        return Verdict(False, dp, dd, math.nan, aspect, "aspect")
    region = region_difference(a.grid, b.grid)
    if region > opts.max_region_diff:
        return Verdict(False, dp, dd, region, aspect, "region")
    return Verdict(True, dp, dd, region, aspect, "match")
