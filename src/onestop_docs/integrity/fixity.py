"""SHA-256 fixity of files: streaming digests and parallel hashing of many files.

``hashlib`` releases the GIL while it hashes any buffer larger than 2 KiB, and reading a
file releases it too, so plain threads hash several files at once on several cores.  A
file is read into one reusable buffer of :data:`CHUNK_BYTES` (1 MiB) per thread with
``readinto``: no per-chunk allocation, few system calls, and the OpenSSL SHA-256 (with the
CPU's SHA extensions where present) sees large blocks.

Digests are lowercase hexadecimal strings, the form ``sha256sum`` and BagIt manifests use.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.txt").write_bytes(b"abc")
>>> sha256_file(d / "a.txt")
'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
>>> [(h.path.name, h.size, h.sha256[:8]) for h in hash_files([d / "a.txt"], workers=1)]
[('a.txt', 3, 'ba7816bf')]
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["CHUNK_BYTES", "FileHash", "default_workers", "hash_files", "sha256_file"]

#: Read size per ``readinto`` call.  1 MiB pays the fixed cost of a read (system call, GIL
#: hand-off, Python call) once per MiB while the buffer still fits in the L2/L3 cache.
CHUNK_BYTES = 1 << 20

# Algorithms a manifest may name and hashlib always provides (FIPS 180-4).
_KNOWN_ALGORITHMS = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})

_local = threading.local()


def _buffer() -> memoryview:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = memoryview(bytearray(CHUNK_BYTES))
        _local.buf = buf
    return buf  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class FileHash:
    """Digest of one file.

    Attributes
    ----------
    path : pathlib.Path
        The file, as given by the caller.
    size : int
        Number of bytes hashed.
    sha256 : str
        Lowercase hexadecimal SHA-256 digest of the content.
    """

    path: Path
    size: int
    sha256: str


def _digest_file(path: str | os.PathLike[str], algorithms: Sequence[str]) -> tuple[list[str], int]:
    """Hash ``path`` once with every algorithm in ``algorithms``; return (hex digests, size)."""
    hashers = [hashlib.new(a) for a in algorithms]
    buf = _buffer()
    size = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        while True:
            n = os.readv(fd, (buf,))  # readinto without a file object; releases the GIL
            if n == 0:
                break
            if size == 0 and n == len(buf) and hasattr(os, "posix_fadvise"):
                # A large file: ask for aggressive read-ahead.  Small files skip the call,
                # one system call (and GIL hand-off) fewer per file.
                with contextlib.suppress(OSError):  # e.g. pipes
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            size += n
            chunk = buf[:n]
            for h in hashers:
                h.update(chunk)
    finally:
        os.close(fd)
    return [h.hexdigest() for h in hashers], size


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a file's content as lowercase hex, reading it in 1 MiB chunks.

    Memory use is constant (one 1 MiB buffer per thread); the GIL is released while the file
    is read and hashed, so other threads keep running.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (or anything ``os.open`` can read to its end, e.g. a FIFO).

    Returns
    -------
    str
        64 lowercase hexadecimal characters, identical to ``sha256sum``'s first column.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError, OSError
        The file cannot be opened or read.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "empty.pdf"
    >>> _ = p.write_bytes(b"")
    >>> sha256_file(p)
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    return _digest_file(path, ("sha256",))[0][0]


def default_workers() -> int:
    """Thread count used when ``workers=None``: the usable CPUs, at most 8.

    Hashing is CPU-bound once files are in the page cache, so more threads than cores only
    add switching; 8 caps the open files and buffers on large servers.

    Examples
    --------
    >>> 1 <= default_workers() <= 8
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be a positive integer or None, got {workers!r}")
    return workers


def _digest_many(
    paths: Sequence[str | os.PathLike[str]], algorithms: Sequence[str], workers: int
) -> list[tuple[list[str], int]]:
    """Hash every path with ``algorithms`` on ``workers`` threads; results in input order.

    Threads pull the next index from a shared counter (``next`` on ``itertools.count`` is
    atomic under the GIL), which costs far less per file than one executor future each.
    The first error stops the other threads and is re-raised.
    """
    n = len(paths)
    results: list[tuple[list[str], int] | None] = [None] * n
    if n == 0:
        return []
    workers = min(workers, n)
    if workers == 1:
        return [_digest_file(p, algorithms) for p in paths]
    counter = itertools.count()
    errors: list[BaseException] = []

    def run() -> None:
        while not errors:
            i = next(counter)
            if i >= n:
                return
            try:
                results[i] = _digest_file(paths[i], algorithms)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=run, name=f"hash_files-{k}") for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


def hash_files(
    paths: Iterable[str | os.PathLike[str]], *, workers: int | None = None
) -> list[FileHash]:
    """SHA-256 many files in parallel threads.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files to hash.  Duplicates are hashed again (each input gets one result).
    workers : int or None, default None
        Number of threads; ``None`` means :func:`default_workers` (usable CPUs, at most 8).
        ``1`` hashes in the calling thread.

    Returns
    -------
    list of FileHash
        One result per input path, **in input order**.

    Raises
    ------
    InvalidArgumentError
        ``workers`` is not a positive integer.
    FileNotFoundError, IsADirectoryError, PermissionError, OSError
        A file cannot be read; the first such error is raised after the other threads stop.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> files = []
    >>> for i in range(3):
    ...     files.append(d / f"trang_{i}.png")
    ...     _ = files[-1].write_bytes(bytes([i]) * 10)
    >>> [h.size for h in hash_files(files, workers=2)]
    [10, 10, 10]
    """
    nworkers = _check_workers(workers)
    plist = [Path(p) for p in paths]
    out = _digest_many(plist, ("sha256",), nworkers)
    return [FileHash(p, size, digests[0]) for p, (digests, size) in zip(plist, out)]
