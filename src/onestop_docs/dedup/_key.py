"""The document key (khóa tài liệu): a page normalised by the frame of its ink, a 256-bit
candidate hash and a canonical ink bitmap for the block-wise verifier."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._morph import dilate3x3
from .._native import bitplane as _bitplane  # type: ignore[attr-defined]
from .._native import dedup_key as _k  # type: ignore[attr-defined]
from .._validate import as_gray, check_int, check_range
from ..errors import BlankPageError, InvalidArgumentError, KeyFormatError
from ._hash import Hash, area_resize, dct2

__all__ = [
    "CANDIDATE_RADIUS",
    "FINE_SHAPE",
    "KEY_SHAPE",
    "KEY_VERSION",
    "MAX_ASPECT_DIFF",
    "DocumentKey",
    "MatchOptions",
    "Verdict",
    "document_key",
    "match_keys",
]

#: Version of the key algorithm and of its byte format.  Keys of different versions are
#: never compared: a store must re-key its pages when this changes.
KEY_VERSION = 2
#: Shape (rows, columns) of the canonical ink bitmaps: the ink frame plus a margin,
#: resampled to this size whatever the page size (about 70 dpi on an A4 text block).
KEY_SHAPE = (768, 544)
#: Shape of the fine bitmaps (version 2): twice :data:`KEY_SHAPE` per axis, about 140 dpi
#: on an A4 text block, sampled from the page at its own resolution near the ink only.
FINE_SHAPE = (2 * KEY_SHAPE[0], 2 * KEY_SHAPE[1])
# ... as a key holds them: each row bit-packed (np.packbits along rows), 1/8 of the memory
_FINE_PACKED = (FINE_SHAPE[0], FINE_SHAPE[1] // 8)
# bit order reversed within a byte: turning a packed row is reversing its bytes and these
_BIT_REVERSE = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], np.uint8)


def _turn_packed(plane: NDArray[np.uint8] | None) -> NDArray[np.uint8] | None:
    # a bit-packed fine bitmap turned by 180 degrees (None stays None)
    return None if plane is None else _BIT_REVERSE[plane[::-1, ::-1]]


# flags bit 1 of the byte format: the body is context-coded (see DocumentKey.to_bytes)
_CODED = 2


def _unpack_fine(plane: NDArray[np.uint8] | None) -> NDArray[np.uint8]:
    assert plane is not None
    return np.unpackbits(plane, axis=1, count=FINE_SHAPE[1])


def _code_pair(ink: NDArray[Any], tol: NDArray[Any]) -> bytes:
    # one (ink, tolerance) pair of equal-shape bitmaps, coded losslessly (non-zero = 1)
    a = np.ascontiguousarray(ink, np.uint8)
    b = np.ascontiguousarray(tol, np.uint8)
    out = np.empty(a.size // 2 + 4096, np.uint8)  # far above the worst case (~a.size / 3.9)
    n = _bitplane.encode_pair(a, b, out)
    if n == -2:
        raise MemoryError("no memory for the key coder")
    if n < 0:  # noise cannot come from document_key; stay lossless anyway: a bit costs at
        # most 11 bits (the smallest probability is 31 / 65536), two planes and a row flag
        out = np.empty(3 * a.size + 2 * a.shape[0] * 2 + 4096, np.uint8)
        n = _bitplane.encode_pair(a, b, out)
        if n < 0:
            raise MemoryError("no memory for the key coder")
    return out[:n].tobytes()


def _decode_pair(
    data: bytes, shape: tuple[int, int], what: str
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    a = np.empty(shape, np.uint8)
    b = np.empty(shape, np.uint8)
    n = _bitplane.decode_pair(np.frombuffer(data, np.uint8), a, b)
    if n == -2:
        raise MemoryError("no memory for the key decoder")
    if n != len(data):
        raise KeyFormatError(
            f"document key {what} bitmaps corrupt: the coded stream of {len(data)} bytes "
            f"{'ends early' if n < 0 else f'decodes from its first {n}'}"
        )
    return a, b


def _decode_body(
    body: bytes, fine: bool, want_fine: bool
) -> tuple[
    NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8] | None, NDArray[np.uint8] | None
]:
    if len(body) < 4:
        raise KeyFormatError(f"document key body of {len(body)} bytes")
    (clen,) = struct.unpack_from("<I", body)
    if clen > len(body) - 4 or (not fine and clen != len(body) - 4):
        raise KeyFormatError(f"document key body of {len(body)} bytes, coarse part {clen}")
    ink, tol = _decode_pair(body[4 : 4 + clen], KEY_SHAPE, "coarse")
    if not (fine and want_fine):
        return ink, tol, None, None
    fi, ft = _decode_pair(body[4 + clen :], FINE_SHAPE, "fine")
    return ink, tol, np.packbits(fi, axis=1), np.packbits(ft, axis=1)


#: Candidate stage: Hamming distance (of 256 bits) between candidate hashes up to which a
#: stored key is handed to the verifier.  :func:`match_keys` applies the same limit, so a
#: radius search in a :class:`~onestop_docs.dedup.HashIndex` followed by :func:`match_keys`
#: decides exactly as :func:`match_keys` on every pair.
CANDIDATE_RADIUS = 72
#: Verifier: largest allowed ``|log(aspect_a / aspect_b)|`` of the two ink frames.
MAX_ASPECT_DIFF = 0.06
#: Assumed resolution when neither the page nor the caller gives one.
DEFAULT_DPI = 300.0

_WORK_DPI = 100.0  # the page is reduced to about this resolution by an integer factor
_PAPER_BLOCK_MM = 8.0  # cell of the paper-level estimate
_INK = 0.35  # darkness (0 paper .. 1 black) from which a work pixel is ink
_EDGE = 0.25  # darkness from which a pixel can belong to a border touching the edge
_PAPER_MIN = 0.5  # a cell whose paper level is below this share of the median is not paper
_QUANTILE = 0.01  # the ink frame: 1 % and 99 % quantiles of the ink along both axes
_MARGIN = 0.06  # canonical image = frame + 6 % of its size on every side
_KEY_INK = 0.30  # canonical darkness of ink bitmap pixels
_KEY_TOL = 0.12  # canonical darkness of tolerance pixels (dilated by one pixel)
_BLOCK = 24  # verifier cell, canonical pixels (about 9 mm)
_SHIFT = 2  # verifier shift search, canonical pixels
_SHIFT_REGISTERED = 1  # ... around a fitted registration field
_MIN_ABS = 14  # verifier: unexplained pixels always allowed per cell
_FRAC = 0.25  # verifier: unexplained share of the cell's ink allowed
_SUPERSAMPLE = 1  # warp sub-samples per canonical pixel and axis
_MAX_POINTS = 30_000  # ink points used for the skew search and the frame quantiles
_QUIET = 2  # verifier: a cell with this few unexplained pixels is not shift-searched
_WINDOW = (1, 1)  # verifier: cells summed per score window
_FINE_WHERE = 0.08  # fine bitmaps: computed where the canonical darkness reaches this


@dataclass(frozen=True)
class MatchOptions:
    """Limits of :func:`match_keys` (defaults: the module constants, chosen on evalkit's
    tuning seeds, see ``docs/dedup.md``).

    Attributes
    ----------
    candidate_radius : int
        Largest candidate-hash distance (of 256).  Default :data:`CANDIDATE_RADIUS`.
    max_aspect_diff : float
        Largest ``|log(aspect_a / aspect_b)|``.  Default :data:`MAX_ASPECT_DIFF`.
    ink_allowance : float
        Share of a cell's ink that may stay unexplained (above a floor of a few pixels).
        Default 0.25.
    register : bool
        When a cell rejects, fit a smooth shift field to the cells that matched and search
        every cell again around it (see :func:`ink_scores`); the registered pass may accept
        only with its worst cell at 0.8 or below.  If the pair still rejects in a few
        cells, a second attempt tracked around :func:`alignment_prior` may accept it at
        0.5 or below.  Default True: on evalkit's untuned seeds the registered pass found
        294/303 rescans (full s21-s26; 284 without it) and 19/24 phone pairs (hard s23-s25;
        18 without it) with no more false matches than the first pass alone
        (``docs/benchmarks.md``, "Accuracy: document key and capture"); with the second
        attempt 302/303 (section "Document key, session 2026-12-07b").
    fine : bool
        Final stage: when both keys carry fine bitmaps (:data:`FINE_SHAPE`, version 2), a
        pair the block verifier accepts is checked once more at twice the resolution, in
        every inked cell at the cell's shift (see :func:`fine_cores`); compact clusters of
        unexplained fine ink (a changed letter or digit) adding up to 36 cores in a window
        of 2 x 3 cells reject, and so do 8 thick blocks there (3 x 3 blocks of unexplained
        ink joined to ink the other page explains: a stroke one glyph has and the other
        lacks), and so does one lost hole (paper that one page's glyph encloses and the
        other's leaves open, as an 8 against a 6).
        Default True.
    """

    candidate_radius: int = 72
    max_aspect_diff: float = 0.06
    ink_allowance: float = 0.25
    register: bool = True
    fine: bool = True

    def __post_init__(self) -> None:
        check_int(self.candidate_radius, "candidate_radius", 0, 256)
        check_range(self.max_aspect_diff, "max_aspect_diff", 0.0, 10.0)
        check_range(self.ink_allowance, "ink_allowance", 0.0, 1.0)
        if not isinstance(self.register, bool):
            raise InvalidArgumentError(f"register must be True or False, got {self.register!r}")
        if not isinstance(self.fine, bool):
            raise InvalidArgumentError(f"fine must be True or False, got {self.fine!r}")


_MAGIC = b"ODK"
_HEADER = struct.Struct("<3sBHHfB32s32sI")


@dataclass(frozen=True, eq=False)
class DocumentKey:
    """Document key of one page (khóa tài liệu): what survives a rescan or a photo.

    Build one with :func:`document_key`, compare two with :func:`match_keys`, store one
    with :meth:`to_bytes` / :meth:`from_bytes`.

    Attributes
    ----------
    candidate : Hash
        256-bit DCT hash of the canonical page (16 x 16 low frequencies of a 64 x 64
        average, median threshold).  Search stored keys within :data:`CANDIDATE_RADIUS`.
    candidate_flip : Hash
        The same hash of the page turned by 180 degrees (look both up).
    ink : numpy.ndarray
        uint8 0/1 bitmap of shape :data:`KEY_SHAPE`: canonical pixels that are ink.
    tolerance : numpy.ndarray
        uint8 0/1 bitmap of shape :data:`KEY_SHAPE`: faint ink dilated by one pixel; ink of
        another copy is "explained" where this is 1.
    aspect : float
        Height / width of the ink frame in page units (before canonical resampling).
    version : int
        :data:`KEY_VERSION` of the algorithm that made the key.
    fine_ink, fine_tolerance : numpy.ndarray or None
        The fine bitmaps (shape :data:`FINE_SHAPE`: twice the resolution, computed near the
        ink only) for the verifier's final stage, each row bit-packed
        (``np.packbits(bitmap, axis=1)``, uint8 of shape ``(FINE_SHAPE[0], FINE_SHAPE[1] //
        8)``, a fifth of a MB each); :meth:`fine_bitmaps` unpacks them.  None (a key built
        from coarse bitmaps alone) skips that stage.
    """

    candidate: Hash
    candidate_flip: Hash
    ink: NDArray[np.uint8] = field(repr=False)
    tolerance: NDArray[np.uint8] = field(repr=False)
    aspect: float
    version: int = KEY_VERSION
    fine_ink: NDArray[np.uint8] | None = field(default=None, repr=False)
    fine_tolerance: NDArray[np.uint8] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("candidate", "candidate_flip"):
            h = getattr(self, name)
            if not isinstance(h, Hash) or h.nbits != 256:
                raise InvalidArgumentError(f"DocumentKey.{name} must be a 256-bit Hash")
        for name in ("ink", "tolerance"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != KEY_SHAPE:
                raise InvalidArgumentError(
                    f"DocumentKey.{name} must be a uint8 array of shape {KEY_SHAPE}"
                )
        if not (math.isfinite(self.aspect) and self.aspect > 0):
            raise InvalidArgumentError(f"DocumentKey.aspect must be > 0, got {self.aspect}")
        if (self.fine_ink is None) != (self.fine_tolerance is None):
            raise InvalidArgumentError("DocumentKey: fine_ink and fine_tolerance go together")
        for name in ("fine_ink", "fine_tolerance"):
            a = getattr(self, name)
            if a is not None and (
                not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != _FINE_PACKED
            ):
                raise InvalidArgumentError(
                    f"DocumentKey.{name} must be None or a bit-packed uint8 array of shape "
                    f"{_FINE_PACKED}"
                )

    @property
    def has_fine(self) -> bool:
        """True when the key carries the fine bitmaps (the verifier's final stage)."""
        return self.fine_ink is not None

    def fine_bitmaps(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """The fine ink and tolerance bitmaps unpacked: uint8 0/1 of shape :data:`FINE_SHAPE`.

        Raises
        ------
        InvalidArgumentError
            The key carries no fine bitmaps.
        """
        if self.fine_ink is None or self.fine_tolerance is None:
            raise InvalidArgumentError("this document key carries no fine bitmaps")
        return (
            np.unpackbits(self.fine_ink, axis=1, count=FINE_SHAPE[1]),
            np.unpackbits(self.fine_tolerance, axis=1, count=FINE_SHAPE[1]),
        )

    def flipped(self, *, fine: bool = True) -> DocumentKey:
        """The key of the same page turned by 180 degrees.

        ``fine=False`` leaves the fine bitmaps out of the turned key (``None``): the
        verifier turns them only for a pair that reaches its final stage.
        """
        return DocumentKey(
            self.candidate_flip,
            self.candidate,
            np.ascontiguousarray(self.ink[::-1, ::-1]),
            np.ascontiguousarray(self.tolerance[::-1, ::-1]),
            self.aspect,
            self.version,
            _turn_packed(self.fine_ink) if fine else None,
            _turn_packed(self.fine_tolerance) if fine else None,
        )

    def to_bytes(self) -> bytes:
        """Serialise the key (about 25-50 KB for a typical A4 page).

        Format, all integers little-endian::

            magic    3 bytes  b"ODK"
            version  uint8    KEY_VERSION
            rows     uint16   KEY_SHAPE[0]
            cols     uint16   KEY_SHAPE[1]
            aspect   float32  ink-frame height / width
            flags    uint8    bit 0: the fine bitmaps follow;
                              bit 1: the body is context-coded (other bits 0)
            candidate       32 bytes  (Hash.data)
            candidate_flip  32 bytes
            body_len uint32   length of the body
            body     with flag bit 1 (what this method writes):
                       coarse_len uint32, then the (ink, tolerance) pair coded
                       losslessly by an adaptive binary range coder with a
                       JBIG-like context model (``_native.bitplane``), then with
                       flag bit 0 the (fine_ink, fine_tolerance) pair coded the same way;
                     without flag bit 1 (read; written by earlier builds): a zlib stream of
                       packbits(ink) + packbits(tolerance), row-major, most
                       significant bit first, then with flag bit 0 packbits(fine_ink) +
                       packbits(fine_tolerance) (FINE_SHAPE)
            crc32    uint32   of everything before it

        The context coder makes an evalkit page's key about 2.9 times smaller than the
        zlib body (26-49 KB), for about 15 ms to write and 15-18 ms to read it.  Version 1 (before the fine bitmaps) had the same
        layout with flags 0 only; it is no longer read (:meth:`from_bytes` raises
        :class:`KeyFormatError`).

        Examples
        --------
        >>> import numpy as np
        >>> from onestop_docs.dedup import Hash
        >>> z = np.zeros(KEY_SHAPE, np.uint8)
        >>> k = DocumentKey(Hash(bytes(32), 256), Hash(bytes(32), 256), z, z, 1.4)
        >>> bool(DocumentKey.from_bytes(k.to_bytes()).aspect == np.float32(1.4))
        True
        """
        fine = self.fine_ink is not None and self.fine_tolerance is not None
        coarse = _code_pair(self.ink, self.tolerance)
        body = struct.pack("<I", len(coarse)) + coarse
        if fine:
            body += _code_pair(_unpack_fine(self.fine_ink), _unpack_fine(self.fine_tolerance))
        head = _HEADER.pack(
            _MAGIC,
            self.version,
            KEY_SHAPE[0],
            KEY_SHAPE[1],
            self.aspect,
            (1 if fine else 0) | _CODED,
            self.candidate.data,
            self.candidate_flip.data,
            len(body),
        )
        blob = head + body
        return blob + struct.pack("<I", zlib.crc32(blob))

    @classmethod
    def from_bytes(cls, data: bytes, *, fine: bool = True) -> DocumentKey:
        """Read a key written by :meth:`to_bytes` (either body format).

        Parameters
        ----------
        data : bytes
            What :meth:`to_bytes` wrote.
        fine : bool
            False: leave out the fine bitmaps (the key is then compared by the coarse
            stages only).  Reading a context-coded key costs about 3-4 ms without them
            and 15-18 ms with them (1.5 ms for a zlib body), so a store that verifies
            many candidates reads them coarse first and again in full only for the pairs
            the coarse stages accept (:func:`match_keys` runs the fine stage on those
            pairs only): the same decisions.

        Raises
        ------
        KeyFormatError
            Not a key, truncated or corrupt (CRC, or a body that does not decode to
            exactly its planes), or a version other than :data:`KEY_VERSION`.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise KeyFormatError(f"a document key is bytes, got {type(data).__name__}")
        if not isinstance(fine, bool):
            raise InvalidArgumentError(f"fine must be True or False, got {fine!r}")
        data = bytes(data)
        if len(data) < _HEADER.size + 4:
            raise KeyFormatError(f"document key truncated: {len(data)} bytes")
        magic, version, rows, cols, aspect, flags, cand, flip, blen = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise KeyFormatError(f"not a document key (magic {magic!r})")
        if version != KEY_VERSION:
            raise KeyFormatError(
                f"document key version {version}; this library reads version {KEY_VERSION}"
            )
        if len(data) != _HEADER.size + blen + 4:
            raise KeyFormatError(
                f"document key of {len(data)} bytes, header says {_HEADER.size + blen + 4}"
            )
        (crc,) = struct.unpack_from("<I", data, len(data) - 4)
        if zlib.crc32(data[:-4]) != crc:
            raise KeyFormatError("document key corrupt (CRC mismatch)")
        if (rows, cols) != KEY_SHAPE or flags & ~(1 | _CODED):
            raise KeyFormatError(f"document key of shape {(rows, cols)}, flags {flags}")
        if not (math.isfinite(aspect) and aspect > 0):
            raise KeyFormatError(f"document key aspect {aspect}")
        if flags & _CODED:
            ink, tol, fine_ink, fine_tol = _decode_body(
                data[_HEADER.size : -4], bool(flags & 1), fine
            )
            return cls(
                Hash(cand, 256),
                Hash(flip, 256),
                ink,
                tol,
                float(aspect),
                version,
                fine_ink,
                fine_tol,
            )
        try:
            body = zlib.decompress(data[_HEADER.size : -4])
        except zlib.error as exc:
            raise KeyFormatError(f"document key body corrupt: {exc}") from None
        n = rows * cols
        plane = (n + 7) // 8
        nf = FINE_SHAPE[0] * FINE_SHAPE[1]
        fplane = (nf + 7) // 8
        expected = 2 * plane + (2 * fplane if flags & 1 else 0)
        if len(body) != expected:
            raise KeyFormatError(f"document key body of {len(body)} bytes, expected {expected}")
        raw = np.frombuffer(body, np.uint8)

        def bitmap(start: int, size: int, shape: tuple[int, int]) -> NDArray[np.uint8]:
            bits = np.unpackbits(raw[start : start + (size + 7) // 8], count=size)
            return np.ascontiguousarray(bits.reshape(shape))

        ink = bitmap(0, n, KEY_SHAPE)
        tol = bitmap(plane, n, KEY_SHAPE)
        fine_ink = fine_tol = None
        if flags & 1 and fine:  # rows of FINE_SHAPE[1] = 1088 bits: the packed planes are rows
            fine_ink = raw[2 * plane : 2 * plane + fplane].reshape(_FINE_PACKED).copy()
            fine_tol = raw[2 * plane + fplane :].reshape(_FINE_PACKED).copy()
        return cls(
            Hash(cand, 256), Hash(flip, 256), ink, tol, float(aspect), version, fine_ink, fine_tol
        )


@dataclass(frozen=True)
class Verdict:
    """Decision of :func:`match_keys` (or :func:`~onestop_docs.dedup.verify_pair`).

    Attributes
    ----------
    duplicate : bool
        Same document page.
    reason : str
        What decided: ``"match"``, ``"candidate-distance"``, ``"aspect"``, ``"ink"`` or
        ``"fine-ink"`` (the final stage on the fine bitmaps).
    candidate_distance : int
        Hamming distance of the candidate hashes (the closer of the two orientations).
    aspect_diff : float
        ``|log(aspect_a / aspect_b)|`` of the ink frames.
    ink_score : float
        Worst verifier cell: unexplained ink over the cell's allowance (above 1 rejects);
        NaN when the verifier did not run.
    block : tuple of int or None
        (row, column) of the first verifier cell that rejected, in canonical pixels.
    flipped : bool
        The pages matched with one turned by 180 degrees.
    fine_score : float
        Final stage: in the worst window of 2 x 3 cells, the cores of unexplained fine ink
        over their limit, the thick blocks over theirs, or the largest lost hole's area
        over its limit, whichever is higher (at or above 1 rejects); NaN when the stage did
        not run.
    """

    duplicate: bool
    reason: str
    candidate_distance: int
    aspect_diff: float
    ink_score: float = math.nan
    block: tuple[int, int] | None = None
    flipped: bool = False
    fine_score: float = math.nan


_DEFAULT_OPTIONS = MatchOptions(CANDIDATE_RADIUS, MAX_ASPECT_DIFF, _FRAC)


def _dpi_of(page: Any, dpi: float | None) -> float:
    if dpi is not None:
        return check_range(dpi, "dpi", 50.0, 4800.0)
    pdpi = getattr(page, "dpi", None)
    if pdpi is not None:
        return float(min(pdpi))
    return DEFAULT_DPI


def _reduce(gray: NDArray[np.uint8], dpi: float) -> tuple[NDArray[np.uint8], float]:
    f = max(1, round(dpi / _WORK_DPI))
    if f == 1 or min(gray.shape) < 4 * f:
        return gray, dpi
    out = np.empty((gray.shape[0] // f, gray.shape[1] // f), np.uint8)
    _k.reduce_mean(gray, f, out)
    return out, dpi / f


def _fill_dark_cells(paper: NDArray[np.float32]) -> None:
    # A cell that is mostly scanner border (or a black photo) has a "paper level" far below
    # the page's: taken as it is, the border beside it reads as paper and its noisy edge as
    # specks of ink, which move the ink frame.  Such cells take the mean level of their
    # paper neighbours, grown inwards from the paper side.
    bad = paper < _PAPER_MIN * float(np.median(paper))
    if not bad.any() or bad.all():
        return
    while bad.any():
        good = np.pad(~bad, 1).astype(np.float32)
        level = np.pad(np.where(bad, 0.0, paper), 1)
        s = np.zeros(paper.shape, np.float32)
        n = np.zeros(paper.shape, np.float32)
        for dy in range(3):
            for dx in range(3):
                s += level[dy : dy + paper.shape[0], dx : dx + paper.shape[1]]
                n += good[dy : dy + paper.shape[0], dx : dx + paper.shape[1]]
        grow = bad & (n > 0)
        paper[grow] = s[grow] / n[grow]
        bad &= ~grow


def _darkness(
    small: NDArray[np.uint8], dpi: float
) -> tuple[NDArray[np.float32], NDArray[np.float32], int]:
    # Paper level per cell: a high quantile of the cell (text covers far less than 10 % of
    # any 8 mm cell), so uneven lighting and tinted paper become 0 darkness.
    b = max(8, round(_PAPER_BLOCK_MM * dpi / 25.4))
    h, w = small.shape
    paper = np.empty((-(-h // b), -(-w // b)), np.float32)
    _k.cell_quantile(small, b, 0.9, paper)
    _fill_dark_cells(paper)
    out = np.empty(small.shape, np.float32)
    _k.darkness(small, paper, b, out)
    return out, paper, b


def _skew(ys: NDArray[np.int32], xs: NDArray[np.int32], shape: tuple[int, int]) -> float:
    h, w = shape

    def best(angles: NDArray[np.float64], step: int) -> float:
        scores = np.empty(angles.size)
        _k.skew_scores(
            np.ascontiguousarray(ys[::step]), np.ascontiguousarray(xs[::step]), angles, w, h, scores
        )
        return float(angles[int(np.argmax(scores))])

    coarse = best(np.radians(np.arange(-15.0, 15.01, 0.5)), 3)
    return best(coarse + np.radians(np.arange(-0.5, 0.501, 0.05)), 1)


def _canonical(
    dark: NDArray[np.float32], ink: NDArray[np.uint8], border: NDArray[np.bool_] | None
) -> tuple[NDArray[np.float32], float, NDArray[np.bool_], tuple[float, ...]]:
    ys, xs = np.nonzero(ink)
    if ys.size > _MAX_POINTS:
        step = -(-ys.size // _MAX_POINTS)
        ys, xs = ys[::step], xs[::step]
    ys32 = np.ascontiguousarray(ys, np.int32)
    xs32 = np.ascontiguousarray(xs, np.int32)
    t = _skew(ys32, xs32, ink.shape)
    c, s = math.cos(t), math.sin(t)
    u = xs * c + ys * s
    v = ys * c - xs * s
    u0, u1 = np.quantile(u, [_QUANTILE, 1 - _QUANTILE])
    v0, v1 = np.quantile(v, [_QUANTILE, 1 - _QUANTILE])
    su, sv = max(u1 - u0, 1.0), max(v1 - v0, 1.0)
    aspect = float(sv / su)
    u0, v0 = u0 - _MARGIN * su, v0 - _MARGIN * sv
    ku = su * (1 + 2 * _MARGIN) / KEY_SHAPE[1]
    kv = sv * (1 + 2 * _MARGIN) / KEY_SHAPE[0]
    # canonical (U, V) -> frame (u, v) = (u0 + ku U, v0 + kv V) -> image (x, y), +0.5 for
    # pixel centres of the work image.
    m = (c * ku, -s * kv, c * u0 - s * v0 + 0.5, s * ku, c * kv, s * u0 + c * v0 + 0.5)
    out = np.empty(KEY_SHAPE, np.float32)
    _k.warp_mean(dark, *m, _SUPERSAMPLE, out)
    # Canonical pixels whose source lies outside the scanned area, or under a border that
    # was removed, are unknown: another copy's ink there cannot be checked.
    uu = np.arange(KEY_SHAPE[1]) + 0.5
    vv = (np.arange(KEY_SHAPE[0]) + 0.5)[:, None]
    x = m[0] * uu + m[1] * vv + m[2] - 0.5
    y = m[3] * uu + m[4] * vv + m[5] - 0.5
    h, w = dark.shape
    unknown = (x < 0) | (y < 0) | (x > w - 1) | (y > h - 1)
    if border is not None:
        xi = np.clip(x, 0, w - 1).astype(np.intp)
        yi = np.clip(y, 0, h - 1).astype(np.intp)
        unknown |= border[yi, xi]
    return out, aspect, unknown, m


_FLIP_SIGN = np.where((np.add.outer(np.arange(16), np.arange(16)) % 2) == 1, -1.0, 1.0)


def _candidates(canon: NDArray[np.float32]) -> tuple[Hash, Hash]:
    # The candidate hash of the canonical page and of the page turned by 180 degrees: the
    # area average is symmetric, so the turned page's DCT coefficient (u, v) is the page's
    # times (-1)^(u + v) (one resize and one DCT for both).
    img = np.clip(canon * 255.0 + 0.5, 0, 255).astype(np.uint8)
    coeffs = dct2(area_resize(img, 64, 64))[:16, :16]
    turned = coeffs * _FLIP_SIGN
    return (
        Hash.from_bits(coeffs > np.median(coeffs)),
        Hash.from_bits(turned > np.median(turned)),
    )


def _fine_planes(
    gray: NDArray[np.uint8],
    work_shape: tuple[int, int],
    paper: NDArray[np.float32],
    pblock: int,
    m: tuple[float, ...],
    canon: NDArray[np.float32],
    unknown: NDArray[np.bool_],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    # The fine bitmaps (FINE_SHAPE): the page's own pixels resampled through the canonical
    # frame at twice the key's resolution, near the ink only (canonical pixels of darkness
    # _FINE_WHERE or more); fine tolerance = faint fine ink and the unknown area, dilated
    # by one fine pixel.
    f = gray.shape[0] / work_shape[0] if work_shape[0] else 1.0
    f = float(round(f)) if f >= 1 else 1.0
    where = (canon >= _FINE_WHERE).view(np.uint8)
    if unknown.any():
        where = np.where(unknown, np.uint8(2), where)
    fi = np.empty(FINE_SHAPE, np.uint8)
    ff = np.empty(FINE_SHAPE, np.uint8)
    # fine (C + .5, R + .5) = coarse ((C + .5) / 2, (R + .5) / 2); work continuous
    # coordinates w = m . (u, v, 1); gray pixel-index coordinates f w - 0.5
    _k.fine_sample(
        gray,
        paper,
        float(pblock) * f,
        f * m[0] / 2,
        f * m[1] / 2,
        f * m[2] - 0.5,
        f * m[3] / 2,
        f * m[4] / 2,
        f * m[5] - 0.5,
        np.ascontiguousarray(where, np.uint8),
        _KEY_INK,
        _KEY_TOL,
        fi,
        ff,
    )
    tol = np.empty(FINE_SHAPE, np.uint8)
    _k.dilate3x3_u8(ff, tol, np.empty(FINE_SHAPE, np.uint8))
    return np.packbits(fi, axis=1), np.packbits(tol, axis=1)


def key_from_canonical(
    canon: NDArray[np.float32],
    aspect: float,
    unknown: NDArray[np.bool_] | None = None,
    *,
    fine: tuple[NDArray[np.uint8], NDArray[np.uint8]] | None = None,
) -> DocumentKey:
    """Build the key from a canonical darkness image of shape :data:`KEY_SHAPE` (0 paper
    .. 1 black) and the mask of pixels outside the scanned area (their tolerance is 1:
    anything may be there); :func:`document_key` makes both from a page, and the fine
    bitmaps (``fine``: ink and tolerance, bit-packed as :class:`DocumentKey` holds them)."""
    ink = canon >= _KEY_INK
    tol = dilate3x3(canon >= _KEY_TOL)
    if unknown is not None:
        tol |= dilate3x3(unknown)
    cand, cand_flip = _candidates(canon)
    return DocumentKey(
        cand,
        cand_flip,
        ink.astype(np.uint8),
        tol.astype(np.uint8),
        aspect,
        KEY_VERSION,
        None if fine is None else fine[0],
        None if fine is None else fine[1],
    )


def _captured(page: Any, dpi: float | None, capture: str) -> tuple[Any, float | None]:
    # A phone photo (a sheet with background around it) is rectified first, also when
    # corners of the sheet lie outside the frame ("incomplete": the text is usually all
    # there, and what is missing reads as blank paper, which can only make a match harder;
    # page_key does the same); anything else (a scan, a screenshot, a photo whose sheet is
    # not found) is keyed as it is.
    from ..capture import rectify

    if capture not in ("auto", "off"):
        raise InvalidArgumentError(f"capture must be 'auto' or 'off', got {capture!r}")
    if capture == "off":
        return page, dpi
    res = rectify(page)
    if res.status not in ("ok", "incomplete") or res.page is None:
        return page, dpi
    return res.page, res.dpi if res.dpi is not None else DEFAULT_DPI


def document_key(page: Any, *, dpi: float | None = None, capture: str = "auto") -> DocumentKey:
    """Compute the document key of a scanned (or rectified) page.

    Steps (see ``docs/dedup.md``): reduce to about 100 dpi; darkness relative to the local
    paper level; drop dark regions touching the image edge (scanner borders); find the
    text-line angle by projection profiles; the ink frame = 1 % and 99 % quantiles of
    the ink along and across the lines (a crop, a stamp or a speck barely moves them);
    resample frame + margin to :data:`KEY_SHAPE`; hash and threshold.  Phone photos should
    go through :func:`onestop_docs.capture.rectify` first.

    Parameters
    ----------
    page : Page or numpy.ndarray
        uint8 grey or RGB page.
    dpi : float, optional
        Resolution; defaults to the Page's, else 300.
    capture : {"auto", "off"}
        ``"auto"`` (default): when :func:`onestop_docs.capture.rectify` finds a sheet
        with background around it (a phone photo; status ``"ok"``, or ``"incomplete"``
        with the sheet's corners outside the frame, as
        :func:`~onestop_docs.dedup.page_key`), the key is made from the rectified sheet;
        ``"off"``: the page is keyed as given (flatbed scans).

    Returns
    -------
    DocumentKey

    Raises
    ------
    BlankPageError
        No ink (``reason="blank"``) or only a mark under 1 cm (``"near-blank"``).
    InvalidArgumentError, InvalidImageError
        Bad pixel data or dpi.

    Examples
    --------
    >>> import numpy as np
    >>> page = np.full((1100, 850), 255, np.uint8)
    >>> for i in range(10):
    ...     page[100 + 80 * i : 110 + 80 * i, 100 : 700 - 30 * i] = 0
    >>> key = document_key(page, dpi=100)
    >>> match_keys(key, key).duplicate
    True
    """
    page_dpi = _dpi_of(page, dpi)
    page, rect_dpi = _captured(page, page_dpi, capture)
    gray = as_gray(page)
    small, work_dpi = _reduce(gray, rect_dpi if rect_dpi is not None else page_dpi)
    dark, paper, pblock = _darkness(small, work_dpi)
    edge = (dark >= _EDGE).astype(np.uint8)
    before = edge.copy()
    _k.clear_edge_components(edge)
    border: NDArray[np.bool_] | None = before > edge
    if border is not None and border.any():
        border = dilate3x3(border)
        dark[border] = 0.0
    else:
        border = None
    ink = (dark >= _INK).astype(np.uint8)
    n_ink = int(np.count_nonzero(ink))
    if n_ink < max(20, ink.size // 20000):
        raise BlankPageError("page has no ink to key", reason="blank")
    canon, aspect, unknown, m = _canonical(dark, ink, border)
    ys = np.flatnonzero(ink.any(axis=1))
    xs = np.flatnonzero(ink.any(axis=0))
    cm = work_dpi / 2.54
    if np.ptp(ys) < cm and np.ptp(xs) < cm:
        raise BlankPageError("page holds only a mark under 1 cm", reason="near-blank")
    fine = _fine_planes(gray, small.shape, paper, pblock, m, canon, unknown)
    return key_from_canonical(canon, aspect, unknown, fine=fine)


def match_keys(a: DocumentKey, b: DocumentKey, *, options: MatchOptions | None = None) -> Verdict:
    """Decide whether two document keys show the same document page.

    The candidate hashes must be within :data:`CANDIDATE_RADIUS` (in either orientation),
    the ink frames of the same shape, and in every 16 x 16 cell of the canonical bitmaps
    the ink of each page must be explained by the other's (faint, one-pixel dilated) ink at
    some shift within 2 pixels, up to a small allowance.  A filled-in name, number or date
    leaves unexplained ink in its cell; a rescan does not.  A pair the verifier rejects in
    at most a quarter of the cells, or in more with its tracked shifts run away, is
    verified with the keys swapped as well (the tracked first pass may follow one page and
    not the other; ``docs/dedup.md``).  A pair the block verifier accepts passes the final
    stage on the fine bitmaps only in both orders (each order whose block verifier
    accepts).  The stages run in a fixed order of the two keys, so ``match_keys(a, b)``
    and ``match_keys(b, a)`` give the same :class:`Verdict`.

    Raises
    ------
    InvalidArgumentError
        Not two :class:`DocumentKey` of the same version.

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.dedup import Hash
    >>> z = np.zeros(KEY_SHAPE, np.uint8); z[40:44, 20:200] = 1
    >>> k = DocumentKey(Hash(bytes(32), 256), Hash(bytes(32), 256), z, z, 1.4)
    >>> match_keys(k, k).reason
    'match'
    """
    if not isinstance(a, DocumentKey) or not isinstance(b, DocumentKey):
        raise InvalidArgumentError("match_keys compares two DocumentKey values")
    opts = options or _DEFAULT_OPTIONS
    if a.version != b.version:
        raise InvalidArgumentError(f"keys of versions {a.version} and {b.version} do not compare")
    if _goes_first(b, a):
        # Every stage below starts from one key (the tracked pass from its top left, the
        # fine stage on its cell grid, the turned page is that key): in a fixed order of
        # the two keys the verdict is the same whichever the caller names first.
        a, b = b, a
    straight = a.candidate - b.candidate
    turned = a.candidate_flip - b.candidate
    flipped = turned < straight
    dist = min(straight, turned)
    aspect = abs(math.log(a.aspect / b.aspect))  # the same turned
    if dist > opts.candidate_radius:
        return Verdict(False, "candidate-distance", dist, aspect, flipped=flipped)
    if aspect > opts.max_aspect_diff:
        return Verdict(False, "aspect", dist, aspect, flipped=flipped)
    # turned only now (most pairs stop above), and the fine bitmaps only for the final stage
    whole = a
    if flipped:
        a = a.flipped(fine=False)
    score, fail, counts = _ink_decision(a, b, opts.ink_allowance, opts.register)
    swapped = False
    if fail is not None and opts.register and (not _lost(score, counts) or _ran_away(counts)):
        # The block verifier tracks each cell's shift from its neighbours, from the top
        # left of ``a``: which page is ``a`` decides whether a distortion the frame estimate
        # left (a photo keyed without its sheet, a scanner border) is followed or lost
        # (tuning hard s33: a photo with two sides out of the frame lost 58 % of the cells
        # against its scan, its tracked shifts running away along the lines to 86 px in
        # the median cell, while the scan explained the photo in every cell the other
        # way); and a photo whose ink frame came out 4 % narrower (tuning hard s34, p0011
        # against its scans p0026 and p0035) failed in 5-6 % of the cells from the scan's
        # side and matched from the photo's.  A pair rejected in a few cells, or lost in
        # many with its tracked shifts run away, is decided in the other order too, when
        # that order's first pass is not lost; other pages (lost in many cells, tracked
        # nearby) are not retried, which keeps the mean cost of a pair.  Another filling
        # of the form (a few cells) is retried: in either order it has to pass the final
        # stage.
        first, first_counts = _attempt(b, a, _NO_FIELD, opts.ink_allowance, False)
        if not _lost(first, first_counts):
            back, back_fail, back_counts = _ink_decision(b, a, opts.ink_allowance, opts.register)
            if back_fail is None:
                score, fail, counts, swapped = back, None, back_counts, True
    if fail is not None:
        return Verdict(False, "ink", dist, aspect, float(score.max()), fail, flipped)
    if opts.fine and whole.has_fine and b.has_fine:
        if flipped:  # the coarse bitmaps are turned already; turn the fine ones only
            a = replace(
                a,
                fine_ink=_turn_packed(whole.fine_ink),
                fine_tolerance=_turn_packed(whole.fine_tolerance),
            )
        ka, kb = (b, a) if swapped else (a, b)
        fine, cell = _fine_score(ka, kb, counts)
        if fine < 1 and not swapped:
            # (A swapped pair was rejected by the block verifier in the other order
            # already: that order keeps this order's score, as below.)
            # The fine stage counts on the first key's cell grid, so a changed field that
            # straddles cells scores differently in the two orders: one-digit and one-date
            # twins of the A5 forms scored 0.81-0.94 in one order and 1.06-1.53 in the
            # other, while the rescans and phone pairs of tuning full s12, s15 and hard
            # s33, s35-s38 score at most 0.78 in both (see _FINE_WIDE for the one that
            # needed it).  The other order is checked too when its block verifier
            # accepts (a pair rejected there, e.g. with its tracking lost, keeps this
            # order's score); both must pass.
            _, back_fail, back_counts = _ink_decision(kb, ka, opts.ink_allowance, opts.register)
            if back_fail is None:
                fine_back, cell_back = _fine_score(kb, ka, back_counts)
                if fine_back > fine:
                    fine, cell = fine_back, cell_back
        if fine >= 1:
            return Verdict(False, "fine-ink", dist, aspect, float(score.max()), cell, flipped, fine)
        return Verdict(True, "match", dist, aspect, float(score.max()), None, flipped, fine)
    return Verdict(True, "match", dist, aspect, float(score.max()), None, flipped)


def _goes_first(a: DocumentKey, b: DocumentKey) -> bool:
    # A fixed order of two keys from what both coarse stages see (the fine bitmaps may be
    # left out of a key read for the coarse stages only): the candidate hashes, then the
    # aspect, then the bitmaps.  Equal keys decide alike in either order.
    if a.candidate.data != b.candidate.data:
        return a.candidate.data < b.candidate.data
    if a.candidate_flip.data != b.candidate_flip.data:
        return a.candidate_flip.data < b.candidate_flip.data
    if a.aspect != b.aspect:
        return a.aspect < b.aspect
    return (a.ink.tobytes(), a.tolerance.tobytes()) < (b.ink.tobytes(), b.tolerance.tobytes())


def _fine_score(
    a: DocumentKey, b: DocumentKey, counts: NDArray[np.int32]
) -> tuple[float, tuple[int, int]]:
    # The fine stage in one order: the worst window over its limit (1 or more rejects) and
    # that window's first cell, in canonical pixels of ``a``.
    cores, thick, holes = _fine_cells(a, b, counts)
    score = np.maximum(
        _fine_windows(cores) / _FINE_LIMIT,
        _window_sum(thick.astype(np.int64), _FINE_WINDOW) / _FINE_THICK_LIMIT,
    )
    # a lost hole rejects by itself, in every window over its cell
    lost = holes / _FINE_HOLE_AREA
    for di in range(min(_FINE_WINDOW[0], lost.shape[0])):
        for dj in range(min(_FINE_WINDOW[1], lost.shape[1])):
            part = lost[di : di + score.shape[0], dj : dj + score.shape[1]]
            view = score[: part.shape[0], : part.shape[1]]
            np.maximum(view, part, out=view)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(score[i, j]), (int(i) * _BLOCK, int(j) * _BLOCK)


def _window_sum(a: NDArray[np.int64], window: tuple[int, int] = _WINDOW) -> NDArray[np.int64]:
    # Sums over window[0] x window[1] cells (stride 1, cut at the edges): a changed word
    # spreads its unexplained ink over neighbouring cells, scanner specks do not.
    wr, wc = window
    if wr == 1 and wc == 1:  # one cell (the block verifier's _WINDOW): the cells themselves
        return a
    c = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    r, k = a.shape
    r2, k2 = max(1, r - wr + 1), max(1, k - wc + 1)
    wr, wc = min(wr, r), min(wc, k)
    return np.asarray(
        c[wr : wr + r2, wc : wc + k2] - c[:r2, wc : wc + k2] - c[wr : wr + r2, :k2] + c[:r2, :k2]
    )


_NO_FIELD = np.zeros(0, np.float64)
_FIT_MIN_CELLS = 12  # registration: fewest well-explained cells to fit the shift field
_FIT_MAX_SHIFT = 16.0  # registration: largest shift (canonical pixels) it may predict
_FIT_RESIDUAL = 1.5  # registration: cells further than this (pixels) from the fit are dropped
# registration: a registered pass may only accept with this margin below 1 (tuning seeds:
# worst rescan 0.58 on s12, closest other filling 1.43 on s13)
_REGISTERED_MAX_SCORE = 0.8


def _frame_slack(a: DocumentKey, b: DocumentKey) -> tuple[float, float]:
    # Reach (dy, dx, canonical pixels) the registration may take beyond _FIT_MAX_SHIFT: the
    # scale along one axis that the two ink frames' aspects show.  An ink frame edge set by
    # ragged line ends moves with a rescan (the 99 % quantile then falls where one line
    # alone reaches: 3 % between two scans of an A5 form of the tests, a 17-pixel shift at
    # the right edge); the aspects of the two keys say how far.
    d = abs(math.log(a.aspect / b.aspect))
    return (d * KEY_SHAPE[0], d * KEY_SHAPE[1])


def _fit_field(
    counts: NDArray[np.int32], slack: tuple[float, float] = (0.0, 0.0)
) -> NDArray[np.float64] | None:
    # Quadratic shift field (dy, dx as functions of the cell centre, in 100 px units)
    # fitted by least squares to the shifts of the first pass's well-explained, well-inked
    # cells, refitted once without outliers: the registration a wrong frame estimate
    # (scale, offset) or a photo's keystone calls for.
    worst = np.maximum(counts[..., 0], counts[..., 1])
    ink = counts[..., 2]
    good = (ink >= 4 * _MIN_ABS) & (worst <= np.maximum(_QUIET, 0.05 * ink))
    r, c = np.nonzero(good)
    if r.size < _FIT_MIN_CELLS:
        return None
    cr, cc = (r + 0.5) * _BLOCK / 100.0, (c + 0.5) * _BLOCK / 100.0
    design = np.column_stack([np.ones(r.size), cr, cc, cr * cc, cr * cr, cc * cc])
    target = counts[r, c, 3:5].astype(np.float64)
    keep = np.ones(r.size, bool)
    for _ in range(2):
        if keep.sum() < _FIT_MIN_CELLS:
            return None
        coef = np.linalg.lstsq(design[keep], target[keep], rcond=None)[0]
        keep = np.abs(design @ coef - target).max(axis=1) <= _FIT_RESIDUAL
    # A registration that moves any cell of the page by more than a few percent (plus the
    # ``slack`` per axis) is not a rescan's or a photo's: the first pass was lost (a
    # different page), keep its answer.
    mr, mc = np.meshgrid(
        np.linspace(0.0, KEY_SHAPE[0] / 100.0, 9), np.linspace(0.0, KEY_SHAPE[1] / 100.0, 9)
    )
    gr, gc = mr.ravel(), mc.ravel()
    grid = np.column_stack([np.ones(gr.size), gr, gc, gr * gc, gr * gr, gc * gc])
    reach = np.abs(grid @ coef).max(axis=0)
    if reach[0] > _FIT_MAX_SHIFT + slack[0] or reach[1] > _FIT_MAX_SHIFT + slack[1]:
        return None
    return np.ascontiguousarray(np.concatenate([coef[:, 0], coef[:, 1]]))


# Alignment prior: a global scale and offset per axis from the ink profiles (row and column
# sums of the ink bitmaps), tried only when the plain verification rejects.  A frame
# estimate that a border or a crop moved leaves a scale/offset the tracked pass cannot
# follow from the page's top-left corner.
_PRIOR_SCALE = (0.96, 1.04)  # scales searched
_PRIOR_OFFSET = 24  # largest offset searched, canonical pixels (either way)
_PRIOR_BIN = 4  # coarse search on profiles summed over this many pixels
_PRIOR_SEPARATION = 2  # coarse offsets (bins) this far from the best belong to another peak
_PRIOR_UNIQUE = 0.9  # the second peak must correlate below this share of the best


def _axis_prior(pa: NDArray[np.float64], pb: NDArray[np.float64]) -> tuple[float, float] | None:
    # Best (scale, offset) of profile b against profile a, or None when it is not unique:
    # an evenly spaced table (or text lines) correlates almost as well one period away, and
    # an alignment taken from there would shift every row.  Coarse on binned profiles (scale
    # step 0.008, offset step one bin), then refined at full resolution around the best.
    lo, hi = _PRIOR_SCALE
    q = _PRIOR_BIN
    n = pa.size // q * q
    ca = pa[:n].reshape(-1, q).sum(axis=1)
    cb = pb[:n].reshape(-1, q).sum(axis=1)
    nt = 2 * (_PRIOR_OFFSET // q) + 1
    ns = round((hi - lo) / 0.008) + 1
    grid = np.empty((ns, nt), np.float64)
    _k.profile_alignment(ca, cb, lo, 0.008, -float(_PRIOR_OFFSET // q), 1.0, grid)
    curve = grid.max(axis=0)
    j = int(np.argmax(curve))
    best = float(curve[j])
    if best <= 0.0:
        return None
    peaks = np.flatnonzero((curve[1:-1] >= curve[:-2]) & (curve[1:-1] >= curve[2:])) + 1
    others = peaks[np.abs(peaks - j) >= _PRIOR_SEPARATION]
    if others.size and float(curve[others].max()) >= _PRIOR_UNIQUE * best:
        return None
    s_c = lo + int(np.argmax(grid[:, j])) * 0.008
    t_c = float((j - _PRIOR_OFFSET // q) * q)
    fine = np.empty((9, 2 * q + 1), np.float64)
    _k.profile_alignment(pa, pb, s_c - 0.008, 0.002, t_c - q, 1.0, fine)
    i, k = np.unravel_index(int(np.argmax(fine)), fine.shape)
    s = min(hi, max(lo, s_c - 0.008 + 0.002 * int(i)))
    t = min(float(_PRIOR_OFFSET), max(-float(_PRIOR_OFFSET), t_c - q + int(k)))
    return s, t


def alignment_prior(a: DocumentKey, b: DocumentKey) -> NDArray[np.float64]:
    """Global alignment of ``b`` to ``a`` from their ink profiles, as a 12-value shift field
    for the block verifier (scale within 0.96-1.04 and offset within 24 canonical pixels per
    axis; an axis whose best alignment is not unique keeps the identity).

    The field gives, at a canonical position ``(y, x)`` of ``a``, the shift ``(dy, dx)`` to
    the same ink in ``b``: ``dy = f[0] + f[1] * y / 100`` and ``dx = f[6] + f[8] * x / 100``
    (the other terms are 0).

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.dedup import Hash
    >>> ink = np.zeros(KEY_SHAPE, np.uint8)
    >>> for y in (60, 100, 190, 230, 330, 420, 470, 600):
    ...     ink[y : y + 8, 40 : 300 + y // 2] = 1
    >>> moved = np.ascontiguousarray(np.roll(ink, 6, axis=0))
    >>> h = Hash(bytes(32), 256)
    >>> f = alignment_prior(DocumentKey(h, h, ink, ink, 1.4), DocumentKey(h, h, moved, moved, 1.4))
    >>> round(float(f[0] + f[1] * 3.0))  # the shift at row 300
    6
    """
    pa = (np.empty(KEY_SHAPE[0]), np.empty(KEY_SHAPE[1]))
    pb = (np.empty(KEY_SHAPE[0]), np.empty(KEY_SHAPE[1]))
    _k.ink_profiles(a.ink, *pa)
    _k.ink_profiles(b.ink, *pb)
    rows = _axis_prior(pa[0], pb[0])
    cols = _axis_prior(pa[1], pb[1])
    field = np.zeros(12, np.float64)
    for axis, found, n in ((0, rows, KEY_SHAPE[0]), (1, cols, KEY_SHAPE[1])):
        if found is None:
            continue
        s, t = found
        # d(y) = (s - 1)(y - c) + t with y = 100 r: constant and linear terms of the field
        c = (n - 1) / 2.0
        k = 6 * axis
        field[k] = t - (s - 1.0) * c
        field[k + 1 + axis] = (s - 1.0) * 100.0
    return field


def _score(c: NDArray[np.int64], allowance: float) -> NDArray[np.float64]:
    ua, ub, ink = _window_sum(c[..., 0]), _window_sum(c[..., 1]), _window_sum(c[..., 2])
    limit = np.maximum(_MIN_ABS, allowance * ink / 2)
    return np.asarray(np.maximum(ua, ub) / limit, np.float64)


def _attempt(
    a: DocumentKey,
    b: DocumentKey,
    prior: NDArray[np.float64],
    allowance: float,
    register: bool,
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    # One alignment: a pass tracked around ``prior`` (empty: from shift 0), then, when a
    # cell rejects, the registered pass.  Returns the window scores and the cell counts of
    # the pass that decides.
    nb = (-(-KEY_SHAPE[0] // _BLOCK), -(-KEY_SHAPE[1] // _BLOCK))
    counts = np.zeros((*nb, 5), np.int32)
    _k.block_verify(
        a.ink, a.tolerance, b.ink, b.tolerance, _BLOCK, _SHIFT, _QUIET, prior, True, counts
    )
    score = _score(counts.astype(np.int64), allowance)
    if register and score.max() > 1:
        fit = _fit_field(counts, _frame_slack(a, b))
        if fit is not None:
            second = np.zeros_like(counts)
            stopped = _k.block_verify(
                a.ink,
                a.tolerance,
                b.ink,
                b.tolerance,
                _BLOCK,
                _SHIFT_REGISTERED,
                _QUIET,
                fit,
                False,
                second,
                True,  # outside_unknown: b's key ends where its canonical frame ends
                # it decides only with no cell above this: stop at the first such cell
                # (most registered passes of other pages, at the same verdicts)
                _REGISTERED_MAX_SCORE,
                _MIN_ABS,
                allowance,
            )
            if not stopped:
                score2 = _score(second.astype(np.int64), allowance)
                if score2.max() <= _REGISTERED_MAX_SCORE:
                    return score2, second
    return score, counts


# The second attempt runs only when at most this share of the inked cells rejected: a
# misaligned rescan fails in a few cells (tuning seeds: up to 17 %), another page in most
# (tuning: 95 % of the same-template and other pairs reaching the verifier fail in over 40 %).
_PRIOR_MAX_FAILED = 0.25
# ... and decides only with its worst window at or below this: the second attempt gives a
# pair more freedom, and on the one-field twins of tuning set tw17 it explained changed
# names at 0.55-0.98, while the rescans it was made for score 0.36-0.50 (tuning s16/s18).
_PRIOR_MAX_SCORE = 0.5
# The gate is also tried with the keys swapped when the first order fails in at most this
# share of the inked cells (the order-dependent loss seen on the tuning seeds: up to 37 %).
_REVERSE_MAX_FAILED = 0.5


# A deciding pass whose median inked cell was tracked this far (canonical pixels, the
# larger axis) ran away: twice the largest shift a registration may predict.  Other pages
# lost in many cells stay below it in 83 % of the pairs (tuning hard s33), so the swapped
# order costs little on average.
_RUNAWAY_SHIFT = 2 * _FIT_MAX_SHIFT


def _ran_away(counts: NDArray[np.int32]) -> bool:
    inked = counts[..., 2] >= 2 * _QUIET + 8
    if not inked.any():
        return False
    shift = np.abs(counts[..., 3:5][inked]).max(axis=1)
    return bool(np.median(shift) > _RUNAWAY_SHIFT)


def _lost(score: NDArray[np.float64], counts: NDArray[np.int32]) -> bool:
    # A pass that rejects in more than _PRIOR_MAX_FAILED of the inked cells: lost tracking
    # or another page, not a local difference.
    return bool(score.max() > 1) and _failed_share(score, counts) > _PRIOR_MAX_FAILED


def _failed_share(score: NDArray[np.float64], counts: NDArray[np.int32]) -> float:
    # Share of the inked cells whose window rejects.
    inked = counts[..., 2] >= 2 * _QUIET + 8
    return int(np.count_nonzero(score[inked] > 1)) / max(1, int(np.count_nonzero(inked)))


def _aligned(
    a: DocumentKey, b: DocumentKey, allowance: float, register: bool
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    # The plain attempt; with ``register``, when it rejects in a few cells, a second one
    # tracked around the alignment prior (without extrapolation along lines); the better
    # one decides.  Both apply the same rule (unexplained ink in any cell rejects), so the
    # prior only changes where each cell's shift is searched.  (_WINDOW is one cell, so
    # window scores and cell counts have one shape.)
    score, counts = _attempt(a, b, _NO_FIELD, allowance, register)
    if not register or score.max() <= 1:
        return score, counts
    failed = _failed_share(score, counts)
    if failed > _PRIOR_MAX_FAILED:
        # The first pass tracks each cell's shift from its neighbours in reading order, so
        # how many cells it loses depends on which page is ``a``: a frame 1.4 % off lost
        # 8 % of the cells one way and 37 % the other (tuning hard s19, p0061 against its
        # scans).  The gate takes the better order; a pair that fails in most cells (most
        # other pages) is not tried the other way.
        if failed > _REVERSE_MAX_FAILED:
            return score, counts
        back, back_counts = _attempt(b, a, _NO_FIELD, allowance, False)
        if _failed_share(back, back_counts) > _PRIOR_MAX_FAILED:
            return score, counts
    again, again_counts = _attempt(a, b, alignment_prior(a, b), allowance, register)
    return (again, again_counts) if again.max() <= _PRIOR_MAX_SCORE else (score, counts)


def ink_scores(
    a: DocumentKey, b: DocumentKey, *, allowance: float = _FRAC, register: bool = True
) -> tuple[NDArray[np.float64], tuple[int, int] | None]:
    """Verifier window scores of two keys (unexplained ink over allowance; > 1 rejects) and
    the worst window's (row, column) in canonical pixels when it rejects, else None.

    A first pass tracks each cell's shift from its neighbours.  With ``register``, when a
    cell rejects, a smooth shift field is fitted to the well-explained cells of that pass
    and every cell is searched again around it; it decides when its worst window is at
    most 0.8, else the first pass does.  If that still rejects, in at most a quarter of
    the inked cells (in either order of the keys: when ``a`` against ``b`` fails in at
    most half, the first pass of ``b`` against ``a`` is counted too, as it may lose fewer
    cells), the same two passes run again with the first pass tracked around
    :func:`alignment_prior` (a global scale and offset from the ink profiles, identity on
    an axis whose profile alignment is ambiguous) and without extrapolation along lines;
    this second attempt decides only when its worst window is at most 0.5.
    """
    score, fail, _ = _ink_decision(a, b, allowance, register)
    return score, fail


def _ink_decision(
    a: DocumentKey, b: DocumentKey, allowance: float, register: bool
) -> tuple[NDArray[np.float64], tuple[int, int] | None, NDArray[np.int32]]:
    # ink_scores plus the cell counts (with each cell's shift) of the deciding pass
    score, counts = _aligned(a, b, allowance, register)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if score[i, j] <= 1:
        return score, None, counts
    return score, (int(i) * _BLOCK, int(j) * _BLOCK), counts


# Final stage on the fine bitmaps: per cell, the cores (2 x 2 blocks) of unexplained fine
# ink of both sides, summed over windows of 2 x 3 cells (two rows, three columns).
# Tuning seeds (all coarse-accepted pairs of s12, s15-s18 full, s13-s19 hard and tw17, both
# orders; the same-width name test pages at 200 and 300 dpi): rescans and phone captures
# up to 30, the name test's rescans up to 21; one-field twins (tw17 and the other hard
# false matches) 47 or more, the same-width name change 43 or more.  A changed word
# spreads over neighbouring cells.
# Session 2026-12-08 (tw18): a cell's cores were capped at 30 ("a rescan's worst spot is
# one cell") and windows were 2 x 2 cells.  A changed digit lies in one cell: "03 bản" ->
# "06 bản" of an A5 test form left 67-69 cores there, counted as 30 (0.83), and one-date
# twins whose two changed digits sit two cells apart along the line ("16/03/1987" ->
# "16/08/1981": 25 + 10 cores, 0.69; "20/03/2013" -> "20/05/2019": 0.83-0.92) fell
# between windows.  Uncapped cells and windows three cells wide reject them; rescans and
# phone pairs of the tuning sets hold at most 28 cores in a window (343 pairs: full s12
# p0127-p0152, one cell; full s15 p0081-p0116; hard s13, s14, s34-s38, s60 up to 25, the
# tests' robustness set 23).  One changed digit whose shape the other's tolerance covers
# ("05 bản" -> "03 bản": 25-31 cores at the shifts within one fine pixel of the best, 28
# counted) stays below the limit, level with that rescan.  Its cell has cores of both
# pages (23 + 5), the rescan's of one; but a lower limit for such cells (25) would sit
# 3 cores above the rescans' two-sided cells (up to 22: 15 + 7, 9 + 11) - not taken; a
# second count does it (_FINE_THICK_LIMIT).
_FINE_SHIFT = 2  # fine pixels searched around twice the cell's coarse shift
# Where a table's rules cross, the coarse shift is free along each rule and may be 2-3
# fine pixels off across one: tuning hard s33, photo p0014 against its scan p0055 from the
# scan's side (which the fine stage checks since it runs in both orders) had a crossing
# cell at coarse dx 0 where the ink lay at 2.5, 40 cores at +-2 and the pair at 1.42.  A
# cell left with cores is searched once more within _FINE_WIDE, and the fewer cores of
# the two searches count: that pair 0.14, rescans and phone pairs of the tuning sets up to
# 0.78, the A5 twins unchanged (4 of 216 ordered pairs, the one-digit 0.83).  Searching
# +-3 alone loses a rescan of the tests' robustness set (0.33 -> 1.14: the least
# unexplained ink is not the fewest cores); taking the fewest cores over all shifts within
# +-3 lets a one-date twin through (1.06 -> 0.78).
_FINE_WIDE = 3  # ... once more in a cell left with cores (the fewer cores count)
_FINE_WINDOW = (2, 3)  # cells summed per window (rows, columns)
_FINE_LIMIT = 36  # a window with this many cores rejects
# Session 2026-12-08 (tw19): where the residue lies, not how much of it.  A rescan's
# cores are fringes along strokes (one or two fine pixels wide: the other page's stroke a
# little thinner or shifted) or specks (noise dots of 4-5 pixels, mostly in blank paper);
# "05 bản" -> "03 bản" leaves the 3's upper arc, a whole stroke (4-5 pixels wide) that the
# 5 lacks, joined to the 3's other strokes, which the 5's tolerance covers.  So a window
# also rejects with _FINE_THICK_LIMIT thick blocks: 3 x 3 blocks of one side's unexplained
# ink (at the cell's fine shift, top-left pixel in the cell) whose residue is attached
# (8-connected, within 4 pixels around the cell) to that page's explained ink.  Fringes
# have no such block and specks are not attached.  Measured, both orders: f25 11 and 12
# (28 cores); the 30-form twin and date set's other pairs at the fine stage 16 or more;
# positives at most 5 (full s12 p0025-p0051; full s15 4, hard s13 3, s14 4, s34 2, s60 3
# with phone pairs, the tests' robustness set 4, the A5 rescans 1) - a factor 2.2 between
# the worst positive and the twin, the limit near their geometric mean.  Without the
# attachment (any 3 x 3 block with the other page's ink within 6 pixels) specks near text
# put full s15 p0081-p0116 at 7 (1.6); the blocks alone (blank paper too) put s12
# p0127-p0152 at 12, level with the twin.
# Session 2026-12-08 (tw19b): a phone photo of white paper on a white table with two
# sides out of frame is keyed unrectified, and the cell's one shift does not follow the
# keystone: whole glyphs lie 3-5 fine pixels off, their strokes thick and joined to their
# own explained ink (tests/test_capture.py, two sides out of frame, seeds 0, 1, 3: 5, 8
# and 10 thick blocks, two of three rejected).  A misplaced stroke is covered by the other
# page a little further on, with its glyph; a missing one is not, or only by another
# stroke with the rest of its glyph left uncovered.  So a component with a thick block is
# not counted when at some extra shift within _FINE_THICK_MOVE of the cell's the other
# page's tolerance covers _FINE_THICK_COVER of its pixels and of its glyph's (the page's
# ink 8-connected to it within the region).  Those photos: 0, 0, 0.  f25: 11 and 12 as
# before (the best extra shift covers at most 0.55 of the 3's arc and glyph, the photos'
# misplaced glyphs 0.89 or more); the other twins reaching the fine stage that the cores
# do not reject: none.  Positives at most 4 (full s12 3, was 5; s15 3, was 4; hard s13 0,
# was 3; s14 0, was 4; s34 2; s60 0, was 3; robustness set 4; the A5 rescans 1): the twin
# at 2.75 times the worst positive (was 2.2).  Measured and not taken: the component's
# own pixels alone keep f25 at 10-11 (its arc covered 0.51-0.61) but take the thick count
# from most other digit twins, which then rest on the cores alone: within +-3 or +-4 some
# other stroke covers 85-100 % of a missing one (the lowest window of the 177 twins at the
# fine stage 11 -> 0; "22/11/1978" -> "21/11/1978" 20 -> 0, "07 bản" -> "01 bản" 16 ->
# 4); within +-2 the photos keep 9.  The cover share works from 0.85 to 0.9 (at 0.8 a
# core-rejected twin drops to 0; at 0.95 a photo keeps 10).
_FINE_THICK_LIMIT = 8
_FINE_THICK_MOVE = 4  # misplaced strokes: extra shifts searched (fine pixels, see above)
_FINE_THICK_COVER = 0.85  # ... share of a component and of its glyph covered there
# Session 2026-12-08c: lost holes.  The one-digit twins left after tw19b are digits whose
# new shape shares nearly every stroke with the old: "08" -> "06", "06" -> "05" (fresh A5
# twin forms 94 and 109).  The 6 is the 8 without the stroke that closes its upper loop,
# a gap of 4-6 fine pixels that the 6's tolerance (faint ink, dilated) nearly fills: 5-15
# cores, no thick block.  What differs is topology: the 8 encloses paper that the 6 leaves
# open.  So a cell left with cores also rejects when one page's hole (paper its ink
# encloses, 4-connected) of at least _FINE_HOLE_AREA fine pixels is, on the other page,
# at least half paper connected to the region's edge around that page's ink dilated by
# one pixel, with a bridge (the first page's ink where the other leaves it open, next to
# the hole) of at least _FINE_HOLE_BRIDGE pixels outside the other's tolerance.  Measured
# (both orders, tuning sets): the twins' lost holes 85-89 pixels (f94, bridge 14) and
# 132-150 (f109, bridge 23-27).  Positives with a lost hole at all: the tests' robustness
# set 2 of 216 ordered pairs (50 pixels, bridge 12: the other scan cut off mid-word),
# full s12 4 of 120 (54 pixels, bridge 8: a speck closing an "n"); none in the A5 rescans
# (300), full s15 (110), hard s13, s14, s34, s60 (94, phone pairs included).  Without
# the bridge, phone photos whose serif hairlines break lose holes of 88-184 pixels (hard
# s34, s60); against the other's tolerance instead of its dilated ink the gap closes and
# the twins keep their holes; without a region larger than the hole's by 8 pixels, a
# glyph cut by the region's edge on one page only loses its hole.  Limits at about the
# geometric means of the worst positive and the twin: 68 (54 and 85) and 10 (8 and 14).
# Session 2026-12-08c, later: a year whose 8 and 6 swap places ("1986" -> "1968", fresh
# twin form 271) leaves its cores in the cells below the digits' holes, whose own cells
# keep none; so a searched cell next to a cell with cores is searched for lost holes too,
# at the shift its own search chose.  Counting instead the holes next to a cell with cores
# at that cell's shift rejected two rescans of tuning full s15 (p0002: the 0s of a "%" lay
# 5 fine pixels off at the neighbour's shift); at their own cells' shifts they do not.
_FINE_HOLE_AREA = 68
_FINE_HOLE_MAX = 400  # larger enclosed paper is a table's cell, not a glyph's counter
_FINE_HOLE_BRIDGE = 10
_FINE_HOLE_OPEN = 0.25


def _fine_windows(cores: NDArray[np.int32]) -> NDArray[np.int64]:
    # window sums of the per-cell cores (both sides summed)
    return _window_sum(cores.sum(axis=2, dtype=np.int64), _FINE_WINDOW)


def fine_cores(a: DocumentKey, b: DocumentKey, counts: NDArray[np.int32]) -> NDArray[np.int32]:
    """Final verifier stage: per coarse cell, the cores (2 x 2 blocks) of unexplained ink
    in the fine bitmaps of ``a`` and of ``b`` (last axis) at the cell's best fine shift.

    ``counts`` holds the coarse pass's cells (unexplained ink of a and b, ink, and the
    cell's shift dy, dx, as the block verifier reports them); each cell with ink has its
    shift searched again within 2 fine pixels of twice the coarse one (the least
    unexplained fine ink of the worse side wins; the search stops at a shift that leaves
    at most 2 pixels).  Both keys must carry fine bitmaps.

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.dedup import Hash
    >>> ink = np.zeros(KEY_SHAPE, np.uint8); ink[100:108, 40:300] = 1
    >>> fine = np.packbits(np.repeat(np.repeat(ink, 2, axis=0), 2, axis=1), axis=1)
    >>> h = Hash(bytes(32), 256)
    >>> k = DocumentKey(h, h, ink, ink, 1.4, KEY_VERSION, fine, fine)
    >>> nb = (-(-KEY_SHAPE[0] // 24), -(-KEY_SHAPE[1] // 24))
    >>> counts = np.zeros((*nb, 5), np.int32); counts[..., 2] = 100
    >>> fine_cores(k, k, counts).shape, int(fine_cores(k, k, counts).max())
    ((32, 23, 2), 0)
    """
    return _fine_cells(a, b, counts, with_thick=False)[0]


def _fine_cells(
    a: DocumentKey, b: DocumentKey, counts: NDArray[np.int32], *, with_thick: bool = True
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    # fine_cores, and per cell left with cores the thick blocks of both sides (attached
    # 3 x 3 blocks of unexplained ink, see _FINE_THICK_LIMIT) and the largest lost hole
    # (see _FINE_HOLE_AREA) at the same shift; zeros without with_thick (the kernel then
    # skips both searches)
    fa_ink, fa_tol = a.fine_bitmaps()
    fb_ink, fb_tol = b.fine_bitmaps()
    nb = (-(-KEY_SHAPE[0] // _BLOCK), -(-KEY_SHAPE[1] // _BLOCK))
    if counts.shape != (*nb, 5) or counts.dtype != np.int32:
        raise InvalidArgumentError(f"counts must be int32 of shape {(*nb, 5)}")
    out = np.zeros((*nb, 2), np.int32)
    thick = np.zeros(nb, np.int32)
    holes = np.zeros(nb, np.int32)
    fit = _fit_field(counts, _frame_slack(a, b))
    _k.fine_verify(
        fa_ink,
        fa_tol,
        fb_ink,
        fb_tol,
        np.ascontiguousarray(counts),
        _NO_FIELD if fit is None else fit,
        FINE_SHAPE[0] // KEY_SHAPE[0],
        _FINE_SHIFT,
        2 * _QUIET + 8,
        _QUIET,
        out,
        _FINE_WIDE,
        thick if with_thick else None,
        _FINE_THICK_MOVE,
        _FINE_THICK_COVER,
        holes if with_thick else None,
        _FINE_HOLE_AREA,
        _FINE_HOLE_MAX,
        _FINE_HOLE_BRIDGE,
        _FINE_HOLE_OPEN,
    )
    return out, thick, holes
