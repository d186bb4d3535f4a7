"""PAdES B-LT / B-LTA made by the station, and revocation checked against a real OCSP responder.

``tests/ocsp.py`` runs ``openssl ocsp`` on loopback for a CA whose leaves name it in their AIA
extension (or name a CRL it serves on loopback); ``tests/tsa.py`` runs ``openssl ts`` as the time-stamping authority.  The DSS is read
back with pikepdf (an independent reader) and the OCSP responses in it are parsed with
``cryptography``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyhanko")
pikepdf = pytest.importorskip("pikepdf")
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

from cryptography.x509 import ocsp as x509_ocsp  # noqa: E402
from ocsp import LocalOcsp  # noqa: E402
from PIL import Image  # noqa: E402
from tsa import LocalTsa  # noqa: E402

from onestop_docs.errors import InvalidArgumentError, SignatureError  # noqa: E402
from onestop_docs.signing import Signer, sign_pdf, verify_pdf  # noqa: E402


@pytest.fixture(scope="module")
def ocsp(work: Path):
    with LocalOcsp(work / "ocsp") as responder:
        yield responder


@pytest.fixture(scope="module")
def tsa(pki, work: Path):
    with LocalTsa(pki, work) as authority:
        yield authority


@pytest.fixture(scope="module")
def scan(work: Path) -> Path:
    path = work / "scan.pdf"
    Image.new("RGB", (595, 842), "white").save(path, "PDF", resolution=72)
    return path


def _dss_ocsp_statuses(pdf: Path) -> list[str]:
    with pikepdf.open(pdf) as doc:
        dss = doc.Root.get("/DSS")
        if dss is None:
            return []
        out = []
        for stream in dss.get("/OCSPs", []):
            resp = x509_ocsp.load_der_ocsp_response(stream.read_bytes())
            out.append(resp.certificate_status.name)
        return out


def _doc_timestamps(pdf: Path) -> int:
    with pikepdf.open(pdf) as doc:
        fields = doc.Root.AcroForm.Fields
        return sum(
            1 for f in fields if f.get("/V") is not None and f.V.get("/Type") == "/DocTimeStamp"
        )


def test_b_lt_embeds_the_ocsp_response_and_verifies(ocsp, scan: Path, work: Path) -> None:
    leaf = ocsp.issue("Cán bộ B-LT")
    out = work / "b-lt.pdf"
    sig = sign_pdf(scan, out, Signer.from_key(leaf.key, leaf.cert, leaf.chain), level="B-LT")
    assert sig.level == "B-LT"
    assert _dss_ocsp_statuses(out) == ["GOOD"]
    report = verify_pdf(out, trust_roots=[ocsp.root_path])
    assert report.valid, [str(p) for p in report.problems]


def test_b_lt_without_revocation_data_fails(pki, scan: Path, work: Path) -> None:
    """A certificate that names no OCSP responder or CRL cannot make a long-term signature:
    signing fails and leaves no file, rather than writing a B-LT in name only."""
    leaf = pki.issue("Không có OCSP")
    out = work / "no-revinfo.pdf"
    with pytest.raises(SignatureError, match="no OCSP response or CRL"):
        sign_pdf(scan, out, Signer.from_key(leaf.key, leaf.cert, leaf.chain), level="B-LT")
    assert not out.exists()


def test_b_lta_adds_a_document_timestamp(ocsp, tsa, pki, scan: Path, work: Path) -> None:
    leaf = ocsp.issue("Cán bộ B-LTA")
    out = work / "b-lta.pdf"
    signer = Signer.from_key(leaf.key, leaf.cert, leaf.chain)
    sig = sign_pdf(scan, out, signer, level="B-LTA", tsa=tsa.url, ltv_trust_roots=[pki.root.cert])
    assert sig.level == "B-LTA" and sig.timestamped
    assert _doc_timestamps(out) == 1 and "GOOD" in _dss_ocsp_statuses(out)
    report = verify_pdf(out, trust_roots=[ocsp.root_path], tsa_trust_roots=[pki.root.cert])
    assert report.valid, [str(p) for p in report.problems]
    assert len(report.signatures) == 1 and report.timestamp_time is not None
    # The document time-stamp is judged: under another TSA root it is untrusted.
    other = verify_pdf(out, trust_roots=[ocsp.root_path], tsa_trust_roots=[ocsp.root_path])
    assert "timestamp-untrusted" in other.codes
    with pytest.raises(InvalidArgumentError):
        sign_pdf(scan, work / "x.pdf", signer, level="B-LTA")  # B-LTA needs a TSA


def test_revoked_certificate(ocsp, scan: Path, work: Path) -> None:
    leaf = ocsp.issue("Cán bộ bị thu hồi")
    signer = Signer.from_key(leaf.key, leaf.cert, leaf.chain)
    long_term = work / "before-revocation.pdf"
    sign_pdf(scan, long_term, signer, level="B-LT")  # OCSP "good" embedded
    plain = work / "plain.pdf"
    sign_pdf(scan, plain, signer)  # B-B: no revocation data inside
    assert verify_pdf(plain, trust_roots=[ocsp.root_path], fetch_revocation=True).valid
    ocsp.revoke(leaf.cert)
    assert ocsp.status(leaf.cert) == "revoked"  # openssl's own client agrees
    report = verify_pdf(plain, trust_roots=[ocsp.root_path], fetch_revocation=True)
    assert not report.valid and "certificate-revoked" in report.codes, report.codes
    # Without going online a B-B signature has no revocation data: soft-fail, still valid.
    assert verify_pdf(plain, trust_roots=[ocsp.root_path]).valid
    # The B-LT record carries the "good" answer it got at signing time.
    assert verify_pdf(long_term, trust_roots=[ocsp.root_path]).valid
    # A station never makes a long-term signature with a revoked certificate.
    with pytest.raises(SignatureError):
        sign_pdf(scan, work / "revoked-lt.pdf", signer, level="B-LT")


def _dss_crls(pdf: Path) -> list[set[int]]:
    """The serial numbers listed by each CRL in the PDF's DSS."""
    from cryptography import x509

    with pikepdf.open(pdf) as doc:
        dss = doc.Root.get("/DSS")
        crls = [] if dss is None else list(dss.get("/CRLs", []))
        return [{r.serial_number for r in x509.load_der_x509_crl(s.read_bytes())} for s in crls]


def test_revocation_by_crl(ocsp, scan: Path, work: Path) -> None:
    """The same with a CRL distribution point served on loopback instead of OCSP."""
    leaf = ocsp.issue("Cán bộ CRL", via="crl")
    signer = Signer.from_key(leaf.key, leaf.cert, leaf.chain)
    long_term = work / "crl-b-lt.pdf"
    sign_pdf(scan, long_term, signer, level="B-LT")
    (listed,) = _dss_crls(long_term)  # the CRL is embedded; this leaf is not on it yet
    assert leaf.cert.serial_number not in listed
    assert verify_pdf(long_term, trust_roots=[ocsp.root_path]).valid
    plain = work / "crl-plain.pdf"
    sign_pdf(scan, plain, signer)
    ocsp.revoke(leaf.cert)
    report = verify_pdf(plain, trust_roots=[ocsp.root_path], fetch_revocation=True)
    assert "certificate-revoked" in report.codes, report.codes
    assert verify_pdf(long_term, trust_roots=[ocsp.root_path]).valid
