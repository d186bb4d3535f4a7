"""A throwaway test PKI (root → intermediate → leaf) built with pyca/cryptography.

Reusable by every test that needs certificates: signers (digitalSignature + nonRepudiation),
RFC 3161 time-stamping units (critical extendedKeyUsage timeStamping) and deliberately broken
leaves (expired, not yet valid, no digitalSignature key usage, SHA-1 signed, RSA-1024).

Examples
--------
>>> import tempfile, pathlib
>>> pki = TestPki.create("Example")
>>> leaf = pki.issue("Nguyễn Văn A")
>>> paths = leaf.write_pem(pathlib.Path(tempfile.mkdtemp()))
>>> leaf.cert.issuer == pki.intermediate.cert.subject
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Credential", "TestPki", "new_key"]

UTC = dt.UTC
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
BrokenCase = Literal["expired", "future", "no-digital-signature", "rsa1024"]

#: (broken certificate case, the one problem code a verifier must report for it); the
#: signature-level "sha1" case (weak digest) is added by the formats that can carry it.
BROKEN_CERT_PROBLEMS: list[tuple[str, str]] = [
    ("expired", "certificate-expired"),
    ("future", "certificate-not-yet-valid"),
    ("no-digital-signature", "key-usage"),
    ("rsa1024", "weak-key"),
]
KeyUsageName = Literal[
    "digital_signature", "content_commitment", "key_encipherment", "key_cert_sign", "crl_sign"
]


def new_key(kind: str = "ec", size: int = 256) -> PrivateKey:
    """A fresh private key: ``kind`` "ec" (P-256/P-384) or "rsa" (``size`` bits)."""
    if kind == "ec":
        curve: ec.EllipticCurve = ec.SECP384R1() if size == 384 else ec.SECP256R1()
        return ec.generate_private_key(curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class Credential:
    """A private key with its certificate and the chain above it (leaf first, no root)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write_pem(self, directory: Path, stem: str | None = None) -> tuple[Path, Path]:
        """Write ``stem.key.pem`` (unencrypted PKCS#8) and ``stem.crt.pem`` (leaf + chain)."""
        stem = stem or f"cred{self.cert.serial_number % 100000}"
        key_path = directory / f"{stem}.key.pem"
        cert_path = directory / f"{stem}.crt.pem"
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [self.cert, *self.chain])
        )
        return key_path, cert_path

    def write_p12(self, path: Path, password: bytes | None) -> Path:
        """Write a PKCS#12 file with key, certificate and chain."""
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        path.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"test", self.key, self.cert, self.chain or None, enc
            )
        )
        return path

    def pyhanko_signer(self) -> Any:
        """A pyHanko ``SimpleSigner`` with this key and chain, bypassing onestop_docs' Signer
        (for tests of verifiers and checkers on signatures our own code did not make)."""
        from asn1crypto import keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko.sign import signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        der = serialization.Encoding.DER
        key_der = self.key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return signers.SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(self.cert.public_bytes(der)),
            signing_key=keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(c.public_bytes(der)) for c in self.chain]
            ),
        )


@dataclass
class TestPki:
    """Root CA → intermediate CA, both valid for ten years around now."""

    __test__ = False  # not a pytest test class

    root: Credential
    intermediate: Credential
    org: str

    @classmethod
    def create(cls, label: str = "Test", *, kind: str = "ec") -> TestPki:
        org = f"onestop_docs {label} PKI"
        now = dt.datetime.now(UTC)
        root_key = new_key(kind, 256 if kind == "ec" else 2048)
        root_name = _name(f"{label} Root CA", org)
        root_cert = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=365))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        root = Credential(root_key, root_cert)
        inter_key = new_key(kind, 256 if kind == "ec" else 2048)
        inter_cert = (
            _builder(root, _name(f"{label} Issuing CA", org), inter_key, now, 3000)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        return cls(root, Credential(inter_key, inter_cert, [root_cert]), org)

    def write_root(self, directory: Path, *, der: bool = False) -> Path:
        path = directory / ("root.der" if der else "root.pem")
        enc = serialization.Encoding.DER if der else serialization.Encoding.PEM
        path.write_bytes(self.root.cert.public_bytes(enc))
        return path

    def issue(
        self,
        common_name: str,
        *,
        kind: str = "ec",
        size: int = 256,
        key: PrivateKey | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_usage: tuple[KeyUsageName, ...] | None = ("digital_signature", "content_commitment"),
        time_stamping: bool = False,
        hash_algorithm: hashes.HashAlgorithm | None = None,
    ) -> Credential:
        """Issue a leaf certificate from the intermediate CA.

        ``key_usage=None`` leaves the extension out; ``time_stamping`` adds the critical
        extendedKeyUsage that RFC 3161 requires of a TSA certificate.
        """
        now = dt.datetime.now(UTC)
        key = key or new_key(kind, size)
        start = not_before or now - dt.timedelta(days=30)
        end = not_after or now + dt.timedelta(days=730)
        builder = _builder(self.intermediate, _name(common_name, self.org), key, start, 0, end)
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        if key_usage is not None:
            flags = {name: name in key_usage for name in _KU_FIELDS}
            builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
        if time_stamping:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        cert = builder.sign(self.intermediate.key, hash_algorithm or hashes.SHA256())
        return Credential(key, cert, [self.intermediate.cert])

    def issue_broken(self, case: BrokenCase) -> Credential:
        """A leaf that a verifier must reject for exactly one reason, named by its problem:
        ``"expired"``, ``"future"`` (not yet valid), ``"no-digital-signature"`` (key usage
        without digitalSignature) or ``"rsa1024"`` (weak key)."""
        now = dt.datetime.now(UTC)
        if case == "expired":
            return self.issue(
                "Expired",
                not_before=now - dt.timedelta(days=400),
                not_after=now - dt.timedelta(days=1),
            )
        if case == "future":
            return self.issue("Future", not_before=now + dt.timedelta(days=2))
        if case == "no-digital-signature":
            return self.issue("NoDS", kind="rsa", size=2048, key_usage=("key_encipherment",))
        if case == "rsa1024":
            return self.issue("Short", kind="rsa", size=1024)
        raise ValueError(f"unknown broken case {case!r}")


_KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _ca_usage() -> x509.KeyUsage:
    flags = {
        name: name in ("digital_signature", "key_cert_sign", "crl_sign") for name in _KU_FIELDS
    }
    return x509.KeyUsage(**flags)


def _builder(
    issuer: Credential,
    subject: x509.Name,
    key: PrivateKey,
    start: dt.datetime,
    days: int,
    end: dt.datetime | None = None,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end or start + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
