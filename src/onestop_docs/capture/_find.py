"""Finding the sheet in a phone photo: :func:`find_page` and its edge search (private;
import from :mod:`onestop_docs.capture`)."""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .._morph import dilate3x3
from .._native import cleanup_components as _cc  # type: ignore[attr-defined]
from .._native import dedup_key as _k  # type: ignore[attr-defined]
from .._validate import as_gray

Status = Literal["ok", "full-frame", "no-page", "incomplete", "two-pages", "blank"]

#: Paper sizes (name, width mm, height mm) the aspect of a found sheet is snapped to.  A4
#: and A5 share the aspect sqrt(2): a sheet of that aspect is taken to be A4 unless the
#: caller names the paper.
PAPER_MM: dict[str, tuple[float, float]] = {
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "Letter": (215.9, 279.4),
    "Legal": (215.9, 355.6),
}

_DETECT_SIDE = 640  # the photo is searched at about this long side
_MIN_AREA = 0.08  # a sheet covers at least 8 % of the frame
_SNAP = 0.06  # aspect within 6 % of a paper size snaps to it
_RING = 3  # rows and columns next to the frame where the sheet is checked for touching it
_EDGE_STEP = 6.0  # grey step per pixel (after a 3 x 3 blur) that ends the smooth sheet
_SIDE_SEARCH = 0.42  # each side's edge is searched in this share of the frame next to it
_SIDE_SLOPE = 0.25  # largest slope of a side's edge against the frame side (14 degrees)
_SLOPE_STEPS = 33  # slopes tried per offset
_SIDE_SAMPLES = (0.25, 0.75)  # a side's edge is measured along this middle share of the frame
_EDGE_MIN = 1.5  # smallest mean colour step (sum over channels, per pixel) of a sheet edge
_EDGE_NOISE = 2.2  # ... and this many times the profile's quiet level
_MARGIN_TEXTURE = 2.5  # mean |gradient| (sum of channels) above which a band holds text
_STEP_BAND = (3, 9)  # rows on either side of an edge compared for the step test
_STEP_MIN = 3.0  # the colour either side of a sheet edge differs by this much (sum of channels)
_REFINE_SPAN = 0.04  # a side's line is refitted over the frame but this share at either end
_REFINE_WINDOW = 3  # ... to gradient peaks within this many pixels of the searched line
_REFINE_MIN = 24  # ... from at least this many columns
_REFINE_INLIERS = 0.6  # share of the middle columns that must follow a side's line
_GRAZE = 4.0  # a candidate line this much weaker than an edge just inside it grazes that edge
_HUG = 0.09  # an unseen side may be inferred within this share of the frame from its side
_CUT_OFF = 0.25  # a sheet's corner may lie this share of the frame outside it ("incomplete")
_STEP_SAMPLES = 0.3  # share of an edge's samples whose step band must lie inside the frame
_FAINT_MIN = 1.25  # a faint side candidate: mean colour step at least this (sum of channels)
_FAINT_NOISE = 2.0  # ... and this many times the profile's quiet level
_FAINT_STEP = 1.0  # ... with the colour either side differing by this much
_FAINT_KEEP = 3  # outermost faint candidates kept per side
_FAINT_ASPECT = 0.08  # a sheet with faint sides is within this (log) of a paper aspect
_FAINT_MAX = 2.0  # a candidate this many times above the limit is no faint edge
_FAINT_PARALLEL = math.radians(5.0)  # ... and its opposite sides are this close to parallel


@dataclass(frozen=True)
class PageQuad:
    """:func:`find_page` result.

    Attributes
    ----------
    status : str
        ``"ok"`` (a sheet with background around it), ``"full-frame"`` (the paper fills the
        frame: a scan or screenshot, nothing to rectify), ``"no-page"``, ``"incomplete"``
        (the sheet is cut off by the frame) or ``"two-pages"``.
    corners : numpy.ndarray or None
        4 x 2 float (x, y) in input pixels: top-left, top-right, bottom-right, bottom-left
        of the sheet as it will be turned upright (portrait).  Also set for
        ``"incomplete"`` when the sheet's sides cross the frame (the corners outside it
        are their crossings).
    area_fraction : float
        Sheet area / frame area (0 when no sheet).
    reason : str or None
        Why the status is not ``"ok"``.
    """

    status: Status
    corners: NDArray[np.float64] | None = field(repr=False)
    area_fraction: float
    reason: str | None = None


def _otsu(hist: NDArray[np.int64]) -> int:
    p = hist.astype(np.float64) / max(1, int(hist.sum()))
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    denom = omega * (1 - omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.where(denom > 0, (mu[-1] * omega - mu) ** 2 / denom, 0.0)
    return int(np.argmax(between))


def _fit_line(pts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    # Total least squares: a point on the line and its unit normal.
    c = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - c, full_matrices=False)
    return c, vt[1]


def _intersect(
    l1: tuple[NDArray[np.float64], NDArray[np.float64]],
    l2: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> NDArray[np.float64] | None:
    (c1, n1), (c2, n2) = l1, l2
    a = np.array([n1, n2])
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    return np.asarray(np.linalg.solve(a, [n1 @ c1, n2 @ c2]), np.float64)


def _corners(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    ys, xs = np.nonzero(mask)
    pts = np.column_stack([xs, ys]).astype(np.float64)
    c = pts.mean(axis=0)
    cov = np.cov((pts - c).T)
    _, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]  # the long side of the sheet
    theta = math.atan2(major[1], major[0]) - math.pi / 2  # tilt of the long side from vertical
    theta = (theta + math.pi / 2) % math.pi - math.pi / 2
    cs, sn = math.cos(theta), math.sin(theta)
    rot = np.array([[cs, sn], [-sn, cs]])
    q = (pts - c) @ rot.T  # sheet upright: x across, y along the long side
    order = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        order.append(int(np.argmax(sx * q[:, 0] + sy * q[:, 1])))
    corners = pts[order]
    # Refine: a line through the boundary points of each side (between its corners, away
    # from them: fingers and dog-ears sit at corners), corners = adjacent lines' crossings.
    edge = mask & ~(
        np.pad(mask, 1)[2:, 1:-1]
        & np.pad(mask, 1)[:-2, 1:-1]
        & np.pad(mask, 1)[1:-1, 2:]
        & np.pad(mask, 1)[1:-1, :-2]
    )
    ey, ex = np.nonzero(edge)
    bpts = np.column_stack([ex, ey]).astype(np.float64)
    lines = []
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        d = b - a
        length = float(np.hypot(*d))
        if length < 4:
            return corners
        t = ((bpts - a) @ d) / (length * length)
        dist = np.abs((bpts - a) @ np.array([-d[1], d[0]]) / length)
        sel = bpts[(t > 0.15) & (t < 0.85) & (dist < max(3.0, 0.03 * length))]
        if len(sel) < 10:
            return corners
        lines.append(_fit_line(sel))
    refined = []
    for i in range(4):
        p = _intersect(lines[i - 1], lines[i])
        if p is None or np.hypot(*(p - corners[i])) > 0.1 * max(mask.shape):
            return corners
        refined.append(p)
    return np.array(refined)


_TWO_SHEETS = np.zeros((1, 1), bool)  # _sheet_mask's answer for two sheet-sized holes


def _sheet_mask(small: NDArray[np.uint8]) -> NDArray[np.bool_] | None:
    # Paper is the smooth region around the middle of the photo: smooth because lighting
    # changes slowly while the sheet's border is a step.  Text inside leaves holes, which
    # are filled.
    f = small.astype(np.float32)
    blur = (
        f[:-2, :-2]
        + f[:-2, 1:-1]
        + f[:-2, 2:]
        + f[1:-1, :-2]
        + f[1:-1, 1:-1]
        + f[1:-1, 2:]
        + f[2:, :-2]
        + f[2:, 1:-1]
        + f[2:, 2:]
    ) / 9.0
    gy = np.abs(blur[2:, 1:-1] - blur[:-2, 1:-1])
    gx = np.abs(blur[1:-1, 2:] - blur[1:-1, :-2])
    # The 2-pixel frame ring has no gradient: count it as edge so that it does not join
    # the background to a sheet that runs out of the frame.
    edge = np.ones(small.shape, bool)
    edge[2:-2, 2:-2] = np.maximum(gx, gy) > _EDGE_STEP
    edge[1:] |= edge[:-1].copy()
    edge[:, 1:] |= edge[:, :-1].copy()
    smooth = np.ascontiguousarray(~edge, np.uint8)
    ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1 = _cc.label_runs(smooth)
    if area.size == 0:
        return None
    h, w = small.shape
    labels = np.full((h, w), -1, np.int32)
    for y, a, b, lab in zip(ry, rx0, rx1, rlab):
        labels[y, a:b] = lab
    # The sheet is the smooth region covering most of the middle of the photo.
    mid = labels[2 * h // 5 : 3 * h // 5, 2 * w // 5 : 3 * w // 5]
    mid = mid[mid >= 0]
    if mid.size == 0:
        return None
    mask = labels == int(np.bincount(mid).argmax())
    # Fill holes: what is not the sheet and does not reach the frame.
    rest = np.ascontiguousarray(~mask, np.uint8)
    ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1 = _cc.label_runs(rest)
    outer = (bx0 <= _RING) | (by0 <= _RING) | (bx1 >= w - _RING) | (by1 >= h - _RING)
    big = np.nonzero(~outer & (area >= _MIN_AREA * h * w))[0]
    if len(big) >= 1:
        # sheets are brighter than the background around them; text blocks are darker
        # than the paper around them
        lab_img = np.full((h, w), -1, np.int32)
        for y, a, b, lab_ in zip(ry, rx0, rx1, rlab):
            lab_img[y, a:b] = lab_
        around = float(small[mask].mean())
        big = np.array([k for k in big if float(small[lab_img == k].mean()) > around + 25])
    if len(big) >= 1 and mask[_RING].mean() > 0.5 and mask[-_RING - 1].mean() > 0.5:
        # The middle is background around sheet-sized holes: those are the sheets.
        if len(big) >= 2:
            return _TWO_SHEETS
        mask = np.zeros((h, w), bool)
        sel = rlab == big[0]
        outer[big[0]] = True
    else:
        sel = ~outer[rlab]
    for y, a, b in zip(ry[sel], rx0[sel], rx1[sel]):
        mask[y, a:b] = True
    if len(big) == 1 and not mask.all():
        # holes of the sheet itself (its text) are filled as well
        inner = np.ascontiguousarray(~mask, np.uint8)
        ry, rx0, rx1, rlab, _, bx0, by0, bx1, by1 = _cc.label_runs(inner)
        hole = ~((bx0 == 0) | (by0 == 0) | (bx1 == w) | (by1 == h))[rlab]
        for y, a, b in zip(ry[hole], rx0[hole], rx1[hole]):
            mask[y, a:b] = True
    # The gradient band (3 x 3 blur, central differences) excluded two pixels of the
    # sheet's rim: give them back.
    return dilate3x3(mask, 2)


def _two_sheets(small: NDArray[np.uint8], mask: NDArray[np.bool_]) -> bool:
    # Two sheets side by side merge into one smooth region only through a shadowed gap;
    # a deep, narrow valley of the column (or row) fill profile across the middle says so.
    for prof in (mask.sum(axis=0).astype(np.float64), mask.sum(axis=1).astype(np.float64)):
        nz = np.nonzero(prof > 0)[0]
        if nz.size < 20:
            continue
        a, b = nz[0], nz[-1] + 1
        inner = prof[a:b]
        n = inner.size
        mid = inner[n // 4 : 3 * n // 4]
        if mid.size and mid.min() < 0.35 * np.median(inner):
            return True
    return False


def _reduce_rgb(rgb: NDArray[np.uint8], f: int) -> NDArray[np.float32]:
    h, w = rgb.shape[0] // f, rgb.shape[1] // f
    out = np.empty((h, w, rgb.shape[2]), np.float32)
    plane = np.empty((h, w), np.uint8)
    for ch in range(rgb.shape[2]):
        _k.reduce_mean(np.ascontiguousarray(rgb[:, :, ch]), f, plane)
        out[:, :, ch] = plane
    return out


class _SideSearch(NamedTuple):
    """What :func:`_side_edge` saw along one side of the frame."""

    line: tuple[float, float] | None  # the sheet's edge (offset at the centre, slope)
    # faint candidates, not yet polished (_polish_edge): (offset, slope, evidence, colour
    # step across the line)
    weak: list[tuple[float, float, float, NDArray[np.float32]]]


@functools.lru_cache(maxsize=2)
def _search_grid(
    h: int, w: int
) -> tuple[
    NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.int32], NDArray[np.int32]
]:
    # The lines _side_edge scores in an h x w view, the same for every photo of that size
    # (two entries: both orientations of one size): sample columns, offsets at the centre,
    # slopes, rows of each (offset, slope, sample) and their flat indices into the view.
    xs = np.linspace(_SIDE_SAMPLES[0] * w, _SIDE_SAMPLES[1] * w, 64)
    xc = (w - 1) / 2
    xi = np.rint(xs).astype(np.intp)
    y0 = np.arange(2, max(3, int(_SIDE_SEARCH * h)))
    slopes = np.linspace(-_SIDE_SLOPE, _SIDE_SLOPE, _SLOPE_STEPS)
    yy = np.rint(y0[:, None, None] + slopes[None, :, None] * (xs - xc)[None, None, :])
    yy = np.clip(yy, 0, h - 1).astype(np.int32)
    flat = (yy * w + xi.astype(np.int32)).astype(np.int32)
    for a in (xi, y0, slopes, yy, flat):
        a.setflags(write=False)
    return xi, y0, slopes, yy, flat


def _side_edge(view: NDArray[np.float32], grad: NDArray[np.float32]) -> _SideSearch:
    # The sheet's edge along the top of ``view``: the outermost straight line, nearly
    # parallel to the frame side, across which the colour steps consistently along the
    # middle of the frame (the background holds no such line; text rows inside the sheet
    # come later, and a thin dark row is not a step).  Lines outside the text that fail
    # only the strength, step or refit tests (white paper on a white table: a step of 1-3
    # grey levels) are kept as faint candidates, for _edge_quad to polish over the whole
    # frame and choose among with the paper's aspect.
    h, w, nch = view.shape
    gain = 3.0 / nch  # limits are for the sum over three colour channels
    xi, y0, slopes, yy, flat = _search_grid(h, w)
    lo, hi = _STEP_BAND
    samples = np.take(np.ascontiguousarray(grad).reshape(-1, nch), flat, axis=0)
    score = gain * np.abs(samples.mean(axis=2)).sum(axis=-1)  # (offsets, slopes)
    best = score.max(axis=1)
    quiet = float(np.percentile(best, 5))
    limit = max(_EDGE_MIN, _EDGE_NOISE * quiet)
    faint = max(_FAINT_MIN, _FAINT_NOISE * quiet)
    weak: list[tuple[float, float, float, NDArray[np.float32]]] = []
    for k in range(2, best.size - 2):
        if best[k] < faint or best[k] < best[k - 2 : k + 3].max():
            continue
        s = int(np.argmax(score[k]))
        rows = yy[k, s]
        # Rows either side of the edge; an edge close to the frame (a sheet running out of
        # the photo at a corner) keeps the samples whose band lies inside the frame.
        out_rows = rows[:, None] - np.arange(lo, hi)[None, :]
        in_rows = rows[:, None] + np.arange(lo, hi)[None, :]
        inside = (out_rows.min(axis=1) >= 0) & (in_rows.max(axis=1) < h)
        if np.count_nonzero(inside) < _STEP_SAMPLES * rows.size:
            continue
        cols = xi[inside, None]
        above = view[out_rows[inside], cols].mean(axis=(0, 1))
        below = view[in_rows[inside], cols].mean(axis=(0, 1))
        step = gain * float(np.abs(above - below).sum())
        if step < _FAINT_STEP:
            continue  # a thin line (a rule, a text row), not the sheet's edge
        # sub-pixel offset from the parabola through the peak
        a, b, c = best[k - 1], best[k], best[k + 1]
        den = a - 2 * b + c
        off = float(y0[k]) + (0.5 * (a - c) / den if den < 0 else 0.0)
        line = None
        if best[k] >= limit and step >= _STEP_MIN:
            line = _refine_edge(grad, below - above, off, float(slopes[s]))
        # A sheet has a blank margin inside its edge; the edge of a text block (a scan's
        # paper filling the frame) has text right behind it.
        band = np.arange(lo, 2 * hi)
        inner = grad[np.clip(rows[:, None] + band[None, :], 0, h - 1), xi[:, None]]
        tex_in = gain * np.abs(inner).sum(axis=-1).mean(axis=1)  # per sample along the edge
        if (
            float(tex_in.mean()) > _MARGIN_TEXTURE
            or float(np.mean(tex_in > 2 * _MARGIN_TEXTURE)) > 0.05
        ):
            if line is None and best[k + 1 : k + 4 * hi].max() > _GRAZE * best[k]:
                continue  # a line grazing the corner of a much stronger edge behind it
            break  # text reached: the sheet's edge, if any, is outside the frame
        if line is not None:
            return _SideSearch(line, weak)
        if best[k] > _FAINT_MAX * limit and step >= _STEP_MIN:
            continue  # a strong step that is not straight (a scanner border's ragged edge)
        if len(weak) < _FAINT_KEEP:
            weak.append((off, float(slopes[s]), best[k] / faint, below - above))
    return _SideSearch(None, weak)


def _polish_edge(
    grad: NDArray[np.float32], step: NDArray[np.float32], off: float, slope: float
) -> tuple[float, float]:
    # A faint edge is too noisy for the per-column refit: move the line (a quarter pixel,
    # a fraction of the slope grid) to where the mean gradient across it, projected on its
    # colour step and taken over the whole frame but its ends, is largest.
    h, w, _ = grad.shape
    xc = (w - 1) / 2
    unit = step / max(float(np.linalg.norm(step)), 1e-6)
    proj = np.abs(grad @ unit)
    xs = np.arange(round(_REFINE_SPAN * w), round((1 - _REFINE_SPAN) * w))
    offs = off + np.arange(-6, 7) * 0.25
    sls = slope + np.arange(-4, 5) * (2 * _SIDE_SLOPE / (_SLOPE_STEPS - 1)) / 4
    ys = offs[:, None, None] + sls[None, :, None] * (xs - xc)[None, None, :]
    keep = (ys >= 0) & (ys <= h - 2)
    y0 = np.clip(np.floor(ys), 0, h - 2).astype(np.intp)
    fy = np.clip(ys - y0, 0.0, 1.0)
    vals = (1 - fy) * proj[y0, xs] + fy * proj[y0 + 1, xs]
    mean = np.where(keep, vals, 0.0).sum(axis=2) / np.maximum(keep.sum(axis=2), 1)
    i, j = np.unravel_index(int(np.argmax(mean)), mean.shape)
    return float(offs[i]), float(sls[j])


def _refine_edge(
    grad: NDArray[np.float32], step: NDArray[np.float32], off: float, slope: float
) -> tuple[float, float] | None:
    # The search grid's slope step (1/64) moves a corner by up to half a percent of the
    # frame: refit the line to the sub-pixel gradient peak of every column near it (the
    # gradient projected on the colour step across the edge), trimming columns that do
    # not follow it (past a corner, under a shadow's edge).  None when most columns of the
    # middle of the frame do not follow it: a line across the frame that only grazes an
    # edge (a sheet's corner) or a shadow is not a side.
    h, w, _ = grad.shape
    xc = (w - 1) / 2
    xs = np.arange(round(_REFINE_SPAN * w), round((1 - _REFINE_SPAN) * w))
    ys = off + slope * (xs - xc)
    win = np.arange(-_REFINE_WINDOW, _REFINE_WINDOW + 1)
    keep = (ys >= _REFINE_WINDOW + 1) & (ys < h - _REFINE_WINDOW - 2)
    xs, ys = xs[keep], ys[keep]
    if xs.size < _REFINE_MIN:
        return None
    unit = step / max(float(np.linalg.norm(step)), 1e-6)
    rows = np.rint(ys).astype(np.intp)[:, None] + win[None, :]
    # (columns, window); absolute: the flipped views carry the gradient of the unflipped
    # image
    vals = np.abs(grad[rows, xs[:, None]] @ unit)
    j = np.clip(np.argmax(vals, axis=1), 1, win.size - 2)
    i = np.arange(xs.size)
    a, b, c = vals[i, j - 1], vals[i, j], vals[i, j + 1]
    den = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        sub = np.where(den < 0, 0.5 * (a - c) / den, 0.0)
    y = rows[i, j] + np.clip(sub, -0.5, 0.5)
    use = b > 0.5 * float(np.median(b))
    o, sl = off, slope
    strong = use
    for tol in (2.0, 1.0, 1.0):
        if np.count_nonzero(use) < _REFINE_MIN:
            return None
        sl, o = np.polyfit(xs[use] - xc, y[use], 1)
        use = strong & (np.abs(y - (o + sl * (xs - xc))) < tol)
    middle = (xs >= _SIDE_SAMPLES[0] * w) & (xs <= _SIDE_SAMPLES[1] * w)
    if np.count_nonzero(use & middle) < _REFINE_INLIERS * max(1, int(np.count_nonzero(middle))):
        return None
    if abs(o - off) > 2.0 or abs(sl - slope) > 0.03:
        return None
    return float(o), float(sl)


def _edge_quad(small: NDArray[np.float32]) -> tuple[NDArray[np.float64] | None, bool]:
    # Four side lines from _side_edge, intersected: corners TL, TR, BR, BL (x, y), and
    # whether one side was inferred (not seen).
    h, w, _ = small.shape
    pad = np.pad(small, ((1, 1), (1, 1), (0, 0)), mode="edge")
    blur: NDArray[np.float32] = np.zeros_like(small)
    for i in range(3):
        for j in range(3):
            blur += pad[i : i + h, j : j + w]
    blur /= 9.0
    gy = np.zeros_like(blur)
    gy[1:-1] = (blur[2:] - blur[:-2]) / 2
    gx = np.zeros_like(blur)
    gx[:, 1:-1] = (blur[:, 2:] - blur[:, :-2]) / 2
    t, gt = small.transpose(1, 0, 2), gx.transpose(1, 0, 2)
    views = ((small, gy), (small[::-1], gy[::-1]), (t, gt), (t[::-1], gt[::-1]))
    found: list[_SideSearch] = []
    for view, grad in views:
        found.append(_side_edge(view, grad))
        if sum(e.line is None and not e.weak for e in found) > 1:
            # two sides with nothing at all (a scan: text right inside the frame on
            # every side): no sheet, whatever the other sides hold
            return None, False
    missing = [i for i, e in enumerate(found) if e.line is None]
    if len(missing) > 3:
        return None, False
    xc, yc = (w - 1) / 2, (h - 1) / 2

    def line(i: int, o: float, sl: float) -> tuple[Any, Any]:
        p, d = (
            ((xc, o), (1.0, sl)),
            ((xc, h - 1 - o), (1.0, -sl)),
            ((o, yc), (sl, 1.0)),
            ((w - 1 - o, yc), (-sl, 1.0)),
        )[i]
        n = np.array([-d[1], d[0]], np.float64)
        return np.array(p, np.float64), n / np.hypot(*n)

    seen: list[tuple[Any, Any] | None] = [
        None if e.line is None else line(i, *e.line) for i, e in enumerate(found)
    ]
    if not missing:
        return _crossings(seen), False
    # Each missing side is one of its faint candidates or, for one side at most, unseen
    # (inferred from the A4 aspect).  Faint sides must give the sheet a paper's aspect;
    # among the choices the one with the most evidence and the closest aspect wins.
    options = [
        [
            (line(m, *_polish_edge(views[m][1], step, o, sl)), ev)
            for o, sl, ev, step in found[m].weak
        ]
        + [None]
        for m in missing
    ]
    best: tuple[float, NDArray[np.float64]] | None = None
    for choice in itertools.product(*options):
        if sum(c is None for c in choice) > 1:
            continue
        lines = list(seen)
        for m, c in zip(missing, choice):
            lines[m] = None if c is None else c[0]
        for m, c in zip(missing, choice):
            if c is None:
                side = _inferred_side(lines, m, (h, w))
                if side is None or not _hugs(side, m, (h, w)):
                    break
                lines[m] = side
        else:
            corners = _crossings(lines)
            if corners is None or _plausible(corners, (h, w)) is None:
                continue
            evidence = sum(c[1] for c in choice if c is not None)
            if _convergence(corners) > _FAINT_PARALLEL:
                continue
            if evidence:
                err = _aspect_error(corners)
                if err > _FAINT_ASPECT:
                    continue
                evidence *= 1.0 - err / _FAINT_ASPECT
            if best is None or evidence > best[0]:
                best = (evidence, corners)
    return (None, False) if best is None else (best[1], True)


def _crossings(lines: list[tuple[Any, Any] | None]) -> NDArray[np.float64] | None:
    # Corners TL, TR, BR, BL of the lines top, bottom, left, right.
    top, bottom, left, right = lines
    corners = []
    for l1, l2 in ((top, left), (top, right), (bottom, right), (bottom, left)):
        p = None if l1 is None or l2 is None else _intersect(l1, l2)
        if p is None:
            return None
        corners.append(p)
    return np.array(corners)


def _hugs(side: tuple[Any, Any], m: int, shape: tuple[int, int]) -> bool:
    # Only a side hugging the frame (or outside it) can have gone unseen: one well inside
    # the frame would have shown, so the sheet goes on beyond it.
    h, w = shape
    c = np.array([(w - 1) / 2, (h - 1) / 2], np.float64)
    centre_line = (c, np.array([1.0, 0.0]) if m < 2 else np.array([0.0, 1.0]))
    cross = _intersect(side, centre_line)
    if cross is None:
        return False
    offset = (cross[1], h - 1 - cross[1], cross[0], w - 1 - cross[0])[m]
    return bool(offset <= _HUG * (h if m < 2 else w))


def _convergence(corners: NDArray[np.float64]) -> float:
    # The larger angle (radians) between opposite sides: a few degrees under a phone's
    # keystone, more for a quadrilateral that is no sheet.
    d = np.roll(corners, -1, axis=0) - corners
    ang = np.arctan2(d[:, 1], d[:, 0])
    diff = [abs((ang[i] - ang[i + 2]) % (2 * math.pi) - math.pi) for i in (0, 1)]
    return float(max(diff))


def _aspect_error(corners: NDArray[np.float64]) -> float:
    # |log| of the sheet's aspect (mean of opposite sides) against the nearest paper's.
    sides = np.hypot(*(np.roll(corners, -1, axis=0) - corners).T)
    across, along = sides[0] + sides[2], sides[1] + sides[3]
    aspect = max(across, along) / max(min(across, along), 1e-6)
    return min(abs(math.log(aspect * w / h)) for w, h in PAPER_MM.values())


def _inferred_side(
    lines: list[tuple[Any, Any] | None], m: int, shape: tuple[int, int]
) -> tuple[Any, Any] | None:
    # One side not seen (too faint, or hugging the frame): the mirror image of the
    # opposite side about the axis between the two adjacent sides (a symmetric keystone:
    # the camera faces the middle of the sheet), at the distance that gives the sheet the
    # A4 aspect, its long side along the frame's long side (lines: top, bottom, left,
    # right).
    opp = lines[m ^ 1]
    adj = [lines[i] for i in ((2, 3) if m < 2 else (0, 1))]
    if opp is None or adj[0] is None or adj[1] is None:
        return None
    p1, p2 = _intersect(opp, adj[0]), _intersect(opp, adj[1])
    if p1 is None or p2 is None:
        return None
    c, n = opp
    frame_mid = np.array([shape[1] - 1, shape[0] - 1], np.float64) / 2
    if n @ (frame_mid - c) < 0:
        n = -n  # towards the sheet, i.e. towards the missing side
    along = float(np.hypot(*(p2 - p1)))
    n1, n2 = adj[0][1], adj[1][1]
    axis = n1 + (n2 if n1 @ n2 > 0 else -n2)
    axis = axis / max(float(np.hypot(*axis)), 1e-12)
    d_opp = np.array([n[1], -n[0]])
    d_new = 2 * (d_opp @ axis) * axis - d_opp
    n_new = np.array([-d_new[1], d_new[0]])
    # the missing side spans the sheet across (short side) when it is parallel to the
    # frame's short side
    across_short = (m < 2) == (shape[0] >= shape[1])
    target = math.sqrt(2.0) if across_short else 1 / math.sqrt(2.0)
    lo, hi = 0.0, 2.0 * max(shape)
    for _ in range(40):
        dist = (lo + hi) / 2
        cand = (c + dist * n, n_new)
        q1, q2 = _intersect(cand, adj[0]), _intersect(cand, adj[1])
        if q1 is None or q2 is None:
            return None
        # the longer side of each opposite pair: a keystone shortens the far side, not the
        # near one (as in evalkit's phone captures; a real camera also foreshortens the
        # sheet along the tilt, which this does not model)
        width = max(along, float(np.hypot(*(q2 - q1))))
        height = max(float(np.hypot(*(q1 - p1))), float(np.hypot(*(q2 - p2))))
        if height / max(width, 1e-6) < target:
            lo = dist
        else:
            hi = dist
    return (c + (lo + hi) / 2 * n, n_new)


def _plausible(corners: NDArray[np.float64], shape: tuple[int, int]) -> Status | None:
    # A sheet seen at a moderate angle: convex, opposite sides of similar length, a
    # paper-like aspect.  "ok" when it lies inside the frame (a corner may sit just outside
    # it under a finger), "incomplete" when corners are cut off by the frame, None when it
    # is no sheet.
    h, w = shape
    sides = np.hypot(*(np.roll(corners, -1, axis=0) - corners).T)
    if sides.min() < 0.2 * min(h, w):
        return None
    if not (0.7 < sides[0] / sides[2] < 1.4 and 0.7 < sides[1] / sides[3] < 1.4):
        return None
    d = np.roll(corners, -1, axis=0) - corners
    cross = d[:, 0] * np.roll(d[:, 1], -1) - d[:, 1] * np.roll(d[:, 0], -1)
    if not ((cross > 0).all() or (cross < 0).all()):
        return None
    aspect = max(sides[1] + sides[3], sides[0] + sides[2]) / min(
        sides[1] + sides[3], sides[0] + sides[2]
    )
    if not 1.15 < aspect < 1.9:
        return None
    x, y = corners[:, 0] / w, corners[:, 1] / h
    if (x < -_CUT_OFF).any() or (x > 1 + _CUT_OFF).any():
        return None
    if (y < -_CUT_OFF).any() or (y > 1 + _CUT_OFF).any():
        return None
    if (x < -0.02).any() or (x > 1.02).any() or (y < -0.02).any() or (y > 1.02).any():
        return "incomplete"
    return "ok"


def find_page(image: Any) -> PageQuad:
    """Find the sheet of paper in a photo: its four corners, or why there are none.

    The photo is reduced to about 640 px on its long side.  First each side of the sheet
    is looked for as the outermost straight colour step with a blank margin behind it,
    refitted to the sub-pixel gradient peaks along it, and the four lines are intersected
    (corners outside the frame give ``"incomplete"`` with the corners).  Otherwise the
    sheet is the largest smooth region (no grey step above a few levels per pixel) around
    the middle of the photo, its text holes filled; its corners are the extreme points
    along the diagonals of its principal axes, refined by straight lines fitted to the
    middle of each side.  Last, when sides were too faint for the edge search (white paper
    on a white table), they are chosen among faint straight candidates outside the text so
    that the sheet has a paper's aspect, one of them at most inferred from the A4 aspect
    when it hugs the frame (``docs/capture.md``).

    Raises
    ------
    InvalidArgumentError, InvalidImageError
        Not an image (wrong dtype, shape, empty).

    Examples
    --------
    >>> import numpy as np
    >>> photo = np.full((600, 800), 60, np.uint8); photo[100:524, 250:550] = 235
    >>> q = find_page(photo)
    >>> q.status, bool(np.abs(q.corners[0] - [250, 100]).max() < 3)
    ('ok', True)
    """
    gray = as_gray(image)
    h, w = gray.shape
    f = max(1, math.ceil(max(h, w) / _DETECT_SIDE))
    if f > 1 and min(h, w) >= 4 * f:
        small = np.empty((h // f, w // f), np.uint8)
        _k.reduce_mean(gray, f, small)
    else:
        f, small = 1, gray
    sh, sw = small.shape
    if sh < 16 or sw < 16:
        return PageQuad("no-page", None, 0.0, "image under 16 px")
    # First the sheet's four straight edges (colour steps, so a grey table as bright as
    # the paper still shows a tinted or shaded sheet); then the smooth-region search; a
    # sheet with one side not seen (its fourth side inferred) only if that finds nothing.
    mask: NDArray[np.bool_] | None = None
    fallback = None
    colour = _as_colour(image)
    if colour is not None and min(sh, sw) >= 64:
        if colour.shape[2] == 1:  # grey: the reduced image is already at hand
            rgb_small = small.astype(np.float32)[:, :, None]
        else:
            rgb_small = _reduce_rgb(colour, f) if f > 1 else colour.astype(np.float32)
        quad, inferred = _edge_quad(rgb_small)
        fit = None if quad is None else _plausible(quad, (sh, sw))
        if quad is not None and fit is not None:
            frac = _quad_area(quad) / (sh * sw)
            mask = _sheet_mask(small)
            if mask is _TWO_SHEETS or (mask is not None and _two_sheets(small, mask)):
                return PageQuad("two-pages", None, frac, "two sheets side by side")
            corners = (quad + 0.5) * f - 0.5
            reason = None if fit == "ok" else "corners of the sheet are outside the frame"
            if not inferred:
                return PageQuad(fit, corners, frac, reason)
            fallback = PageQuad(fit, corners, frac, reason)
    found = _smooth_region_quad(small, mask, f)
    if fallback is None or found.status in ("ok", "two-pages"):
        return found
    return fallback


def _smooth_region_quad(small: NDArray[np.uint8], mask: Any, f: int) -> PageQuad:
    # find_page's second search, whose "no-page" and "incomplete" (no corners) a scan's
    # frame overrules (_scan_frame).
    found = _smooth_region(small, mask, f)
    if found.status in ("no-page", "incomplete") and _scan_frame(small):
        return PageQuad("full-frame", None, found.area_fraction, _SCAN_REASON)
    return found


def _smooth_region(small: NDArray[np.uint8], mask: Any, f: int) -> PageQuad:
    # the sheet as the smooth region around the middle.
    sh, sw = small.shape
    if mask is None:
        mask = _sheet_mask(small)
    if mask is None:
        return PageQuad("no-page", None, 0.0, "no uniform region in the middle of the photo")
    if mask is _TWO_SHEETS:
        return PageQuad("two-pages", None, 0.0, "two sheets on one background")
    total = sh * sw
    frac = float(mask.sum()) / total
    if frac < _MIN_AREA:
        return PageQuad("no-page", None, frac, f"the largest smooth region covers {frac:.1%}")
    r = _RING
    touch = np.array(
        [mask[r].mean(), mask[:, -r - 1].mean(), mask[-r - 1].mean(), mask[:, r].mean()]
    )
    if (touch > 0.5).all():
        return PageQuad("full-frame", None, frac, "the paper fills the frame")
    if (touch > 0.02).any():
        return PageQuad("incomplete", None, frac, "the sheet is cut off by the frame")
    if _two_sheets(small, mask):
        return PageQuad("two-pages", None, frac, "two sheets side by side")
    corners = _corners(mask)
    corners = (corners + 0.5) * f - 0.5
    return PageQuad("ok", corners, frac, None)


_SCAN_REASON = "the paper fills the frame (a scan: paper or a scanner border on every side)"
_SCAN_PAPER = 0.6  # a frame pixel this share of the paper level (90th percentile) is paper
_SCAN_DARK = 0.35  # ... and one below this share is a scanner border
_SCAN_BORDER = 0.12  # a scanner border is at most this share of the frame deep
_SCAN_SIDE = 0.9  # share of a side's positions that must be paper (or border, then paper)


def _scan_frame(small: NDArray[np.uint8]) -> bool:
    # Told apart only where the smooth-region search gives up or finds the paper touching
    # the frame.  A scan whose middle is a table or a picture has no smooth region there
    # ("no-page": 17 of the 194 scanner pages of evalkit's tuning full s12, 6 with a
    # scanner border); a scan with a dark scanner border along one to three sides has
    # paper touching the frame on the others ("incomplete": 68 of those 194).  A photo's
    # frame shows the table around the sheet; a scan's shows paper on every side, or a
    # dark scanner border (a band along the side at most 12 % of the frame deep, paper
    # behind it).  At least one side must be paper: background on four sides is a photo.
    level = float(np.percentile(small, 90))
    if level < 64:
        return False
    paper_sides = 0
    for view in (small, small[::-1], small.T, small.T[::-1]):  # top, bottom, left, right
        depth = max(_RING + 2, int(_SCAN_BORDER * view.shape[0]))
        band = view[: depth + 3].astype(np.float32)
        paper = band[_RING : _RING + 2].mean(axis=0) >= _SCAN_PAPER * level
        if float(np.mean(paper)) >= _SCAN_SIDE:
            paper_sides += 1
            continue
        # elsewhere a border: dark at the frame, paper behind it before ``depth`` (a
        # border's depth wanders along the side; where it is under a few pixels deep, the
        # paper itself reaches the frame)
        border = (band[0] < _SCAN_DARK * level) & (band[1:] >= _SCAN_PAPER * level).any(axis=0)
        if float(np.mean(paper | border)) < _SCAN_SIDE:
            return False
    return paper_sides >= 1


def _as_colour(image: Any) -> NDArray[np.uint8] | None:
    arr = getattr(image, "pixels", image)
    if isinstance(arr, np.ndarray) and arr.dtype == np.uint8:
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            return arr[:, :, :3]
        if arr.ndim == 2:
            return arr[:, :, None]
    return None


def _quad_area(c: NDArray[np.float64]) -> float:
    x, y = c[:, 0], c[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
