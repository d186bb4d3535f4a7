"""PAdES signatures on digitized PDF records, with the visible stamp the rules prescribe.

Two roles, signed in this order as incremental updates (the first signature stays valid):

* ``role="officer"`` — the scanning officer's personal signature on the scanned copy,
  **top-left of page 1**, showing the officer's name and the time of copying
  (TT 01/2023/TT-VPCP Điều 8 k1).
* ``role="organisation"`` — the agency's signature on an electronic copy, **top-right of
  page 1**, no image, showing the copy form ("SAO Y", "SAO LỤC", "TRÍCH SAO"), the agency
  name and the signing time in ISO 8601 with the Vietnam offset, e.g.
  ``2025-06-30T14:05:09+07:00`` (NĐ 30/2020/NĐ-CP Phụ lục I Phần II).

The stamp text is set in Liberation Serif 2 (metric-compatible with Times New Roman, with
every Vietnamese glyph), upright, size 10, black, embedded as a subset.  The signature is
PAdES B-B (``ETSI.CAdES.detached``, SHA-256) or, with a TSA, B-T.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
from pyhanko.stamp import TextStampStyle

from .._fileutil import atomic_write
from ..errors import InvalidArgumentError, SignatureError
from ._analysis import KEY_USAGE, contexts, exception_report, run_sync, status_report
from .certs import VN_TZ, CertificateInput, check_hash_name
from .report import Problem, VerificationReport, failed
from .signer import Signer
from .stamp import LIBERATION_SERIF, Role, pdf_font_path, stamp_layout, stamp_text
from .tsa import TimestampAuthority, as_authority, timestamper_for

__all__ = [
    "LIBERATION_SERIF",
    "PADES_LEVELS",
    "PdfSignOptions",
    "PdfSignature",
    "sign_pdf",
    "verify_pdf",
]

#: PAdES baseline levels :func:`sign_pdf` makes (ETSI EN 319 142-1): B-B (signature), B-T (+
#: signature time-stamp), B-LT (+ DSS with the chain and OCSP responses / CRLs), B-LTA (+ a
#: document time-stamp over all of it).
PADES_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@dataclass(frozen=True)
class PdfSignOptions:
    """Layout and algorithm options of :func:`sign_pdf` (defaults follow NĐ 30/2020).

    Attributes
    ----------
    font_path : Path
        TrueType font embedded for the stamp (default Liberation Serif 2).
    font_size : int
        Points (default 10, as NĐ 30/2020 Phụ lục I prescribes).
    margin_pt : float
        Distance of the stamp from the page corner, points (default 28.35 = 10 mm).
    padding_pt : float
        Space between the stamp text and its (invisible) box, points.
    hash_name : str
        Message digest (default ``"sha256"``; SHA-1 is refused).
    field_name : str or None
        Signature field name; default ``"Officer"`` / ``"Organisation"`` (made unique).
    reason, location : str or None
        Optional /Reason and /Location entries.
    position : (float, float) or None
        Top-left corner of the stamp on page 1, PDF points (origin bottom-left), e.g. from
        :func:`onestop_docs.signing.stamp.plan_stamps`; default ``margin_pt`` from the corner.
    """

    font_path: Path = LIBERATION_SERIF
    font_size: int = 10
    margin_pt: float = 28.35
    padding_pt: float = 2.0
    hash_name: str = "sha256"
    field_name: str | None = None
    reason: str | None = None
    location: str | None = None
    position: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not 4 <= self.font_size <= 72:
            raise InvalidArgumentError(f"font_size must be 4..72 pt, got {self.font_size}")
        if not 0 <= self.margin_pt <= 200:
            raise InvalidArgumentError(f"margin_pt must be 0..200, got {self.margin_pt}")
        check_hash_name(self.hash_name)


@dataclass(frozen=True)
class PdfSignature:
    """What :func:`sign_pdf` wrote.

    Attributes
    ----------
    path : Path
        The signed PDF.
    field_name : str
        Signature field name.
    role : str
        ``"officer"`` or ``"organisation"``.
    signing_time : datetime
        Time written into the signature (/M) and the stamp, Vietnam time.
    stamp_text : str
        The visible text (NFC).
    box : tuple of float
        Stamp rectangle on page 1, PDF points ``(x1, y1, x2, y2)``, origin bottom-left.
    timestamped : bool
        Whether an RFC 3161 signature time-stamp is embedded (PAdES B-T).
    level : str
        The PAdES baseline level made: ``"B-B"``, ``"B-T"``, ``"B-LT"`` or ``"B-LTA"``.
    """

    path: Path
    field_name: str
    role: str
    signing_time: dt.datetime
    stamp_text: str
    box: tuple[float, float, float, float]
    timestamped: bool
    level: str = "B-B"


def _inherited(writer: IncrementalPdfFileWriter, keys: tuple[str, ...]) -> Any:
    """First of ``keys`` found on page 1 or its ancestors (PDF attribute inheritance)."""
    page_ref, _ = writer.find_page_for_modification(0)  # type: ignore[no-untyped-call]
    node: Any = page_ref.get_object()
    while node is not None:
        for key in keys:
            if key in node:
                return node[key]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return None


def _page_box(writer: IncrementalPdfFileWriter) -> tuple[float, float, float, float]:
    box = _inherited(writer, ("/CropBox",)) or _inherited(writer, ("/MediaBox",))
    if box is None:
        raise InvalidArgumentError("page 1 has no /MediaBox")
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _unique_field_name(reader: PdfFileReader, wanted: str) -> str:
    existing = {name for name, _, _ in fields.enumerate_sig_fields(reader)}
    name, n = wanted, 2
    while name in existing:
        name, n = f"{wanted}{n}", n + 1
    return name


class _FixedTimePdfSigner(signers.PdfSigner):  # type: ignore[misc]
    """PdfSigner whose /M time equals the time printed in the stamp."""

    def __init__(self, *args: Any, system_time: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._system_time = system_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._system_time
        return session


def sign_pdf(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    signer: Signer,
    *,
    role: Role = "officer",
    signer_name: str | None = None,
    copied_at: dt.datetime | None = None,
    copy_form: str = "SAO Y",
    agency_name: str | None = None,
    tsa: TimestampAuthority | str | None = None,
    options: PdfSignOptions | None = None,
    level: str | None = None,
    ltv_trust_roots: Sequence[CertificateInput] = (),
) -> PdfSignature:
    """Sign a PDF (PAdES B-B to B-LTA) with the role's visible stamp on page 1.

    Parameters
    ----------
    src, dst : path
        Input and output PDF; ``dst`` is written atomically and may equal ``src``.
        An already signed input is extended by an incremental update (its signatures stay
        valid), so sign first as officer, then as organisation.
    signer : Signer
        Key and certificate (file or PKCS#11 token).
    role : {"officer", "organisation"}
        Top-left officer stamp or top-right organisation stamp.
    signer_name : str, optional
        Officer's name in the stamp (default: the certificate's common name).
    copied_at : datetime, optional
        Time of copying shown in the officer stamp (default: the signing time).
    copy_form : str
        Copy form for the organisation stamp: "SAO Y" (default), "SAO LỤC", "TRÍCH SAO".
    agency_name : str, optional
        Agency name for the organisation stamp (required for that role).
    tsa : TimestampAuthority or str, optional
        RFC 3161 TSA for a signature time-stamp (PAdES B-T).
    options : PdfSignOptions, optional
        Font, size, margin, hash, field name.
    level : {"B-B", "B-T", "B-LT", "B-LTA"}, optional
        PAdES level (default: B-T with ``tsa``, else B-B).  B-LT fetches the OCSP responses
        (or CRLs) of the signer's chain from the addresses in its certificates and embeds
        them with the chain in the DSS; B-LTA adds a document time-stamp (needs ``tsa``).
        A revoked certificate, or a signer certificate whose revocation data cannot be
        fetched, fails signing.
    ltv_trust_roots : paths, bytes or certificates, optional
        Anchors for validating the chains at signing (B-LT/B-LTA), besides the top of the
        signer's own chain: the TSA's root when it is another PKI.

    Returns
    -------
    PdfSignature
        Field name, signing time, stamp text and box.

    Raises
    ------
    InvalidArgumentError
        Unreadable PDF, bad role or missing names, glyph missing from the font.
    SignatureError
        Certificate not usable for signing (expired, key usage), token or TSA failure.
    WeakCryptoError
        A hash weaker than SHA-256 in ``options``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from onestop_docs.signing import demo_pki
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (420, 595), "white").save(d / "scan.pdf", "PDF", resolution=72)
    >>> pki = demo_pki(d)
    >>> sig = sign_pdf(d / "scan.pdf", d / "signed.pdf", pki.officer_signer,
    ...                signer_name="Trần Văn Bình")
    >>> sig.field_name, sig.stamp_text.splitlines()[0]
    ('Officer', 'Người số hóa: Trần Văn Bình')
    >>> verify_pdf(d / "signed.pdf", trust_roots=[pki.root_cert_path]).valid
    True
    """
    opts = options or PdfSignOptions()
    level = level or ("B-T" if tsa is not None else "B-B")
    if level not in PADES_LEVELS:
        raise InvalidArgumentError(f"level must be one of {PADES_LEVELS}, got {level!r}")
    if level in ("B-T", "B-LTA") and tsa is None:
        raise InvalidArgumentError(f"PAdES {level} needs a time-stamping authority (tsa=)")
    hash_name = check_hash_name(opts.hash_name)
    signing_time = dt.datetime.now(VN_TZ).replace(microsecond=0)
    signer.check_usable(signing_time)
    text = stamp_text(
        role,
        signing_time=signing_time,
        signer_name=signer_name or signer.common_name,
        copied_at=copied_at,
        copy_form=copy_form,
        agency_name=agency_name,
    )
    src_path, dst_path = Path(src), Path(dst)
    authority = as_authority(tsa)
    try:
        src_bytes = src_path.read_bytes()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {str(src_path)!r}: {exc}") from exc
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(src_bytes), strict=False)
        x1, y1, x2, y2 = _page_box(writer)
        field_name = _unique_field_name(
            writer.prev, opts.field_name or ("Officer" if role == "officer" else "Organisation")
        )
        rotate = int(_inherited(writer, ("/Rotate",)) or 0) % 360
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(f"{str(src_path)!r} is not a readable PDF: {exc}") from exc
    if rotate:
        # A viewer turns the page and the stamp with it: the stamp would land sideways in
        # the wrong corner, which the rules do not allow.  Refuse instead of misplacing.
        raise InvalidArgumentError(
            f"page 1 of {str(src_path)!r} has /Rotate {rotate}; expected an upright page "
            "(rotate the page content, not the page, before signing)"
        )
    # Each stamp gets at most half the usable width, so officer and organisation stamps
    # never overlap; longer lines (a long agency name) wrap at spaces.
    lay = stamp_layout(
        text,
        page_width_pt=x2 - x1,
        font_path=opts.font_path,
        font_size=opts.font_size,
        margin_pt=opts.margin_pt,
        padding_pt=opts.padding_pt,
    )
    text = "\n".join(lay.lines)
    width, height = lay.width_pt, lay.height_pt
    if width + 2 * opts.margin_pt > x2 - x1 or height + 2 * opts.margin_pt > y2 - y1:
        raise InvalidArgumentError(
            f"stamp of {width:.0f}×{height:.0f} pt does not fit page 1 ({x2 - x1:.0f}×{y2 - y1:.0f} pt)"
        )
    top = y2 - opts.margin_pt
    if opts.position is not None:
        # A place chosen by plan_stamps (clear of the scan's ink): its top-left corner.
        left, top = (float(v) for v in opts.position)
        box = (left, top - height, left + width, top)
        if box[0] < x1 or box[1] < y1 or box[2] > x2 or box[3] > y2:
            raise InvalidArgumentError(
                f"stamp box {tuple(round(v, 1) for v in box)} is outside page 1 "
                f"({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f})"
            )
    elif role == "officer":
        box = (x1 + opts.margin_pt, top - height, x1 + opts.margin_pt + width, top)
    else:
        box = (x2 - opts.margin_pt - width, top - height, x2 - opts.margin_pt, top)
    style = TextStampStyle(
        stamp_text=text.replace("%", "%%"),
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(pdf_font_path(opts.font_path), font_size=opts.font_size),
            font_size=opts.font_size,
            leading=round(opts.font_size * 1.2),
            text_color=(0.0, 0.0, 0.0),
            # No inner margin of the text box: the padding is set once, below.
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MAX,
                margins=layout.Margins(0, 0, 0, 0),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
        ),
        border_width=0,
        background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins(*(round(opts.padding_pt),) * 4),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
    )
    long_term = level in ("B-LT", "B-LTA")

    async def sign(out: Any) -> None:
        # The validation context fetches OCSP/CRLs with aiohttp: made inside the loop.
        vc = _signing_context(signer, ltv_trust_roots) if long_term else None
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=hash_name,
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=opts.reason,
            location=opts.location,
            embed_validation_info=long_term,
            use_pades_lta=level == "B-LTA",
            validation_context=vc,
        )
        pdf_signer = _FixedTimePdfSigner(
            meta,
            signer=signer.pyhanko_signer(hash_name),
            stamp_style=style,
            timestamper=timestamper_for(authority) if authority is not None else None,
            new_field_spec=fields.SigFieldSpec(field_name, on_page=0, box=box),  # type: ignore[arg-type]
            system_time=signing_time,
        )
        try:
            await pdf_signer.async_sign_pdf(writer, output=out)
        finally:
            if vc is not None:
                with contextlib.suppress(Exception):
                    await vc.aclose()

    try:
        with atomic_write(dst_path) as out:
            run_sync(sign(out))
    except (SigningError, TimestampRequestError, PdfError) as exc:
        raise SignatureError(f"PAdES signing of {str(src_path)!r} failed: {exc}") from exc
    except Exception as exc:  # path validation while collecting revocation data (B-LT)
        if not long_term:
            raise
        raise SignatureError(
            f"PAdES {level} signing of {str(src_path)!r} failed: the revocation data of the "
            f"signer's chain could not be validated ({type(exc).__name__}: {exc})"
        ) from exc
    if long_term and not _has_revocation_data(dst_path):
        with contextlib.suppress(OSError):
            dst_path.unlink()
        raise SignatureError(
            f"PAdES {level} signing of {str(src_path)!r} failed: no OCSP response or CRL could "
            "be fetched for the signer's certificate (does it name an OCSP responder or a CRL "
            "distribution point, and is it reachable?)"
        )
    return PdfSignature(
        path=dst_path,
        field_name=field_name,
        role=role,
        signing_time=signing_time,
        stamp_text=text,
        box=box,
        timestamped=authority is not None,
        level=level,
    )


def _has_revocation_data(pdf: Path) -> bool:
    """Whether the PDF's DSS holds at least one OCSP response or CRL."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
        dss = _read_dss(reader)
        return dss is not None and bool(list(dss.ocsps) or list(dss.crls))
    except Exception:
        return False


def _signing_context(signer: Signer, extra_roots: Sequence[CertificateInput]) -> Any:
    """Validation context for collecting the chains' revocation data at signing (B-LT).

    The anchors are the top of the signer's own chain and ``extra_roots`` (a TSA's root);
    OCSP responses and CRLs are fetched from the addresses in the certificates (AIA, CRL
    distribution points).  A certificate shown revoked fails the signature; a certificate
    without reachable revocation data is tolerated here (a TSA's often has none) and
    :func:`sign_pdf` then requires data for the signer's own certificate.
    """
    from pyhanko_certvalidator import ValidationContext

    from ._analysis import to_asn1
    from .certs import load_certificates

    chain = [signer.certificate, *signer.chain]
    anchors = [chain[-1], *load_certificates(list(extra_roots))]
    return ValidationContext(
        trust_roots=[to_asn1(c) for c in anchors],
        other_certs=[to_asn1(c) for c in chain[:-1]],
        allow_fetching=True,
        revocation_mode="soft-fail",
        # The signing time is whole seconds (it is printed in the stamp); an OCSP response
        # produced a moment later must still count, as must a responder's small clock skew.
        time_tolerance=dt.timedelta(seconds=30),
    )


def _modification_problems(status: Any) -> list[Problem]:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    out: list[Problem] = []
    coverage = status.coverage
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        out.append(
            Problem("partial-coverage", f"it does not cover its whole revision ({coverage})")
        )
    level = status.modification_level
    if status.docmdp_ok is False or (level is not None and level > ModificationLevel.FORM_FILLING):
        out.append(
            Problem(
                "modified-after-signing",
                f"later revisions change the signed document ({getattr(level, 'name', level)})",
            )
        )
    return out


def verify_pdf(
    path: str | os.PathLike[str],
    *,
    trust_roots: Sequence[CertificateInput] | CertificateInput,
    tsa_trust_roots: Sequence[CertificateInput] | CertificateInput | None = None,
    at: dt.datetime | None = None,
    intermediates: Sequence[CertificateInput] = (),
    fetch_revocation: bool = False,
) -> VerificationReport:
    """Verify every signature in a PDF, with revocation data when there is some.

    The top-level fields describe the document: ``valid`` only if every signature is valid;
    ``signer_subject``, ``signing_time`` and ``timestamp_time`` are those of the latest
    signature; ``problems`` lists all, each message naming its field.  ``signatures`` holds
    one report per signature in signing order.

    Parameters
    ----------
    path : path
        The signed PDF.
    trust_roots : paths, bytes or certificates
        Explicit roots (no default trust store).
    tsa_trust_roots : optional
        Roots of time-stamping authorities (default: ``trust_roots``).
    at : datetime, optional
        Validation time (default: now).
    intermediates : paths, bytes or certificates, optional
        Extra untrusted CA certificates for building the path when the signature does not
        embed its chain (they are never used as trust anchors).
    fetch_revocation : bool
        Also fetch OCSP responses / CRLs online from the certificates' addresses.  Without
        it only revocation data embedded in the PDF (its DSS, PAdES B-LT) is used.  Either
        way a certificate shown revoked is ``certificate-revoked``; a certificate without
        any revocation data is accepted (soft-fail), as most B-B records have none.

    Returns
    -------
    VerificationReport
        Never raises for a damaged or hostile file; see ``problems``.

    Raises
    ------
    InvalidArgumentError
        For bad arguments only (no trust roots, unreadable trust root file, a naive
        ``at``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (420, 595), "white").save(d / "scan.pdf", "PDF", resolution=72)
    >>> from onestop_docs.signing import demo_pki
    >>> verify_pdf(d / "scan.pdf", trust_roots=[demo_pki(d).root_cert_path]).codes
    ('no-signature',)
    """
    if at is not None and (not isinstance(at, dt.datetime) or at.utcoffset() is None):
        # A naive time has no place on the certificates' UTC time line.
        raise InvalidArgumentError(
            f"at must be a timezone-aware datetime (e.g. datetime.now(UTC)), got {at!r}"
        )
    moment = at or dt.datetime.now(dt.UTC)
    contexts(trust_roots, tsa_trust_roots, moment, intermediates)  # argument errors first
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return failed("unreadable", f"cannot read {os.fspath(path)!r}: {exc}")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        # Signatures and document time-stamps (PAdES B-LTA), in signing order.
        everything = list(reader.embedded_signatures)
    except Exception as exc:
        return failed("unreadable", f"not a readable PDF: {type(exc).__name__}: {exc}")
    embedded = [s for s in everything if s.sig_object_type == "/Sig"]
    # A value that is neither a signature nor a document time-stamp (a damaged /Type).
    odd = [
        Problem(
            "signature-damaged",
            f"field {s.field_name!r} carries a value of type {s.sig_object_type}, "
            "neither /Sig nor /DocTimeStamp",
        )
        for s in everything
        if s.sig_object_type not in ("/Sig", "/DocTimeStamp")
    ]
    if not embedded and not odd:
        return failed("no-signature", f"{os.fspath(path)!r} has no signature field with a value")
    if not embedded:
        return failed(odd[0].code, odd[0].message)
    dss = _read_dss(reader)

    async def judge() -> tuple[list[VerificationReport], list[Problem]]:
        # One event loop for every validation: revocation fetching (aiohttp) is bound to
        # the loop the contexts are made in.
        vc, ts_vc = contexts(
            trust_roots,
            tsa_trust_roots,
            moment,
            intermediates,
            dss=dss,
            fetch_revocation=fetch_revocation,
        )
        try:
            reports = [await _signature_report(sig, vc, ts_vc, moment) for sig in embedded]
            stamps = [
                p
                for sig in everything
                if sig.sig_object_type == "/DocTimeStamp"
                for p in await _document_timestamp_problems(sig, ts_vc)
            ]
        finally:
            for ctx in (vc, ts_vc):
                with contextlib.suppress(Exception):
                    await ctx.aclose()  # type: ignore[no-untyped-call]
        return reports, stamps

    reports, stamp_problems = run_sync(judge())
    problems = tuple(p for r in reports for p in r.problems) + tuple(stamp_problems)
    seen = {p.code for p in problems}
    # An appended revision already judged by the modification analysis needs no second word.
    damage = tuple(odd) + tuple(
        p
        for p in _coverage_problems(reader, everything, data)
        if not (p.code == "unsigned-changes" and "modified-after-signing" in seen)
    )
    timestamp_damage = tuple(p for p in problems if p.code.startswith("timestamp-"))
    problems += damage
    last = reports[-1]
    return VerificationReport(
        valid=all(r.valid for r in reports) and not damage and not timestamp_damage,
        # Unsigned bytes appended after the last signature leave the signed bytes intact.
        intact=all(r.intact for r in reports)
        and not any(p.code == "signature-damaged" for p in damage),
        trusted=all(r.trusted for r in reports),
        signer_subject=last.signer_subject,
        signing_time=last.signing_time,
        timestamp_time=last.timestamp_time,
        chain=last.chain,
        problems=problems,
        signatures=tuple(reports),
    )


def _read_dss(reader: Any) -> Any:
    """The PDF's Document Security Store (PAdES B-LT), or None."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        return DocumentSecurityStore.read_dss(reader)
    except Exception:  # no DSS (B-B, B-T), or an unreadable one: nothing embedded to use
        return None


async def _signature_report(
    sig: Any, vc: Any, ts_vc: Any, moment: dt.datetime
) -> VerificationReport:
    """Report of one embedded signature; its problems name the field."""
    label = f"signature {sig.field_name!r}"
    try:
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=vc,
            ts_validation_context=ts_vc,
            key_usage_settings=KEY_USAGE,
        )
    except Exception as exc:
        return exception_report(exc, lambda: sig.signer_info, label)
    try:
        report = status_report(status, moment, extra=_modification_problems(status))
    except Exception as exc:
        report = failed("unreadable", f"{type(exc).__name__}: {exc}")
    return _labelled(report, label)


async def _document_timestamp_problems(sig: Any, ts_vc: Any) -> list[Problem]:
    """Problems of one PAdES document time-stamp (``/DocTimeStamp``, B-LTA)."""
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp

    label = f"document time-stamp {sig.field_name!r}"
    try:
        status = await async_validate_pdf_timestamp(sig, validation_context=ts_vc)
    except Exception as exc:
        return [Problem("timestamp-invalid", f"{label}: {type(exc).__name__}: {exc}")]
    if not (status.intact and status.valid):
        return [Problem("timestamp-invalid", f"{label} does not verify")]
    if not status.trusted:
        return [
            Problem(
                "timestamp-untrusted",
                f"{label}: the time-stamping authority does not chain to a given trust root",
            )
        ]
    return []


def _only_lta_updates_after(sig: Any, data: bytes) -> bool:
    """Whether every revision after ``sig`` only adds validation data (DSS) or document
    time-stamps: PAdES long-term updates, which change nothing that was signed; and nothing
    follows the last revision's ``%%EOF``."""
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel

    if not data.rstrip().endswith(b"%%EOF"):
        return False
    try:
        if sig.signed_revision >= sig.reader.xrefs.total_revisions - 1:
            return False  # no later revision: bytes appended outside any revision
        result = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
    except Exception:  # unreadable later revision: it is not a long-term update
        return False
    return (
        isinstance(result, DiffResult)
        and result.modification_level <= ModificationLevel.LTA_UPDATES
    )


def _coverage_problems(reader: Any, embedded: list[Any], data: bytes) -> tuple[Problem, ...]:
    """Damage that per-signature validation cannot see.

    ``embedded`` holds every signature *and* document time-stamp.  A flipped byte inside the
    *last* signature's dictionary (``/Type /Sig`` → ``/Type /Sif``) makes that signature
    disappear from the list of signatures, and the earlier ones still validate.  So: every
    signature field that has a value must have been read, and the last signature or
    time-stamp must cover the whole file, unless what follows it is a PAdES long-term update
    (a DSS with certificates, OCSP responses and CRLs), which signs nothing away.
    """
    from pyhanko.sign.validation import SignatureCoverageLevel

    out: list[Problem] = []
    try:
        acroform = reader.root.get("/AcroForm")
        fields = acroform.get_object().get("/Fields", []) if acroform is not None else []
        with_value = 0
        for ref in fields.get_object() if hasattr(fields, "get_object") else fields:
            fld = ref.get_object()
            if fld.get("/FT") == "/Sig" and fld.get("/V") is not None:
                with_value += 1
    except Exception:  # a damaged form dictionary: counted as unknown, reported below
        with_value = -1
    if with_value != len(embedded):
        out.append(
            Problem(
                "signature-damaged",
                f"{with_value if with_value >= 0 else 'an unreadable number of'} signature "
                f"field(s) carry a value but {len(embedded)} signature(s) could be read",
            )
        )
    try:
        coverage = embedded[-1].evaluate_signature_coverage()
    except Exception as exc:
        out.append(Problem("unreadable", f"cannot evaluate coverage: {type(exc).__name__}: {exc}"))
    else:
        if coverage != SignatureCoverageLevel.ENTIRE_FILE and not _only_lta_updates_after(
            embedded[-1], data
        ):
            out.append(
                Problem(
                    "unsigned-changes",
                    "the last signature does not cover the whole file: bytes were appended "
                    "after it or a later signature is damaged",
                )
            )
    return tuple(out)


def _labelled(report: VerificationReport, label: str) -> VerificationReport:
    return replace(
        report, problems=tuple(Problem(p.code, f"{label}: {p.message}") for p in report.problems)
    )
