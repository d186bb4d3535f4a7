"""Character diagnostics shared by the code parsers (private).

Every parser in :mod:`onestop_docs.codes` accepts uppercase ASCII only.  When a character is
rejected, these helpers name *why* in a way a desk officer can act on: a lowercase letter, a
space, an en-dash typed instead of a hyphen, a Cyrillic or Greek letter that looks like a Latin
one, or a full-width digit pasted from an East-Asian input method.
"""

from __future__ import annotations

import unicodedata

from ..errors import InvalidCodeError

__all__ = ["char_reason", "describe_char", "invalid"]

# Dashes that people (and word processors) put where a hyphen-minus belongs.
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


def char_reason(ch: str) -> str:
    """Machine-friendly reason for rejecting ``ch`` in a code.

    Examples
    --------
    >>> char_reason("a"), char_reason(" "), char_reason("\u2013"), char_reason("\u0410")
    ('lowercase', 'whitespace', 'dash-lookalike', 'lookalike-letter')
    >>> char_reason("\uff11")
    'fullwidth'
    """
    if ch.isspace():
        return "whitespace"
    if ch in _DASHES:
        return "dash-lookalike"
    if "a" <= ch <= "z":
        return "lowercase"
    if "\uff01" <= ch <= "\uff5e":
        return "fullwidth"
    if ord(ch) > 0x7F:
        name = unicodedata.name(ch, "")
        if name.startswith(("CYRILLIC", "GREEK", "COPTIC")):
            return "lookalike-letter"
        if unicodedata.category(ch) == "Ll":
            return "lowercase"
        return "non-ascii"
    return "bad-char"


def describe_char(ch: str) -> str:
    """``'x' (U+0078 LATIN SMALL LETTER X)``: unambiguous even for invisible characters."""
    name = unicodedata.name(ch, "unnamed")
    return f"{ch!r} (U+{ord(ch):04X} {name})"


def invalid(kind: str, code: str, position: int, reason: str, expected: str) -> InvalidCodeError:
    """Build an :class:`InvalidCodeError` whose message says what was expected and found."""
    if position < len(code):
        found = describe_char(code[position])
    else:
        found = "the end of the text"
    return InvalidCodeError(
        f"invalid {kind} {code!r}: expected {expected}, found {found} [{reason}]",
        code=code,
        position=position,
        reason=reason,
    )
