"""Record statements: what a record must contain, fixed in the transparency log.

A :class:`RecordStatement` is the log entry ``digitize`` appends for a finished record: the
record id, dossier code (mã số hồ sơ), page count, the SHA-256 of the PDF, of the metadata
XML and of the bag's two manifests, and the signature roles the station's policy required.
It is the only place ``verify`` learns what a record should be; ``report.json`` and the bag
are checked *against* it and never trusted on their own (see ``docs/integrity.md``).

The log refuses a second, different statement for a record id: :func:`append_statement`
returns the index of an identical statement, and raises
:class:`~onestop_docs.errors.IntegrityError` for a different one, so re-running ``digitize``
can never launder an altered record into the log.

Examples
--------
>>> import pathlib, tempfile
>>> from onestop_docs.integrity import TransparencyLog
>>> st = RecordStatement("H27.01-210630-0001.001", "H27.01-210630-0001", 2,
...                      "a" * 64, "b" * 64, "c" * 64, "d" * 64, ("officer",))
>>> RecordStatement.from_bytes(st.to_bytes()) == st
True
>>> with TransparencyLog(pathlib.Path(tempfile.mkdtemp()) / "t.log") as log:
...     append_statement(log, st), append_statement(log, st)
(0, 0)
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from .fixity import sha256_file

__all__ = [
    "STATEMENT_TYPE",
    "RecordStatement",
    "append_statement",
    "find_statement",
    "read_statements",
    "statement_for_record",
]

#: Value of the ``"type"`` member of every statement this version writes.
STATEMENT_TYPE = "onestop-record/2"

_HEX = frozenset("0123456789abcdef")


def _sha(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        raise ValueError(f"{name} must be 64 lowercase hex digits, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class RecordStatement:
    """The facts a record must match, as appended to the transparency log.

    Attributes
    ----------
    record_id : str
        ``{dossier_code}.{component:03d}``, also the record folder's name.
    dossier_code : str
        Mã số hồ sơ.
    page_count : int
        Physical pages in the PDF.
    pdf_sha256, xml_sha256 : str
        SHA-256 (hex) of ``data/{record_id}.pdf`` and ``data/{record_id}.xml``.
    manifest_sha256, tagmanifest_sha256 : str
        SHA-256 of ``manifest-sha256.txt`` and ``tagmanifest-sha256.txt``: every other file
        of the bag (``report.json``, the QA thumbnails) is fixed through them.
    signatures : tuple of str
        Signature roles the PDF must carry, in signing order (``()`` for an unsigned draft).
    """

    record_id: str
    dossier_code: str
    page_count: int
    pdf_sha256: str
    xml_sha256: str
    manifest_sha256: str
    tagmanifest_sha256: str
    signatures: tuple[str, ...]

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): the exact log entry."""
        body = {
            "type": STATEMENT_TYPE,
            "record_id": self.record_id,
            "dossier_code": self.dossier_code,
            "page_count": self.page_count,
            "pdf_sha256": self.pdf_sha256,
            "xml_sha256": self.xml_sha256,
            "manifest_sha256": self.manifest_sha256,
            "tagmanifest_sha256": self.tagmanifest_sha256,
            "signatures": list(self.signatures),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecordStatement:
        """Parse a log entry written by :meth:`to_bytes`.

        Raises
        ------
        IntegrityError
            Not a statement of this format (an older entry, or not JSON).
        """
        try:
            obj = json.loads(bytes(data).decode("utf-8"))
            if not isinstance(obj, dict) or obj.get("type") != STATEMENT_TYPE:
                raise ValueError(f"not a {STATEMENT_TYPE} statement")
            sigs = obj["signatures"]
            if not isinstance(sigs, list) or not all(isinstance(s, str) for s in sigs):
                raise ValueError("signatures must be a list of role names")
            pages = obj["page_count"]
            if not isinstance(pages, int) or isinstance(pages, bool) or pages < 0:
                raise ValueError(f"bad page_count {pages!r}")
            st = cls(
                record_id=str(obj["record_id"]),
                dossier_code=str(obj["dossier_code"]),
                page_count=pages,
                pdf_sha256=_sha(obj["pdf_sha256"], "pdf_sha256"),
                xml_sha256=_sha(obj["xml_sha256"], "xml_sha256"),
                manifest_sha256=_sha(obj["manifest_sha256"], "manifest_sha256"),
                tagmanifest_sha256=_sha(obj["tagmanifest_sha256"], "tagmanifest_sha256"),
                signatures=tuple(sigs),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"unreadable record statement: {exc}") from None
        if st.to_bytes() != bytes(data):
            raise IntegrityError(f"record statement for {st.record_id} is not in canonical form")
        return st

    def file_digests(self) -> dict[str, str]:
        """``{path inside the record folder: expected SHA-256}``."""
        return {
            f"data/{self.record_id}.pdf": self.pdf_sha256,
            f"data/{self.record_id}.xml": self.xml_sha256,
            "manifest-sha256.txt": self.manifest_sha256,
            "tagmanifest-sha256.txt": self.tagmanifest_sha256,
        }

    def mismatches(self, directory: str | Path) -> list[str]:
        """Files of the record folder whose SHA-256 differs from the statement (or are gone)."""
        d = Path(directory)
        out = []
        for rel, want in self.file_digests().items():
            try:
                got = sha256_file(d / rel)
            except OSError:
                out.append(f"{rel} is missing")
                continue
            if got != want:
                out.append(
                    f"{rel} is not the logged version (SHA-256 {got[:16]}…, logged {want[:16]}…)"
                )
        return out


def statement_for_record(
    directory: str | Path,
    record_id: str,
    dossier_code: str,
    page_count: int,
    signatures: tuple[str, ...],
) -> RecordStatement:
    """Build the statement of a finished record folder (its files hashed now)."""
    d = Path(directory)
    return RecordStatement(
        record_id=record_id,
        dossier_code=dossier_code,
        page_count=page_count,
        pdf_sha256=sha256_file(d / "data" / f"{record_id}.pdf"),
        xml_sha256=sha256_file(d / "data" / f"{record_id}.xml"),
        manifest_sha256=sha256_file(d / "manifest-sha256.txt"),
        tagmanifest_sha256=sha256_file(d / "tagmanifest-sha256.txt"),
        signatures=tuple(signatures),
    )


class _Index:
    """Statements of one open log by record id, extended as the log grows."""

    def __init__(self) -> None:
        self.size = 0
        self.by_id: dict[str, tuple[int, RecordStatement]] = {}
        self.foreign: list[int] = []  # entries that are not statements (older formats)
        self.lock = threading.Lock()


_INDEXES: weakref.WeakKeyDictionary[Any, _Index] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def read_statements(log: Any) -> tuple[dict[str, tuple[int, RecordStatement]], list[int]]:
    """All statements of ``log`` by record id (index, statement), and the other entries' indexes.

    The first statement for a record id wins; a later one for the same id is impossible in a
    log written through :func:`append_statement` and is reported by ``verify``.
    """
    with _INDEXES_LOCK:
        idx = _INDEXES.setdefault(log, _Index())
    with idx.lock:
        size = len(log)
        for i in range(idx.size, size):
            try:
                st = RecordStatement.from_bytes(log.entry(i))
            except IntegrityError:
                idx.foreign.append(i)
                continue
            idx.by_id.setdefault(st.record_id, (i, st))
        idx.size = size
        return dict(idx.by_id), list(idx.foreign)


def find_statement(log: Any, record_id: str) -> tuple[int, RecordStatement] | None:
    """The logged ``(index, statement)`` of ``record_id``, or None."""
    return read_statements(log)[0].get(record_id)


def append_statement(log: Any, statement: RecordStatement) -> int:
    """Append ``statement`` unless the log has it; return its index.

    Raises
    ------
    IntegrityError
        The log already holds a *different* statement for this record id: the record on
        disk is not the one that was logged (altered, or replaced), and is refused.
    """
    found = find_statement(log, statement.record_id)
    if found is not None:
        index, logged = found
        if logged != statement:
            diff = [
                f.name
                for f in dataclasses.fields(RecordStatement)
                if getattr(logged, f.name) != getattr(statement, f.name)
            ]
            raise IntegrityError(
                f"{statement.record_id}: the log already holds entry {index} for this record "
                f"and the record on disk differs from it ({', '.join(diff)}); refusing a "
                "second entry"
            )
        return index
    return int(log.append(statement.to_bytes()))
