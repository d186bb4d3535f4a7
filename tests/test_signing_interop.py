"""Signatures made by other implementations verify (issue 16): pyHanko's PAdES B-LTA test files.

The PDFs and the root of pyHanko's testing CA are pyHanko's own test data
(``tests/data/pyhanko/``, MIT licence beside them).  pyHanko's test suite validates them at
2020-11-01 (``freeze_time``), so we do too.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

pytest.importorskip("pyhanko")

from onestop_docs.signing import PROBLEM_CODES, verify_pdf

DATA = Path(__file__).parent / "data" / "pyhanko"
ROOT = DATA / "root.cert.pem"
AT = dt.datetime(2020, 11, 1, tzinfo=dt.UTC)
LTA_FILES = ["pades-lta-dss-indirect-arrs-test.pdf", "pades-lta-dss-indirect-arrs-test-2.pdf"]


@pytest.mark.parametrize("name", LTA_FILES)
def test_pyhanko_b_lta_files_verify(name: str) -> None:
    report = verify_pdf(DATA / name, trust_roots=[ROOT], at=AT)
    assert report.valid, [str(p) for p in report.problems]
    # The document time-stamp field is not counted as a signature.
    assert len(report.signatures) == {LTA_FILES[0]: 1, LTA_FILES[1]: 2}[name]
    assert all(r.trusted for r in report.signatures)


def test_pyhanko_b_lta_file_under_another_root_is_untrusted(root_pem: Path) -> None:
    report = verify_pdf(DATA / LTA_FILES[0], trust_roots=[root_pem], at=AT)
    assert not report.valid
    assert "untrusted-root" in report.codes
    assert "timestamp-untrusted" in report.codes  # the document time-stamp is judged too


def test_unsigned_change_after_the_document_timestamp_is_found(tmp_path: Path) -> None:
    """A revision after the document time-stamp that is not a long-term update (it changes
    a page) is still an unsigned change: the long-term exception does not open a hole."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    src = DATA / LTA_FILES[0]
    out = tmp_path / "edited.pdf"
    with src.open("rb") as fh:
        w = IncrementalPdfFileWriter(fh, strict=False)
        page = w.root["/Pages"]["/Kids"][0].get_object()
        content = generic.StreamObject(stream_data=b"q 1 0 0 rg 0 0 200 200 re f Q")
        page["/Contents"] = w.add_object(content)
        w.update_container(page)
        with out.open("wb") as dst:
            w.write(dst)
    report = verify_pdf(out, trust_roots=[ROOT], at=AT)
    assert not report.valid
    assert {"modified-after-signing", "unsigned-changes"} & set(report.codes)


def test_flipped_byte_in_the_document_timestamp_is_found(tmp_path: Path) -> None:
    data = bytearray((DATA / LTA_FILES[0]).read_bytes())
    # The document time-stamp's /Contents is the last hex string of the file.
    start = data.rindex(b"/Contents <") + len(b"/Contents <") + 200
    data[start] = ord("0") if data[start] != ord("0") else ord("1")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    report = verify_pdf(bad, trust_roots=[ROOT], at=AT)
    assert not report.valid


def test_every_problem_code_in_the_source_is_documented() -> None:
    src = Path(__file__).parents[1] / "src" / "onestop_docs" / "signing"
    text = "".join(p.read_text(encoding="utf-8") for p in src.glob("*.py"))
    used = set(re.findall(r'(?:Problem|failed)\(\s*"([a-z0-9-]+)"', text))
    assert used, "the pattern found no codes"
    assert used <= set(PROBLEM_CODES), used - set(PROBLEM_CODES)
    docs = (Path(__file__).parents[1] / "docs" / "signing.md").read_text(encoding="utf-8")
    assert all(f"`{code}`" in docs for code in PROBLEM_CODES), [
        c for c in PROBLEM_CODES if f"`{c}`" not in docs
    ]


@pytest.mark.parametrize("name", LTA_FILES)
def test_bytes_appended_to_a_b_lta_file_are_unsigned_changes(name: str, tmp_path: Path) -> None:
    bad = tmp_path / name
    bad.write_bytes((DATA / name).read_bytes() + b"\n% appended after the last revision\n")
    report = verify_pdf(bad, trust_roots=[ROOT], at=AT)
    assert not report.valid and "unsigned-changes" in report.codes


@pytest.mark.parametrize("algorithm", ["ed25519", "ed448"])
def test_eddsa_is_judged_by_the_policy_with_an_accurate_label(algorithm: str, pki) -> None:
    """Regression: an Ed448 signature was labelled ``weak-hash`` (SHAKE256) and ``weak-key``.
    EdDSA is strong but not in TT 15/2025's list: one exact code says so."""
    import asyncio

    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    from onestop_docs.signing import verify_cms

    key = ed25519.Ed25519PrivateKey.generate() if algorithm == "ed25519" else None
    key = key or ed448.Ed448PrivateKey.generate()
    cred = pki.issue(f"{algorithm} signer", key=key)
    digest = "sha512" if algorithm == "ed25519" else "shake256"
    cms = asyncio.run(
        cred.pyhanko_signer().async_sign_general_data(b"payload", digest, detached=True)
    )
    report = verify_cms(b"payload", cms.dump(), trust_roots=[pki.root.cert])
    assert report.intact and report.trusted
    assert report.codes == ("algorithm-not-allowed",)
    assert algorithm.capitalize() in report.problems[0].message
    assert not verify_cms(b"payload!", cms.dump(), trust_roots=[pki.root.cert]).intact


# -- XMLDSig: xmlsec1's enveloped RSA-SHA256 interop samples, as kept in signxml's test data --

SIGNXML = Path(__file__).parent / "data" / "signxml"
ENVELOPED = sorted(SIGNXML.glob("enveloped-sha256-rsa-sha256-test-*.xml"))


def test_the_xmldsig_samples_are_there() -> None:
    assert len(ENVELOPED) == 8


@pytest.mark.parametrize("sample", ENVELOPED, ids=lambda p: p.stem)
def test_xmlsec_enveloped_samples_verify(sample: Path, tmp_path: Path) -> None:
    """Regression: these unprefixed ``<Signature xmlns="...xmldsig#">`` samples were rejected
    as ``signature-invalid`` (a stray ``xmlns=""`` in the canonical SignedInfo)."""
    import shutil
    import subprocess

    from onestop_docs.signing import verify_xml

    data = sample.read_bytes()
    report = verify_xml(data, trust_roots=[SIGNXML / "cacert.pem"])
    assert report.valid, [str(p) for p in report.problems]
    assert b"Signature" not in (report.signed_content or b"Signature")
    if shutil.which("xmlsec1"):  # the reference implementation agrees
        res = subprocess.run(
            ["xmlsec1", "--verify", "--id-attr:ID", "parent",
             "--trusted-pem", str(SIGNXML / "cacert.pem"), str(sample)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
    forged = data.replace(b'sibling ID="', b'sibling ID="x', 1)  # rename a sibling's Id
    assert forged != data
    assert verify_xml(forged, trust_roots=[SIGNXML / "cacert.pem"]).codes == ("digest-mismatch",)


def test_xmlsec_sample_with_a_broken_transform_is_refused() -> None:
    from onestop_docs.signing import verify_xml

    data = (SIGNXML / "invalid_enveloped_transform.xml").read_bytes()
    assert not verify_xml(data, trust_roots=[SIGNXML / "cacert.pem"]).valid
