"""Metadata XML of a digitized record (dữ liệu đặc tả của kết quả số hóa): model, XML, XSD.

A :class:`RecordMetadata` holds what TT 01/2023/TT-VPCP Điều 4 and §6 of the project's rules ask
a scan station to keep for reuse: the dossier code (mã số hồ sơ), the component or result code,
the owner's identifier, the procedure code, the document number and notation (số, ký hiệu), issue
date, issuing body, subject (trích yếu), page count, one SHA-256 and optional dedup hashes per
page, scan time, scanning officer and software version.

The XML form is versioned: namespace ``urn:onestop-docs:record:1``, root ``DigitizedRecord``
with ``schemaVersion="1.0"``, schema ``data/record-1.0.xsd`` shipped in the package.  Element
names follow NĐ 30/2020/NĐ-CP Phụ lục VI where it defines the field (``CodeNumber``,
``CodeNotation``, ``IssuedDate``, ``OrganId``, ``OrganName``, ``Subject``, ``PageAmount``, ...).

Parsing is hardened: input above ``max_bytes`` is refused before parsing, any DTD (and so any
entity declaration: XXE, "billion laughs") is refused, no network access, no entity expansion.
All text is in the library's normal form (:func:`onestop_docs.vntext.normalize`: NFC with
Vietnamese mark-order repair); such text survives :func:`to_xml` / :func:`from_xml` byte for byte.

Examples
--------
>>> from datetime import date
>>> from onestop_docs.metadata import RecordMetadata, to_xml, from_xml, validate_xml
>>> rec = RecordMetadata(dossier_code="H42.01.02-260105-0001", subject="Cấp giấy khai sinh",
...                      code_number="15", code_notation="QĐ-UBND", issued_date=date(2026, 1, 5),
...                      page_amount=2)
>>> xml = to_xml(rec)
>>> validate_xml(xml)
>>> from_xml(xml) == rec
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from ._deps import require_module
from ._validate import check_int
from .errors import InvalidArgumentError, MetadataError
from .vntext import normalize

if TYPE_CHECKING:
    from lxml import etree as _etree

__all__ = [
    "DEFAULT_MAX_BYTES",
    "NAMESPACE",
    "SCHEMA_VERSION",
    "PageDigest",
    "RecordMetadata",
    "from_xml",
    "page_digest",
    "schema_path",
    "to_xml",
    "validate_xml",
]

#: XML namespace of schema version 1.x.
NAMESPACE = "urn:onestop-docs:record:1"
#: Value of the ``schemaVersion`` attribute written by :func:`to_xml`.
SCHEMA_VERSION = "1.0"
#: Largest metadata document :func:`from_xml` accepts.  A 999-page record is about 200 KiB
#: without document keys; a version-2 document key (with its fine bitmaps) is 85-130 KB,
#: 115-175 KB in base64, so a 999-page record with keys stays under 180 MB.  (32 MiB, the
#: limit before key version 2, held only about 190 keyed pages.)
DEFAULT_MAX_BYTES = 192 << 20

_SOFTWARE = "onestop_docs"
_NS = "{" + NAMESPACE + "}"
_HEX = re.compile(r"[0-9a-f]+")
_ALGO = re.compile(r"[a-z0-9][a-z0-9\-]{0,31}")
_CODE = re.compile(r"[0-9A-Za-z.\-_/]{1,100}")

# Maximum lengths from NĐ 30/2020 Phụ lục VI (OrganId widened to 35 by Sửa đổi 1:2022 QCVN 102).
_MAX_LEN = {
    "owner_id": 35,
    "title": 500,
    "type_name": 100,
    "code_notation": 30,
    "organ_id": 35,
    "organ_name": 200,
    "subject": 500,
    "language": 30,
    "description": 500,
    "scanning_officer": 50,
}
_MAX_KEY_BYTES = 262144  # a version-2 document key (fine bitmaps) takes 85-130 KB
_CODE_FIELDS = ("dossier_code", "component_code", "result_code", "procedure_code")


def _package_version() -> str:
    from . import __version__

    return __version__


def _nfc(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__}")
    text = normalize(value)  # NFC with Vietnamese mark-order repair, the library's rule
    if text != text.strip():
        raise InvalidArgumentError(f"{name} must not start or end with whitespace, got {value!r}")
    if not text:
        raise InvalidArgumentError(f"{name} must not be empty")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidArgumentError(f"{name} must not contain control characters, got {value!r}")
    return text


@dataclass(frozen=True)
class PageDigest:
    """Fixity of one physical page: its 1-based ``number``, SHA-256 and optional dedup hashes.

    Attributes
    ----------
    number : int
        1-based physical page number (order of the paper, TT 01/2023 Điều 8 k2c).
    sha256 : str
        Lower-case hex SHA-256 of the page's pixel data as defined by :func:`page_digest`
        (or of any byte string the caller documents).
    dedup_hashes : tuple of (algorithm, hex) pairs
        Perceptual hashes for duplicate detection, e.g. ``(("pdq", "..."),)``; at most 8.
    blank : bool
        The page was detected as blank and kept (pages are never dropped, rules §6.1).
    file_sha256 : str or None
        SHA-256 of the file the page was scanned into, when known (finds re-uploads of the
        same file).
    document_key : bytes or None
        The page's document key (:mod:`onestop_docs.reuse`), so a reuse store can be rebuilt
        from the archive; written base64-encoded.  At most 262144 bytes.
    document_key_version : int or None
        Version of ``document_key`` (required with it).
    """

    number: int
    sha256: str
    dedup_hashes: tuple[tuple[str, str], ...] = ()
    blank: bool = False
    file_sha256: str | None = None
    document_key: bytes | None = field(default=None, repr=False)
    document_key_version: int | None = None

    def __post_init__(self) -> None:
        check_int(self.number, "PageDigest.number", 1, 999)
        if (
            not isinstance(self.sha256, str)
            or len(self.sha256) != 64
            or not _HEX.fullmatch(self.sha256)
        ):
            raise InvalidArgumentError(
                f"PageDigest.sha256 must be 64 lower-case hex digits, got {self.sha256!r}"
            )
        hashes = tuple((str(a), str(h)) for a, h in self.dedup_hashes)
        if len(hashes) > 8:
            raise InvalidArgumentError(f"at most 8 dedup hashes per page, got {len(hashes)}")
        for algo, digest in hashes:
            if not _ALGO.fullmatch(algo):
                raise InvalidArgumentError(
                    f"dedup hash algorithm must match {_ALGO.pattern}, got {algo!r}"
                )
            if not (1 <= len(digest) <= 256 and _HEX.fullmatch(digest)):
                raise InvalidArgumentError(
                    f"dedup hash {algo} must be lower-case hex, got {digest!r}"
                )
        object.__setattr__(self, "dedup_hashes", hashes)
        if self.file_sha256 is not None and (
            not isinstance(self.file_sha256, str)
            or len(self.file_sha256) != 64
            or not _HEX.fullmatch(self.file_sha256)
        ):
            raise InvalidArgumentError(
                f"PageDigest.file_sha256 must be 64 lower-case hex digits, got {self.file_sha256!r}"
            )
        if (self.document_key is None) != (self.document_key_version is None):
            raise InvalidArgumentError(
                "PageDigest.document_key and document_key_version go together"
            )
        if self.document_key is not None:
            if not isinstance(self.document_key, bytes | bytearray) or not (
                1 <= len(self.document_key) <= _MAX_KEY_BYTES
            ):
                raise InvalidArgumentError(
                    f"PageDigest.document_key must be 1..{_MAX_KEY_BYTES} bytes"
                )
            object.__setattr__(self, "document_key", bytes(self.document_key))
            check_int(self.document_key_version, "PageDigest.document_key_version", 0, 65535)


@dataclass(frozen=True)
class RecordMetadata:
    """Dữ liệu đặc tả of one digitized document (one PDF record).

    Text fields are normalised on construction (:func:`onestop_docs.vntext.normalize`: NFC
    with Vietnamese mark-order repair); empty strings are refused (use ``None``).

    Attributes
    ----------
    dossier_code : str
        Mã số hồ sơ (TT 01/2018/TT-VPCP Điều 19), e.g. ``"H42.01.02-260105-0001"``.
    component_code, result_code, procedure_code : str or None
        Mã thành phần hồ sơ, mã kết quả (số hóa / TTHC, e.g. ``"KQ.G15.000031"``), mã TTHC.
    owner_id : str or None
        Owner's identifier (số định danh cá nhân, mã số doanh nghiệp); personal data, so it is
        written to the XML only, never to the PDF's XMP.
    title, type_name, subject, description : str or None
        NĐ 30 Phụ lục VI ``Title`` (500), ``TypeName`` (100), ``Subject`` (trích yếu, 500),
        ``Description`` (500).
    code_number, code_notation : str or None
        Số and ký hiệu of the document: ``"15"`` and ``"QĐ-BNV"`` for "Số: 15/QĐ-BNV".
    issued_date : datetime.date or None
        Ngày ban hành.
    organ_id, organ_name : str or None
        Issuing body: electronic agency identifier (≤ 35) and name (≤ 200).
    language : str
        ``"vi"`` by default.
    page_amount : int or None
        Number of physical pages (0..999).  ``None`` means ``len(pages)``; when both are given
        and pages are listed they must agree.
    pages : tuple of PageDigest
        Per-page fixity, numbered 1..n in order (may be empty when not computed).
    scan_time : datetime or None
        Time of scanning, timezone-aware.
    scanning_officer : str or None
        Full name of the officer who scanned (cán bộ sao chụp), ≤ 50.
    software_name, software_version : str
        Producer; default this library and its version.

    Raises
    ------
    InvalidArgumentError
        A field is of the wrong type, too long, not NFC-representable, or inconsistent.

    Examples
    --------
    >>> RecordMetadata(dossier_code="H42-260105-0001").page_amount
    0
    """

    dossier_code: str
    component_code: str | None = None
    result_code: str | None = None
    owner_id: str | None = None
    procedure_code: str | None = None
    title: str | None = None
    type_name: str | None = None
    code_number: str | None = None
    code_notation: str | None = None
    issued_date: date | None = None
    organ_id: str | None = None
    organ_name: str | None = None
    subject: str | None = None
    language: str = "vi"
    description: str | None = None
    page_amount: int | None = None
    pages: tuple[PageDigest, ...] = ()
    scan_time: datetime | None = None
    scanning_officer: str | None = None
    software_name: str = _SOFTWARE
    software_version: str = field(default_factory=_package_version)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                value = _nfc(value, f"RecordMetadata.{f.name}")
                object.__setattr__(self, f.name, value)
                limit = _MAX_LEN.get(f.name)
                if limit is not None and len(value) > limit:
                    raise InvalidArgumentError(
                        f"RecordMetadata.{f.name} is {len(value)} characters, at most {limit} "
                        "allowed (NĐ 30/2020 Phụ lục VI)"
                    )
        for name in _CODE_FIELDS:
            value = getattr(self, name)
            if value is not None and not _CODE.fullmatch(value):
                raise InvalidArgumentError(
                    f"RecordMetadata.{name} must be 1..100 of [0-9A-Za-z.-_/], got {value!r}"
                )
        if self.code_number is not None and not re.fullmatch(r"[0-9]{1,11}", self.code_number):
            raise InvalidArgumentError(
                f"RecordMetadata.code_number must be 1..11 digits, got {self.code_number!r}"
            )
        if self.issued_date is not None and (
            not isinstance(self.issued_date, date) or isinstance(self.issued_date, datetime)
        ):
            raise InvalidArgumentError("RecordMetadata.issued_date must be a datetime.date")
        if self.scan_time is not None and (
            not isinstance(self.scan_time, datetime) or self.scan_time.utcoffset() is None
        ):
            raise InvalidArgumentError(
                f"RecordMetadata.scan_time must be a timezone-aware datetime, got {self.scan_time!r}"
            )
        pages = tuple(self.pages)
        if not all(isinstance(p, PageDigest) for p in pages):
            raise InvalidArgumentError("RecordMetadata.pages must hold PageDigest objects")
        numbers = [p.number for p in pages]
        if numbers != list(range(1, len(pages) + 1)):
            raise InvalidArgumentError(
                f"RecordMetadata.pages must be numbered 1..{len(pages)} in order, got {numbers[:10]}"
            )
        object.__setattr__(self, "pages", pages)
        amount = self.page_amount
        if amount is None:
            amount = len(pages)
        check_int(amount, "RecordMetadata.page_amount", 0, 999)
        if pages and amount != len(pages):
            raise InvalidArgumentError(
                f"RecordMetadata.page_amount is {amount} but {len(pages)} pages are listed"
            )
        object.__setattr__(self, "page_amount", amount)

    @property
    def document_code(self) -> str | None:
        """Số, ký hiệu as written on the document: ``"15/QĐ-BNV"`` (NĐ 30 Phụ lục I), or None."""
        if self.code_number is None or self.code_notation is None:
            return None
        number = self.code_number.zfill(2)  # numbers below 10 get a leading 0 (NĐ 30 PL I II.3)
        return f"{number}/{self.code_notation}"


def page_digest(
    pixels: Any, number: int, *, dedup_hashes: tuple[tuple[str, str], ...] = (), blank: bool = False
) -> PageDigest:
    """SHA-256 of a page's pixels: ``sha256(f"{H}x{W}x{C}:".encode() + pixels.tobytes())``.

    The shape prefix makes a 100x200 and a 200x100 page with the same bytes differ.

    Parameters
    ----------
    pixels : numpy.ndarray or onestop_docs.imageio.Page
        uint8 ``(H, W)`` or ``(H, W, 3)``.
    number : int
        1-based page number.

    Raises
    ------
    InvalidArgumentError
        Not a uint8 image.

    Examples
    --------
    >>> import numpy as np, hashlib
    >>> d = page_digest(np.zeros((2, 3), np.uint8), 1)
    >>> d.sha256 == hashlib.sha256(b"2x3x1:" + bytes(6)).hexdigest()
    True
    """
    from ._validate import as_image

    px = getattr(pixels, "pixels", pixels)
    arr = as_image(px, name="pixels")
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    h = hashlib.sha256(f"{arr.shape[0]}x{arr.shape[1]}x{channels}:".encode("ascii"))
    h.update(arr.data)  # the C-contiguous buffer itself: no copy of the page
    return PageDigest(number, h.hexdigest(), dedup_hashes, blank)


# ----------------------------------------------------------------------------- XML writing


def _etree_mod() -> Any:
    return require_module("lxml.etree", "metadata")


def to_xml(record: RecordMetadata, *, pretty: bool = True) -> bytes:
    """Serialise ``record`` as UTF-8 XML (schema version 1.0).

    Raises
    ------
    InvalidArgumentError
        ``record`` is not a :class:`RecordMetadata`.
    MissingDependencyError
        lxml is not installed (``pip install 'onestop_docs[metadata]'``).

    Examples
    --------
    >>> to_xml(RecordMetadata(dossier_code="H42-260105-0001"))[:38]
    b"<?xml version='1.0' encoding='UTF-8'?>"
    """
    if not isinstance(record, RecordMetadata):
        raise InvalidArgumentError(f"expected RecordMetadata, got {type(record).__name__}")
    et = _etree_mod()
    root = et.Element(_NS + "DigitizedRecord", nsmap={None: NAMESPACE})
    root.set("schemaVersion", SCHEMA_VERSION)

    def add(tag: str, value: object) -> None:
        if value is None:
            return
        el = et.SubElement(root, _NS + tag)
        if isinstance(value, date):  # datetime is a date subclass
            el.text = value.isoformat()
        else:
            el.text = str(value)

    add("DossierCode", record.dossier_code)
    add("ComponentCode", record.component_code)
    add("ResultCode", record.result_code)
    add("OwnerId", record.owner_id)
    add("ProcedureCode", record.procedure_code)
    add("Title", record.title)
    add("TypeName", record.type_name)
    add("CodeNumber", record.code_number)
    add("CodeNotation", record.code_notation)
    add("IssuedDate", record.issued_date)
    add("OrganId", record.organ_id)
    add("OrganName", record.organ_name)
    add("Subject", record.subject)
    add("Language", record.language)
    add("Description", record.description)
    add("PageAmount", record.page_amount)
    if record.pages:
        pages_el = et.SubElement(root, _NS + "Pages")
        for p in record.pages:
            pel = et.SubElement(pages_el, _NS + "Page", number=str(p.number))
            if p.blank:
                pel.set("blank", "true")
            et.SubElement(pel, _NS + "Sha256").text = p.sha256
            if p.file_sha256 is not None:
                et.SubElement(pel, _NS + "FileSha256").text = p.file_sha256
            for algo, digest in p.dedup_hashes:
                et.SubElement(pel, _NS + "DedupHash", algorithm=algo).text = digest
            if p.document_key is not None:
                et.SubElement(
                    pel, _NS + "DocumentKey", version=str(p.document_key_version)
                ).text = base64.b64encode(p.document_key).decode("ascii")
    add("ScanTime", record.scan_time)
    add("ScanningOfficer", record.scanning_officer)
    et.SubElement(
        root, _NS + "Software", name=record.software_name, version=record.software_version
    )
    data: bytes = et.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)
    return data


# ----------------------------------------------------------------------------- XML reading

_schema_local = threading.local()  # lxml validators are not shared between threads


def schema_path() -> str:
    """Filesystem path of the shipped XSD (``record-1.0.xsd``).

    Examples
    --------
    >>> schema_path().endswith("record-1.0.xsd")
    True
    """
    return str(resources.files("onestop_docs") / "data" / "record-1.0.xsd")


def _schema() -> _etree.XMLSchema:
    schema = getattr(_schema_local, "schema", None)
    if schema is None:
        et = _etree_mod()
        parser = et.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        with open(schema_path(), "rb") as fh:
            schema = et.XMLSchema(et.parse(fh, parser))
        _schema_local.schema = schema
    result: _etree.XMLSchema = schema
    return result


def _parse(data: bytes | str, max_bytes: int) -> _etree._Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
        if data.startswith(b"<?xml"):
            # A str has no bytes of its own: the declaration's encoding no longer applies.
            data = re.sub(rb"^<\?xml[^>]*\?>", b"", data, count=1)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"expected XML bytes or str, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MetadataError(f"metadata XML is {len(data)} bytes, above the limit of {max_bytes}")
    et = _etree_mod()
    parser = et.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = et.fromstring(data, parser)
    except et.XMLSyntaxError as exc:
        raise MetadataError(f"metadata XML is malformed: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MetadataError("metadata XML must not contain a DTD (<!DOCTYPE ...>): refused")
    for el in root.iter():
        if not isinstance(el.tag, str):  # an entity reference left unexpanded
            raise MetadataError("metadata XML must not contain entity references: refused")
    result: _etree._Element = root
    return result


def validate_xml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Check ``data`` against the shipped XSD; return None or raise.

    Raises
    ------
    MetadataError
        Too large, malformed, contains a DTD/entities, or not valid against the schema (the
        message gives the line and the schema's complaint).

    Examples
    --------
    >>> validate_xml(b"<DigitizedRecord/>")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.MetadataError: ...schema...
    """
    root = _parse(data, max_bytes)
    _validate_root(root)


def _validate_root(root: _etree._Element) -> None:
    schema = _schema()
    if not schema.validate(root):
        err: Any = schema.error_log.last_error  # type: ignore[attr-defined]
        raise MetadataError(
            f"metadata XML does not match schema record-{SCHEMA_VERSION}.xsd: "
            f"line {err.line}: {err.message}"
        )


def from_xml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RecordMetadata:
    """Parse and validate a record metadata document.

    Parameters
    ----------
    data : bytes or str
        XML as written by :func:`to_xml`.
    max_bytes : int
        Documents larger than this are refused before parsing.

    Raises
    ------
    MetadataError
        Too large, malformed, hostile (DTD, entities), invalid against the XSD, or of another
        schema version.

    Examples
    --------
    >>> from_xml(to_xml(RecordMetadata(dossier_code="H42-260105-0001"))).dossier_code
    'H42-260105-0001'
    """
    root = _parse(data, max_bytes)
    if root.tag != _NS + "DigitizedRecord":
        raise MetadataError(
            f"expected root element {{{NAMESPACE}}}DigitizedRecord, found {root.tag}"
        )
    version = root.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise MetadataError(f"expected schemaVersion {SCHEMA_VERSION!r}, found {version!r}")
    _validate_root(root)

    def text(tag: str) -> str | None:
        el = root.find(_NS + tag)
        return None if el is None else (el.text or "")

    kwargs: dict[str, Any] = {}
    for tag, name in (
        ("DossierCode", "dossier_code"),
        ("ComponentCode", "component_code"),
        ("ResultCode", "result_code"),
        ("OwnerId", "owner_id"),
        ("ProcedureCode", "procedure_code"),
        ("Title", "title"),
        ("TypeName", "type_name"),
        ("CodeNumber", "code_number"),
        ("CodeNotation", "code_notation"),
        ("OrganId", "organ_id"),
        ("OrganName", "organ_name"),
        ("Subject", "subject"),
        ("Language", "language"),
        ("Description", "description"),
        ("ScanningOfficer", "scanning_officer"),
    ):
        value = text(tag)
        if value is not None:
            kwargs[name] = value
    try:
        issued = text("IssuedDate")
        if issued is not None:
            kwargs["issued_date"] = date.fromisoformat(issued)
        scanned = text("ScanTime")
        if scanned is not None:
            kwargs["scan_time"] = datetime.fromisoformat(scanned)
        kwargs["page_amount"] = int(text("PageAmount") or "0")
        pages = []
        for pel in root.iterfind(f"{_NS}Pages/{_NS}Page"):
            hashes = tuple(
                (h.get("algorithm", ""), h.text or "") for h in pel.iterfind(_NS + "DedupHash")
            )
            sha = pel.find(_NS + "Sha256")
            file_sha = pel.find(_NS + "FileSha256")
            key_el = pel.find(_NS + "DocumentKey")
            key = None if key_el is None else base64.b64decode(key_el.text or "", validate=True)
            pages.append(
                PageDigest(
                    int(pel.get("number", "0")),
                    "" if sha is None else sha.text or "",
                    hashes,
                    pel.get("blank") in ("true", "1"),
                    None if file_sha is None else file_sha.text or "",
                    key,
                    None if key_el is None else int(key_el.get("version", "")),
                )
            )
        kwargs["pages"] = tuple(pages)
        sw = root.find(_NS + "Software")
        if sw is not None:
            kwargs["software_name"] = sw.get("name", "")
            kwargs["software_version"] = sw.get("version", "")
        return RecordMetadata(**kwargs)
    except (InvalidArgumentError, ValueError, binascii.Error) as exc:
        raise MetadataError(f"metadata XML is schema-valid but inconsistent: {exc}") from None
