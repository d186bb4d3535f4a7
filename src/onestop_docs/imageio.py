"""Page input and output: decode scans into :class:`Page` objects, save them back.

Formats: PNG, JPEG, TIFF (every frame, including 1-bit CCITT G4), BMP, WebP, GIF (every
frame), JPEG 2000 and PNM; scanner PDFs are read by :mod:`onestop_docs.pdfinput`.  Multi-page
inputs are **streamed**: :func:`load_pages` is a generator that decodes one frame at a time,
so page 300 of a 300-page TIFF costs the memory of one page.

Normalisation applied to every page (so kernels see one of two layouts):

* EXIF orientation is applied (the pixels are turned upright as the camera recorded).
* Alpha is composited on white; palette images are expanded; 1-bit pages become 0/255 grey
  with ``mode="1"`` kept as a record of the origin.
* 16-bit samples (grey and colour) are reduced to 8 bits with rounding:
  ``v8 = (v16 * 255 + 32767) // 65535`` (so ``0x00FF`` → 1, ``0x7FFF`` → 127, ``0x8000`` → 128).
* 32-bit integer grey samples are read on the scale their values use: at most 255 as 8-bit
  values (unchanged), at most 65535 as 16-bit values (the rule above), above that as 32-bit
  values, ``v8 = (v32 * 255 + 2147483647) // 4294967295``; negative samples are refused.
* A broken frame or directory of a multi-page file raises :class:`InvalidImageError` naming
  that page (``page_index``) after every page before it has been yielded: a lost last
  directory does not lose the readable pages.
* Result: ``uint8`` ``(H, W)`` for grey or bitonal, ``(H, W, 3)`` for colour, C-contiguous.

Resolution is **never guessed**: ``Page.dpi`` is ``None`` when the file has none (or an
absurd value outside ``[MIN_DPI, MAX_DPI]``), and ``Page.dpi_status`` says which.  Pass
``assume_dpi=`` to :func:`load_pages` to fill in a value explicitly; the page then carries
``dpi_status="assumed"``.

Examples
--------
>>> import numpy as np, io
>>> from onestop_docs.imageio import Page, save_page, load_pages
>>> page = Page(np.full((40, 30), 255, np.uint8), mode="L", dpi=(300.0, 300.0))
>>> buf = io.BytesIO()
>>> save_page(page, buf, format="png")
>>> [(p.width, p.height, p.dpi) for p in load_pages(buf.getvalue())]
[(30, 40, (300.0, 300.0))]
"""

from __future__ import annotations

import io
import math
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from ._fileutil import atomic_write
from ._validate import as_gray, as_image
from .errors import (
    ImageTooLargeError,
    InvalidArgumentError,
    InvalidImageError,
    UnsupportedFormatError,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_DPI",
    "MIN_DPI",
    "Page",
    "count_pages",
    "load_page",
    "load_pages",
    "page_from_image",
    "save_page",
    "to_gray",
]

#: Default decompression-bomb limit: A3 at 600 dpi (7016 x 9921 = 69.6 Mpx) with room to spare.
DEFAULT_MAX_PIXELS = 120_000_000
#: Resolutions outside this range are reported as ``dpi_status="absurd"`` and not used.
MIN_DPI = 50.0
MAX_DPI = 4800.0

_FORMATS = {"PNG", "JPEG", "MPO", "TIFF", "BMP", "WEBP", "GIF", "JPEG2000", "PPM"}
_FORMAT_LIST = "PNG, JPEG, TIFF, BMP, WebP, GIF, JPEG 2000, PNM"
Mode = Literal["L", "RGB", "1"]
DpiStatus = Literal["ok", "missing", "absurd", "assumed"]


@dataclass(frozen=True, eq=False)
class Page:
    """One scanned page (trang): pixels plus where they came from.

    Attributes
    ----------
    pixels : numpy.ndarray
        ``uint8``, C-contiguous, ``(H, W)`` for ``mode`` "L" or "1", ``(H, W, 3)`` for "RGB".
    mode : {"L", "RGB", "1"}
        Colour mode.  "1" marks a page decoded from a bitonal file (pixels are 0 or 255).
    dpi : tuple of float or None
        ``(x_dpi, y_dpi)``, or ``None`` when unknown (see ``dpi_status``).
    source : str
        File name, or ``"<bytes>"`` for in-memory input.
    index : int
        Zero-based frame index inside the source file.
    dpi_status : {"ok", "missing", "absurd", "assumed"}
        Where ``dpi`` came from.
    reported_dpi : tuple of float or None
        The raw value in the file, kept even when it was rejected as absurd.
    """

    pixels: NDArray[np.uint8]
    mode: Mode = "L"
    dpi: tuple[float, float] | None = None
    source: str = "<array>"
    index: int = 0
    dpi_status: DpiStatus = "missing"
    reported_dpi: tuple[float, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        px = as_image(self.pixels, name="Page.pixels")
        object.__setattr__(self, "pixels", px)
        if self.mode not in ("L", "RGB", "1"):
            raise InvalidArgumentError(f"Page.mode must be 'L', 'RGB' or '1', got {self.mode!r}")
        want_rgb = self.mode == "RGB"
        if (px.ndim == 3) != want_rgb:
            raise InvalidArgumentError(
                f"Page.mode {self.mode!r} does not match pixel shape {px.shape}"
            )
        if self.dpi is not None:
            dx, dy = (float(v) for v in self.dpi)
            if not (MIN_DPI <= dx <= MAX_DPI and MIN_DPI <= dy <= MAX_DPI):
                raise InvalidArgumentError(
                    f"Page.dpi must lie in [{MIN_DPI}, {MAX_DPI}], got {self.dpi!r}"
                )
            object.__setattr__(self, "dpi", (dx, dy))
            if self.dpi_status == "missing":
                object.__setattr__(self, "dpi_status", "ok")

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.pixels.shape[1])

    @property
    def is_color(self) -> bool:
        """True when the page holds RGB pixels."""
        return self.mode == "RGB"

    def size_mm(self) -> tuple[float, float] | None:
        """Physical (width, height) in millimetres, or ``None`` when the dpi is unknown."""
        if self.dpi is None:
            return None
        return (self.width * 25.4 / self.dpi[0], self.height * 25.4 / self.dpi[1])

    def with_pixels(self, pixels: NDArray[np.uint8], mode: Mode | None = None) -> Page:
        """Return a copy of this page with new pixels (same dpi, source and index)."""
        arr = as_image(pixels, name="pixels")
        if mode is None:
            mode = "RGB" if arr.ndim == 3 else ("1" if self.mode == "1" else "L")
        return replace(self, pixels=arr, mode=mode)


def to_gray(image: Page | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Convert a page or array to 8-bit grey with the ITU-R 601-2 luma weights.

    ``Y = (19595 R + 38470 G + 7471 B + 32768) >> 16``: the weights 0.299, 0.587, 0.114 in
    16.16 fixed point, rounded half up.  This is bit-identical to Pillow's ``convert("L")``.
    Grey input is returned as is (not copied).

    Raises
    ------
    InvalidArgumentError
        Not a uint8 (H, W) or (H, W, 3) array or Page.

    Examples
    --------
    >>> import numpy as np
    >>> to_gray(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8))
    array([[ 76, 150,  29]], dtype=uint8)
    """
    return as_gray(image)


def _source_name(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return (
        getattr(src, "name", "<stream>")
        if isinstance(getattr(src, "name", None), str)
        else "<stream>"
    )


def _open(src: Any, name: str, max_pixels: int) -> Image.Image:
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        if not data:
            raise InvalidImageError("input is empty (0 bytes)", source=name)
        fp: Any = io.BytesIO(data)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise InvalidImageError("file not found or not a regular file", source=name)
        if path.stat().st_size == 0:
            raise InvalidImageError("file is empty (0 bytes)", source=name)
        fp = path
    elif hasattr(src, "read"):
        fp = src
    else:
        raise InvalidArgumentError(
            f"expected a path, bytes or a binary file object, got {type(src).__name__}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" and the like
            im = Image.open(fp)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc), source=name) from None
    except UnidentifiedImageError:
        raise InvalidImageError(
            f"not a recognised image (expected {_FORMAT_LIST}, or a PDF)", source=name
        ) from None
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(f"cannot read image: {exc}", source=name) from None
    if im.format not in _FORMATS:
        fmt = im.format
        im.close()
        raise UnsupportedFormatError(f"format {fmt} is not accepted ({_FORMAT_LIST})", source=name)
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise ImageTooLargeError(
            f"image is {w}x{h} = {w * h} pixels, above the limit max_pixels={max_pixels} "
            "(raise max_pixels if this is a genuine large scan)",
            source=name,
        )
    return im


def _dpi_of(
    im: Image.Image,
) -> tuple[tuple[float, float] | None, tuple[float, float] | None, DpiStatus]:
    raw = im.info.get("dpi")
    if im.format == "JPEG" and im.info.get("jfif_unit", 1) == 0:
        raw = None  # JFIF density is an aspect ratio only (unit 0): no resolution
    if (
        raw is None
        and im.format == "JPEG"
        and "jfif_density" in im.info
        and im.info.get("jfif_unit") == 2
    ):
        d = im.info["jfif_density"]
        raw = (d[0] * 2.54, d[1] * 2.54)
    if raw is None:
        return None, None, "missing"
    try:
        dx, dy = float(raw[0]), float(raw[1])
    except (TypeError, ValueError, IndexError):
        return None, None, "missing"
    reported = (dx, dy)
    if not (np.isfinite(dx) and np.isfinite(dy)) or dx <= 0 or dy <= 0:
        return None, reported, "absurd"
    # PNG stores integer pixels per metre (1 ppm = 0.0254 dpi): 300 dpi reads back as 299.9994
    # and 72 dpi as 72.009.  Snap values within that quantisation step to the whole dpi.
    dx, dy = (float(round(v)) if abs(v - round(v)) < 0.03 else round(v, 2) for v in (dx, dy))
    if not (MIN_DPI <= dx <= MAX_DPI and MIN_DPI <= dy <= MAX_DPI):
        return None, reported, "absurd"
    return (dx, dy), reported, "ok"


#: What Pillow raises on malformed data besides OSError (a lost TIFF directory gives
#: ``TypeError: Missing dimensions``, bad tag values ``struct.error``/``KeyError``).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    SyntaxError,
    EOFError,
    ZeroDivisionError,
    struct.error,
)
_NATIVE_ORDER = "L" if sys.byteorder == "little" else "B"


def _swap_16(rawmode: str) -> str:
    """The rawmode that unpacks the other byte of each 16-bit sample ("RGB;16L" -> "RGB;16B")."""
    base, _, order = rawmode.rpartition(";16")
    order = _NATIVE_ORDER if order == "N" else order
    return f"{base};16{'B' if order == 'L' else 'L'}"


def _is_16bit_colour(im: Any) -> bool:
    return (
        im.mode in ("RGB", "RGBA")
        and all(
            t.args and isinstance(t.args[0], str) and t.args[0].endswith((";16L", ";16B", ";16N"))
            for t in im.tile
        )
        and bool(im.tile)
    )


def _load_16bit_colour(im: Any) -> NDArray[np.uint8]:
    """Decode a 16-bit-per-sample colour frame with the documented rounding.

    Pillow has no 48-bit mode: it unpacks the high byte of each sample (truncating, 0x00FF
    -> 0).  Decoding the frame a second time with the byte order swapped yields the low
    bytes; ``v16 = hi * 256 + lo`` is then rounded like 16-bit grey.
    """
    tiles = list(im.tile)
    fp = im.fp
    im._close_exclusive_fp_after_loading = False  # keep fp open for the second pass
    im.load()
    hi = np.asarray(im).astype(np.uint32)
    im.fp = fp
    im.tile = [t._replace(args=(_swap_16(t.args[0]), *t.args[1:])) for t in tiles]
    im.load()
    lo = np.asarray(im).astype(np.uint32)
    v8 = (((hi << 8) | lo) * 255 + 32767) // 65535
    return v8.astype(np.uint8)


def _wide_gray_to_8bit(a: NDArray[Any]) -> NDArray[np.uint8]:
    """32-bit integer grey to 8 bits on the scale the values use (module docstring)."""
    if a.size == 0:
        return a.astype(np.uint8)
    low, high = int(a.min()), int(a.max())
    if low < 0:
        raise UnsupportedFormatError("negative integer samples are not accepted")
    wide = a.astype(np.uint64)
    if high <= 255:
        return wide.astype(np.uint8)
    if high <= 65535:
        return ((wide * 255 + 32767) // 65535).astype(np.uint8)
    return ((wide * 255 + 2147483647) // 4294967295).astype(np.uint8)


def _to_array(im: Image.Image, int32: str = "") -> tuple[NDArray[np.uint8], Mode]:
    """``int32``: ``"u"`` or ``"i"`` when the file stores 32-bit unsigned or signed integer
    samples (TIFF BitsPerSample 32, SampleFormat 1 or 2); Pillow reads both as int32."""
    mode = im.mode
    if mode == "1":
        arr = np.asarray(im.convert("L"), dtype=np.uint8)
        return np.ascontiguousarray(arr), "1"
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im).astype(np.uint32)
        arr = ((a * 255 + 32767) // 65535).astype(np.uint8)
        return np.ascontiguousarray(arr), "L"
    if mode == "I":
        a = np.asarray(im)
        if not int32:
            # 16-bit PNG and other 16-bit sources decode to "I" in some Pillow versions.
            if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
                raise UnsupportedFormatError("integer samples outside 0..65535")
            arr = ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
            return np.ascontiguousarray(arr), "L"
        if int32 == "u":
            a = np.ascontiguousarray(a, np.int32).view(np.uint32)
        return np.ascontiguousarray(_wide_gray_to_8bit(a)), "L"
    if mode == "F":
        raise UnsupportedFormatError("floating-point sample images are not accepted")
    if mode in ("P", "PA"):
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La"):
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "RGBa"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4]
        rgb = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
        arr = rgb.astype(np.uint8)
        if np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(
            arr[:, :, 1], arr[:, :, 2]
        ):
            return np.ascontiguousarray(arr[:, :, 0]), "L"
        return np.ascontiguousarray(arr), "RGB"
    if mode == "L":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8)), "L"
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8)), "RGB"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8)), "RGB"
    raise UnsupportedFormatError(f"image mode {mode!r} is not supported")


def count_pages(src: str | os.PathLike[str] | bytes) -> int:
    """Return the number of pages (frames) in an image file without decoding the pixels.

    Raises
    ------
    InvalidImageError, UnsupportedFormatError, ImageTooLargeError
        As :func:`load_pages`; a broken directory raises with ``page_index`` = the number
        of readable pages before it.

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> save_page(np.zeros((4, 4), np.uint8), buf, format="png", dpi=(200, 200))
    >>> count_pages(buf.getvalue())
    1
    """
    name = _source_name(src)
    im = _open(src, name, DEFAULT_MAX_PIXELS * 1000)
    try:
        n = 1
        while _seek(im, n, name):
            n += 1
        return n
    finally:
        im.close()


def load_pages(
    src: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    assume_dpi: float | tuple[float, float] | None = None,
    start: int = 0,
    reduce_to_side: int | None = None,
) -> Iterator[Page]:
    """Decode every page (frame) of an image file, one at a time.

    Parameters
    ----------
    src : path, bytes or binary file object
        PNG, JPEG, TIFF (multi-page, any compression Pillow reads, incl. CCITT G4), BMP, WebP.
    max_pixels : int
        Decompression-bomb guard: a frame with more pixels raises :class:`ImageTooLargeError`
        before it is decoded.
    assume_dpi : float or (float, float), optional
        Resolution to use when the file has none or an absurd one; such pages carry
        ``dpi_status="assumed"``.  Without it those pages have ``dpi=None``.
    start : int
        Index of the first frame to decode (earlier frames are skipped, not decoded).
    reduce_to_side : int, optional
        A JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, several
        times faster than decoding in full) as long as its shorter side stays at least this
        many pixels; its resolution is scaled with it.  Other formats decode in full.  For
        work that needs fewer pixels than a camera gives, e.g. keying a phone photo.

    Yields
    ------
    Page
        In file order, ``index`` = frame number.

    Raises
    ------
    InvalidImageError
        Missing, empty, truncated or non-image input (names the file and the frame).
    UnsupportedFormatError
        A recognised format or pixel mode that is not accepted (e.g. ICO, float TIFF).
    ImageTooLargeError
        A frame above ``max_pixels``.
    InvalidArgumentError
        Bad ``max_pixels``, ``assume_dpi`` or ``start``.

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> save_page(np.zeros((8, 6, 3), np.uint8), buf, format="tiff", dpi=(200, 200))
    >>> [p.mode for p in load_pages(buf.getvalue())]
    ['RGB']
    >>> buf = io.BytesIO()
    >>> save_page(np.zeros((800, 600, 3), np.uint8), buf, format="jpeg", dpi=(200, 200))
    >>> page = next(load_pages(buf.getvalue(), reduce_to_side=250))
    >>> page.pixels.shape, page.dpi
    ((400, 300, 3), (100.0, 100.0))
    """
    if not isinstance(max_pixels, int) or max_pixels <= 0:
        raise InvalidArgumentError(f"max_pixels must be a positive int, got {max_pixels!r}")
    if reduce_to_side is not None and (
        not isinstance(reduce_to_side, int)
        or isinstance(reduce_to_side, bool)
        or reduce_to_side < 1
    ):
        raise InvalidArgumentError(
            f"reduce_to_side must be a positive int or None, got {reduce_to_side!r}"
        )
    if not isinstance(start, int) or start < 0:
        raise InvalidArgumentError(f"start must be a non-negative int, got {start!r}")
    assumed: tuple[float, float] | None = None
    if assume_dpi is not None:
        pair = (assume_dpi, assume_dpi) if isinstance(assume_dpi, (int, float)) else assume_dpi
        try:
            assumed = (float(pair[0]), float(pair[1]))
        except (TypeError, ValueError, IndexError):
            raise InvalidArgumentError(
                f"assume_dpi must be a number or a pair, got {assume_dpi!r}"
            ) from None
        if not all(MIN_DPI <= v <= MAX_DPI for v in assumed):
            raise InvalidArgumentError(
                f"assume_dpi must lie in [{MIN_DPI}, {MAX_DPI}], got {assume_dpi!r}"
            )
    name = _source_name(src)
    return _iter_pages(src, name, max_pixels, assumed, start, reduce_to_side)


_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _first(value: Any) -> Any:
    """A TIFF tag value (a tuple, or one value) reduced to its first item."""
    return value[0] if isinstance(value, tuple) and value else value


def _decode_frame(im: Image.Image) -> tuple[NDArray[np.uint8], Mode]:
    """Pixels of the current frame, upright (EXIF orientation applied), normalised."""
    if _is_16bit_colour(im):
        orientation = im.getexif().get(0x0112, 1)
        colour = Image.fromarray(_load_16bit_colour(im))  # RGB or RGBA, 8 bits, rounded
        if orientation in _ORIENTATION:
            colour = colour.transpose(_ORIENTATION[orientation])
        return _to_array(colour)
    im.load()
    tags = getattr(im, "tag_v2", {}) if im.format == "TIFF" else {}
    int32 = ""
    if im.mode == "I" and _first(tags.get(258)) == 32:
        int32 = "i" if _first(tags.get(339)) == 2 else "u"
    frame = (
        ImageOps.exif_transpose(im)
        if im.format in ("JPEG", "MPO", "WEBP", "PNG", "TIFF", "JPEG2000")
        else im
    )
    return _to_array(frame if frame is not None else im, int32)


def _seek(im: Image.Image, i: int, name: str) -> bool:
    """Move to frame ``i``; False past the last frame.  A broken directory is an error for
    page ``i`` (the frames before it have been read)."""
    try:
        im.seek(i)
    except EOFError:
        return False
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(
            f"page {i + 1} cannot be read (its directory or frame header is broken: {exc}); "
            f"the {i} page(s) before it are readable",
            source=name,
            page_index=i,
        ) from None
    return True


def _draft(im: Image.Image, min_side: int, dpi: tuple[float, float] | None) -> float:
    """Ask libjpeg for the smallest DCT scale keeping the shorter side >= ``min_side`` (and
    a known resolution >= MIN_DPI); the factor the size shrank by (1.0: not reduced)."""
    w, h = im.size
    low = min(dpi) if dpi is not None else math.inf
    scale = 1
    while scale < 8 and min(w, h) // (scale * 2) >= min_side and low / (scale * 2) >= MIN_DPI:
        scale *= 2
    if scale == 1 or im.format not in ("JPEG", "MPO") or im.mode not in ("L", "RGB"):
        return 1.0
    im.draft(im.mode, (-(-w // scale), -(-h // scale)))
    return w / im.size[0]


def _iter_pages(
    src: Any,
    name: str,
    max_pixels: int,
    assumed: tuple[float, float] | None,
    start: int,
    reduce_to_side: int | None = None,
) -> Iterator[Page]:
    im = _open(src, name, max_pixels)
    try:
        # Frames are found one at a time (never via n_frames, which reads every directory
        # first): a broken last directory then costs only the last page.
        i = start
        while _seek(im, i, name):
            try:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageTooLargeError(
                        f"frame is {w}x{h} = {w * h} pixels, above the limit max_pixels={max_pixels}",
                        source=name,
                        page_index=i,
                    )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    warnings.simplefilter("ignore", UserWarning)
                    dpi, reported, status = _dpi_of(im)
                    shrunk = 1.0 if reduce_to_side is None else _draft(im, reduce_to_side, dpi)
                    arr, mode = _decode_frame(im)
                    if shrunk != 1.0 and dpi is not None:
                        dpi = (dpi[0] / shrunk, dpi[1] / shrunk)
            except (ImageTooLargeError, UnsupportedFormatError) as exc:
                if exc.page_index is None:
                    raise type(exc)(str(exc), source=name, page_index=i) from None
                raise
            except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
                raise InvalidImageError(
                    f"cannot decode frame: {exc}", source=name, page_index=i
                ) from None
            if dpi is None and assumed is not None:
                dpi, status = assumed, "assumed"
            yield Page(
                pixels=arr,
                mode=mode,
                dpi=dpi,
                source=name,
                index=i,
                dpi_status=status,
                reported_dpi=reported,
            )
            i += 1
    finally:
        im.close()


def load_page(src: str | os.PathLike[str] | bytes, index: int = 0, **kwargs: Any) -> Page:
    """Decode one page (frame) of a file; see :func:`load_pages` for parameters and errors.

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> save_page(np.zeros((5, 5), np.uint8), buf, format="bmp", dpi=(300, 300))
    >>> load_page(buf.getvalue()).height
    5
    """
    for page in load_pages(src, start=index, **kwargs):
        return page
    raise InvalidArgumentError(f"page index {index} is out of range for {_source_name(src)!r}")


_EXT_FORMAT = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".webp": "WEBP",
}


def save_page(
    page: Page | NDArray[np.uint8],
    dst: str | os.PathLike[str] | IO[bytes],
    *,
    format: str | None = None,
    dpi: tuple[float, float] | None = None,
    jpeg_quality: int = 90,
    bitonal: bool = False,
) -> None:
    """Write a page as PNG, TIFF, JPEG, BMP or WebP, keeping its resolution.

    Files are written atomically (temp file, fsync, rename): an interrupted save never leaves a
    truncated image behind.  TIFF is written with LZW (or CCITT G4 when ``bitonal=True``),
    WebP losslessly, JPEG with ``jpeg_quality`` and 4:4:4 chroma.

    Parameters
    ----------
    page : Page or uint8 array
    dst : path or binary file object
    format : str, optional
        "png", "tiff", "jpeg", "bmp" or "webp"; default from the file extension.
    dpi : (float, float), optional
        Overrides ``page.dpi``.  Without either, no resolution is written.
    bitonal : bool
        Store as 1-bit (pixels < 128 become black); TIFF uses CCITT G4.

    Raises
    ------
    InvalidArgumentError
        Unknown format, bad quality, bad pixel array.
    OSError
        The destination cannot be written.
    """
    if isinstance(page, Page):
        arr, page_dpi = page.pixels, page.dpi
    else:
        arr, page_dpi = as_image(page, name="page"), None
    use_dpi = dpi if dpi is not None else page_dpi
    fmt = format.upper() if format else None
    if fmt == "JPG":
        fmt = "JPEG"
    if fmt == "TIF":
        fmt = "TIFF"
    if fmt is None:
        if isinstance(dst, (str, os.PathLike)):
            fmt = _EXT_FORMAT.get(Path(dst).suffix.lower())
        if fmt is None:
            raise InvalidArgumentError("cannot infer the image format: pass format='png' etc.")
    if fmt not in ("PNG", "TIFF", "JPEG", "BMP", "WEBP"):
        raise InvalidArgumentError(f"format must be png, tiff, jpeg, bmp or webp, got {format!r}")
    if not isinstance(jpeg_quality, int) or not 1 <= jpeg_quality <= 100:
        raise InvalidArgumentError(f"jpeg_quality must be an int in [1, 100], got {jpeg_quality!r}")
    im = Image.fromarray(arr)
    params: dict[str, Any] = {}
    if bitonal:
        im = im.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1")
        if fmt == "JPEG":
            raise InvalidArgumentError("JPEG cannot store bitonal pages; use tiff or png")
    if use_dpi is not None:
        params["dpi"] = (float(use_dpi[0]), float(use_dpi[1]))
    if fmt == "TIFF":
        params["compression"] = "group4" if bitonal else "tiff_lzw"
    elif fmt == "JPEG":
        params.update(quality=jpeg_quality, subsampling=0)
    elif fmt == "WEBP":
        params.update(lossless=True)
    if isinstance(dst, (str, os.PathLike)):
        with atomic_write(dst) as fh:
            im.save(fh, format=fmt, **params)
    else:
        im.save(dst, format=fmt, **params)


def page_from_image(
    im: Image.Image,
    *,
    source: str,
    index: int = 0,
    dpi: tuple[float, float] | None = None,
) -> Page:
    """A :class:`Page` from an already decoded Pillow image, normalised as :func:`load_pages` does.

    For decoders outside this module (a PDF page's embedded scan, see
    :mod:`onestop_docs.pdfinput`), which know the resolution from elsewhere.

    Raises
    ------
    UnsupportedFormatError
        A pixel mode that is not accepted (float samples).

    Examples
    --------
    >>> from PIL import Image
    >>> page_from_image(Image.new("1", (8, 4), 1), source="x.pdf", dpi=(300.0, 300.0)).mode
    '1'
    """
    try:
        arr, mode = _to_array(im)
    except UnsupportedFormatError as exc:
        raise UnsupportedFormatError(str(exc), source=source, page_index=index) from None
    return Page(pixels=arr, mode=mode, dpi=dpi, source=source, index=index)
