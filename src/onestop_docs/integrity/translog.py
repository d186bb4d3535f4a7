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

import contextlib
import fcntl
import hashlib
import os
import struct
import threading
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._fileutil import atomic_write_bytes, fsync_dir
from ..errors import IndexFormatError, IntegrityError, InvalidArgumentError
from .checkpoint import Checkpoint, check_origin
from .merkle import ConsistencyProof, InclusionProof, MerkleTree, leaf_hash

if TYPE_CHECKING:
    from .checkpoint import PrivateKey, PublicKey

__all__ = ["MAX_ENTRY_BYTES", "LogRecovery", "TransparencyLog"]

MAGIC = b"ODTLOG\x00\x01"
#: Largest entry accepted by :meth:`TransparencyLog.append` (entries are hashes or short
#: descriptors; the bound also stops a corrupt length field from allocating gigabytes).
MAX_ENTRY_BYTES = 1 << 20
_HEAD_MAGIC = "onestop_docs-tlog-head 1"
_DEFAULT_ORIGIN = "onestop_docs transparency log"
_LEN = struct.Struct(">I")


def _chain(prev: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + prev + _LEN.pack(len(entry)) + entry).digest()


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
        Open for reading and proofs only: no lock is taken (a writer may be appending),
        nothing is written or repaired, and records past the head are reported in
        :attr:`recovery` rather than repaired.
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
        A writer is opened while another writer holds the log.

    Attributes
    ----------
    origin : str
        The log identity stored in its header.
    recovery : LogRecovery or None
        What was repaired on open, or None when the log was clean.

    Notes
    -----
    One object may be shared by the threads of a kiosk server (every method takes an
    internal lock).  Between processes an ``flock`` keeps one writer at a time; any number of
    ``read_only`` readers may open the log while it is being written.
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
            self._create(check_origin(origin if origin is not None else _DEFAULT_ORIGIN))
        self._fd = os.open(self._path, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC)
        try:
            if not read_only:
                # One writer at a time.  Readers take no lock: the log only grows, and they
                # read the head before the data, so they always see a committed prefix.
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise BlockingIOError(
                        exc.errno, f"transparency log {self._path} is open in another writer"
                    ) from exc
            self._load(torn_tail)
            if origin is not None and check_origin(origin) != self.origin:
                raise InvalidArgumentError(
                    f"{self._path} has origin {self.origin!r}, not {origin!r}"
                )
            if checkpoint is not None:
                self._check_against(checkpoint, public_key)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
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
        head = _read_head(self._path)  # before the data: a live writer only adds records
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

        chain = data[hlen - 32 : hlen]
        committed_chain, committed_end = chain, hlen  # state after head.size records
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
                committed_chain, committed_end = chain, pos
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
            want = self._tree.leaf_hash(index)  # also validates the index
            off = self._offsets[index]
            (n,) = _LEN.unpack(os.pread(self._fd, 4, off))
            data = os.pread(self._fd, n, off + 4)
        if leaf_hash(data) != want:
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

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> TransparencyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TransparencyLog({str(self._path)!r}, origin={self.origin!r}, size={self.size})"
