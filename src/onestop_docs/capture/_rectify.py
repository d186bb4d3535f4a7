"""Rectifying a found sheet: :func:`rectify` (private; import from
:mod:`onestop_docs.capture`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._native import capture as _c  # type: ignore[attr-defined]
from .._native import dedup_key as _k  # type: ignore[attr-defined]
from .._validate import as_gray, check_range
from ..errors import InvalidArgumentError
from . import _dewarp
from ._find import _SNAP, PAPER_MM, PageQuad, Status, _as_colour, find_page


@dataclass(frozen=True)
class CaptureResult:
    """:func:`rectify` result.

    Attributes
    ----------
    status : str
        As :attr:`PageQuad.status`, plus ``"blank"`` (a sheet without ink).
    page : numpy.ndarray or None
        The rectified, lighting-flattened page (uint8, paper 255; grey, or RGB with
        ``rectify(..., color=True)`` on an RGB photo), upright as found
        (portrait unless the sheet is landscape); None unless status is ``"ok"``, or
        ``"incomplete"`` with corners (what is outside the photo is white).
    quad : PageQuad
    paper : str or None
        Paper size the aspect was snapped to (``"A4"``, ...), None if none fitted.
    dpi : float or None
        Resolution of ``page`` from the paper size (None when no paper size fitted).
    aspect : float or None
        Measured height / width of the sheet.
    dewarped : bool
        Whether ``rectify(..., dewarp=True)`` straightened curled text lines.
    """

    status: Status
    page: NDArray[np.uint8] | None = field(repr=False)
    quad: PageQuad
    paper: str | None = None
    dpi: float | None = None
    aspect: float | None = None
    dewarped: bool = False


def _homography(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    # 3 x 3 map taking src[i] to dst[i] (four point pairs), h33 = 1.
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((x, y), (u, v)) in enumerate(zip(src, dst)):
        a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * i], b[2 * i + 1] = u, v
    sol = np.linalg.solve(a, b)
    return np.append(sol, 1.0).reshape(3, 3)


def _snap_paper(aspect: float, paper: str | None) -> tuple[str | None, float]:
    if paper is not None:
        w, h = PAPER_MM[paper]
        return paper, h / w
    for name in ("A4", "Letter", "Legal"):
        w, h = PAPER_MM[name]
        if abs(math.log(aspect * w / h)) < _SNAP:
            return name, h / w
    return None, aspect


def rectify(
    image: Any,
    *,
    dpi: float | None = None,
    paper: str | None = None,
    flatten: bool = True,
    color: bool = False,
    dewarp: bool = False,
) -> CaptureResult:
    """Rectify a phone photo of a sheet: perspective, aspect, lighting and resolution.

    Parameters
    ----------
    image : numpy.ndarray or Page
        uint8 grey or RGB photo.
    dpi : float, optional
        Resolution of the output page; default: the photo's own (the output is as tall as
        the sheet's longer side in the photo).  Needs a known paper size.
    paper : {"A4", "A5", "Letter", "Legal"}, optional
        The sheet's size, when known; default: snapped from the measured aspect (an
        A-series aspect is taken as A4).
    flatten : bool
        Divide by the local paper level (default True); in colour, each channel by its
        own, so the paper also loses the light's colour cast.
    color : bool
        Return an RGB page for an RGB photo (default False: grey; a grey photo always
        gives a grey page).  The sheet is found and judged blank on the grey image either
        way.
    dewarp : bool
        Straighten curled text lines of the rectified page with :func:`dewarp` (default
        False).  Its gates leave a flat page exactly as it is; ``dewarped`` in the result
        says whether it was changed.

    Returns
    -------
    CaptureResult
        ``status != "ok"`` with ``page=None`` for a photo without a usable sheet
        (``"no-page"``, ``"incomplete"``, ``"two-pages"``, ``"full-frame"``, ``"blank"``);
        ``"incomplete"`` carries the page when the sheet's corners could be placed
        outside the frame.

    Raises
    ------
    InvalidArgumentError, InvalidImageError
        Not an image, an unknown paper name or a bad dpi.

    Examples
    --------
    >>> import numpy as np
    >>> rectify(np.full((300, 400), 128, np.uint8)).status
    'full-frame'
    """
    if paper is not None and paper not in PAPER_MM:
        raise InvalidArgumentError(f"paper must be one of {sorted(PAPER_MM)}, got {paper!r}")
    if dpi is not None:
        dpi = check_range(dpi, "dpi", 20.0, 1200.0)
    gray = as_gray(image)
    quad = find_page(gray)
    if quad.status not in ("ok", "incomplete") or quad.corners is None:
        return CaptureResult(quad.status, None, quad)
    c = quad.corners
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*(c[3] - c[0])) + np.hypot(*(c[2] - c[1]))) / 2
    landscape = width > height
    aspect = float(max(width, height) / max(min(width, height), 1.0))
    name, true_aspect = _snap_paper(aspect, paper)
    long_px = float(max(width, height))
    if dpi is not None:
        if name is None:
            raise InvalidArgumentError("dpi needs a paper size: name it with paper=")
        long_px = PAPER_MM[name][1] / 25.4 * dpi
    out_long = max(16, round(long_px))
    out_short = max(16, round(out_long / true_aspect))
    oh, ow = (out_short, out_long) if landscape else (out_long, out_short)
    dst = np.array([[0, 0], [ow - 1, 0], [ow - 1, oh - 1], [0, oh - 1]], np.float64)
    hmat = np.ascontiguousarray(_homography(dst, c).ravel())
    block = max(8, round(out_long / 40))
    page = _warped(gray, hmat, (oh, ow), block if flatten else 0)
    out_dpi = None if name is None else out_long / (PAPER_MM[name][1] / 25.4)
    # Blank: almost no dark pixels once the lighting is flat.
    step = max(1, out_long // 400)
    if np.count_nonzero(page[::step, ::step] < 128) < 0.0005 * page[::step, ::step].size:
        return CaptureResult("blank", None, quad, name, out_dpi, aspect)
    colour = _as_colour(image) if color else None
    if colour is not None and colour.shape[2] == 3:
        page = np.empty((oh, ow, 3), np.uint8)
        for ch in range(3):
            plane = np.ascontiguousarray(colour[:, :, ch])
            page[:, :, ch] = _warped(plane, hmat, (oh, ow), block if flatten else 0)
    straightened = False
    if dewarp:
        # the parameter hides the module-level function of the same name
        bent = _dewarp.dewarp(page)
        page, straightened = bent.image, bent.applied
    return CaptureResult(quad.status, page, quad, name, out_dpi, aspect, straightened)


def _warped(
    plane: NDArray[np.uint8], hmat: NDArray[np.float64], shape: tuple[int, int], block: int
) -> NDArray[np.uint8]:
    # One channel resampled by the output-to-photo homography, then divided by its local
    # paper level (cells of ``block`` px; 0: not flattened).
    out = np.empty(shape, np.uint8)
    _c.warp_homography(plane, hmat, out, 255)
    if block:
        paper_level = np.empty((-(-shape[0] // block), -(-shape[1] // block)), np.float32)
        _k.cell_quantile(out, block, 0.9, paper_level)
        _c.flatten(out, paper_level, block)
    return out
