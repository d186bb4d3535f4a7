"""Signing through PKCS#11 with a real SoftHSM2 token created in a temporary directory.

The keys are imported with ``softhsm2-util`` and the certificates stored with python-pkcs11;
the Signer then only holds a session handle, and every signature is checked by openssl,
pdfsig or xmlsec1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from PIL import Image
from pki import Credential, TestPki
from test_signing import openssl_cms_verify
from test_signing_xml import xmlsec_verify

from onestop_docs.errors import SignatureError
from onestop_docs.signing import Signer, sign_cms, sign_pdf, sign_xml, verify_cms, verify_pdf

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
LABEL = "onestop-test"
PIN, SO_PIN = "123456", "65432178"

pytestmark = pytest.mark.skipif(
    not MODULE.exists() or shutil.which("softhsm2-util") is None,
    reason="needs SoftHSM2 (Debian softhsm2)",
)
pkcs11 = pytest.importorskip("pkcs11")


@pytest.fixture(scope="module")
def creds(pki: TestPki) -> dict[str, Credential]:
    return {
        "ec": pki.issue("Lê Văn Cường (token)", kind="ec"),
        "rsa": pki.issue("Phạm Thị Dung (token)", kind="rsa", size=2048),
    }


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory, creds: dict[str, Credential]):
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("SOFTHSM2_CONF", str(conf))
    env = dict(os.environ)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    attr = pkcs11.Attribute
    for i, (kind, cred) in enumerate(sorted(creds.items()), start=1):
        key_path, _ = cred.write_pem(d, kind)
        subprocess.run(
            ["softhsm2-util", "--import", str(key_path), "--token", LABEL, "--label", f"key-{kind}",
             "--id", f"{i:02x}", "--pin", PIN],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key_path.unlink()  # the key now lives only on the token
    lib = pkcs11.lib(str(MODULE))
    with lib.get_token(token_label=LABEL).open(rw=True, user_pin=PIN) as session:
        for i, (kind, cred) in enumerate(sorted(creds.items()), start=1):
            from cryptography.hazmat.primitives.serialization import Encoding

            session.create_object(
                {
                    attr.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                    attr.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    attr.TOKEN: True,
                    attr.LABEL: f"cert-{kind}",
                    attr.ID: bytes([i]),
                    attr.VALUE: cred.cert.public_bytes(Encoding.DER),
                    attr.SUBJECT: cred.cert.subject.public_bytes(),
                    attr.ISSUER: cred.cert.issuer.public_bytes(),
                }
            )
    yield d
    mp.undo()


def _token_signer(kind: str, creds: dict[str, Credential]) -> Signer:
    return Signer.from_pkcs11(
        MODULE, token_label=LABEL, pin=PIN, key_label=f"key-{kind}", chain=creds[kind].chain
    )


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_token_cms_openssl(kind: str, token: Path, creds, root_pem: Path, tmp_path: Path) -> None:
    with _token_signer(kind, creds) as signer:
        assert signer.certificate == creds[kind].cert  # read from the token by CKA_ID
        assert signer.origin == f"pkcs11:{LABEL}"
        data = "Biên nhận hồ sơ".encode() * 100
        sig = sign_cms(data, signer)
    res = openssl_cms_verify(data, sig, root_pem, tmp_path)
    assert res.returncode == 0, res.stderr
    assert verify_cms(data, sig, trust_roots=[root_pem]).valid


def test_token_pdf_and_xml(token: Path, creds, root_pem: Path, tmp_path: Path) -> None:
    src = tmp_path / "scan.pdf"
    Image.new("RGB", (420, 595), "white").save(src, "PDF", resolution=72)
    with _token_signer("ec", creds) as officer, _token_signer("rsa", creds) as agency:
        sign_pdf(src, tmp_path / "a.pdf", officer)
        sign_pdf(
            tmp_path / "a.pdf",
            tmp_path / "b.pdf",
            agency,
            role="organisation",
            agency_name="UBND phường Bến Thành",
        )
        xml = sign_xml(b"<HoSo><Ma>H56.14-250630-0007</Ma></HoSo>", agency)
    out = subprocess.run(
        ["pdfsig", "-nocert", str(tmp_path / "b.pdf")], capture_output=True, text=True, timeout=60
    ).stdout
    assert out.count("Signature Validation: Signature is Valid.") == 2, out
    assert verify_pdf(tmp_path / "b.pdf", trust_roots=[root_pem]).valid
    res = xmlsec_verify(xml, root_pem, tmp_path)
    assert res.returncode == 0, res.stderr


def test_token_errors(token: Path, creds) -> None:
    with pytest.raises(SignatureError, match="cannot open PKCS#11 token"):
        Signer.from_pkcs11(MODULE, token_label=LABEL, pin="000000", key_label="key-ec")
    with _token_signer("ec", creds):
        # The open, logged-in session is shared, but never without the right PIN.
        with pytest.raises(SignatureError, match="wrong PIN"):
            Signer.from_pkcs11(MODULE, token_label=LABEL, pin="000000", key_label="key-rsa")
        with Signer.from_pkcs11(MODULE, token_label=LABEL, pin=PIN, key_label="key-rsa") as second:
            assert second.key_algorithm == "rsa"
    with pytest.raises(SignatureError, match="found 2"):
        Signer.from_pkcs11(MODULE, token_label=LABEL, pin=PIN)
    with pytest.raises(SignatureError, match="found 0"):
        Signer.from_pkcs11(MODULE, token_label=LABEL, pin=PIN, key_label="nope")


def test_token_signer_is_thread_safe(token: Path, creds, pki: TestPki) -> None:
    signer = _token_signer("ec", creds)
    results: list[bool] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            data = f"hồ sơ {i}".encode()
            results.append(
                verify_cms(data, sign_cms(data, signer), trust_roots=[pki.root.cert]).valid
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    signer.close()
    assert not errors and results == [True] * 6
