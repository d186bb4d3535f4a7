"""The scan-station job: scanned pages in, a signed, verifiable digitized record out.

:func:`digitize` runs one document (thành phần hồ sơ / kết quả) through every step, in
order (TT 01/2023/TT-VPCP Điều 7: copy → extract data → assign a code → store):

1. load every page in order (multi-page files are streamed);
2. flag blank pages — kept, never dropped (image count = physical page count, Điều 8 k2c);
3. fix orientation (0/90/180/270) and skew; 4. whiten scanner borders and normalise the
   paper background for the archive copy (colour kept);
5. OCR and field extraction (number/notation, dates, codes);
6. document key of each page and lookup in an optional reuse store
   (:class:`~onestop_docs.reuse.ReuseStore`: earlier records that match); the finished record
   is added to it;
7. PDF/A-2b with an invisible text layer, metadata XML (dữ liệu đặc tả);
8. the scanning officer's signature (top-left, Điều 8 k1) and optionally the organisation's
   (top-right, NĐ 30/2020 Phụ lục I);
9. a BagIt bag around the record, then an entry in the station's transparency log.

The record is assembled in a hidden ``.partial-*`` directory and renamed into place only when
complete, so an interrupted run never leaves a half-written record that looks complete; the
next run removes stale partial directories and redoes that record.

:class:`DossierWatcher` (``onestop-docs watch``) digitizes each dossier folder that appears in a
watched folder exactly once, surviving restarts and kills (see ``docs/watch.md``).

:func:`digitize_batch` runs many documents on any ``concurrent.futures.Executor`` (a process
pool by default, or a Dask ``distributed.Client``), skips records that are already complete
and verified, records failures and goes on.
"""

from __future__ import annotations

from ..types import VN_TZ
from ._batch import BatchReport, DigitizeJob, JobOutcome, digitize_batch
from ._page import count_input_pages
from ._record import digitize, is_record_complete, load_record
from ._reuse import ReuseIndex
from ._types import (
    REPORT_NAME,
    REPORT_VERSION,
    DigitizedRecord,
    DigitizeOptions,
    PageReport,
    SignerSpec,
    record_id_for,
)
from ._watch import DossierWatcher, WatchOutcome, WatchSettings, input_fingerprint

__all__ = [
    "REPORT_NAME",
    "REPORT_VERSION",
    "VN_TZ",
    "BatchReport",
    "DigitizeJob",
    "DigitizeOptions",
    "DigitizedRecord",
    "DossierWatcher",
    "JobOutcome",
    "PageReport",
    "ReuseIndex",
    "SignerSpec",
    "WatchOutcome",
    "WatchSettings",
    "count_input_pages",
    "digitize",
    "digitize_batch",
    "input_fingerprint",
    "is_record_complete",
    "load_record",
    "record_id_for",
]
