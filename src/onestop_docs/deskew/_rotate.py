"""Private: affine page rotation behind :mod:`onestop_docs.deskew` (see its sign convention).

Kernels live in ``src/_native/rotate.pyx``; everything here validates first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._native import rotate as _r  # type: ignore[attr-defined]
from .._validate import as_image, check_finite, check_range
from ..errors import ImageTooLargeError, InvalidArgumentError
from ..imageio import DEFAULT_MAX_PIXELS

__all__ = ["PageTransform", "rotate"]


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
    def array(self) -> NDArray[np.float64]:
        """The matrix as a new (2, 3) float array (e.g. for ``cv2.warpAffine`` with
        ``WARP_INVERSE_MAP``)."""
        return np.array(self.matrix, dtype=np.float64).reshape(2, 3)

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
    ImageTooLargeError
        The output would have more than ``imageio.DEFAULT_MAX_PIXELS`` pixels
        (``expand=True`` on a long strip).

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
        out_shape = _rotated_shape(shape, angle, expand)
        if out_shape[0] * out_shape[1] > DEFAULT_MAX_PIXELS:
            # A long thin strip turned 45 degrees with expand=True asks for a square of its
            # length: refuse it before numpy allocates it.
            raise ImageTooLargeError(
                f"rotating {shape[0]}x{shape[1]} by {angle} degrees with expand=True needs "
                f"{out_shape[0]}x{out_shape[1]} pixels, above the limit of "
                f"imageio.DEFAULT_MAX_PIXELS = {DEFAULT_MAX_PIXELS}"
            )
        t = PageTransform.rotation(angle, shape, out_shape)
        out = _warp(pixels, t, fv, interpolation)
    if is_mask:
        return np.asarray(out >= 128)
    return out
