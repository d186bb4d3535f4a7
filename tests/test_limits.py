"""Every documented limit on untrusted input, tested at the limit and one past it.

| input | limit (default) | past it |
|---|---|---|
| bag manifest | ``BagLimits.max_manifest_lines`` (1,000,000) | problem / ``LimitExceededError`` |
| bag tag file | ``BagLimits.max_tag_file_bytes`` (128 MiB) | problem |
| bag directory entries | ``BagLimits.max_entries`` (1,000,000) | problem |
| PDF content operators per page | ``Rules.max_operators`` (1,000,000) | ``limit`` finding |
| PDF objects | ``Rules.max_objects`` (1,000,000) | ``limit`` finding |
| PDF nesting | ``Rules.max_nesting`` (64) | ``limit`` finding |
| PDF decoded content stream | ``Rules.max_stream_bytes`` (256 MiB) | ``limit`` finding |
| metadata XML size | ``from_xml(max_bytes=)`` (1 MiB) | ``MetadataError`` |
| XML depth | libxml2 without ``XML_PARSE_HUGE`` (256 levels) | ``MetadataError`` |
| image pixels | ``load_pages(max_pixels=)`` (120 Mpx) | ``ImageTooLargeError`` |
"""

from __future__ import annotations

import io
from pathlib import Path

import hostile_pdfs
import numpy as np
import pikepdf
import pytest

from onestop_docs.compliance import Rules, check_record
from onestop_docs.errors import ImageTooLargeError, LimitExceededError, MetadataError
from onestop_docs.imageio import DEFAULT_MAX_PIXELS, load_pages, save_page
from onestop_docs.integrity.bag import BagLimits, Manifest

# ----------------------------------------------------------------------------- bags


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.txt").write_text(f"tệp {i}")
    return Manifest.create(tmp_path / "bag", source=src).path


def test_limit_defaults() -> None:
    limits = BagLimits()
    assert (limits.max_manifest_lines, limits.max_tag_file_bytes, limits.max_entries) == (
        1_000_000,
        128 * 1024 * 1024,
        1_000_000,
    )
    rules = Rules()
    assert (rules.max_operators, rules.max_objects, rules.max_nesting) == (1_000_000,) * 2 + (64,)
    assert rules.max_stream_bytes == 256 * 1024 * 1024
    assert DEFAULT_MAX_PIXELS == 120_000_000


def test_manifest_lines_at_the_limit(bag: Path) -> None:
    assert Manifest.validate(bag, limits=BagLimits(max_manifest_lines=5)).valid
    report = Manifest.validate(bag, limits=BagLimits(max_manifest_lines=4))
    assert not report.valid
    assert "limit BagLimits.max_manifest_lines=4" in report.problems[0]
    assert Manifest.load(bag, limits=BagLimits(max_manifest_lines=5)).entries
    with pytest.raises(LimitExceededError) as info:
        Manifest.load(bag, limits=BagLimits(max_manifest_lines=4))
    assert info.value.limit == "BagLimits.max_manifest_lines" and info.value.maximum == 4


def test_tag_file_size_at_the_limit(bag: Path) -> None:
    size = max((bag / name).stat().st_size for name in ("bag-info.txt", "manifest-sha256.txt"))
    size = max(size, (bag / "tagmanifest-sha256.txt").stat().st_size)
    assert Manifest.validate(bag, limits=BagLimits(max_tag_file_bytes=size)).valid
    report = Manifest.validate(bag, limits=BagLimits(max_tag_file_bytes=size - 1))
    assert not report.valid
    assert any("BagLimits.max_tag_file_bytes" in p for p in report.problems)


def test_directory_entries_at_the_limit(bag: Path) -> None:
    # bagit.txt, bag-info.txt, 2 manifests, data/ and its 5 files
    entries = sum(1 for _ in bag.rglob("*"))
    assert entries == 10
    assert Manifest.validate(bag, limits=BagLimits(max_entries=entries)).valid
    report = Manifest.validate(bag, limits=BagLimits(max_entries=entries - 1))
    assert report.problems == (
        "the bag has more than 9 directory entries (limit BagLimits.max_entries=9)",
    )


def test_a_million_line_manifest_stops_at_the_default(tmp_path: Path) -> None:
    bag = tmp_path / "big"
    (bag / "data").mkdir(parents=True)
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    line = "0" * 64 + "  data/x\n"
    (bag / "manifest-sha256.txt").write_text(line * 1_000_001)
    report = Manifest.validate(bag)
    assert report.problems == (
        "manifest-sha256.txt has more than 1000000 lines (limit BagLimits.max_manifest_lines=1000000)",
    )


# ----------------------------------------------------------------------------- PDFs

PLAIN = {"require_officer_signature": False, "require_metadata": False}


def _limits_of(path: Path, **rules: int) -> list[str]:
    report = check_record(path, rules=Rules(**PLAIN, **rules))  # type: ignore[arg-type]
    return [f.message for f in report.findings if f.rule == "limit"]


def test_operators_at_the_limit(tmp_path: Path) -> None:
    # The base page draws with 4 operators (q cm Do Q); 300 q/Q pairs add 600.
    content = f"q {hostile_pdfs.A4_PT[0]} 0 0 {hostile_pdfs.A4_PT[1]} 0 0 cm /Im0 Do Q"
    path = hostile_pdfs.write_case(
        tmp_path, "ops", hostile_pdfs._content((content + " q Q" * 300).encode()), False
    )
    assert _limits_of(path, max_operators=604) == []
    (message,) = _limits_of(path, max_operators=603)
    assert "more than 603 content-stream operators" in message and "Rules.max_operators" in message


def test_objects_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "base.pdf"
    hostile_pdfs.base_pdf(path)
    with pikepdf.open(path) as pdf:
        count = len(pdf.objects)
    assert _limits_of(path, max_objects=count) == []
    (message,) = _limits_of(path, max_objects=count - 1)
    assert "Rules.max_objects" in message


def test_nesting_at_the_limit(tmp_path: Path) -> None:
    # The catalog holds /OpenAction: 20 GoTo actions linked by direct /Next entries, then
    # JavaScript.  The JavaScript dictionary sits 21 levels below the catalog.
    path = hostile_pdfs.write_case(tmp_path, "chain", hostile_pdfs._next_chain(20), False)
    report = check_record(path, rules=Rules(**PLAIN, max_nesting=21))  # type: ignore[arg-type]
    assert "active-content" in {f.rule for f in report.errors}
    assert not [f for f in report.findings if f.rule == "limit"]
    (message,) = _limits_of(path, max_nesting=20)
    assert "nests more than 20 deep" in message and "Rules.max_nesting" in message


def test_stream_bytes_at_the_limit(tmp_path: Path) -> None:
    import zlib

    data = b" " * 10_000
    path = tmp_path / "base.pdf"
    hostile_pdfs.base_pdf(path)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        stream = pikepdf.Stream(pdf, zlib.compress(data))
        stream.Filter = pikepdf.Name.FlateDecode
        pdf.pages[0].obj.Contents = pdf.make_indirect(stream)
        pdf.save(path)
    assert _limits_of(path, max_stream_bytes=10_000) == []
    (message,) = _limits_of(path, max_stream_bytes=9_999)
    assert "more than 9999 bytes" in message and "Rules.max_stream_bytes" in message


# ----------------------------------------------------------------------------- XML


def test_metadata_xml_size_at_the_limit() -> None:
    from onestop_docs.metadata import from_xml

    doc = b"<a>" + b" " * 100 + b"</a>"
    with pytest.raises(MetadataError, match="above the limit of 106"):
        from_xml(doc, max_bytes=len(doc) - 1)
    with pytest.raises(MetadataError) as info:  # at the limit: parsed (and then not a record)
        from_xml(doc, max_bytes=len(doc))
    assert "above the limit" not in str(info.value)


def test_xml_depth_at_libxml2_limit() -> None:
    from onestop_docs.metadata import from_xml

    def nested(depth: int) -> bytes:
        return b"<a>" * depth + b"</a>" * depth

    with pytest.raises(MetadataError) as deep:
        from_xml(nested(257))
    assert "depth" in str(deep.value).lower()
    with pytest.raises(MetadataError) as ok:
        from_xml(nested(256))
    assert "depth" not in str(ok.value).lower()


# ----------------------------------------------------------------------------- image pixels


def test_image_pixels_at_the_limit() -> None:
    buf = io.BytesIO()
    save_page(np.zeros((30, 40), np.uint8), buf, format="png")
    assert next(load_pages(buf.getvalue(), max_pixels=1200)).height == 30
    with pytest.raises(ImageTooLargeError, match="max_pixels=1199"):
        next(load_pages(buf.getvalue(), max_pixels=1199))
