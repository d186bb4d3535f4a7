"""VerificationReport: the answer of verify_pdf / verify_cms / verify_xml.

A report never raises for a bad signature: it says what is wrong in ``problems``, each a
:class:`Problem` with a stable machine-readable ``code`` (listed in :data:`PROBLEM_CODES`) and a
human message naming the certificate, time or algorithm involved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["PROBLEM_CODES", "Problem", "VerificationReport"]

#: Every problem code a report can carry, with its meaning.
PROBLEM_CODES: dict[str, str] = {
    "unreadable": "the file or signature cannot be parsed",
    "no-signature": "no signature was found",
    "digest-mismatch": "the signed content changed after signing (a byte differs)",
    "signature-invalid": "the cryptographic signature does not verify with the signer's key",
    "untrusted-root": "no certificate path leads to one of the given trust roots",
    "untrusted": "the certificate path was rejected for another reason (see the message)",
    "certificate-expired": "the signer certificate had expired at the validation time",
    "certificate-not-yet-valid": "the signer certificate was not yet valid at the validation time",
    "key-usage": "the signer certificate lacks the digitalSignature key usage",
    "certificate-revoked": "an OCSP response or CRL (embedded in the DSS, or fetched) shows "
    "the signer's or a CA certificate revoked",
    "weak-hash": "a hash weaker than SHA-256 was used (TT 15/2025/TT-BKHCN)",
    "weak-key": "the signer key is below RSA-2048 / ECDSA-256 (TT 15/2025/TT-BKHCN)",
    "algorithm-not-allowed": "a strong algorithm the policy does not list (Ed25519, Ed448: "
    "TT 15/2025/TT-BKHCN names RSA and ECDSA)",
    "timestamp-invalid": "the RFC 3161 time-stamp token does not verify or match the signature",
    "timestamp-untrusted": "the time-stamping authority does not chain to a given trust root",
    "modified-after-signing": "a later revision changes the signed PDF in a disallowed way",
    "partial-coverage": "the signature does not cover the whole PDF revision it belongs to",
    "signature-damaged": "a signature field carries a value that cannot be read as a signature",
    "unsigned-changes": "bytes or revisions after the last signature or document time-stamp "
    "that are not a PAdES long-term update (DSS, document time-stamp)",
    "xml-forbidden-construct": "the XML has a DTD, entity or processing construct we refuse",
    "xml-wrapping": "the XML has duplicate Ids or a reference that is not the document itself",
    "xml-algorithm": "the XML signature uses an algorithm outside the pinned list",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a signature: a ``code`` from :data:`PROBLEM_CODES` and a message.

    Examples
    --------
    >>> str(Problem("weak-hash", "the signature uses sha1"))
    'weak-hash: the signature uses sha1'
    """

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class VerificationReport:
    """Result of verifying one signed object.

    Attributes
    ----------
    valid : bool
        ``intact and trusted`` and no problem at all: the one flag most callers need.
    intact : bool
        The signed bytes are unchanged and the cryptographic signature verifies.
    trusted : bool
        The signer certificate chains to one of the caller's ``trust_roots`` and was valid
        (dates, key usage) at the validation time.
    signer_subject : str or None
        RFC 4514 subject of the signer certificate.
    signing_time : datetime or None
        Time claimed by the signer (PDF ``/M`` or CMS signingTime), in Vietnam time.
    timestamp_time : datetime or None
        Time certified by a valid RFC 3161 time-stamp (B-T), in Vietnam time.
    chain : tuple of str
        Subjects from the signer up to the trust root that was used (empty if untrusted).
    problems : tuple of Problem
        Everything that is wrong, most fundamental first.
    signatures : tuple of VerificationReport
        For a PDF: one report per signature, in signing order (the top-level fields describe
        the document as a whole: valid only if every signature is).
    signed_content : bytes or None
        For XML: the canonicalised content the signature covers; use only this, never the
        input document, after a successful verification.  ``None`` when not valid.

    Examples
    --------
    >>> r = VerificationReport(valid=False, intact=False, trusted=False, signer_subject=None,
    ...                        signing_time=None, timestamp_time=None, chain=(),
    ...                        problems=(Problem("no-signature", "no /Sig field"),))
    >>> r.codes
    ('no-signature',)
    >>> r.has("no-signature")
    True
    """

    valid: bool
    intact: bool
    trusted: bool
    signer_subject: str | None
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    chain: tuple[str, ...]
    problems: tuple[Problem, ...]
    signatures: tuple[VerificationReport, ...] = field(default=(), repr=False)
    signed_content: bytes | None = field(default=None, repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        """The problem codes, in order, without duplicates."""
        return tuple(dict.fromkeys(p.code for p in self.problems))

    def has(self, code: str) -> bool:
        """Whether a problem with ``code`` was found."""
        return any(p.code == code for p in self.problems)


def failed(code: str, message: str) -> VerificationReport:
    """A report for an object that could not be examined at all."""
    return VerificationReport(
        valid=False,
        intact=False,
        trusted=False,
        signer_subject=None,
        signing_time=None,
        timestamp_time=None,
        chain=(),
        problems=(Problem(code, message),),
    )
