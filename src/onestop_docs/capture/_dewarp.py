"""Text-line dewarping of curled or bent pages (the model behind :func:`capture.dewarp`).

A curled sheet bends its text lines; the page is straightened by moving every column up or
down so that each line becomes straight again.  The field is measured from the text itself:

1. the page is reduced to about 75 dpi and its ink found against the local background;
2. the characters of a line are joined by closing the horizontal gaps narrower than two and
   a half character heights (never vertically, so lines do not merge);
3. each long, thin joined shape is a line; its ink centre is taken in bins one character
   wide and smoothed; its deviation from its own centre height is the displacement there;
4. per column, the displacement is interpolated between the lines above and below (a line's
   sample that disagrees with its neighbours, such as a stamp, is dropped), then smoothed;
5. the page is resampled with the field (``_native.dewarp.remap_rows``, bilinear).

Only vertical displacement is corrected: it is what bends the lines that OCR and the
document key read.  The horizontal compression near a binding stays.  A page whose field
moves nothing by ``min_shift_px`` or more is returned unchanged; a page without enough text
lines is returned unchanged with the reason.

On the evaluation kit's curled scanner pages (tuning seeds ``hard`` s13 and s14) the
curl bends the text lines by under 3 pixels (ground-truth midlines), below what this
measurement resolves (about 1.5 pixels of noise): dewarping there is not needed and is not
done by default.  On real photographs of curled book pages (``tests/data/page_dewarp``) the
lines bend by more than a character height and Tesseract reads the dewarped page better;
see ``docs/capture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validate import as_gray, as_image, check_range

_TARGET_SHORT_SIDE = 620  # reduced short side: about 75 dpi for A4
_MIN_LINES = 4
_MIN_SURFACE_LINES = 8  # the surface has 15 terms
_MAX_OVERSHOOT = 4.0
_GRID_STEP = 4  # field samples every 4 reduced pixels
_MIN_R2 = 0.6  # share of the lines' bending the smooth surface must explain
_POWERS = [(a, b) for a in range(5) for b in range(3)]  # x^0..4 times y^0..2


def _basis(x: NDArray[np.float64], y: NDArray[np.float64], sw: int, sh: int) -> NDArray[np.float64]:
    u = (x - sw / 2) / (sw / 2)
    v = (y - sh / 2) / (sh / 2)
    return np.column_stack([u**a * v**b for a, b in _POWERS])


def _fit_surface(
    pts: NDArray[np.float64], sw: int, sh: int
) -> tuple[NDArray[np.float64] | None, tuple[float, float], tuple[float, float], float]:
    """Robust least-squares fit of the lines' deviations by a smooth surface.

    Returns the coefficients (or None), the sample box the surface may be evaluated in, and
    the share of the deviations' variance it explains among the samples kept.
    """
    x, y, d = pts[:, 0], pts[:, 1], pts[:, 2]
    box = ((float(x.min()), float(y.min())), (float(x.max()), float(y.max())))
    a = _basis(x, y, sw, sh)
    keep = np.ones(d.size, bool)
    coef = None
    for _ in range(3):
        if keep.sum() < 3 * len(_POWERS):
            return None, box[0], box[1], 0.0
        coef, *_ = np.linalg.lstsq(a[keep], d[keep], rcond=None)
        res = d - a @ coef
        sigma = 1.4826 * float(np.median(np.abs(res[keep]))) + 1e-6
        keep = np.abs(res) <= 3.0 * sigma
    assert coef is not None
    dk = d[keep]
    ss_tot = float(np.sum((dk - dk.mean()) ** 2))
    ss_res = float(np.sum((dk - a[keep] @ coef) ** 2))
    r2 = 0.0 if ss_tot <= 0 else 1.0 - ss_res / ss_tot
    return np.asarray(coef, dtype=np.float64), box[0], box[1], r2


@dataclass(frozen=True)
class Field:
    """A vertical displacement field: ``grid`` (float32, full-resolution pixels) sampled every
    ``step`` full-resolution pixels, plus what was measured."""

    grid: NDArray[np.float32]
    step: int
    lines: int
    max_shift_px: float
    char_height_px: float


def _reduce(gray: NDArray[np.uint8], f: int) -> NDArray[np.float32]:
    h, w = gray.shape[0] // f * f, gray.shape[1] // f * f
    g = gray[:h, :w].astype(np.float32)
    return np.asarray(g.reshape(h // f, f, w // f, f).mean(axis=(1, 3)), dtype=np.float32)


def _box_mean(a: NDArray[np.float32], r: int) -> NDArray[np.float32]:
    """Mean over a (2r+1)^2 window, edges clamped (integral image)."""
    p = np.pad(a, r + 1, mode="edge").astype(np.float64)
    s = p.cumsum(0).cumsum(1)
    k = 2 * r + 1
    out = s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
    return np.asarray((out / (k * k))[: a.shape[0], : a.shape[1]], dtype=np.float32)


def _close_rows(mask: NDArray[np.bool_], gap: int) -> NDArray[np.bool_]:
    """Fill horizontal gaps of at most ``gap`` pixels between ink in every row."""
    _h, w = mask.shape
    idx = np.arange(w, dtype=np.int64)[None, :]
    left = np.where(mask, idx, -(10**9))
    left = np.maximum.accumulate(left, axis=1)
    right = np.where(mask, idx, 10**9)
    right = np.minimum.accumulate(right[:, ::-1], axis=1)[:, ::-1]
    return np.asarray(mask | ((right - left) <= gap + 1), dtype=bool)


def _smooth1d(v: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    if v.size < 3 or k < 2:
        return v
    k = min(k, v.size)
    pad = k // 2
    p = np.pad(v, pad, mode="edge")
    c = np.cumsum(np.insert(p, 0, 0.0))
    return np.asarray((c[k:] - c[:-k])[: v.size] / k, dtype=np.float64)


def _median3(v: NDArray[np.float64]) -> NDArray[np.float64]:
    if v.size < 3:
        return v
    p = np.pad(v, 1, mode="edge")
    return np.asarray(np.median(np.stack([p[:-2], p[1:-1], p[2:]]), axis=0), dtype=np.float64)


def estimate_field(gray: NDArray[np.uint8]) -> Field | str:
    """The displacement field of a grey page, or the reason there is none (a str)."""
    from .._native import cleanup_components as _cc  # type: ignore[attr-defined]

    h, w = gray.shape
    f = max(1, round(min(h, w) / _TARGET_SHORT_SIDE))
    small = _reduce(gray, f)
    sh, sw = small.shape
    if sh < 40 or sw < 40:
        return "page too small"
    background = _box_mean(small, 15)
    ink = small < 0.8 * background
    ink[:2] = ink[-2:] = False
    ink[:, :2] = ink[:, -2:] = False
    if ink.mean() < 0.002:
        return "no text"
    ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1 = _cc.label_runs(ink.view(np.uint8))
    ch = (by1 - by0).astype(np.int64)
    cw = (bx1 - bx0).astype(np.int64)
    glyph = (area >= 4) & (ch >= 2) & (ch <= sh // 10) & (cw <= sw // 8)
    if glyph.sum() < 50:
        return "too few characters"
    hc = float(np.median(ch[glyph]))
    # Characters only: no photos, logos or vertical rules.
    keep = glyph & (ch <= 3 * hc)
    sel = keep[rlab]
    clean = np.zeros_like(ink)
    for y, a, b in zip(ry[sel], rx0[sel], rx1[sel], strict=True):
        clean[y, a:b] = True
    joined = _close_rows(clean, round(2.5 * hc))
    jy, jx0, jx1, jlab, jarea, jbx0, _, jbx1, _ = _cc.label_runs(joined.view(np.uint8))
    lw = (jbx1 - jbx0).astype(np.int64)
    # A bent line's box is tall; its mean thickness (area / width) stays about one line.
    thick = jarea / np.maximum(lw, 1)
    is_line = (lw >= max(8 * hc, 0.12 * sw)) & (thick <= 2.5 * hc) & (lw >= 5 * thick)
    if is_line.sum() < _MIN_LINES:
        return "too few text lines"
    # label image of the joined shapes, -1 elsewhere
    lab_img = np.full((sh, sw), -1, np.int32)
    lens = (jx1 - jx0).astype(np.int64)
    rows = np.repeat(jy, lens)
    starts = np.repeat(jx0.astype(np.int64) - np.cumsum(lens) + lens, lens)
    cols = np.arange(int(lens.sum()), dtype=np.int64) + starts
    lab_img[rows, cols] = np.repeat(jlab, lens)
    ys, xs = np.nonzero(clean)
    labs = lab_img[ys, xs]
    ok = (labs >= 0) & is_line[np.maximum(labs, 0)]
    ys, xs, labs = ys[ok], xs[ok], labs[ok]
    bw = max(2, round(hc))
    nb = sw // bw + 1
    key = labs.astype(np.int64) * nb + xs // bw
    cnt = np.bincount(key)
    ysum = np.bincount(key, weights=ys.astype(np.float64))
    samples: list[NDArray[np.float64]] = []  # rows (x, y, delta)
    for lab in np.flatnonzero(is_line):
        lo, hi = lab * nb, (lab + 1) * nb
        c = cnt[lo:hi] if lo < cnt.size else np.zeros(0)
        good = c >= max(2, 0.3 * hc)
        if good.sum() < 5:
            continue
        bins = np.flatnonzero(good)
        yc = _smooth1d(_median3(ysum[lo:hi][good] / c[good]), 3)
        ref = float(np.median(yc))
        samples.append(np.column_stack([(bins + 0.5) * bw, np.full(bins.size, ref), yc - ref]))
    if len(samples) < _MIN_LINES:
        return "too few text lines"
    pts = np.vstack(samples)
    if len(samples) < _MIN_SURFACE_LINES:
        return "too few text lines"
    coef, lo_xy, hi_xy, r2 = _fit_surface(pts, sw, sh)
    if coef is None or r2 < _MIN_R2:
        return "flat"
    step = _GRID_STEP
    gx = np.arange(0, sw + step, step, dtype=np.float64)
    gy = np.arange(0, sh + step, step, dtype=np.float64)
    xx, yy = np.meshgrid(np.clip(gx, lo_xy[0], hi_xy[0]), np.clip(gy, lo_xy[1], hi_xy[1]))
    grid = _basis(xx.ravel(), yy.ravel(), sw, sh) @ coef
    grid = grid.reshape(gy.size, gx.size)
    lines_n = len(samples)
    # The surface may not invent bending the lines do not show: far beyond it, the fit is
    # not trusted; a little beyond (between measured lines, towards the corners), it is
    # clipped to what the lines show.
    seen = float(np.abs(pts[:, 2]).max())
    if float(np.abs(grid).max()) > _MAX_OVERSHOOT * seen + 1.0:
        return "uncertain"
    grid = np.clip(grid, -1.2 * seen, 1.2 * seen)
    full = (grid * f).astype(np.float32)
    return Field(
        grid=np.ascontiguousarray(full),
        step=step * f,
        lines=lines_n,
        max_shift_px=float(np.abs(full).max()),
        char_height_px=hc * f,
    )


def apply_field(pixels: NDArray[np.uint8], field: Field) -> NDArray[np.uint8]:
    """``pixels`` (grey or RGB) resampled with ``field``; rows from outside are white."""
    from .._native import dewarp as _k  # type: ignore[attr-defined]

    src = np.ascontiguousarray(pixels)
    src3 = src[:, :, None] if src.ndim == 2 else src
    out = np.empty_like(src3)
    h, w = src3.shape[:2]
    need = (h // field.step + 2, w // field.step + 2)
    grid = field.grid
    if grid.shape[0] < need[0] or grid.shape[1] < need[1]:
        grid = np.pad(
            grid,
            ((0, max(0, need[0] - grid.shape[0])), (0, max(0, need[1] - grid.shape[1]))),
            mode="edge",
        )
    _k.remap_rows(src3, np.ascontiguousarray(grid, np.float32), field.step, out, 255)
    return out[:, :, 0] if src.ndim == 2 else out


@dataclass(frozen=True, eq=False)
class DewarpResult:
    """What :func:`dewarp` did.

    Attributes
    ----------
    image : numpy.ndarray
        The straightened page (uint8, same shape as the input), or the input itself when
        nothing was applied.
    applied : bool
        Whether the page was resampled.
    lines : int
        Text lines measured (0 when none were found).
    max_shift_px : float
        Largest vertical displacement of the field, pixels (0 when there is none).
    char_height_px : float or None
        Median character height the measurement used, pixels.
    reason : str or None
        Why nothing was applied: ``"flat"`` (the lines are straight, or their bending is not
        explained by a smooth surface), ``"uncertain"`` (the surface would move the page more
        than the lines show), ``"no text"``,
        ``"too few text lines"``, ``"too few characters"``, ``"page too small"``.
    """

    image: NDArray[np.uint8]
    applied: bool
    lines: int
    max_shift_px: float
    char_height_px: float | None
    reason: str | None = None


def dewarp(image: Any, *, min_shift: float = 1.0) -> DewarpResult:
    """Straighten the text lines of a curled or bent page (text-line dewarping).

    Run it on an upright, deskewed page (after :func:`onestop_docs.deskew.deskew`, or on
    :func:`onestop_docs.capture.rectify` output).  The vertical displacement that bends each
    text line is measured from the lines themselves and undone; see the module notes in
    ``docs/capture.md`` for what it corrects and what it leaves.

    Parameters
    ----------
    image : numpy.ndarray or Page
        uint8 grey (H, W) or RGB (H, W, 3) page; the field is measured on its grey version
        and applied to every channel.
    min_shift : float
        Apply the field only when it moves some part of the page by at least this many
        character heights (default 1.0): smaller fields are within the measurement's noise.

    Returns
    -------
    DewarpResult

    Raises
    ------
    InvalidArgumentError
        Not a uint8 grey (H, W) or RGB (H, W, 3) image, or ``min_shift`` outside 0..100.

    Examples
    --------
    >>> import numpy as np
    >>> res = dewarp(np.full((400, 300), 255, np.uint8))
    >>> res.applied, res.reason
    (False, 'no text')
    """
    check_range(min_shift, "min_shift", 0.0, 100.0)
    px = getattr(image, "pixels", image)
    arr = as_image(px, name="image", allow_rgb=True)
    gray = as_gray(arr, name="image")
    field = estimate_field(np.ascontiguousarray(gray))
    if isinstance(field, str):
        return DewarpResult(arr, False, 0, 0.0, None, field)
    if field.max_shift_px < min_shift * field.char_height_px:
        return DewarpResult(
            arr, False, field.lines, field.max_shift_px, field.char_height_px, "flat"
        )
    out = apply_field(arr, field)
    return DewarpResult(out, True, field.lines, field.max_shift_px, field.char_height_px)
