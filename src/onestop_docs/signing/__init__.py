"""Digital signatures for digitized records: PAdES, CMS/CAdES, XMLDSig, RFC 3161, verification.

A digitized copy has the legal value of the paper only when it is signed (NĐ 30/2020/NĐ-CP
Điều 25–26, TT 01/2023/TT-VPCP Điều 8).  This package gives kiosk/portal apps and scan
stations one small, safe API over pyHanko, signxml and cryptography:

* :class:`Signer` — from PKCS#12, PEM, or a PKCS#11 token; refuses weak crypto
  (RSA < 2048, ECDSA < 256, hashes below SHA-256; TT 15/2025/TT-BKHCN).
* :func:`sign_pdf` / :func:`verify_pdf` — PAdES B-B/B-T with the visible text stamp at the
  place the rules name (officer top-left, organisation top-right of page 1).
* :func:`sign_cms` / :func:`verify_cms` — detached CAdES over any file.
* :func:`sign_xml` / :func:`verify_xml` — enveloped XMLDSig for metadata and edXML.
* :class:`TimestampAuthority`, :func:`request_timestamp` — RFC 3161 time-stamps.
* :func:`demo_pki` — a throwaway, clearly labelled demo PKI.

Every verify function returns a :class:`VerificationReport` and takes explicit
``trust_roots``; there is no default trust store.  Requires the ``sign`` extra
(``pip install 'onestop_docs[sign]'``); without it importing this package raises
:class:`~onestop_docs.errors.MissingDependencyError`.

Examples
--------
>>> import tempfile
>>> from onestop_docs.signing import demo_pki, sign_cms, verify_cms
>>> pki = demo_pki(tempfile.mkdtemp())
>>> report = verify_cms(b"data", sign_cms(b"data", pki.officer_signer),
...                     trust_roots=[pki.root_cert_path])
>>> report.valid, report.problems
(True, ())
"""

from __future__ import annotations

from . import _requires  # noqa: F401
from .certs import VN_TZ, load_certificates, load_trust_roots, vn_time
from .cms import sign_cms, verify_cms
from .demo import DEMO_LABEL, DemoPki, demo_pki
from .pdf import PdfSignOptions, sign_pdf, verify_pdf
from .report import PROBLEM_CODES, Problem, VerificationReport
from .signer import Signer
from .tsa import TimestampAuthority, TimestampToken, request_timestamp
from .xml import sign_xml, verify_xml

__all__ = [
    "DEMO_LABEL",
    "PROBLEM_CODES",
    "VN_TZ",
    "DemoPki",
    "PdfSignOptions",
    "Problem",
    "Signer",
    "TimestampAuthority",
    "TimestampToken",
    "VerificationReport",
    "demo_pki",
    "load_certificates",
    "load_trust_roots",
    "request_timestamp",
    "sign_cms",
    "sign_pdf",
    "sign_xml",
    "verify_cms",
    "verify_pdf",
    "verify_xml",
    "vn_time",
]
