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
import functools
import hashlib
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .._validate import check_int

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


# Constructors looked up once: ``hashlib.new(name)`` resolves the name on every call, with
# the GIL held, which measurably limits thread scaling over many small files.
_CONSTRUCTORS = {name: getattr(hashlib, name) for name in sorted(_KNOWN_ALGORITHMS)}
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_sha256 = hashlib.sha256


def _sha256_and_size(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 (hex) and size of one file: the hot path of :func:`hash_files`.

    Per small file this is four system calls (open, read, read at EOF, close) and one
    GIL-free ``update``; the Python around them runs with the GIL held, which bounds how far
    threads scale over many small files, so it is kept to the minimum.
    """
    h = _sha256()
    buf = _buffer()
    size = 0
    fd = os.open(path, _OPEN_FLAGS)
    try:
        while n := os.readv(fd, (buf,)):  # readinto without a file object; releases the GIL
            if n == CHUNK_BYTES and size == 0:
                _advise_sequential(fd)
            size += n
            h.update(buf[:n])
    finally:
        os.close(fd)
    return h.hexdigest(), size


def _advise_sequential(fd: int) -> None:
    # A large file: ask for aggressive read-ahead (small files skip the call).
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # e.g. pipes
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)


def _digest_file(path: str | os.PathLike[str], algorithms: Sequence[str]) -> tuple[list[str], int]:
    """Hash ``path`` once with every algorithm in ``algorithms``; return (hex digests, size)."""
    hashers = [_CONSTRUCTORS[a]() for a in algorithms]
    buf = _buffer()
    size = 0
    fd = os.open(path, _OPEN_FLAGS)
    try:
        while n := os.readv(fd, (buf,)):
            if n == CHUNK_BYTES and size == 0:
                _advise_sequential(fd)
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
    return _sha256_and_size(path)[0]


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
    return check_int(workers, "workers", 1)


_T = TypeVar("_T")


def _map_threads(
    fn: Callable[[str | os.PathLike[str]], _T],
    paths: Sequence[str | os.PathLike[str]],
    workers: int,
) -> list[_T]:
    """``[fn(p) for p in paths]`` on ``workers`` threads; results in input order.

    Threads pull the next index from a shared counter (``next`` on ``itertools.count`` is
    atomic under the GIL), which costs far less per file than one executor future each.
    The first error stops the other threads and is re-raised.
    """
    n = len(paths)
    workers = min(workers, n)
    if workers <= 1:
        return [fn(p) for p in paths]
    results: list[_T | None] = [None] * n
    counter = itertools.count()
    errors: list[BaseException] = []

    def run() -> None:
        while not errors:
            i = next(counter)
            if i >= n:
                return
            try:
                results[i] = fn(paths[i])
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


def _digest_many(
    paths: Sequence[str | os.PathLike[str]], algorithms: Sequence[str], workers: int
) -> list[tuple[list[str], int]]:
    """Hash every path with every algorithm on ``workers`` threads; results in input order."""
    algs = tuple(algorithms)
    if algs == ("sha256",):
        return [([d], size) for d, size in _map_threads(_sha256_and_size, paths, workers)]
    return _map_threads(functools.partial(_digest_file, algorithms=algs), paths, workers)


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
    # Copying Path objects (or converting them to str) costs ~2 µs each with the GIL held;
    # over 10,000 files that serial time is a tenth of the whole job, so keep them as given.
    plist = [p if isinstance(p, Path) else Path(p) for p in paths]
    out = _map_threads(_sha256_and_size, plist, nworkers)
    return [FileHash(p, size, digest) for p, (digest, size) in zip(plist, out)]
