"""Options, signer descriptions and result types of the digitization job."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._validate import check_int
from ..errors import InvalidArgumentError
from ..imageio import DEFAULT_MAX_PIXELS

REPORT_NAME = "report.json"
REPORT_VERSION = 1


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
    ocr_engine : str
        ``"auto"`` (default), ``"library"`` or ``"program"``: how Tesseract runs
        (:class:`onestop_docs.ocr.TesseractConfig`).  The library reads in this process and
        saves the model loading the program repeats for every page; ``"program"`` runs a
        child process per page, so a Tesseract crash costs that page only.
    deskew : bool
        Fix 0/90/180/270 orientation and then skew, each only when its estimate is confident.
    max_angle_deg : float
        Largest skew searched, in (0, 45]; default 45, so that a page laid on the glass at
        20-45 degrees is straightened too (evalkit hard pages skewed 22-43 degrees were left
        skewed, and unread by OCR, at the former 15).
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
    allow_unsigned_drafts : bool
        Accept a record without the officer's signature as a draft (compliance passes);
        by default an unsigned record fails compliance (TT 01/2023/TT-VPCP Điều 8).
    pades_level : str or None
        ``"B-B"``, ``"B-T"``, ``"B-LT"`` or ``"B-LTA"`` (default: B-T with ``tsa_url``, else
        B-B); see :func:`onestop_docs.signing.sign_pdf`.
    tsa_unreachable : {"fail", "sign-b-b"}
        Station policy when the time-stamping authority does not answer: fail the document
        (default), or sign without a time-stamp and report it as a compliance warning.
    tsa_trust_roots : tuple of str
        Root certificates (paths) of the TSA, for validating its chain when signing B-LTA.
    page_workers : int or None
        Pages of one document prepared and OCR'd at the same time (threads for the image
        kernels, one single-threaded Tesseract each).  Default: the CPUs this process
        may use.  A batch running several documents at once should divide the CPUs.
    pdf_text : {"refuse", "ocr"}
        A PDF page that already has text is refused with a finding (default), or OCR'd again.
    pdf_render_dpi : float
        Resolution for PDF pages that are not one embedded scan and must be rendered.
    reuse_store : str or None
        Reuse store (:class:`onestop_docs.reuse.ReuseStore`: a SQLite path or a PostgreSQL
        DSN) that every page is looked up in and every finished record is added to.
    capture : {"off", "auto"}
        Page capture for phone photos (uploads): ``"auto"`` rectifies a photo of a sheet
        before cleanup and gives it the resolution of its paper size
        (:func:`onestop_docs.capture.rectify`); a photo without a usable sheet is kept as
        taken with a warning.  Default ``"off"``: flatbed scans.
    """

    ocr: bool = True
    language: str = "vie"
    ocr_timeout_s: float = 180.0
    ocr_engine: Literal["auto", "library", "program"] = "auto"
    deskew: bool = True
    max_angle_deg: float = 45.0
    clean: bool = True
    jpeg_quality: int = 85
    assume_dpi: float | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    hash_pages: bool = True
    copy_form: str = "SAO Y"
    tsa_url: str | None = None
    thumbnail_px: int = 360
    allow_unsigned_drafts: bool = False
    pades_level: str | None = None
    tsa_unreachable: str = "fail"
    tsa_trust_roots: tuple[str, ...] = ()
    page_workers: int | None = None
    pdf_text: Literal["refuse", "ocr"] = "refuse"
    pdf_render_dpi: float = 300.0
    reuse_store: str | None = None
    capture: Literal["off", "auto"] = "off"

    def __post_init__(self) -> None:
        if not 0 < float(self.max_angle_deg) <= 45:
            raise InvalidArgumentError(
                f"max_angle_deg must be in (0, 45], got {self.max_angle_deg!r}"
            )
        check_int(self.jpeg_quality, "jpeg_quality", 1, 95)
        if not float(self.ocr_timeout_s) > 0:
            raise InvalidArgumentError(
                f"ocr_timeout_s must be positive, got {self.ocr_timeout_s!r}"
            )
        if self.ocr_engine not in ("auto", "library", "program"):
            raise InvalidArgumentError(
                f"ocr_engine must be 'auto', 'library' or 'program', got {self.ocr_engine!r}"
            )
        check_int(self.thumbnail_px, "thumbnail_px", 32, 2000)
        if self.pades_level not in (None, "B-B", "B-T", "B-LT", "B-LTA"):
            raise InvalidArgumentError(
                f"pades_level must be B-B, B-T, B-LT or B-LTA, got {self.pades_level!r}"
            )
        if self.tsa_unreachable not in ("fail", "sign-b-b"):
            raise InvalidArgumentError(
                f"tsa_unreachable must be 'fail' or 'sign-b-b', got {self.tsa_unreachable!r}"
            )
        if self.assume_dpi is not None:
            try:
                dpi = float(self.assume_dpi)
            except (TypeError, ValueError):
                dpi = math.nan
            if not (math.isfinite(dpi) and 0 < dpi <= 10000):
                raise InvalidArgumentError(
                    f"assume_dpi must be a resolution in (0, 10000] dpi, got {self.assume_dpi!r}"
                )
        if self.page_workers is not None:
            check_int(self.page_workers, "page_workers", 1, 256)
        if self.pdf_text not in ("refuse", "ocr"):
            raise InvalidArgumentError(f"pdf_text must be 'refuse' or 'ocr', got {self.pdf_text!r}")
        if not 50 <= float(self.pdf_render_dpi) <= 1200:
            raise InvalidArgumentError(
                f"pdf_render_dpi must lie in [50, 1200], got {self.pdf_render_dpi!r}"
            )
        if self.capture not in ("off", "auto"):
            raise InvalidArgumentError(f"capture must be 'off' or 'auto', got {self.capture!r}")
        if self.reuse_store is not None and not (
            isinstance(self.reuse_store, str) and self.reuse_store
        ):
            raise InvalidArgumentError(
                f"reuse_store must be a non-empty str (path or DSN), got {self.reuse_store!r}"
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
        from ..signing import Signer

        if self.kind == "pkcs12":
            return Signer.from_pkcs12(str(self.path), self.password)
        if self.kind == "pem":
            return Signer.from_pem(str(self.path), str(self.cert_path), password=self.password)
        if self.kind == "pkcs11":
            return Signer.from_pkcs11(**self.pkcs11)
        raise InvalidArgumentError(f"unknown signer kind {self.kind!r}")

    def check(self) -> None:
        """Open the signer once and close it: a wrong password or a missing file is found
        before any page work (raises what :meth:`load` raises, e.g. ``SignatureError``)."""
        signer = self.load()
        close = getattr(signer, "close", None)
        if close is not None:
            close()


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
    #: The capture step's answer (``"ok"``, ``"incomplete"``, ``"full-frame"``, ``"no-page"``,
    #: ``"two-pages"``, ``"blank"``), None when the step is off.
    capture: str | None = None


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
    input_findings : tuple of dict
        Input files (or pages of them) that could not be used, each with ``source``,
        ``page_index``, ``error_type`` and ``message``: stray files, unsupported formats,
        PDF pages that already have text.  The record holds the other pages; a non-empty
        tuple makes the command line exit with the findings code.
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
    input_findings: tuple[dict[str, Any], ...] = ()
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
    check_int(component, "component", 1, 999)
    return f"{dossier_code}.{component:03d}"
