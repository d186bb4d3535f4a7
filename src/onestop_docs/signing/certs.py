"""Certificates and trust roots: loading, policy checks (TT 15/2025/TT-BKHCN), Vietnam time.

Trust roots are always explicit: every verification function takes ``trust_roots`` as PEM or DER
file paths, raw bytes or :class:`cryptography.x509.Certificate` objects.  There is no default
trust store, so a signature is only ever *trusted* relative to roots the caller chose (the
VGCA/NEAC roots or their own CA).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..errors import InvalidArgumentError, WeakCryptoError
from ..types import VN_TZ

__all__ = [
    "VN_TZ",
    "CertificateInput",
    "check_certificate_strength",
    "check_hash_name",
    "load_certificates",
    "load_trust_roots",
    "vn_time",
]

# Vietnam time: NĐ 30/2020 Phụ lục I asks for the signing time "theo múi giờ Việt Nam" in ISO 8601.

#: What ``trust_roots`` and certificate arguments accept.
CertificateInput = str | os.PathLike[str] | bytes | x509.Certificate

#: Hashes allowed by TT 15/2025/TT-BKHCN (FIPS 180-4 SHA-2 ≥ 256 bits, or SHA-3).
ALLOWED_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha512_224", "sha512_256", "sha3_256", "sha3_384", "sha3_512"}
)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


def vn_time(moment: dt.datetime) -> dt.datetime:
    """Convert an aware datetime to Vietnam time (+07:00).

    Examples
    --------
    >>> import datetime as dt
    >>> vn_time(dt.datetime(2025, 6, 30, 7, 5, 9, tzinfo=dt.timezone.utc)).isoformat()
    '2025-06-30T14:05:09+07:00'

    Raises
    ------
    InvalidArgumentError
        If ``moment`` is naive (no time zone).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgumentError(f"expected a time-zone-aware datetime, got naive {moment!r}")
    return moment.astimezone(VN_TZ)


def check_hash_name(name: str) -> str:
    """Normalise a hash name and refuse those weaker than TT 15/2025/TT-BKHCN allows.

    Examples
    --------
    >>> check_hash_name("SHA-256")
    'sha256'
    >>> check_hash_name("sha1")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.WeakCryptoError: ...

    Raises
    ------
    WeakCryptoError
        For MD5, SHA-1, SHA-224 and anything not in the allowed list.
    """
    norm = name.lower().replace("-", "").replace("/", "_")
    if norm not in ALLOWED_HASHES:
        raise WeakCryptoError(
            f"hash {name!r} is not allowed (TT 15/2025/TT-BKHCN requires SHA-256/384/512 "
            f"or SHA-3); expected one of {sorted(ALLOWED_HASHES)}"
        )
    return norm


def key_description(key: object) -> tuple[str, int]:
    """``("rsa" | "ecdsa" | "ed25519" | "ed448" | other, bits)`` of a public or private key."""
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "ecdsa", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "ed448", 456
    return type(key).__name__, 0


def check_key_strength(key: object, what: str = "key") -> tuple[str, int]:
    """Refuse RSA < 2048 bits, ECDSA < 256 bits and other key types (TT 15/2025/TT-BKHCN).

    Raises
    ------
    WeakCryptoError
        If the key is too small or of an algorithm the circular does not list.
    """
    kind, bits = key_description(key)
    if kind == "rsa" and bits < MIN_RSA_BITS:
        raise WeakCryptoError(
            f"{what}: RSA-{bits} is too weak; expected at least RSA-{MIN_RSA_BITS}"
        )
    if kind == "ecdsa" and bits < MIN_EC_BITS:
        raise WeakCryptoError(
            f"{what}: ECDSA-{bits} is too weak; expected at least {MIN_EC_BITS} bits"
        )
    if kind not in ("rsa", "ecdsa"):
        raise WeakCryptoError(f"{what}: {kind} keys are not allowed; expected RSA or ECDSA")
    return kind, bits


def certificate_hash_name(cert: x509.Certificate) -> str | None:
    """The hash of the issuer's signature on ``cert`` (``"sha1"``, ``"sha256"``...), if any."""
    algo = cert.signature_hash_algorithm
    return None if algo is None else algo.name.replace("-", "_")


def check_certificate_strength(cert: x509.Certificate) -> tuple[str, int]:
    """Refuse a certificate with a weak public key or signed with a weak hash.

    Raises
    ------
    WeakCryptoError
        RSA < 2048, ECDSA < 256, or a SHA-1/MD5 certificate signature.
    """
    subject = cert.subject.rfc4514_string()
    kind_bits = check_key_strength(cert.public_key(), f"certificate {subject!r}")
    hash_name = certificate_hash_name(cert)
    if hash_name is not None and hash_name not in ALLOWED_HASHES:
        raise WeakCryptoError(
            f"certificate {subject!r} is signed with {hash_name}; expected SHA-256 or stronger"
        )
    return kind_bits


def _load_one(item: CertificateInput) -> list[x509.Certificate]:
    if isinstance(item, x509.Certificate):
        return [item]
    if isinstance(item, bytes):
        data, origin = item, "bytes"
    elif isinstance(item, str | os.PathLike):
        path = Path(item)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot read certificate file {str(path)!r}: {exc}"
            ) from exc
        origin = str(path)
    else:
        raise InvalidArgumentError(
            f"expected a certificate path, PEM/DER bytes or x509.Certificate, got {type(item).__name__}"
        )
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InvalidArgumentError(f"{origin}: not a PEM or DER X.509 certificate ({exc})") from exc


def load_certificates(
    items: CertificateInput | Iterable[CertificateInput],
) -> list[x509.Certificate]:
    """Load certificates from paths (PEM, possibly several, or DER), bytes or objects.

    Examples
    --------
    >>> load_certificates([])
    []

    Raises
    ------
    InvalidArgumentError
        If a file cannot be read or is not a certificate.
    """
    if isinstance(items, str | bytes | os.PathLike | x509.Certificate):
        return _load_one(items)
    out: list[x509.Certificate] = []
    for item in items:
        out.extend(_load_one(item))
    return out


def load_trust_roots(
    trust_roots: Sequence[CertificateInput] | CertificateInput,
) -> list[x509.Certificate]:
    """Load the caller's explicit trust roots; an empty list is refused.

    Examples
    --------
    >>> load_trust_roots([])
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: ...

    Raises
    ------
    InvalidArgumentError
        If no root is given (there is no default trust store) or one cannot be loaded.
    """
    roots = load_certificates(trust_roots)
    if not roots:
        raise InvalidArgumentError(
            "trust_roots is empty; expected at least one root certificate (PEM/DER path or "
            "x509.Certificate) — there is no default trust store"
        )
    return roots
