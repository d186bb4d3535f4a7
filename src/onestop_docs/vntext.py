"""Vietnamese text utilities shared by the library: NFC normalisation, folding, error rates.

Every string the library stores or compares goes through :func:`normalize` first, so that
"Hòa" typed on a Windows keyboard (NFC), on macOS (NFD) or read by an OCR engine that put the
tone mark before the circumflex all become the same code points.

Definitions (written once, used by :mod:`onestop_docs.ocr` and :mod:`onestop_docs.fields`):

* **normalised text**: Unicode NFC after two Vietnamese-specific repairs: within one letter the
  shape marks (circumflex U+0302, breve U+0306, horn U+031B) come before the tone mark, so the
  letter can compose (``a`` + acute + circumflex → ``ấ``); and the look-alike ``Ð`` (U+00D0,
  Icelandic eth, which OCR engines often emit for ``Đ``) becomes ``Đ`` (U+0110).
* **folded text** (:func:`fold`): every letter reduced to its base letter, ``đ``/``Đ`` to
  ``d``, lower case, one output character per input character (so a match found in folded
  text has the same span in the normalised text).
* **comparison key** (:func:`comparison_key`): folded text with whitespace runs collapsed to one
  space and the ends stripped.  Two strings that differ only in diacritics, case or spacing
  have the same key.
* **character error rate** (:func:`cer`): Levenshtein distance (unit-cost insertions,
  deletions, substitutions over code points) between the normalised reference and hypothesis,
  divided by the reference length.  It can exceed 1 when the hypothesis is much longer.

Examples
--------
>>> from onestop_docs.vntext import normalize, comparison_key, cer
>>> normalize("Ho\u0300a") == "Hòa"
True
>>> comparison_key("  Ủy ban  nhân dân TỈNH Hà Tĩnh ")
'uy ban nhan dan tinh ha tinh'
>>> round(cer("Hà Tĩnh", "Ha Tĩnh"), 4)
0.1429
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["cer", "comparison_key", "edit_distance", "fold", "normalize"]

# Shape marks must precede the tone mark for NFC to compose the Vietnamese letter.
_SHAPE_MARKS = frozenset("\u0302\u0306\u031b")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# OCR look-alikes of Vietnamese letters that are never Vietnamese themselves.
_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})
_WS = re.compile(r"\s+")


def _check_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _mark_rank(mark: str) -> int:
    return 0 if mark in _SHAPE_MARKS else 1 + (mark in _TONE_MARKS)


def _reorder_marks(decomposed: str) -> str:
    # Stable sort of each run of combining marks: shape marks first, tone marks last.
    out: list[str] = []
    run: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            run.append(ch)
            continue
        if run:
            out.extend(sorted(run, key=_mark_rank))
            run = []
        out.append(ch)
    out.extend(sorted(run, key=_mark_rank))
    return "".join(out)


def normalize(text: str) -> str:
    """Return ``text`` in the library's normal form (NFC with Vietnamese mark-order repair).

    Parameters
    ----------
    text : str
        Any Unicode text (NFC, NFD or a mix).

    Returns
    -------
    str
        NFC text where shape marks precede tone marks and ``Ð``/``ð`` (eth) read as ``Đ``/``đ``.

    Raises
    ------
    InvalidArgumentError
        ``text`` is not a ``str``.

    Examples
    --------
    >>> normalize("a\u0301\u0302") == "ấ"    # tone typed before the circumflex
    True
    >>> normalize("QÐ-TTg")                  # OCR look-alike eth
    'QĐ-TTg'
    >>> normalize("Vie\u0323\u0302t Nam") == "Việt Nam"
    True
    """
    _check_str(text, "text")
    if text.isascii():
        return text
    text = text.translate(_LOOKALIKES)
    nfd = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _reorder_marks(nfd))


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in "đĐ\u00d0\u00f0":
        return "d"
    base = unicodedata.normalize("NFD", ch)[0]
    low = base.lower()
    return low if len(low) == 1 else base


def fold(text: str) -> str:
    """Strip diacritics and case, one output character per input character.

    Use it to search normalised text without caring about OCR noise in the marks: a match at
    ``[i, j)`` in ``fold(t)`` is the span ``[i, j)`` of ``t``.

    Raises
    ------
    InvalidArgumentError
        ``text`` is not a ``str``.

    Examples
    --------
    >>> fold("Số: 223/KH-UBND, Đà Nẵng")
    'so: 223/kh-ubnd, da nang'
    >>> len(fold("Nghĩa")) == len("Nghĩa")
    True
    """
    _check_str(text, "text")
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)


def comparison_key(text: str) -> str:
    """Return a diacritics-, case- and spacing-insensitive key for comparing Vietnamese text.

    Raises
    ------
    InvalidArgumentError
        ``text`` is not a ``str``.

    Examples
    --------
    >>> comparison_key("Hà  Tĩnh") == comparison_key("HA TINH") == comparison_key("ha tinh")
    True
    >>> comparison_key("Hà Tĩnh") == comparison_key("Hà Tình")
    True
    >>> comparison_key("Hà Nội") == comparison_key("Hà Tĩnh")
    False
    """
    # The key of the normalised text without normalising first: every combining mark is
    # dropped, so the mark-order repair and NFC composition of normalize() cannot change
    # it, and fold() already reads the eth look-alikes as "d".
    decomposed = unicodedata.normalize("NFD", _check_str(text, "text"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WS.sub(" ", fold(bare)).strip()


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (unit costs, over code points).

    The strings are compared as given (call :func:`normalize` first for Vietnamese text).
    Runs in a compiled kernel with the GIL released: O(len(a) * len(b)) time, O(len(b)) memory.

    Raises
    ------
    InvalidArgumentError
        ``a`` or ``b`` is not a ``str``.

    Examples
    --------
    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance("Việt", "Viet")
    1
    """
    _check_str(a, "a")
    _check_str(b, "b")
    from ._native import vntext_lev  # type: ignore[attr-defined]

    return int(vntext_lev.levenshtein(_codepoints(a), _codepoints(b)))


def cer(reference: str, hypothesis: str, *, collapse_whitespace: bool = True) -> float:
    """Character error rate of ``hypothesis`` against ``reference``.

    Both strings are normalised (:func:`normalize`); with ``collapse_whitespace`` (default)
    every whitespace run, line breaks included, counts as one space and the ends are
    stripped, because OCR engines differ in how they lay out blank lines, not in what they read.

    Parameters
    ----------
    reference, hypothesis : str
        Ground truth and recognised text.
    collapse_whitespace : bool
        Treat whitespace runs as one space (default ``True``).

    Returns
    -------
    float
        ``edit_distance / len(reference)``; ``0.0`` when both are empty and ``1.0`` when only
        the reference is empty.

    Raises
    ------
    InvalidArgumentError
        An argument is not a ``str``.

    Examples
    --------
    >>> cer("Hà Tĩnh", "Hà Tĩnh")
    0.0
    >>> cer("ngày 30\\ntháng 6", "ngày 30 tháng 6")
    0.0
    >>> cer("abcd", "abXd")
    0.25
    """
    ref = normalize(_check_str(reference, "reference"))
    hyp = normalize(_check_str(hypothesis, "hypothesis"))
    if collapse_whitespace:
        ref = _WS.sub(" ", ref).strip()
        hyp = _WS.sub(" ", hyp).strip()
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
