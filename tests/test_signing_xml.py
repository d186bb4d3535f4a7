"""Enveloped XMLDSig: xmlsec1 accepts ours, ours accepts xmlsec1's, attacks are refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pki import BROKEN_CERT_PROBLEMS, Credential, TestPki
from signxml import XMLSigner
from signxml.algorithms import SignatureConstructionMethod

from onestop_docs.errors import MetadataError
from onestop_docs.signing import PROBLEM_CODES, Signer, sign_xml, verify_xml

pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="needs xmlsec1")

DOC = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<HoSo xmlns="urn:onestop:metadata" xmlns:x="urn:extra">\n'
    "  <MaHoSo>H27.01-250630-0001</MaHoSo>\n"
    "  <TenGiayTo>Giấy khai sinh — bản sao</TenGiayTo>\n"
    '  <x:SoTrang so="2">hai</x:SoTrang>\n'
    "</HoSo>"
).encode()


def c14n(xml: bytes) -> bytes:
    """Canonical form (lxml's C14N 1.0) of a document, for comparing content."""
    return etree.tostring(etree.fromstring(xml), method="c14n")


@pytest.fixture(scope="module")
def ec_cred(pki: TestPki) -> Credential:
    return pki.issue("Văn thư", kind="ec")


@pytest.fixture(scope="module")
def signed(ec_cred: Credential) -> bytes:
    return sign_xml(DOC, Signer.from_key(ec_cred.key, ec_cred.cert, ec_cred.chain))


def xmlsec_verify(xml: bytes, root: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "to-verify.xml"
    path.write_bytes(xml)
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(root), str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<HoSo xmlns="urn:onestop:metadata"><MaHoSo>H27.01-250630-0002</MaHoSo><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="{sig}"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms><DigestMethod Algorithm="{digest}"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></HoSo>"""
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


def xmlsec_sign(
    cred: Credential,
    tmp: Path,
    sig: str = RSA_SHA256,
    digest: str = SHA256,
    *,
    embed_chain: bool = True,
) -> bytes:
    """Sign the template with xmlsec1; ``embed_chain=False`` puts only the leaf in KeyInfo."""
    key, cert = cred.write_pem(tmp, "xmlsec")
    pems = [key, cert]
    if embed_chain:
        inter = tmp / "xmlsec-inter.pem"
        inter.write_bytes(cred.chain[0].public_bytes(Encoding.PEM))
        pems.append(inter)
    else:
        cert.write_bytes(cred.cert_pem())  # leaf without chain
    tmpl = tmp / "tmpl.xml"
    tmpl.write_text(_TEMPLATE.format(sig=sig, digest=digest), encoding="utf-8")
    out = tmp / "xmlsec-signed.xml"
    subprocess.run(
        ["xmlsec1", "--sign", "--privkey-pem", ",".join(map(str, pems)), "--output", str(out), str(tmpl)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return out.read_bytes()


# -- interoperability -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_xmlsec1_accepts_ours(kind: str, pki: TestPki, root_pem: Path, tmp_path: Path) -> None:
    cred = pki.issue(f"Ký {kind}", kind=kind, size=2048 if kind == "rsa" else 256)
    signed = sign_xml(DOC, Signer.from_key(cred.key, cred.cert, cred.chain))
    res = xmlsec_verify(signed, root_pem, tmp_path)
    assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stderr
    report = verify_xml(signed, trust_roots=[root_pem])
    assert report.valid and report.intact and report.trusted, report.problems
    assert report.signer_subject == cred.cert.subject.rfc4514_string()
    assert report.chain[-1] == pki.root.cert.subject.rfc4514_string()
    assert report.signed_content is not None
    assert c14n(report.signed_content) == c14n(DOC)


def test_ours_accepts_xmlsec1(pki: TestPki, root_pem: Path, tmp_path: Path) -> None:
    cred = pki.issue("xmlsec signer", kind="rsa", size=2048)
    signed = xmlsec_sign(cred, tmp_path)
    report = verify_xml(signed, trust_roots=[root_pem])
    assert report.valid, report.problems
    assert b"H27.01-250630-0002" in (report.signed_content or b"")
    assert b"Signature" not in (report.signed_content or b"")


C14N_METHODS = {
    "c14n-1.0": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "c14n-1.1": "http://www.w3.org/2006/12/xml-c14n11",
    "exc-c14n": "http://www.w3.org/2001/10/xml-exc-c14n#",
}

_DOC_UNDER_DEFAULT_NS = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="urn:envelope" xmlns:x="urn:extra"><Data x:so="1">Hello, World!</Data>\
<{p}Signature xmlns{colon}{prefix}="http://www.w3.org/2000/09/xmldsig#"><{p}SignedInfo>\
<{p}CanonicalizationMethod Algorithm="{c14n}"/>\
<{p}SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>\
<{p}Reference URI=""><{p}Transforms>\
<{p}Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>\
<{p}Transform Algorithm="{c14n}"/></{p}Transforms>\
<{p}DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><{p}DigestValue/>\
</{p}Reference></{p}SignedInfo><{p}SignatureValue/><{p}KeyInfo><{p}X509Data/></{p}KeyInfo>\
</{p}Signature></Envelope>"""


@pytest.mark.parametrize("prefix", ["", "ds"])
@pytest.mark.parametrize("c14n", sorted(C14N_METHODS))
def test_xmlsec1_enveloped_signature_with_and_without_prefix(
    prefix: str, c14n: str, pki: TestPki, root_pem: Path, tmp_path: Path
) -> None:
    """Regression (issue 16): the unprefixed ``<Signature xmlns="...xmldsig#">`` form, as
    xmlsec1 and many Vietnamese signing tools write it, under a default namespace, was
    rejected as ``signature-invalid`` with inclusive C14N: libxml2 wrote a stray ``xmlns=""``
    into the canonical SignedInfo."""
    cred = pki.issue("xmlsec c14n", kind="rsa", size=2048)
    key, cert = cred.write_pem(tmp_path, "c14n")
    inter = tmp_path / "c14n-inter.pem"
    inter.write_bytes(cred.chain[0].public_bytes(Encoding.PEM))
    tmpl = tmp_path / "tmpl.xml"
    tmpl.write_text(
        _DOC_UNDER_DEFAULT_NS.format(
            p=f"{prefix}:" if prefix else "",
            colon=":" if prefix else "",
            prefix=prefix,
            c14n=C14N_METHODS[c14n],
        ),
        encoding="utf-8",
    )
    out = tmp_path / "signed.xml"
    subprocess.run(
        ["xmlsec1", "--sign", "--privkey-pem", f"{key},{cert},{inter}", "--output", str(out), str(tmpl)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    signed = out.read_bytes()
    assert xmlsec_verify(signed, root_pem, tmp_path).returncode == 0  # the reference agrees
    report = verify_xml(signed, trust_roots=[root_pem])
    assert report.valid, report.problems
    assert b"Hello, World!" in (report.signed_content or b"")
    # and one changed character is still caught
    forged = signed.replace(b"Hello, World!", b"Hello, World?")
    assert xmlsec_verify(forged, root_pem, tmp_path).returncode != 0
    assert verify_xml(forged, trust_roots=[root_pem]).codes == ("digest-mismatch",)


def test_missing_chain_needs_intermediates(pki: TestPki, root_pem: Path, tmp_path: Path) -> None:
    """A signature that embeds only the leaf verifies once the caller offers the issuing CA
    (as an untrusted intermediate, not as a trust root)."""
    cred = pki.issue("leaf only", kind="rsa", size=2048)
    signed = xmlsec_sign(cred, tmp_path, embed_chain=False)
    assert verify_xml(signed, trust_roots=[root_pem]).codes == ("untrusted-root",)
    report = verify_xml(signed, trust_roots=[root_pem], intermediates=[pki.intermediate.cert])
    assert report.valid, report.problems
    assert len(report.chain) == 3


def test_signed_content_excludes_signature_and_keeps_text(signed: bytes, root_pem: Path) -> None:
    report = verify_xml(signed, trust_roots=[root_pem])
    content = report.signed_content or b""
    assert "Giấy khai sinh — bản sao".encode() in content
    assert b"xmldsig" not in content


# -- tampering and trust --------------------------------------------------------------------


def test_tampered_text_is_digest_mismatch(signed: bytes, root_pem: Path, tmp_path: Path) -> None:
    bad = signed.replace(b"H27.01-250630-0001", b"H27.01-250630-0009")
    assert xmlsec_verify(bad, root_pem, tmp_path).returncode != 0
    report = verify_xml(bad, trust_roots=[root_pem])
    assert not report.valid and report.signed_content is None
    assert report.codes == ("digest-mismatch",)


def test_tampered_signature_value(signed: bytes, root_pem: Path) -> None:
    tree = etree.fromstring(signed)
    sv = tree.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    text = sv.text.strip()
    sv.text = ("B" if text[5] != "B" else "C").join([text[:5], text[6:]])
    report = verify_xml(etree.tostring(tree), trust_roots=[root_pem])
    assert report.codes == ("signature-invalid",)


@settings(max_examples=40)
@given(frac=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_flipped_byte_never_raises_and_never_lies(
    frac: float, bit: int, signed: bytes, root_pem: Path
) -> None:
    data = bytearray(signed)
    data[int(frac * len(data))] ^= 1 << bit
    report = verify_xml(bytes(data), trust_roots=[root_pem])
    assert all(p.code in PROBLEM_CODES for p in report.problems)
    if report.valid:
        # Only bytes outside the signed content can change without detection.
        assert report.signed_content is not None
        assert c14n(report.signed_content) == c14n(DOC)


def test_untrusted_root(signed: bytes) -> None:
    report = verify_xml(signed, trust_roots=[TestPki.create("Stranger").root.cert])
    assert report.intact and not report.trusted and not report.valid
    assert report.codes == ("untrusted-root",)
    assert report.signed_content is None


def _signxml_sign(cred: Credential, xml: bytes = DOC, **kwargs) -> bytes:
    """Sign with signxml directly, bypassing our refusals, to test the verifier."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    alg = "rsa-sha256" if isinstance(cred.key, rsa.RSAPrivateKey) else "ecdsa-sha256"
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm=alg)
    root = etree.fromstring(xml)
    out = signer.sign(root, key=cred.key, cert=[cred.cert, *cred.chain], **kwargs)
    return etree.tostring(out)


@pytest.mark.parametrize(("case", "code"), BROKEN_CERT_PROBLEMS)
def test_exact_problem(case: str, code: str, pki: TestPki, root_pem: Path) -> None:
    report = verify_xml(_signxml_sign(pki.issue_broken(case)), trust_roots=[root_pem])
    assert not report.valid and report.signed_content is None
    assert report.codes == (code,), report.problems


def test_sha1_is_weak_hash(pki: TestPki, root_pem: Path, tmp_path: Path) -> None:
    cred = pki.issue("Sha1 xmlsec", kind="rsa", size=2048)
    signed = xmlsec_sign(cred, tmp_path, sig=RSA_SHA1, digest=SHA1)
    report = verify_xml(signed, trust_roots=[root_pem])
    assert not report.valid
    assert set(report.codes) == {"weak-hash"}, report.problems


def test_unpinned_algorithm(signed: bytes, root_pem: Path) -> None:
    bad = signed.replace(
        b"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        b"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    )
    assert bad != signed
    assert verify_xml(bad, trust_roots=[root_pem]).codes == ("xml-algorithm",)


# -- XML attacks ----------------------------------------------------------------------------

ID_DOC = b'<HoSo xmlns="urn:onestop:metadata" Id="hoso"><MaHoSo>H27.01-250630-0003</MaHoSo></HoSo>'


def test_reference_to_root_id_is_accepted(ec_cred: Credential, root_pem: Path) -> None:
    signed = _signxml_sign(ec_cred, ID_DOC, reference_uri="#hoso")
    report = verify_xml(signed, trust_roots=[root_pem])
    assert report.valid, report.problems


def test_wrapping_duplicate_id(ec_cred: Credential, root_pem: Path) -> None:
    signed = _signxml_sign(ec_cred, ID_DOC, reference_uri="#hoso")
    tree = etree.fromstring(signed)
    fake = etree.SubElement(tree, "{urn:onestop:metadata}MaHoSo", Id="hoso")
    fake.text = "H27.01-250630-9999"
    tree.insert(0, fake)
    report = verify_xml(etree.tostring(tree), trust_roots=[root_pem])
    assert not report.valid and report.signed_content is None
    assert "xml-wrapping" in report.codes


def test_wrapping_moved_signed_element(ec_cred: Credential, root_pem: Path) -> None:
    signed = etree.fromstring(_signxml_sign(ec_cred, ID_DOC, reference_uri="#hoso"))
    evil = etree.Element("{urn:onestop:metadata}HoSo", Id="evil")
    etree.SubElement(evil, "{urn:onestop:metadata}MaHoSo").text = "H27.01-250630-6666"
    wrapper = etree.SubElement(evil, "{urn:onestop:metadata}Wrapper")
    sig = signed.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    wrapper.append(signed)
    evil.append(sig)
    report = verify_xml(etree.tostring(evil), trust_roots=[root_pem])
    assert not report.valid and report.codes == ("xml-wrapping",)


def test_two_signatures_rejected(signed: bytes, ec_cred: Credential, root_pem: Path) -> None:
    tree = etree.fromstring(signed)
    inner = etree.fromstring(_signxml_sign(ec_cred, b"<Phu>x</Phu>"))
    tree.insert(0, inner)
    assert verify_xml(etree.tostring(tree), trust_roots=[root_pem]).codes == ("xml-wrapping",)


ATTACKS = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b"]><lolz>&lol9;</lolz>"
    ),
    "external-dtd": b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
    "parameter-entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><r/>',
    "utf16": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r []><r/>'.encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_xml_refused(name: str, ec_cred: Credential, root_pem: Path) -> None:
    payload = ATTACKS[name]
    report = verify_xml(payload, trust_roots=[root_pem])
    assert not report.valid and report.codes == ("xml-forbidden-construct",)
    with pytest.raises(MetadataError):
        sign_xml(payload, Signer.from_key(ec_cred.key, ec_cred.cert, ec_cred.chain))


def test_doctype_added_to_signed_document(signed: bytes, root_pem: Path) -> None:
    body = signed.split(b"?>", 1)[1]
    bad = b'<?xml version="1.0"?><!DOCTYPE HoSo [<!ENTITY e "x">]>' + body
    assert verify_xml(bad, trust_roots=[root_pem]).codes == ("xml-forbidden-construct",)


def test_sign_xml_refuses_double_signing_and_garbage(
    signed: bytes, ec_cred: Credential, root_pem: Path
) -> None:
    signer = Signer.from_key(ec_cred.key, ec_cred.cert, ec_cred.chain)
    with pytest.raises(MetadataError, match="already"):
        sign_xml(signed, signer)
    with pytest.raises(MetadataError, match="well-formed"):
        sign_xml(b"<a><b></a>", signer)
    assert verify_xml(b"<a><b></a>", trust_roots=[root_pem]).codes == ("unreadable",)
    assert verify_xml(DOC, trust_roots=[root_pem]).codes == ("no-signature",)
