"""The record's metadata XML is signed as the document-exchange platforms sign edXML.

``digitize`` adds an enveloped XMLDSig signature by the organisation (regulations §5.2–5.3):
two independent verifiers, ``xmlsec1 --verify`` and signxml's own verifier, must accept it and
refuse it once an element is changed; ``verify`` must refuse a metadata XML that is unsigned,
damaged, or signed by a key other than the one that signed the PDF in that role.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lxml import etree

from onestop_docs.imageio import Page
from onestop_docs.integrity import TransparencyLog
from onestop_docs.integrity.statement import find_statement
from onestop_docs.metadata import from_xml, to_xml, validate_xml
from onestop_docs.pipeline import DigitizeOptions, digitize
from onestop_docs.signing import sign_xml
from onestop_docs.verify import verify_record

pytest.importorskip("pyhanko")
signxml = pytest.importorskip("signxml")
pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="needs xmlsec1")

DS = "http://www.w3.org/2000/09/xmldsig#"
CODE = "H27.01-210630-0009"


def _page() -> Page:
    img = np.full((1654, 1166, 3), 250, np.uint8)  # A5 at 200 dpi
    img[300:310, 100:900] = 20
    return Page(img, mode="RGB", dpi=(200.0, 200.0))


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from onestop_docs.signing import demo_pki

    base = tmp_path_factory.mktemp("xmlsig")
    pki = demo_pki(base / "pki")
    (base / "out").mkdir()
    with TransparencyLog(base / "out" / "transparency.log", origin="test station") as log:
        rec = digitize(
            [_page()],
            out_dir=base / "out",
            dossier_code=CODE,
            agency="H27.01",
            officer=pki.officer_signer,
            organisation=pki.organisation_signer,
            options=DigitizeOptions(ocr=False),
            log=log,
        )
        statement = find_statement(log, rec.record_id)
    assert statement is not None
    return {"pki": pki, "rec": rec, "statement": statement[1], "base": base}


def _xmlsec1(xml: bytes, root: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "signed.xml"
    path.write_bytes(xml)
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(root), str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _signxml(xml: bytes, root: Path) -> bytes:
    result = signxml.XMLVerifier().verify(xml, ca_pem_file=str(root))
    return bytes(etree.tostring(result.signed_xml, method="c14n"))


def _copy_record(station: dict[str, Any], tmp_path: Path) -> Path:
    dst = tmp_path / station["rec"].record_id
    shutil.copytree(station["rec"].directory, dst)
    return dst


def _check(station: dict[str, Any], directory: Path) -> tuple[str, ...]:
    return verify_record(
        directory,
        trust_roots=[station["pki"].root_cert_path],
        statement=station["statement"],
    ).problems


def test_form_is_that_of_the_exchange_platforms(station: dict[str, Any]) -> None:
    xml = station["rec"].xml_path.read_bytes()
    root = etree.fromstring(xml)
    sig = root[-1]
    assert sig.tag == f"{{{DS}}}Signature" and sig.prefix == "ds"
    assert len(root.findall(f".//{{{DS}}}Signature")) == 1
    algo = {el.tag.split("}")[1]: el.get("Algorithm") for el in sig.iter() if el.get("Algorithm")}
    assert algo["SignatureMethod"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert algo["DigestMethod"] == "http://www.w3.org/2001/04/xmlenc#sha256"
    assert algo["CanonicalizationMethod"] == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    (ref,) = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert ref.get("URI") == ""
    transforms = [t.get("Algorithm") for t in ref.iter(f"{{{DS}}}Transform")]
    assert transforms[0] == f"{DS}enveloped-signature"
    # The first certificate in KeyInfo/X509Data is the organisation's.
    b64 = sig.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate").text
    from base64 import b64decode

    from cryptography import x509

    cert = x509.load_der_x509_certificate(b64decode("".join(b64.split())))
    assert cert == station["pki"].organisation_signer.certificate
    # Still a valid record document, read as before.
    validate_xml(xml)
    meta = from_xml(xml)
    assert meta.dossier_code == CODE and meta.page_amount == 1


def test_xmlsec1_and_signxml_accept_it(station: dict[str, Any], tmp_path: Path) -> None:
    xml = station["rec"].xml_path.read_bytes()
    root = station["pki"].root_cert_path
    res = _xmlsec1(xml, root, tmp_path)
    assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stderr
    # signxml returns what it verified: the document without its signature.
    unsigned = etree.fromstring(xml)
    unsigned.remove(unsigned[-1])
    assert _signxml(xml, root) == etree.tostring(unsigned, method="c14n")
    assert _check(station, station["rec"].directory) == ()


def test_tampered_element_fails_everywhere(station: dict[str, Any], tmp_path: Path) -> None:
    xml = station["rec"].xml_path.read_bytes()
    forged = xml.replace(f"<DossierCode>{CODE}<".encode(), b"<DossierCode>H27.01-210630-0010<")
    assert forged != xml
    root = station["pki"].root_cert_path
    res = _xmlsec1(forged, root, tmp_path)
    assert res.returncode != 0, res.stdout
    with pytest.raises(signxml.exceptions.InvalidSignature):  # InvalidDigest is a subclass
        _signxml(forged, root)
    rec = _copy_record(station, tmp_path)
    (rec / "data" / f"{rec.name}.xml").write_bytes(forged)
    problems = " ".join(_check(station, rec))
    assert "XML signature: digest-mismatch" in problems


def test_unsigned_or_resigned_metadata_is_refused(station: dict[str, Any], tmp_path: Path) -> None:
    pki = station["pki"]
    meta = from_xml(station["rec"].xml_path.read_bytes())
    rec = _copy_record(station, tmp_path)
    xml_path = rec / "data" / f"{rec.name}.xml"
    # Signature stripped (the metadata regenerated without one).
    xml_path.write_bytes(to_xml(meta))
    assert any("not signed, but the record was logged" in p for p in _check(station, rec))
    # Re-signed by the officer: a trusted key, but not the organisation that signed the PDF.
    xml_path.write_bytes(sign_xml(to_xml(meta), pki.officer_signer))
    assert any("not by the organisation that signed the PDF" in p for p in _check(station, rec))
    # Re-signed by another station's organisation: untrusted.
    from onestop_docs.signing import demo_pki

    other = demo_pki(tmp_path / "other")
    xml_path.write_bytes(sign_xml(to_xml(meta), other.organisation_signer))
    assert any("XML signature: untrusted" in p for p in _check(station, rec))


def test_officer_signs_the_xml_without_an_organisation(
    station: dict[str, Any], tmp_path: Path
) -> None:
    from onestop_docs.signing.xml import signer_certificate

    pki = station["pki"]
    rec = digitize(
        [_page()],
        out_dir=tmp_path,
        dossier_code=CODE,
        agency="H27.01",
        officer=pki.officer_signer,
        options=DigitizeOptions(ocr=False),
    )
    assert signer_certificate(rec.xml_path.read_bytes()) == pki.officer_signer.certificate
    check = verify_record(rec.directory, trust_roots=[pki.root_cert_path])
    assert check.ok, check.problems


def test_schema_admits_only_one_xmldsig_element_last(station: dict[str, Any]) -> None:
    from onestop_docs.errors import MetadataError

    xml = station["rec"].xml_path.read_bytes()
    root = etree.fromstring(xml)
    sig = root[-1]
    for bad in (
        etree.Element("{urn:other}Signature"),  # another namespace
        etree.fromstring(etree.tostring(sig)),  # a second signature
    ):
        doc = etree.fromstring(xml)
        doc.append(bad)
        with pytest.raises(MetadataError, match="schema"):
            validate_xml(etree.tostring(doc))
    moved = etree.fromstring(xml)  # the signature before Software: not the last child
    moved.insert(len(moved) - 2, moved[-1])
    with pytest.raises(MetadataError, match="schema"):
        validate_xml(etree.tostring(moved))
