"""Input checks shared by every public function (the kernels assume checked input).

The rule for pixel data, written once:

* Images are ``uint8`` arrays, 2-D (H, W) grey or 3-D (H, W, 3) RGB, values 0..255.
  A :class:`~onestop_docs.imageio.Page` is accepted wherever an image is.
* Float images are **rejected**, never rescaled: there is no safe way to tell a [0, 1] float
  image from a [0, 255] one.  Convert explicitly, e.g.
  ``(np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)``.
* Masks are ``bool`` arrays (True = ink).  Where a function accepts a mask as an image it says so.
* Non-contiguous arrays are copied to C order (once, up front), never passed to a kernel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, InvalidImageError

__all__ = [
    "as_gray",
    "as_image",
    "as_mask",
    "check_finite",
    "check_int",
    "check_range",
]


def _pixels_of(image: Any) -> Any:
    # Accept Page (or anything with a .pixels ndarray) without importing imageio (cycle).
    pixels = getattr(image, "pixels", None)
    return pixels if isinstance(pixels, np.ndarray) else image


def as_image(
    image: Any, *, name: str = "image", allow_rgb: bool = True, allow_bool: bool = False
) -> NDArray[np.uint8]:
    """Return ``image`` as a C-contiguous uint8 (H, W) or (H, W, 3) array, or raise.

    Raises
    ------
    InvalidArgumentError
        Not an array, wrong dtype (float, int16, ...), wrong number of dimensions or channels.
    InvalidImageError
        An empty array (a zero-length axis).
    """
    arr = _pixels_of(image)
    if not isinstance(arr, np.ndarray):
        raise InvalidArgumentError(
            f"{name} must be a numpy array or a Page, got {type(arr).__name__}"
        )
    if arr.dtype == np.bool_:
        if not allow_bool:
            raise InvalidArgumentError(
                f"{name} is a bool mask; this function expects uint8 pixels (0 = black, 255 = white)"
            )
        arr = np.where(arr, np.uint8(0), np.uint8(255))
    elif arr.dtype != np.uint8:
        hint = ""
        if arr.dtype.kind == "f":
            hint = (
                "; float images are never rescaled silently: convert explicitly, e.g. "
                "(np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8) for [0, 1] data"
            )
        raise InvalidArgumentError(f"{name} must have dtype uint8, got {arr.dtype}{hint}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        pass
    elif arr.ndim == 3 and arr.shape[2] == 3:
        if not allow_rgb:
            raise InvalidArgumentError(f"{name} must be a 2-D grey image, got shape {arr.shape}")
    else:
        raise InvalidArgumentError(
            f"{name} must be 2-D (H, W) grey or 3-D (H, W, 3) RGB, got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidImageError(f"{name} is empty (shape {arr.shape})")
    return np.ascontiguousarray(arr)


def as_gray(image: Any, *, name: str = "image", allow_bool: bool = False) -> NDArray[np.uint8]:
    """Return a C-contiguous 2-D uint8 grey image; RGB input is converted with ITU-R 601 luma.

    Raises the same errors as :func:`as_image`.
    """
    arr = as_image(image, name=name, allow_rgb=True, allow_bool=allow_bool)
    if arr.ndim == 2:
        return arr
    from ._native import gray as _gray  # type: ignore[attr-defined]

    out = np.empty(arr.shape[:2], dtype=np.uint8)
    _gray.rgb_to_gray(arr, out)
    return out


def as_mask(
    mask: Any, *, name: str = "mask", shape: tuple[int, ...] | None = None
) -> NDArray[np.bool_]:
    """Return a C-contiguous 2-D bool array (True = ink), or raise InvalidArgumentError."""
    arr = _pixels_of(mask)
    if not isinstance(arr, np.ndarray) or arr.dtype != np.bool_ or arr.ndim != 2:
        desc = (
            f"{arr.dtype} array of shape {arr.shape}"
            if isinstance(arr, np.ndarray)
            else type(arr).__name__
        )
        raise InvalidArgumentError(f"{name} must be a 2-D bool array (True = ink), got {desc}")
    if arr.size == 0:
        raise InvalidImageError(f"{name} is empty (shape {arr.shape})")
    if shape is not None and arr.shape != shape:
        raise InvalidArgumentError(f"{name} has shape {arr.shape}, expected {shape}")
    return np.ascontiguousarray(arr)


def check_finite(value: Any, name: str) -> float:
    """Return ``value`` as a finite float or raise InvalidArgumentError."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise InvalidArgumentError(f"{name} must be finite, got {value!r}")
    return f


def check_range(
    value: Any, name: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False
) -> float:
    """Return ``value`` as a float inside [lo, hi] (ends optionally open) or raise."""
    f = check_finite(value, name)
    bad_lo = f <= lo if lo_open else f < lo
    bad_hi = f >= hi if hi_open else f > hi
    if bad_lo or bad_hi:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise InvalidArgumentError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value!r}")
    return f


def check_int(
    value: Any, name: str, lo: int | None = None, hi: int | None = None, *, numpy_ok: bool = False
) -> int:
    """Return ``value`` as an int inside [lo, hi] (either bound optional) or raise.

    ``bool`` is never accepted (``True`` is not a count); numpy integers only with
    ``numpy_ok``.  The message names the argument, the allowed range and the value given.

    Raises
    ------
    InvalidArgumentError
        Not an int, or outside the bounds.

    Examples
    --------
    >>> check_int(3, "workers", 1)
    3
    >>> check_int(True, "workers", 1)
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: workers must be an int >= 1, got bool True
    >>> check_int(1000, "index", 1, 999)
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: index must be an int in [1, 999], got 1000
    """
    kinds: tuple[type, ...] = (int, np.integer) if numpy_ok else (int,)
    is_int = isinstance(value, kinds) and not isinstance(value, bool)
    if is_int and (lo is None or value >= lo) and (hi is None or value <= hi):
        return int(value)
    if lo is not None and hi is not None:
        expected = f"an int in [{lo}, {hi}]"
    elif lo is not None:
        expected = f"an int >= {lo}"
    elif hi is not None:
        expected = f"an int <= {hi}"
    else:
        expected = "an int"
    got = repr(value) if is_int else f"{type(value).__name__} {value!r}"
    raise InvalidArgumentError(f"{name} must be {expected}, got {got}")
