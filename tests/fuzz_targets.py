"""Fuzz targets: a valid seed per input kind, a byte mutator, and the public entry point.

Each :class:`Target` makes one small valid input (``seed``) and feeds mutated bytes to the
public entry points that read that kind of input (``run``).  The only acceptable outcomes
are a result or one of the documented typed errors (``allowed``), within ``TIME_BOUND_S``.

Used by ``tests/test_fuzz.py`` (hypothesis, and the regression corpus in
``tests/data/fuzz/<target>/``) and by ``tests/test_fuzz_boundscheck.py`` (the same inputs
through kernels built with bounds checks).
"""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from onestop_docs.errors import OnestopError

#: Seconds one call may take on a fuzz input (CI machines are slow; a hang is minutes).
TIME_BOUND_S = 20.0
CORPUS = Path(__file__).parent / "data" / "fuzz"

# Values that break parsers more often than random bytes do.
_INTERESTING = [
    b"0",
    b"-1",
    b"4294967295",
    b"18446744073709551616",
    b"9" * 5000,
    b"1e308",
    b"nan",
    b"/Name",
    b"(str)",
    b"[",
    b"]",
    b"<<",
    b">>",
    b"\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\r\n",
    b"%",
    b"../",
    b"\xef\xbb\xbf",
    b"<!DOCTYPE a [<!ENTITY x 'y'>]>",
    "Đ".encode(),
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after 1-4 random edits: flip, overwrite, insert, delete, splice, truncate."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "dup", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            piece = draw(st.sampled_from(_INTERESTING) | st.binary(min_size=1, max_size=8))
            data[at:at] = piece
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "dup":
            n = draw(st.integers(1, 64))
            data[at:at] = data[at : at + n]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@dataclass(frozen=True)
class Target:
    """One kind of input: how to make a valid one and how to feed one to the library."""

    name: str
    seed: Callable[[], bytes]
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...] = (OnestopError,)


# ----------------------------------------------------------------------------- seeds


def _pdf_seed() -> bytes:
    import hostile_pdfs

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "seed.pdf"
        hostile_pdfs.base_pdf(path, pdfa_claim=True)
        return path.read_bytes()


def _tiff_seed() -> bytes:
    from PIL import Image

    rng = np.random.default_rng(1)
    frames = [
        Image.fromarray(rng.integers(0, 256, (12, 9, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 256, (7, 5), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 2, (16, 16), dtype=np.uint8) * 255).convert("1"),
    ]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    return buf.getvalue()


def _png_seed() -> bytes:
    from PIL import Image

    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 65536, (9, 11), dtype=np.uint16)).save(
        buf, format="PNG", dpi=(300, 300)
    )
    return buf.getvalue()


def _xml_seed() -> bytes:
    from test_pdf import record

    from onestop_docs.metadata import to_xml

    return to_xml(record(page_amount=2))


def _index_seed() -> bytes:
    from onestop_docs.dedup import HashIndex

    index = HashIndex(64)
    index.add([1, 2, 3], ["00" * 8, "0f" * 8, "ff" * 8])
    with tempfile.TemporaryDirectory() as d:
        index.save(Path(d) / "i.idx")
        return (Path(d) / "i.idx").read_bytes()


def _key_seed() -> bytes:
    # a small real document key (coarse and fine bitmaps, context-coded body)
    from onestop_docs.dedup import document_key

    page = np.full((700, 500), 250, np.uint8)
    for i in range(12):
        page[60 + 45 * i : 66 + 45 * i, 50 : 150 + 25 * (i % 7)] = 20
    return document_key(page, dpi=72).to_bytes()


def _log_seed() -> bytes:
    from onestop_docs.integrity import TransparencyLog

    with tempfile.TemporaryDirectory() as d:
        with TransparencyLog(Path(d) / "t.log") as log:
            for i in range(3):
                log.append(f"record {i}".encode())
        return (Path(d) / "t.log").read_bytes()


def _bag_seed() -> bytes:
    """The bag's three tag files joined by a separator line (one mutable byte string)."""
    return (
        _BAG_MANIFEST
        + _SEP
        + _BAG_INFO
        + _SEP
        + b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )


_SEP = b"\n=====\n"
_BAG_PAYLOAD = {"data/a.txt": b"hello", "data/d/b.txt": "hồ sơ".encode()}
_BAG_MANIFEST = (
    b"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  data/a.txt\n"
    + __import__("hashlib").sha256("hồ sơ".encode()).hexdigest().encode()
    + b"  data/d/b.txt\n"
)
_BAG_INFO = b"Payload-Oxum: 13.2\nBagging-Date: 2026-01-05\n"


def _codes_seed() -> bytes:
    return "H56.14-240823-0001\n000.00.00.H27-210630-0001\n15/2026/QĐ-UBND".encode()


# ----------------------------------------------------------------------------- runners


def _run_pdf(data: bytes) -> object:
    from onestop_docs.compliance import Rules, check_record

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.pdf"
        path.write_bytes(data)
        rules = Rules(require_officer_signature=False, require_metadata=False)
        return check_record(path, rules=rules)


def _run_image(data: bytes) -> object:
    from onestop_docs.dedup import page_hash
    from onestop_docs.imageio import count_pages, load_pages

    hashes = []
    with contextlib.suppress(OnestopError):
        count_pages(data)
    for page in load_pages(data, max_pixels=4_000_000):
        if min(page.width, page.height) >= 2:
            hashes.append(page_hash(page))  # the decoded pixels through the hash kernels
    return hashes


@functools.cache
def _demo_root() -> bytes:
    """A throwaway trust root, made once per run (key generation is slow)."""
    from onestop_docs.signing import demo_pki

    with tempfile.TemporaryDirectory() as d:
        return demo_pki(d).root_cert_path.read_bytes()


def _run_xml(data: bytes) -> object:
    from onestop_docs.metadata import from_xml

    try:
        from onestop_docs.signing.xml import verify_xml
    except ImportError:  # the sign extra is optional
        verify_xml = None
    if verify_xml is not None:
        report = verify_xml(data, trust_roots=[_demo_root()])
        assert not report.valid  # nothing here is signed
    return from_xml(data)


def _run_index(data: bytes) -> object:
    from onestop_docs.dedup import HashIndex

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "i.idx"
        path.write_bytes(data)
        for mmap in (False, True):
            index = HashIndex.open(path, mmap=mmap, verify=True)
            found = index.nearest("0f" * 8, k=3)
            del index
        return found


def _run_key(data: bytes) -> object:
    # as someone who can write the store would: the CRC is made to match the mutated bytes
    import zlib

    from onestop_docs.dedup import DocumentKey

    if len(data) > 4:
        data = data[:-4] + zlib.crc32(data[:-4]).to_bytes(4, "little")
    return DocumentKey.from_bytes(data)


def _run_log(data: bytes) -> object:
    from onestop_docs.integrity import TransparencyLog
    from onestop_docs.integrity.checkpoint import Checkpoint

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.log"
        path.write_bytes(data)
        for torn in ("raise", "truncate"):
            try:
                with TransparencyLog(path, torn_tail=torn) as log:  # type: ignore[arg-type]
                    if log.size:
                        log.inclusion_proof(log.size - 1).verify(
                            log.leaf_hash(log.size - 1), log.root()
                        )
            except OnestopError:
                pass
        with contextlib.suppress(OnestopError):
            Checkpoint.from_bytes(data)
    return None


def _run_bag(data: bytes) -> object:
    from onestop_docs.integrity import Manifest

    parts = data.split(_SEP)
    parts += [b""] * (3 - len(parts))
    with tempfile.TemporaryDirectory() as d:
        bag = Path(d) / "bag"
        for rel, content in _BAG_PAYLOAD.items():
            (bag / rel).parent.mkdir(parents=True, exist_ok=True)
            (bag / rel).write_bytes(content)
        for name, content in zip(
            ("manifest-sha256.txt", "bag-info.txt", "bagit.txt"), parts[:3], strict=True
        ):
            (bag / name).write_bytes(content)
        report = Manifest.validate(bag)
        with contextlib.suppress(OnestopError):
            Manifest.load(bag)
        shutil.rmtree(bag)
        return report


def _run_codes(data: bytes) -> object:
    from onestop_docs.codes import DossierCode
    from onestop_docs.codes.dossier import validate_dossier_codes

    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    flags = validate_dossier_codes(lines)
    for line, ok in zip(lines, flags.tolist(), strict=True):
        try:
            DossierCode.parse(line)
            parsed = True
        except OnestopError:
            parsed = False
        # The kernel checks syntax, date and sequence only: it never rejects a parsed code.
        assert ok or not parsed, line
    return flags


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("pdf", _pdf_seed, _run_pdf),
        Target("tiff", _tiff_seed, _run_image),
        Target("png", _png_seed, _run_image),
        Target("xml", _xml_seed, _run_xml),
        Target("index", _index_seed, _run_index),
        Target("key", _key_seed, _run_key),
        Target("log", _log_seed, _run_log),
        Target("bag", _bag_seed, _run_bag, allowed=()),  # validate never raises
        Target("codes", _codes_seed, _run_codes),
    )
}


def corpus_files() -> list[tuple[str, Path]]:
    """(target name, file) for every kept input under ``tests/data/fuzz/<target>/``."""
    out = []
    for name in sorted(TARGETS):
        folder = CORPUS / name
        if folder.is_dir():
            out += [(name, p) for p in sorted(folder.iterdir()) if p.is_file()]
    return out


def mutate_with(rng: np.random.Generator, seed: bytes) -> bytes:
    """One random mutation of ``seed`` like :func:`mutated`, driven by a numpy generator
    (for runs outside hypothesis, e.g. the bounds-checked kernels)."""
    data = bytearray(seed)
    for _ in range(int(rng.integers(1, 5))):
        kind = int(rng.integers(0, 6))
        at = int(rng.integers(0, max(1, len(data))))
        if kind == 0 and data:
            data[at] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1 and data:
            data[at] = int(rng.integers(0, 256))
        elif kind == 2:
            data[at:at] = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
        elif kind == 3:
            del data[at : at + int(rng.integers(1, 17))]
        elif kind == 4:
            data[at:at] = data[at : at + int(rng.integers(1, 65))]
        else:
            del data[at:]
    return bytes(data)
