"""Per-page processing: blank check, orientation and skew, cleanup, OCR, document hash.

:func:`run_pages` is the orchestrator: pages of one document are prepared on a thread pool
(the Cython kernels release the GIL; a one-page image file is decoded there too) and OCR'd on
a second pool whose threads each drive one single-threaded Tesseract; results come back in
page order.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InvalidArgumentError, InvalidImageError, OnestopError, PipelineError
from ..imageio import Page, load_pages
from ._capture import capture_page
from ._types import DigitizeOptions, PageReport

# --- input discovery ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One input: a path, bytes or a Page; ``lenient`` for files found in a folder."""

    item: Any
    lenient: bool = False


def _expand_inputs(inputs: Any) -> list[_Source]:
    """Paths, directories (every regular file, sorted by name), bytes or Pages → sources.

    Every file of a folder is a source, whatever its name: a file that turns out not to be a
    page (a stray note, an unsupported format) becomes an input finding when it is read,
    never a silent drop.
    """
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray, Page)):
        inputs = [inputs]
    out: list[_Source] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if p.is_dir():
                files = sorted(f for f in p.iterdir() if f.is_file())
                if not files:
                    raise InvalidArgumentError(f"no files in the input folder {p}")
                out.extend(_Source(f, lenient=True) for f in files)
            else:
                out.append(_Source(p))
        elif isinstance(item, (bytes, bytearray, Page)):
            out.append(_Source(item))
        else:
            raise InvalidArgumentError(
                f"inputs must be paths, bytes or Pages, got {type(item).__name__}"
            )
    if not out:
        raise InvalidArgumentError("digitize needs at least one page")
    return out


def count_input_pages(inputs: Any) -> int:
    """Pages that ``inputs`` (as :func:`digitize` takes them) hold, without decoding pixels.

    For a progress bar: a file that cannot be read counts 0 (reading it later reports it).

    Examples
    --------
    >>> import numpy as np
    >>> from onestop_docs.imageio import Page
    >>> count_input_pages([Page(np.zeros((4, 4), np.uint8))])
    1
    """
    from ..imageio import count_pages
    from ..pdfinput import inspect_pdf, is_pdf

    total = 0
    for src in _expand_inputs(inputs):
        item = src.item
        if isinstance(item, Page):
            total += 1
            continue
        try:
            if is_pdf(item):
                total += len(inspect_pdf(item).pages)
            else:
                total += count_pages(item)
        except OnestopError:
            continue
    return total


def _load(src: Any, options: DigitizeOptions) -> Iterator[Page]:
    from ..pdfinput import is_pdf, load_pdf_pages

    if isinstance(src, (str, os.PathLike, bytes, bytearray)) and is_pdf(src):
        return load_pdf_pages(
            src,
            max_pixels=options.max_pixels,
            text=options.pdf_text,
            render_dpi=options.pdf_render_dpi,
        )
    return load_pages(src, max_pixels=options.max_pixels, assume_dpi=options.assume_dpi)


@dataclass(frozen=True)
class _Deferred:
    """A one-page image file whose pixels a page worker decodes (not the ordering thread)."""

    src: _Source

    def decode(self, options: DigitizeOptions) -> Page:
        return next(iter(_load(self.src.item, options)))


@dataclass(frozen=True)
class _Unreadable:
    """A file of a folder that failed to decode in a page worker: an input finding."""

    src: _Source
    error: InvalidImageError


def _finding(src: _Source, exc: InvalidImageError) -> dict[str, Any]:
    return {
        "source": str(src.item),
        "page_index": exc.page_index,
        "error_type": type(exc).__name__,
        "message": str(exc),
    }


def _one_page_file(src: _Source) -> bool:
    from ..imageio import count_pages
    from ..pdfinput import is_pdf

    if not isinstance(src.item, (str, os.PathLike)):
        return False
    try:
        return not is_pdf(src.item) and count_pages(src.item) == 1
    except OnestopError:
        return False  # read it the ordinary way, which reports why it cannot be read


def _iter_pages(
    sources: Sequence[_Source], options: DigitizeOptions, findings: list[dict[str, Any]]
) -> Iterator[Page | _Deferred]:
    """Every page of every source in order; unusable files of a folder become findings.

    A file given by name that cannot be read raises (the caller asked for that file).  A
    file found in a folder that cannot be read is appended to ``findings`` and the other
    pages go on; if no page at all could be read, the first error is raised.  A one-page
    image file is yielded as a :class:`_Deferred` (its header was read, its pixels were
    not): the page worker decodes it, so decoding runs in parallel and a page worker
    really is one CPU's work.
    """
    first_error: InvalidImageError | None = None
    yielded = 0
    for src in sources:
        if isinstance(src.item, Page):
            yielded += 1
            yield src.item
            continue
        if _one_page_file(src):
            yielded += 1
            yield _Deferred(src)
            continue
        try:
            for page in _load(src.item, options):
                yielded += 1
                yield page
        except InvalidImageError as exc:
            if not src.lenient:
                raise
            first_error = first_error or exc
            findings.append(_finding(src, exc))
    if yielded == 0 and first_error is not None:
        raise first_error


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

    t = time.perf_counter()
    page, captured, warnings = capture_page(page, options)
    timings: dict[str, float] = {} if captured is None else {"capture": time.perf_counter() - t}
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
        hash_obj = dedup.page_hash(work, capture="off")  # a flatbed scan, not a photo
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
        capture=captured,
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
            page,
            lang=options.language,
            # The page is already normalised and deskewed; only the dust the archive copy
            # keeps is removed from what Tesseract reads (docs/ocr.md, dust removal).
            preprocess=ocr.Preprocess(
                normalize_background=False, deskew=False, upscale_below_dpi=None
            ),
            timeout=options.ocr_timeout_s,
            config=ocr.TesseractConfig(engine=options.ocr_engine),
        )
    except OnestopError as exc:
        from ..errors import MissingDependencyError

        if isinstance(exc, MissingDependencyError):
            raise
        return None, f"OCR failed: {exc}", time.perf_counter() - t
    return result, None, time.perf_counter() - t


# --- orchestration ----------------------------------------------------------------------------


def page_workers(options: DigitizeOptions) -> int:
    """How many pages of one document run at the same time (see ``DigitizeOptions``)."""
    if options.page_workers is not None:
        return int(options.page_workers)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


OcrOutcome = tuple[Any, str | None, float]


def run_pages(
    sources: Sequence[_Source],
    options: DigitizeOptions,
    findings: list[dict[str, Any]],
    handle: Callable[[_PageWork, OcrOutcome | None], None],
) -> None:
    """Prepare and OCR every page in parallel; call ``handle`` in page order, in this thread.

    Pages are handed out here, one at a time, to ``page_workers`` preparation threads (a
    one-page image file is decoded by the worker, a multi-page file here, frame by frame);
    a prepared page that is not blank goes straight to the OCR pool (with one worker, OCR
    runs in that worker's turn: one page worker uses one CPU).  At most
    ``2 * page_workers`` pages are in flight, so memory does not grow with the document.
    """
    workers = page_workers(options)
    prep = ThreadPoolExecutor(workers, thread_name_prefix="onestop-page")
    # One worker means one CPU: the page's OCR runs in its own thread's turn, not beside the
    # next page's preparation (a batch that gives each document one worker relies on it).
    ocr_pool = (
        ThreadPoolExecutor(workers, thread_name_prefix="onestop-ocr")
        if options.ocr and workers > 1
        else None
    )

    def prepare(item: Page | _Deferred, number: int) -> tuple[_PageWork, Any] | _Unreadable:
        if isinstance(item, _Deferred):
            try:
                page = item.decode(options)
            except InvalidImageError as exc:
                if not item.src.lenient:
                    raise
                return _Unreadable(item.src, exc)
        else:
            page = item
        pw = _process_page(page, number, options)
        if not options.ocr or pw.report.blank:
            return pw, None
        if ocr_pool is None:
            return pw, run_ocr(pw.page, options)
        return pw, ocr_pool.submit(run_ocr, pw.page, options)

    window: deque[Future[tuple[_PageWork, Any] | _Unreadable]] = deque()
    # Pages are numbered when handed out; a folder file that then fails to decode shifts
    # the later pages' numbers down by one when they are handled.
    skipped: list[_Unreadable] = []
    handled = 0

    def finish_oldest() -> None:
        nonlocal handled
        done = window.popleft().result()
        if isinstance(done, _Unreadable):
            skipped.append(done)
            findings.append(_finding(done.src, done.error))
            return
        pw, ocr = done
        if skipped:
            pw.report = dataclasses.replace(pw.report, number=pw.report.number - len(skipped))
        handle(pw, ocr.result() if isinstance(ocr, Future) else ocr)
        handled += 1

    try:
        for number, item in enumerate(_iter_pages(sources, options, findings), start=1):
            window.append(prep.submit(prepare, item, number))
            del item
            while len(window) >= 2 * workers:
                finish_oldest()
        while window:
            finish_oldest()
        if handled == 0 and skipped:
            raise skipped[0].error
    finally:
        prep.shutdown(wait=True, cancel_futures=True)
        if ocr_pool is not None:
            ocr_pool.shutdown(wait=True, cancel_futures=True)
