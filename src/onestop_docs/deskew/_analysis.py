"""Private: the analysis behind :mod:`onestop_docs.deskew` (reduced copies, scores, votes).

Kernels live in ``src/_native/deskew.pyx``; everything here runs on validated input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .._native import cleanup_components as _cc  # type: ignore[attr-defined]
from .._native import deskew as _k  # type: ignore[attr-defined]
from .._native import gray as _g  # type: ignore[attr-defined]
from .._validate import check_range
from ..cleanup._threshold import _otsu_of_histogram
from ..imageio import Page

#: Resolution (dpi) of the reduced copy the fine skew search runs on.
ANALYSIS_DPI = 100.0
#: The coarse sweep scores at most this many ink pixels (a regular subsample).
SWEEP_POINTS = 12_000
#: The sweep's second pass also looks around first-pass directions scoring at least this
#: share of the best (at most ``SWEEP_HIGH_SAMPLES`` of them), not only around its maxima.
SWEEP_HIGH_SHARE = 0.8
SWEEP_HIGH_SAMPLES = 6
#: Resolution (dpi) of the copy whose line profiles tell up from down.
DETAIL_DPI = 150.0
#: Share of ink below which the page left after clearing a border is thresholded again.
MIN_TEXT_INK = 0.005
#: Minimum number of ink pixels on the fine copy.
MIN_INK_PIXELS = 150


class _Points(NamedTuple):
    xs: NDArray[np.int32]
    ys: NDArray[np.int32]
    shape: tuple[int, int]


def _reduce(gray: NDArray[np.uint8], r: int) -> NDArray[np.uint8]:
    h, w = gray.shape[0] // r, gray.shape[1] // r
    out = np.empty((h, w), np.uint8)
    _k.reduce_mean(gray, r, out, np.empty(max(1, w * r), np.uint32))
    return out


def _points(binary: NDArray[np.uint8]) -> _Points:
    """Ink (value 0) pixel coordinates of a 0/255 image."""
    xs = np.empty(binary.size, np.int32)  # untouched pages of memory cost nothing
    ys = np.empty(binary.size, np.int32)
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


def _flatten(red: NDArray[np.uint8], block: int = 32) -> NDArray[np.uint8]:
    """Divide out uneven illumination when the paper brightness varies across the page.

    The paper level is the brightest pixel of each ``block`` x ``block`` tile, spread to the
    3 x 3 neighbouring tiles (so a tile full of text still sees paper).  When it varies by
    less than 20 % the page is returned as is; otherwise each pixel becomes
    ``255 * value / paper``.  A global Otsu threshold on a page with a dark corner would
    otherwise make the corner one ink blob, and the border clean-up would erase its text.
    """
    h, w = red.shape
    bh, bw = h // block, w // block
    if bh < 2 or bw < 2:
        return red
    tiles = red[: bh * block, : bw * block].reshape(bh, block, bw, block).max(axis=(1, 3))
    pad = np.pad(tiles, 1, mode="edge")
    paper = np.max([pad[i : i + bh, j : j + bw] for i in range(3) for j in range(3)], axis=0)
    lo, hi = int(paper.min()), int(paper.max())
    if hi == 0 or lo >= 0.8 * hi:
        return red
    full = np.repeat(np.repeat(paper, block, axis=0), block, axis=1)
    full = np.pad(full, ((0, h - full.shape[0]), (0, w - full.shape[1])), mode="edge")
    out: NDArray[np.uint32] = red.astype(np.uint32) * 255 // np.maximum(full, 1).astype(np.uint32)
    return np.minimum(out, 255).astype(np.uint8)


def _reduced(gray: NDArray[np.uint8], r: int) -> NDArray[np.uint8]:
    """A private, evenly lit copy of ``gray`` reduced by ``r`` (the callers write into it)."""
    red = _flatten(_reduce(gray, r) if r > 1 else gray)
    return red.copy() if red is gray else red


def _histogram(red: NDArray[np.uint8]) -> NDArray[np.int64]:
    hist = np.zeros(256, np.int64)
    _g.histogram(red, hist)
    return hist


def _clear_border(red: NDArray[np.uint8], hist: NDArray[np.int64]) -> int:
    """Whiten the dark ink connected to the image edge; return the ink threshold (ink < it).

    A dark scanner border is a third grey level: Otsu's threshold of the whole image can fall
    between the border and everything else, where faded text (a level close to the paper's)
    is paper.  So when the border cleared at that threshold leaves almost no ink behind (less
    than ``MIN_TEXT_INK`` of the rest), the threshold is taken again on the rest alone, and
    the lighter fringe of the border that the new threshold makes ink is cleared too.  A
    photograph touching the edge leaves its other dark parts behind and keeps the first
    threshold.  ``hist`` is ``red``'s histogram.
    """
    stack = np.empty(red.size, np.int32)
    thr = _otsu_of_histogram(hist) + 1
    cleared = int(_k.clear_border(red, thr, stack))
    if cleared == 0:
        return thr
    left = _histogram(red)
    left[255] -= cleared
    rest = int(left.sum())
    if rest == 0 or int(left[:thr].sum()) >= MIN_TEXT_INK * rest or int(left[:255].sum()) == 0:
        return thr
    again = _otsu_of_histogram(left) + 1
    if again > thr:
        _k.clear_border(red, again, stack)
        thr = again
    return thr


#: Ink components larger than this (millimetres) both ways are not text: photos, stamps.
MAX_BLOB_MM = 15.0


def _clear_blobs(binary: NDArray[np.uint8], dpi: float) -> int:
    """Whiten the ink components of a 0/255 image larger than ``MAX_BLOB_MM`` both ways."""
    side = max(8, round(MAX_BLOB_MM / 25.4 * dpi))
    n = binary.size
    return int(_k.clear_blobs(binary, side, side, np.empty(n, np.int32), np.empty(n, np.int32)))


def _analyse(gray: NDArray[np.uint8], dpi_eff: float) -> _Analysis:
    r = max(1, int(dpi_eff // ANALYSIS_DPI))
    red = _reduced(gray, r)
    empty = np.full((1, 1), 255, np.uint8)
    if min(red.shape) < 16:
        return _Analysis(empty, empty, "image too small to analyse")
    hist = _histogram(red)
    levels = np.flatnonzero(hist)
    if levels[-1] - levels[0] < 48:
        return _Analysis(empty, empty, "no contrast (blank or uniform page)")
    thr = _clear_border(red, hist)
    fine = np.empty_like(red)
    n_ink = int(_k.binarize(red, thr, fine))
    if n_ink > 0.4 * fine.size:
        return _Analysis(empty, empty, "too much ink for a text page")
    n_ink -= _clear_blobs(fine, dpi_eff / r)
    if n_ink < MIN_INK_PIXELS:
        return _Analysis(empty, empty, "too little ink")
    # Coarse copy: a 2 x 2 block is ink when at least two of its pixels are.
    coarse = _reduce(fine, 2)
    _k.binarize(coarse, 160, coarse)
    if min(coarse.shape) < 8:
        coarse = fine
    return _Analysis(fine, coarse, None)


def _detail_binary(
    gray: NDArray[np.uint8], dpi_eff: float, quarter_turns: int
) -> NDArray[np.uint8]:
    """A ~150-dpi binary copy (0 = ink) turned by ``quarter_turns`` x 90 degrees.

    Up/down needs the x-height band resolved: at 100 dpi a 10-pt line has a 6-pixel band,
    which blur or JPEG can wash out.
    """
    r = max(1, round(dpi_eff / DETAIL_DPI))
    red = _reduced(gray, r)
    thr = _clear_border(red, _histogram(red))
    _k.binarize(red, thr, red)
    _clear_blobs(red, dpi_eff / r)
    if quarter_turns % 4:
        red = np.ascontiguousarray(np.rot90(red, quarter_turns))
    return red


def _detail_points(gray: NDArray[np.uint8], dpi_eff: float, quarter_turns: int) -> _Points:
    """Ink points of :func:`_detail_binary`."""
    return _points(_detail_binary(gray, dpi_eff, quarter_turns))


def _profile_len(shape: tuple[int, int]) -> int:
    """Bins of a projection profile of an image of ``shape`` (its diagonal, and a margin)."""
    return 2 * math.ceil(math.hypot(shape[0], shape[1]) / 2.0) + 8


def _buffer(shape: tuple[int, int]) -> NDArray[np.float64]:
    return np.empty(_profile_len(shape), np.float64)


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
    """Projection scores over a half turn: ``angles`` are ``-90 + i * step``, i < 2 * quarter."""

    angles: NDArray[np.float64]
    scores: NDArray[np.float64]
    best: int
    ratio: float  # best score over the median score
    quarter: int  # number of steps in 90 degrees

    @property
    def step(self) -> float:
        return 90.0 / self.quarter

    def peak_near(self, angle: float, half_width: float) -> float:
        """Highest score within ``half_width`` degrees of ``angle`` (modulo 180)."""
        d = (self.angles - angle + 90.0) % 180.0 - 90.0
        return float(self.scores[np.abs(d) <= half_width].max())


def _sweep(pts: _Points) -> _Sweep:
    """Score every line direction over a half turn (text lines and their perpendicular).

    Searching the whole half turn makes a phone capture held at 40 degrees and a page fed
    sideways two cases of one search; folding the answer modulo 90 gives the residual skew.
    """
    w = max(pts.shape[0], pts.shape[1], 8)
    # A step that moves the line ends by about 3 coarse pixels: the score peak is wider.
    step = min(0.5, max(0.1, math.degrees(math.atan(3.0 / w))))
    quarter = math.ceil(90.0 / step)
    angles = (np.arange(2 * quarter, dtype=np.float64) - quarter) * (90.0 / quarter)
    if len(pts.xs) > SWEEP_POINTS:
        # The sweep only has to find the peak: a regular subsample of a dense page is enough.
        k = -(-len(pts.xs) // SWEEP_POINTS)
        pts = _Points(pts.xs[::k].copy(), pts.ys[::k].copy(), pts.shape)
    # Two passes: every 4th direction first, then every direction within 3 steps of the three
    # highest maxima of that pass and of its directions within 80 % of its best score; the
    # directions in between are interpolated.  The foot of a text page's peak is wider than 4
    # steps, so the peak is never missed, and the work drops 3-fold.  Its tip may be narrower:
    # two line families a few degrees apart (a card pasted on a page) can make the page's
    # first-pass sample a shoulder of the card's peak, not a maximum, hence the 80 % rule.
    n = 2 * quarter
    first = np.arange(0, n, 4)
    sc = np.full(n, np.nan)
    sc[first] = _scores(pts, angles[first])
    c = sc[first]
    maxima = np.flatnonzero((c >= np.roll(c, 1)) & (c >= np.roll(c, -1)))
    high = np.argsort(c)[::-1][:SWEEP_HIGH_SAMPLES]
    high = high[c[high] >= SWEEP_HIGH_SHARE * c[high[0]]]
    top = np.union1d(maxima[np.argsort(c[maxima])[::-1][:3]], high)
    near = np.unique((first[top][:, None] + np.arange(-3, 4)[None, :]) % n)
    near = near[np.isnan(sc[near])]
    sc[near] = _scores(pts, angles[near])
    known = np.flatnonzero(~np.isnan(sc))
    # Circular linear interpolation of the directions not scored.
    xp = np.concatenate((known - n, known, known + n)).astype(np.float64)
    fp = np.concatenate((sc[known], sc[known], sc[known]))
    sc = np.interp(np.arange(n, dtype=np.float64), xp, fp)
    best = int(np.argmax(sc))
    med = float(np.median(sc))
    ratio = float(sc[best] / med) if med > 0 else 1.0
    return _Sweep(angles, sc, best, ratio, quarter)


def _fold90(angle: float) -> float:
    """``angle`` modulo 90, in [-45, 45)."""
    return (angle + 45.0) % 90.0 - 45.0


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


def _second_peak(sw: _Sweep) -> tuple[float, int]:
    """Highest other local maximum of the sweep over the best score, and its index.

    Maxima within 3 steps of the best direction or of its perpendicular do not count: the
    columns that characters stack into peak at 90 degrees from the lines and give the same
    skew modulo 90.  A sweep without another maximum gives ``(0.0, -1)``.
    """
    s, b, n = sw.scores, sw.best, len(sw.scores)
    q = sw.quarter
    best, at = 0.0, -1
    for i in range(n):
        d = min((i - b) % n, (b - i) % n)
        if d <= 3 or abs(d - q) <= 3:
            continue
        if s[i] >= s[i - 1] and s[i] >= s[(i + 1) % n] and s[i] > best:
            best, at = float(s[i]), i
    return best / float(s[b]), at


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


def _rot90(ana: _Analysis) -> _Analysis:
    """The analysis images turned 90 degrees counter-clockwise."""
    return _Analysis(
        np.ascontiguousarray(np.rot90(ana.fine)), np.ascontiguousarray(np.rot90(ana.coarse)), None
    )


def _line_votes(
    prof: NDArray[np.float64], window: int, outer_band: bool = False
) -> NDArray[np.float64]:
    """Up/down score and core-band height of each text line in a deskewed profile.

    Returns an (n, 6) array: the score in [-1, 1] (positive: upright), the height in bins
    of the line's densest band, and the bins where the line starts, its band starts, its band
    ends (exclusive) and the line ends (exclusive).  Lines are the runs of the profile above 5 % of its 95th percentile; runs separated by a
    gap under a quarter of the typical run height are one line (a row of tone marks over
    capitals is often detached).  In each line the densest band (x-height band, or cap band
    for capitals) is the contiguous stretch around the line's maximum that stays above half
    of it.  Then the ink above the band (ascenders, capitals and, in Vietnamese, most tone
    marks, the circumflex and the breve) is compared with the ink below it (descenders and
    the dot below): upright Latin-script text has clearly more above; the score is
    ``(above - below) / (above + below)``.

    A running minimum over ``window`` bins (about 10 mm, more than a line pitch) is removed
    first: shading that Otsu turned into ink (uneven light, a dark corner) adds a smooth
    pedestal that would join all lines into one.
    """
    if len(prof) > window:
        pad = np.pad(prof, window // 2, mode="edge")
        prof = prof - np.lib.stride_tricks.sliding_window_view(pad, window).min(axis=1)[: len(prof)]
    nz = prof[prof > 0]
    if nz.size == 0:
        return np.zeros((0, 6))
    p95 = float(np.percentile(nz, 95))
    on = np.concatenate(([0], (prof > 0.05 * p95).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(on))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]
    if not runs:
        return np.zeros((0, 6))
    gap = max(1.0, 0.25 * float(np.median([b - a for a, b in runs])))
    lines = [runs[0]]
    for a, b in runs[1:]:
        if a - lines[-1][1] <= gap:
            lines[-1][1] = b
        else:
            lines.append([a, b])
    # Each line: (core height, line height, share of the ink in the core, up/down score,
    # then the bins where the line starts, its core band starts and ends and the line ends).
    found: list[tuple[int, int, float, float, int, int, int, int]] = []
    for a, b in lines:
        seg = prof[a:b]
        if b - a < 3 or seg.max() < 0.2 * p95:
            continue
        m = int(np.argmax(seg))
        half = 0.5 * float(seg[m])
        lo, hi = m, m + 1
        while lo > 0 and seg[lo - 1] >= half:
            lo -= 1
        while hi < len(seg) and seg[hi] >= half:
            hi += 1
        if outer_band:
            # Serif text at a small size: the x-height line and the baseline are two peaks
            # with a dip between them below half the higher one; the band then runs from the
            # first to the last row above half.
            above_half = np.flatnonzero(seg >= half)
            lo, hi = int(above_half[0]), int(above_half[-1]) + 1
        above, below = float(seg[:lo].sum()), float(seg[hi:].sum())
        core = float(seg[lo:hi].sum())
        s = (above - below) / (above + below + 1e-9)
        found.append(
            (hi - lo, b - a, core / (core + above + below + 1e-9), s, a, a + lo, a + hi, b)
        )
    # Only rows shaped like text vote: a core band of at least 3 pixels holding a good part
    # of the ink, not dwarfed by what sticks out, and of the page's usual height.  A chart's
    # grid lines and curves, a photo or a rule would otherwise cast random votes.
    textlike = [f for f in found if f[0] >= 3 and f[2] >= 0.35 and f[1] <= 4 * f[0]]
    if not textlike:
        return np.zeros((0, 6))
    med = float(np.median([f[0] for f in textlike]))
    kept = [(f[3], f[0], *f[4:]) for f in textlike if 0.5 * med <= f[0] <= 2.0 * med]
    return np.array(kept, dtype=np.float64).reshape(-1, 6)


#: Width of the strips whose lines vote on up and down, in millimetres.
STRIP_MM = 40.0


def _strip_votes(
    pts: _Points,
    angle_deg: float,
    dpi: float,
    window: int,
    strip_mm: float = STRIP_MM,
    outer_band: bool = False,
) -> NDArray[np.float64]:
    """Up/down scores and core heights (:func:`_line_votes`) of the text lines, strip by strip.

    Returns an (n, 8) array: score, core height, the index of the strip the line is in, the
    line's start, band start, band end and end (profile bins, see :func:`_line_votes`) and
    the strip's angle in degrees.

    The page is cut into vertical strips about ``strip_mm`` wide, and each strip finds its own
    angle within 3 degrees of ``angle_deg``: the lines of a phone capture (perspective), a
    curled page or two columns side by side do not line up across the whole page, and one
    profile of all of them smears the bands the vote reads.
    """
    edges = _strip_edges(pts.shape[1], dpi, strip_mm)
    n = len(edges) - 1
    grid = angle_deg + np.arange(-12, 13, dtype=np.float64) * 0.25
    out = [np.zeros((0, 8))]
    for i in range(n):
        sel = (pts.xs >= edges[i]) & (pts.xs < edges[i + 1])
        if int(sel.sum()) < 50:
            continue
        sub = _Points(
            np.ascontiguousarray(pts.xs[sel]), np.ascontiguousarray(pts.ys[sel]), pts.shape
        )
        local = float(grid[int(np.argmax(_scores(sub, grid)))])
        votes = _line_votes(_profile(sub, local), window, outer_band)
        idx, ang = np.full(len(votes), float(i)), np.full(len(votes), local)
        out.append(np.column_stack([votes[:, :2], idx, votes[:, 2:], ang]))
    return np.concatenate(out)


def _strip_edges(width: int, dpi: float, strip_mm: float) -> NDArray[np.float64]:
    """Column edges of the vertical strips about ``strip_mm`` wide (at most 8)."""
    n = max(1, min(8, round(width / (dpi * strip_mm / 25.4))))
    return np.linspace(0.0, float(width), n + 1)


def _mark_counts(
    binary: NDArray[np.uint8], lines: NDArray[np.float64], dpi: float, strip_mm: float = STRIP_MM
) -> NDArray[np.int64]:
    """Small marks detached above and below the core band of each text line.

    ``lines`` is :func:`_strip_votes`' answer on the ink of ``binary`` (0 = ink).  Returns an
    (n, 2) array: per line, the number of small ink components (at most ``MAX_MARK_SHARE`` of
    the core band's height both ways, at least ``MIN_MARK_AREA`` pixels) lying wholly within
    one core height above its band, and wholly within one core height below it.  Each
    component counts for the line of its strip whose band is nearest.  Vietnamese puts its
    tone marks, the circumflex, the breve and the dots of i and j above the band and only the
    dot below under it, so upright text has many more marks above; upside down, below.  The
    two zones are the same size, so specks of dust fall in either alike.
    """
    out = np.zeros((len(lines), 2), np.int64)
    if len(lines) == 0:
        return out
    h, w = binary.shape
    _, _, _, _, area, bx0, by0, bx1, by1 = _cc.label_runs((binary == 0).view(np.uint8))
    bw, bh = (bx1 - bx0).astype(np.float64), (by1 - by0).astype(np.float64)
    small = (np.maximum(bw, bh) <= MAX_MARK_SHARE * float(np.max(lines[:, 1]))) & (
        area >= MIN_MARK_AREA
    )
    xc = ((bx0 + bx1 - 1) / 2.0)[small]
    yc = ((by0 + by1 - 1) / 2.0)[small]
    bw, bh = bw[small], bh[small]
    edges = _strip_edges(w, dpi, strip_mm)
    m = _profile_len((h, w))
    for i in np.unique(lines[:, 2]).astype(np.int64):
        rows = np.flatnonzero(lines[:, 2] == i)
        sel = (xc >= edges[i]) & (xc < edges[i + 1])
        t = math.radians(float(lines[rows[0], 7]))
        sn, cs = math.sin(t), math.cos(t)
        p = (xc[sel] - (w - 1) / 2.0) * sn + (yc[sel] - (h - 1) / 2.0) * cs + math.floor(m / 2.0)
        e = ((bh[sel] - 1.0) * abs(cs) + (bw[sel] - 1.0) * abs(sn)) / 2.0
        size = np.maximum(bw[sel], bh[sel])
        lo, hi, core = lines[rows, 4] - 0.5, lines[rows, 5] - 0.5, lines[rows, 1]
        nearest = np.argmin(np.abs(p[:, None] - (lo + hi)[None, :] / 2.0), axis=1)
        lo, hi, core = lo[nearest], hi[nearest], core[nearest]
        fits = size <= MAX_MARK_SHARE * core
        above = fits & (p + e < lo) & (p - e >= lo - core)
        below = fits & (p - e > hi) & (p + e <= hi + core)
        out[rows, 0] = np.bincount(nearest[above], minlength=len(rows))
        out[rows, 1] = np.bincount(nearest[below], minlength=len(rows))
    return out


#: Largest mark, as a share of the line's core band height (both ways).
MAX_MARK_SHARE = 0.7
#: Smallest mark, in pixels of the ~150-dpi copy (a single pixel is noise).
MIN_MARK_AREA = 4
