"""Tests of onestop_docs.metadata: XSD validity, round trips, hostile and malformed XML."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from onestop_docs.errors import InvalidArgumentError, MetadataError
from onestop_docs.metadata import (
    DEFAULT_MAX_BYTES,
    NAMESPACE,
    PageDigest,
    RecordMetadata,
    from_xml,
    page_digest,
    schema_path,
    to_xml,
    validate_xml,
)

ICT = timezone(timedelta(hours=7))
VI = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
VI_TEXT = (
    st.text(alphabet=VI + VI.upper() + " ,.-/()0123456789", min_size=1, max_size=60)
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
CODE = st.from_regex(r"[0-9A-Za-z.\-_/]{1,40}", fullmatch=True)
HEX64 = st.binary(min_size=1, max_size=32).map(lambda b: hashlib.sha256(b).hexdigest())


def full_record() -> RecordMetadata:
    pages = tuple(
        PageDigest(
            i,
            hashlib.sha256(bytes([i])).hexdigest(),
            (("pdq", "ab" * 32), ("phash", "f0e1d2c3b4a59687")),
        )
        for i in range(1, 4)
    )
    return RecordMetadata(
        dossier_code="H42.01.02-260105-0001",
        component_code="042099001234.1.001193.01.01",
        result_code="KQ.G15.000031",
        owner_id="042099001234",
        procedure_code="1.001193",
        title="Hồ sơ đăng ký khai sinh",
        type_name="Giấy khai sinh",
        code_number="15",
        code_notation="QĐ-UBND",
        issued_date=date(2026, 1, 5),
        organ_id="H42.01.02",
        organ_name="Ủy ban nhân dân xã Thạch Hà",
        subject="Đăng ký khai sinh cho con của ông Nguyễn Văn Ạnh",
        description="Bản chính, 3 trang",
        pages=pages,
        scan_time=datetime(2026, 1, 5, 8, 30, 15, tzinfo=ICT),
        scanning_officer="Đặng Thị Ưởng",
    )


def test_generated_record_is_valid_against_the_shipped_xsd() -> None:
    xml = to_xml(full_record())
    # Reference check: the XSD loaded directly with lxml, independent of validate_xml().
    schema = etree.XMLSchema(etree.parse(schema_path()))
    assert schema.validate(etree.fromstring(xml)), schema.error_log
    validate_xml(xml)
    root = etree.fromstring(xml)
    assert root.tag == f"{{{NAMESPACE}}}DigitizedRecord" and root.get("schemaVersion") == "1.0"
    names = [etree.QName(el).localname for el in root]
    # NĐ 30/2020 Phụ lục VI names where the appendix defines the field.
    for name in (
        "TypeName",
        "CodeNumber",
        "CodeNotation",
        "IssuedDate",
        "OrganId",
        "OrganName",
        "Subject",
        "Language",
        "PageAmount",
        "Description",
        "Title",
    ):
        assert name in names


def test_round_trip_and_vietnamese_bytes() -> None:
    rec = full_record()
    xml = to_xml(rec)
    assert from_xml(xml) == rec
    assert from_xml(xml.decode("utf-8")) == rec
    for text in (rec.subject, rec.organ_name, rec.scanning_officer, rec.code_notation):
        assert text is not None and text.encode("utf-8") in xml  # UTF-8, no character references
    assert to_xml(from_xml(xml)) == xml


def test_text_gets_the_library_normal_form() -> None:
    """Regression: plain NFC cannot compose a tone mark typed before the circumflex (both
    have combining class 230), so the XML kept "ẽ" with a loose circumflex while the signature
    stamp (vntext.normalize) showed the name correctly."""
    typed = "Nguye\u0303\u0302n Thị Ánh"
    assert unicodedata.normalize("NFC", typed) != "Nguyễn Thị Ánh"
    rec = RecordMetadata(
        dossier_code="H42-260105-0001", scanning_officer=typed, organ_name="UBND xã \u00d0ông Hòa"
    )
    assert rec.scanning_officer == "Nguyễn Thị Ánh"
    assert rec.organ_name == "UBND xã Đông Hòa"  # OCR look-alike eth read as Đ
    assert from_xml(to_xml(rec)) == rec


@given(
    dossier=CODE,
    subject=st.none() | VI_TEXT,
    organ=st.none() | VI_TEXT,
    officer=st.none() | VI_TEXT.map(lambda s: s[:50].strip()).filter(bool),
    number=st.none() | st.from_regex(r"[0-9]{1,11}", fullmatch=True),
    notation=st.none() | st.from_regex(r"[A-ZĐ]{1,5}-[A-Z]{1,8}", fullmatch=True),
    issued=st.none() | st.dates(date(1945, 9, 2), date(2100, 1, 1)),
    hashes=st.lists(HEX64, max_size=5),
    minutes=st.integers(-12 * 60, 14 * 60),
)
def test_round_trip_property(
    dossier: str,
    subject: str | None,
    organ: str | None,
    officer: str | None,
    number: str | None,
    notation: str | None,
    issued: date | None,
    hashes: list[str],
    minutes: int,
) -> None:
    rec = RecordMetadata(
        dossier_code=dossier,
        subject=subject,
        organ_name=organ,
        scanning_officer=officer,
        code_number=number,
        code_notation=notation,
        issued_date=issued,
        pages=tuple(PageDigest(i + 1, h) for i, h in enumerate(hashes)),
        scan_time=datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(minutes=minutes))),
    )
    xml = to_xml(rec)
    validate_xml(xml)
    assert from_xml(xml) == rec


def test_parsing_from_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    xml = to_xml(full_record())
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(r == full_record() for r in pool.map(lambda _: from_xml(xml), range(16)))


def test_text_is_nfc_inside() -> None:
    nfd = unicodedata.normalize("NFD", "Ủy ban nhân dân")
    rec = RecordMetadata(dossier_code="X", organ_name=nfd)
    assert rec.organ_name == "Ủy ban nhân dân"
    xml = to_xml(RecordMetadata(dossier_code="X")).replace(
        b"<Language>vi</Language>", f"<OrganName>{nfd}</OrganName><Language>vi</Language>".encode()
    )
    # An NFD document from another system is read as NFC.
    assert from_xml(xml).organ_name == "Ủy ban nhân dân"


def test_document_code_follows_nd30() -> None:
    assert (
        RecordMetadata(dossier_code="X", code_number="5", code_notation="BNV-VP").document_code
        == "05/BNV-VP"
    )
    assert RecordMetadata(dossier_code="X", code_number="15").document_code is None


def test_page_digest_matches_hashlib() -> None:
    px = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    d = page_digest(px, 7, dedup_hashes=(("pdq", "00ff"),))
    assert d.sha256 == hashlib.sha256(b"2x4x3:" + px.tobytes()).hexdigest()
    assert d.number == 7 and d.dedup_hashes == (("pdq", "00ff"),)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subject": "x" * 501}, "subject is 501 characters"),
        ({"subject": ""}, "must not be empty"),
        ({"subject": " Hà"}, "whitespace"),
        ({"subject": "a\x00b"}, "control"),
        ({"dossier_code": "H42 01"}, "dossier_code"),
        ({"code_number": "15a"}, "code_number"),
        ({"scan_time": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"issued_date": datetime(2026, 1, 1, tzinfo=ICT)}, "issued_date"),
        ({"page_amount": 1000}, "page_amount"),
        ({"page_amount": 2, "pages": (PageDigest(1, "0" * 64),)}, "page_amount is 2 but 1"),
        ({"pages": (PageDigest(2, "0" * 64),)}, "numbered 1..1"),
    ],
)
def test_invalid_fields_are_refused(kwargs: dict, match: str) -> None:
    base = {"dossier_code": "H42-260105-0001"}
    base.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        RecordMetadata(**base)


def test_invalid_page_digests_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="64 lower-case hex"):
        PageDigest(1, "A" * 64)
    with pytest.raises(InvalidArgumentError, match="algorithm"):
        PageDigest(1, "0" * 64, (("PDQ!", "00"),))
    with pytest.raises(InvalidArgumentError, match=r"number must be an int in \[1, 999\], got 0"):
        PageDigest(0, "0" * 64)


# ----------------------------------------------------------------------------- hostile input

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<DigitizedRecord xmlns="urn:onestop-docs:record:1" schemaVersion="1.0">
<DossierCode>&xxe;</DossierCode></DigitizedRecord>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<DigitizedRecord xmlns="urn:onestop-docs:record:1" schemaVersion="1.0"><DossierCode>&lol9;</DossierCode></DigitizedRecord>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE DigitizedRecord SYSTEM "http://example.invalid/record.dtd">
<DigitizedRecord xmlns="urn:onestop-docs:record:1" schemaVersion="1.0"/>"""


@pytest.mark.parametrize(
    "doc", [XXE, LAUGHS, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"]
)
def test_hostile_xml_is_refused(doc: bytes) -> None:
    with pytest.raises(MetadataError, match="DTD"):
        from_xml(doc)
    with pytest.raises(MetadataError):
        validate_xml(doc)


def test_oversized_xml_is_refused_before_parsing() -> None:
    xml = to_xml(full_record())
    with pytest.raises(MetadataError, match="above the limit"):
        from_xml(xml, max_bytes=len(xml) - 1)
    assert from_xml(xml, max_bytes=len(xml)) == full_record()
    huge = b"<a>" + b"x" * DEFAULT_MAX_BYTES + b"</a>"
    with pytest.raises(MetadataError, match="above the limit"):
        from_xml(huge)


@pytest.mark.parametrize(
    "doc, match",
    [
        (b"", "malformed"),
        (b"<DigitizedRecord", "malformed"),
        (b"\xff\xfe<", "malformed"),
        (b'<DigitizedRecord schemaVersion="1.0"/>', "root element"),
        (
            b'<r:DigitizedRecord xmlns:r="urn:onestop-docs:record:1" schemaVersion="2.0"/>',
            "schemaVersion",
        ),
        (b'<r:DigitizedRecord xmlns:r="urn:onestop-docs:record:1" schemaVersion="1.0"/>', "schema"),
    ],
)
def test_malformed_xml_gives_metadata_error(doc: bytes, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        from_xml(doc)


def test_schema_violations_are_reported_with_the_line() -> None:
    xml = to_xml(full_record()).replace(
        b"<PageAmount>3</PageAmount>", b"<PageAmount>three</PageAmount>"
    )
    with pytest.raises(MetadataError, match=r"line \d+"):
        from_xml(xml)
    dup = to_xml(full_record()).replace(b'number="2"', b'number="1"')
    with pytest.raises(MetadataError):
        from_xml(dup)
    wrong_count = to_xml(full_record()).replace(
        b"<PageAmount>3</PageAmount>", b"<PageAmount>4</PageAmount>"
    )
    with pytest.raises(MetadataError, match="inconsistent"):
        from_xml(wrong_count)


def test_record_with_hundreds_of_keyed_pages_reads_back() -> None:
    # A version-2 document key with its fine bitmaps took 85-130 KB with the zlib body,
    # which is still read (the context coder makes it 26-49 KB, docs/dedup.md): 300 pages
    # carrying 130 KB keys make 52 MB of base64, which the 32 MiB limit of key version 1
    # refused, so a long dossier could be written but not verified.
    key = random.Random(5).randbytes(130_000)
    rec = RecordMetadata(
        dossier_code="H42.01.02-260105-0001",
        pages=tuple(
            PageDigest(
                i + 1,
                hashlib.sha256(bytes([i % 256, i // 256])).hexdigest(),
                document_key=key,
                document_key_version=2,
            )
            for i in range(300)
        ),
    )
    xml = to_xml(rec)
    assert len(xml) > 32 << 20
    back = from_xml(xml)
    assert len(back.pages) == 300 and back.pages[-1].document_key == key
