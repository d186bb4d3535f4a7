"""Re-index the archive: read what a record folder carries for the reuse store."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, PipelineError
from . import keys as _keys
from ._owner import parse_owner_id
from ._store import PageEntry, ReuseStore

__all__ = ["RecordEntry", "add_record_folder", "read_record_folder"]


@dataclass(frozen=True)
class RecordEntry:
    """What a record folder gives the reuse store (see :func:`read_record_folder`).

    Attributes
    ----------
    record_id : str
    pages : tuple of PageEntry
        Every page with its decoded key (None for blank pages).
    owner_id, document_type, procedure, component, dossier_code : str or None
    notes : tuple of str
        What could not be used (e.g. an owner id that is neither CCCD nor MST).
    """

    record_id: str
    pages: tuple[PageEntry, ...]
    owner_id: str | None
    document_type: str | None
    procedure: str | None
    component: str | None
    dossier_code: str | None
    notes: tuple[str, ...] = ()

    def add_to(self, store: ReuseStore) -> bool:
        """Add this record to ``store``; False when it was already there (unchanged)."""
        return store.add_record(
            self.record_id,
            self.pages,
            owner_id=self.owner_id,
            document_type=self.document_type,
            procedure=self.procedure,
            component=self.component,
            dossier_code=self.dossier_code,
        )


def read_record_folder(directory: str | os.PathLike[str]) -> RecordEntry:
    """Read a record written by ``digitize``: its metadata XML carries every page's document
    key (base64), SHA-256s, the owner, procedure, component and document type.

    The folder is not verified here; :func:`add_record_folder` does that first.

    Raises
    ------
    PipelineError
        Not a record folder, or a page without its document key (a record digitized before
        keys were kept, or with ``hash_pages=False``: digitize it again).
    MetadataError
        The metadata XML is malformed or invalid.
    ReuseStoreError
        A key of a version this library cannot read.
    """
    from ..metadata import from_xml

    d = Path(directory)
    try:
        report = json.loads((d / "data" / "report.json").read_text(encoding="utf-8"))
        record_id = str(report["record_id"])
        xml_path = d / "data" / f"{record_id}.xml"
        meta = from_xml(xml_path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"{d} is not a finished record: {exc}") from None
    pages = []
    for p in meta.pages:
        key = None
        if p.document_key is not None and p.document_key_version is not None:
            key = _keys.key_from_blob(
                p.document_key_version, p.document_key, where=f"{record_id} page {p.number}"
            )
        elif not p.blank and p.dedup_hashes:
            raise PipelineError(
                f"{record_id} page {p.number} has no document key in its metadata XML "
                "(digitized by an older version): digitize the record again to index it"
            )
        pages.append(PageEntry(p.number, key, p.sha256, p.file_sha256))
    if not pages:
        raise PipelineError(f"{record_id}: the metadata XML lists no pages")
    notes = []
    owner = meta.owner_id
    if owner is not None:
        try:
            owner = parse_owner_id(owner)
        except InvalidArgumentError as exc:
            notes.append(f"owner id not stored: {exc}")
            owner = None
    return RecordEntry(
        record_id,
        tuple(pages),
        owner,
        meta.type_name,
        meta.procedure_code,
        meta.component_code,
        meta.dossier_code,
        tuple(notes),
    )


def add_record_folder(
    store: ReuseStore,
    directory: str | os.PathLike[str],
    *,
    trust_roots: Sequence[Any] = (),
    verify: bool = True,
) -> tuple[bool, RecordEntry]:
    """Verify a record folder and add its pages to ``store``.

    Parameters
    ----------
    store : ReuseStore
    directory : path
        One record folder written by ``digitize``.
    trust_roots : sequence, optional
        Roots for the signature check (see :func:`onestop_docs.verify.verify_record`).
    verify : bool
        Refuse a record that does not verify (default); False checks nothing but the
        metadata XML.

    Returns
    -------
    (bool, RecordEntry)
        Whether it was added (False: already stored, unchanged) and what was read.

    Raises
    ------
    PipelineError
        The record does not verify (the problems are in the message) or carries no keys.
    ReuseStoreError
        The store failed, or the record id is stored with other pages.
    """
    if verify:
        from ..verify import verify_record

        check = verify_record(directory, trust_roots=trust_roots)
        if not check.ok:
            raise PipelineError(
                f"{check.record_id} does not verify, not indexed: " + "; ".join(check.problems)
            )
    entry = read_record_folder(directory)
    return entry.add_to(store), entry
