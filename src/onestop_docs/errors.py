"""Exception types raised by onestop_docs.

Every error the library raises for bad input, a missing dependency or a failed check is a
subclass of :class:`OnestopError`, so callers can catch one type at the boundary of their
application.  Most also subclass the closest built-in (``ValueError``, ``OSError``, ...) so
that generic handlers keep working.

Messages say what was expected and what was found (file name, page index, field, position).

Examples
--------
>>> from onestop_docs.errors import OnestopError, InvalidCodeError
>>> try:
...     raise InvalidCodeError("bad dossier code", position=3)
... except OnestopError as exc:
...     print(type(exc).__name__, exc.position)
InvalidCodeError 3
"""

from __future__ import annotations

__all__ = [
    "BlankPageError",
    "CodeStoreError",
    "ComplianceError",
    "ImageTooLargeError",
    "IndexFormatError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidCodeError",
    "InvalidImageError",
    "KeyFormatError",
    "LimitExceededError",
    "MetadataError",
    "MissingDependencyError",
    "OcrError",
    "OnestopError",
    "PipelineError",
    "ReuseStoreError",
    "SequenceExhaustedError",
    "SignatureError",
    "UnsupportedFormatError",
    "WeakCryptoError",
]


class OnestopError(Exception):
    """Base class of every error raised by onestop_docs."""


class InvalidArgumentError(OnestopError, ValueError):
    """A parameter is outside its documented domain (wrong dtype, shape, range, option name)."""


class LimitExceededError(OnestopError, ValueError):
    """Untrusted input is larger or deeper than a documented limit; the work stopped early.

    Attributes
    ----------
    limit : str
        The setting that was reached, e.g. ``"BagLimits.max_manifest_lines"``.
    maximum : int
        Its value.
    """

    def __init__(self, message: str, *, limit: str, maximum: int) -> None:
        super().__init__(f"{message} (limit {limit}={maximum})")
        self.limit = limit
        self.maximum = maximum


class InvalidImageError(OnestopError, ValueError):
    """Image data cannot be decoded or is not a usable page (empty, truncated, not an image).

    Attributes
    ----------
    source : str or None
        File name or description of the input, when known.
    page_index : int or None
        Zero-based page (frame) index inside a multi-page input, when known.
    """

    def __init__(
        self, message: str, *, source: str | None = None, page_index: int | None = None
    ) -> None:
        parts = [message]
        if source is not None:
            parts.append(f"source={source!r}")
        if page_index is not None:
            parts.append(f"page={page_index}")
        super().__init__("; ".join(parts))
        self.source = source
        self.page_index = page_index


class UnsupportedFormatError(InvalidImageError):
    """The input is a recognised file but of a format or mode this library does not accept."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class InvalidCodeError(OnestopError, ValueError):
    """An administrative code (agency id, dossier code, notation, ...) is malformed.

    Attributes
    ----------
    code : str or None
        The text that was parsed.
    position : int or None
        Zero-based index of the first offending character, when one can be named.
    reason : str
        Short machine-friendly reason, e.g. ``"bad-date"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        position: int | None = None,
        reason: str = "invalid",
    ) -> None:
        text = message
        if position is not None:
            text = f"{message} (at position {position})"
        super().__init__(text)
        self.code = code
        self.position = position
        self.reason = reason


class SequenceExhaustedError(OnestopError, RuntimeError):
    """A daily or yearly counter ran past its last value (e.g. dossier sequence 9999)."""


class CodeStoreError(OnestopError, RuntimeError):
    """The persistent store behind a code issuer failed (locked, corrupt, unreachable)."""


class SignatureError(OnestopError):
    """A signature could not be made, or a signature is structurally unusable."""


class WeakCryptoError(SignatureError, ValueError):
    """A key, hash or algorithm is weaker than TT 15/2025/TT-BKHCN allows."""


class IntegrityError(OnestopError):
    """Stored data does not match its recorded hash, manifest, log or checksum."""


class IndexFormatError(IntegrityError, ValueError):
    """An index file is corrupt, truncated, of another version or of another hash width."""


class KeyFormatError(IndexFormatError):
    """Serialised document-key bytes (khóa tài liệu) are corrupt, truncated, or of a key
    version this library does not know (written by a newer release)."""


class BlankPageError(OnestopError, ValueError):
    """A page has no content to key or rectify (blank or near-blank).

    Attributes
    ----------
    reason : str
        ``"blank"`` (no ink) or ``"near-blank"`` (a mark smaller than 1 cm).
    """

    def __init__(self, message: str, *, reason: str = "blank") -> None:
        super().__init__(message)
        self.reason = reason


class MetadataError(OnestopError, ValueError):
    """Metadata XML is malformed, hostile (DTD / entities) or does not match the schema."""


class ComplianceError(OnestopError):
    """A record fails a compliance rule where the caller asked for an exception."""


class OcrError(OnestopError, RuntimeError):
    """Tesseract crashed, timed out or produced output that cannot be parsed."""


class PipelineError(OnestopError, RuntimeError):
    """A digitization job failed; ``__cause__`` holds the underlying error."""


class ReuseStoreError(OnestopError, RuntimeError):
    """The reuse store (kho tái sử dụng) cannot be used: corrupt, of a newer version, locked
    or unreachable.

    Attributes
    ----------
    reason : str
        ``"corrupt"``, ``"newer-version"``, ``"locked"``, ``"unreachable"``, ``"key-version"``
        or ``"conflict"`` (a record id already stored with other pages).
    store : str or None
        Where the store is (file path, or the PostgreSQL DSN without its password).
    """

    def __init__(self, message: str, *, reason: str, store: str | None = None) -> None:
        super().__init__(f"{message} [store: {store}]" if store else message)
        self.reason = reason
        self.store = store


class MissingDependencyError(OnestopError, ImportError):
    """An optional Python package or system tool is not installed.

    The message names the pip extra (``pip install 'onestop_docs[ocr]'``) or the system
    package (``apt-get install tesseract-ocr-vie``) that provides it.
    """
