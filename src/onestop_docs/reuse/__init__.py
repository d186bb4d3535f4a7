"""The reuse store (kho dữ liệu tái sử dụng): find the earlier digitized copy of a paper.

A citizen should never hand in the same paper twice (TT 01/2023/TT-VPCP Điều 4: keep the
metadata "để tái sử dụng").  :class:`ReuseStore` keeps the document key of every page that
``digitize`` wrote, with the record id, page number, owner (CCCD/MST), document type,
procedure and component, in SQLite (one station) or PostgreSQL (a province); a kiosk or portal
looks up a page, a scan or a phone photo with :meth:`ReuseStore.lookup` and lists a citizen's
earlier papers with :meth:`ReuseStore.records_of`.  See ``docs/reuse.md``.

Examples
--------
>>> from onestop_docs.reuse import owner_kind
>>> owner_kind("0100109106")
'mst'
"""

from __future__ import annotations

from ._allpairs import DuplicatePair, archive_duplicates
from ._archive import RecordEntry, add_record_folder, read_record_folder
from ._backend import SCHEMA_VERSION, StoredRecord
from ._owner import OwnerKind, owner_kind, parse_owner_id
from ._store import LookupResult, PageEntry, ReuseMatch, ReuseStore

__all__ = [
    "SCHEMA_VERSION",
    "DuplicatePair",
    "LookupResult",
    "OwnerKind",
    "PageEntry",
    "RecordEntry",
    "ReuseMatch",
    "ReuseStore",
    "StoredRecord",
    "add_record_folder",
    "archive_duplicates",
    "owner_kind",
    "parse_owner_id",
    "read_record_folder",
]
