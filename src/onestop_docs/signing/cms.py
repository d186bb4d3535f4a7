"""Detached CMS / CAdES signatures (B-B, B-T) over any file, and their verification.

The signature is a DER ``ContentInfo`` of type SignedData (RFC 5652) that does not contain the
data: store it next to the file (``record.pdf.p7s``).  It carries the CAdES
``signing-certificate-v2`` attribute (ETSI EN 319 122-1 B-B) and, when a TSA is given, an
RFC 3161 signature time-stamp as unsigned attribute (B-T).  ``openssl cms -verify -binary``
accepts it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from asn1crypto import cms
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

from ..errors import InvalidArgumentError, SignatureError
from ._analysis import KEY_USAGE, contexts, exception_report, run_sync, status_report
from .certs import CertificateInput, check_hash_name
from .report import VerificationReport, failed
from .signer import Signer
from .tsa import TimestampAuthority, as_authority, timestamper_for

__all__ = ["sign_cms", "verify_cms"]

DataInput = bytes | bytearray | memoryview | str | os.PathLike[str]

#: Refuse CMS signature files larger than this (a real one is a few KiB).
MAX_SIGNATURE_BYTES = 1 << 20


def _open_data(data: DataInput) -> tuple[IO[bytes], bool]:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(data)), False
    if isinstance(data, str | os.PathLike):
        try:
            return open(data, "rb"), True
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {os.fspath(data)!r}: {exc}") from exc
    raise InvalidArgumentError(f"expected bytes or a file path, got {type(data).__name__}")


def sign_cms(
    data: DataInput,
    signer: Signer,
    *,
    tsa: TimestampAuthority | str | None = None,
    hash_name: str = "sha256",
) -> bytes:
    """Sign ``data`` (bytes or a file path) with a detached CAdES signature.

    Parameters
    ----------
    data : bytes or path
        The content to sign; files are streamed, not loaded whole.
    signer : Signer
        Key and certificate chain.
    tsa : TimestampAuthority or str, optional
        RFC 3161 TSA; when given the result is CAdES B-T, otherwise B-B.
    hash_name : str
        ``"sha256"`` (default), ``"sha384"``, ``"sha512"`` or SHA-3.

    Returns
    -------
    bytes
        DER-encoded CMS ``ContentInfo`` (``.p7s``).

    Raises
    ------
    WeakCryptoError
        ``hash_name`` weaker than SHA-256.
    SignatureError
        Certificate expired / not yet valid / wrong key usage, token or TSA failure.
    InvalidArgumentError
        ``data`` is neither bytes nor a readable path.

    Examples
    --------
    >>> from onestop_docs.signing import demo_pki
    >>> import tempfile
    >>> pki = demo_pki(tempfile.mkdtemp())
    >>> sig = sign_cms(b"hello", pki.officer_signer)
    >>> verify_cms(b"hello", sig, trust_roots=[pki.root_cert_path]).valid
    True
    """
    name = check_hash_name(hash_name)
    signer.check_usable()
    stamper = None
    authority = as_authority(tsa)
    if authority is not None:
        stamper = timestamper_for(authority)
    stream, close = _open_data(data)
    try:
        ph = signer.pyhanko_signer(name)
        result = run_sync(
            ph.async_sign_general_data(
                stream,
                name,
                detached=True,
                use_cades=True,
                timestamper=stamper,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC)),
            )
        )
    except (SigningError, TimestampRequestError) as exc:
        raise SignatureError(f"CMS signing failed: {exc}") from exc
    finally:
        if close:
            stream.close()
    der: bytes = result.dump()
    return der


def _load_signature(signature: DataInput) -> bytes:
    if isinstance(signature, str | os.PathLike):
        path = Path(signature)
        if path.stat().st_size > MAX_SIGNATURE_BYTES:
            raise ValueError(f"{path}: larger than {MAX_SIGNATURE_BYTES} bytes")
        raw = path.read_bytes()
    else:
        raw = bytes(signature)
    if raw.lstrip().startswith(b"-----BEGIN"):
        from asn1crypto import pem

        _, _, raw = pem.unarmor(raw)
    return raw


def verify_cms(
    data: DataInput,
    signature: DataInput,
    *,
    trust_roots: Sequence[CertificateInput] | CertificateInput,
    tsa_trust_roots: Sequence[CertificateInput] | CertificateInput | None = None,
    at: dt.datetime | None = None,
    intermediates: Sequence[CertificateInput] = (),
) -> VerificationReport:
    """Verify a detached CMS/CAdES ``signature`` (DER/PEM bytes or path) over ``data``.

    Parameters
    ----------
    data : bytes or path
        The content that was signed.
    signature : bytes or path
        The detached signature.
    trust_roots : paths, bytes or certificates
        Explicit roots; there is no default trust store.
    tsa_trust_roots : optional
        Roots for the time-stamping authority (default: ``trust_roots``).
    at : datetime, optional
        Validation time (default: now).
    intermediates : paths, bytes or certificates, optional
        Extra untrusted CA certificates for building the path when the signature does not
        embed its chain (they are never used as trust anchors).

    Returns
    -------
    VerificationReport
        Never raises for a bad or unreadable signature; see ``problems``.

    Raises
    ------
    InvalidArgumentError
        Only for bad arguments: no trust roots, unreadable root file, unreadable data path.

    Examples
    --------
    >>> from onestop_docs.signing import demo_pki
    >>> import tempfile
    >>> pki = demo_pki(tempfile.mkdtemp())
    >>> sig = sign_cms(b"hello", pki.officer_signer)
    >>> report = verify_cms(b"hellO", sig, trust_roots=[pki.root_cert_path])
    >>> report.valid, report.codes
    (False, ('digest-mismatch',))
    """
    moment = at or dt.datetime.now(dt.UTC)
    vc, ts_vc = contexts(trust_roots, tsa_trust_roots, moment, intermediates)
    try:
        raw = _load_signature(signature)
        info = cms.ContentInfo.load(raw)
        if info["content_type"].native != "signed_data":
            return failed("unreadable", f"CMS content type is {info['content_type'].native!r}")
        signed_data = info["content"]
        if len(signed_data["signer_infos"]) != 1:
            return failed(
                "unreadable",
                f"expected one SignerInfo, found {len(signed_data['signer_infos'])}",
            )
    except (ValueError, TypeError, KeyError, OSError) as exc:
        return failed("unreadable", f"not a CMS SignedData: {exc}")
    stream, close = _open_data(data)
    try:
        status: Any = run_sync(
            async_validate_detached_cms(
                stream,
                signed_data,
                signer_validation_context=vc,
                ts_validation_context=ts_vc,
                key_usage_settings=KEY_USAGE,
            )
        )
    except Exception as exc:
        return exception_report(exc, lambda: signed_data["signer_infos"][0], "the signature")
    finally:
        if close:
            stream.close()
    try:
        return status_report(status, moment)
    except Exception as exc:
        return failed("unreadable", f"{type(exc).__name__}: {exc}")
