"""Shared verification logic: validation contexts and the mapping to exact problem codes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from .certs import (
    ALLOWED_HASHES,
    CertificateInput,
    certificate_hash_name,
    key_description,
    load_certificates,
    load_trust_roots,
    vn_time,
)
from .report import Problem, VerificationReport, failed

T = TypeVar("T")

# pyHanko logs a warning with a full traceback for every signature it cannot trust.  Every
# such case is already a Problem in the report, so without a logging configuration of the
# application nothing reaches the user's terminal (Python's last-resort handler would print
# them); an application that configures logging still receives the records.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

MIN_BITS = {"rsa": 2048, "ecdsa": 256}

#: Strong key algorithms that TT 15/2025/TT-BKHCN does not list (it names RSA and ECDSA):
#: refused by the policy as ``algorithm-not-allowed``, not mislabelled as weak.
NOT_LISTED_KEYS = frozenset({"ed25519", "ed448"})

#: Hashes fixed by an EdDSA algorithm itself (RFC 8032, RFC 8419): not a hash choice to judge.
_EDDSA_HASHES = frozenset({"sha512", "shake256", "shake256_len"})

#: Accept a signer certificate for signing only with digitalSignature (RFC 5280 §4.2.1.3);
#: the problem is reported by :func:`certificate_problems` with its exact code.
KEY_USAGE = KeyUsageConstraints(key_usage=set(), match_all_key_usages=False)

#: Problems of the signer certificate itself that make it untrusted at the validation time
#: (a weak key or hash is reported, but does not by itself break the path).
UNTRUSTING_CODES = frozenset({"certificate-expired", "certificate-not-yet-valid", "key-usage"})

#: Substrings that mark a signature or digest algorithm name as too weak.
_WEAK_MARKERS = ("sha1", "md5")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a pyHanko coroutine, also from code that already runs an event loop (kiosk apps)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def from_asn1(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def contexts(
    trust_roots: Sequence[CertificateInput] | CertificateInput,
    tsa_trust_roots: Sequence[CertificateInput] | CertificateInput | None,
    at: dt.datetime | None,
    intermediates: Sequence[CertificateInput] = (),
    *,
    dss: Any = None,
    fetch_revocation: bool = False,
) -> tuple[ValidationContext, ValidationContext]:
    """Signer and TSA validation contexts: explicit roots only.

    ``intermediates`` are untrusted certificates offered for path building (never anchors).
    ``dss`` (a pyHanko ``DocumentSecurityStore``) adds the certificates, OCSP responses and
    CRLs a PAdES B-LT document embeds; ``fetch_revocation`` lets pyHanko fetch revocation
    data online.  Revocation is soft-fail: a certificate shown revoked fails, one without
    any revocation data passes.
    """
    roots = [to_asn1(c) for c in load_trust_roots(trust_roots)]
    others = [to_asn1(c) for c in load_certificates(list(intermediates))]
    ts_roots = (
        roots
        if tsa_trust_roots is None
        else [to_asn1(c) for c in load_trust_roots(tsa_trust_roots)]
    )
    kwargs: dict[str, Any] = {
        # The library goes online only when asked (fetch_revocation); embedded revocation
        # data (DSS) is always used.
        "allow_fetching": fetch_revocation,
        "revocation_mode": "soft-fail",
        "moment": at,
        "other_certs": others,
    }

    def make(anchors: list[Any]) -> ValidationContext:
        if dss is not None:
            ctx: ValidationContext = dss.as_validation_context({"trust_roots": anchors, **kwargs})
            return ctx
        return ValidationContext(trust_roots=anchors, **kwargs)

    return make(roots), make(ts_roots)


def certificate_problems(cert: x509.Certificate, at: dt.datetime) -> list[Problem]:
    """Date, key-usage and strength problems of a signer certificate at time ``at``."""
    out: list[Problem] = []
    subject = cert.subject.rfc4514_string()
    if at > cert.not_valid_after_utc:
        out.append(
            Problem(
                "certificate-expired",
                f"certificate {subject!r} expired at {vn_time(cert.not_valid_after_utc).isoformat()}",
            )
        )
    if at < cert.not_valid_before_utc:
        out.append(
            Problem(
                "certificate-not-yet-valid",
                f"certificate {subject!r} is valid only from "
                f"{vn_time(cert.not_valid_before_utc).isoformat()}",
            )
        )
    try:
        ku: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not ku.digital_signature:
        out.append(
            Problem("key-usage", f"certificate {subject!r} lacks the digitalSignature key usage")
        )
    kind, bits = key_description(cert.public_key())
    if kind in MIN_BITS and bits < MIN_BITS[kind]:
        out.append(
            Problem(
                "weak-key",
                f"certificate {subject!r} has a {kind.upper()}-{bits} key; "
                f"expected at least {MIN_BITS[kind]} bits",
            )
        )
    elif kind in NOT_LISTED_KEYS:
        out.append(
            Problem(
                "algorithm-not-allowed",
                f"certificate {subject!r} has an {kind.capitalize()} key: strong, but not an "
                "algorithm TT 15/2025/TT-BKHCN allows (RSA ≥ 2048, ECDSA ≥ 256)",
            )
        )
    elif kind not in MIN_BITS:
        out.append(Problem("weak-key", f"certificate {subject!r} has a {kind} key"))
    cert_hash = certificate_hash_name(cert)
    if cert_hash is not None and cert_hash not in ALLOWED_HASHES:
        out.append(Problem("weak-hash", f"certificate {subject!r} is signed with {cert_hash}"))
    return out


def hash_problem(md_algorithm: str | None, where: str) -> list[Problem]:
    name = (md_algorithm or "").lower().replace("-", "")
    if name and name not in ALLOWED_HASHES:
        return [Problem("weak-hash", f"{where} uses {name}; expected SHA-256 or stronger")]
    return []


def weak_mechanism(algorithm: str) -> bool:
    """Whether a signature mechanism or algorithm name/URI is built on SHA-1 or MD5."""
    lowered = algorithm.lower()
    return any(marker in lowered for marker in _WEAK_MARKERS)


def untrusted_root(subject: str | None) -> Problem:
    return Problem("untrusted-root", f"no path from {subject!r} to any of the given trust roots")


def exception_report(
    exc: Exception, signer_info: Callable[[], Any], label: str
) -> VerificationReport:
    """Report for a validation that raised: pyHanko raises for some policy failures (e.g.
    SHA-1), so name ``weak-hash`` when the SignerInfo shows a weak algorithm, else
    ``unreadable``.  ``signer_info`` fetches the SignerInfo (it may itself raise)."""
    text = f"{type(exc).__name__}: {exc}"
    try:
        si = signer_info()
        md = si["digest_algorithm"]["algorithm"].native
        mech = str(si["signature_algorithm"]["algorithm"].native)
    except Exception:  # hostile input: the SignerInfo itself is unreadable
        return failed("unreadable", f"{label}: {text}")
    if hash_problem(md, label) or weak_mechanism(mech):
        return failed("weak-hash", f"{label} uses {md} / {mech} ({text})")
    return failed("unreadable", f"{label}: {text}")


def chain_subjects(path: Any) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        certs = list(path.iter_certs(include_root=True))
    except (AttributeError, TypeError, ValueError):
        return ()
    return tuple(from_asn1(c).subject.rfc4514_string() for c in reversed(certs))


def status_report(
    status: Any,
    at: dt.datetime,
    *,
    extra: Sequence[Problem] = (),
) -> VerificationReport:
    """Translate a pyHanko ``StandardCMSSignatureStatus`` into a report with exact codes."""
    problems: list[Problem] = []
    cert = from_asn1(status.signing_cert) if status.signing_cert is not None else None
    subject = cert.subject.rfc4514_string() if cert is not None else None
    intact = bool(status.intact)
    sig_ok = bool(status.valid)
    if not intact:
        problems.append(
            Problem("digest-mismatch", "the signed data's digest differs from the signed one")
        )
    elif not sig_ok:
        problems.append(
            Problem("signature-invalid", f"the signature value does not verify for {subject!r}")
        )
    mech = str(getattr(status, "pkcs7_signature_mechanism", "") or "")
    md_name = (status.md_algorithm or "").lower()
    if not (mech.lower() in NOT_LISTED_KEYS and md_name in _EDDSA_HASHES):
        problems.extend(hash_problem(status.md_algorithm, "the signature"))
    if not problems and weak_mechanism(mech):
        problems.append(Problem("weak-hash", f"the signature mechanism is {mech}"))
    cert_problems = certificate_problems(cert, at) if cert is not None else []
    problems.extend(cert_problems)
    path_trusted = bool(status.trusted)
    if not path_trusted:
        indic = getattr(status.trust_problem_indic, "name", str(status.trust_problem_indic))
        if "REVOKED" in indic and "NOT_REVOKED" not in indic:
            which = (
                "a CA certificate of its chain"
                if getattr(status, "ca_revoked", False)
                else ("the signer certificate")
            )
            reason = getattr(status, "revocation_details", None)
            problems.append(
                Problem(
                    "certificate-revoked",
                    f"{which} of {subject!r} is revoked"
                    + (f" ({getattr(reason, 'revocation_reason', reason)})" if reason else ""),
                )
            )
        elif indic == "NO_CERTIFICATE_CHAIN_FOUND":
            problems.append(untrusted_root(subject))
        elif indic == "CRYPTO_CONSTRAINTS_FAILURE" and any(
            p.code in ("weak-hash", "weak-key") for p in problems
        ):
            pass  # already named exactly
        elif not cert_problems and intact and sig_ok:
            # pyHanko does not evaluate the path of a broken signature; say nothing then.
            problems.append(Problem("untrusted", f"certificate path rejected: {indic}"))
    ts_time = None
    tsv = getattr(status, "timestamp_validity", None)
    if tsv is not None:
        if not (tsv.intact and tsv.valid):
            problems.append(
                Problem("timestamp-invalid", "the signature time-stamp token does not verify")
            )
        elif not tsv.trusted:
            problems.append(
                Problem(
                    "timestamp-untrusted",
                    "the time-stamping authority does not chain to a given trust root",
                )
            )
        else:
            ts_time = vn_time(tsv.timestamp)
    problems.extend(extra)
    trusted = path_trusted and not any(p.code in UNTRUSTING_CODES for p in cert_problems)
    claimed = getattr(status, "signer_reported_dt", None)
    return VerificationReport(
        valid=intact and sig_ok and trusted and not problems,
        intact=intact and sig_ok,
        trusted=trusted,
        signer_subject=subject,
        signing_time=vn_time(claimed) if claimed is not None else None,
        timestamp_time=ts_time,
        chain=chain_subjects(status.validation_path) if path_trusted else (),
        problems=tuple(problems),
    )
