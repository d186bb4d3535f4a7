"""Signer, detached CMS/CAdES and RFC 3161 time-stamps, checked with openssl.

Every signature we make is verified by ``openssl cms -verify`` / ``openssl ts -verify``; the
broken cases (expired, not yet valid, no key usage, SHA-1, RSA-1024) are produced with
``openssl cms -sign`` so that our verifier is tested on signatures it did not make.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st
from pki import BROKEN_CERT_PROBLEMS, Credential, TestPki
from tsa import LocalTsa

from onestop_docs.errors import InvalidArgumentError, SignatureError, WeakCryptoError
from onestop_docs.signing import (
    PROBLEM_CODES,
    Signer,
    TimestampAuthority,
    request_timestamp,
    sign_cms,
    verify_cms,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

DATA = "Hồ sơ H27.01-250630-0001: giấy khai sinh, bản sao".encode() * 50
UTC = dt.UTC
_PEM = Encoding.PEM


@pytest.fixture(scope="module")
def other_pki() -> TestPki:
    return TestPki.create("Other")


@pytest.fixture(scope="module")
def ec_cred(pki: TestPki) -> Credential:
    return pki.issue("Nguyễn Thị Ánh", kind="ec")


@pytest.fixture(scope="module")
def rsa_cred(pki: TestPki) -> Credential:
    return pki.issue("Trần Văn Bình", kind="rsa", size=2048)


@pytest.fixture(scope="module")
def tsa(pki: TestPki, work: Path):
    with LocalTsa(pki, work) as server:
        yield server


def _signer(cred: Credential, work: Path, stem: str) -> Signer:
    key, cert = cred.write_pem(work, stem)
    return Signer.from_pem(key, cert)


def openssl_cms_verify(
    data: bytes, sig_der: bytes, root: Path, tmp: Path
) -> subprocess.CompletedProcess[str]:
    d, s = tmp / "content.bin", tmp / "sig.p7s"
    d.write_bytes(data)
    s.write_bytes(sig_der)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(s),
         "-content", str(d), "-CAfile", str(root), "-out", "/dev/null"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def openssl_cms_sign(cred: Credential, data: bytes, tmp: Path, md: str = "sha256") -> bytes:
    key, cert = cred.write_pem(tmp, f"ossl{cred.cert.serial_number % 997}")
    chain = tmp / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(_PEM) for c in cred.chain))
    d = tmp / "tosign.bin"
    d.write_bytes(data)
    extra = ["-certfile", str(chain)] if cred.chain else []
    out = subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-md", md, "-in", str(d), "-signer", str(cert),
         "-inkey", str(key), *extra, "-outform", "DER", "-nosmimecap"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout


# -- Signer -------------------------------------------------------------------------------


def test_from_pem_and_pkcs12_agree(ec_cred: Credential, work: Path) -> None:
    pem = _signer(ec_cred, work, "ec")
    p12 = Signer.from_pkcs12(ec_cred.write_p12(work / "ec.p12", "mật khẩu".encode()), "mật khẩu")
    assert pem.certificate == p12.certificate == ec_cred.cert
    assert p12.chain == (ec_cred.chain[0],)
    assert (pem.key_algorithm, pem.key_size) == ("ecdsa", 256)
    assert "Nguyễn Thị Ánh" in pem.subject


def test_pkcs12_wrong_password(ec_cred: Credential, work: Path) -> None:
    path = ec_cred.write_p12(work / "pw.p12", b"right")
    with pytest.raises(SignatureError, match=r"pw\.p12"):
        Signer.from_pkcs12(path, "wrong")


def test_key_certificate_mismatch(ec_cred: Credential, rsa_cred: Credential) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        Signer.from_key(rsa_cred.key, ec_cred.cert)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "size", "hash_alg", "pattern"),
    [
        ("rsa", 1024, None, "RSA-1024"),
        ("rsa", 1536, None, "RSA-1536"),
    ],
)
def test_weak_signer_refused(
    pki: TestPki, work: Path, kind: str, size: int, hash_alg, pattern: str
) -> None:
    cred = pki.issue("Weak", kind=kind, size=size, hash_algorithm=hash_alg)
    key, cert = cred.write_pem(work, f"weak{size}")
    with pytest.raises(WeakCryptoError, match=pattern):
        Signer.from_pem(key, cert)


def test_weak_ec_curve_refused(pki: TestPki) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP224R1())
    cred = pki.issue("P-224", key=key)
    with pytest.raises(WeakCryptoError, match="ECDSA-224"):
        Signer.from_key(key, cred.cert)


def test_weak_hash_refused(ec_cred: Credential, work: Path) -> None:
    signer = _signer(ec_cred, work, "ec")
    for name in ("sha1", "md5", "SHA-224"):
        with pytest.raises(WeakCryptoError):
            sign_cms(b"x", signer, hash_name=name)
        with pytest.raises(WeakCryptoError):
            signer.sign_bytes(b"x", name)


def test_sign_refuses_unusable_certificates(pki: TestPki) -> None:
    now = dt.datetime.now(UTC)
    expired = pki.issue(
        "Old", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
    )
    future = pki.issue("Future", not_before=now + dt.timedelta(days=2))
    no_ds = pki.issue("Enc", key_usage=("key_encipherment",), kind="rsa", size=2048)
    for cred, pattern in ((expired, "expired"), (future, "not valid before"), (no_ds, "key usage")):
        with pytest.raises(SignatureError, match=pattern):
            sign_cms(b"x", Signer.from_key(cred.key, cred.cert, cred.chain))


def test_raw_signature_verifies_with_cryptography(
    rsa_cred: Credential, ec_cred: Credential
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    rsa_signer = Signer.from_key(rsa_cred.key, rsa_cred.cert)
    sig = rsa_signer.sign_bytes(DATA, "sha384")
    rsa_cred.cert.public_key().verify(sig, DATA, padding.PKCS1v15(), hashes.SHA384())  # type: ignore[call-arg,union-attr]
    ec_signer = Signer.from_key(ec_cred.key, ec_cred.cert)
    ec_cred.cert.public_key().verify(ec_signer.sign_bytes(DATA), DATA, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]


# -- trust roots ----------------------------------------------------------------------------


def test_trust_roots_forms(pki: TestPki, ec_cred: Credential, work: Path, root_pem: Path) -> None:
    sig = sign_cms(DATA, _signer(ec_cred, work, "ec"))
    der = pki.write_root(work, der=True)
    for roots in (
        [root_pem],
        [der],
        [pki.root.cert],
        [str(root_pem)],
        root_pem,
        [pki.root.cert_pem()],
    ):
        assert verify_cms(DATA, sig, trust_roots=roots).valid  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="no default trust store"):
        verify_cms(DATA, sig, trust_roots=[])
    with pytest.raises(InvalidArgumentError, match="not a PEM or DER"):
        verify_cms(DATA, sig, trust_roots=[b"garbage"])


# -- CMS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_cms_openssl_accepts_ours(
    which: str, ec_cred, rsa_cred, work: Path, root_pem: Path, tmp_path: Path
) -> None:
    cred = ec_cred if which == "ec" else rsa_cred
    signer = _signer(cred, work, which)
    sig = sign_cms(DATA, signer)
    res = openssl_cms_verify(DATA, sig, root_pem, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Verification successful" in res.stderr
    # CAdES B-B: signing-certificate-v2 is a signed attribute.
    si = cms.ContentInfo.load(sig)["content"]["signer_infos"][0]
    names = {a["type"].native for a in si["signed_attrs"]}
    assert "signing_certificate_v2" in names
    assert si["digest_algorithm"]["algorithm"].native == "sha256"
    report = verify_cms(DATA, sig, trust_roots=[root_pem])
    assert report.valid and report.intact and report.trusted, report.problems
    assert report.signer_subject == cred.cert.subject.rfc4514_string()
    assert report.chain[0] == cred.cert.subject.rfc4514_string()
    assert report.chain[-1] == cred.chain[0].issuer.rfc4514_string()
    assert report.signing_time is not None and report.signing_time.utcoffset() == dt.timedelta(
        hours=7
    )
    assert abs(report.signing_time - dt.datetime.now(UTC)) < dt.timedelta(minutes=2)
    assert report.timestamp_time is None


def test_cms_file_input_and_pem_signature(ec_cred, work: Path, root_pem: Path) -> None:
    path = work / "tệp có dấu cách.pdf"
    path.write_bytes(DATA)
    sig = sign_cms(path, _signer(ec_cred, work, "ec"))
    assert verify_cms(path, sig, trust_roots=root_pem).valid
    import base64

    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(sig) + b"-----END CMS-----\n"
    assert verify_cms(DATA, pem, trust_roots=root_pem).valid
    (work / "sig.p7s").write_bytes(sig)
    assert verify_cms(DATA, work / "sig.p7s", trust_roots=root_pem).valid


def test_openssl_signature_verifies_with_ours(ec_cred, root_pem: Path, tmp_path: Path) -> None:
    sig = openssl_cms_sign(ec_cred, DATA, tmp_path)
    report = verify_cms(DATA, sig, trust_roots=[root_pem])
    assert report.valid, report.problems


@given(pos=st.integers(min_value=0, max_value=len(DATA) - 1), bit=st.integers(0, 7))
def test_cms_one_flipped_data_byte(pos: int, bit: int, _cms_fixture) -> None:
    sig, root = _cms_fixture
    data = bytearray(DATA)
    data[pos] ^= 1 << bit
    report = verify_cms(bytes(data), sig, trust_roots=[root])
    assert not report.valid and not report.intact
    assert report.codes == ("digest-mismatch",)


def _protected_spans(sig: bytes) -> list[tuple[int, int]]:
    """Byte ranges of a CMS signature that no flip may leave valid: the signed attributes,
    the signature value and the signer's certificate (its key verifies the signature)."""
    sd = cms.ContentInfo.load(sig)["content"]
    si = sd["signer_infos"][0]
    spans = []
    for part in (
        si["signed_attrs"].contents,
        si["signature"].contents,
        sd["certificates"][0].dump(),
    ):
        start = sig.find(part)
        assert start >= 0
        spans.append((start, start + len(part)))
    return spans


@given(pos=st.integers(min_value=0, max_value=10_000), bit=st.integers(0, 7))
def test_cms_one_flipped_signature_byte(pos: int, bit: int, _cms_fixture) -> None:
    sig, root = _cms_fixture
    mutated = bytearray(sig)
    pos %= len(mutated)
    mutated[pos] ^= 1 << bit
    report = verify_cms(DATA, bytes(mutated), trust_roots=[root])  # never raises
    for p in report.problems:
        assert p.code in PROBLEM_CODES
    if any(a <= pos < b for a, b in _protected_spans(sig)):
        assert not report.valid, (pos, report)


@pytest.fixture(scope="module")
def _cms_fixture(ec_cred, work: Path, root_pem: Path) -> tuple[bytes, Path]:
    return sign_cms(DATA, _signer(ec_cred, work, "ec")), root_pem


def test_cms_intermediates_for_a_leaf_only_signature(
    ec_cred, root_pem: Path, tmp_path: Path, pki: TestPki
) -> None:
    leaf_only = Credential(ec_cred.key, ec_cred.cert, [])
    sig = openssl_cms_sign(leaf_only, DATA, tmp_path)
    assert verify_cms(DATA, sig, trust_roots=[root_pem]).codes == ("untrusted-root",)
    report = verify_cms(DATA, sig, trust_roots=[root_pem], intermediates=[pki.intermediate.cert])
    assert report.valid, report.problems


def test_validation_time(pki: TestPki) -> None:
    now = dt.datetime.now(UTC)
    cred = pki.issue(
        "Soon", not_before=now - dt.timedelta(days=10), not_after=now + dt.timedelta(days=1)
    )
    sig = sign_cms(DATA, Signer.from_key(cred.key, cred.cert, cred.chain))
    assert verify_cms(DATA, sig, trust_roots=[pki.root.cert], at=now).valid
    later = verify_cms(DATA, sig, trust_roots=[pki.root.cert], at=now + dt.timedelta(days=3))
    assert later.intact and later.codes == ("certificate-expired",)


def test_cms_untrusted_root(ec_cred, work: Path, other_pki: TestPki) -> None:
    sig = sign_cms(DATA, _signer(ec_cred, work, "ec"))
    report = verify_cms(DATA, sig, trust_roots=[other_pki.root.cert])
    assert report.intact and not report.trusted and not report.valid
    assert report.codes == ("untrusted-root",)
    assert report.chain == ()


def test_cms_garbage_signature(root_pem: Path) -> None:
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"not a signature at all", bytes(100)):
        report = verify_cms(DATA, junk, trust_roots=[root_pem])
        assert not report.valid and report.codes == ("unreadable",)


@pytest.mark.parametrize(("case", "code"), [*BROKEN_CERT_PROBLEMS, ("sha1", "weak-hash")])
def test_cms_exact_problem(
    case: str, code: str, pki: TestPki, root_pem: Path, tmp_path: Path
) -> None:
    if case == "sha1":
        cred, md = pki.issue("Sha1"), "sha1"
    else:
        cred, md = pki.issue_broken(case), "sha256"
    sig = openssl_cms_sign(cred, DATA, tmp_path, md)
    report = verify_cms(DATA, sig, trust_roots=[root_pem])
    assert not report.valid
    assert code in report.codes, report.problems
    # Nothing else is blamed; the data is intact unless the hash itself is refused.
    assert report.codes == (code,), report.problems
    if case != "sha1":
        assert report.intact


def test_exception_report_names_a_weak_hash(ec_cred, tmp_path: Path) -> None:
    """pyHanko raises instead of reporting for some policies: the SignerInfo decides the code."""
    from onestop_docs.signing._analysis import exception_report

    def signer_info(md: str) -> object:
        sig = openssl_cms_sign(ec_cred, DATA, tmp_path, md)
        return cms.ContentInfo.load(sig)["content"]["signer_infos"][0]

    weak, strong = signer_info("sha1"), signer_info("sha256")
    exc = ValueError("refused")
    report = exception_report(exc, lambda: weak, "the signature")
    assert report.codes == ("weak-hash",) and "sha1" in report.problems[0].message
    assert exception_report(exc, lambda: strong, "the signature").codes == ("unreadable",)

    def unreadable() -> object:
        raise KeyError("signer_infos")

    report = exception_report(exc, unreadable, "signature 'Sig'")
    assert report.codes == ("unreadable",)
    assert report.problems[0].message == "signature 'Sig': ValueError: refused"


# -- RFC 3161 -------------------------------------------------------------------------------


def _tst_from_cms(sig: bytes) -> tuple[bytes, bytes]:
    """(time-stamp token DER, signature value) of the first SignerInfo."""
    si = cms.ContentInfo.load(sig)["content"]["signer_infos"][0]
    for attr in si["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0].dump(), si["signature"].native
    raise AssertionError("no signature time-stamp token")


def test_cms_b_t_with_local_tsa(
    ec_cred, work: Path, root_pem: Path, tsa: LocalTsa, tmp_path: Path
) -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    sig = sign_cms(
        DATA, _signer(ec_cred, work, "ec"), tsa=TimestampAuthority(tsa.url, timeout_s=20)
    )
    after = dt.datetime.now(UTC)
    assert openssl_cms_verify(DATA, sig, root_pem, tmp_path).returncode == 0
    token, signature_value = _tst_from_cms(sig)
    res = tsa.verify_token(token, signature_value)
    assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
    report = verify_cms(DATA, sig, trust_roots=[root_pem])
    assert report.valid, report.problems
    assert report.timestamp_time is not None
    assert (
        before - dt.timedelta(seconds=2) <= report.timestamp_time <= after + dt.timedelta(seconds=2)
    )
    assert report.timestamp_time.utcoffset() == dt.timedelta(hours=7)


def test_cms_b_t_untrusted_tsa(
    ec_cred, work: Path, root_pem: Path, tsa: LocalTsa, other_pki: TestPki
) -> None:
    sig = sign_cms(DATA, _signer(ec_cred, work, "ec"), tsa=tsa.url)
    report = verify_cms(DATA, sig, trust_roots=[root_pem], tsa_trust_roots=[other_pki.root.cert])
    assert report.intact and report.trusted and not report.valid
    assert report.codes == ("timestamp-untrusted",)


def test_cms_b_t_tampered_token(ec_cred, work: Path, root_pem: Path, tsa: LocalTsa) -> None:
    """The time-stamp is an unsigned attribute: altering it leaves the signature intact
    but must be reported as an invalid time-stamp, not silently accepted."""
    sig = sign_cms(DATA, _signer(ec_cred, work, "ec"), tsa=tsa.url)
    token, _ = _tst_from_cms(sig)
    tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
    gen_time = tst_info.parsed["gen_time"].dump()
    start = sig.index(gen_time)
    mutated = bytearray(sig)
    mutated[start + 5] = ord("0") + (mutated[start + 5] - ord("0") + 1) % 10  # another year
    report = verify_cms(DATA, bytes(mutated), trust_roots=[root_pem])
    assert report.intact and report.trusted and not report.valid
    assert report.codes == ("timestamp-invalid",)
    assert report.timestamp_time is None


def test_demo_pki_is_labelled_and_openssl_verifies(tmp_path: Path) -> None:
    from cryptography import x509

    from onestop_docs.signing import DEMO_LABEL, demo_pki

    pki = demo_pki(tmp_path / "demo")
    certs = x509.load_pem_x509_certificates(
        pki.root_cert_path.read_bytes() + pki.intermediate_cert_path.read_bytes()
    )
    for signer in (pki.officer_signer, pki.organisation_signer):
        certs.append(signer.certificate)
        reloaded = Signer.from_pkcs12(
            pki.officer_p12_path if signer is pki.officer_signer else pki.organisation_p12_path,
            pki.password,
        )
        assert reloaded.certificate == signer.certificate
        sig = sign_cms(DATA, reloaded)
        res = openssl_cms_verify(DATA, sig, pki.root_cert_path, tmp_path)
        assert res.returncode == 0, res.stderr
    for cert in certs:
        assert DEMO_LABEL in cert.subject.rfc4514_string()
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "demo-issuing-ca.pem", "demo-officer.p12", "demo-organisation.p12", "demo-root.pem",
    ]  # fmt: skip


def test_request_timestamp_openssl_verifies(tsa: LocalTsa, tmp_path: Path) -> None:
    token = request_timestamp(DATA, tsa.url)
    assert abs(token.time - dt.datetime.now(UTC)) < dt.timedelta(minutes=1)
    res = tsa.verify_token(token.der, DATA)
    assert res.returncode == 0, res.stdout + res.stderr


def test_request_timestamp_unreachable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SignatureError, match="time-stamp"):
        request_timestamp(b"x", TimestampAuthority(f"http://127.0.0.1:{port}/tsa", timeout_s=2))
    with pytest.raises(InvalidArgumentError):
        TimestampAuthority("file:///etc/passwd")


# -- extra ----------------------------------------------------------------------------------


def test_missing_extra_names_it() -> None:
    code = (
        "import sys; sys.modules['signxml'] = None\n"
        "from onestop_docs.errors import MissingDependencyError\n"
        "try:\n    import onestop_docs.signing\n"
        "except MissingDependencyError as e:\n    print('MDE', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "MDE" in out.stdout and "onestop_docs[sign]" in out.stdout, out.stdout + out.stderr
