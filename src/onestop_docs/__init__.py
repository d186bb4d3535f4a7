"""onestop_docs: trustworthy digital records from paper dossiers at Vietnam's one-stop shops.

Turns scanned pages into cleaned, deskewed, OCR'd, hashed, coded and signed PDF records with
XML metadata (số hóa hồ sơ, giấy tờ, kết quả giải quyết thủ tục hành chính), and gives kiosk
and portal apps the code, verification and reuse-lookup functions they need.

Modules (one per concern): :mod:`~onestop_docs.imageio`, :mod:`~onestop_docs.cleanup`,
:mod:`~onestop_docs.deskew`, :mod:`~onestop_docs.dedup`, :mod:`~onestop_docs.ocr`,
:mod:`~onestop_docs.codes`, :mod:`~onestop_docs.integrity`, :mod:`~onestop_docs.signing`,
:mod:`~onestop_docs.pdf`, :mod:`~onestop_docs.metadata`, :mod:`~onestop_docs.compliance`,
:mod:`~onestop_docs.pipeline`, :mod:`~onestop_docs.cli`.  Errors: :mod:`~onestop_docs.errors`.
"""

from __future__ import annotations

from . import errors
from .imageio import Page, load_page, load_pages, save_page, to_gray

__version__ = "0.1.0"

__all__ = ["Page", "__version__", "errors", "load_page", "load_pages", "save_page", "to_gray"]
