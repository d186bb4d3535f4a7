"""The scan-station job: scanned pages in, a signed, verifiable digitized record out.

:func:`digitize` runs one document (thành phần hồ sơ / kết quả) through every step, in
order (TT 01/2023/TT-VPCP Điều 7: copy → extract data → assign a code → store):

1. load every page in order (multi-page files are streamed);
2. flag blank pages — kept, never dropped (image count = physical page count, Điều 8 k2c);
3. fix orientation (0/90/180/270) and skew; 4. whiten scanner borders and normalise the
   paper background for the archive copy (colour kept);
5. OCR and field extraction (number/notation, dates, codes);
6. document hash of each page and lookup in an optional :class:`~onestop_docs.dedup.DuplicateIndex`
   (reuse: earlier records that match);
7. PDF/A-2b with an invisible text layer, metadata XML (dữ liệu đặc tả);
8. the scanning officer's signature (top-left, Điều 8 k1) and optionally the organisation's
   (top-right, NĐ 30/2020 Phụ lục I);
9. a BagIt bag around the record, then an entry in the station's transparency log.

The record is assembled in a hidden ``.partial-*`` directory and renamed into place only when
complete, so an interrupted run never leaves a half-written record that looks complete; the
next run removes stale partial directories and redoes that record.

:func:`digitize_batch` runs many documents on any ``concurrent.futures.Executor`` (a process
pool by default, or a Dask ``distributed.Client``), skips records that are already complete
and verified, records failures and goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ._fileutil import atomic_write_bytes, fsync_dir
from .errors import InvalidArgumentError, OnestopError, PipelineError
from .imageio import DEFAULT_MAX_PIXELS, Page, load_pages

__all__ = [
    "BatchReport",
    "DigitizeJob",
    "DigitizeOptions",
    "DigitizedRecord",
    "JobOutcome",
    "PageReport",
    "ReuseIndex",
    "SignerSpec",
    "digitize",
    "digitize_batch",
    "is_record_complete",
    "load_record",
    "record_id_for",
]

VN_TZ = timezone(timedelta(hours=7), "+07:00")
REPORT_NAME = "report.json"
REPORT_VERSION = 1
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


class ReuseIndex:
    """Pages of digitized records for the reuse check (kiểm tra tái sử dụng).

    Wraps :class:`onestop_docs.dedup.DuplicateIndex` and remembers, for every page added,
    which record and page number it was.  Thread-safe: a kiosk server can share one.

    Examples
    --------
    >>> index = ReuseIndex()
    >>> len(index)
    0
    """

    def __init__(self, options: Any | None = None) -> None:
        from .dedup import DuplicateIndex

        self._index = DuplicateIndex(options)
        self._labels: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, record_id: str, page_number: int, key: Any) -> None:
        """Add the document key of page ``page_number`` of ``record_id``."""
        with self._lock:
            ident = len(self._labels)
            self._labels.append((record_id, page_number))
        self._index.add_key(ident, key)

    def lookup(self, key: Any) -> list[dict[str, Any]]:
        """Earlier pages matching ``key``: dicts with record_id, page, kind and distances."""
        out = []
        for m in self._index.lookup_key(key):
            record_id, page_number = self._labels[m.id]
            out.append(
                {
                    "record_id": record_id,
                    "page": page_number,
                    "kind": m.kind,
                    "pdq_distance": m.pdq_distance,
                    "dct_distance": m.dct_distance,
                    "region_diff": None
                    if m.region_diff is None
                    else round(float(m.region_diff), 4),
                }
            )
        return out


# --- options and inputs ------------------------------------------------------------------


@dataclass(frozen=True)
class DigitizeOptions:
    """Settings of the digitization job; every default is what a station should normally use.

    Attributes
    ----------
    ocr : bool
        Run Tesseract and extract fields (needs the ``ocr`` extra and tesseract-ocr-vie).
    language : str
        Tesseract language string.
    ocr_timeout_s : float
        Per-page OCR time limit; a page that times out gets no text and a warning.
    deskew : bool
        Fix 0/90/180/270 orientation and then skew, each only when its estimate is confident.
    max_angle_deg : float
        Largest skew searched, in (0, 45].
    clean : bool
        Whiten scanner borders and normalise the paper background of the archive copy.
    jpeg_quality : int
        Quality of colour/grey page images in the PDF (1..95).
    assume_dpi : float or None
        Resolution for pages whose file has none; without it such pages fail the job (the
        rules need the physical size, so the resolution is never guessed).
    max_pixels : int
        Decompression-bomb guard per page.
    hash_pages : bool
        Compute the document hash of each page (for the reuse lookup and the metadata).
    copy_form : str
        Text of the organisation's stamp ("SAO Y", "SAO LỤC", "TRÍCH SAO").
    tsa_url : str or None
        RFC 3161 time-stamping authority for PAdES B-T signatures.
    thumbnail_px : int
        Longest side of the before/after thumbnails kept for the QA report.
    """

    ocr: bool = True
    language: str = "vie"
    ocr_timeout_s: float = 180.0
    deskew: bool = True
    max_angle_deg: float = 15.0
    clean: bool = True
    jpeg_quality: int = 85
    assume_dpi: float | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    hash_pages: bool = True
    copy_form: str = "SAO Y"
    tsa_url: str | None = None
    thumbnail_px: int = 360

    def __post_init__(self) -> None:
        if not 0 < float(self.max_angle_deg) <= 45:
            raise InvalidArgumentError(
                f"max_angle_deg must be in (0, 45], got {self.max_angle_deg!r}"
            )
        if not isinstance(self.jpeg_quality, int) or not 1 <= self.jpeg_quality <= 95:
            raise InvalidArgumentError(
                f"jpeg_quality must be an int in 1..95, got {self.jpeg_quality!r}"
            )
        if not float(self.ocr_timeout_s) > 0:
            raise InvalidArgumentError(
                f"ocr_timeout_s must be positive, got {self.ocr_timeout_s!r}"
            )
        if not isinstance(self.thumbnail_px, int) or not 32 <= self.thumbnail_px <= 2000:
            raise InvalidArgumentError(
                f"thumbnail_px must be in 32..2000, got {self.thumbnail_px!r}"
            )


@dataclass(frozen=True)
class SignerSpec:
    """A picklable description of a signing identity, loaded inside the worker that signs.

    Signer objects hold keys or token sessions and cannot cross process boundaries; a batch
    passes a ``SignerSpec`` instead.

    Examples
    --------
    >>> spec = SignerSpec.pkcs12("officer.p12", "secret", display_name="Nguyễn Văn Ạnh")
    >>> spec.kind, spec.display_name
    ('pkcs12', 'Nguyễn Văn Ạnh')
    """

    kind: Literal["pkcs12", "pem", "pkcs11"]
    path: str | None = None
    password: str | None = field(default=None, repr=False)
    cert_path: str | None = None
    pkcs11: dict[str, Any] = field(default_factory=dict)
    display_name: str | None = None

    @classmethod
    def pkcs12(
        cls, path: str | os.PathLike[str], password: str | None, display_name: str | None = None
    ) -> SignerSpec:
        """A PKCS#12 (.p12/.pfx) file and its password."""
        return cls("pkcs12", path=os.fspath(path), password=password, display_name=display_name)

    @classmethod
    def pem(
        cls,
        key_path: str | os.PathLike[str],
        cert_path: str | os.PathLike[str],
        password: str | None = None,
        display_name: str | None = None,
    ) -> SignerSpec:
        """A PEM private key and certificate (chain) file."""
        return cls(
            "pem",
            path=os.fspath(key_path),
            cert_path=os.fspath(cert_path),
            password=password,
            display_name=display_name,
        )

    def load(self) -> Any:
        """Open the signer (:class:`onestop_docs.signing.Signer`)."""
        from .signing import Signer

        if self.kind == "pkcs12":
            return Signer.from_pkcs12(str(self.path), self.password)
        if self.kind == "pem":
            return Signer.from_pem(str(self.path), str(self.cert_path), password=self.password)
        if self.kind == "pkcs11":
            return Signer.from_pkcs11(**self.pkcs11)
        raise InvalidArgumentError(f"unknown signer kind {self.kind!r}")


@dataclass(frozen=True)
class PageReport:
    """What was found and done on one physical page (1-based ``number``)."""

    number: int
    source: str
    source_index: int
    width: int
    height: int
    dpi: tuple[float, float] | None
    dpi_status: str
    color: bool
    blank: bool
    ink_fraction: float | None
    rotation_deg: int | None
    rotation_confidence: float | None
    skew_deg: float | None
    skew_confidence: float | None
    skew_method: str | None
    ocr_confidence: float | None
    ocr_words: int
    sha256: str
    page_hash: dict[str, str]
    duplicates: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    timings: dict[str, float]


@dataclass(frozen=True)
class DigitizedRecord:
    """The result of :func:`digitize`: where the record is and everything measured on the way.

    Attributes
    ----------
    record_id : str
        ``{dossier_code}.{NNN}`` (TT 02/2019/TT-BNV file naming: mã hồ sơ + số thứ tự).
    directory : Path
        The record's BagIt bag; the files are under ``data/``.
    pdf_path, xml_path : Path
        The signed PDF/A and the metadata XML.
    pages : tuple of PageReport
    fields : dict
        Fields extracted from the text (number/notation, issue date, ...), JSON-friendly.
    duplicates : tuple of dict
        Earlier records whose pages match pages of this one (the reuse check).
    compliance : dict
        The compliance check of the PDF (``ok`` and findings).
    log_index : int or None
        Position of the record in the transparency log.
    resumed : bool
        True when the record was already complete and verified, so nothing was redone.
    """

    record_id: str
    dossier_code: str
    agency: str
    component: int
    directory: Path
    pdf_path: Path
    xml_path: Path
    pages: tuple[PageReport, ...]
    fields: dict[str, Any]
    duplicates: tuple[dict[str, Any], ...]
    compliance: dict[str, Any]
    signatures: tuple[str, ...]
    log_index: int | None
    warnings: tuple[str, ...]
    timings: dict[str, float]
    created: str
    resumed: bool = False

    @property
    def blank_pages(self) -> tuple[int, ...]:
        """1-based numbers of the pages flagged blank."""
        return tuple(p.number for p in self.pages if p.blank)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings); the stable schema of ``report.json``."""
        d = dataclasses.asdict(self)
        d["directory"] = str(self.directory)
        d["pdf_path"] = str(self.pdf_path)
        d["xml_path"] = str(self.xml_path)
        d["report_version"] = REPORT_VERSION
        return d


def record_id_for(dossier_code: str, component: int) -> str:
    """``{dossier_code}.{component:03d}``: the archive name of a record (TT 02/2019).

    Examples
    --------
    >>> record_id_for("000.00.00.H27-210630-0001", 2)
    '000.00.00.H27-210630-0001.002'
    """
    if isinstance(component, bool) or not isinstance(component, int) or not 1 <= component <= 999:
        raise InvalidArgumentError(f"component must be an int in 1..999, got {component!r}")
    return f"{dossier_code}.{component:03d}"


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
    ocr: Any
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


def _page_sha256(page: Page) -> str:
    from .metadata import page_digest

    return str(page_digest(page.pixels, 1).sha256)


def _process_page(page: Page, number: int, options: DigitizeOptions) -> _PageWork:
    from . import cleanup, deskew

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
    t = time.perf_counter()
    blank = cleanup.detect_blank(page, dpi=page.dpi[0])
    timings["blank"] = time.perf_counter() - t

    rotation = rot_conf = skew = skew_conf = None
    skew_method: str | None = None
    work = page
    if not blank.is_blank and options.deskew:
        t = time.perf_counter()
        result = deskew.deskew(page, max_angle=options.max_angle_deg, dpi=page.dpi[0])
        timings["deskew"] = time.perf_counter() - t
        work = result.page
        rotation, rot_conf = result.orientation.rotation, result.orientation.confidence
        skew, skew_conf, skew_method = result.skew.angle, result.skew.confidence, result.skew.method
        if rotation is None:
            warnings.append(
                f"orientation unsure ({result.orientation.reason or 'low confidence'}): left as scanned"
            )
        if skew is None:
            warnings.append(
                f"skew unknown ({result.skew.reason or 'low confidence'}): not straightened"
            )
    if options.clean and not blank.is_blank:
        t = time.perf_counter()
        # The archive copy keeps its colour: background normalised and scanner borders
        # whitened; the ink mask (despeckle) is only needed for analysis, not here.
        cleaned = cleanup.clean_page(
            work, cleanup.CleanOptions(despeckle=False, detect_blank=False)
        )
        work = work.with_pixels(cleaned.image)
        timings["clean"] = time.perf_counter() - t
    if work.dpi is not None and min(work.dpi) < 200:
        warnings.append(
            f"resolution {min(work.dpi):g} dpi is below the 200 dpi minimum (NĐ 30/2020)"
        )
    if not work.is_color:
        warnings.append("page is not colour (NĐ 30/2020 requires colour images)")

    ocr_result = None
    if options.ocr and not blank.is_blank:
        from . import ocr

        t = time.perf_counter()
        try:
            ocr_result = ocr.recognize(
                work, lang=options.language, preprocess=False, timeout=options.ocr_timeout_s
            )
        except OnestopError as exc:
            from .errors import MissingDependencyError

            if isinstance(exc, MissingDependencyError):
                raise
            warnings.append(f"OCR failed: {exc}")
        timings["ocr"] = time.perf_counter() - t

    page_hash: dict[str, str] = {}
    hash_obj = None
    if options.hash_pages and not blank.is_blank:
        from . import dedup

        t = time.perf_counter()
        hash_obj = dedup.page_hash(work)
        timings["hash"] = time.perf_counter() - t
        if hash_obj is not None:
            page_hash = {k: v for k, v in _hash_fields(hash_obj).items()}
    sha = _page_sha256(work)
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
        ocr_confidence=None if ocr_result is None else float(ocr_result.mean_confidence),
        ocr_words=0 if ocr_result is None else len(ocr_result.words),
        sha256=sha,
        page_hash=page_hash,
        duplicates=(),
        warnings=tuple(warnings),
        timings=timings,
    )
    return _PageWork(
        work, report, ocr_result, before, _thumbnail(work, options.thumbnail_px), hash_obj
    )


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _hash_fields(h: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("pdq", "dct"):
        v = getattr(h, name, None)
        if v is not None:
            out[name] = v.hex()
    return out


# --- record assembly ---------------------------------------------------------------------------


def _now_vn() -> datetime:
    return datetime.now(VN_TZ).replace(microsecond=0)


def _partial_dirs(out_dir: Path, record_id: str) -> list[Path]:
    return [p for p in out_dir.glob(f".partial-{record_id}-*") if p.is_dir()]


def is_record_complete(directory: str | os.PathLike[str], *, verify: bool = True) -> bool:
    """True when ``directory`` holds a finished record (and, with ``verify``, its bag validates).

    A record is finished when its ``report.json`` and BagIt tag manifest exist (both are
    written last, before the atomic rename).  ``verify=True`` re-hashes every file.
    """
    d = Path(directory)
    if not (d / "data" / REPORT_NAME).is_file() or not (d / "tagmanifest-sha256.txt").is_file():
        return False
    if not verify:
        return True
    from .integrity import Manifest

    try:
        return bool(Manifest.validate(d).valid)
    except OnestopError:
        return False


def load_record(directory: str | os.PathLike[str]) -> DigitizedRecord:
    """Read a finished record's ``report.json`` back into a :class:`DigitizedRecord`.

    Raises
    ------
    PipelineError
        The directory is not a finished record or its report cannot be read.
    """
    d = Path(directory)
    try:
        data = json.loads((d / "data" / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{d} is not a finished record: {exc}") from None
    pages = tuple(
        PageReport(
            **{
                **p,
                "dpi": tuple(p["dpi"]) if p["dpi"] else None,
                "duplicates": tuple(p["duplicates"]),
                "warnings": tuple(p["warnings"]),
            }
        )
        for p in data["pages"]
    )
    return DigitizedRecord(
        record_id=data["record_id"],
        dossier_code=data["dossier_code"],
        agency=data["agency"],
        component=data["component"],
        directory=d,
        pdf_path=d / "data" / Path(data["pdf_path"]).name,
        xml_path=d / "data" / Path(data["xml_path"]).name,
        pages=pages,
        fields=data["fields"],
        duplicates=tuple(data["duplicates"]),
        compliance=data["compliance"],
        signatures=tuple(data["signatures"]),
        log_index=data["log_index"],
        warnings=tuple(data["warnings"]),
        timings=data["timings"],
        created=data["created"],
        resumed=True,
    )


def _open_signer(spec: Any) -> Any:
    if spec is None:
        return None
    if isinstance(spec, SignerSpec):
        return spec.load()
    return spec


def _display_name(spec: Any, signer: Any, fallback: str | None) -> str:
    if fallback:
        return fallback
    if isinstance(spec, SignerSpec) and spec.display_name:
        return spec.display_name
    return str(getattr(signer, "common_name", "") or "")


def digitize(
    inputs: Any,
    *,
    out_dir: str | os.PathLike[str],
    dossier_code: str,
    agency: str,
    component: int = 1,
    officer: SignerSpec | Any | None = None,
    officer_name: str | None = None,
    organisation: SignerSpec | Any | None = None,
    agency_name: str | None = None,
    metadata: dict[str, Any] | None = None,
    options: DigitizeOptions | None = None,
    duplicate_index: Any | None = None,
    log: Any | None = None,
    trust_roots: Sequence[Any] | None = None,
    resume: bool = True,
    on_page: Callable[[int, PageReport], None] | None = None,
) -> DigitizedRecord:
    """Digitize one document: pages in, a signed PDF/A record with metadata and a bag out.

    Parameters
    ----------
    inputs : path, directory, bytes, Page, or a sequence of them
        The physical pages in order.  A directory contributes its image files sorted by name;
        multi-page TIFFs contribute every frame.
    out_dir : path
        Where the record directory ``{dossier_code}.{component:03d}`` is created.
    dossier_code : str
        Mã số hồ sơ (validated with :class:`onestop_docs.codes.DossierCode`).
    agency : str
        Identifier of the receiving agency (validated with :class:`onestop_docs.codes.AgencyId`).
    component : int
        Number of the document inside the dossier (1..999), used in the record name.
    officer, organisation : SignerSpec or Signer, optional
        The scanning officer's personal signature (top-left of page 1) and the organisation's
        signature on the copy (top-right).  Without ``officer`` the record is unsigned and the
        compliance report says so.
    officer_name, agency_name : str, optional
        Names shown in the visible stamps (default: the certificate's common name).
    metadata : dict, optional
        Extra :class:`onestop_docs.metadata.RecordMetadata` fields (owner_id, procedure_code,
        component_code, result_code, title, ...).  Fields found by OCR fill the gaps.
    options : DigitizeOptions, optional
    duplicate_index : ReuseIndex, optional
        Earlier records' pages, looked up for every page (the reuse check); this record's
        pages are added once the record is complete.  Pages repeated inside the document
        are reported whether or not an index is given.
    log : onestop_docs.integrity.TransparencyLog, optional
        The station's log; the record's digest is appended after the record is in place.
    trust_roots : sequence, optional
        Roots for verifying the signatures just made (default: the signers' own chain roots).
    resume : bool
        If the record already exists complete and verified, return it without redoing work.
    on_page : callable, optional
        ``on_page(number, PageReport)`` after each page (progress).

    Returns
    -------
    DigitizedRecord

    Raises
    ------
    InvalidCodeError
        A malformed dossier code or agency identifier.
    InvalidImageError, UnsupportedFormatError, ImageTooLargeError
        A page cannot be read.
    PipelineError
        A page without resolution, or a step failed (``__cause__`` has the detail).
    MissingDependencyError
        A needed extra or system tool is missing (e.g. tesseract for ``ocr=True``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from onestop_docs.imageio import Page
    >>> blank = Page(np.full((1754, 1240, 3), 250, np.uint8), mode="RGB", dpi=(150.0, 150.0))
    >>> rec = digitize([blank], out_dir=tempfile.mkdtemp(), dossier_code="H27.01-210630-0001",
    ...                agency="H27.01", options=DigitizeOptions(ocr=False))
    >>> rec.blank_pages, rec.pdf_path.name
    ((1,), 'H27.01-210630-0001.001.pdf')
    """
    from .codes import AgencyId, DossierCode

    options = options or DigitizeOptions()
    code = DossierCode.parse(dossier_code)
    agency_id = AgencyId.parse(agency)
    record_id = record_id_for(str(code), component)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / record_id
    if final.exists():
        if resume and is_record_complete(final):
            rec = load_record(final)
            _ensure_logged(rec, log)
            return rec
        raise PipelineError(
            f"{final} exists but is not a complete, verified record; move it away to redo it"
        )
    for stale in _partial_dirs(out, record_id):
        shutil.rmtree(stale, ignore_errors=True)
    work = out / f".partial-{record_id}-{uuid.uuid4().hex[:8]}"
    (work / "data" / "qa").mkdir(parents=True)
    try:
        rec, keys = _build_record(
            _expand_inputs(inputs),
            work,
            final,
            code=str(code),
            agency=str(agency_id),
            component=component,
            record_id=record_id,
            officer=officer,
            officer_name=officer_name,
            organisation=organisation,
            agency_name=agency_name,
            extra=metadata or {},
            options=options,
            duplicate_index=duplicate_index,
            trust_roots=trust_roots,
            on_page=on_page,
        )
        os.replace(work, final)
        fsync_dir(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    rec = dataclasses.replace(
        rec,
        directory=final,
        pdf_path=final / "data" / rec.pdf_path.name,
        xml_path=final / "data" / rec.xml_path.name,
    )
    if duplicate_index is not None:  # only once the record exists: no phantom matches
        for number, key in keys:
            duplicate_index.add(record_id, number, key)
    index = _ensure_logged(rec, log)
    return dataclasses.replace(rec, log_index=index)


def _log_entry(rec: DigitizedRecord) -> bytes:
    from .integrity import sha256_file

    body = {
        "record_id": rec.record_id,
        "pdf_sha256": sha256_file(rec.pdf_path),
        "xml_sha256": sha256_file(rec.xml_path),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _ensure_logged(rec: DigitizedRecord, log: Any) -> int | None:
    if log is None:
        return rec.log_index
    entry = _log_entry(rec)
    found = log.find(entry)
    if found is not None:
        return int(found)
    return int(log.append(entry))


def _build_record(
    sources: list[Any],
    work: Path,
    final: Path,
    *,
    code: str,
    agency: str,
    component: int,
    record_id: str,
    officer: Any,
    officer_name: str | None,
    organisation: Any,
    agency_name: str | None,
    extra: dict[str, Any],
    options: DigitizeOptions,
    duplicate_index: Any,
    trust_roots: Sequence[Any] | None,
    on_page: Callable[[int, PageReport], None] | None,
) -> tuple[DigitizedRecord, list[tuple[int, Any]]]:
    from . import metadata as md
    from . import pdf as pdfmod

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    warnings: list[str] = []
    reports: list[PageReport] = []
    texts: list[str] = []
    qa = work / "data" / "qa"
    scan_time = _now_vn()
    # Pages go into the PDF as they are processed: memory holds compressed page images,
    # never the pixels of the whole document (a 300-page TIFF stays within one page).
    writer = pdfmod.PdfWriter(jpeg_quality=options.jpeg_quality)
    pdf_seconds = 0.0
    local_index = ReuseIndex()
    keys: list[tuple[int, Any]] = []
    for number, page in enumerate(_iter_pages(sources, options), start=1):
        pw = _process_page(page, number, options)
        dups: tuple[dict[str, Any], ...] = ()
        if pw.hash_obj is not None:
            # Earlier records first, then earlier pages of this document (a page scanned twice).
            found = duplicate_index.lookup(pw.hash_obj) if duplicate_index is not None else []
            dups = tuple(found + local_index.lookup(pw.hash_obj))
            local_index.add(record_id, number, pw.hash_obj)
            keys.append((number, pw.hash_obj))
        report = dataclasses.replace(pw.report, duplicates=dups)
        (qa / f"page-{number:03d}-before.jpg").write_bytes(pw.before_thumb)
        (qa / f"page-{number:03d}-after.jpg").write_bytes(pw.after_thumb)
        t = time.perf_counter()
        writer.add_page(pw.page, pw.ocr if options.ocr else None)
        pdf_seconds += time.perf_counter() - t
        if pw.ocr is not None:
            texts.append(pw.ocr.text)
        del pw
        reports.append(report)
        warnings.extend(f"page {number}: {w}" for w in report.warnings)
        if on_page is not None:
            on_page(number, report)
    timings["pages"] = time.perf_counter() - t0

    fields_json: dict[str, Any] = {}
    extracted: Any = None
    if options.ocr:
        from .fields import extract_fields

        joined = "\n".join(texts)
        if joined.strip():
            extracted = extract_fields(joined)
            fields_json = _fields_to_json(extracted)
    meta_kwargs: dict[str, Any] = {
        "dossier_code": code,
        "organ_id": agency,
        "page_amount": len(reports),
        "pages": tuple(
            md.PageDigest(
                number=r.number,
                sha256=r.sha256,
                dedup_hashes=tuple(sorted(r.page_hash.items())),
                blank=r.blank,
            )
            for r in reports
        ),
        "scan_time": scan_time,
        "scanning_officer": None,
    }
    meta_kwargs.update(_metadata_from_fields(extracted))
    meta_kwargs.update({k: v for k, v in extra.items() if v is not None})

    officer_signer = _open_signer(officer)
    org_signer = _open_signer(organisation)
    try:
        if officer_signer is not None:
            meta_kwargs["scanning_officer"] = (
                _display_name(officer, officer_signer, officer_name)[:50] or None
            )
        meta = md.RecordMetadata(**meta_kwargs)
        t = time.perf_counter()
        pdf_path = work / "data" / f"{record_id}.pdf"
        unsigned = work / f"{record_id}.unsigned.pdf"
        writer.save(unsigned, metadata=meta, created=scan_time)
        timings["pdf"] = pdf_seconds + time.perf_counter() - t
        t = time.perf_counter()
        signatures: list[str] = []
        current = unsigned
        if officer_signer is not None:
            from .signing import sign_pdf

            target = work / f"{record_id}.officer.pdf" if org_signer is not None else pdf_path
            sign_pdf(
                current,
                target,
                officer_signer,
                role="officer",
                signer_name=_display_name(officer, officer_signer, officer_name),
                copied_at=scan_time,
                tsa=options.tsa_url,
            )
            signatures.append("officer")
            current = target
        if org_signer is not None:
            from .signing import sign_pdf

            sign_pdf(
                current,
                pdf_path,
                org_signer,
                role="organisation",
                agency_name=agency_name or _display_name(organisation, org_signer, None),
                copy_form=options.copy_form,
                tsa=options.tsa_url,
            )
            signatures.append("organisation")
            current = pdf_path
        if current != pdf_path:
            os.replace(current, pdf_path)
        for p in work.glob("*.pdf"):
            p.unlink()
        timings["sign"] = time.perf_counter() - t
    finally:
        for s in (officer_signer, org_signer):
            if s is not None and s is not officer and s is not organisation:
                with contextlib.suppress(Exception):
                    s.close()

    xml_path = work / "data" / f"{record_id}.xml"
    atomic_write_bytes(xml_path, md.to_xml(meta))

    t = time.perf_counter()
    from .compliance import Rules, check_record

    rules = Rules.default()
    if not signatures:
        rules = dataclasses.replace(rules, require_officer_signature=False)
    comp = check_record(pdf_path, rules=rules, metadata=meta, declared_pages=len(reports))
    compliance = {"ok": bool(comp.ok), "findings": [_finding_json(f) for f in comp.findings]}
    if not signatures:
        warnings.append("record is not signed (no officer signer given)")
    timings["compliance"] = time.perf_counter() - t

    dup_summary = tuple({"page": r.number, **d} for r in reports for d in r.duplicates)
    rec = DigitizedRecord(
        record_id=record_id,
        dossier_code=code,
        agency=agency,
        component=component,
        directory=work,
        pdf_path=pdf_path,
        xml_path=xml_path,
        pages=tuple(reports),
        fields=fields_json,
        duplicates=dup_summary,
        compliance=compliance,
        signatures=tuple(signatures),
        log_index=None,
        warnings=tuple(warnings),
        timings=timings,
        created=scan_time.isoformat(),
    )
    timings["total"] = time.perf_counter() - t0
    atomic_write_bytes(
        work / "data" / REPORT_NAME,
        json.dumps(rec.to_json(), ensure_ascii=False, indent=1).encode("utf-8"),
    )
    from .integrity import Manifest

    Manifest.create(
        work,
        bag_info={
            "External-Identifier": record_id,
            "Source-Organization": agency,
            "External-Description": f"Bản số hóa {record_id}",
        },
    )
    return rec, keys


def _fields_to_json(found: Any) -> dict[str, Any]:
    if found is None:
        return {}
    to_dict = getattr(found, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    out: dict[str, Any] = {}
    for f in dataclasses.fields(found):
        if f.name == "text":  # the whole page text is in the PDF, not repeated here
            continue
        v = getattr(found, f.name)
        out[f.name] = _jsonable(v)
    return out


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        if type(v).__str__ is not object.__str__:  # a code with a canonical text form
            return str(v)
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _metadata_from_fields(found: Any) -> dict[str, Any]:
    if found is None:
        return {}
    out: dict[str, Any] = {}
    notation = getattr(found, "notation", None)
    value = getattr(notation, "value", notation)
    if value is not None:
        number = getattr(value, "number", None)
        kind = getattr(value, "notation", None) or getattr(value, "symbol", None)
        if number is not None:
            out["code_number"] = str(number)
        if kind:
            out["code_notation"] = str(kind)
    issued = getattr(found, "issue_date", None)
    issued_value = getattr(issued, "value", issued)
    if issued_value is not None and hasattr(issued_value, "year"):
        out["issued_date"] = issued_value
    subject = getattr(found, "subject", None)
    subject_value = getattr(subject, "value", subject)
    if isinstance(subject_value, str) and subject_value.strip():
        out["subject"] = subject_value.strip()[:500]
    return out


def _finding_json(f: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(f) and not isinstance(f, type):
        return {fl.name: _jsonable(getattr(f, fl.name)) for fl in dataclasses.fields(f)}
    return {"message": str(f)}


# --- batches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitizeJob:
    """One document of a batch; picklable so it can run in another process or on a cluster."""

    inputs: tuple[str, ...]
    out_dir: str
    dossier_code: str
    agency: str
    component: int = 1
    officer: SignerSpec | None = None
    officer_name: str | None = None
    organisation: SignerSpec | None = None
    agency_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    options: DigitizeOptions = field(default_factory=DigitizeOptions)

    @property
    def record_id(self) -> str:
        """The record name this job produces."""
        return record_id_for(self.dossier_code, self.component)


@dataclass(frozen=True)
class JobOutcome:
    """The result of one job: ``status`` is "done", "skipped" (already complete) or "failed"."""

    record_id: str
    status: Literal["done", "skipped", "failed"]
    directory: str | None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    pages: int = 0
    record: dict[str, Any] | None = None


@dataclass(frozen=True)
class BatchReport:
    """Outcomes of a batch, in job order."""

    outcomes: tuple[JobOutcome, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return all(o.status != "failed" for o in self.outcomes)

    def count(self, status: str) -> int:
        """Number of jobs with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)


def _run_job(job: DigitizeJob) -> JobOutcome:
    """Worker entry point (module level so process pools and Dask can pickle it)."""
    t = time.perf_counter()
    final = Path(job.out_dir) / job.record_id
    try:
        if final.exists() and is_record_complete(final):
            rec = load_record(final)
            return JobOutcome(
                job.record_id,
                "skipped",
                str(final),
                seconds=time.perf_counter() - t,
                pages=len(rec.pages),
            )
        rec = digitize(
            list(job.inputs),
            out_dir=job.out_dir,
            dossier_code=job.dossier_code,
            agency=job.agency,
            component=job.component,
            officer=job.officer,
            officer_name=job.officer_name,
            organisation=job.organisation,
            agency_name=job.agency_name,
            metadata=job.metadata,
            options=job.options,
        )
        return JobOutcome(
            job.record_id,
            "done",
            str(rec.directory),
            seconds=time.perf_counter() - t,
            pages=len(rec.pages),
            record=rec.to_json(),
        )
    except Exception as exc:  # a failing document is recorded and the batch goes on
        return JobOutcome(
            job.record_id,
            "failed",
            None,
            error=str(exc),
            error_type=type(exc).__name__,
            seconds=time.perf_counter() - t,
        )


def digitize_batch(
    jobs: Iterable[DigitizeJob],
    *,
    executor: Executor | Any | None = None,
    log: Any | None = None,
    on_progress: Callable[[int, int, JobOutcome], None] | None = None,
) -> BatchReport:
    """Run many documents in parallel; resumable, and one failure never stops the batch.

    Parameters
    ----------
    jobs : iterable of DigitizeJob
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Default: a process pool sized to the CPU count.  Anything with ``submit(fn, arg)``
        returning a future with ``result()`` works, so a Dask ``Client`` runs the batch on a
        cluster unchanged (the output folder must then be shared storage).
    log : onestop_docs.integrity.TransparencyLog, optional
        The station's log.  Only this (driver) process writes it: each finished or skipped
        record is appended here as its job completes, never by the workers.
    on_progress : callable, optional
        ``on_progress(done, total, outcome)`` after each job finishes.

    Returns
    -------
    BatchReport
        One :class:`JobOutcome` per job, in job order.

    Examples
    --------
    >>> digitize_batch([]).outcomes
    ()
    """
    job_list = list(jobs)
    t = time.perf_counter()
    if not job_list:
        return BatchReport((), 0.0)
    ids = [j.record_id for j in job_list]
    if len(set(ids)) != len(ids):
        raise InvalidArgumentError("two jobs produce the same record id (dossier code + component)")
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=min(len(job_list), os.cpu_count() or 1))
    assert executor is not None
    try:
        futures: list[Future[JobOutcome]] = [executor.submit(_run_job, j) for j in job_list]
        outcomes: list[JobOutcome | None] = [None] * len(job_list)
        pending = dict(enumerate(futures))
        done = 0
        while pending:
            for i, fut in list(pending.items()):
                if not fut.done():
                    continue
                del pending[i]
                try:
                    outcome = fut.result()
                except Exception as exc:  # worker crashed (e.g. killed): record it
                    outcome = JobOutcome(
                        ids[i], "failed", None, error=str(exc), error_type=type(exc).__name__
                    )
                if log is not None and outcome.directory is not None:
                    try:
                        _ensure_logged(load_record(outcome.directory), log)
                    except OnestopError as exc:
                        outcome = dataclasses.replace(
                            outcome,
                            status="failed",
                            error=f"transparency log: {exc}",
                            error_type=type(exc).__name__,
                        )
                outcomes[i] = outcome
                done += 1
                if on_progress is not None:
                    on_progress(done, len(job_list), outcome)
            if pending:
                time.sleep(0.05)
    finally:
        if own:
            executor.shutdown(wait=True)
    return BatchReport(tuple(o for o in outcomes if o is not None), time.perf_counter() - t)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
