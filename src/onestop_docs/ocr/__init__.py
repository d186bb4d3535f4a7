"""Vietnamese OCR with Tesseract: searchable text and word boxes for a scanned page (bóc tách).

:func:`recognize` feeds Tesseract the page it reads best (background flattened, deskewed,
lone dust dots removed; see ``docs/ocr.md`` for the measurements behind that choice), passes
the true resolution, and returns an :class:`~onestop_docs.types.OcrResult` whose word boxes
are in the pixel coordinates of the page **the caller passed in**, mapped back through the
deskew.

The engine is Tesseract (Debian ``tesseract-ocr`` + ``tesseract-ocr-vie``), read inside
this process through its C API with its engines kept for the next pages
(``TesseractConfig.engine``, default ``"auto"``), or run as the ``tesseract`` program, a
child process per page.  Either way one page uses one core (``OMP_THREAD_LIMIT=1``) so that parallel pages do not
oversubscribe the cores, and a page has a timeout.  Both give the same text; the library
saves the model loading the program repeats for every page.  A missing program or language raises
:class:`~onestop_docs.errors.MissingDependencyError` naming the package to install; a crash,
timeout or unparseable output raises :class:`~onestop_docs.errors.OcrError`.
:func:`recognize_pages` runs a batch and goes on with the next page after a page fails.

Raw Tesseract output (hOCR, TSV, plain text) is available through :func:`tesseract_output`,
and :func:`parse_tsv` turns TSV into an :class:`~onestop_docs.types.OcrResult`.

Examples
--------
>>> import numpy as np
>>> from onestop_docs.ocr import recognize
>>> blank = np.full((200, 300), 255, np.uint8)
>>> res = recognize(blank, dpi=300)
>>> res.text, res.words, res.mean_confidence, (res.width, res.height)
('', (), 0.0, (300, 200))
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._deps import require_tool
from .._validate import as_gray, as_image, check_int, check_range
from ..capture import PAPER_MM
from ..cleanup import normalize_background, otsu_threshold
from ..deskew import deskew, estimate_resolution
from ..errors import InvalidArgumentError, MissingDependencyError, OcrError, OnestopError
from ..types import Box, OcrLine, OcrResult, OcrWord
from ..vntext import normalize
from . import _layout, _library, _pictures

__all__ = [
    "Box",
    "OcrLine",
    "OcrResult",
    "OcrWord",
    "PageOutcome",
    "PreparedPage",
    "Preprocess",
    "TesseractConfig",
    "available_languages",
    "dpi_from_paper_size",
    "parse_tsv",
    "prepare_page",
    "recognize",
    "recognize_pages",
    "remove_dust",
    "snap_to_scanner_dpi",
    "tesseract_output",
]

#: Default per-page timeout in seconds (an A4 page at 300 dpi takes 3-8 s on one core).
DEFAULT_TIMEOUT_S = 120.0
_LANG_RE = re.compile(r"^[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*$")
_TSV_HEADER = (
    "level",
    "page_num",
    "block_num",
    "par_num",
    "line_num",
    "word_num",
    "left",
    "top",
    "width",
    "height",
    "conf",
    "text",
)


@dataclass(frozen=True)
class TesseractConfig:
    """How to run Tesseract.

    Attributes
    ----------
    engine : {"auto", "library", "program"}
        ``"library"`` reads pages inside this process through Tesseract's C API
        (``libtesseract.so.5``, Debian ``libtesseract5``), keeping initialised engines for
        the next pages: the same text as the program, for about a quarter less CPU time a page
        (the program loads its model for every page).  ``"program"`` runs the ``command``
        as a child process per page, which isolates a Tesseract crash from the caller.
        ``"auto"`` (default) uses the library when it loads and ``command`` is the default
        ``"tesseract"``, else the program.  :func:`tesseract_output` always runs the
        program (it returns the program's raw output).
    command : str
        Program name or path (default ``"tesseract"``, looked up on ``PATH``).
    tessdata_dir : str or None
        Directory of ``*.traineddata`` files (``--tessdata-dir``); ``None`` uses the default.
    oem : int or None
        OCR engine mode (``--oem``); ``None`` keeps Tesseract's default (LSTM).
    variables : tuple of (str, str)
        Extra ``-c name=value`` settings.
    omp_thread_limit : int
        OpenMP threads one page may use (default 1: parallelise pages, not one page): the
        child's ``OMP_THREAD_LIMIT``; for the library engine, the limit its OpenMP starts
        with (the library engine is refused when OpenMP already runs in this process with a
        higher limit, see ``docs/ocr.md``).

    Examples
    --------
    >>> TesseractConfig().command, TesseractConfig().engine
    ('tesseract', 'auto')
    """

    engine: Literal["auto", "library", "program"] = "auto"
    command: str = "tesseract"
    tessdata_dir: str | None = None
    oem: int | None = None
    variables: tuple[tuple[str, str], ...] = ()
    omp_thread_limit: int = 1

    def __post_init__(self) -> None:
        if self.engine not in ("auto", "library", "program"):
            raise InvalidArgumentError(
                f"engine must be 'auto', 'library' or 'program', got {self.engine!r}"
            )
        if not isinstance(self.command, str) or not self.command:
            raise InvalidArgumentError(f"command must be a non-empty str, got {self.command!r}")
        if self.oem is not None and self.oem not in (0, 1, 2, 3):
            raise InvalidArgumentError(f"oem must be 0, 1, 2, 3 or None, got {self.oem!r}")
        check_int(self.omp_thread_limit, "omp_thread_limit", 1)
        for item in self.variables:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not all(isinstance(s, str) and s and "\n" not in s for s in item)
            ):
                raise InvalidArgumentError(
                    f"variables must be (name, value) pairs of non-empty str, got {item!r}"
                )


@dataclass(frozen=True)
class Preprocess:
    """Which preprocessing :func:`recognize` applies before Tesseract reads the page.

    The defaults are the combination measured best on degraded generated pages
    (``docs/benchmarks.md``, section OCR): flattening the background and deskewing help;
    binarising does not (Tesseract binarises internally and reads grey input better).

    Attributes
    ----------
    normalize_background : bool
        Flatten uneven lighting with :func:`onestop_docs.cleanup.normalize_background`.
    deskew : bool
        Straighten the page with :func:`onestop_docs.deskew.deskew` (and turn it upright).
    max_angle : float
        Largest skew (degrees) the deskew step searches.
    upscale_below_dpi : float or None
        Pages of known resolution below this are resampled (bicubic) to ``upscale_to_dpi``
        before reading: on generated 150-dpi pages this cut Tesseract's CER from 4.9 % to
        3.1 %, while at 200 dpi the gain was within noise (``docs/ocr.md``).  ``None``
        turns it off.  Default 200 (the legal minimum scan resolution, NĐ 30/2020 Phụ lục I).
    upscale_to_dpi : float
        Target resolution of that resampling (default 300).
    drop_red : bool
        On a colour page, fade red ink (seals, red stamps) to white in the grey image that
        Tesseract reads, as a scanner's red colour dropout does: a pixel keeps its luma
        unless its red exceeds both green and blue by more than 30 levels, and is white from
        80 levels on.  Black and blue ink, and black text printed over a seal, are kept.  A
        seal read as text adds garbage to the text layer: on evalkit's stamped colour pages
        this lowered the CER (``docs/benchmarks.md``, "Accuracy: skew, orientation and
        OCR").  Grey pages are not affected.  Default True.
    remove_dust : bool
        After deskewing, paint white the isolated dark dots of the page (dust, toner
        specks, salt noise) that Tesseract otherwise reads as ``:``, ``.``, ``-`` or ``_``
        words: compact specks (bounding box at most twice as long as wide and at least
        45 % filled) of at most ``DUST_MAX_AREA_MM2`` (about 1.1 mm², a dot of 1.2 mm) of
        the Otsu ink mask with no other ink (salt noise aside) within
        ``DUST_PROTECT_MM`` (1 mm), so full stops, commas, the dot of i, dấu nặng, tone
        marks and small letters stay with their neighbours, and dashes (elongated) stay.  On evalkit's degraded ``full`` tuning pages this cut the junk
        punctuation words to the level of the clean page and the mean CER by 0.4 points
        (``docs/ocr.md``).  Default True.

    Examples
    --------
    >>> Preprocess().deskew, Preprocess(deskew=False).normalize_background
    (True, True)
    >>> Preprocess().drop_red, Preprocess().remove_dust
    (True, True)
    """

    normalize_background: bool = True
    deskew: bool = True
    max_angle: float = 45.0
    upscale_below_dpi: float | None = 200.0
    upscale_to_dpi: float = 300.0
    drop_red: bool = True
    remove_dust: bool = True

    def __post_init__(self) -> None:
        for name in ("normalize_background", "deskew", "drop_red", "remove_dust"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidArgumentError(
                    f"{name} must be a bool, got {type(getattr(self, name)).__name__}"
                )
        check_range(self.max_angle, "max_angle", 0.0, 45.0)
        if self.upscale_below_dpi is not None:
            check_range(self.upscale_below_dpi, "upscale_below_dpi", 50.0, 4800.0)
        check_range(self.upscale_to_dpi, "upscale_to_dpi", 50.0, 1200.0)


class _Identity:
    def to_input(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return xy


class _Scaled:
    """Pixel centres of an image resampled by ``factor`` mapped back, then through ``inner``."""

    def __init__(self, inner: Any, factor: float) -> None:
        self.inner = inner
        self.factor = factor

    def to_input(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        pts = (np.asarray(xy, dtype=np.float64) + 0.5) / self.factor - 0.5
        return np.asarray(self.inner.to_input(pts), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PreparedPage:
    """The image handed to Tesseract and how its pixels map back to the input page.

    Attributes
    ----------
    image : numpy.ndarray
        uint8 (H, W) grey image Tesseract reads.
    transform : object
        Has ``to_input(xy)`` mapping (N, 2) ``(x, y)`` pixel coordinates of ``image`` to the
        input page (identity when nothing moved).
    skew_deg : float or None
        Skew the deskew step removed (library sign convention: positive = counter-clockwise),
        ``None`` when not run or undecided.
    input_size : tuple of int
        ``(width, height)`` of the input page.
    dpi : float or None
        Resolution of ``image`` (differs from the page's after upscaling).
    dpi_source : str or None
        Where the page's resolution came from: ``"argument"``, ``"page"``, ``"paper"``
        (its pixel size is a sheet at a scanner setting), ``"text"`` (estimated from the text
        size) or ``None`` (unknown).
    steps : tuple of str
        Preprocessing steps applied, in order.
    seconds : float
        Time spent preparing.
    """

    image: NDArray[np.uint8]
    transform: Any
    skew_deg: float | None
    input_size: tuple[int, int]
    dpi: float | None = None
    steps: tuple[str, ...] = ()
    seconds: float = 0.0
    dpi_source: str | None = None


@dataclass(frozen=True)
class PageOutcome:
    """Result of one page of :func:`recognize_pages`: either ``result`` or ``error`` is set."""

    index: int
    result: OcrResult | None = None
    error: OnestopError | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """True when the page was recognised."""
        return self.result is not None


# --------------------------------------------------------------------------- environment

_lang_lock = threading.Lock()
_lang_cache: dict[tuple[str, str | None], frozenset[str]] = {}


def _child_env(config: TesseractConfig) -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = str(config.omp_thread_limit)
    return env


def _apt_package(lang: str) -> str:
    return "tesseract-ocr-" + lang.lower().replace("_", "-")


def available_languages(config: TesseractConfig | None = None) -> frozenset[str]:
    """Languages the ``tesseract`` program can load (``tesseract --list-langs``), cached.

    Raises
    ------
    MissingDependencyError
        The program is not installed (names the Debian package ``tesseract-ocr``).
    OcrError
        The program ran but its answer could not be read.

    Examples
    --------
    >>> "vie" in available_languages()
    True
    """
    config = config or TesseractConfig()
    key = (config.command, config.tessdata_dir)
    with _lang_lock:
        cached = _lang_cache.get(key)
    if cached is not None:
        return cached
    exe = require_tool(config.command, "tesseract-ocr")
    cmd = [exe]
    if config.tessdata_dir is not None:
        cmd += ["--tessdata-dir", config.tessdata_dir]
    cmd.append("--list-langs")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, timeout=30, env=_child_env(config), check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise OcrError(f"could not run {exe!r} --list-langs: {exc}") from exc
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode != 0:
        raise OcrError(
            f"{exe!r} --list-langs failed with exit status {proc.returncode}: {out[-300:]}"
        )
    langs = frozenset(
        ln.strip() for ln in out.splitlines() if ln.strip() and not ln.startswith("List of")
    )
    with _lang_lock:
        _lang_cache[key] = langs
    return langs


def _check_language(lang: str, config: TesseractConfig) -> None:
    if not isinstance(lang, str) or not _LANG_RE.match(lang):
        raise InvalidArgumentError(
            f"lang must be Tesseract language names joined by '+', e.g. 'vie' or 'vie+eng', "
            f"got {lang!r}"
        )
    have = available_languages(config)
    for part in lang.split("+"):
        if part not in have:
            raise MissingDependencyError(
                f"Tesseract has no {part!r} language data (installed: "
                f"{', '.join(sorted(have)) or 'none'}); install it with: "
                f"apt-get install {_apt_package(part)}"
            )


def _resolve_dpi(page: Any, dpi: float | None) -> float | None:
    if dpi is not None:
        return check_range(dpi, "dpi", 50.0, 4800.0)
    page_dpi = getattr(page, "dpi", None)
    if isinstance(page_dpi, tuple) and len(page_dpi) == 2:
        return float(math.sqrt(float(page_dpi[0]) * float(page_dpi[1])))
    return None


#: A resolution in a file below this is not believed (phone photos say 72, screenshots 96):
#: legal scans have at least 200 dpi (NĐ 30/2020/NĐ-CP Phụ lục I).
MIN_PLAUSIBLE_DPI = 100.0


def _dpi_for(
    page: Any, dpi: float | None, gray: NDArray[np.uint8] | Callable[[], NDArray[np.uint8]]
) -> tuple[float | None, str | None]:
    """The resolution to read ``page`` at and where it came from (see ``OcrResult.dpi_source``).

    ``gray`` (or a function making it) is used only when the text must say the resolution."""
    if dpi is not None:
        return check_range(dpi, "dpi", 50.0, 4800.0), "argument"
    own = _resolve_dpi(page, None)
    if own is not None and MIN_PLAUSIBLE_DPI <= own <= 4800.0:
        return own, "page"
    shape = np.shape(getattr(page, "pixels", page))
    if len(shape) >= 2 and min(shape[:2]) > 0:  # an empty page is refused by the caller
        paper = dpi_from_paper_size(int(shape[1]), int(shape[0]))
        if paper is not None:
            return paper, "paper"
    est = estimate_resolution(gray() if callable(gray) else gray)
    if est.dpi is not None:
        return snap_to_scanner_dpi(est.dpi), "text"
    return None, None


#: Resolutions scanners offer (flatbed and document scanners, multifunction printers).
SCANNER_DPIS = (100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1200.0)
#: A resolution read from the text within this relative distance of a scanner setting is
#: taken to be that setting.
SCANNER_DPI_TOLERANCE = 0.1


def snap_to_scanner_dpi(dpi: float) -> float:
    """The scanner setting a resolution read from the text most likely stands for.

    The text size gives the resolution only to within about 7 % (body text is 13 or 14 pt,
    bold or not), while a scanned page was made at one of a few settings
    (:data:`SCANNER_DPIS`).  Tesseract's layout analysis depends on ``--dpi``: on an evalkit
    tuning page read at 320 instead of its true 300 dpi the CER went from 0.9 to 3.8 %
    (``docs/ocr.md``).  An estimate within 10 % of a setting is therefore taken to be that
    setting; any other (a phone photo, small print) is kept as it is.

    Examples
    --------
    >>> snap_to_scanner_dpi(320.0), snap_to_scanner_dpi(280.0), snap_to_scanner_dpi(240.0)
    (300.0, 300.0, 240.0)

    Raises
    ------
    InvalidArgumentError
        ``dpi`` not a finite number in (0, 100000].
    """
    dpi = check_range(dpi, "dpi", 0.0, 100000.0, lo_open=True)
    best = min(SCANNER_DPIS, key=lambda s: abs(math.log(dpi / s)))
    return best if abs(dpi / best - 1.0) <= SCANNER_DPI_TOLERANCE else float(dpi)


#: A page whose sides are both within this relative distance of a paper size at a scanner
#: setting is taken to be that sheet scanned at that setting.
PAPER_SIZE_TOLERANCE = 0.01


def dpi_from_paper_size(width: int, height: int) -> float | None:
    """The scanner setting at which a page of this pixel size is a whole sheet of paper.

    A scanner (or :func:`onestop_docs.capture.rectify` told the paper and a dpi)
    writes an A4 sheet at 300 dpi as 2480 x 3508 pixels; a page whose sides both lie within
    :data:`PAPER_SIZE_TOLERANCE` of a sheet of :data:`onestop_docs.capture.PAPER_MM` at one
    of :data:`SCANNER_DPIS`, upright or landscape, was made at that setting.  This beats the
    text size (:func:`onestop_docs.deskew.estimate_resolution`): on evalkit's hard tuning
    pages, all A4 sheets at 300 dpi, 31 of 385 read 150 to 370 dpi from their text (phone
    captures with perspective, short pages, ID cards), and a reporting page read at 260
    went from 12.2 to 62.6 % CER (``docs/ocr.md``).  No two sheets meet at two settings
    (A5 at 300 dpi is A4 at 212 dpi), so the answer is unique.

    Parameters
    ----------
    width, height : int
        Page size in pixels.

    Returns
    -------
    float or None
        The setting in dpi, or ``None`` when the size is no sheet at any setting (a cropped
        scan, a phone photo's frame).

    Examples
    --------
    >>> dpi_from_paper_size(2480, 3508), dpi_from_paper_size(3508, 2480)
    (300.0, 300.0)
    >>> dpi_from_paper_size(1654, 2339), dpi_from_paper_size(3024, 4032) is None
    (200.0, True)
    """
    w = check_int(width, "width", 1)
    h = check_int(height, "height", 1)
    for side_mm, long_mm in PAPER_MM.values():
        for setting in SCANNER_DPIS:
            sw, sh = side_mm * setting / 25.4, long_mm * setting / 25.4
            for pw, ph in ((sw, sh), (sh, sw)):
                if (
                    abs(w / pw - 1.0) <= PAPER_SIZE_TOLERANCE
                    and abs(h / ph - 1.0) <= PAPER_SIZE_TOLERANCE
                ):
                    return setting
    return None


def _check_psm(psm: int | None) -> None:
    if psm is not None:
        check_int(psm, "psm", 0, 13)


def _check_order(order: str) -> None:
    if order not in ("rows", "tesseract"):
        raise InvalidArgumentError(f"order must be 'rows' or 'tesseract', got {order!r}")


def _check_timeout(timeout: float) -> float:
    return check_range(timeout, "timeout", 0.0, 86400.0, lo_open=True)


# --------------------------------------------------------------------------- preprocessing

# Red dropout (Preprocess.drop_red): red - max(green, blue) above _RED_LO starts fading a
# pixel to white, _RED_LO + _RED_SPAN and more makes it white.
_RED_LO = 30
_RED_SPAN = 50


def _red_dropout(page: Any) -> NDArray[np.uint8]:
    """Grey image for Tesseract: luma, with red ink faded to white on colour pages."""
    arr = as_image(page, name="page", allow_rgb=True)
    if arr.ndim == 2:
        return arr
    from .._native import gray as _gray  # type: ignore[attr-defined]

    out = np.empty(arr.shape[:2], dtype=np.uint8)
    _gray.red_dropout(np.ascontiguousarray(arr), out, _RED_LO, _RED_SPAN)
    return out


#: Largest dust speck :func:`remove_dust` removes, in mm² (150 px at 300 dpi: the kit's dust
#: dots reach 1 mm across; a 12-14 pt full stop is 0.2-0.3 mm², a dash 0.4 mm², but they
#: sit next to their word or are elongated).
DUST_MAX_AREA_MM2 = 150.0 * (25.4 / 300.0) ** 2
#: A speck with other ink this close (mm, Chebyshev distance from its bounding box) is kept.
DUST_PROTECT_MM = 1.0
#: Specks of at most this area (mm², 6 px at 300 dpi: salt noise) protect no other speck.
DUST_NOISE_MM2 = 6.0 * (25.4 / 300.0) ** 2
_DUST_MAX_ASPECT = 2.0
_DUST_MIN_FILL = 0.45
_DUST_GROW_MM = 0.17  # painted with a margin of 2 px at 300 dpi (anti-aliased edge, JPEG halo)
_DUST_CHUNK = 256


def remove_dust(image: Any, *, dpi: float | None = None) -> NDArray[np.uint8]:
    """A grey page with its isolated dark dots (dust, specks, salt noise) painted white.

    The dots are components of the Otsu ink mask (:func:`onestop_docs.cleanup.otsu_threshold`,
    the threshold Tesseract applies) that are compact (bounding box at most twice as long
    as wide, at least 45 % filled), of at most :data:`DUST_MAX_AREA_MM2`, and alone: no
    other component larger than :data:`DUST_NOISE_MM2` (salt noise) within
    :data:`DUST_PROTECT_MM` of their bounding box.  Small letters and their diacritics
    (a lone "ọ" at 10 pt, a tone mark over a circumflex) keep each other; a dash is
    elongated and stays.  Each removed dot is painted white with a margin of 0.17 mm; every
    other pixel is unchanged.  Tesseract reads such dots as ``:``, ``.``, ``-`` or ``_``
    words; see ``docs/ocr.md`` for the measurements.

    Parameters
    ----------
    image : ndarray or Page
        uint8 grey (H, W) page, paper light (e.g. after
        :func:`onestop_docs.cleanup.normalize_background`).
    dpi : float, optional
        Resolution for the sizes; defaults to the Page's (when at least
        ``MIN_PLAUSIBLE_DPI``), else 300.

    Returns
    -------
    ndarray of uint8
        A new (H, W) array.

    Raises
    ------
    InvalidArgumentError, InvalidImageError
        Not a uint8 grey image, or a bad dpi.

    Examples
    --------
    >>> import numpy as np
    >>> page = np.full((200, 200), 250, np.uint8)
    >>> page[50:58, 20:180] = 10           # a rule: long, kept
    >>> page[150:156, 100:106] = 20        # a lone dot 0.5 mm across: dust
    >>> page[62:66, 100:104] = 20          # a dot just under the rule: kept
    >>> out = remove_dust(page, dpi=300)
    >>> int(out[152, 102]), int(out[63, 101]), int(out[54, 50])
    (255, 20, 10)
    """
    gray = as_gray(image, name="image")
    res = _resolve_dpi(image, dpi)
    if res is None or (dpi is None and not MIN_PLAUSIBLE_DPI <= res <= 4800.0):
        res = 300.0
    from .._native import cleanup_components as _cc  # type: ignore[attr-defined]

    px_mm = res / 25.4
    mask = np.ascontiguousarray(gray <= otsu_threshold(gray)).view(np.uint8)
    ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1 = _cc.label_runs(mask)
    out = np.array(gray, dtype=np.uint8, order="C", copy=True)
    bw = (bx1 - bx0).astype(np.int64)
    bh = (by1 - by0).astype(np.int64)
    cand = (
        (area <= DUST_MAX_AREA_MM2 * px_mm * px_mm)
        & (np.maximum(bw, bh) <= _DUST_MAX_ASPECT * np.minimum(bw, bh))
        & (area >= _DUST_MIN_FILL * bw * bh)
    )
    if not cand.any():
        return out
    solid = area > DUST_NOISE_MM2 * px_mm * px_mm
    dist = max(1, round(DUST_PROTECT_MM * px_mm))
    h, w = gray.shape
    # First against the ink that is no candidate (letters, rules): a kernel search of each
    # candidate's box; then the few candidates left against the other solid candidates.
    anchors = np.zeros((h, w, 1), np.uint8)
    _cc.paint_runs(
        anchors, ry, rx0, rx1, rlab, (~cand & solid).view(np.uint8), np.ones(1, np.uint8), 0
    )
    near = np.zeros(area.size, np.uint8)
    _cc.near_ink(anchors[:, :, 0], bx0, by0, bx1, by1, cand.view(np.uint8), dist, near)
    lone = np.nonzero(cand & (near == 0))[0]
    peers = np.nonzero(cand & solid)[0]
    gone = np.zeros(area.size, np.uint8)
    px0, py0, px1, py1 = bx0[peers], by0[peers], bx1[peers], by1[peers]
    for start in range(0, lone.size, _DUST_CHUNK):
        r = lone[start : start + _DUST_CHUNK]
        hit = (
            (px0[None, :] < (bx1[r] + dist)[:, None])
            & (px1[None, :] > (bx0[r] - dist)[:, None])
            & (py0[None, :] < (by1[r] + dist)[:, None])
            & (py1[None, :] > (by0[r] - dist)[:, None])
            & (peers[None, :] != r[:, None])
        )
        gone[r[~hit.any(axis=1)]] = 1
    if gone.any():
        _cc.paint_runs(
            out.reshape(h, w, 1),
            ry,
            rx0,
            rx1,
            rlab,
            gone,
            np.full(1, 255, np.uint8),
            max(1, round(_DUST_GROW_MM * px_mm)),
        )
    return out


def prepare_page(
    page: Any, *, dpi: float | None = None, options: Preprocess | None = None
) -> PreparedPage:
    """Turn a page into the grey image Tesseract reads best, remembering how to map back.

    Parameters
    ----------
    page : Page or numpy.ndarray
        uint8 grey or RGB page.
    dpi : float, optional
        Resolution; defaults to the page's own when it is at least ``MIN_PLAUSIBLE_DPI``
        (100), else read from the page's pixel size (:func:`dpi_from_paper_size`), else
        estimated from the text size (:func:`onestop_docs.deskew.estimate_resolution`), as
        in :func:`recognize`.
    options : Preprocess, optional
        Steps to apply (default :class:`Preprocess`).

    Returns
    -------
    PreparedPage

    Raises
    ------
    InvalidArgumentError, InvalidImageError
        The page is not a uint8 image.

    Examples
    --------
    >>> import numpy as np
    >>> prep = prepare_page(np.full((50, 80), 255, np.uint8),
    ...                     options=Preprocess(deskew=False, normalize_background=False))
    >>> prep.image.shape, prep.steps, prep.input_size
    ((50, 80), ('remove_dust',), (80, 50))
    >>> prep = prepare_page(np.full((50, 80), 255, np.uint8), dpi=150,
    ...                     options=Preprocess(deskew=False, normalize_background=False,
    ...                                        remove_dust=False))
    >>> prep.image.shape, prep.steps, prep.dpi
    ((100, 160), ('upscale',), 300.0)
    """
    t0 = time.perf_counter()
    opts = options if options is not None else Preprocess()
    if not isinstance(opts, Preprocess):
        raise InvalidArgumentError(f"options must be a Preprocess, got {type(opts).__name__}")
    gray = _red_dropout(page) if opts.drop_red else as_gray(page, name="page")
    size = (int(gray.shape[1]), int(gray.shape[0]))
    dpi_val, dpi_source = _dpi_for(page, dpi, gray)
    steps: list[str] = []
    img = gray
    transform: Any = _Identity()
    skew: float | None = None
    if opts.normalize_background:
        img = normalize_background(img, dpi=dpi_val)  # grey in, grey out, C-contiguous
        steps.append("normalize_background")
    if opts.deskew:
        res = deskew(img, max_angle=opts.max_angle, dpi=dpi_val)
        img = as_gray(res.page, name="deskewed page")
        transform = res.transform
        skew = None if res.skew.angle is None else float(res.skew.angle)
        steps.append("deskew")
    if opts.remove_dust:
        img = remove_dust(img, dpi=dpi_val)
        steps.append("remove_dust")
    out_dpi = dpi_val
    if (
        opts.upscale_below_dpi is not None
        and dpi_val is not None
        and dpi_val < opts.upscale_below_dpi
        and dpi_val < opts.upscale_to_dpi
    ):
        factor = opts.upscale_to_dpi / dpi_val
        h, w = img.shape
        size_up = (max(1, round(w * factor)), max(1, round(h * factor)))
        img = np.asarray(Image.fromarray(img).resize(size_up, Image.Resampling.BICUBIC))
        transform = _Scaled(transform, size_up[0] / w)
        out_dpi = dpi_val * size_up[0] / w
        steps.append("upscale")
    return PreparedPage(
        image=img,
        transform=transform,
        skew_deg=skew,
        input_size=size,
        dpi=out_dpi,
        steps=tuple(steps),
        seconds=time.perf_counter() - t0,
        dpi_source=dpi_source,
    )


# --------------------------------------------------------------------------- the engine


def _pgm_bytes(img: NDArray[np.uint8]) -> bytes:
    # Binary PGM: no compression cost, read by Leptonica from stdin; dpi goes on the command line.
    h, w = img.shape
    return b"P5\n%d %d\n255\n" % (w, h) + img.tobytes()


def _uses_library(config: TesseractConfig) -> bool:
    if config.engine == "program":
        return False
    if config.engine == "library":
        _library.require(config.omp_thread_limit)  # raises the reason it cannot
        return True
    return config.command == "tesseract" and _library.available(config.omp_thread_limit)


def _run_tesseract(
    img: NDArray[np.uint8],
    lang: str,
    kind: Literal["tsv", "hocr", "txt"],
    *,
    dpi: float | None,
    psm: int | None,
    timeout: float,
    config: TesseractConfig,
) -> str:
    if kind == "tsv" and _uses_library(config):
        return _library.recognize_tsv(
            np.ascontiguousarray(img, dtype=np.uint8),
            lang,
            dpi=dpi,
            psm=psm,
            timeout=timeout,
            tessdata_dir=config.tessdata_dir,
            oem=config.oem,
            variables=config.variables,
            thread_limit=config.omp_thread_limit,
        )
    return _run_program(img, lang, kind, dpi=dpi, psm=psm, timeout=timeout, config=config)


def _run_program(
    img: NDArray[np.uint8],
    lang: str,
    kind: Literal["tsv", "hocr", "txt"],
    *,
    dpi: float | None,
    psm: int | None,
    timeout: float,
    config: TesseractConfig,
) -> str:
    exe = require_tool(config.command, "tesseract-ocr")
    cmd = [exe, "stdin", "stdout"]
    if config.tessdata_dir is not None:
        cmd += ["--tessdata-dir", config.tessdata_dir]
    cmd += ["-l", lang]
    if dpi is not None:
        cmd += ["--dpi", str(round(dpi))]
    if psm is not None:
        cmd += ["--psm", str(psm)]
    if config.oem is not None:
        cmd += ["--oem", str(config.oem)]
    for name, value in config.variables:
        cmd += ["-c", f"{name}={value}"]
    if kind != "txt":
        cmd.append(kind)
    try:
        proc = subprocess.run(
            cmd,
            input=_pgm_bytes(img),
            capture_output=True,
            timeout=timeout,
            env=_child_env(config),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError(
            f"tesseract did not finish within the timeout of {timeout:g} s "
            f"(page {img.shape[1]}x{img.shape[0]} px, lang={lang!r}); it was stopped"
        ) from exc
    except FileNotFoundError as exc:
        raise MissingDependencyError(
            f"the program {config.command!r} could not be started; "
            "install it with: apt-get install tesseract-ocr"
        ) from exc
    except OSError as exc:
        raise OcrError(f"could not run {exe!r}: {exc}") from exc
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        if "Failed loading language" in err or "Error opening data file" in err:
            raise MissingDependencyError(
                f"tesseract could not load the language data for {lang!r}; install it with: "
                f"apt-get install {' '.join(_apt_package(p) for p in lang.split('+'))}"
            )
        how = (
            f"was killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"failed with exit status {proc.returncode}"
        )
        raise OcrError(f"tesseract {how}: {err.strip()[-400:] or 'no message'}")
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OcrError(f"tesseract output is not UTF-8 (byte {exc.start})") from exc


def tesseract_output(
    page: Any,
    lang: str = "vie",
    *,
    kind: Literal["tsv", "hocr", "txt"] = "hocr",
    psm: int | None = None,
    dpi: float | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    config: TesseractConfig | None = None,
) -> str:
    """Run Tesseract on ``page`` as given and return its raw hOCR, TSV or text output.

    No preprocessing is applied, so coordinates in the output are those of ``page``; to get
    hOCR for the deskewed image :func:`recognize` reads, pass ``prepare_page(page).image``
    (and map coordinates with its ``transform``).  The text is returned as Tesseract wrote
    it (not NFC-normalised).

    Raises
    ------
    MissingDependencyError
        ``tesseract`` or the language data is missing.
    OcrError
        Tesseract crashed, timed out or wrote something that is not UTF-8.
    InvalidArgumentError, InvalidImageError
        Bad page, language name, psm, dpi or timeout.

    Examples
    --------
    >>> import numpy as np
    >>> html = tesseract_output(np.full((60, 60), 255, np.uint8), dpi=300)
    >>> "ocr_page" in html
    True
    """
    if kind not in ("tsv", "hocr", "txt"):
        raise InvalidArgumentError(f"kind must be 'tsv', 'hocr' or 'txt', got {kind!r}")
    config = config or TesseractConfig()
    _check_psm(psm)
    timeout = _check_timeout(timeout)
    img = as_gray(page, name="page")
    dpi_val = _resolve_dpi(page, dpi)
    _check_language(lang, config)
    return _run_program(img, lang, kind, dpi=dpi_val, psm=psm, timeout=timeout, config=config)


# --------------------------------------------------------------------------- TSV → OcrResult


def _map_boxes(
    raw: NDArray[np.float64], transform: Any, width: int, height: int
) -> NDArray[np.int64]:
    """Map (N, 4) x0, y0, x1, y1 boxes through ``transform``; return enclosing input boxes."""
    n = raw.shape[0]
    if n == 0 or isinstance(transform, _Identity):
        out = np.rint(raw).astype(np.int64)
    else:
        x0, y0, x1, y1 = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
        corners = np.stack(
            [
                np.stack([x0, y0], axis=1),
                np.stack([x1, y0], axis=1),
                np.stack([x0, y1], axis=1),
                np.stack([x1, y1], axis=1),
            ],
            axis=1,
        ).reshape(-1, 2)
        # Box edges are pixel boundaries; the transform maps pixel centres (deskew module's
        # convention), so shift by half a pixel on the way in and out.
        mapped = np.asarray(transform.to_input(corners - 0.5), dtype=np.float64) + 0.5
        if mapped.shape != corners.shape or not np.all(np.isfinite(mapped)):
            raise OcrError(
                f"the deskew transform returned {mapped.shape} coordinates for "
                f"{corners.shape}; cannot place the word boxes on the input page"
            )
        mapped = mapped.reshape(n, 4, 2)
        out = np.empty((n, 4), dtype=np.int64)
        out[:, 0] = np.floor(mapped[:, :, 0].min(axis=1))
        out[:, 1] = np.floor(mapped[:, :, 1].min(axis=1))
        out[:, 2] = np.ceil(mapped[:, :, 0].max(axis=1))
        out[:, 3] = np.ceil(mapped[:, :, 1].max(axis=1))
    np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
    return out


def parse_tsv(
    tsv: str,
    *,
    width: int,
    height: int,
    transform: Any = None,
    dpi: float | None = None,
    language: str = "vie",
    order: Literal["rows", "tesseract"] = "rows",
) -> OcrResult:
    """Build an :class:`OcrResult` from Tesseract TSV output.

    Words (TSV level 5) with empty text are dropped; lines are Tesseract's
    ``(block, paragraph, line)`` groups; word text is NFC-normalised
    (:func:`onestop_docs.vntext.normalize`).  With ``order="rows"`` (default) blocks
    standing side by side whose lines share baselines (a form's label and value columns, a
    two-column header) are read row by row, left to right, and lines and rows are sorted
    top to bottom and column by column where Tesseract's block order is not
    (``docs/ocr.md``, "Reading order"); ``order="tesseract"`` keeps Tesseract's order.
    The order is found in the TSV's own coordinates, before boxes are mapped
    through ``transform`` (``to_input`` on (N, 2) pixel coordinates) when given, then
    clipped to the ``width`` x ``height`` input page.

    Raises
    ------
    OcrError
        The TSV header or a row cannot be parsed.
    InvalidArgumentError
        ``width`` or ``height`` is not a positive int, or ``order`` is unknown.

    Examples
    --------
    >>> tsv = ("level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\t"
    ...        "width\\theight\\tconf\\ttext\\n"
    ...        "5\\t1\\t1\\t1\\t1\\t1\\t10\\t20\\t40\\t15\\t91.5\\tSố:\\n"
    ...        "5\\t1\\t1\\t1\\t1\\t2\\t60\\t20\\t90\\t15\\t88.5\\t223/KH-UBND\\n")
    >>> res = parse_tsv(tsv, width=200, height=100)
    >>> res.text, res.words[1].box, res.mean_confidence
    ('Số: 223/KH-UBND', Box(x0=60, y0=20, x1=150, y1=35), 90.0)
    """
    check_int(width, "width", 1, numpy_ok=True)
    check_int(height, "height", 1, numpy_ok=True)
    _check_order(order)
    lines_in = tsv.splitlines()
    if not lines_in:
        return OcrResult(
            text="",
            lines=(),
            mean_confidence=0.0,
            width=width,
            height=height,
            dpi=dpi,
            language=language,
        )
    header = tuple(lines_in[0].rstrip("\r").split("\t"))
    if header != _TSV_HEADER:
        raise OcrError(f"unexpected Tesseract TSV header {lines_in[0][:120]!r}")
    keys: list[tuple[int, int, int, int]] = []
    texts: list[str] = []
    confs: list[float] = []
    raw: list[tuple[int, int, int, int]] = []
    for lineno, row in enumerate(lines_in[1:], start=2):
        if not row.strip():
            continue
        cols = row.rstrip("\r").split("\t")
        if len(cols) == 11:
            cols.append("")
        if len(cols) != 12:
            raise OcrError(f"Tesseract TSV line {lineno} has {len(cols)} columns, expected 12")
        try:
            level = int(cols[0])
            if level != 5:
                continue
            page_n, block, par, line = (int(c) for c in cols[1:5])
            left, top, w, h = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError as exc:
            raise OcrError(f"Tesseract TSV line {lineno} is not numeric: {row[:120]!r}") from exc
        text = normalize(cols[11]).strip()
        if not text:
            continue
        keys.append((page_n, block, par, line))
        texts.append(text)
        confs.append(min(100.0, max(0.0, conf)))
        raw.append((left, top, left + w, top + h))
    boxes = _map_boxes(
        np.asarray(raw, dtype=np.float64).reshape(-1, 4),
        transform if transform is not None else _Identity(),
        int(width),
        int(height),
    )
    # Tesseract's lines: runs of words with one (page, block, paragraph, line) key.
    spans: list[tuple[int, int]] = []
    for i, key in enumerate(keys):
        if i == 0 or key != keys[i - 1]:
            spans.append((i, i + 1))
        else:
            spans[-1] = (spans[-1][0], i + 1)
    if order == "rows" and len(spans) > 1:
        raw_arr = np.asarray(raw, dtype=np.int64).reshape(-1, 4)
        line_boxes = np.array(
            [
                [
                    raw_arr[s:e, 0].min(),
                    raw_arr[s:e, 1].min(),
                    raw_arr[s:e, 2].max(),
                    raw_arr[s:e, 3].max(),
                ]
                for s, e in spans
            ],
            dtype=np.int64,
        )
        line_blocks = np.array([keys[s][:2] for s, _ in spans], dtype=np.int64)
        # (page, block) -> one number per block for the layout step.
        block_ids = line_blocks[:, 0] * (int(line_blocks[:, 1].max()) + 1) + line_blocks[:, 1]
        spans = [spans[k] for k in _layout.reading_order(line_boxes, block_ids)]
    lines: list[OcrLine] = []
    for s, e in spans:
        words = tuple(
            OcrWord(
                text=texts[i],
                box=Box(int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2]), int(boxes[i, 3])),
                confidence=confs[i],
                line_index=len(lines),
            )
            for i in range(s, e)
        )
        lines.append(
            OcrLine(
                words=words,
                box=Box(
                    min(w.box.x0 for w in words),
                    min(w.box.y0 for w in words),
                    max(w.box.x1 for w in words),
                    max(w.box.y1 for w in words),
                ),
            )
        )
    return OcrResult(
        text="\n".join(ln.text for ln in lines),
        lines=tuple(lines),
        mean_confidence=float(np.mean(confs)) if confs else 0.0,
        width=int(width),
        height=int(height),
        dpi=dpi,
        language=language,
    )


# --------------------------------------------------------------------------- public calls


def recognize(
    page: Any,
    lang: str = "vie",
    *,
    psm: int | None = None,
    preprocess: bool | Preprocess = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    dpi: float | None = None,
    config: TesseractConfig | None = None,
    order: Literal["rows", "tesseract"] = "rows",
    read_pictures: bool = True,
) -> OcrResult:
    """Recognise the text of one page with Tesseract.

    Parameters
    ----------
    page : Page or numpy.ndarray
        uint8 grey (H, W) or RGB (H, W, 3) page.
    lang : str
        Tesseract languages joined by ``+`` (default ``"vie"``).
    psm : int, optional
        Page segmentation mode (``--psm``); ``None`` keeps Tesseract's automatic mode 3.
    preprocess : bool or Preprocess
        ``True`` (default) flattens the background, deskews, removes lone dust dots and
        upscales pages below 200 dpi before reading (see :class:`Preprocess`); ``False`` reads the page as given; a
        :class:`Preprocess` picks the steps.
    timeout : float
        Seconds before Tesseract is stopped (default 120).
    dpi : float, optional
        Resolution passed to Tesseract; defaults to the page's (geometric mean of x and y)
        when it is at least 100 dpi (a phone photo's "72 dpi" is not believed), else the
        scanner setting at which the page's pixel size is a whole sheet of paper
        (:func:`dpi_from_paper_size`: 2480 x 3508 is A4 at 300 dpi), else it is estimated
        from the size of the text (:func:`onestop_docs.deskew.estimate_resolution`), and an
        estimate within 10 % of a scanner setting is taken to be that setting
        (:func:`snap_to_scanner_dpi`).  ``OcrResult.dpi`` and ``dpi_source`` report which.
    config : TesseractConfig, optional
        Program, tessdata directory, engine mode and variables.
    order : {"rows", "tesseract"}
        Reading order of the lines.  ``"rows"`` (default): blocks side by side whose lines
        share baselines (a form's label and value columns, the two-column header) are read
        row by row, left to right, so "Họ và tên:" is followed by its value, and blocks are
        read top to bottom and column by column; ``"tesseract"``: Tesseract's own order
        (every label of such a table before every value).  See :func:`parse_tsv` and
        ``docs/ocr.md``.
    read_pictures : bool
        ``True`` (default): regions Tesseract's page segmentation set aside as pictures
        (a signature area crossed by a signature and a seal, typically) are read a second
        time as one block of text (``--psm 6``), and the words of that reading that look
        like text (confidence at least 90, two letters or digits, no symbols glued on)
        are added in place of the picture, line by line in reading order; ``False``
        keeps Tesseract's first reading.  The ``tesseract`` timing includes both
        readings.  See ``docs/ocr.md``, "Text under signatures and seals".

    Returns
    -------
    OcrResult
        NFC text, lines and words with boxes in pixel coordinates of ``page`` (after mapping
        back through any deskew or upscaling), per-word confidences and their mean.
        ``dpi`` is the page's resolution as used and ``dpi_source`` where it came from
        (``"argument"``, ``"page"``, ``"text"`` or ``None``); ``timings`` holds ``prepare``,
        ``tesseract`` and ``parse`` seconds.

    Notes
    -----
    Thread-safe: a kiosk server may call it from several threads.  With the library engine
    each call borrows an initialised Tesseract (one per page read at the same time, a few
    tens of MB each, freed at exit); with the program engine each call runs one Tesseract
    process.

    Raises
    ------
    MissingDependencyError
        ``tesseract`` or the language data is not installed (the message names the package).
    OcrError
        Tesseract crashed, timed out or produced unparseable output.
    InvalidArgumentError, InvalidImageError
        Bad page, language name, psm, dpi, timeout or order.

    Examples
    --------
    >>> import numpy as np
    >>> res = recognize(np.full((100, 100), 255, np.uint8), dpi=300, preprocess=False)
    >>> res.text, sorted(res.timings)
    ('', ['parse', 'prepare', 'tesseract'])
    """
    config = config or TesseractConfig()
    if not isinstance(config, TesseractConfig):
        raise InvalidArgumentError(f"config must be a TesseractConfig, got {type(config).__name__}")
    _check_psm(psm)
    _check_order(order)
    timeout = _check_timeout(timeout)
    if dpi is not None:
        check_range(dpi, "dpi", 50.0, 4800.0)
    if not isinstance(read_pictures, (bool, np.bool_)):
        raise InvalidArgumentError(
            f"read_pictures must be a bool, got {type(read_pictures).__name__}"
        )
    _check_language(lang, config)
    if preprocess is True:
        options: Preprocess = Preprocess()
    elif preprocess is False:
        options = Preprocess(
            normalize_background=False, deskew=False, upscale_below_dpi=None, remove_dust=False
        )
    elif isinstance(preprocess, Preprocess):
        options = preprocess
    else:
        raise InvalidArgumentError(
            f"preprocess must be a bool or a Preprocess, got {type(preprocess).__name__}"
        )
    # The grey copy is made only if the resolution must be read from the text.
    dpi_val, dpi_source = _dpi_for(page, dpi, lambda: as_gray(page, name="page"))
    prepared = prepare_page(page, dpi=dpi_val, options=options)
    t0 = time.perf_counter()
    tsv = _run_tesseract(
        prepared.image, lang, "tsv", dpi=prepared.dpi, psm=psm, timeout=timeout, config=config
    )
    if read_pictures:
        tsv = _read_pictures(tsv, prepared, lang, timeout - (time.perf_counter() - t0), config)
    t1 = time.perf_counter()
    width, height = prepared.input_size
    result = parse_tsv(
        tsv,
        width=width,
        height=height,
        transform=prepared.transform,
        dpi=dpi_val,
        language=lang,
        order=order,
    )
    result = dataclasses.replace(result, dpi_source=dpi_source)
    result.timings.update(
        prepare=prepared.seconds, tesseract=t1 - t0, parse=time.perf_counter() - t1
    )
    return result


def _read_pictures(
    tsv: str, prepared: PreparedPage, lang: str, timeout: float, config: TesseractConfig
) -> str:
    """``tsv`` with the picture blocks Tesseract set aside read again (``_pictures``)."""
    # Without a resolution the sizes are those of a 300-dpi scan (the kit's and the legal
    # scans' usual setting); Tesseract is then told nothing, as in the first reading.
    dpi = prepared.dpi if prepared.dpi is not None else 300.0
    blocks = _pictures.picture_blocks(tsv, dpi=dpi)
    if not blocks:
        return tsv
    img = prepared.image
    h, w = img.shape
    m = _pictures.margin_px(dpi)
    rereads: dict[tuple[int, int], tuple[int, int, str]] = {}
    deadline = time.perf_counter() + timeout
    for b in blocks:
        left = time.perf_counter()
        if left >= deadline:
            break  # the first reading stands; the page is not failed for its pictures
        x0, y0 = max(0, b.x0 - m), max(0, b.y0 - m)
        crop = np.ascontiguousarray(img[y0 : min(h, b.y1 + m), x0 : min(w, b.x1 + m)])
        rereads[b.key] = (
            x0,
            y0,
            _run_tesseract(
                crop, lang, "tsv", dpi=prepared.dpi, psm=6, timeout=deadline - left, config=config
            ),
        )
    return _pictures.splice_words(tsv, rereads)


def recognize_pages(
    pages: Iterable[Any],
    lang: str = "vie",
    *,
    workers: int | None = None,
    **kwargs: Any,
) -> Iterator[PageOutcome]:
    """Recognise many pages, yielding one :class:`PageOutcome` per page in input order.

    A page that fails (bad image, Tesseract crash or timeout) yields an outcome with
    ``error`` set and the batch goes on.  A missing ``tesseract`` program or language is
    raised at once: no later page could succeed.  Pages run in ``workers`` threads, each
    driving one single-threaded Tesseract (``OMP_THREAD_LIMIT=1``), so ``workers`` is the
    number of cores used.

    Parameters
    ----------
    pages : iterable of Page or numpy.ndarray
        Pages to read; consumed lazily (at most ``2 * workers`` pages are held at once).
    lang : str
        As for :func:`recognize`.
    workers : int, optional
        Parallel Tesseract processes (default: ``min(2, os.cpu_count())``).
    **kwargs
        Passed to :func:`recognize` (``psm``, ``preprocess``, ``timeout``, ``dpi``, ``config``).

    Raises
    ------
    MissingDependencyError
        ``tesseract`` or the language data is not installed.
    InvalidArgumentError
        ``workers`` is not a positive int.

    Examples
    --------
    >>> import numpy as np
    >>> pages = [np.full((80, 80), 255, np.uint8), np.zeros((4, 4), np.float32)]
    >>> [o.ok for o in recognize_pages(pages, dpi=300)]              # doctest: +SKIP
    [True, False]
    """
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    check_int(n_workers, "workers", 1)
    _check_language(lang, kwargs.get("config") or TesseractConfig())

    def one(index: int, page: Any) -> PageOutcome:
        try:
            return PageOutcome(index, result=recognize(page, lang, **kwargs))
        except MissingDependencyError:
            raise
        except OnestopError as exc:
            return PageOutcome(index, error=exc)

    if n_workers == 1:
        for i, page in enumerate(pages):
            yield one(i, page)
        return
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="onestop-ocr") as pool:
        pending: list[Any] = []
        for i, page in enumerate(pages):
            pending.append(pool.submit(one, i, page))
            while len(pending) >= 2 * n_workers:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
