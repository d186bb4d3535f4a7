"""Per-page processing: blank check, orientation and skew, cleanup, OCR, document hash."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InvalidArgumentError, OnestopError, PipelineError
from ..imageio import Page, load_pages
from ._types import _IMAGE_SUFFIXES, DigitizeOptions, PageReport

# --- input discovery ------------------------------------------------------------------------


def _expand_inputs(inputs: Any) -> list[Any]:
    """Paths, directories (image files sorted by name), bytes or Pages → ordered sources."""
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray, Page)):
        inputs = [inputs]
    out: list[Any] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if p.is_dir():
                files = sorted(
                    f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES
                )
                if not files:
                    raise InvalidArgumentError(
                        f"no page images ({', '.join(sorted(_IMAGE_SUFFIXES))}) in {p}"
                    )
                out.extend(files)
            else:
                out.append(p)
        elif isinstance(item, (bytes, bytearray, Page)):
            out.append(item)
        else:
            raise InvalidArgumentError(
                f"inputs must be paths, bytes or Pages, got {type(item).__name__}"
            )
    if not out:
        raise InvalidArgumentError("digitize needs at least one page")
    return out


def _iter_pages(sources: Sequence[Any], options: DigitizeOptions) -> Iterator[Page]:
    for src in sources:
        if isinstance(src, Page):
            yield src
        else:
            yield from load_pages(src, max_pixels=options.max_pixels, assume_dpi=options.assume_dpi)


# --- per-page processing ----------------------------------------------------------------------


@dataclass
class _PageWork:
    page: Page  # the archive copy: oriented, deskewed, cleaned
    report: PageReport
    before_thumb: bytes
    after_thumb: bytes
    hash_obj: Any


def _thumbnail(page: Page | np.ndarray, px: int) -> bytes:
    arr = page.pixels if isinstance(page, Page) else page
    im = Image.fromarray(arr)
    im.thumbnail((px, px), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def _process_page(page: Page, number: int, options: DigitizeOptions) -> _PageWork:
    from .. import cleanup, deskew
    from ..metadata import page_digest

    warnings: list[str] = []
    timings: dict[str, float] = {}
    if page.dpi is None:
        raise PipelineError(
            f"page {number} ({page.source}, frame {page.index}) has no usable resolution "
            f"(dpi_status={page.dpi_status}); rescan with the dpi recorded or pass assume_dpi"
        )
    if page.dpi_status == "assumed":
        warnings.append(f"resolution assumed: {page.dpi[0]:g} dpi")
    before = _thumbnail(page, options.thumbnail_px)
    straightened = None
    if options.deskew:
        t = time.perf_counter()
        straightened = deskew.deskew(page, max_angle=options.max_angle_deg, dpi=page.dpi[0])
        timings["deskew"] = time.perf_counter() - t
    work = page if straightened is None else straightened.page

    # One cleanup pass gives both the archive copy and the blank check: the archive copy keeps
    # its colour and every mark (background normalised, scanner borders whitened, specks
    # kept), while the blank check counts the ink of the despeckled mask.
    t = time.perf_counter()
    if options.clean:
        cleaned = cleanup.clean_page(work, cleanup.CleanOptions(whiten_specks=False))
        blank = cleaned.blank
        timings["clean"] = time.perf_counter() - t
    else:
        blank = cleanup.detect_blank(work, dpi=work.dpi[0] if work.dpi else None)
        timings["blank"] = time.perf_counter() - t

    rotation = rot_conf = skew = skew_conf = None
    skew_method: str | None = None
    if blank.is_blank:
        work = page  # a blank page is archived as scanned (it is kept, never dropped)
    else:
        if straightened is not None:
            orientation, est = straightened.orientation, straightened.skew
            rotation, rot_conf = orientation.rotation, orientation.confidence
            skew, skew_conf, skew_method = est.angle, est.confidence, est.method
            if rotation is None:
                warnings.append(
                    f"orientation unsure ({orientation.reason or 'low confidence'}): "
                    "left as scanned"
                )
            if skew is None:
                warnings.append(
                    f"skew unknown ({est.reason or 'low confidence'}): not straightened"
                )
        if options.clean:
            work = work.with_pixels(cleaned.image)
    if work.dpi is not None and min(work.dpi) < 200:
        warnings.append(
            f"resolution {min(work.dpi):g} dpi is below the 200 dpi minimum (NĐ 30/2020)"
        )
    if not work.is_color:
        warnings.append("page is not colour (NĐ 30/2020 requires colour images)")

    page_hash: dict[str, str] = {}
    hash_obj = None
    if options.hash_pages and not blank.is_blank:
        from .. import dedup

        t = time.perf_counter()
        hash_obj = dedup.page_hash(work)
        timings["hash"] = time.perf_counter() - t
        if hash_obj is not None:
            page_hash = hash_obj.hex_digests()
    report = PageReport(
        number=number,
        source=work.source,
        source_index=work.index,
        width=work.width,
        height=work.height,
        dpi=work.dpi,
        dpi_status=work.dpi_status,
        color=work.is_color,
        blank=bool(blank.is_blank),
        ink_fraction=float(blank.ink_fraction),
        rotation_deg=rotation,
        rotation_confidence=_f(rot_conf),
        skew_deg=_f(skew),
        skew_confidence=_f(skew_conf),
        skew_method=skew_method,
        ocr_confidence=None,  # filled in by run_ocr's caller
        ocr_words=0,
        sha256=page_digest(work, number).sha256,
        page_hash=page_hash,
        duplicates=(),
        warnings=tuple(warnings),
        timings=timings,
    )
    return _PageWork(work, report, before, _thumbnail(work, options.thumbnail_px), hash_obj)


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def run_ocr(page: Page, options: DigitizeOptions) -> tuple[Any, str | None, float]:
    """OCR one processed page: ``(OcrResult or None, warning or None, seconds)``.

    A Tesseract crash or timeout becomes a warning (the record goes on without text for that
    page); a missing Tesseract or language is raised, since no later page could succeed.
    """
    from .. import ocr

    t = time.perf_counter()
    try:
        result = ocr.recognize(
            page, lang=options.language, preprocess=False, timeout=options.ocr_timeout_s
        )
    except OnestopError as exc:
        from ..errors import MissingDependencyError

        if isinstance(exc, MissingDependencyError):
            raise
        return None, f"OCR failed: {exc}", time.perf_counter() - t
    return result, None, time.perf_counter() - t
