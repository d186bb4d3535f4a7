"""Typed, bounded reads of PDF objects from untrusted files (a thin layer over pikepdf).

An uploaded PDF may hold anything where the specification expects a number: a name in a
``/MediaBox``, ``/Rotate /Ninety``, a string for ``/UserUnit``, a two-element ``/Rect``.
Code that reads a PDF object goes through these accessors: each returns a value of the
expected Python type or raises :class:`MalformedObject`, whose message names the object and
says what was expected and found.  The compliance checker turns that exception into a
finding for the page or file; it never escapes to the caller.  The stream and object walks
here stop at the caller's limits with :class:`LimitReached`.

Examples
--------
>>> import pikepdf
>>> page = pikepdf.Dictionary(Rotate=pikepdf.Name("/Ninety"), MediaBox=[0, 0, 595, 842])
>>> rect(page.get("/MediaBox"), "/MediaBox")
(0.0, 0.0, 595.0, 842.0)
>>> integer(page.get("/Rotate"), "/Rotate")
Traceback (most recent call last):
...
onestop_docs._pdfobj.MalformedObject: /Rotate must be an integer, found name /Ninety
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

__all__ = [
    "LimitReached",
    "MalformedObject",
    "all_dicts",
    "array",
    "describe",
    "integer",
    "is_name",
    "matmul",
    "name",
    "number",
    "numbers",
    "rect",
    "stream_bytes",
    "text",
]

#: Largest magnitude accepted for a number (ISO 32000-1 Annex C suggests ±32767 for integers
#: in PDF 1.x; reals up to ±3.4e38).  Bigger values are hostile, not scans.
MAX_MAGNITUDE = 3.4e38


class MalformedObject(ValueError):
    """A PDF object does not have the type or shape the specification requires."""


class LimitReached(Exception):
    """Reading stopped at a documented limit; ``setting`` names it (``"Rules.max_objects"``)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{message} ({setting})")
        self.setting = setting


def text(obj: Any) -> str:
    """``str(obj)`` that never raises: a name with bytes that are not UTF-8 (``/Flat#80``)
    makes pikepdf's ``str`` raise ``UnicodeDecodeError``; it is shown Latin-1 decoded."""
    try:
        return str(obj)
    except UnicodeDecodeError:
        unparse = getattr(obj, "unparse", None)
        if unparse is not None:
            return bytes(unparse()).decode("latin-1")
        return repr(obj)


def describe(obj: Any) -> str:
    """A short human description of ``obj`` for messages (type and a clipped value)."""
    if obj is None:
        return "nothing"
    if isinstance(obj, bool):
        return f"boolean {str(obj).lower()}"
    if isinstance(obj, (int, Decimal, float)):
        return f"number {obj}"
    kind = type(obj).__name__
    try:
        import pikepdf

        if isinstance(obj, pikepdf.Name):
            return f"name {text(obj)[:40]}"
        if isinstance(obj, pikepdf.String):
            return f"string ({text(obj)[:40]})"
        if isinstance(obj, pikepdf.Array):
            return f"array of {len(obj)}"
        if isinstance(obj, pikepdf.Dictionary):
            return "dictionary"
        if isinstance(obj, pikepdf.Stream):
            return "stream"
        if isinstance(obj, pikepdf.Operator):
            return f"operator {text(obj)[:20]}"
    except ImportError:  # pragma: no cover - pikepdf is the reason this module exists
        pass
    return f"{kind} {repr(obj)[:40]}"


def number(obj: Any, what: str) -> float:
    """``obj`` as a finite float (PDF integer or real).

    Raises
    ------
    MalformedObject
        ``obj`` is not a number, is a boolean, or is not finite / beyond ``MAX_MAGNITUDE``.
    """
    if isinstance(obj, bool) or not isinstance(obj, (int, Decimal, float)):
        raise MalformedObject(f"{what} must be a number, found {describe(obj)}")
    try:
        value = float(obj)
    except (OverflowError, ValueError):
        raise MalformedObject(f"{what} must be a finite number, found {describe(obj)}") from None
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise MalformedObject(f"{what} must be a finite number, found {describe(obj)}")
    return value


def integer(obj: Any, what: str, low: int | None = None, high: int | None = None) -> int:
    """``obj`` as an int within ``[low, high]`` (a real with an integral value is accepted).

    Raises
    ------
    MalformedObject
        Not an integer or outside the bounds.
    """
    if isinstance(obj, bool) or not isinstance(obj, (int, Decimal)):
        raise MalformedObject(f"{what} must be an integer, found {describe(obj)}")
    if isinstance(obj, Decimal):
        if not obj.is_finite() or obj != obj.to_integral_value():
            raise MalformedObject(f"{what} must be an integer, found {describe(obj)}")
        obj = int(obj)
    if (low is not None and obj < low) or (high is not None and obj > high):
        raise MalformedObject(f"{what} must be in [{low}, {high}], found {obj}")
    return int(obj)


def is_name(obj: Any) -> bool:
    """True when ``obj`` is a PDF name."""
    import pikepdf

    return isinstance(obj, pikepdf.Name)


def name(obj: Any, what: str) -> str:
    """``obj`` as a name string such as ``"/DeviceRGB"``.

    Raises
    ------
    MalformedObject
        ``obj`` is not a name.
    """
    if not is_name(obj):
        raise MalformedObject(f"{what} must be a name, found {describe(obj)}")
    return text(obj)


def array(obj: Any, what: str, length: int | None = None) -> list[Any]:
    """``obj`` as a list of its items, optionally of exactly ``length`` items.

    Raises
    ------
    MalformedObject
        Not an array, or of another length.
    """
    import pikepdf

    if not isinstance(obj, pikepdf.Array):
        raise MalformedObject(f"{what} must be an array, found {describe(obj)}")
    if length is not None and len(obj) != length:
        raise MalformedObject(f"{what} must have {length} elements, found {len(obj)}")
    return list(obj)


def numbers(obj: Any, what: str, length: int) -> tuple[float, ...]:
    """``obj`` as exactly ``length`` finite numbers (an array) or raise :class:`MalformedObject`."""
    items = array(obj, what, length)
    return tuple(number(v, f"{what}[{i}]") for i, v in enumerate(items))


def rect(obj: Any, what: str, *, nonempty: bool = False) -> tuple[float, float, float, float]:
    """A rectangle ``[llx lly urx ury]``, normalised so that ``llx <= urx`` and ``lly <= ury``.

    Parameters
    ----------
    obj : pikepdf object
    what : str
        Name of the entry for messages, e.g. ``"page 3 /MediaBox"``.
    nonempty : bool
        Also require a positive width and height (page boxes; annotation rectangles may be
        empty).

    Raises
    ------
    MalformedObject
        Not four finite numbers, or empty when ``nonempty``.
    """
    x0, y0, x1, y1 = numbers(obj, what, 4)
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if nonempty and (box[2] - box[0] <= 0 or box[3] - box[1] <= 0):
        raise MalformedObject(f"{what} must have a positive width and height, found {list(box)}")
    return box


def stream_bytes(stream: Any, what: str, limit: int) -> bytes:
    """The decoded data of one stream, refusing more than ``limit`` bytes.

    A single ``/FlateDecode`` filter is inflated here with the bound (qpdf would inflate a
    zip bomb completely); other filters expand boundedly and are left to qpdf.

    Raises
    ------
    MalformedObject
        Not a stream, or undecodable Flate data.
    LimitReached
        More than ``limit`` bytes (``"Rules.max_stream_bytes"``).
    """
    import pikepdf

    if not isinstance(stream, pikepdf.Stream):
        raise MalformedObject(f"{what} must be a stream, found {describe(stream)}")
    if stream.get("/Filter") == "/FlateDecode" and "/DecodeParms" not in stream:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(stream.read_raw_bytes(), limit + 1)
        except zlib.error as exc:
            raise MalformedObject(f"{what} cannot be decoded: {exc}") from None
    else:
        data = stream.read_bytes()
    if len(data) > limit:
        raise LimitReached(
            "Rules.max_stream_bytes", f"{what} decodes to more than {limit} bytes; not examined"
        )
    return data


def direct_dicts(obj: Any, max_nesting: int) -> Iterator[Any]:
    """``obj`` and every dictionary nested in it directly (not through indirect references).

    Direct objects cannot form cycles; deeper than ``max_nesting`` raises
    :class:`LimitReached` (``"Rules.max_nesting"``).
    """
    import pikepdf

    todo = [(obj, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > max_nesting:
            raise LimitReached(
                "Rules.max_nesting", f"object {obj.objgen} nests more than {max_nesting} deep"
            )
        if isinstance(node, (pikepdf.Dictionary, pikepdf.Stream)):
            yield node
            children = [value for _, value in node.items()]
        else:
            children = list(node)
        for child in children:
            if isinstance(child, (pikepdf.Dictionary, pikepdf.Array)) and not child.is_indirect:
                todo.append((child, depth + 1))


def all_dicts(pdf: Any, max_objects: int, max_nesting: int) -> Iterator[tuple[Any, Any]]:
    """Yield (indirect object, dictionary) for every dictionary in the file, bounded.

    Every indirect object is visited once (so ``/Next`` chains of any length and cycles
    through references cost one visit per object) and its direct dictionaries are walked.

    Raises
    ------
    LimitReached
        More than ``max_objects`` objects (``"Rules.max_objects"``, also checked on the
        trailer's ``/Size`` first) or nesting deeper than ``max_nesting``.
    """
    import pikepdf

    size = pdf.trailer.get("/Size")  # highest object number + 1 (object 0 is not one)
    if isinstance(size, int) and size - 1 > max_objects:
        raise LimitReached(
            "Rules.max_objects", f"the file declares {size - 1} objects, more than {max_objects}"
        )
    for count, obj in enumerate(pdf.objects):
        if count >= max_objects:
            raise LimitReached("Rules.max_objects", f"the file has more than {max_objects} objects")
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)):
            for d in direct_dicts(obj, max_nesting):
                yield obj, d


def matmul(m: tuple[float, ...], n: tuple[float, ...]) -> tuple[float, ...]:
    """``m`` then ``n`` for PDF matrices ``[a b c d e f]`` (row-vector convention, ISO 32000
    §8.3.4: the result maps a point x to x·m·n), e.g. a ``cm`` operand onto the CTM.

    Examples
    --------
    >>> matmul((2, 0, 0, 2, 0, 0), (1, 0, 0, 1, 5, 7))
    (2, 0, 0, 2, 5, 7)
    """
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )
