"""One document → one record: assembly in a partial directory, signing, bag, atomic rename."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._fileutil import atomic_write_bytes, fsync_dir
from ..errors import OnestopError, PipelineError
from ..types import VN_TZ
from . import _reuse
from ._page import _expand_inputs, _Source, run_pages
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
    from ..signing.stamp import Role, StampPlan

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
        input_findings=tuple(data.get("input_findings", ())),
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
        signature on the copy (top-right).  Without ``officer`` the record is unsigned and its
        compliance fails (TT 01/2023/TT-VPCP Điều 8), unless
        ``options.allow_unsigned_drafts``.  The metadata XML gets an enveloped XMLDSig
        signature by the organisation (by the officer when there is no organisation signer).
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
            check_existing_record(
                final,
                officer=officer,
                organisation=organisation,
                trust_roots=trust_roots,
                log=log,
            )
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


def _statement(rec: DigitizedRecord) -> Any:
    from ..integrity.statement import statement_for_record

    return statement_for_record(
        rec.directory, rec.record_id, rec.dossier_code, len(rec.pages), tuple(rec.signatures)
    )


def _ensure_logged(rec: DigitizedRecord, log: Any) -> int | None:
    """Append the record's statement to ``log`` (once; a different one is refused).

    Raises
    ------
    IntegrityError
        The log already holds a different statement for this record id: the record on
        disk was altered or replaced after it was logged.
    """
    if log is None:
        return rec.log_index
    from ..integrity.statement import append_statement

    return append_statement(log, _statement(rec))


def _signer_roots(*specs: Any) -> list[Any]:
    """Trust anchors for re-verifying our own signatures: the top of each signer's chain."""
    roots = []
    for spec in specs:
        signer = _open_signer(spec)
        if signer is None:
            continue
        try:
            roots.append(signer.chain[-1] if signer.chain else signer.certificate)
        finally:
            if signer is not spec:
                with contextlib.suppress(Exception):
                    signer.close()
    return roots


def check_existing_record(
    directory: str | os.PathLike[str],
    *,
    officer: Any = None,
    organisation: Any = None,
    trust_roots: Sequence[Any] | None = None,
    log: Any | None = None,
) -> None:
    """Re-verify a finished record before a re-run skips it (a re-run never launders).

    The record must verify as ``onestop-docs verify`` would check it: against its logged
    statement when ``log`` holds one, its signatures against ``trust_roots`` (default: the
    signers' own chain tops), and unsigned only when this run has no officer signer either.

    Raises
    ------
    IntegrityError
        The existing record fails verification; the message lists why.
    """
    from ..errors import IntegrityError
    from ..verify import verify_record

    d = Path(directory)
    statement = None
    if log is not None:
        from ..integrity.statement import find_statement

        found = find_statement(log, d.name)
        statement = found[1] if found is not None else None
    roots = list(trust_roots) if trust_roots else _signer_roots(officer, organisation)
    # Without a signer this run would itself write an unsigned record (its compliance
    # failure was reported when it was made); with one, an unsigned record was stripped.
    check = verify_record(d, trust_roots=roots, statement=statement, allow_unsigned=officer is None)
    # A run without any signer has no anchor for the signatures of a signed record; its
    # bag, XMP and logged digests are still checked.
    problems = [p for p in check.problems if roots or "no trust roots given" not in p]
    if problems:
        raise IntegrityError(
            f"{d.name} exists but fails verification, so it is not skipped: " + "; ".join(problems)
        )


def _build_record(
    sources: list[_Source],
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
    input_findings: list[dict[str, Any]] = []
    # The signers are opened before any page work: a wrong password or an expired token
    # fails in a second, and page 1's stamps can be placed as soon as page 1 is ready.
    officer_signer = _open_signer(officer)
    try:
        org_signer = _open_signer(organisation)
    except BaseException:
        _close_signer(officer_signer, officer)
        raise
    stamp_texts: dict[Role, str] = {}
    stamp_plan: Any = None

    def finish(pw: Any, ocr: Any) -> None:
        # Runs in page order in this thread: the in-document duplicate lookup, the QA
        # thumbnails and the PDF see pages 1, 2, 3, ... whatever order the workers finish in.
        nonlocal pdf_seconds
        report = pw.report
        if pw.hash_obj is not None:
            # Earlier records first, then earlier pages of this document (a page scanned
            # twice).
            found = _reuse.earlier_copies(duplicate_index, pw.hash_obj)
            dups = tuple(found + local_index.lookup(pw.hash_obj))
            local_index.add(record_id, report.number, pw.hash_obj)
            # Kept packed: a 300-page document must not hold 300 keys' bitmaps.
            keys[report.number] = _reuse.pack(pw.hash_obj)
            report = dataclasses.replace(report, duplicates=dups)
        number = report.number
        if number == 1 and stamp_texts:
            nonlocal stamp_plan
            pw, ocr, report, stamp_plan = _place_stamps(pw, ocr, report, stamp_texts)
        (qa / f"page-{number:03d}-before.jpg").write_bytes(pw.before_thumb)
        (qa / f"page-{number:03d}-after.jpg").write_bytes(pw.after_thumb)
        ocr_result = None
        if ocr is not None:
            ocr_result, warning, seconds = ocr
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
        stamp_texts = _stamp_texts(
            officer,
            officer_signer,
            officer_name,
            organisation,
            org_signer,
            agency_name,
            options,
            scan_time,
        )
        run_pages(sources, options, input_findings, finish)
        for f in input_findings:
            where = "" if f["page_index"] is None else f" page {int(f['page_index']) + 1}"
            warnings.append(f"input not used: {f['source']}{where}: {f['message']}")
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

        if officer_signer is not None:
            meta_kwargs["scanning_officer"] = (
                _display_name(officer, officer_signer, officer_name)[:50] or None
            )
        meta = md.RecordMetadata(**meta_kwargs)
        t = time.perf_counter()
        pdf_path = work / "data" / f"{record_id}.pdf"
        unsigned = work / f"{record_id}.unsigned.pdf"
        writer.save(unsigned, metadata=meta, created=scan_time, record_id=record_id)
        shutil.rmtree(spool)
        timings["pdf"] = pdf_seconds + time.perf_counter() - t
        t = time.perf_counter()
        signatures: list[str] = []
        current = unsigned
        if officer_signer is not None:
            target = work / f"{record_id}.officer.pdf" if org_signer is not None else pdf_path
            _sign_step(
                current,
                target,
                officer_signer,
                options,
                warnings,
                role="officer",
                signer_name=_display_name(officer, officer_signer, officer_name),
                copied_at=scan_time,
                sign_options=_sign_options(stamp_plan, "officer"),
            )
            signatures.append("officer")
            current = target
        if org_signer is not None:
            _sign_step(
                current,
                pdf_path,
                org_signer,
                options,
                warnings,
                role="organisation",
                agency_name=agency_name or _display_name(organisation, org_signer, None),
                copy_form=options.copy_form,
                sign_options=_sign_options(stamp_plan, "organisation"),
            )
            signatures.append("organisation")
            current = pdf_path
        if current != pdf_path:
            os.replace(current, pdf_path)
        for p in work.glob("*.pdf"):
            p.unlink()
        xml = md.to_xml(meta)
        xml_signer = org_signer if org_signer is not None else officer_signer
        if xml_signer is not None:
            # The metadata XML as the document-exchange platforms take an edXML document:
            # enveloped XMLDSig by the organisation (QCVN 102:2016/BTTTT; regulations §5.3).
            from ..signing import sign_xml

            xml = sign_xml(xml, xml_signer)
        timings["sign"] = time.perf_counter() - t
    finally:
        _close_signer(officer_signer, officer)
        _close_signer(org_signer, organisation)

    xml_path = work / "data" / f"{record_id}.xml"
    atomic_write_bytes(xml_path, xml)

    t = time.perf_counter()
    from ..compliance import Rules, check_record

    rules = Rules.default()
    if not signatures and options.allow_unsigned_drafts:
        # A draft the station allows (config); otherwise an unsigned record fails compliance:
        # the officer's signature is required (TT 01/2023/TT-VPCP Điều 8).
        rules = dataclasses.replace(rules, require_officer_signature=False)
    if stamp_plan is not None and stamp_plan.strip_px and reports and reports[0].dpi:
        # Page 1 is the paper plus the blank strip added for the stamps (at 100 %, nothing
        # scaled): declare its size so the scale rule checks it rather than the paper's.
        first = reports[0]
        assert first.dpi is not None
        size = (first.width * 25.4 / first.dpi[0], first.height * 25.4 / first.dpi[1])
        rules = dataclasses.replace(rules, declared_size_mm=size)
    comp = check_record(pdf_path, rules=rules, metadata=meta, declared_pages=len(reports))
    findings: list[dict[str, Any]] = [dataclasses.asdict(f) for f in comp.findings]
    findings += [
        {"rule": "timestamp", "page": None, "severity": "warning", "message": w}
        for w in warnings
        if w.startswith(_NO_TIMESTAMP)
    ]
    compliance = {"ok": bool(comp.ok), "findings": findings}
    if not signatures:
        warnings.append("record is not signed (no officer signer given)")
    timings["compliance"] = time.perf_counter() - t

    dup_summary = tuple({"page": r.number, **d} for r in reports for d in r.duplicates)
    # report.json names where the record will be once renamed, never the .partial folder.
    rec = DigitizedRecord(
        record_id=record_id,
        dossier_code=code,
        agency=agency,
        component=component,
        directory=final,
        pdf_path=final / "data" / pdf_path.name,
        xml_path=final / "data" / xml_path.name,
        pages=tuple(reports),
        fields=fields_json,
        duplicates=dup_summary,
        compliance=compliance,
        signatures=tuple(signatures),
        log_index=None,
        warnings=tuple(warnings),
        timings=timings,
        created=scan_time.isoformat(),
        input_findings=tuple(input_findings),
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


_NO_TIMESTAMP = "time-stamping authority unreachable"


def _sign_step(
    src: Path,
    dst: Path,
    signer: Any,
    options: DigitizeOptions,
    warnings: list[str],
    *,
    sign_options: Any = None,
    **stamp: Any,
) -> None:
    """One PAdES signature at the station's level; the TSA policy decides when it fails.

    With ``tsa_unreachable="sign-b-b"`` a signature whose time-stamp request fails is made
    again without one (B-B, or B-LT for B-LTA) and the record carries a warning, which the
    compliance report repeats; with ``"fail"`` (default) the document fails.
    """
    from ..errors import SignatureError
    from ..signing import sign_pdf

    level = options.pades_level
    try:
        sign_pdf(
            src,
            dst,
            signer,
            tsa=options.tsa_url,
            level=level,
            ltv_trust_roots=list(options.tsa_trust_roots),
            options=sign_options,
            **stamp,
        )
        return
    except SignatureError as exc:
        if not (
            options.tsa_url and options.tsa_unreachable == "sign-b-b" and _timestamp_failed(exc)
        ):
            raise
        reason = exc
    fallback = "B-LT" if level in ("B-LT", "B-LTA") else "B-B"
    sign_pdf(src, dst, signer, tsa=None, level=fallback, options=sign_options, **stamp)
    warnings.append(
        f"{_NO_TIMESTAMP} ({reason}); the {stamp.get('role')} signature is PAdES {fallback} "
        "without a time-stamp (station policy tsa_unreachable = sign-b-b)"
    )


def _timestamp_failed(exc: BaseException) -> bool:
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimestampRequestError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _close_signer(signer: Any, given: Any) -> None:
    """Close a signer this module opened from a SignerSpec (never one the caller passed)."""
    if signer is not None and signer is not given:
        with contextlib.suppress(Exception):
            signer.close()


# --- stamps on page 1 ----------------------------------------------------------------------


def _stamp_texts(
    officer: Any,
    officer_signer: Any,
    officer_name: str | None,
    organisation: Any,
    org_signer: Any,
    agency_name: str | None,
    options: DigitizeOptions,
    when: datetime,
) -> dict[Role, str]:
    """The stamps' texts with a stand-in time of the same length, to size their boxes."""
    from ..signing.stamp import stamp_text

    texts: dict[Role, str] = {}
    if officer_signer is not None:
        name = _display_name(officer, officer_signer, officer_name)
        texts["officer"] = stamp_text("officer", signing_time=when, signer_name=name)
    if org_signer is not None:
        agency = agency_name or _display_name(organisation, org_signer, None)
        texts["organisation"] = stamp_text(
            "organisation", signing_time=when, agency_name=agency, copy_form=options.copy_form
        )
    return texts


def _place_stamps(
    pw: Any, ocr: Any, report: PageReport, texts: dict[Role, str]
) -> tuple[Any, Any, PageReport, StampPlan]:
    """Plan page 1's stamps; when they need a blank strip, add it above the page image."""
    import numpy as np

    from ..metadata import page_digest
    from ..signing.stamp import plan_stamps

    page = pw.page
    assert page.dpi is not None
    plan = plan_stamps(page.pixels, page.dpi, texts)
    notes = [
        f"{p.role} stamp shrunk to {p.font_size} pt to keep clear of the scan"
        for p in plan.placements
        if p.how == "shrunk"
    ]
    if plan.strip_px:
        strip_mm = plan.strip_px * 25.4 / page.dpi[1]
        notes.append(
            f"a blank strip of {strip_mm:.0f} mm was added above the page for the stamps: "
            "no blank spot in the corner"
        )
        px = page.pixels
        white = np.full((plan.strip_px, *px.shape[1:]), 255, np.uint8)
        page = page.with_pixels(np.concatenate([white, px], axis=0), mode=page.mode)
        pw = dataclasses.replace(pw, page=page)
        if ocr is not None and ocr[0] is not None:
            ocr = (_shift_ocr(ocr[0], plan.strip_px), ocr[1], ocr[2])
        report = dataclasses.replace(
            report, height=page.height, sha256=page_digest(page, report.number).sha256
        )
    if notes:
        report = dataclasses.replace(report, warnings=report.warnings + tuple(notes))
    return pw, ocr, report, plan


def _shift_ocr(result: Any, dy: int) -> Any:
    """The OCR result of a page that got ``dy`` rows added on top."""

    def move(box: Any) -> Any:
        return dataclasses.replace(box, y0=box.y0 + dy, y1=box.y1 + dy)

    lines = tuple(
        dataclasses.replace(
            line,
            box=move(line.box),
            words=tuple(dataclasses.replace(w, box=move(w.box)) for w in line.words),
        )
        for line in result.lines
    )
    return dataclasses.replace(result, lines=lines, height=result.height + dy)


def _sign_options(plan: StampPlan | None, role: Role) -> Any:
    from ..signing.pdf import PdfSignOptions

    placement = plan.get(role) if plan is not None else None
    if placement is None:
        return None
    return PdfSignOptions(
        font_size=placement.font_size, position=(placement.box[0], placement.box[3])
    )


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
