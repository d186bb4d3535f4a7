"""BagIt 1.0 bags (RFC 8493): write and validate SHA-256 payload and tag manifests.

A bag is a directory with ``bagit.txt``, a ``data/`` payload directory, one
``manifest-<alg>.txt`` per algorithm listing every payload file, ``bag-info.txt`` and
``tagmanifest-<alg>.txt`` over the tag files.  Conventions used here:

* Manifest lines are ``<hex digest>␣␣<path>``; paths are relative, ``/``-separated,
  UTF-8, and CR, LF and ``%`` are percent-encoded (``%0D``, ``%0A``, ``%25``), those
  characters and only those (RFC 8493 §2.1.3).  Reading a bag that declares a version
  below 1.0 decodes only ``%0D``/``%0A``, as bagit-python does for the 0.97 bags it
  writes; ``%`` in those bags is literal.
* File names are written exactly as they are on disk (no Unicode normalisation).  When
  validating, a manifest entry that differs from a file only in Unicode normalisation
  (e.g. NFD names written on macOS) matches it, as RFC 8493 §3 recommends tolerating.
* ``bagit.txt`` is exactly two lines, ``BagIt-Version: M.N`` and
  ``Tag-File-Character-Encoding: UTF-8``, without a byte-order mark (RFC 8493 §2.1.1);
  major version 1 (0.9x bags are read too, as bagit-python does), not 2 or above.
* Every file of a bag must be a regular file or directory: symbolic links (of tag files,
  ``bagit.txt`` or ``data/`` too), FIFOs, devices and sockets anywhere in the bag are refused
  when writing and reported when validating, and never followed or opened.
* Numbers (``Payload-Oxum``, the version) are bounded; work is bounded by
  :class:`BagLimits` (manifest lines, tag file size, directory entries).
* ``Payload-Oxum`` (octets.files) is written and checked.  ``fetch.txt`` (holey bags) is
  not supported: such a bag is reported as a problem.
* Validity needs at least one SHA-256, SHA-384 or SHA-512 payload manifest
  (TT 15/2025/TT-BKHCN: no hash weaker than SHA-256 for integrity); MD5/SHA-1 manifests
  from other tools are still checked but do not count.

Examples
--------
>>> import pathlib, tempfile
>>> src = pathlib.Path(tempfile.mkdtemp())
>>> _ = (src / "Giấy khai sinh.pdf").write_bytes(b"%PDF-1.7 ...")
>>> bag = Manifest.create(src.parent / (src.name + "-bag"), source=src)
>>> sorted(bag.entries)
['data/Giấy khai sinh.pdf']
>>> Manifest.validate(bag.path).valid
True
>>> _ = (bag.path / "data" / "Giấy khai sinh.pdf").write_bytes(b"altered")
>>> Manifest.validate(bag.path).altered
('data/Giấy khai sinh.pdf',)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from .._fileutil import atomic_write_bytes, fsync_dir
from .._validate import check_int
from ..errors import InvalidArgumentError, LimitExceededError
from .fixity import _check_workers, _digest_many

__all__ = ["BagLimits", "BagReport", "Manifest"]

BAGIT_VERSION = "1.0"
#: Algorithms this module writes and accepts as making a bag valid (FIPS 180-4 SHA-2).
STRONG_ALGORITHMS = ("sha256", "sha384", "sha512")
_CHECKABLE = frozenset({"md5", "sha1", "sha224", *STRONG_ALGORITHMS})
_HEX = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_ENC = re.compile(r"[%\r\n]")
_DEC_V1 = re.compile(r"%(25|0[aA]|0[dD])")
_DEC_V0 = re.compile(r"%(0[aA]|0[dD])")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


def encode_path(path: str) -> str:
    """Percent-encode CR, LF and ``%`` in a manifest path (RFC 8493 §2.1.3).

    Examples
    --------
    >>> encode_path("data/100% xong\\n.pdf")
    'data/100%25 xong%0A.pdf'
    """
    return _ENC.sub(lambda m: f"%{ord(m.group()):02X}", path)


def decode_path(text: str, version: tuple[int, int] = (1, 0)) -> str:
    """Inverse of :func:`encode_path`; for bags older than 1.0 only ``%0D``/``%0A``.

    Examples
    --------
    >>> decode_path("data/100%25 xong%0a.pdf")
    'data/100% xong\\n.pdf'
    >>> decode_path("data/100%25.pdf", (0, 97))
    'data/100%25.pdf'
    """
    pattern = _DEC_V1 if version >= (1, 0) else _DEC_V0
    return pattern.sub(lambda m: chr(int(m.group(1), 16)), text)


@dataclass(frozen=True, slots=True)
class BagReport:
    """Result of :meth:`Manifest.validate`.

    Attributes
    ----------
    path : pathlib.Path
        The bag directory.
    valid : bool
        True when the bag is complete and every checksum matches, with no problems.
    version : str or None
        ``BagIt-Version`` from ``bagit.txt`` (None when unreadable).
    missing : tuple of str
        Files listed in a manifest or tag manifest but absent (bag-relative paths).
    extra : tuple of str
        Payload files under ``data/`` listed in no payload manifest.
    altered : tuple of str
        Files whose content does not match a listed checksum (payload and tag files).
    problems : tuple of str
        Every other defect, in words: missing ``bagit.txt``, unsafe paths, a file absent
        from one of several manifests, a wrong ``Payload-Oxum``, no SHA-2 manifest, ...
    files_checked : int
        Number of files hashed.
    """

    path: Path
    valid: bool
    version: str | None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    files_checked: int = 0


@dataclass(frozen=True)
class Manifest:
    """A BagIt bag on disk: its payload manifest and bag-info (RFC 8493).

    Build one with :meth:`create`, read one with :meth:`load`, check one with
    :meth:`validate`.

    Attributes
    ----------
    path : pathlib.Path
        The bag directory.
    version : str
        ``BagIt-Version``.
    algorithm : str
        Algorithm of :attr:`entries` (``"sha256"`` when the bag has it).
    entries : Mapping[str, str]
        Bag-relative payload path (``"data/..."``, decoded) → hex digest.
    bag_info : tuple of (str, str)
        ``bag-info.txt`` labels and values in file order (labels may repeat).
    """

    path: Path
    version: str
    algorithm: str
    entries: Mapping[str, str] = field(repr=False)
    bag_info: tuple[tuple[str, str], ...] = ()

    # ------------------------------------------------------------------ create

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        *,
        source: str | os.PathLike[str] | None = None,
        move: bool = False,
        bag_info: Mapping[str, str | Sequence[str]] | None = None,
        algorithms: Sequence[str] = ("sha256",),
        workers: int | None = None,
    ) -> Manifest:
        """Write a BagIt 1.0 bag in ``directory`` and return it.

        Where the payload comes from:

        * ``source=`` given: the files under ``source`` are **copied** into
          ``directory/data/`` (``directory`` must be missing or empty); ``source`` is
          not touched.
        * ``directory/data/`` exists: it is the payload, bagged in place; tag files
          (``bagit.txt``, manifests, ``bag-info.txt``) are (re)written.
        * otherwise, only with ``move=True``: everything in ``directory`` is moved into
          ``directory/data/`` (what ``bagit.make_bag`` always does).  Without it nothing
          is moved and :class:`InvalidArgumentError` is raised.

        Parameters
        ----------
        directory : str or os.PathLike
            The bag directory.
        source : str or os.PathLike, optional
            Directory whose files are copied in as the payload.
        move : bool, default False
            Allow moving the files of ``directory`` into ``data/``.
        bag_info : mapping, optional
            Extra ``bag-info.txt`` fields (label → value or list of values), e.g.
            ``{"Source-Organization": "UBND phường Bến Nghé"}``; NFC-normalised.
            ``Bagging-Date``, ``Bag-Software-Agent`` default to today and this library;
            ``Payload-Oxum`` is always computed.
        algorithms : sequence of str, default ("sha256",)
            Manifest algorithms, from ``sha256``, ``sha384``, ``sha512``.
        workers : int or None
            Hashing threads (see :func:`~onestop_docs.integrity.hash_files`).

        Returns
        -------
        Manifest

        Raises
        ------
        InvalidArgumentError
            Bad options, no payload without ``move=True``, a non-empty target with
            ``source``, a symbolic link, a name that cannot be written to a manifest
            (not UTF-8, or ending in white space), or a bad ``bag_info`` field.
        OSError
            Reading, copying or writing failed.
        """
        algs = _check_algorithms(algorithms)
        nworkers = _check_workers(workers)
        info = _check_bag_info(bag_info)
        bag = Path(directory)
        data = bag / "data"
        if source is not None:
            if move:
                raise InvalidArgumentError("pass either source= (copy) or move=True, not both")
            src = Path(source)
            if not src.is_dir():
                raise InvalidArgumentError(f"source {src} is not a directory")
            if bag.exists() and any(bag.iterdir()):
                raise InvalidArgumentError(f"{bag} must be missing or empty when copying a source")
            if bag.resolve().is_relative_to(src.resolve()):
                raise InvalidArgumentError(f"the bag {bag} must not be inside its source {src}")
            rels = _payload_files(src, prefix="")
            bag.mkdir(parents=True, exist_ok=True)
            for rel in rels:
                dst = data / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dst)
        elif not data.is_dir():
            if not bag.is_dir():
                raise InvalidArgumentError(f"{bag} is not a directory")
            if not move:
                raise InvalidArgumentError(
                    f"{bag} has no data/ payload directory; pass move=True to move its files "
                    "into data/, or source= to copy files from elsewhere"
                )
            _payload_files(bag, prefix="")  # refuse unbaggable names before moving anything
            tmp = Path(tempfile.mkdtemp(dir=bag, prefix=".bagging-"))
            for child in sorted(bag.iterdir()):
                if child != tmp:
                    os.rename(child, tmp / child.name)
            os.rename(tmp, data)
            fsync_dir(bag)

        rels = ["data/" + r for r in _payload_files(data, prefix="")]
        for kind in ("manifest", "tagmanifest"):  # stale manifests of a previous bagging
            for alg in _manifest_algorithms(bag, kind) - set(algs):
                (bag / f"{kind}-{alg}.txt").unlink()
        digests = _digest_many([bag / r for r in rels], algs, nworkers)
        octets = sum(size for _, size in digests)
        for k, alg in enumerate(algs):
            lines = [f"{d[k]}  {encode_path(r)}\n" for r, (d, _) in zip(rels, digests)]
            atomic_write_bytes(bag / f"manifest-{alg}.txt", "".join(lines).encode())
        atomic_write_bytes(
            bag / "bagit.txt",
            f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode(),
        )
        from .. import __version__

        # Re-bagging keeps the descriptive fields of an existing bag-info.txt unless the
        # caller gives the same labels; the computed ones are always renewed.
        given = {k.lower() for k, _ in info}
        renewed = {"payload-oxum", "bagging-date", "bag-software-agent"}
        kept = [
            (k, v)
            for k, v in _read_bag_info(bag, BagLimits())[0]
            if k.lower() not in given and k.lower() not in renewed
        ]
        info = kept + info
        fields: list[tuple[str, str]] = []
        if not any(k.lower() == "bagging-date" for k, _ in info):
            fields.append(("Bagging-Date", date.today().isoformat()))
        if not any(k.lower() == "bag-software-agent" for k, _ in info):
            fields.append(("Bag-Software-Agent", f"onestop_docs {__version__}"))
        fields += [(k, v) for k, v in info if k.lower() != "payload-oxum"]
        fields.append(("Payload-Oxum", f"{octets}.{len(rels)}"))
        atomic_write_bytes(bag / "bag-info.txt", "".join(f"{k}: {v}\n" for k, v in fields).encode())

        tags = _tag_files(bag)
        tag_digests = _digest_many([bag / t for t in tags], algs, nworkers)
        for k, alg in enumerate(algs):
            lines = [f"{d[k]}  {encode_path(t)}\n" for t, (d, _) in zip(tags, tag_digests)]
            atomic_write_bytes(bag / f"tagmanifest-{alg}.txt", "".join(lines).encode())
        return cls(
            bag,
            BAGIT_VERSION,
            algs[0],
            MappingProxyType({r: d[0] for r, (d, _) in zip(rels, digests)}),
            tuple(fields),
        )

    # ------------------------------------------------------------------ load

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, limits: BagLimits | None = None
    ) -> Manifest:
        """Read a bag's declaration, payload manifest and bag-info without hashing.

        Uses the SHA-256 manifest when present, else the strongest one.

        Parameters
        ----------
        directory : str or os.PathLike
            The bag directory.
        limits : BagLimits, optional
            Default :class:`BagLimits`.

        Raises
        ------
        InvalidArgumentError
            ``directory`` is not a bag (no readable ``bagit.txt`` or no manifest), or a
            manifest line is malformed.
        LimitExceededError
            A manifest or tag file is beyond ``limits``.
        """
        limits = _check_limits(limits)
        bag = Path(directory)
        decl, problem = _read_declaration(bag, limits)
        if decl is None:
            raise InvalidArgumentError(f"{bag} is not a bag: {problem}")
        version, vt = decl
        manifests = _manifest_algorithms(bag, "manifest")
        if not manifests:
            raise InvalidArgumentError(f"{bag} is not a bag: no manifest-<algorithm>.txt")
        order = ["sha256", "sha512", "sha384", *sorted(manifests)]
        alg = next(a for a in order if a in manifests)
        try:
            entries, problems = _parse_manifest(bag / f"manifest-{alg}.txt", alg, vt, limits)
        except _BagLimitReached as exc:
            raise exc.as_error() from None
        if problems:
            raise InvalidArgumentError(f"{bag}: {problems[0]}")
        info, _ = _read_bag_info(bag, limits)
        return cls(bag, version, alg, MappingProxyType(entries), tuple(info))

    # ------------------------------------------------------------------ validate

    @staticmethod
    def validate(
        directory: str | os.PathLike[str],
        *,
        workers: int | None = None,
        completeness_only: bool = False,
        limits: BagLimits | None = None,
        require_sha2: bool = True,
    ) -> BagReport:
        """Check a bag: structure, completeness, every checksum, tag manifests, Oxum.

        Never raises for a defective bag; every defect is in the report, including a
        limit of ``limits`` that stopped the check early.

        Parameters
        ----------
        directory : str or os.PathLike
            The bag directory.
        workers : int or None
            Hashing threads.
        completeness_only : bool, default False
            Check presence of files and Payload-Oxum only, no hashing.
        limits : BagLimits, optional
            Default :class:`BagLimits`.
        require_sha2 : bool, default True
            A bag is valid only with a SHA-256/384/512 payload manifest (TT 15/2025).  False
            judges by RFC 8493 alone (MD5 and SHA-1 manifests suffice), as the BagIt
            conformance suite does.

        Returns
        -------
        BagReport

        Raises
        ------
        InvalidArgumentError
            ``directory`` is not a directory, or ``workers`` or ``limits`` is invalid.
        """
        nworkers = _check_workers(workers)
        limits = _check_limits(limits)
        bag = Path(directory)
        if not bag.is_dir():
            raise InvalidArgumentError(f"{bag} is not a directory")
        decl, problem = _read_declaration(bag, limits)
        if decl is None:
            return BagReport(bag, False, None, problems=(problem,))
        try:
            return _validate(bag, decl, nworkers, completeness_only, limits, require_sha2)
        except _BagLimitReached as exc:
            return BagReport(bag, False, decl[0], problems=(exc.as_problem(),))


def _check_limits(limits: BagLimits | None) -> BagLimits:
    if limits is None:
        return BagLimits()
    if not isinstance(limits, BagLimits):
        raise InvalidArgumentError(f"limits must be BagLimits, got {type(limits).__name__}")
    return limits


def _validate(
    bag: Path,
    decl: tuple[str, tuple[int, int]],
    nworkers: int,
    completeness_only: bool,
    limits: BagLimits,
    require_sha2: bool,
) -> BagReport:
    version, vt = decl
    problems: list[str] = []
    tree = _scan(bag, limits)
    problems += [f"{p}: symbolic link in the bag, not followed" for p in tree.links]
    problems += [f"{p}: not a regular file (FIFO, device or socket)" for p in tree.special]
    data_dir = os.path.lexists(bag / "data") and stat.S_ISDIR(os.lstat(bag / "data").st_mode)
    if not data_dir:
        problems.append("data/ payload directory is missing")
    if os.path.lexists(bag / "fetch.txt"):
        problems.append("fetch.txt (a holey bag) is not supported; fetch the files first")

    # ---- payload manifests
    manifests, expected = _read_manifests(bag, "manifest", vt, problems, limits)
    if not manifests:
        problems.append("no payload manifest (manifest-<algorithm>.txt)")
    elif require_sha2 and not any(a in manifests for a in STRONG_ALGORITHMS):
        problems.append(
            "no SHA-256/384/512 payload manifest (MD5/SHA-1 alone is too weak, TT 15/2025/TT-BKHCN)"
        )
    checked_algs = [a for a in sorted(manifests) if a in _CHECKABLE]

    on_disk = sorted(p for p in tree.files if p.startswith("data/"))
    disk_set = set(on_disk)
    # Match manifest names to disk names, tolerating Unicode normalisation differences.
    nfc_disk: dict[str, str] = {}
    for p in on_disk:
        nfc_disk.setdefault(unicodedata.normalize("NFC", p), p)
    resolved: dict[str, str] = {}  # manifest path -> disk path
    missing: list[str] = []
    for p in expected:
        if p in disk_set:
            resolved[p] = p
        elif (q := nfc_disk.get(unicodedata.normalize("NFC", p))) is not None:
            resolved[p] = q
        else:
            missing.append(p)
    matched = set(resolved.values())
    extra = sorted(p for p in on_disk if p not in matched)
    for p, listed in expected.items():
        lacking = [a for a in checked_algs if a not in listed]
        if lacking:
            problems.append(f"{p} is not listed in manifest-{lacking[0]}.txt")

    # ---- Payload-Oxum
    info, info_problems = _read_bag_info(bag, limits)
    problems += info_problems
    oxum = [v for k, v in info if k.lower() == "payload-oxum"]
    if oxum:
        # 20 digits hold any real payload (10^20 bytes); more is hostile, not a count.
        m = re.fullmatch(r"([0-9]{1,20})\.([0-9]{1,20})", oxum[0].strip())
        if m is None:
            problems.append(f"bag-info.txt: malformed Payload-Oxum {oxum[0][:80]!r}")
        else:
            octets = 0
            for p in on_disk:
                with contextlib.suppress(OSError):
                    octets += os.lstat(bag / p).st_size
            declared = (int(m.group(1)), int(m.group(2)))
            if declared != (octets, len(on_disk)):
                problems.append(
                    f"Payload-Oxum is {declared[0]}.{declared[1]} but the payload has "
                    f"{octets}.{len(on_disk)} (octets.files)"
                )

    # ---- tag manifests
    _, tag_expected = _read_manifests(bag, "tagmanifest", vt, problems, limits)
    for p in tag_expected:
        if p not in tree.files:
            missing.append(p)

    # ---- hashing (only files the scan saw as regular: nothing is reached through a link)
    altered: list[str] = []
    checked = 0
    if not completeness_only:
        jobs = [(p, resolved[p], expected[p]) for p in sorted(resolved)]
        jobs += [(p, p, d) for p, d in sorted(tag_expected.items()) if p in tree.files]
        by_algs: dict[tuple[str, ...], list[tuple[str, str, dict[str, str]]]] = {}
        for job in jobs:
            by_algs.setdefault(tuple(sorted(job[2])), []).append(job)
        for algs, group in by_algs.items():
            try:
                results = _digest_many([bag / disk for _, disk, _ in group], algs, nworkers)
            except OSError as exc:
                problems.append(f"cannot read a file: {exc}")
                continue
            checked += len(group)
            for (name, _, want), (got, _) in zip(group, results):
                if any(want[a].lower() != g for a, g in zip(algs, got)):
                    altered.append(name)
    ok = not (problems or missing or extra or altered)
    return BagReport(
        bag,
        ok,
        version,
        tuple(sorted(missing)),
        tuple(extra),
        tuple(sorted(altered)),
        tuple(problems),
        checked,
    )


# ---------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class BagLimits:
    """Bounds on the work :meth:`Manifest.validate` and :meth:`Manifest.load` do on a bag.

    A bag may come from anyone; these keep a hostile one from using unbounded time or memory.

    Attributes
    ----------
    max_manifest_lines : int
        Most lines read from one manifest or tag manifest, default 1,000,000 (a 1 M-line
        manifest takes about 5 s and 500 MB to check).
    max_tag_file_bytes : int
        Largest tag file read (``bagit.txt``, manifests, ``bag-info.txt``), default 128 MiB.
    max_entries : int
        Most directory entries walked in the bag, default 1,000,000.

    Examples
    --------
    >>> BagLimits().max_manifest_lines
    1000000
    """

    max_manifest_lines: int = 1_000_000
    max_tag_file_bytes: int = 128 * 1024 * 1024
    max_entries: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("max_manifest_lines", "max_tag_file_bytes", "max_entries"):
            check_int(getattr(self, name), f"BagLimits.{name}", 1)


class _BagLimitReached(Exception):
    def __init__(self, setting: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.maximum = maximum

    def as_error(self) -> LimitExceededError:
        return LimitExceededError(
            str(self), limit=f"BagLimits.{self.setting}", maximum=self.maximum
        )

    def as_problem(self) -> str:
        return f"{self} (limit BagLimits.{self.setting}={self.maximum})"


@dataclass
class _Tree:
    """What a bag directory holds, read without following any link."""

    files: set[str] = field(default_factory=set)  # regular files, bag-relative
    links: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # FIFOs, devices, sockets


def _scan(bag: Path, limits: BagLimits) -> _Tree:
    """Every entry of the bag, by lstat: symbolic links are listed, never followed."""
    tree = _Tree()
    todo = [("", os.fspath(bag))]
    seen = 0
    while todo:
        prefix, directory = todo.pop()
        with os.scandir(directory) as it:
            for entry in it:
                seen += 1
                if seen > limits.max_entries:
                    raise _BagLimitReached(
                        "max_entries",
                        limits.max_entries,
                        f"the bag has more than {limits.max_entries} directory entries",
                    )
                rel = prefix + entry.name
                if entry.is_symlink():
                    tree.links.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    todo.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    tree.files.add(rel)
                else:
                    tree.special.append(rel)
    tree.links.sort()
    tree.special.sort()
    return tree


def _read_tag(path: Path, limits: BagLimits) -> bytes:
    """A tag file's bytes: never through a link, never from a FIFO or device, bounded.

    Raises
    ------
    FileNotFoundError
        Absent.
    OSError
        A link, not a regular file, or unreadable.
    _BagLimitReached
        Larger than ``limits.max_tag_file_bytes``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(f"{path.name} is a symbolic link, not followed") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if st.st_size > limits.max_tag_file_bytes:
            raise _BagLimitReached(
                "max_tag_file_bytes",
                limits.max_tag_file_bytes,
                f"{path.name} is {st.st_size} bytes",
            )
        data = fh.read(limits.max_tag_file_bytes + 1)
    if len(data) > limits.max_tag_file_bytes:
        raise _BagLimitReached(
            "max_tag_file_bytes", limits.max_tag_file_bytes, f"{path.name} grew while read"
        )
    return data


def _check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(algorithms, str):
        algorithms = (algorithms,)
    algs = tuple(dict.fromkeys(a.lower() for a in algorithms))
    if not algs or any(a not in STRONG_ALGORITHMS for a in algs):
        raise InvalidArgumentError(
            f"algorithms must be a non-empty subset of {STRONG_ALGORITHMS}, got {algorithms!r}"
        )
    return algs


def _check_bag_info(
    bag_info: Mapping[str, str | Sequence[str]] | None,
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for label, value in (bag_info or {}).items():
        if (
            not isinstance(label, str)
            or not label
            or label != label.strip()
            or ":" in label
            or any(c in label for c in "\r\n")
        ):
            raise InvalidArgumentError(
                f"bag-info labels are one line without ':' or outer spaces, got {label!r}"
            )
        values: Iterable[str] = [value] if isinstance(value, str) else value
        for v in values:
            if not isinstance(v, str) or any(c in v for c in "\r\n"):
                raise InvalidArgumentError(
                    f"bag-info value for {label!r} must be one line, got {v!r}"
                )
            out.append(
                (unicodedata.normalize("NFC", label), unicodedata.normalize("NFC", v.strip()))
            )
    return out


def _walk(root: Path, prefix: str) -> tuple[list[str], list[str]]:
    """Regular files under ``root`` as ``prefix + relative posix path``; and the rest
    (symbolic links, FIFOs, devices, sockets)."""
    files: list[str] = []
    links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        base = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                links.append(prefix + base + d)
                dirnames.remove(d)
        for f in filenames:
            full = os.path.join(dirpath, f)
            if os.path.islink(full) or not os.path.isfile(full):  # a link, FIFO or device
                links.append(prefix + base + f)
            else:
                files.append(prefix + base + f)
    files.sort()
    return files, sorted(links)


def _payload_files(root: Path, prefix: str) -> list[str]:
    files, links = _walk(root, prefix)
    if links:
        raise InvalidArgumentError(
            "symbolic links, FIFOs and devices cannot be bagged (a bag must be "
            f"self-contained regular files): {links[0]!r}"
        )
    for f in files:
        try:
            f.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"file name {f!r} is not valid UTF-8 and cannot be written to a manifest"
            ) from exc
        if f != f.rstrip():
            raise InvalidArgumentError(
                f"file name {f!r} ends in white space, which BagIt manifests cannot keep"
            )
    return files


def _tag_files(bag: Path) -> list[str]:
    """Every file outside data/ except the tag manifests themselves."""
    out: list[str] = []
    for entry in sorted(os.listdir(bag)):
        full = bag / entry
        if entry == "data" or entry.startswith("tagmanifest-") or entry.startswith(".bagging-"):
            continue
        if full.is_symlink():
            continue
        if full.is_file():
            out.append(entry)
        elif full.is_dir():
            out += _walk(full, entry + "/")[0]
    return out


def _split_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return _LINE_SPLIT.split(text)


def _read_declaration(
    bag: Path, limits: BagLimits
) -> tuple[tuple[str, tuple[int, int]] | None, str]:
    """``bagit.txt``: exactly two lines, no BOM, major version 0 or 1 (RFC 8493 §2.1.1)."""
    try:
        raw = _read_tag(bag / "bagit.txt", limits)
    except FileNotFoundError:
        return None, "bagit.txt is missing"
    except _BagLimitReached as exc:
        return None, exc.as_problem()
    except OSError as exc:
        return None, f"bagit.txt is unreadable: {exc}"
    if raw.startswith(b"\xef\xbb\xbf"):
        return None, "bagit.txt starts with a byte-order mark, which RFC 8493 §2.1.1 forbids"
    try:
        lines = _LINE_SPLIT.split(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"bagit.txt is not UTF-8: {exc}"
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != 2:
        return None, f"bagit.txt must have exactly two lines (RFC 8493 §2.1.1), found {len(lines)}"
    m = re.fullmatch(r"BagIt-Version: ([0-9]{1,4})\.([0-9]{1,4})[ \t]*", lines[0])
    if m is None:
        return None, f"bagit.txt line 1 must be 'BagIt-Version: M.N', found {lines[0][:80]!r}"
    e = re.fullmatch(r"Tag-File-Character-Encoding: (\S+)[ \t]*", lines[1])
    if e is None:
        return None, (
            f"bagit.txt line 2 must be 'Tag-File-Character-Encoding: ENCODING', "
            f"found {lines[1][:80]!r}"
        )
    version = f"{m.group(1)}.{m.group(2)}"
    vt = (int(m.group(1)), int(m.group(2)))
    if vt[0] > 1:
        return None, f"BagIt-Version {version} is not supported (RFC 8493 is major version 1)"
    if e.group(1).upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        return None, f"bagit.txt: tag files in {e.group(1)!r} are not supported (only UTF-8)"
    return (version, vt), ""


def _manifest_algorithms(bag: Path, kind: str) -> set[str]:
    out = set()
    for name in os.listdir(bag):
        m = re.fullmatch(kind + r"-([A-Za-z0-9]+)\.txt", name)
        if m and stat.S_ISREG(os.lstat(bag / name).st_mode):  # links are reported, not read
            out.add(m.group(1).lower())
    return out


def _safe(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "" not in parts


def _parse_manifest(
    file: Path, alg: str, version: tuple[int, int], limits: BagLimits
) -> tuple[dict[str, str], list[str]]:
    entries: dict[str, str] = {}
    problems: list[str] = []
    try:
        raw = _read_tag(file, limits)
        # Count line ends before decoding and splitting: a hostile manifest stops here.
        ends = max(raw.count(b"\n"), raw.count(b"\r"))
        if ends + (not raw.endswith((b"\n", b"\r"))) > limits.max_manifest_lines:
            raise _BagLimitReached(
                "max_manifest_lines",
                limits.max_manifest_lines,
                f"{file.name} has more than {limits.max_manifest_lines} lines",
            )
        lines = _split_lines(raw)
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{file.name} is unreadable: {exc}"]
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > limits.max_manifest_lines:
        raise _BagLimitReached(
            "max_manifest_lines",
            limits.max_manifest_lines,
            f"{file.name} has {len(lines)} lines",
        )
    width = _HEX.get(alg)
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = re.fullmatch(r"([0-9A-Fa-f]+)[ \t]+\*?(.+)", line)
        if m is None or (width is not None and len(m.group(1)) != width):
            problems.append(f"{file.name} line {no}: not '<{alg} hex> <path>': {line[:80]!r}")
            continue
        path = decode_path(m.group(2), version)
        if path.startswith("./"):
            path = path[2:]
        if not _safe(path):
            problems.append(f"{file.name} line {no}: unsafe path {path!r} (absolute or '..')")
            continue
        if path in entries and entries[path] != m.group(1).lower():
            problems.append(f"{file.name} lists {path!r} twice with different checksums")
        elif path in entries:
            problems.append(f"{file.name} lists {path!r} twice")
        entries[path] = m.group(1).lower()
    return entries, problems


def _read_manifests(
    bag: Path, kind: str, version: tuple[int, int], problems: list[str], limits: BagLimits
) -> tuple[set[str], dict[str, dict[str, str]]]:
    """The algorithms of every ``<kind>-<alg>.txt`` and path -> {alg: digest} over the
    checkable ones; payload manifests list only ``data/`` files, tag manifests only others.
    Defects are appended to ``problems``."""
    payload = kind == "manifest"
    algs = _manifest_algorithms(bag, kind)
    expected: dict[str, dict[str, str]] = {}
    for alg in sorted(algs):
        name = f"{kind}-{alg}.txt"
        if alg not in _CHECKABLE:
            problems.append(f"{name}: unsupported algorithm, not checked")
            continue
        entries, errs = _parse_manifest(bag / name, alg, version, limits)
        problems += errs
        for p, d in entries.items():
            if p.startswith("data/") != payload:
                problems.append(
                    f"{name} lists {p!r} outside data/"
                    if payload
                    else f"{name} lists payload file {p!r}"
                )
                continue
            expected.setdefault(p, {})[alg] = d
    return algs, expected


def _read_bag_info(bag: Path, limits: BagLimits) -> tuple[list[tuple[str, str]], list[str]]:
    try:
        lines = _split_lines(_read_tag(bag / "bag-info.txt", limits))
    except FileNotFoundError:
        return [], []
    except _BagLimitReached as exc:
        return [], [exc.as_problem()]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"bag-info.txt is unreadable: {exc}"]
    out: list[tuple[str, str]] = []
    problems: list[str] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line[0] in " \t" and out:  # continuation of a folded value
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            out.append((k.strip(), v.strip()))
        else:
            problems.append(f"bag-info.txt line {no}: expected 'Label: value'")
    return out, problems
