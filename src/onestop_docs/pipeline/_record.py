"""One document → one record: assembly in a partial directory, signing, bag, atomic rename."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._fileutil import atomic_write_bytes, fsync_dir
from ..errors import OnestopError, PipelineError
from ..types import VN_TZ
from . import _reuse
from ._page import _expand_inputs, _iter_pages, _process_page, run_ocr
from ._types import (
    REPORT_NAME,
    DigitizedRecord,
    DigitizeOptions,
    PageReport,
    SignerSpec,
    record_id_for,
)

if TYPE_CHECKING:
    from ..fields import Fields

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
    from ..integrity import Manifest

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
    duplicate_index : onestop_docs.reuse.ReuseStore or ReuseIndex, optional
        Earlier records' pages, looked up for every page (the reuse check); this record's
        pages are added once the record is complete.  Default: the store named by
        ``options.reuse_store``, if any.  Pages repeated inside the document are reported
        whether or not an index is given.
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
    from ..codes import AgencyId, DossierCode

    options = options or DigitizeOptions()
    duplicate_index = _reuse.resolve_target(duplicate_index, options.reuse_store)
    _reuse.check_owner(duplicate_index, metadata or {})
    code = DossierCode.parse(dossier_code)
    agency_id = AgencyId.parse(agency)
    record_id = record_id_for(str(code), component)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / record_id
    if final.exists():
        if resume and is_record_complete(final):
            rec = load_record(final)
            _reuse.ensure_stored(duplicate_index, final)
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
    # Only once the record exists: no phantom matches.
    _reuse.remember(
        duplicate_index, record_id, keys, {"dossier_code": str(code), **(metadata or {})}
    )
    index = _ensure_logged(rec, log)
    return dataclasses.replace(rec, log_index=index)


def _log_entry(rec: DigitizedRecord) -> bytes:
    from ..integrity import sha256_file

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
) -> tuple[DigitizedRecord, list[tuple[PageReport, Any, str | None]]]:
    from .. import metadata as md
    from .. import pdf as pdfmod

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    warnings: list[str] = []
    reports: list[PageReport] = []
    texts: list[str] = []
    qa = work / "data" / "qa"
    scan_time = _now_vn()
    # Pages go into the PDF as they are processed, each spooled to a one-page PDF on disk:
    # memory stays flat however long the document is (a 300-page TIFF included).
    spool = work / "spool"
    spool.mkdir()
    writer = pdfmod.PdfWriter(jpeg_quality=options.jpeg_quality, spool_dir=spool)
    pdf_seconds = 0.0
    local_index = _reuse.ReuseIndex()
    keys: dict[int, Any] = {}
    source_sha = _reuse.SourceHasher()
    # Tesseract runs in its own process: while it reads page N, this thread prepares page
    # N + 1, so our image work hides behind OCR.  At most two processed pages are held.
    ocr_pool = ThreadPoolExecutor(1, thread_name_prefix="onestop-ocr") if options.ocr else None
    pending: deque[tuple[Any, PageReport, Future[Any] | None]] = deque()

    def finish(pw: Any, report: PageReport, fut: Future[Any] | None) -> None:
        nonlocal pdf_seconds
        ocr_result = None
        if fut is not None:
            ocr_result, warning, seconds = fut.result()
            report = dataclasses.replace(
                report,
                ocr_confidence=None if ocr_result is None else float(ocr_result.mean_confidence),
                ocr_words=0 if ocr_result is None else len(ocr_result.words),
                warnings=report.warnings + ((warning,) if warning else ()),
                timings={**report.timings, "ocr": seconds},
            )
        t = time.perf_counter()
        writer.add_page(pw.page, ocr_result)
        pdf_seconds += time.perf_counter() - t
        if ocr_result is not None:
            texts.append(ocr_result.text)
        reports.append(report)
        warnings.extend(f"page {report.number}: {w}" for w in report.warnings)
        if on_page is not None:
            on_page(report.number, report)

    try:
        for number, page in enumerate(_iter_pages(sources, options), start=1):
            pw = _process_page(page, number, options)
            dups: tuple[dict[str, Any], ...] = ()
            if pw.hash_obj is not None:
                # Earlier records first, then earlier pages of this document (a page scanned
                # twice).
                found = _reuse.earlier_copies(duplicate_index, pw.hash_obj)
                dups = tuple(found + local_index.lookup(pw.hash_obj))
                local_index.add(record_id, number, pw.hash_obj)
                keys[number] = pw.hash_obj
            report = dataclasses.replace(pw.report, duplicates=dups)
            (qa / f"page-{number:03d}-before.jpg").write_bytes(pw.before_thumb)
            (qa / f"page-{number:03d}-after.jpg").write_bytes(pw.after_thumb)
            fut = None
            if ocr_pool is not None and not report.blank:
                fut = ocr_pool.submit(run_ocr, pw.page, options)
            pending.append((pw, report, fut))
            del pw
            while len(pending) > 1:
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        if ocr_pool is not None:
            ocr_pool.shutdown(wait=True, cancel_futures=True)
    timings["pages"] = time.perf_counter() - t0

    fields_json: dict[str, Any] = {}
    extracted: Fields | None = None
    if options.ocr:
        from ..fields import extract_fields

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
                **_reuse.digest_fields(keys.get(r.number), source_sha(r.source)),
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
        shutil.rmtree(spool)
        timings["pdf"] = pdf_seconds + time.perf_counter() - t
        t = time.perf_counter()
        signatures: list[str] = []
        current = unsigned
        if officer_signer is not None:
            from ..signing import sign_pdf

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
            from ..signing import sign_pdf

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
    from ..compliance import Rules, check_record

    rules = Rules.default()
    if not signatures:
        rules = dataclasses.replace(rules, require_officer_signature=False)
    comp = check_record(pdf_path, rules=rules, metadata=meta, declared_pages=len(reports))
    compliance = {"ok": bool(comp.ok), "findings": [dataclasses.asdict(f) for f in comp.findings]}
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
    from ..integrity import Manifest

    Manifest.create(
        work,
        bag_info={
            "External-Identifier": record_id,
            "Source-Organization": agency,
            "External-Description": f"Bản số hóa {record_id}",
        },
    )
    return rec, [(r, keys.get(r.number), source_sha(r.source)) for r in reports]


def _fields_to_json(found: Fields) -> dict[str, Any]:
    # The whole page text is in the PDF, not repeated here.
    return {
        f.name: _jsonable(getattr(found, f.name))
        for f in dataclasses.fields(found)
        if f.name != "text"
    }


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


def _metadata_from_fields(found: Fields | None) -> dict[str, Any]:
    if found is None:
        return {}
    out: dict[str, Any] = {}
    if found.notation is not None:
        out["code_number"] = str(found.notation.value.number)
        out["code_notation"] = found.notation.value.notation
    if found.issue_date is not None:
        out["issued_date"] = found.issue_date.value
    if found.subject is not None and found.subject.value.strip():
        out["subject"] = found.subject.value.strip()[:500]
    return out
