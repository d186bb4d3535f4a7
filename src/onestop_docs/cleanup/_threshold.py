"""Thresholds for :mod:`onestop_docs.cleanup`: Otsu and local (Sauvola, Niblack, Wolf).

Private helper module; import the public names from :mod:`onestop_docs.cleanup`.  The
conventions (window at the page edge, float formula, ``compat`` modes) are documented in
``docs/cleanup.md``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._native import cleanup as _k  # type: ignore[attr-defined]
from .._validate import as_gray, check_int, check_range
from ..errors import InvalidArgumentError

__all__ = ["DEFAULT_DPI", "MAX_WINDOW", "default_window", "otsu_threshold"]

DEFAULT_DPI = 300.0
#: Largest local window side; keeps the exact integer running sums far from overflow.
MAX_WINDOW = 3001

Method = Literal["midpoint", "otsu", "sauvola", "wolf", "niblack"]
Compat = Literal["skimage", "doxa"]

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

    Raises
    ------
    InvalidArgumentError
        ``dpi`` is not a finite positive number (NaN, infinite, zero, negative).
    """
    if (
        isinstance(dpi, bool)
        or not isinstance(dpi, int | float | np.integer | np.floating)
        or not math.isfinite(dpi)
        or dpi <= 0
    ):
        raise InvalidArgumentError(f"dpi must be a finite positive number, got {dpi!r}")
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
        v = check_int(v, "window", 1, MAX_WINDOW, numpy_ok=True)
        if v % 2 == 0:
            raise InvalidArgumentError(f"window must be an odd int, got {v}")
        if v > side:
            raise InvalidArgumentError(
                f"window {v} is larger than the image {name} {side}; "
                "pass a smaller odd window or window=None for the default"
            )
        out.append(v)
    return out[0], out[1]


def _check_method(method: Any) -> None:
    if method not in ("midpoint", "otsu", "sauvola", "wolf", "niblack"):
        raise InvalidArgumentError(
            f"method must be 'midpoint', 'otsu', 'sauvola', 'wolf' or 'niblack', got {method!r}"
        )


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
    from .._native import gray as _gray  # type: ignore[attr-defined]

    g = as_gray(image)
    hist = np.zeros(256, np.int64)
    _gray.histogram(g, hist)
    return _otsu_of_histogram(hist)


def _otsu_of_histogram(hist: NDArray[np.int64]) -> int:
    """:func:`otsu_threshold` of a 256-bin histogram with at least one count."""
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
