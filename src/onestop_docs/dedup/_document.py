"""Page-level layer over the document key: :func:`page_hash`, :func:`page_key` and
:func:`verify_pair`, with the hex digests reports and metadata carry."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..capture import rectify
from ..errors import BlankPageError, InvalidArgumentError
from ._hash import Hash, pdq
from ._key import (
    DEFAULT_DPI,
    DocumentKey,
    MatchOptions,
    Verdict,
    document_key,
    match_keys,
)

__all__ = [
    "PageHash",
    "PageHashOptions",
    "PageKey",
    "page_hash",
    "page_key",
    "verify_pair",
]

_log = logging.getLogger(__name__)

#: Options of :func:`verify_pair` and :class:`~onestop_docs.dedup.DuplicateIndex`: the
#: verifier limits of :func:`~onestop_docs.dedup.match_keys`.
PageHashOptions = MatchOptions


@dataclass(frozen=True, eq=False)
class PageHash:
    """The document key of one page (khóa nhận dạng trang) with its report digests.

    Attributes
    ----------
    key : DocumentKey
        What :func:`~onestop_docs.dedup.match_keys` compares.
    pdq : Hash
        PDQ-256 of the canonical page (ink black on white): a standard hash for reports
        and for exchange with other PDQ users; not used for the decision.

    Examples
    --------
    >>> import numpy as np
    >>> page = np.full((1100, 850), 255, np.uint8); page[200:210, 100:700] = 0
    >>> page[400:410, 100:500] = 0
    >>> h = page_hash(page, dpi=100)
    >>> sorted(h.hex_digests())
    ['dct', 'pdq']
    """

    key: DocumentKey
    pdq: Hash

    @property
    def dct(self) -> Hash:
        """The key's 256-bit DCT candidate hash."""
        return self.key.candidate

    def hex_digests(self) -> dict[str, str]:
        """``{"pdq": hex, "dct": hex}``: what form reports, the CLI and the metadata XML carry
        (``dct`` is the key's candidate hash)."""
        return {"pdq": self.pdq.hex(), "dct": self.key.candidate.hex()}


@dataclass(frozen=True)
class PageKey:
    """:func:`page_key` result: the key, or None with the reason.

    Attributes
    ----------
    hash : PageHash or None
        None for blank and near-blank pages (they are never duplicates of each other).
    reason : str or None
        ``"blank"`` or ``"near-blank"`` when ``hash`` is None.
    """

    hash: PageHash | None
    reason: str | None


def _photo_page(page: Any, dpi: float | None) -> tuple[Any, float | None, str]:
    # A phone photo is keyed from its rectified sheet, also when corners of the sheet lie
    # outside the frame ("incomplete": the text is usually all there, and what is missing
    # reads as blank paper, which can only make a match harder); anything else (a scan, a
    # screenshot, a photo whose sheet is not found) is keyed as it is.
    res = rectify(page)
    if res.page is None or res.status not in ("ok", "incomplete"):
        return page, dpi, "off"
    return res.page, res.dpi if res.dpi is not None else DEFAULT_DPI, "off"


def page_key(
    page: Any, *, dpi: float | None = None, options: Any = None, capture: str = "auto"
) -> PageKey:
    """The document key of a page with its report digests, or the reason there is none.

    Wraps :func:`~onestop_docs.dedup.document_key` (``options`` is accepted for
    compatibility and ignored: the key itself has no options).  ``capture="auto"``: a
    phone photo is keyed from its sheet rectified by :func:`onestop_docs.capture.rectify`
    (status ``"ok"``, or ``"incomplete"`` with the sheet's corners outside the frame);
    ``"off"`` for flatbed scans, which skips the photo check.

    Raises
    ------
    InvalidArgumentError, InvalidImageError
        Bad pixel data or dpi.

    Examples
    --------
    >>> import numpy as np
    >>> page_key(np.full((300, 200), 255, np.uint8), dpi=100).reason
    'blank'
    """
    if capture == "auto":
        page, dpi, capture = _photo_page(page, dpi)
    try:
        key = document_key(page, dpi=dpi, capture=capture)
    except BlankPageError as exc:
        _log.debug("page_key: %s", exc)
        return PageKey(None, exc.reason)
    canon = np.where(key.ink.astype(bool), np.uint8(0), np.uint8(255))
    return PageKey(PageHash(key, pdq(canon).hash), None)


def page_hash(
    page: Any, *, dpi: float | None = None, options: Any = None, capture: str = "auto"
) -> PageHash | None:
    """The document key of a page, or None for a blank or near-blank page.

    Shorthand for ``page_key(page, dpi=dpi, capture=capture).hash``; compare two with
    :func:`verify_pair`,
    search many with :class:`~onestop_docs.dedup.DuplicateIndex`.

    Examples
    --------
    >>> import numpy as np
    >>> page_hash(np.full((300, 200), 255, np.uint8), dpi=100) is None
    True
    """
    return page_key(page, dpi=dpi, options=options, capture=capture).hash


def _key_of(k: Any) -> DocumentKey:
    if isinstance(k, PageHash):
        return k.key
    if isinstance(k, DocumentKey):
        return k
    raise InvalidArgumentError(
        f"verify_pair compares PageHash or DocumentKey values, got {type(k).__name__}"
    )


def verify_pair(a: Any, b: Any, options: MatchOptions | None = None) -> Verdict:
    """Decide whether two page keys are the same document page:
    :func:`~onestop_docs.dedup.match_keys` on their document keys.

    Raises
    ------
    InvalidArgumentError
        ``a`` or ``b`` is neither a :class:`PageHash` nor a ``DocumentKey``.

    Examples
    --------
    >>> import numpy as np
    >>> page = np.full((1100, 850), 255, np.uint8); page[200:210, 100:700] = 0
    >>> page[400:410, 100:500] = 0
    >>> h = page_hash(page, dpi=100)
    >>> verify_pair(h, h).duplicate
    True
    """
    return match_keys(_key_of(a), _key_of(b), options=options)
