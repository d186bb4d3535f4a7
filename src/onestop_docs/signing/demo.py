"""A throwaway demonstration PKI — DEMO — NOT FOR PRODUCTION.

:func:`demo_pki` creates, in a directory of the caller's choice, a root CA, an issuing CA and two
signers (a scanning officer and an organisation) whose names all say "DEMO — NOT FOR
PRODUCTION", so that the pipeline's ``--demo-pki`` mode and the documentation examples can sign
and verify without a real token.  Nothing here is trusted by anything but the caller who passes
``root_cert_path`` as a trust root.  Never use these keys for real records.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .._fileutil import atomic_write_bytes
from .signer import Signer

__all__ = ["DEMO_LABEL", "DemoPki", "demo_pki"]

#: Marker placed in every demo certificate's organisation and common names.
DEMO_LABEL = "DEMO — NOT FOR PRODUCTION"


@dataclass(frozen=True)
class DemoPki:
    """Paths and signers of a demo PKI made by :func:`demo_pki`.

    Attributes
    ----------
    root_cert_path : Path
        The demo root certificate (PEM); pass it as ``trust_roots``.
    intermediate_cert_path : Path
        The demo issuing CA (PEM).
    officer_signer, organisation_signer : Signer
        In-memory signers for the scanning officer and the agency.
    officer_p12_path, organisation_p12_path : Path
        The same keys as PKCS#12 files, protected with ``password``.
    password : str
        Password of the PKCS#12 files (printed on purpose: this is a demo).
    """

    root_cert_path: Path
    intermediate_cert_path: Path
    officer_signer: Signer
    organisation_signer: Signer
    officer_p12_path: Path
    organisation_p12_path: Path
    password: str


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"onestop_docs {DEMO_LABEL}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{cn} ({DEMO_LABEL})"),
        ]
    )


def _new_key() -> rsa.RSAPrivateKey:
    # RSA-2048 like the VGCA/NEAC tokens officials use; an ECDSA signature makes pyHanko
    # raise the PDF version to 2.0, which breaks PDF/A-2 (a PDF 1.7 profile).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    days: int,
    path_length: int | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    ku = x509.KeyUsage(
        digital_signature=True,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(ku, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _existing(out: Path, password: str) -> DemoPki | None:
    """The demo PKI already in ``out``, if complete, readable and valid for another day."""
    root_path, ca_path = out / "demo-root.pem", out / "demo-issuing-ca.pem"
    p12s = out / "demo-officer.p12", out / "demo-organisation.p12"
    if not all(p.is_file() for p in (root_path, ca_path, *p12s)):
        return None
    try:
        signers = [Signer.from_pkcs12(p, password) for p in p12s]
        root = x509.load_pem_x509_certificate(root_path.read_bytes())
    except Exception:  # damaged or another password: make a new one
        return None
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    if any(c.not_valid_after_utc < soon for c in (root, *(s.certificate for s in signers))):
        return None
    return DemoPki(root_path, ca_path, signers[0], signers[1], p12s[0], p12s[1], password)


def demo_pki(
    directory: str | os.PathLike[str], *, password: str = "demo", reuse: bool = False
) -> DemoPki:
    """Create a demo root → issuing CA → {officer, organisation} PKI in ``directory``.

    With ``reuse=True`` a complete demo PKI already in ``directory`` (still valid for a day)
    is loaded instead, so records signed by earlier runs keep verifying against its root.

    Keys are RSA-2048 (PDF/A-friendly, see _new_key), certificates SHA-256, valid for 30 days.  Files written (atomically):
    ``demo-root.pem``, ``demo-issuing-ca.pem``, ``demo-officer.p12``, ``demo-organisation.p12``.

    Examples
    --------
    >>> import tempfile
    >>> pki = demo_pki(tempfile.mkdtemp())
    >>> "NOT FOR PRODUCTION" in pki.officer_signer.subject
    True

    Raises
    ------
    OSError
        If ``directory`` cannot be created or written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if reuse:
        found = _existing(out, password)
        if found is not None:
            return found
    root_key = _new_key()
    root_name = _name("Demo Root CA")
    # The root certifies one CA level below it (pathLen 1); the issuing CA only leaves.
    root = _cert(root_name, root_key, root_name, root_key, ca=True, days=60, path_length=1)
    ca_key = _new_key()
    ca_name = _name("Demo Issuing CA")
    ca = _cert(ca_name, ca_key, root_name, root_key, ca=True, days=45, path_length=0)
    pem = serialization.Encoding.PEM
    root_path, ca_path = out / "demo-root.pem", out / "demo-issuing-ca.pem"
    atomic_write_bytes(root_path, root.public_bytes(pem))
    atomic_write_bytes(ca_path, ca.public_bytes(pem))
    signers: list[Signer] = []
    p12_paths: list[Path] = []
    for stem, cn in (("officer", "Cán bộ số hóa"), ("organisation", "Bộ phận Một cửa")):
        key = _new_key()
        cert = _cert(_name(cn), key, ca_name, ca_key, ca=False, days=30)
        p12 = out / f"demo-{stem}.p12"
        atomic_write_bytes(
            p12,
            pkcs12.serialize_key_and_certificates(
                stem.encode(),
                key,
                cert,
                [ca],
                serialization.BestAvailableEncryption(password.encode()),
            ),
            private=True,
        )
        signers.append(Signer.from_key(key, cert, [ca]))
        p12_paths.append(p12)
    return DemoPki(
        root_cert_path=root_path,
        intermediate_cert_path=ca_path,
        officer_signer=signers[0],
        organisation_signer=signers[1],
        officer_p12_path=p12_paths[0],
        organisation_p12_path=p12_paths[1],
        password=password,
    )
