"""Deskew and orientation (chỉnh nghiêng, xoay trang): skew angle with confidence, 0/90/180/270.

.. _sign-convention:

Sign convention (used by every function here)
---------------------------------------------
Angles are in degrees and say how the page **content** is rotated relative to upright,
**counter-clockwise positive** as seen on screen (x to the right, y down): text lines rising to
the right have a positive skew.  Straightening rotates by ``-angle``.  The same holds for
:attr:`OrientationEstimate.rotation` (0, 90, 180, 270): content rotated by 90 reads bottom to
top, and is fixed by rotating by -90 (clockwise).

Pixel coordinates are ``(x, y)`` = (column, row) of pixel **centres**; rotations turn about the
image centre ``((W - 1) / 2, (H - 1) / 2)``.

Methods
-------
* :func:`estimate_skew` thresholds a reduced (about 100 dpi) copy of the page with Otsu,
  removes dark ink connected to the image edge (scanner borders), and scores candidate angles
  by the differential square sum of the projection profile (Postl 1986; Bloomberg, Kopec and
  Dasari 1995): a coarse sweep on a 2x coarser copy, then bisection to 0.002 degrees and a
  parabolic peak fit on the fine copy.  ``method="projection"``.  When that score is unsure, a
  second, independent estimate is tried: the angle of the strongest ray of the 2-D power
  spectrum (text lines are a periodic grating), accepted only when the projection score has a
  peak there too (``method="fourier"``).  Anything else is ``angle=None`` with a reason.
* :func:`detect_orientation` compares the best projection score of the text-line family near
  0 degrees with the family near 90 degrees (portrait vs landscape), then tells up from down by
  the shape of each text line's profile: Latin script, and Vietnamese even more with its tone
  marks, carries more ink above the x-height band than below it, so each line's profile rises
  gradually and ends with a sharp drop at the baseline.
* :func:`rotate` resamples with 32.32 fixed-point positions (bilinear or Keys bicubic); exact
  multiples of 90 degrees are lossless transposes.

Examples
--------
>>> import numpy as np
>>> from onestop_docs.deskew import estimate_skew, rotate
>>> img = np.full((400, 600), 255, np.uint8)
>>> for y in range(60, 360, 24):
...     img[y:y + 8, 60:540] = 0          # ten "text lines"
>>> est = estimate_skew(rotate(img, 3.0), dpi=100)
>>> round(est.angle, 1), est.method
(3.0, 'projection')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ._native import deskew as _k  # type: ignore[attr-defined]
from ._native import gray as _g  # type: ignore[attr-defined]
from ._native import rotate as _r  # type: ignore[attr-defined]
from ._validate import as_gray, as_image, check_finite, check_range
from .errors import InvalidArgumentError
from .imageio import Page

__all__ = [
    "DeskewResult",
    "OrientationEstimate",
    "PageTransform",
    "SkewEstimate",
    "deskew",
    "detect_orientation",
    "estimate_skew",
    "rotate",
]

#: Resolution (dpi) of the reduced copy the fine skew search runs on.
ANALYSIS_DPI = 100.0
#: Peak-to-median ratio of the sweep scores above which a projection estimate is trusted.
MIN_PEAK_RATIO = 2.0
#: Below this ratio not even the Fourier fallback is tried.
MIN_FALLBACK_RATIO = 1.3
#: The score along the lines must beat the score across them by this factor.
PERPENDICULAR_MARGIN = 1.5
#: The coarse sweep scores at most this many ink pixels (a regular subsample).
SWEEP_POINTS = 12_000
#: Minimum number of ink pixels on the fine copy.
MIN_INK_PIXELS = 150
#: Number of text lines below which orientation abstains.
MIN_ORIENTATION_LINES = 3


@dataclass(frozen=True)
class SkewEstimate:
    """Skew of a page's text lines.

    Attributes
    ----------
    angle : float or None
        Degrees, counter-clockwise positive (see the module's sign convention); ``None`` when
        the estimate is not trustworthy.
    confidence : float
        0..1; 0 when ``angle`` is None.
    method : str
        ``"projection"`` or ``"fourier"`` (which estimator answered), ``"none"`` otherwise.
    reason : str or None
        Why ``angle`` is None (``"too little ink"``, ``"flat score"``, ...).
    """

    angle: float | None
    confidence: float
    method: str
    reason: str | None = None


@dataclass(frozen=True)
class OrientationEstimate:
    """Coarse page orientation.

    Attributes
    ----------
    rotation : {0, 90, 180, 270} or None
        Counter-clockwise angle by which the content is rotated relative to upright (same
        convention as :attr:`SkewEstimate.angle`); fix by rotating by ``-rotation``.
    confidence : float
        0..1; 0 when ``rotation`` is None.
    reason : str or None
        Why ``rotation`` is None.
    """

    rotation: int | None
    confidence: float
    reason: str | None = None


@dataclass(frozen=True)
class PageTransform:
    """Affine map between the pixel coordinates of a deskewed page and its input.

    ``matrix`` (2 x 3, row-major) maps an **output** pixel centre ``(x, y)`` to the input:
    ``x_in = m[0] x + m[1] y + m[2]``, ``y_in = m[3] x + m[4] y + m[5]``.

    Examples
    --------
    >>> t = PageTransform.rotation(-90.0, (100, 200), (200, 100))
    >>> t.to_input(np.array([[0.0, 0.0]])).round(6).tolist()
    [[0.0, 99.0]]
    >>> t.to_output(t.to_input(np.array([[3.0, 4.0]]))).round(6).tolist()
    [[3.0, 4.0]]
    """

    matrix: tuple[float, float, float, float, float, float]
    input_shape: tuple[int, int]
    output_shape: tuple[int, int]

    @classmethod
    def identity(cls, shape: tuple[int, int]) -> PageTransform:
        """The transform of an untouched page of ``shape`` (H, W)."""
        return cls((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), shape, shape)

    @classmethod
    def rotation(
        cls, angle_deg: float, input_shape: tuple[int, int], output_shape: tuple[int, int]
    ) -> PageTransform:
        """Rotate the content by ``angle_deg`` counter-clockwise about the image centres."""
        a = math.radians(angle_deg)
        c, s = math.cos(a), math.sin(a)
        # Multiples of 90 exactly, so that lossless transposes and this matrix agree.
        q = angle_deg / 90.0
        if q == round(q):
            c, s = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][round(q) % 4]
        cxi, cyi = (input_shape[1] - 1) / 2.0, (input_shape[0] - 1) / 2.0
        cxo, cyo = (output_shape[1] - 1) / 2.0, (output_shape[0] - 1) / 2.0
        # input = c_in + R(-a) (output - c_out), with R(a) the on-screen CCW rotation.
        m = (c, -s, cxi - c * cxo + s * cyo, s, c, cyi - s * cxo - c * cyo)
        return cls(m, input_shape, output_shape)

    @property
    def is_identity(self) -> bool:
        """True when the page was not moved."""
        return self.matrix == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

    def _apply(self, m: tuple[float, ...], xy: Any) -> NDArray[np.float64]:
        pts = np.asarray(xy, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise InvalidArgumentError(f"xy must be an (N, 2) array, got shape {pts.shape}")
        out = np.empty_like(pts)
        out[:, 0] = m[0] * pts[:, 0] + m[1] * pts[:, 1] + m[2]
        out[:, 1] = m[3] * pts[:, 0] + m[4] * pts[:, 1] + m[5]
        return out

    def to_input(self, xy: Any) -> NDArray[np.float64]:
        """Map (N, 2) output pixel coordinates ``(x, y)`` to input coordinates."""
        return self._apply(self.matrix, xy)

    def to_output(self, xy: Any) -> NDArray[np.float64]:
        """Map (N, 2) input pixel coordinates ``(x, y)`` to output coordinates."""
        a, b, c, d, e, f = self.matrix
        det = a * e - b * d
        inv = (e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det)
        return self._apply(inv, xy)


class _DeskewFields(NamedTuple):
    page: Page
    skew: SkewEstimate
    orientation: OrientationEstimate


class DeskewResult(_DeskewFields):
    """``(page, skew, orientation)``, unpackable, plus the attribute ``transform``.

    ``skew`` is measured after the orientation fix.  ``transform`` is a
    :class:`PageTransform` from output to input pixel coordinates.
    """

    transform: PageTransform

    def __new__(
        cls,
        page: Page,
        skew: SkewEstimate,
        orientation: OrientationEstimate,
        transform: PageTransform,
    ) -> DeskewResult:
        self = super().__new__(cls, page, skew, orientation)
        object.__setattr__(self, "transform", transform)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DeskewResult is immutable; cannot set {name!r}")

    def __repr__(self) -> str:
        return (
            f"DeskewResult(page={self.page!r}, skew={self.skew!r}, "
            f"orientation={self.orientation!r}, transform={self.transform!r})"
        )


# --------------------------------------------------------------------------------------------
# Analysis: reduced binary copies and their ink points
# --------------------------------------------------------------------------------------------


class _Points(NamedTuple):
    xs: NDArray[np.int32]
    ys: NDArray[np.int32]
    shape: tuple[int, int]


def _otsu(hist: NDArray[np.int64]) -> int:
    """Otsu threshold t: pixels < t are ink."""
    p = hist.astype(np.float64)
    total = p.sum()
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * levels)
    w1 = total - w0
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - total * m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1.0
    return int(np.argmax(between)) + 1


def _reduce(gray: NDArray[np.uint8], r: int) -> NDArray[np.uint8]:

    h, w = gray.shape[0] // r, gray.shape[1] // r
    out = np.empty((h, w), np.uint8)
    _k.reduce_mean(gray, r, out, np.empty(max(1, w * r), np.uint32))
    return out


def _points(binary: NDArray[np.uint8]) -> _Points:
    """Ink (value 0) pixel coordinates of a 0/255 image."""

    n = int(np.count_nonzero(binary == 0))
    xs = np.empty(n, np.int32)
    ys = np.empty(n, np.int32)
    got = _k.ink_points(binary, 128, xs, ys)
    return _Points(xs[:got], ys[:got], (int(binary.shape[0]), int(binary.shape[1])))


@dataclass(frozen=True)
class _Analysis:
    fine: NDArray[np.uint8]  # 0 = ink, 255 = paper, borders removed (~100 dpi)
    coarse: NDArray[np.uint8]  # 2x coarser
    reason: str | None  # set when there is nothing to analyse


def _effective_dpi(gray: NDArray[np.uint8], dpi: Any, image: Any) -> float:
    if dpi is None and isinstance(image, Page) and image.dpi is not None:
        dx, dy = image.dpi
        return (float(dx) + float(dy)) / 2.0
    if dpi is None:
        # Unknown resolution: assume the long side is an A4 page's 297 mm.
        return float(max(gray.shape)) / (297.0 / 25.4)
    return check_range(dpi, "dpi", 10.0, 4800.0)


def _analyse(gray: NDArray[np.uint8], dpi_eff: float) -> _Analysis:
    r = max(1, int(dpi_eff // ANALYSIS_DPI))
    red = _reduce(gray, r) if r > 1 else gray.copy()
    empty = np.full((1, 1), 255, np.uint8)
    if min(red.shape) < 16:
        return _Analysis(empty, empty, "image too small to analyse")
    hist = np.zeros(256, np.int64)
    _g.histogram(red, hist)
    lo, hi = int(np.flatnonzero(hist)[0]), int(np.flatnonzero(hist)[-1])
    if hi - lo < 48:
        return _Analysis(empty, empty, "no contrast (blank or uniform page)")
    thr = _otsu(hist)
    _k.clear_border(red, thr, np.empty(red.size, np.int32))
    fine = np.where(red < thr, np.uint8(0), np.uint8(255))
    n_ink = int(np.count_nonzero(fine == 0))
    if n_ink < MIN_INK_PIXELS:
        return _Analysis(empty, empty, "too little ink")
    if n_ink > 0.4 * fine.size:
        return _Analysis(empty, empty, "too much ink for a text page")
    # Coarse copy: a 2 x 2 block is ink when at least two of its pixels are.
    coarse = np.where(_reduce(fine, 2) < 160, np.uint8(0), np.uint8(255))
    if min(coarse.shape) < 8:
        coarse = fine
    return _Analysis(fine, coarse, None)


def _buffer(shape: tuple[int, int]) -> NDArray[np.float64]:
    radius = math.hypot(shape[0], shape[1]) / 2.0
    return np.empty(2 * math.ceil(radius) + 8, np.float64)


def _scores(pts: _Points, angles_deg: NDArray[np.float64]) -> NDArray[np.float64]:

    out = np.empty(len(angles_deg), np.float64)
    h, w = pts.shape
    _k.scores(
        pts.xs,
        pts.ys,
        np.radians(angles_deg),
        (w - 1) / 2.0,
        (h - 1) / 2.0,
        _buffer(pts.shape),
        out,
    )
    return out


def _profile(pts: _Points, angle_deg: float) -> NDArray[np.float64]:

    h, w = pts.shape
    prof = _buffer(pts.shape)
    _k.profile(pts.xs, pts.ys, math.radians(angle_deg), (w - 1) / 2.0, (h - 1) / 2.0, prof)
    return prof


class _Sweep(NamedTuple):
    angles: NDArray[np.float64]
    scores: NDArray[np.float64]
    best: int
    ratio: float


def _sweep(pts: _Points, max_angle: float) -> _Sweep:
    w = max(pts.shape[1], 8)
    # A step that moves the line ends by about 3 coarse pixels: the score peak is wider.
    step = min(0.5, max(0.1, math.degrees(math.atan(3.0 / w))))
    half = max_angle + 2 * step
    n = math.ceil(half / step)
    angles = np.arange(-n, n + 1, dtype=np.float64) * step
    if len(pts.xs) > SWEEP_POINTS:
        # The sweep only has to find the peak: a regular subsample of a dense page is enough.
        k = -(-len(pts.xs) // SWEEP_POINTS)
        pts = _Points(pts.xs[::k].copy(), pts.ys[::k].copy(), pts.shape)
    sc = _scores(pts, angles)
    best = int(np.argmax(sc))
    med = float(np.median(sc))
    ratio = float(sc[best] / med) if med > 0 else 1.0
    return _Sweep(angles, sc, best, ratio)


def _refine(pts: _Points, start: float, step: float) -> float:
    """Bisection around ``start`` on the fine copy, then a parabola through the last three."""
    c = start
    sc = float(_scores(pts, np.array([c]))[0])
    d = step / 2.0
    while True:
        pair = _scores(pts, np.array([c - d, c + d]))
        lo, hi = float(pair[0]), float(pair[1])
        if d <= 0.004:
            denom = lo - 2.0 * sc + hi
            if denom < 0:
                c += 0.5 * d * (lo - hi) / denom
            return c
        if lo > sc and lo >= hi:
            c, sc = c - d, lo
        elif hi > sc:
            c, sc = c + d, hi
        d /= 2.0


def _second_peak(sw: _Sweep) -> float:
    """Highest sweep score at a local maximum more than 3 steps from the best, over the best."""
    s, b = sw.scores, sw.best
    best = 0.0
    for i in range(1, len(s) - 1):
        if abs(i - b) > 3 and s[i] >= s[i - 1] and s[i] >= s[i + 1]:
            best = max(best, float(s[i]))
    return best / float(s[b])


def _fourier_angle(binary: NDArray[np.uint8], max_angle: float) -> tuple[float, float]:
    """Angle (degrees) of the strongest spectral ray within ``max_angle``, and its peak ratio."""
    ink = (binary == 0).astype(np.float64)
    h, w = ink.shape
    n = 1 << max(6, min(9, (max(h, w) - 1).bit_length()))
    # Centre crop/pad to n x n with a Hann window so the frame edges do not make rays.
    y0, x0 = max(0, (h - n) // 2), max(0, (w - n) // 2)
    crop = ink[y0 : y0 + n, x0 : x0 + n]
    tile = np.zeros((n, n))
    tile[: crop.shape[0], : crop.shape[1]] = crop - crop.mean()
    win = np.hanning(n)
    power = np.abs(np.fft.fftshift(np.fft.fft2(tile * win[:, None] * win[None, :]))) ** 2
    step = 0.1
    angles = np.arange(-max_angle - 1.0, max_angle + 1.0 + step / 2, step)
    radii = np.arange(4, n // 2 - 1, dtype=np.float64)
    a = np.radians(angles)[:, None]
    # A line rotated counter-clockwise by a has its normal (sin a, cos a) in (x, y-down).
    fy = np.rint(n // 2 + radii[None, :] * np.cos(a)).astype(np.intp)
    fx = np.rint(n // 2 + radii[None, :] * np.sin(a)).astype(np.intp)
    energy = power[fy, fx].sum(axis=1)
    best = int(np.argmax(energy))
    med = float(np.median(energy))
    ratio = float(energy[best] / med) if med > 0 else 1.0
    return float(angles[best]), ratio


def _skew_from(
    ana: _Analysis, max_angle: float, swept: tuple[_Points, _Sweep] | None = None
) -> SkewEstimate:
    """Skew of the (already orientation-corrected) analysis images.

    ``swept`` passes the coarse points and their sweep when the caller already has them.
    """
    if ana.reason is not None:
        return SkewEstimate(None, 0.0, "none", ana.reason)
    if swept is None:
        coarse = _points(ana.coarse)
        sw = _sweep(coarse, max_angle)
    else:
        coarse, sw = swept
    fine = _points(ana.fine)
    step = float(sw.angles[1] - sw.angles[0])
    if sw.best in (0, len(sw.angles) - 1):
        return SkewEstimate(None, 0.0, "none", "score peaks at the edge of the searched range")
    method = "projection"
    start = float(sw.angles[sw.best])
    confident = sw.ratio >= MIN_PEAK_RATIO and _second_peak(sw) < 0.8
    if not confident:
        if sw.ratio < MIN_FALLBACK_RATIO:
            return SkewEstimate(None, 0.0, "none", "flat score: no text lines found")
        f_angle, f_ratio = _fourier_angle(ana.fine, max_angle)
        i = int(np.argmin(np.abs(sw.angles - f_angle)))
        local_peak = 0 < i < len(sw.scores) - 1 and sw.scores[i] >= 0.9 * max(
            sw.scores[i - 1], sw.scores[i + 1]
        )
        if f_ratio < 3.0 or not local_peak:
            return SkewEstimate(None, 0.0, "none", "ambiguous score: no clear text-line angle")
        method, start = "fourier", f_angle
    angle = _refine(fine, start, step)
    if abs(angle) > max_angle:
        return SkewEstimate(None, 0.0, "none", f"skew beyond max_angle={max_angle:g}")
    # Characters stack into columns perpendicular to the lines, so a page turned by 60
    # degrees scores a (weaker) peak at -30.  The real line direction beats its perpendicular.
    near = angle + 90.0 + np.arange(-4, 5) * step
    par = float(_scores(coarse, np.array([angle]))[0])
    perp = float(_scores(coarse, near.astype(np.float64)).max())
    if par < PERPENDICULAR_MARGIN * perp:
        return SkewEstimate(
            None, 0.0, "none", "lines run closer to vertical: the page is turned (orientation)"
        )
    conf = min(1.0, (sw.ratio - 1.0) / 4.0)
    return SkewEstimate(float(angle), float(conf), method, None)


def _check_max_angle(max_angle: Any) -> float:
    return check_range(max_angle, "max_angle", 0.0, 45.0, lo_open=True)


def estimate_skew(image: Any, max_angle: float = 15.0, dpi: float | None = None) -> SkewEstimate:
    """Estimate the skew of a text page (see the module's sign convention).

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3), or a bool mask (True = ink).
    max_angle : float
        Search range in degrees, in (0, 45].  A page skewed further gives ``angle=None``.
    dpi : float, optional
        Resolution; defaults to the Page's dpi, else guessed assuming the long side is A4.

    Returns
    -------
    SkewEstimate
        ``angle=None`` with a ``reason`` when there is too little text, the score is flat
        or ambiguous, or the skew is outside ``max_angle``.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape, ``max_angle`` outside (0, 45], ``dpi`` outside [10, 4800].
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> estimate_skew(np.full((300, 200), 255, np.uint8))
    SkewEstimate(angle=None, confidence=0.0, method='none', reason='no contrast (blank or uniform page)')
    """
    max_angle = _check_max_angle(max_angle)
    gray = as_gray(image, allow_bool=True)
    return _skew_from(_analyse(gray, _effective_dpi(gray, dpi, image)), max_angle)


# --------------------------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------------------------


def _rot90(ana: _Analysis) -> _Analysis:
    """The analysis images turned 90 degrees counter-clockwise."""
    return _Analysis(
        np.ascontiguousarray(np.rot90(ana.fine)), np.ascontiguousarray(np.rot90(ana.coarse)), None
    )


def _line_votes(prof: NDArray[np.float64]) -> tuple[int, int]:
    """(upright, upside-down) votes of the text lines in a deskewed profile (top to bottom).

    Each line's densest band (the x-height band, or the cap band of a capitals line) is found
    by thresholding the profile; then the ink just above the band (ascenders, capitals and,
    in Vietnamese, most tone marks and the circumflex and breve) is compared with the ink just
    below it (descenders and the dot below).  Upright text has more above than below.  The
    regions reach at most one band height away and stop halfway to the next band.
    """
    nz = prof[prof > 0]
    if nz.size == 0:
        return 0, 0
    peak = float(np.percentile(nz, 95))
    core = np.concatenate(([0], (prof >= 0.35 * peak).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(core))
    bands = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]
    if not bands:
        return 0, 0
    # A row of tone marks over a capitals line can pass the threshold on its own: bands much
    # thinner than the typical one are marks, and stay in the regions they belong to.
    typical = float(np.median([b - a for a, b in bands]))
    bands = [(a, b) for a, b in bands if b - a >= 0.5 * typical]
    up = down = 0
    for i, (a, b) in enumerate(bands):
        h = b - a
        top = max(a - h, (bands[i - 1][1] + a) // 2 if i > 0 else 0)
        bot = min(b + h, (b + bands[i + 1][0]) // 2 if i + 1 < len(bands) else len(prof))
        above, below = float(prof[top:a].sum()), float(prof[b:bot].sum())
        s = (above - below) / (above + below + 1e-9)
        if s > 0.15:
            up += 1
        elif s < -0.15:
            down += 1
    return up, down


def _abstain(
    reason: str, k: int, skew: SkewEstimate, ana: _Analysis, max_angle: float
) -> tuple[OrientationEstimate, SkewEstimate, _Analysis]:
    # The skew must refer to the unturned page: with lines running vertically it is unknown.
    if k == 1:
        skew = SkewEstimate(None, 0.0, "none", "text lines run vertically (orientation unknown)")
    return OrientationEstimate(None, 0.0, reason), skew, ana


def _orientation_from(
    ana: _Analysis, max_angle: float
) -> tuple[OrientationEstimate, SkewEstimate, _Analysis]:
    """Orientation, the skew after fixing it, and the analysis images turned upright-ish."""
    if ana.reason is not None:
        return (
            OrientationEstimate(None, 0.0, ana.reason),
            SkewEstimate(None, 0.0, "none", ana.reason),
            ana,
        )
    turned = _rot90(ana)
    p0, p1 = _points(ana.coarse), _points(turned.coarse)
    s0, s1 = _sweep(p0, max_angle), _sweep(p1, max_angle)
    k, best, other = (0, s0.ratio, s1.ratio) if s0.ratio >= s1.ratio else (1, s1.ratio, s0.ratio)
    fam = ana if k == 0 else turned
    skew = _skew_from(fam, max_angle, (p0, s0) if k == 0 else (p1, s1))
    if skew.angle is None or best < MIN_PEAK_RATIO or best < 1.5 * other:
        reason = "text-line direction unclear"
        base_skew = skew if k == 0 else _skew_from(ana, max_angle, (p0, s0))
        return OrientationEstimate(None, 0.0, reason), base_skew, ana
    up, down = _line_votes(_profile(_points(fam.fine), skew.angle))
    n = up + down
    if n < MIN_ORIENTATION_LINES:
        reason = f"too few text lines ({n}) to tell up from down"
        return _abstain(reason, k, skew, ana, max_angle)
    k_major = max(up, down)
    if k_major / n < 0.65 or 2 * k_major - n < 3:
        reason = f"text lines disagree on up and down ({up} vs {down})"
        return _abstain(reason, k, skew, ana, max_angle)
    upright = up > down
    rotation = (0 if upright else 180) if k == 0 else (270 if upright else 90)
    # Confidence: one minus the chance of a split at least this lopsided from coin flips,
    # scaled down when portrait and landscape scored alike.
    tail = sum(math.comb(n, j) for j in range(k_major, n + 1)) / 2.0**n
    conf = (1.0 - tail) * min(1.0, best / other - 1.0)
    if not upright:
        fam = _Analysis(
            np.ascontiguousarray(fam.fine[::-1, ::-1]),
            np.ascontiguousarray(fam.coarse[::-1, ::-1]),
            None,
        )
    return OrientationEstimate(rotation, float(conf), None), skew, fam


def detect_orientation(image: Any, *, dpi: float | None = None) -> OrientationEstimate:
    """Detect whether a text page is rotated by 0, 90, 180 or 270 degrees (no Tesseract).

    See the module's sign convention: ``rotation`` is the counter-clockwise angle of the
    content; fix it with ``rotate(image, -rotation)``.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB, or a bool mask (True = ink).
    dpi : float, optional
        Resolution; defaults to the Page's dpi, else guessed from the size (A4 assumed).

    Returns
    -------
    OrientationEstimate
        ``rotation=None`` with a reason on pages with fewer than three text lines, no clear
        line direction, or lines that disagree.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape, ``dpi`` outside [10, 4800].
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> detect_orientation(np.zeros((50, 50), np.uint8)).rotation is None
    True
    """
    gray = as_gray(image, allow_bool=True)
    return _orientation_from(_analyse(gray, _effective_dpi(gray, dpi, image)), 15.0)[0]


# --------------------------------------------------------------------------------------------
# Rotation and the one-call deskew
# --------------------------------------------------------------------------------------------

_FILL_NAMES = {"white": 255, "black": 0}


def _fill_values(fill: Any, channels: int) -> NDArray[np.intc]:
    if isinstance(fill, str):
        if fill not in _FILL_NAMES:
            raise InvalidArgumentError(f"fill must be 'white', 'black' or 0..255, got {fill!r}")
        vals = [_FILL_NAMES[fill]] * channels
    elif isinstance(fill, (tuple, list)):
        if len(fill) != channels:
            raise InvalidArgumentError(
                f"fill must have {channels} value(s) for this image, got {len(fill)}"
            )
        vals = [int(check_range(v, "fill", 0, 255)) for v in fill]
    elif isinstance(fill, (int, float, np.integer, np.floating)) and not isinstance(fill, bool):
        v = check_range(fill, "fill", 0, 255)
        if v != int(v):
            raise InvalidArgumentError(f"fill must be an integer 0..255, got {fill!r}")
        vals = [int(v)] * channels
    else:
        raise InvalidArgumentError(f"fill must be 'white', 'black' or 0..255, got {fill!r}")
    return np.array(vals, dtype=np.intc)


def _warp(
    pixels: NDArray[np.uint8],
    t: PageTransform,
    fill: NDArray[np.intc],
    interpolation: str,
) -> NDArray[np.uint8]:

    nc = 1 if pixels.ndim == 2 else pixels.shape[2]
    ho, wo = t.output_shape
    out = np.empty((ho, wo, *pixels.shape[2:]), np.uint8)
    _r.warp(
        pixels.reshape(pixels.shape[0], -1),
        nc,
        out.reshape(ho, -1),
        np.array(t.matrix, np.float64),
        fill,
        interpolation == "bicubic",
    )
    return out


def _quarter_turns(angle_deg: float) -> int | None:
    q = angle_deg / 90.0
    return round(q) % 4 if q == round(q) else None


def _rotated_shape(shape: tuple[int, int], angle_deg: float, expand: bool) -> tuple[int, int]:
    h, w = shape
    if not expand:
        return shape
    a = math.radians(angle_deg)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    # The bounding box of the rotated pixel centres, plus one pixel.
    return (
        math.ceil((h - 1) * c + (w - 1) * s - 1e-6) + 1,
        math.ceil((w - 1) * c + (h - 1) * s - 1e-6) + 1,
    )


def rotate(
    image: Any,
    angle_deg: float,
    *,
    fill: Any = "white",
    expand: bool = False,
    interpolation: Literal["bilinear", "bicubic"] = "bilinear",
) -> NDArray[Any]:
    """Rotate an image's content counter-clockwise by ``angle_deg`` about its centre.

    Exact multiples of 90 degrees are lossless transposes (``numpy.rot90``) and return the
    transposed shape for 90 and 270.  Other angles resample; with ``expand=False`` the output
    keeps the input's shape (corners are cut), with ``expand=True`` it grows to hold the whole
    rotated image.  Output dpi is the input's (rotation does not scale).

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3), or a bool mask (True = ink).  A Page's pixels are
        rotated (an ndarray is returned).
    angle_deg : float
        Finite; see the module's sign convention.
    fill : {"white", "black"}, int or tuple of int
        Value of pixels that come from outside the input; a 3-tuple for RGB.  For a bool mask
        "white" and 255 mean False (no ink), "black" and 0 mean True.
    expand : bool
        Grow the output to hold the whole rotated image.
    interpolation : {"bilinear", "bicubic"}
        Bool masks are interpolated bilinearly and thresholded at one half.

    Returns
    -------
    ndarray
        Same dtype and number of channels as the input.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape, non-finite angle, unknown fill or interpolation.
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    >>> rotate(a, 90)
    array([[2, 5],
           [1, 4],
           [0, 3]], dtype=uint8)
    >>> rotate(np.full((5, 5), 7, np.uint8), 30.0)[2, 2]
    np.uint8(7)
    """
    angle = check_finite(angle_deg, "angle_deg")
    if interpolation not in ("bilinear", "bicubic"):
        raise InvalidArgumentError(
            f"interpolation must be 'bilinear' or 'bicubic', got {interpolation!r}"
        )
    raw = getattr(image, "pixels", image)
    is_mask = isinstance(raw, np.ndarray) and raw.dtype == np.bool_
    if is_mask:
        pixels = np.where(np.asarray(raw), np.uint8(255), np.uint8(0))
        pixels = as_image(pixels, name="image", allow_rgb=False)
        fv = 255 - _fill_values(fill, 1)  # white paper = no ink = 0 here
    else:
        pixels = as_image(image)
        fv = _fill_values(fill, 1 if pixels.ndim == 2 else 3)
    q = _quarter_turns(angle)
    if q is not None:
        out = np.ascontiguousarray(np.rot90(pixels, q))
    else:
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
        t = PageTransform.rotation(angle, shape, _rotated_shape(shape, angle, expand))
        out = _warp(pixels, t, fv, interpolation)
    if is_mask:
        return np.asarray(out >= 128)
    return out


def deskew(
    page_or_array: Any, *, max_angle: float = 15.0, dpi: float | None = None
) -> DeskewResult:
    """Fix a page's orientation, then its skew, in one resampling.

    When neither estimate is confident the page is returned untouched with the identity
    transform; when only the orientation is known the fix is a lossless transpose.  The output
    keeps the input's size for a pure skew fix (corners filled white) and has the transposed
    size for 90 and 270.

    Parameters
    ----------
    page_or_array : Page or ndarray
        uint8 grey or RGB.  An ndarray is wrapped in a Page (mode "L" or "RGB", ``dpi``).
    max_angle : float
        Skew search range in degrees, in (0, 45].
    dpi : float, optional
        Resolution; defaults to the Page's dpi, else guessed from the size (A4 assumed).

    Returns
    -------
    DeskewResult
        ``(page, skew, orientation)`` and ``.transform`` (output to input pixel coordinates).
        ``skew`` is the residual skew after the orientation fix.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape (bool masks are not pages), ``max_angle`` outside (0, 45].
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> res = deskew(np.full((60, 40), 255, np.uint8))
    >>> res.transform.is_identity, res.skew.angle, res.orientation.rotation
    (True, None, None)
    """
    max_angle = _check_max_angle(max_angle)
    if isinstance(page_or_array, Page):
        page = page_or_array
    else:
        px = as_image(page_or_array)
        d = None if dpi is None else check_range(dpi, "dpi", 50.0, 4800.0)
        page = Page(px, mode="RGB" if px.ndim == 3 else "L", dpi=None if d is None else (d, d))
    gray = as_gray(page)
    shape = (page.height, page.width)
    orient, skew, _ = _orientation_from(_analyse(gray, _effective_dpi(gray, dpi, page)), max_angle)
    rot = orient.rotation or 0
    total = rot + (skew.angle or 0.0)
    if total == 0.0:
        return DeskewResult(page, skew, orient, PageTransform.identity(shape))
    out_shape = (shape[1], shape[0]) if rot in (90, 270) else shape
    t = PageTransform.rotation(-total, shape, out_shape)
    if skew.angle is None:
        pixels = np.ascontiguousarray(np.rot90(page.pixels, -rot // 90))
    else:
        fv = _fill_values("white", 1 if page.pixels.ndim == 2 else 3)
        pixels = _warp(page.pixels, t, fv, "bilinear")
        if page.mode == "1":
            pixels = np.where(pixels >= 128, np.uint8(255), np.uint8(0))
    return DeskewResult(page.with_pixels(pixels), skew, orient, t)
