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
  Dasari 1995): a coarse sweep over the whole half turn on a 2x coarser copy, then bisection
  to 0.004 degrees and a parabolic peak fit on the fine copy.  The answer is the skew modulo
  90 degrees: a page turned by 90, 180 or 270 gives its residual skew.  ``method="projection"``.  When that score is unsure, a
  second, independent estimate is tried: the angle of the strongest ray of the 2-D power
  spectrum (text lines are a periodic grating), accepted only when the projection score has a
  peak there too (``method="fourier"``).  Anything else is ``angle=None`` with a reason.
* :func:`detect_orientation` takes the line direction from that sweep (portrait or landscape:
  the lines must clearly beat the direction across them), then tells up from down
  line by line on a ~150-dpi copy: Latin script, and Vietnamese even more with its tone marks,
  carries more ink above the x-height band than below it.  Where the lines disagree, the
  small marks detached above and below the band (tone marks, circumflex, breve, dots of i
  above; only the dot below under it) are counted with them.  An optional backend runs
  Tesseract OSD instead.
* :func:`rotate` resamples with 32.32 fixed-point positions (bilinear or Keys bicubic); exact
  multiples of 90 degrees are lossless transposes.

Defaults, thresholds and measured accuracy: ``docs/deskew.md``.

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

import io
import math
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from .._deps import require_tool
from .._validate import as_gray, as_image, check_range
from ..errors import InvalidArgumentError, OcrError
from ..imageio import Page
from ._analysis import (
    DETAIL_DPI,
    STRIP_MM,
    _analyse,
    _Analysis,
    _detail_binary,
    _detail_points,
    _effective_dpi,
    _fold90,
    _fourier_angle,
    _mark_counts,
    _points,
    _refine,
    _rot90,
    _scores,
    _second_peak,
    _strip_votes,
    _Sweep,
    _sweep,
)
from ._rotate import PageTransform, _fill_values, _warp, rotate

__all__ = [
    "DeskewResult",
    "OrientationEstimate",
    "PageTransform",
    "ResolutionEstimate",
    "SkewEstimate",
    "deskew",
    "detect_orientation",
    "estimate_resolution",
    "estimate_skew",
    "rotate",
]

#: Peak-to-median ratio of the sweep scores above which a projection estimate is trusted.
MIN_PEAK_RATIO = 4.0
#: A second sweep maximum above this fraction of the best makes the line direction ambiguous.
MAX_SECOND_PEAK = 0.8
#: A second sweep maximum above this fraction of the best is compared on the fine copy.
MIN_SECOND_CHECK = 0.5
#: Below this ratio not even the Fourier fallback is tried.
MIN_FALLBACK_RATIO = 1.3
#: The score along the lines must beat the score across them by this factor.
PERPENDICULAR_MARGIN = 1.5
#: Stand-in sweep of a page with nothing to analyse.
_NO_SWEEP = _Sweep(np.zeros(2), np.ones(2), 0, 1.0, 1)
#: Largest chance that the up/down votes split as lopsidedly by coin flips (one-sided).
MAX_VOTE_TAIL = 0.02
#: A larger chance is accepted when the scores' t statistic reaches ``MIN_VOTE_T`` ...
MAX_VOTE_TAIL_WITH_T = 0.05
#: ... in the direction of the majority (mean over standard error of all line scores).
MIN_VOTE_T = 2.0
#: Fewest lines that answer when they all agree, however large ``MAX_VOTE_TAIL`` says.
MIN_UNANIMOUS_LINES = 4
#: Largest coin-flip chance of the split of the marks above and below the lines that may
#: settle lines that disagree (see ``_with_marks``).
MAX_MARK_TAIL = 0.1
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
class ResolutionEstimate:
    """Scan resolution read from the size of the text (độ phân giải ước lượng từ cỡ chữ).

    Attributes
    ----------
    dpi : float or None
        Estimated dots per inch; ``None`` when the page shows too few text lines.
    core_height_px : float or None
        Median height, in pixels of the input, of the densest band of the text lines (the
        x-height band of lower-case lines, the cap band of upper-case ones).
    lines : int
        Number of text lines measured.
    reason : str or None
        Why ``dpi`` is None.
    """

    dpi: float | None
    core_height_px: float | None
    lines: int
    reason: str | None = None


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

    def __getnewargs__(self) -> tuple[Page, SkewEstimate, OrientationEstimate, PageTransform]:  # type: ignore[override]
        # Pickling (dask, multiprocessing) must carry the transform too.
        return (self.page, self.skew, self.orientation, self.transform)

    def __repr__(self) -> str:
        return (
            f"DeskewResult(page={self.page!r}, skew={self.skew!r}, "
            f"orientation={self.orientation!r}, transform={self.transform!r})"
        )


class _Direction(NamedTuple):
    """Where a page's text lines run, from one half-turn sweep."""

    skew: SkewEstimate  # residual skew in the frame where the lines run near horizontal
    quarter_turns: int  # 0: lines near horizontal; 1: near vertical (page turned)
    sweep: _Sweep
    margin: float  # score of the lines over the best score across them (>= 1)


def _direction(ana: _Analysis) -> _Direction:
    """The text-line direction of the analysis images and the residual skew modulo 90."""
    if ana.reason is not None:
        return _Direction(SkewEstimate(None, 0.0, "none", ana.reason), 0, _NO_SWEEP, 1.0)
    sw = _sweep(_points(ana.coarse))
    theta = float(sw.angles[sw.best])
    k = 0 if -45.0 <= theta < 45.0 else 1
    fam = ana if k == 0 else _rot90(ana)
    # Characters stack into columns across the lines: that family is the runner-up.
    margin = float(sw.scores[sw.best]) / max(sw.peak_near(theta + 90.0, 15.0), 1e-12)

    def answer(skew: SkewEstimate) -> _Direction:
        return _Direction(skew, k, sw, margin)

    method, start = "projection", _fold90(theta)
    second, at = _second_peak(sw)
    confident = sw.ratio >= MIN_PEAK_RATIO and second < MAX_SECOND_PEAK
    if sw.ratio >= MIN_PEAK_RATIO and second >= MIN_SECOND_CHECK:
        # Two line families, e.g. an ID card pasted at its own angle on a page of text lines:
        # the coarse copy blurs thin lines, so the fine copy decides between the two peaks.
        # A page's few long lines can score below a dense card's on the coarse copy and twice
        # as high on the fine one; when the fine copy does not settle it, a clear coarse
        # winner (``confident``) stands.
        won = _stronger_on_fine(ana, (theta, float(sw.angles[at])), sw.step)
        if won is not None:
            k = 0 if -45.0 <= won < 45.0 else 1
            conf = min(1.0, (sw.ratio - 1.0) / 4.0)
            return _Direction(SkewEstimate(_fold90(won), float(conf), method, None), k, sw, margin)
    if not confident:
        if sw.ratio < MIN_FALLBACK_RATIO:
            return answer(SkewEstimate(None, 0.0, "none", "flat score: no text lines found"))
        f_angle, f_ratio = _fourier_angle(fam.fine, 45.0)
        # The same direction in the sweep's (unturned) frame must be a local peak there too.
        d = (sw.angles - (f_angle - 90.0 * k) + 90.0) % 180.0 - 90.0
        i, n = int(np.argmin(np.abs(d))), len(sw.scores)
        local_peak = sw.scores[i] >= 0.9 * max(sw.scores[i - 1], sw.scores[(i + 1) % n])
        runner_up = sw.scores[i] >= 0.8 * sw.scores[sw.best]
        if f_ratio < 3.0 or not (local_peak and runner_up):
            reason = "ambiguous score: no clear text-line angle"
            return answer(SkewEstimate(None, 0.0, "none", reason))
        method, start = "fourier", _fold90(f_angle)
    angle = _fold90(_refine(_points(fam.fine), start, sw.step))
    conf = min(1.0, (sw.ratio - 1.0) / 4.0)
    return answer(SkewEstimate(float(angle), float(conf), method, None))


def _stronger_on_fine(ana: _Analysis, angles: tuple[float, float], step: float) -> float | None:
    """The refined angle of the two sweep peaks that scores clearly higher on the fine copy.

    ``None`` when neither beats the other by the factor ``1 / MAX_SECOND_PEAK``.  Angles are
    line directions in [-90, 90) of the unturned page.
    """
    pts = _points(ana.fine)
    refined = []
    for a in angles:
        # The sweep's angle of a peak it sampled only on its shoulder may be a few steps off:
        # climb to the best of the seven directions around it first.
        near = a + step * np.arange(-3, 4, dtype=np.float64)
        refined.append(_refine(pts, float(near[int(np.argmax(_scores(pts, near)))]), step))
    s0, s1 = (float(x) for x in _scores(pts, np.array(refined)))
    if s0 * MAX_SECOND_PEAK >= s1 and s1 * MAX_SECOND_PEAK >= s0:
        return None
    won = refined[0] if s0 > s1 else refined[1]
    return (won + 90.0) % 180.0 - 90.0


def _within(skew: SkewEstimate, max_angle: float) -> SkewEstimate:
    if skew.angle is not None and abs(skew.angle) > max_angle:
        return SkewEstimate(None, 0.0, "none", f"skew beyond max_angle={max_angle:g}")
    return skew


def _check_max_angle(max_angle: Any) -> float:
    return check_range(max_angle, "max_angle", 0.0, 45.0, lo_open=True)


def estimate_skew(image: Any, max_angle: float = 45.0, dpi: float | None = None) -> SkewEstimate:
    """Estimate the skew of a text page (see the module's sign convention).

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3), or a bool mask (True = ink).
    max_angle : float
        Largest residual skew answered, in degrees, in (0, 45] (default 45: any page).  The
        skew is measured modulo 90, so a page turned by a quarter turn gives its residual
        skew; a residual beyond ``max_angle`` gives ``angle=None``.
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
    return _within(_direction(_analyse(gray, _effective_dpi(gray, dpi, image))).skew, max_angle)


# --------------------------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------------------------


class _Verdict(NamedTuple):
    upright: bool | None  # None: abstain
    tail: float  # chance of a split at least this lopsided from coin flips
    split: bool  # enough votes, which disagree
    reason: str | None


def _up_or_down(votes: NDArray[np.float64]) -> _Verdict:
    """Upright or upside down from the text lines' up/down scores, or ``None`` (abstain)."""
    up, down = int(np.sum(votes > 0.15)), int(np.sum(votes < -0.15))
    n = up + down
    if n < MIN_ORIENTATION_LINES:
        return _Verdict(None, 1.0, False, f"too few text lines ({n}) to tell up from down")
    k_major = max(up, down)
    # The chance of a split at least this lopsided from coin flips: a page answers only when
    # it is small, so a chart or a card with a handful of text-like rows abstains.
    tail = _tail(up, down)
    # A short page (a few lines) may still answer when every line agrees clearly.
    unanimous = k_major == n >= MIN_UNANIMOUS_LINES and float(np.mean(np.abs(votes))) >= 0.5
    # Where the signs alone are not quite lopsided enough, their sizes may settle it: the
    # mean score over its standard error (a one-sample t statistic) must then be large too.
    sd = float(np.std(votes))
    t_stat = float(np.mean(votes)) / sd * math.sqrt(len(votes)) if sd > 0 else 0.0
    consistent = tail <= MAX_VOTE_TAIL_WITH_T and (t_stat if up > down else -t_stat) >= MIN_VOTE_T
    if tail > MAX_VOTE_TAIL and not unanimous and not consistent:
        return _Verdict(None, tail, True, f"text lines disagree on up and down ({up} vs {down})")
    return _Verdict(up > down, tail, False, None)


def _with_marks(
    votes: NDArray[np.float64], marks: NDArray[np.int64], verdict: _Verdict
) -> _Verdict:
    """The lines' votes that split, settled by the small marks above and below them.

    Answers only when the marks lean the same way as the majority of the lines with a
    coin-flip chance of at most ``MAX_MARK_TAIL``, and the marks and the lines counted
    together (each mark one vote) split with a chance of at most ``MAX_VOTE_TAIL``.
    """
    up, down = int(np.sum(votes > 0.15)), int(np.sum(votes < -0.15))
    m_up, m_down = int(marks[:, 0].sum()), int(marks[:, 1].sum())
    if up == down or m_up == m_down or (up > down) != (m_up > m_down):
        return verdict
    if _tail(m_up, m_down) > MAX_MARK_TAIL or _tail(up + m_up, down + m_down) > MAX_VOTE_TAIL:
        return verdict
    return _Verdict(up > down, _tail(up + m_up, down + m_down), False, None)


def _most_per_strip(lines: NDArray[np.float64]) -> int:
    """Largest number of lines found in one strip (:func:`_strip_votes`' third column)."""
    return int(np.bincount(lines[:, 2].astype(np.int64)).max()) if len(lines) else 0


def _tail(a: int, b: int) -> float:
    """One-sided chance that ``a + b`` coin flips split at least as lopsidedly as a to b."""
    n, k = a + b, max(a, b)
    if n <= 64:
        return sum(math.comb(n, j) for j in range(k, n + 1)) / float(1 << n)
    # Thousands of marks: sum the terms in log space (2.0**n overflows past n = 1023, and
    # the exact big-integer sum costs O(n^2)), stopping once they no longer count.
    log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2)
    top, total, j = log_term, 0.0, k
    while j <= n:
        total += math.exp(log_term - top)
        if log_term < top - 50.0:
            break
        log_term += math.log((n - j) / (j + 1)) if j < n else 0.0
        j += 1
    return min(1.0, math.exp(top) * total)


def _orientation_from(
    ana: _Analysis, max_angle: float, gray: NDArray[np.uint8], dpi_eff: float
) -> tuple[OrientationEstimate, SkewEstimate]:
    """Orientation and the skew left after fixing it (``None`` beyond ``max_angle``)."""
    found = _direction(ana)
    k, skew = found.quarter_turns, _within(found.skew, max_angle)
    if found.skew.angle is None:
        return OrientationEstimate(None, 0.0, found.skew.reason), found.skew

    def abstain(reason: str) -> tuple[OrientationEstimate, SkewEstimate]:
        # A residual skew of a page whose turn is unknown refers to no frame the caller has.
        s = skew if k == 0 else SkewEstimate(None, 0.0, "none", "page turned, orientation unknown")
        return OrientationEstimate(None, 0.0, reason), s

    if found.sweep.ratio < MIN_PEAK_RATIO or found.margin < PERPENDICULAR_MARGIN:
        return abstain("text-line direction unclear")
    binary = _detail_binary(gray, dpi_eff, k)
    detail = _points(binary)
    dpi_detail = dpi_eff / max(1, round(dpi_eff / DETAIL_DPI))
    window = max(9, round(0.4 * dpi_detail))
    verdict = _up_or_down(_strip_votes(detail, found.skew.angle, dpi_detail, window | 1)[:, 0])
    split = verdict.split
    if verdict.upright is None and verdict.split:
        # Votes that split may come from line ends with a handful of letters each (a short
        # page: "ương" of a name votes down, having only a descender).  Strips twice as wide
        # give each vote twice the letters; the same test then decides.
        votes = _strip_votes(detail, found.skew.angle, dpi_detail, window | 1, 2.0 * STRIP_MM)
        wide = _up_or_down(votes[:, 0])
        if wide.upright is not None:
            verdict = wide
    if verdict.upright is None:
        # Small serif text: the x-height line and the baseline print as two peaks of the
        # profile with a dip between them, and the band around the higher peak is cut to a
        # few pixels, so the line is not taken for text (a short page on coloured paper,
        # evalkit tuning hard s14).  Counted once more with the band from the first to the
        # last row above half of the peak.
        # A page of one or two lines still abstains: some strip must hold 3 lines.
        votes = _strip_votes(detail, found.skew.angle, dpi_detail, window | 1, outer_band=True)
        outer = _up_or_down(votes[:, 0])
        if outer.upright is not None and _most_per_strip(votes) >= MIN_ORIENTATION_LINES:
            verdict = outer
        elif split and _most_per_strip(votes) >= MIN_ORIENTATION_LINES:
            # Lines that still disagree (a short page: a title, a line, a name): the small
            # marks above and below their bands may settle it, counted with their votes.
            verdict = _with_marks(votes[:, 0], _mark_counts(binary, votes, dpi_detail), verdict)
    if verdict.upright is None:
        return abstain(verdict.reason or "")
    upright, tail = verdict.upright, verdict.tail
    rotation = (0 if upright else 180) if k == 0 else (270 if upright else 90)
    # Confidence: one minus that chance, scaled down when the lines barely beat the
    # direction across them.
    conf = (1.0 - tail) * min(1.0, found.margin - 1.0)
    return OrientationEstimate(rotation, float(conf), None), skew


#: Tesseract OSD orientation confidence below which its answer is not used.
MIN_OSD_CONFIDENCE = 2.0
#: Tesseract OSD confidence it needs to answer alone where the native test abstained.
MIN_OSD_SECOND_OPINION = 5.0


def _tesseract_osd(
    gray: NDArray[np.uint8], dpi_eff: float, timeout_s: float
) -> OrientationEstimate:
    """Tesseract's orientation and script detection (``--psm 0``) on a grey page."""
    exe = require_tool("tesseract", "tesseract-ocr")
    buf = io.BytesIO()
    dpi_i = max(70, min(2400, round(dpi_eff)))
    PILImage.fromarray(gray, "L").save(buf, format="PNG", dpi=(dpi_i, dpi_i))
    try:
        run = subprocess.run(
            [exe, "-", "-", "--psm", "0", "--dpi", str(dpi_i)],
            input=buf.getvalue(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"tesseract --psm 0 did not finish within {timeout_s:g} s") from exc
    out = run.stdout.decode("utf-8", "replace")
    err = run.stderr.decode("utf-8", "replace")
    if "Too few characters" in err:
        return OrientationEstimate(None, 0.0, "tesseract: too few characters")
    rot = re.search(r"^Rotate:\s*(\d+)", out, re.MULTILINE)
    conf = re.search(r"^Orientation confidence:\s*([0-9.]+)", out, re.MULTILINE)
    if run.returncode != 0 or rot is None or conf is None:
        raise OcrError(
            f"tesseract --psm 0 failed (exit {run.returncode}): {err.strip()[:200] or out[:200]}"
        )
    # Tesseract's "Rotate" is the counter-clockwise angle of the content (our convention),
    # checked against generated pages in tests/test_deskew.py.
    rotation, c = int(rot.group(1)) % 360, float(conf.group(1))
    if rotation not in (0, 90, 180, 270) or c < MIN_OSD_CONFIDENCE:
        return OrientationEstimate(None, 0.0, f"tesseract unsure (confidence {c:g})")
    return OrientationEstimate(rotation, min(1.0, c / 10.0), None)


def detect_orientation(
    image: Any,
    *,
    dpi: float | None = None,
    backend: Literal["native", "tesseract", "native+tesseract"] = "native",
    timeout_s: float = 60.0,
) -> OrientationEstimate:
    """Detect whether a text page is rotated by 0, 90, 180 or 270 degrees.

    See the module's sign convention: ``rotation`` is the counter-clockwise angle of the
    content; fix it with ``rotate(image, -rotation)``.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB, or a bool mask (True = ink).
    dpi : float, optional
        Resolution; defaults to the Page's dpi, else guessed from the size (A4 assumed).
    backend : {"native", "tesseract", "native+tesseract"}
        ``"native"`` (default) needs nothing but this library.  ``"tesseract"`` runs
        Tesseract's OSD (``tesseract --psm 0``, apt package tesseract-ocr with its ``osd``
        data), 25 to 55 times slower here; its confidence is Tesseract's divided by 10,
        capped at 1, and answers below 2 are ``None``.  ``"native+tesseract"`` asks
        Tesseract for a second opinion: where the native test abstains, Tesseract's answer
        is taken when its confidence reaches ``MIN_OSD_SECOND_OPINION``; where both answer
        and disagree, the answer is ``None``.
    timeout_s : float
        Time limit for the Tesseract process.

    Returns
    -------
    OrientationEstimate
        ``rotation=None`` with a reason on pages with fewer than three text lines, no clear
        line direction, or lines that disagree.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape, ``dpi`` outside [10, 4800], unknown ``backend``.
    InvalidImageError
        Empty image.
    MissingDependencyError
        ``backend="tesseract"`` without the ``tesseract`` program.
    OcrError
        Tesseract failed or timed out.

    Examples
    --------
    >>> import numpy as np
    >>> detect_orientation(np.zeros((50, 50), np.uint8)).rotation is None
    True
    """
    if backend not in ("native", "tesseract", "native+tesseract"):
        raise InvalidArgumentError(
            f"backend must be 'native', 'tesseract' or 'native+tesseract', got {backend!r}"
        )
    timeout = check_range(timeout_s, "timeout_s", 0.0, 3600.0, lo_open=True)
    gray = as_gray(image, allow_bool=True)
    dpi_eff = _effective_dpi(gray, dpi, image)
    if backend == "tesseract":
        if min(gray.shape) < 16:
            return OrientationEstimate(None, 0.0, "image too small to analyse")
        return _tesseract_osd(gray, dpi_eff, timeout)
    native = _orientation_from(_analyse(gray, dpi_eff), 45.0, gray, dpi_eff)[0]
    if backend == "native" or min(gray.shape) < 16:
        return native
    osd = _tesseract_osd(gray, dpi_eff, timeout)
    if native.rotation is None:
        if osd.rotation is not None and osd.confidence * 10.0 >= MIN_OSD_SECOND_OPINION:
            return osd
        return OrientationEstimate(
            None, 0.0, f"{native.reason}; tesseract: {osd.reason or 'unsure'}"
        )
    if osd.rotation is not None and osd.rotation != native.rotation:
        reason = f"native says {native.rotation}, tesseract says {osd.rotation}"
        return OrientationEstimate(None, 0.0, reason)
    return native


#: Height of the densest band of body-text lines, in inches, on administrative pages
#: (13-14 pt body text, NĐ 30/2020/NĐ-CP Phụ lục I): 30 pixels at 300 dpi on the evalkit
#: tuning pages (10th to 90th percentile 28 to 32); 13-pt generated pages read 0.85 to 1.03
#: times their true resolution.
CORE_HEIGHT_IN = 0.1
#: Fewest measured text lines for a resolution estimate.
MIN_RESOLUTION_LINES = 5


def estimate_resolution(image: Any) -> ResolutionEstimate:
    """Estimate the resolution of a text page from the height of its text lines.

    For pages whose file says nothing, or something implausible (phone photos say 72 dpi):
    the lines are found as for :func:`detect_orientation`, strip by strip, and the median
    height of their densest band is divided by :data:`CORE_HEIGHT_IN`.  Body text of
    another size scales the answer with it (10-pt body text reads as about 230 dpi at 300),
    which is what an OCR engine wants to know: how large the letters are.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey or RGB, or a bool mask (True = ink).  A Page's own dpi is ignored.

    Returns
    -------
    ResolutionEstimate
        ``dpi=None`` with a reason when fewer than :data:`MIN_RESOLUTION_LINES` text lines
        are found, or the answer is outside 50 to 2400 dpi.

    Raises
    ------
    InvalidArgumentError
        Wrong dtype or shape.
    InvalidImageError
        Empty image.

    Examples
    --------
    >>> import numpy as np
    >>> estimate_resolution(np.full((300, 200), 255, np.uint8)).dpi is None
    True
    """
    gray = as_gray(image, allow_bool=True)
    guess = _effective_dpi(gray, None, None)  # only sets how far the copies are reduced
    found = _direction(_analyse(gray, guess))
    if found.skew.angle is None:
        return ResolutionEstimate(None, None, 0, found.skew.reason)
    r = max(1, round(guess / DETAIL_DPI))
    dpi_detail = guess / r
    detail = _detail_points(gray, guess, found.quarter_turns)
    window = max(9, round(0.4 * dpi_detail))
    lines = _strip_votes(detail, found.skew.angle, dpi_detail, window | 1)
    if len(lines) < MIN_RESOLUTION_LINES:
        reason = f"too few text lines ({len(lines)}) to measure the text size"
        return ResolutionEstimate(None, None, len(lines), reason)
    core = float(np.median(lines[:, 1])) * r
    dpi = core / CORE_HEIGHT_IN
    if not 50.0 <= dpi <= 2400.0:
        reason = f"text size gives an implausible {dpi:.0f} dpi"
        return ResolutionEstimate(None, core, len(lines), reason)
    return ResolutionEstimate(dpi, core, len(lines), None)


def deskew(
    page_or_array: Any, *, max_angle: float = 45.0, dpi: float | None = None
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
    dpi_eff = _effective_dpi(gray, dpi, page)
    orient, skew = _orientation_from(_analyse(gray, dpi_eff), max_angle, gray, dpi_eff)
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
