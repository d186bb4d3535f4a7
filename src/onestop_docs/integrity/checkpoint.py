"""Signed checkpoints of a transparency log: tree size + root hash + time, signed.

A checkpoint is what a scan station publishes (to the portal, an auditor, a witness) so that
later states of its :class:`~onestop_docs.integrity.TransparencyLog` can be proven to extend
it.  Keys are ``cryptography`` objects: Ed25519, or ECDSA on P-256 with SHA-256
(TT 15/2025/TT-BKHCN: no curve under 256 bits, no hash weaker than SHA-256).

Examples
--------
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> cp = Checkpoint.sign("UBND xã Tân Phú/quầy 1", 3, bytes(32), key)
>>> print(cp.body().decode().splitlines()[:2])
['UBND xã Tân Phú/quầy 1', '3']
>>> Checkpoint.from_bytes(cp.to_bytes()).verify(key.public_key())
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._deps import require_module
from .._validate import check_int
from ..errors import IntegrityError, InvalidArgumentError, WeakCryptoError
from .merkle import HASH_SIZE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    PrivateKey = Ed25519PrivateKey | EllipticCurvePrivateKey
    PublicKey = Ed25519PublicKey | EllipticCurvePublicKey

__all__ = ["Checkpoint", "check_origin"]


def check_origin(origin: str) -> str:
    """Return ``origin`` in NFC after checking it is one line of 1..255 UTF-8 bytes.

    Raises
    ------
    InvalidArgumentError
        Not a str, empty, several lines, outer spaces, or too long.
    """
    if not isinstance(origin, str):
        raise InvalidArgumentError(f"origin must be a str, got {type(origin).__name__}")
    origin = unicodedata.normalize("NFC", origin)
    if not origin or origin != origin.strip() or any(c in origin for c in "\r\n"):
        raise InvalidArgumentError(
            f"origin must be one non-empty line without leading/trailing spaces, got {origin!r}"
        )
    if len(origin.encode()) > 255:
        raise InvalidArgumentError(
            f"origin must be at most 255 UTF-8 bytes, got {len(origin.encode())}"
        )
    return origin


def _crypto() -> Any:
    require_module("cryptography", "sign")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    return hashes, serialization, ec, ed25519


def _key_info(key: Any) -> tuple[Any, int]:
    """Return (public key, algorithm byte) for an allowed key; refuse others."""
    _, _, ec, ed25519 = _crypto()
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        key = key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, 1
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256:
            raise WeakCryptoError(
                f"ECDSA keys need at least 256 bits (TT 15/2025/TT-BKHCN), got {key.curve.name}"
            )
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidArgumentError(
                f"checkpoint keys are Ed25519 or ECDSA P-256, got curve {key.curve.name}"
            )
        return key, 2
    raise InvalidArgumentError(
        f"checkpoint keys are Ed25519 or ECDSA P-256 (cryptography key objects), "
        f"got {type(key).__name__}"
    )


def _key_id(origin: str, public_key: Any, alg: int) -> bytes:
    _, serialization, _, _ = _crypto()
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(origin.encode() + b"\n" + bytes([alg]) + spki).digest()[:4]


def _format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of the log state: origin, tree size, root hash and time.

    The signed body is UTF-8 text (modelled on the C2SP ``tlog-checkpoint`` note, not
    byte-compatible with it)::

        <origin>
        <tree size in decimal>
        <root hash, base64>
        time <UTC time, ISO 8601 with microseconds and Z>

    :meth:`to_bytes` appends an empty line and ``— <origin> <base64(key id || signature)>``.
    The key id is the first 4 bytes of ``SHA-256(origin || 0x0A || alg || SubjectPublicKeyInfo
    DER)`` with ``alg`` 1 for Ed25519 and 2 for ECDSA P-256 with SHA-256 (DER signature).

    Attributes
    ----------
    origin : str
        Log identity (station name), NFC.
    tree_size : int
        Number of entries covered.
    root_hash : bytes
        RFC 9162 root of the first ``tree_size`` entries.
    timestamp : datetime.datetime
        Signing time, timezone-aware UTC.
    key_id : bytes
        4-byte key hint.
    signature : bytes
        Signature over :meth:`body`.

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> key = ec.generate_private_key(ec.SECP256R1())
    >>> cp = Checkpoint.sign("demo", 0, bytes(32), key)
    >>> Checkpoint.from_bytes(cp.to_bytes()) == cp
    True
    >>> cp.verify(key.public_key())
    True
    """

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: bytes
    signature: bytes

    def body(self) -> bytes:
        """The exact bytes that are signed."""
        root = base64.b64encode(self.root_hash).decode()
        return (
            f"{self.origin}\n{self.tree_size}\n{root}\ntime {_format_time(self.timestamp)}\n"
        ).encode()

    @classmethod
    def sign(
        cls,
        origin: str,
        tree_size: int,
        root_hash: bytes,
        private_key: PrivateKey,
        *,
        now: datetime | None = None,
    ) -> Checkpoint:
        """Sign a checkpoint with an Ed25519 or ECDSA P-256 private key.

        Raises
        ------
        InvalidArgumentError
            Bad origin, size, root length, naive ``now``, or a key of another type.
        WeakCryptoError
            An elliptic-curve key under 256 bits.
        """
        origin = check_origin(origin)
        check_int(tree_size, "tree_size", 0)
        if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
            raise InvalidArgumentError(f"root_hash must be {HASH_SIZE} bytes")
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None:
            raise InvalidArgumentError("now must be timezone-aware (e.g. datetime.now(UTC))")
        now = now.astimezone(UTC)
        public_key, alg = _key_info(private_key)
        if not hasattr(private_key, "sign"):
            raise InvalidArgumentError("a private key is needed to sign a checkpoint")
        unsigned = cls(origin, tree_size, root_hash, now, _key_id(origin, public_key, alg), b"")
        hashes, _, ec, _ = _crypto()
        if alg == 1:
            sig = private_key.sign(unsigned.body())  # type: ignore[call-arg]
        else:
            sig = private_key.sign(unsigned.body(), ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
        return cls(origin, tree_size, root_hash, now, unsigned.key_id, sig)

    def verify(self, public_key: PublicKey | PrivateKey) -> bool:
        """True if the signature is valid for ``public_key`` (and its key id matches).

        Raises
        ------
        InvalidArgumentError, WeakCryptoError
            ``public_key`` is not an allowed key type (see :meth:`sign`).
        """
        key, alg = _key_info(public_key)
        if _key_id(self.origin, key, alg) != self.key_id:
            return False
        hashes, _, ec, _ = _crypto()
        from cryptography.exceptions import InvalidSignature

        try:
            if alg == 1:
                key.verify(self.signature, self.body())
            else:
                key.verify(self.signature, self.body(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def to_bytes(self) -> bytes:
        """Serialise as a signed note (body, empty line, signature line)."""
        sig = base64.b64encode(self.key_id + self.signature).decode()
        return self.body() + f"\n\u2014 {self.origin} {sig}\n".encode()

    @classmethod
    def from_body(cls, data: bytes) -> Checkpoint:
        """Parse a bare :meth:`body` (signed elsewhere, e.g. by a detached CMS signature).

        The result has an empty ``key_id`` and ``signature``.

        Raises
        ------
        IntegrityError
            The text is not a well-formed checkpoint body.
        """
        try:
            text = bytes(data).decode("utf-8")
            if not text.endswith("\n"):
                raise ValueError("body must end with a newline")
            origin, size, root, when = cls._parse_body(text[:-1])
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise IntegrityError(f"malformed checkpoint: {exc}") from exc
        cp = cls(check_origin(origin), size, root, when, b"", b"")
        if cp.body() != bytes(data):
            raise IntegrityError("malformed checkpoint: body is not in canonical form")
        return cp

    @staticmethod
    def _parse_body(body: str) -> tuple[str, int, bytes, datetime]:
        lines = body.split("\n")
        if len(lines) != 4 or not lines[3].startswith("time "):
            raise ValueError("expected 4 body lines: origin, size, root, time")
        origin, size_s, root_s, time_s = lines
        if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise ValueError(f"bad tree size {size_s!r}")
        root = base64.b64decode(root_s, validate=True)
        if len(root) != HASH_SIZE:
            raise ValueError("root hash is not 32 bytes")
        ts = time_s[5:]
        if not ts.endswith("Z"):
            raise ValueError("time must be UTC with Z")
        when = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return origin, int(size_s), root, when

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        """Parse :meth:`to_bytes` output.  The signature is **not** checked here.

        Raises
        ------
        IntegrityError
            The text is not a well-formed checkpoint.
        """
        try:
            text = bytes(data).decode("utf-8")
            body, _, sigpart = text.partition("\n\n")
            origin, size, root, when = cls._parse_body(body)
            sig_lines = [s for s in sigpart.split("\n") if s]
            if len(sig_lines) != 1 or not sig_lines[0].startswith("\u2014 "):
                raise ValueError("expected exactly one signature line")
            name, _, sig_b64 = sig_lines[0][2:].rpartition(" ")
            if name != origin:
                raise ValueError("signature line names another origin")
            raw = base64.b64decode(sig_b64, validate=True)
            if len(raw) < 5:
                raise ValueError("signature too short")
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise IntegrityError(f"malformed checkpoint: {exc}") from exc
        cp = cls(check_origin(origin), size, root, when, raw[:4], raw[4:])
        if cp.body() != (body + "\n").encode():
            raise IntegrityError("malformed checkpoint: body is not in canonical form")
        return cp
