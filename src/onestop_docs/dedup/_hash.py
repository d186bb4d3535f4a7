"""The :class:`Hash` value type and the standard perceptual hashes (aHash, dHash, pHash, PDQ)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

import onestop_docs._native.dedup_hash as _k

from .._validate import as_gray, as_image, check_int
from ..errors import InvalidArgumentError

__all__ = [
    "Compat",
    "Hash",
    "PdqResult",
    "ahash",
    "dhash",
    "pdq",
    "phash",
]

Compat = Literal["imagehash", "fast"]

_HASH_SIZES = (8, 16)


@dataclass(frozen=True, slots=True)
class Hash:
    """An immutable bit string: a perceptual hash (mã băm cảm nhận) of ``nbits`` bits.

    Bit order and hex encoding follow the ``imagehash`` package: bit 0 is the most significant
    bit of the first byte, and :meth:`hex` writes the bytes in order.  PDQ hashes use the same
    layout with the reference implementation's word order (``Hash256::format``), so the hex of a
    :func:`pdq` hash equals the reference tool's output.

    Attributes
    ----------
    data : bytes
        ``nbits // 8`` bytes.
    nbits : int
        Bit length, a positive multiple of 8.

    Examples
    --------
    >>> a = Hash.from_hex("ff00ff00ff00ff00")
    >>> b = Hash.from_hex("ff00ff00ff00ff0f")
    >>> a.nbits, a - b, a.hamming(b)
    (64, 4, 4)
    >>> str(a)
    'ff00ff00ff00ff00'
    """

    data: bytes
    nbits: int

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise InvalidArgumentError(f"Hash.data must be bytes, got {type(self.data).__name__}")
        check_int(self.nbits, "Hash.nbits")
        if self.nbits <= 0 or self.nbits % 8:
            raise InvalidArgumentError(
                f"Hash.nbits must be a positive multiple of 8, got {self.nbits}"
            )
        if len(self.data) * 8 != self.nbits:
            raise InvalidArgumentError(
                f"Hash of {self.nbits} bits needs {self.nbits // 8} bytes, got {len(self.data)}"
            )

    @classmethod
    def from_hex(cls, text: str, nbits: int | None = None) -> Hash:
        """Parse a hex string (``imagehash``/PDQ style, no prefix).

        Parameters
        ----------
        text : str
            Hex digits, upper or lower case; the length must be ``nbits / 4``.
        nbits : int, optional
            Expected bit length (64 or 256 for the hashes of this module).  Default: four
            bits per digit.

        Raises
        ------
        InvalidArgumentError
            Non-hex characters, an odd number of digits, or a length that does not match
            ``nbits``.

        Examples
        --------
        >>> Hash.from_hex("0F" * 8).hex()
        '0f0f0f0f0f0f0f0f'
        >>> Hash.from_hex("abc", nbits=64)
        Traceback (most recent call last):
        ...
        onestop_docs.errors.InvalidArgumentError: ...
        """
        if not isinstance(text, str):
            raise InvalidArgumentError(f"hash hex must be a str, got {type(text).__name__}")
        s = text.strip()
        if nbits is not None and len(s) * 4 != nbits:
            raise InvalidArgumentError(
                f"a {nbits}-bit hash needs {nbits // 4} hex digits, got {len(s)} in {text!r}"
            )
        if not s or len(s) % 2:
            raise InvalidArgumentError(
                f"hash hex must have a positive even number of digits, got {len(s)} in {text!r}"
            )
        bad = next((i for i, c in enumerate(s) if c not in "0123456789abcdefABCDEF"), None)
        if bad is not None:
            raise InvalidArgumentError(
                f"hash hex has a non-hex character {s[bad]!r} at position {bad} in {text!r}"
            )
        return cls(bytes.fromhex(s), len(s) * 4)

    @classmethod
    def from_bits(cls, bits: Any) -> Hash:
        """Build a hash from booleans in bit order (a 2-D array is read row by row).

        Examples
        --------
        >>> Hash.from_bits([True] * 4 + [False] * 4).hex()
        'f0'
        """
        arr = np.asarray(bits)
        if arr.dtype != np.bool_:
            raise InvalidArgumentError(f"bits must be booleans, got dtype {arr.dtype}")
        flat = arr.ravel()
        if flat.size == 0 or flat.size % 8:
            raise InvalidArgumentError(
                f"bits must hold a positive multiple of 8 values, got {flat.size}"
            )
        return cls(np.packbits(flat).tobytes(), int(flat.size))

    def bits(self) -> NDArray[np.bool_]:
        """The bits as a flat bool array, in bit order."""
        return np.unpackbits(np.frombuffer(self.data, np.uint8)).astype(bool)

    def hex(self) -> str:
        """Lower-case hex, ``nbits / 4`` digits (identical to ``str(imagehash.ImageHash)``)."""
        return self.data.hex()

    def hamming(self, other: Hash) -> int:
        """Number of differing bits.

        Raises
        ------
        InvalidArgumentError
            ``other`` is not a :class:`Hash` or has another bit length.
        """
        if not isinstance(other, Hash):
            raise InvalidArgumentError(f"can only compare with a Hash, got {type(other).__name__}")
        if other.nbits != self.nbits:
            raise InvalidArgumentError(
                f"cannot compare a {self.nbits}-bit hash with a {other.nbits}-bit hash"
            )
        x = int.from_bytes(self.data, "big") ^ int.from_bytes(other.data, "big")
        return x.bit_count()

    def __sub__(self, other: Hash) -> int:
        return self.hamming(other)

    def __len__(self) -> int:
        return self.nbits

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"Hash({self.hex()!r}, nbits={self.nbits})"


@dataclass(frozen=True, slots=True)
class PdqResult:
    """A PDQ hash and its quality score.

    Attributes
    ----------
    hash : Hash
        256 bits.
    quality : int
        0..100, the reference's gradient-sum heuristic; Meta suggests discarding hashes with
        quality below 50 for photos.  Text pages usually score 100.
    """

    hash: Hash
    quality: int

    def __iter__(self) -> Any:
        # Unpacking ``h, q = pdq(img)`` is part of the documented API.
        return iter((self.hash, self.quality))


# ---------------------------------------------------------------------------------------
# Input handling


def _pil_image(image: Any) -> Any:
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    return Image.fromarray(as_image(image))


def _gray_array(image: Any) -> NDArray[np.uint8]:
    from PIL import Image

    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("L"))  # read-only is fine: the kernels only read
    return as_gray(image)


def _check_size(hash_size: int) -> None:
    # 16.0 == 16 would pass a membership test and fail later as a slice index.
    if (
        not isinstance(hash_size, int)
        or isinstance(hash_size, bool)
        or hash_size not in _HASH_SIZES
    ):
        raise InvalidArgumentError(f"hash_size must be 8 or 16, got {hash_size!r}")


def _check_compat(compat: str) -> None:
    if compat not in ("imagehash", "fast"):
        raise InvalidArgumentError(f"compat must be 'imagehash' or 'fast', got {compat!r}")


def _pillow_small(image: Any, width: int, height: int) -> NDArray[np.uint8]:
    # Exactly the imagehash steps: convert("L") first, then a Lanczos resize.
    from PIL import Image

    img = _pil_image(image).convert("L").resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(img)


def area_resize(gray: NDArray[np.uint8], height: int, width: int) -> NDArray[np.float64]:
    """Area-average ``gray`` to ``(height, width)`` float64 (exact pixel-overlap weights)."""

    out = np.empty((height, width), np.float64)
    _k.area_resize(gray, out)
    return out


_DCT_CACHE: dict[int, NDArray[np.float64]] = {}


def _dct_matrix(n: int) -> NDArray[np.float64]:
    # Unnormalised DCT-II as scipy.fftpack.dct: y_k = 2 sum_j x_j cos(pi k (2j + 1) / 2n).
    m = _DCT_CACHE.get(n)
    if m is None:
        k = np.arange(n)[:, None]
        j = np.arange(n)[None, :]
        m = 2.0 * np.cos(np.pi * k * (2 * j + 1) / (2 * n))
        _DCT_CACHE[n] = m
    return m


def dct2(pixels: NDArray[Any]) -> NDArray[np.float64]:
    """2-D unnormalised DCT-II, ``scipy.fftpack.dct(dct(x, axis=0), axis=1)``."""
    x = np.asarray(pixels, np.float64)
    return _dct_matrix(x.shape[0]) @ x @ _dct_matrix(x.shape[1]).T


def _dct2_compat(pixels: NDArray[Any]) -> NDArray[np.float64]:
    try:
        fftpack: Any = importlib.import_module("scipy.fftpack")
    except ImportError:  # pragma: no cover - scipy comes with imagehash
        return dct2(pixels)
    return np.asarray(fftpack.dct(fftpack.dct(pixels, axis=0), axis=1))


# ---------------------------------------------------------------------------------------
# imagehash-compatible hashes


def ahash(image: Any, hash_size: int = 8, *, compat: Compat = "imagehash") -> Hash:
    """Average hash (aHash): ``hash_size`` x ``hash_size`` thumbnail, bit = pixel > mean.

    Parameters
    ----------
    image : numpy.ndarray, Page or PIL.Image.Image
        uint8 grey or RGB pixels, a :class:`~onestop_docs.imageio.Page`, or any PIL image
        (RGBA, P, ... are converted with ``convert("L")`` exactly as ``imagehash`` does).
    hash_size : {8, 16}
        Thumbnail side; the hash has ``hash_size ** 2`` bits.
    compat : {"imagehash", "fast"}
        ``"imagehash"`` (default) reproduces ``imagehash.average_hash`` bit for bit (Pillow
        Lanczos resize).  ``"fast"`` uses an exact area average instead of Lanczos: much faster
        on full pages, but not interchangeable with stored imagehash values.

    Returns
    -------
    Hash

    Raises
    ------
    InvalidArgumentError
        Bad pixel data, ``hash_size`` or ``compat``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    >>> ahash(img).hex()
    '0f0f0f0f0f0f0f0f'
    """
    _check_size(hash_size)
    _check_compat(compat)
    if compat == "imagehash":
        px: NDArray[Any] = _pillow_small(image, hash_size, hash_size)
    else:
        px = area_resize(_gray_array(image), hash_size, hash_size)
    return Hash.from_bits(px > np.mean(px))


def dhash(image: Any, hash_size: int = 8, *, compat: Compat = "imagehash") -> Hash:
    """Difference hash (dHash): bit = right neighbour brighter, on a ``(hs + 1) x hs`` thumbnail.

    Same parameters, errors and ``compat`` meaning as :func:`ahash`; ``"imagehash"``
    reproduces ``imagehash.dhash``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.arange(90, dtype=np.uint8) * 2, (80, 1))
    >>> dhash(img).hex()
    'ffffffffffffffff'
    """
    _check_size(hash_size)
    _check_compat(compat)
    if compat == "imagehash":
        px: NDArray[Any] = _pillow_small(image, hash_size + 1, hash_size)
    else:
        px = area_resize(_gray_array(image), hash_size, hash_size + 1)
    return Hash.from_bits(px[:, 1:] > px[:, :-1])


def phash(image: Any, hash_size: int = 8, *, compat: Compat = "imagehash") -> Hash:
    """DCT perceptual hash (pHash) as defined by ``imagehash.phash``.

    The image is reduced to ``4 * hash_size`` square, a 2-D DCT-II is taken, and bit
    ``(i, j)`` of the low-frequency ``hash_size`` x ``hash_size`` block (DC included) is set
    when the coefficient exceeds the block's median.

    Same parameters, errors and ``compat`` meaning as :func:`ahash`: ``"imagehash"``
    reproduces ``imagehash.phash`` bit for bit; ``"fast"`` (area average, matrix DCT) is the
    one to use on full pages when stored imagehash values are not involved.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:64, :64]
    >>> img = (128 + 100 * np.sin(x / 5.0) * np.cos(y / 9.0)).astype(np.uint8)
    >>> phash(img) - phash(img, compat="fast") <= 6
    True
    """
    _check_size(hash_size)
    _check_compat(compat)
    n = hash_size * 4
    if compat == "imagehash":
        coeffs = _dct2_compat(_pillow_small(image, n, n))
    else:
        coeffs = dct2(area_resize(_gray_array(image), n, n))
    low = coeffs[:hash_size, :hash_size]
    return Hash.from_bits(low > np.median(low))


# ---------------------------------------------------------------------------------------
# PDQ


def pdq_luma(image: Any) -> NDArray[np.float32]:
    """float32 luma plane PDQ hashes: grey values as they are, RGB as ``pdqhash`` computes it
    (``0.299 R + 0.587 G + 0.114 B`` in double precision, rounded to float32)."""

    arr = as_image(image)
    out = np.empty(arr.shape[:2], np.float32)
    if arr.ndim == 3:
        _k.luma_pdq(arr, out)
    else:
        _k.gray_to_float(arr, out)
    return out


def _pdq_reduced(arr: NDArray[np.uint8], factor: int) -> NDArray[np.float32]:

    gray = as_gray(arr)
    h, w = gray.shape
    out = np.empty((-(-h // factor), -(-w // factor)), np.float32)
    _k.box_reduce(gray, factor, out)
    return out


def pdq_dct(luma: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    """PDQ float stage on a float32 luma plane: the 16x16 DCT block and the quality score."""
    return _pdq_dct_in_place(np.array(luma, dtype=np.float32, order="C", copy=True))


def _pdq_dct_in_place(buf1: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    # pdq_dct on a C-contiguous float32 plane the caller owns: the kernel overwrites it.
    buf2 = np.empty_like(buf1)
    out = np.empty((16, 16), np.float32)
    quality = int(_k.pdq_float(buf1, buf2, out))
    return out, quality


def _bits_from_dct16(block: NDArray[np.float32]) -> Hash:
    # Reference: bit k = i * 16 + j is set when the coefficient exceeds the lower median
    # (Torben's selection returns the 128th smallest of 256); Hash256::format prints word 15
    # first, so bit k sits at position 255 - k of our MSB-first bit string.
    flat = block.ravel()
    median = np.partition(flat, 127)[127]
    return Hash.from_bits((flat > median)[::-1])


def pdq(image: Any, *, max_side: int | None = None) -> PdqResult:
    """PDQ 256-bit hash and quality, following Meta's reference implementation.

    Steps: luma (float32), two X/Y passes of Jarosz box filters (window
    ``(side + 127) // 128``), decimation to 64x64 at cell centres, quality from the 64x64
    gradients, 16x16 DCT (frequencies 1..16), bit = coefficient > median.  The float32
    arithmetic is done in the reference's order, so the hash is bit-identical to the
    reference (``pdqhash``) at every size.  Hex order is the reference's ``Hash256::format``
    (word 15 first), so hashes mix with data from ``pdqhash``, ThreatExchange or the
    reference CLI.

    Parameters
    ----------
    image : numpy.ndarray or Page
        uint8 grey or RGB.  RGB luma is computed as the ``pdqhash`` package does
        (``0.299 R + 0.587 G + 0.114 B`` in double precision, rounded to float32).
    max_side : int, optional
        Deliberate, documented shortcut: first average ``f x f`` blocks of grey values with
        ``f = longer_side // max_side`` (when ``f >= 2``), then hash the reduced plane.  Not
        bit-identical to the reference (text pages, whose DCT coefficients crowd around the
        median, move by 10-30 bits at ``max_side=512``); use it only for hashes compared
        with each other, as :func:`page_hash` does.  Default: no shortcut.

    Returns
    -------
    PdqResult
        ``(hash, quality)``; unpacks as a pair.  Images smaller than 5 pixels on a side get
        the all-zero hash with quality 0, as in the reference.

    Raises
    ------
    InvalidArgumentError
        Bad pixel data or ``max_side``.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:200, :160]
    >>> img = (128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)).astype(np.uint8)
    >>> h, q = pdq(img)
    >>> h.nbits, 0 <= q <= 100
    (256, True)
    """
    arr = as_image(image)
    if max_side is not None:
        check_int(max_side, "max_side", 64)
    h, w = arr.shape[:2]
    if h < 5 or w < 5:
        return PdqResult(Hash(bytes(32), 256), 0)
    factor = 1 if max_side is None else max(h, w) // max_side
    if factor >= 2:
        block, quality = _pdq_dct_in_place(_pdq_reduced(arr, factor))
    elif h >= 64 and w >= 64:
        block = np.empty((16, 16), np.float32)
        channels = 1 if arr.ndim == 2 else 3
        quality = int(_k.pdq_stream_plane(arr.reshape(h, w * channels), channels, block))
    else:
        block, quality = _pdq_dct_in_place(pdq_luma(arr))
    return PdqResult(_bits_from_dct16(block), quality)
