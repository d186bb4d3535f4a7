"""A tamper-evident, append-only transparency log of record hashes with signed checkpoints.

A scan station appends the SHA-256 of every record it produces (nhật ký minh bạch) and
periodically publishes a **signed checkpoint** (tree size + Merkle root + time, signed with
the station key).  Anyone holding an older checkpoint can then demand an RFC 9162
consistency proof that the log only grew, and an inclusion proof that a given record is in
it.  Merkle hashing is :mod:`onestop_docs.integrity.merkle` (RFC 9162 §2.1).

File layout (``path``; all integers big-endian):

* header: ``b"ODTLOG\\x00\\x01"``, ``u16`` origin length, origin (UTF-8), and
  ``SHA-256`` of the preceding header bytes (the chain seed);
* records: ``u32`` entry length, the entry, and a 32-byte chained checksum
  ``SHA-256(0x02 || previous checksum || u32 length || entry)``.

Next to it, ``path + ".head"`` holds the committed size, end offset, last chained checksum
and root; it is replaced atomically after every append.

Crash safety and tamper detection, checked on every open:

* ``append`` writes the record, ``fsync``\\ s the log, then atomically replaces the head.
  A crash in between leaves a **tail** past the head: complete, valid records there are
  kept (rolled forward; their append finished writing), a torn or garbled last record is
  an uncommitted write.  By default (``torn_tail="truncate"``) its bytes are saved to
  ``path + ".torn-<offset>"`` and the log is cut back to the last good record;
  ``torn_tail="raise"`` raises :class:`~onestop_docs.errors.IntegrityError` instead.
  :attr:`TransparencyLog.recovery` says what was done.
* Any damage **before** the head (a changed byte, a removed or truncated record, a
  replaced file, a missing head) raises :class:`~onestop_docs.errors.IntegrityError`
  naming the record index and byte offset.
* A deliberate rewrite of both files is caught by signed checkpoints: pass an earlier
  ``checkpoint=`` (and its ``public_key=``) when opening, or check
  :meth:`TransparencyLog.consistency_proof` against a checkpoint kept elsewhere.

Examples
--------
>>> import pathlib, tempfile
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> path = pathlib.Path(tempfile.mkdtemp()) / "station.tlog"
>>> with TransparencyLog(path, origin="UBND xã Tân Phú/quầy 1") as log:
...     i = log.append(bytes(32))
...     cp = log.checkpoint(key)
...     proof = log.inclusion_proof(i)
>>> cp.tree_size, cp.verify(key.public_key())
(1, True)
>>> proof.verify(leaf_hash(bytes(32)), cp.root_hash)
True
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import struct
import threading
import unicodedata
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._deps import require_module
from .._fileutil import atomic_write_bytes, fsync_dir
from ..errors import (
    IndexFormatError,
    IntegrityError,
    InvalidArgumentError,
    WeakCryptoError,
)
from .merkle import HASH_SIZE, MerkleTree, leaf_hash, verify_consistency, verify_inclusion

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

__all__ = [
    "MAX_ENTRY_BYTES",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "LogRecovery",
    "TransparencyLog",
]

MAGIC = b"ODTLOG\x00\x01"
#: Largest entry accepted by :meth:`TransparencyLog.append` (entries are hashes or short
#: descriptors; the bound also stops a corrupt length field from allocating gigabytes).
MAX_ENTRY_BYTES = 1 << 20
_HEAD_MAGIC = "onestop_docs-tlog-head 1"
_DEFAULT_ORIGIN = "onestop_docs transparency log"
_LEN = struct.Struct(">I")


def _chain(prev: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + prev + _LEN.pack(len(entry)) + entry).digest()


def _check_origin(origin: str) -> str:
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


# --------------------------------------------------------------------------- proofs


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """RFC 9162 inclusion proof (audit path) of leaf ``leaf_index`` in a tree of ``tree_size``.

    Attributes
    ----------
    leaf_index : int
        0-based index of the leaf.
    tree_size : int
        Size of the tree the proof is for.
    path : tuple of bytes
        32-byte hashes, leaf side first.
    """

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]

    def verify(self, leaf: bytes, root: bytes) -> bool:
        """True if ``leaf`` (a leaf hash) is at ``leaf_index`` under ``root``."""
        return verify_inclusion(leaf, self.leaf_index, self.tree_size, self.path, root)


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 consistency proof between tree sizes ``old_size`` and ``tree_size``.

    Attributes
    ----------
    old_size, tree_size : int
        Sizes of the older and newer tree.
    path : tuple of bytes
        32-byte hashes as ``PROOF(old_size, D[0:tree_size])`` orders them.
    """

    old_size: int
    tree_size: int
    path: tuple[bytes, ...]

    def verify(self, old_root: bytes, root: bytes) -> bool:
        """True if the tree with ``root`` extends the tree with ``old_root``."""
        return verify_consistency(self.old_size, self.tree_size, self.path, old_root, root)


# --------------------------------------------------------------------------- checkpoints


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
        origin = _check_origin(origin)
        if isinstance(tree_size, bool) or not isinstance(tree_size, int) or tree_size < 0:
            raise InvalidArgumentError(f"tree_size must be an int >= 0, got {tree_size!r}")
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
        cp = cls(_check_origin(origin), int(size_s), root, when, raw[:4], raw[4:])
        if cp.body() != (body + "\n").encode():
            raise IntegrityError("malformed checkpoint: body is not in canonical form")
        return cp


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True, slots=True)
class LogRecovery:
    """What :class:`TransparencyLog` repaired when it was opened.

    Attributes
    ----------
    rolled_forward : int
        Complete records found past the head (written, head update lost); kept.
    torn_offset : int or None
        Byte offset where an uncommitted, torn record began, or None.
    torn_bytes : int
        Number of bytes in that torn tail.
    saved_to : pathlib.Path or None
        Where the torn bytes were saved before the log was truncated (None when nothing was
        truncated, e.g. in read-only mode).
    """

    rolled_forward: int
    torn_offset: int | None
    torn_bytes: int
    saved_to: Path | None


@dataclass(frozen=True, slots=True)
class _Head:
    size: int
    end: int
    chain: bytes
    root: bytes


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def _read_head(path: Path) -> _Head | None:
    hp = _head_path(path)
    try:
        text = hp.read_text("utf-8")
    except FileNotFoundError:
        return None
    try:
        lines = text.split("\n")
        if lines[0] != _HEAD_MAGIC:
            raise ValueError("bad first line")
        fields = dict(line.split(" ", 1) for line in lines[1:] if line)
        head = _Head(
            int(fields["size"]),
            int(fields["end"]),
            bytes.fromhex(fields["chain"]),
            bytes.fromhex(fields["root"]),
        )
        if head.size < 0 or head.end < 0 or len(head.chain) != 32 or len(head.root) != 32:
            raise ValueError("field out of range")
    except (ValueError, KeyError, IndexError) as exc:
        raise IntegrityError(f"{hp}: unreadable log head ({exc})") from exc
    return head


def _write_head(path: Path, head: _Head) -> None:
    text = (
        f"{_HEAD_MAGIC}\nsize {head.size}\nend {head.end}\n"
        f"chain {head.chain.hex()}\nroot {head.root.hex()}\n"
    )
    atomic_write_bytes(_head_path(path), text.encode())


class TransparencyLog:
    """Append-only, crash-safe log file of entries (record hashes) with Merkle proofs.

    Parameters
    ----------
    path : str or os.PathLike
        Log file; created (with its ``.head`` file) if missing and ``create`` is true.
    origin : str or None
        Log identity written into a new log and into every checkpoint (default
        ``"onestop_docs transparency log"``).  When opening an existing log, a non-None
        value must match the stored one.
    create : bool, default True
        Create the log if it does not exist.
    read_only : bool, default False
        Open for reading and proofs only: shared lock, nothing is written or repaired.
    torn_tail : {"truncate", "raise"}, default "truncate"
        What to do with an uncommitted torn record at the end (see the module docs).
    checkpoint : Checkpoint or None
        An earlier checkpoint to hold the log to: its signature must verify with
        ``public_key`` and the log must contain that tree (same root at that size).
    public_key : cryptography public key or None
        Required with ``checkpoint``.

    Raises
    ------
    IndexFormatError
        The file is not a log of this format (magic, version or header checksum).
    IntegrityError
        The log is damaged before its head, its head is missing, a torn tail was found
        with ``torn_tail="raise"``, or it does not match ``checkpoint``.
    FileNotFoundError
        The log is missing and ``create`` is false or ``read_only`` is true.
    BlockingIOError
        Another process holds the log open for writing (or, for a writer, reading).

    Attributes
    ----------
    origin : str
        The log identity stored in its header.
    recovery : LogRecovery or None
        What was repaired on open, or None when the log was clean.

    Notes
    -----
    One object may be shared by the threads of a kiosk server (every method takes an
    internal lock).  Between processes an ``flock`` keeps one writer at a time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        origin: str | None = None,
        create: bool = True,
        read_only: bool = False,
        torn_tail: Literal["truncate", "raise"] = "truncate",
        checkpoint: Checkpoint | None = None,
        public_key: PublicKey | None = None,
    ) -> None:
        if torn_tail not in ("truncate", "raise"):
            raise InvalidArgumentError(
                f"torn_tail must be 'truncate' or 'raise', got {torn_tail!r}"
            )
        if checkpoint is not None and public_key is None:
            raise InvalidArgumentError("checkpoint= needs the public_key= that signed it")
        self.origin = ""
        self._path = Path(path)
        self._lock = threading.RLock()
        self._read_only = read_only
        self._tree = MerkleTree()
        self._offsets = array("Q")
        self.recovery: LogRecovery | None = None
        if not self._path.exists():
            head = _read_head(self._path)
            if head is not None and head.size > 0:
                raise IntegrityError(
                    f"transparency log {self._path} is missing but its head commits to "
                    f"{head.size} records (deleted?)"
                )
            if not create or read_only:
                raise FileNotFoundError(f"transparency log {self._path} does not exist")
            self._create(_check_origin(origin if origin is not None else _DEFAULT_ORIGIN))
        self._fd = os.open(self._path, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(
                    self._fd, (fcntl.LOCK_SH if read_only else fcntl.LOCK_EX) | fcntl.LOCK_NB
                )
            except BlockingIOError as exc:
                raise BlockingIOError(
                    exc.errno, f"transparency log {self._path} is in use by another process"
                ) from exc
            self._load(torn_tail)
            if origin is not None and _check_origin(origin) != self.origin:
                raise InvalidArgumentError(
                    f"{self._path} has origin {self.origin!r}, not {origin!r}"
                )
            if checkpoint is not None:
                self._check_against(checkpoint, public_key)
        except BaseException:
            os.close(self._fd)
            raise

    # ---------------------------------------------------------------- opening

    def _create(self, origin: str) -> None:
        o = origin.encode()
        header = MAGIC + struct.pack(">H", len(o)) + o
        header += hashlib.sha256(header).digest()
        # Head first: a crash between the two leaves a head without a log, which the next
        # open simply recreates; the opposite order would look like a lost head.
        _write_head(self._path, _Head(0, len(header), header[-32:], hashlib.sha256().digest()))
        atomic_write_bytes(self._path, header)

    def _load(self, torn_tail: str) -> None:
        size = os.fstat(self._fd).st_size
        parts, got = [], 0
        while got < size:  # one read returns at most ~2 GiB on Linux
            part = os.pread(self._fd, size - got, got)
            if not part:
                break
            parts.append(part)
            got += len(part)
        data = b"".join(parts)
        if len(data) < len(MAGIC) + 2 or data[: len(MAGIC)] != MAGIC:
            raise IndexFormatError(
                f"{self._path}: not an onestop_docs transparency log (expected magic "
                f"{MAGIC!r}, found {data[: len(MAGIC)]!r})"
            )
        (olen,) = struct.unpack_from(">H", data, len(MAGIC))
        hlen = len(MAGIC) + 2 + olen + 32
        if len(data) < hlen or hashlib.sha256(data[: hlen - 32]).digest() != data[hlen - 32 : hlen]:
            raise IndexFormatError(f"{self._path}: log header is damaged (checksum mismatch)")
        try:
            self.origin = data[len(MAGIC) + 2 : hlen - 32].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IndexFormatError(f"{self._path}: origin is not UTF-8") from exc
        head = _read_head(self._path)

        chain = data[hlen - 32 : hlen]
        chains = [chain]  # [seed, chain value after head.size records] for the head check
        committed_end = hlen
        pos, bad_at, reason = hlen, None, ""
        view = memoryview(data)
        while pos < len(data):
            if pos + 4 > len(data):
                bad_at, reason = pos, "record length cut off"
                break
            (n,) = _LEN.unpack_from(data, pos)
            if n > MAX_ENTRY_BYTES:
                bad_at, reason = pos, f"record length {n} exceeds {MAX_ENTRY_BYTES}"
                break
            end = pos + 4 + n + 32
            if end > len(data):
                bad_at, reason = pos, "record cut off before its end"
                break
            entry = bytes(view[pos + 4 : pos + 4 + n])
            nxt = _chain(chain, entry)
            if nxt != data[end - 32 : end]:
                bad_at, reason = pos, "checksum mismatch"
                break
            self._offsets.append(pos)
            self._tree.append(entry)
            chain = nxt
            pos = end
            if head is not None and len(self._offsets) == head.size:
                chains.append(chain)
                committed_end = pos
        good = len(self._offsets)
        self._end = pos
        self._chain = chain

        if head is None:
            if good == 0 and bad_at is None and not self._read_only:
                _write_head(self._path, self._make_head())  # crash during creation
                return
            raise IntegrityError(
                f"{self._path}: head file {_head_path(self._path).name} is missing; "
                f"the log (holding {good} valid records) cannot be checked for truncation"
            )
        if good < head.size:
            where = f"record {good} at byte offset {bad_at}" if bad_at is not None else "the end"
            what = reason if bad_at is not None else "file ends"
            raise IntegrityError(
                f"{self._path}: log is damaged or truncated at {where} ({what}); its head "
                f"commits to {head.size} records but only {good} are intact"
            )
        committed_chain = chains[-1] if head.size > 0 else data[hlen - 32 : hlen]
        if (
            committed_chain != head.chain
            or committed_end != head.end
            or self._tree.root(head.size) != head.root
        ):
            raise IntegrityError(
                f"{self._path}: the first {head.size} records do not match the head "
                "(log edited or replaced)"
            )
        rolled = good - head.size
        torn_offset, torn_bytes, saved = None, 0, None
        if bad_at is not None:
            torn_offset, torn_bytes = bad_at, len(data) - bad_at
            if torn_tail == "raise":
                raise IntegrityError(
                    f"{self._path}: torn uncommitted record at byte offset {bad_at} "
                    f"({reason}, {torn_bytes} bytes); open with torn_tail='truncate' to cut it"
                )
            if not self._read_only:
                saved = self._path.with_name(f"{self._path.name}.torn-{bad_at}")
                atomic_write_bytes(saved, data[bad_at:])
                os.ftruncate(self._fd, bad_at)
                os.fsync(self._fd)
        if rolled or torn_offset is not None:
            self.recovery = LogRecovery(rolled, torn_offset, torn_bytes, saved)
            if rolled and not self._read_only:
                _write_head(self._path, self._make_head())

    def _make_head(self) -> _Head:
        return _Head(len(self._offsets), self._end, self._chain, self._tree.root())

    def _check_against(self, checkpoint: Checkpoint, public_key: Any) -> None:
        if not checkpoint.verify(public_key):
            raise IntegrityError("the checkpoint's signature does not verify with public_key")
        if checkpoint.origin != self.origin:
            raise IntegrityError(
                f"checkpoint is for log {checkpoint.origin!r}, this log is {self.origin!r}"
            )
        if checkpoint.tree_size > self.size:
            raise IntegrityError(
                f"{self._path}: checkpoint covers {checkpoint.tree_size} records but the log "
                f"holds {self.size} (truncated)"
            )
        if self._tree.root(checkpoint.tree_size) != checkpoint.root_hash:
            raise IntegrityError(
                f"{self._path}: the first {checkpoint.tree_size} records do not have the root "
                "of the checkpoint (history rewritten)"
            )

    # ---------------------------------------------------------------- reading

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    @property
    def size(self) -> int:
        """Number of entries (the tree size)."""
        with self._lock:
            return len(self._offsets)

    def __len__(self) -> int:
        return self.size

    def root(self, tree_size: int | None = None) -> bytes:
        """RFC 9162 root hash of the first ``tree_size`` entries (default: all)."""
        with self._lock:
            return self._tree.root(tree_size)

    def leaf_hash(self, index: int) -> bytes:
        """Leaf hash ``SHA-256(0x00 || entry)`` of entry ``index``."""
        with self._lock:
            return self._tree.leaf_hash(index)

    def entry(self, index: int) -> bytes:
        """The bytes appended as entry ``index`` (read back from the file)."""
        with self._lock:
            self._tree.leaf_hash(index)  # validates the index
            off = self._offsets[index]
            (n,) = _LEN.unpack(os.pread(self._fd, 4, off))
            data = os.pread(self._fd, n, off + 4)
        if leaf_hash(data) != self.leaf_hash(index):
            raise IntegrityError(f"{self._path}: entry {index} changed on disk since it was opened")
        return data

    def find(self, entry: bytes) -> int | None:
        """Index of the first entry equal to ``entry``, or None."""
        with self._lock:
            return self._tree.find_leaf(leaf_hash(entry))

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Audit path of entry ``index`` in the tree of ``tree_size`` entries (default: all).

        Raises
        ------
        InvalidArgumentError
            ``index`` or ``tree_size`` out of range.
        """
        with self._lock:
            size = self.size if tree_size is None else tree_size
            return InclusionProof(index, size, self._tree.inclusion_proof(index, size))

    def consistency_proof(self, old_size: int, tree_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``tree_size`` entries (default: all) extends ``old_size``.

        Raises
        ------
        InvalidArgumentError
            A size out of range or ``old_size > tree_size``.
        """
        with self._lock:
            size = self.size if tree_size is None else tree_size
            return ConsistencyProof(old_size, size, self._tree.consistency_proof(old_size, size))

    def checkpoint(self, private_key: PrivateKey, *, now: datetime | None = None) -> Checkpoint:
        """Sign the current state (size, root, time) with the station key.

        Raises
        ------
        InvalidArgumentError, WeakCryptoError
            The key is not Ed25519 or ECDSA P-256.
        """
        with self._lock:
            return Checkpoint.sign(self.origin, self.size, self._tree.root(), private_key, now=now)

    # ---------------------------------------------------------------- writing

    def append(self, entry: bytes) -> int:
        """Durably append ``entry``; return its 0-based index once it is on disk.

        Raises
        ------
        InvalidArgumentError
            ``entry`` is not bytes, is longer than :data:`MAX_ENTRY_BYTES`, or the log is
            read-only or closed.
        OSError
            The write or fsync failed; the log is cut back to its previous end.
        """
        if not isinstance(entry, bytes | bytearray | memoryview):
            raise InvalidArgumentError(f"entry must be bytes, got {type(entry).__name__}")
        entry = bytes(entry)
        if len(entry) > MAX_ENTRY_BYTES:
            raise InvalidArgumentError(
                f"entry must be at most {MAX_ENTRY_BYTES} bytes, got {len(entry)}"
            )
        with self._lock:
            if self._read_only:
                raise InvalidArgumentError(f"{self._path} is open read-only")
            if self._fd < 0:
                raise InvalidArgumentError(f"{self._path} is closed")
            nxt = _chain(self._chain, entry)
            record = _LEN.pack(len(entry)) + entry + nxt
            start = self._end
            try:
                written = 0
                while written < len(record):
                    written += os.pwrite(self._fd, record[written:], start + written)
                os.fsync(self._fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
                raise
            index = self._tree.append(entry)
            self._offsets.append(start)
            self._end = start + len(record)
            self._chain = nxt
            _write_head(self._path, self._make_head())
            return index

    def close(self) -> None:
        """Release the lock and the file; further calls fail."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                fsync_dir(self._path.parent)

    def __enter__(self) -> TransparencyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TransparencyLog({str(self._path)!r}, origin={self.origin!r}, size={self.size})"
