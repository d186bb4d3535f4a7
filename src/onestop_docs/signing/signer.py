"""Signer: a signing key (khóa ký số) with its certificate chain, from a file or a PKCS#11 token.

One :class:`Signer` type serves every signature format (PAdES, CMS/CAdES, XMLDSig).  Its key
lives either in memory (PKCS#12 or PEM file) or on a PKCS#11 device (the USB tokens officials
sign with; NĐ 30/2020 Điều 33 k2 wants the key on a device).  Construction refuses keys and
certificates weaker than TT 15/2025/TT-BKHCN allows (:class:`~onestop_docs.errors.WeakCryptoError`).

A Signer is thread-safe: every signing operation on a token holds a lock, because a PKCS#11
session must not be used by two threads at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import pkcs12

from .._deps import require_module
from ..errors import InvalidArgumentError, SignatureError, WeakCryptoError
from .certs import (
    CertificateInput,
    check_certificate_strength,
    check_hash_name,
    check_key_strength,
    load_certificates,
)

__all__ = ["Signer"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """cryptography hash object for an allowed hash name (see :func:`check_hash_name`)."""
    return _HASHES[check_hash_name(name)]()


class _KeyBackend(Protocol):
    def sign(self, data: bytes, hash_name: str) -> bytes: ...
    def close(self) -> None: ...


class _FileKey:
    """A private key held in memory (from a PKCS#12 or PEM file)."""

    def __init__(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self.key = key

    def sign(self, data: bytes, hash_name: str) -> bytes:
        algo = hash_algorithm(hash_name)
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), algo)
        return self.key.sign(data, ec.ECDSA(algo))

    def close(self) -> None:
        pass


class _SharedSession:
    """One logged-in session per token and process, shared by every Signer on that token.

    PKCS#11 login state belongs to the application, not the session: a second
    ``C_Login`` fails with CKR_USER_ALREADY_LOGGED_IN and closing any logged-in session
    may log the others out.  So signers on the same token share one session (with its
    lock, since a session must not be used by two threads at once), reference-counted.
    """

    _registry: ClassVar[dict[tuple[str, str], _SharedSession]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: tuple[str, str], session: Any, pin_digest: bytes) -> None:
        self.key = key
        self.session = session
        self.pin_digest = pin_digest
        self.lock = threading.Lock()
        self.users = 0

    @classmethod
    def acquire(cls, module_path: str, token: Any, pin: str) -> _SharedSession:
        key = (module_path, f"{token.label}/{token.serial!r}")
        # Reusing the logged-in session must not bypass the PIN: compare a salted digest.
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), repr(key).encode(), 1000)
        with cls._registry_lock:
            shared = cls._registry.get(key)
            if shared is None:
                shared = cls(key, token.open(user_pin=pin), digest)
                cls._registry[key] = shared
            elif not hmac.compare_digest(shared.pin_digest, digest):
                raise SignatureError(f"wrong PIN for PKCS#11 token {token.label!r}")
            shared.users += 1
            return shared

    def release(self) -> None:
        with self._registry_lock:
            self.users -= 1
            if self.users > 0:
                return
            del self._registry[self.key]
        with self.lock:
            self.session.close()


class _Pkcs11Key:
    """A private key on a PKCS#11 token, used through a shared, locked session."""

    def __init__(self, shared: _SharedSession, key: Any, kind: str) -> None:
        self.shared = shared
        self.key = key
        self.kind = kind
        self._closed = False

    def sign(self, data: bytes, hash_name: str) -> bytes:
        pkcs11 = require_module("pkcs11", "sign")
        mech = pkcs11.Mechanism
        try:
            with self.shared.lock:
                if self.kind == "rsa":
                    mechanism = {
                        "sha256": mech.SHA256_RSA_PKCS,
                        "sha384": mech.SHA384_RSA_PKCS,
                        "sha512": mech.SHA512_RSA_PKCS,
                    }.get(check_hash_name(hash_name))
                    if mechanism is None:
                        raise InvalidArgumentError(
                            f"PKCS#11 RSA signing supports sha256/384/512, got {hash_name!r}"
                        )
                    return bytes(self.key.sign(data, mechanism=mechanism))
                # Hash on the host and use raw CKM_ECDSA: every token supports it, while
                # CKM_ECDSA_SHA256 is optional in PKCS#11.
                digest = hashes.Hash(hash_algorithm(hash_name))
                digest.update(data)
                raw = bytes(self.key.sign(digest.finalize(), mechanism=mech.ECDSA))
        except pkcs11.PKCS11Error as exc:
            raise SignatureError(f"the PKCS#11 token refused to sign: {exc!r}") from exc
        half = len(raw) // 2
        return utils.encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.shared.release()


class _SignXmlKey:
    """Duck-typed private key for signxml that routes signing to any backend."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self.key_size = signer.key_size

    def sign(self, data: bytes, *args: Any, **kwargs: Any) -> bytes:
        algo = kwargs.get("algorithm")
        if algo is None and "signature_algorithm" in kwargs:
            algo = kwargs["signature_algorithm"].algorithm
        if algo is None:
            raise SignatureError("signxml asked for a signature without a hash algorithm")
        return self._signer.sign_bytes(data, algo.name)


class Signer:
    """A signing key with its certificate and chain (leaf first, root optional).

    Build one with :meth:`from_pkcs12`, :meth:`from_pem`, :meth:`from_pkcs11` or
    :meth:`from_key`; then pass it to :func:`~onestop_docs.signing.sign_pdf`,
    :func:`~onestop_docs.signing.sign_cms` or :func:`~onestop_docs.signing.sign_xml`.

    Attributes
    ----------
    certificate : cryptography.x509.Certificate
        The signer's certificate.
    chain : tuple of cryptography.x509.Certificate
        Intermediate (and optionally root) certificates embedded in signatures.
    key_algorithm : str
        ``"rsa"`` or ``"ecdsa"``.
    key_size : int
        Key size in bits (RSA modulus or EC curve order).

    Examples
    --------
    >>> import datetime as dt
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives import hashes
    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> key = ec.generate_private_key(ec.SECP256R1())
    >>> name = x509.Name.from_rfc4514_string("CN=Demo")
    >>> now = dt.datetime.now(dt.timezone.utc)
    >>> cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    ...         .public_key(key.public_key()).serial_number(1)
    ...         .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
    ...         .sign(key, hashes.SHA256()))
    >>> signer = Signer.from_key(key, cert)
    >>> signer.key_algorithm, signer.key_size, signer.subject
    ('ecdsa', 256, 'CN=Demo')
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        backend: _KeyBackend,
        *,
        origin: str,
    ) -> None:
        self.key_algorithm, self.key_size = check_certificate_strength(certificate)
        self.certificate = certificate
        self.chain = tuple(c for c in chain if c != certificate)
        self._backend = backend
        self.origin = origin

    # -- constructors -----------------------------------------------------------------------

    @classmethod
    def from_key(
        cls,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
    ) -> Signer:
        """Signer from in-memory cryptography objects.

        Raises
        ------
        WeakCryptoError
            RSA < 2048, ECDSA < 256 or a SHA-1 certificate.
        SignatureError
            If the key does not belong to the certificate.
        """
        check_key_strength(private_key, "private key")
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise WeakCryptoError(f"expected an RSA or ECDSA key, got {type(private_key).__name__}")
        pub = serialization.PublicFormat.SubjectPublicKeyInfo
        enc = serialization.Encoding.DER
        if private_key.public_key().public_bytes(enc, pub) != certificate.public_key().public_bytes(
            enc, pub
        ):
            raise SignatureError(
                f"the private key does not match the certificate "
                f"{certificate.subject.rfc4514_string()!r}"
            )
        return cls(certificate, chain, _FileKey(private_key), origin="memory")

    @classmethod
    def from_pkcs12(cls, path: str | os.PathLike[str], password: str | bytes | None) -> Signer:
        """Signer from a PKCS#12 (``.p12``/``.pfx``) file with key, certificate and chain.

        Raises
        ------
        SignatureError
            Wrong password, unreadable file, or no key/certificate in it.
        WeakCryptoError
            Key or certificate below TT 15/2025/TT-BKHCN.
        """
        pw = password.encode() if isinstance(password, str) else password
        try:
            data = Path(path).read_bytes()
            key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
        except (OSError, ValueError, UnsupportedAlgorithm) as exc:
            raise SignatureError(f"cannot open PKCS#12 file {os.fspath(path)!r}: {exc}") from exc
        if key is None or cert is None:
            raise SignatureError(
                f"PKCS#12 file {os.fspath(path)!r}: expected a private key and its certificate"
            )
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise WeakCryptoError(f"expected an RSA or ECDSA key, got {type(key).__name__}")
        signer = cls.from_key(key, cert, list(extra))
        signer.origin = f"pkcs12:{os.fspath(path)}"
        return signer

    @classmethod
    def from_pem(
        cls,
        key_path: str | os.PathLike[str],
        cert_path: str | os.PathLike[str],
        *,
        password: str | bytes | None = None,
        chain: Sequence[CertificateInput] = (),
    ) -> Signer:
        """Signer from a PEM (or DER) private key and a PEM certificate file.

        ``cert_path`` may hold the leaf followed by its chain; ``chain`` adds more.

        Raises
        ------
        SignatureError
            Unreadable key, wrong password, key not matching the certificate.
        WeakCryptoError
            Key or certificate below TT 15/2025/TT-BKHCN.
        """
        pw = password.encode() if isinstance(password, str) else password
        try:
            data = Path(key_path).read_bytes()
            key = (
                serialization.load_pem_private_key(data, pw)
                if b"-----BEGIN" in data
                else serialization.load_der_private_key(data, pw)
            )
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SignatureError(f"cannot load private key {os.fspath(key_path)!r}: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise WeakCryptoError(f"expected an RSA or ECDSA key, got {type(key).__name__}")
        try:
            certs = load_certificates(cert_path)
        except InvalidArgumentError as exc:
            raise SignatureError(str(exc)) from exc
        if not certs:
            raise SignatureError(f"no certificate in {os.fspath(cert_path)!r}")
        signer = cls.from_key(key, certs[0], [*certs[1:], *load_certificates(list(chain))])
        signer.origin = f"pem:{os.fspath(key_path)}"
        return signer

    @classmethod
    def from_pkcs11(
        cls,
        module_path: str | os.PathLike[str],
        *,
        pin: str,
        token_label: str | None = None,
        key_label: str | None = None,
        key_id: bytes | None = None,
        cert_path: str | os.PathLike[str] | None = None,
        chain: Sequence[CertificateInput] = (),
    ) -> Signer:
        """Signer whose key stays on a PKCS#11 token (USB token, HSM, SoftHSM2).

        Parameters
        ----------
        module_path : path
            The token's PKCS#11 library, e.g. ``/usr/lib/softhsm/libsofthsm2.so``.
        pin : str
            User PIN.
        token_label : str, optional
            Token to use; required when more than one token is present.
        key_label, key_id : optional
            Select the private key (CKA_LABEL / CKA_ID); required if the token holds several.
        cert_path : path, optional
            Signer certificate (PEM/DER); by default read from the token (same CKA_ID as the key).
        chain : sequence
            Intermediate certificates to embed.

        Raises
        ------
        SignatureError
            Token, key or certificate not found, wrong PIN, or a PKCS#11 failure.
        WeakCryptoError
            Key or certificate below TT 15/2025/TT-BKHCN.
        """
        pkcs11 = require_module("pkcs11", "sign")
        attr, cls_ = pkcs11.Attribute, pkcs11.ObjectClass
        try:
            lib = pkcs11.lib(os.fspath(module_path))
            if token_label is None:
                tokens = list(lib.get_tokens())
                if len(tokens) != 1:
                    raise SignatureError(
                        f"expected exactly one token in {os.fspath(module_path)!r}, found "
                        f"{len(tokens)}; pass token_label"
                    )
                token = tokens[0]
            else:
                token = lib.get_token(token_label=token_label)
            shared = _SharedSession.acquire(os.fspath(module_path), token, pin)
        except pkcs11.PKCS11Error as exc:
            raise SignatureError(f"cannot open PKCS#11 token {token_label!r}: {exc!r}") from exc
        session = shared.session
        try:
            query: dict[Any, Any] = {}
            if key_label is not None:
                query[attr.LABEL] = key_label
            if key_id is not None:
                query[attr.ID] = key_id
            with shared.lock:
                keys = list(session.get_objects({attr.CLASS: cls_.PRIVATE_KEY, **query}))
            if len(keys) != 1:
                raise SignatureError(
                    f"expected one private key matching {query or 'any'} on the token, "
                    f"found {len(keys)}"
                )
            key = keys[0]
            if cert_path is not None:
                certs = load_certificates(cert_path)
            else:
                cert_query = {attr.ID: key[attr.ID]} if key_id is None else {attr.ID: key_id}
                with shared.lock:
                    objs = list(session.get_objects({attr.CLASS: cls_.CERTIFICATE, **cert_query}))
                certs = [x509.load_der_x509_certificate(bytes(o[attr.VALUE])) for o in objs]
            if not certs:
                raise SignatureError("no certificate for the key on the token; pass cert_path")
            kind = "rsa" if key.key_type == pkcs11.KeyType.RSA else "ecdsa"
            signer = cls(
                certs[0],
                [*certs[1:], *load_certificates(list(chain))],
                _Pkcs11Key(shared, key, kind),
                origin=f"pkcs11:{token.label}",
            )
            if signer.key_algorithm != kind:
                raise SignatureError(
                    f"the token key is {kind} but the certificate key is {signer.key_algorithm}"
                )
            return signer
        except BaseException:
            shared.release()
            raise

    # -- use --------------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        """The certificate subject as an RFC 4514 string."""
        return self.certificate.subject.rfc4514_string()

    @property
    def common_name(self) -> str:
        """The certificate's CN (họ tên or tên cơ quan), or the full subject if it has none."""
        attrs = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else self.subject

    def sign_bytes(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """Raw signature over ``data``: RSA PKCS#1 v1.5 or DER-encoded ECDSA.

        Raises
        ------
        WeakCryptoError
            If ``hash_name`` is weaker than SHA-256.
        SignatureError
            If the token fails.
        """
        check_hash_name(hash_name)
        return self._backend.sign(data, hash_name)

    def check_usable(self, at: dt.datetime | None = None) -> None:
        """Refuse to sign with a certificate that is outside its validity or lacks the usage.

        Raises
        ------
        SignatureError
            Expired, not yet valid, or without the digitalSignature key usage.
        """
        now = at or dt.datetime.now(dt.UTC)
        cert = self.certificate
        if now < cert.not_valid_before_utc:
            raise SignatureError(
                f"certificate {self.subject!r} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
            )
        if now > cert.not_valid_after_utc:
            raise SignatureError(
                f"certificate {self.subject!r} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
            )
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return
        if not ku.digital_signature:
            # The verifiers report such signatures as "key-usage"; refuse to make them.
            raise SignatureError(f"certificate {self.subject!r} has no digitalSignature key usage")

    def signxml_key(self) -> Any:
        """The key object signxml expects (the in-memory key, or an adapter for tokens)."""
        if isinstance(self._backend, _FileKey):
            return self._backend.key
        return _SignXmlKey(self)

    def pyhanko_signer(self, hash_name: str = "sha256") -> Any:
        """A :class:`pyhanko.sign.signers.Signer` that signs through this Signer's key."""
        from ._pyhanko import make_pyhanko_signer

        return make_pyhanko_signer(self, check_hash_name(hash_name))

    def close(self) -> None:
        """Close the token session (no-op for file keys)."""
        self._backend.close()

    def __enter__(self) -> Signer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Signer(subject={self.subject!r}, key={self.key_algorithm}-{self.key_size}, "
            f"origin={self.origin!r})"
        )
