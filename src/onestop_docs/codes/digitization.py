"""Digitized document / result codes (mã kết quả số hóa), TT 01/2023/TT-VPCP Điều 10.

What is known (regulations.md §3): Điều 10 k2 builds the code of a digitized TTHC result from
the **owner's identifier** (left empty when the owner has none) and the **result-type code** of
the national TTHC database; the exact separators, order and counter width were not found.  The
default template therefore follows the one public implementation observed
(``{owner_id}.{type_code}.{NN}``, a two-digit counter) and every part is configurable:

>>> scheme = DigitizationCodeScheme()
>>> str(scheme.build(owner_id="001203004567", type_code="KQ.G15.000031", counter=1))
'001203004567.KQ.G15.000031.01'
>>> scheme.parse("001203004567.KQ.G15.000031.07").counter
7
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from .._validate import check_int
from ..errors import InvalidArgumentError, InvalidCodeError
from .agency import AGENCY_PATTERN
from .procedure import PROCEDURE_PATTERN, RESULT_TYPE_PATTERN

__all__ = ["DEFAULT_FIELD_PATTERNS", "DigitizationCode", "DigitizationCodeScheme"]

#: Regex of each placeholder unless the scheme overrides it.  ``owner_id`` may be empty
#: (TT 01/2023 Điều 10 k2: "không có mã định danh của tổ chức, cá nhân thì để trống") and
#: has no dots, so that ``{owner_id}.{type_code}`` splits unambiguously.
DEFAULT_FIELD_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "owner_id": r"[0-9A-Z]*(?:-[0-9A-Z]+)*",
        "type_code": r"[0-9A-Z]+(?:[.\-][0-9A-Z]+)*",
        "result_type": RESULT_TYPE_PATTERN,
        "procedure_code": PROCEDURE_PATTERN,
        "dossier_code": rf"{AGENCY_PATTERN}-[0-9]{{6}}-[0-9]{{4}}",
    }
)
_OTHER_FIELD = r"[0-9A-Z]+(?:-[0-9A-Z]+)*"
_COUNTER_SPEC = re.compile(r"0?([1-9]?)d?")
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class DigitizationCode:
    """A code produced by a :class:`DigitizationCodeScheme`.

    Attributes
    ----------
    text : str
        The code.
    fields : tuple of (name, value)
        Placeholder values, in template order, without the counter.
    counter : int
    """

    text: str
    fields: tuple[tuple[str, str], ...]
    counter: int

    def __getitem__(self, name: str) -> str:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class DigitizationCodeScheme:
    """Template for digitized document/result codes, with a per-owner counter.

    Parameters
    ----------
    template : str
        :meth:`str.format` template.  Must contain ``{counter}`` exactly once (optionally
        ``{counter:0Nd}``, N = minimum width) and each other placeholder at most once.
        Default ``"{owner_id}.{type_code}.{counter:02d}"`` (INFERRED: an observed
        implementation of TT 01/2023 Điều 10).
    counter_scope : tuple of str
        Placeholders whose values key the counter.  Default ``("owner_id", "type_code")``:
        each owner has a counter per document type.  The template itself is part of the key,
        so changing the template never reuses numbers of the old one.
    max_counter : int, default 99
        Highest counter value (two digits in the default template).
    field_patterns : mapping of str to str
        Regex per placeholder, overriding :data:`DEFAULT_FIELD_PATTERNS`; other placeholders
        accept ``[0-9A-Z]+(-[0-9A-Z]+)*``.

    Raises
    ------
    InvalidArgumentError
        Malformed template, scope or patterns.

    Examples
    --------
    >>> s = DigitizationCodeScheme("{owner_id}.{procedure_code}.{component}.{counter:02d}",
    ...                            counter_scope=("owner_id", "procedure_code", "component"))
    >>> str(s.build(owner_id="001203004567", procedure_code="1.001193", component="TP1",
    ...             counter=3))
    '001203004567.1.001193.TP1.03'
    """

    template: str = "{owner_id}.{type_code}.{counter:02d}"
    counter_scope: tuple[str, ...] = ("owner_id", "type_code")
    max_counter: int = 99
    field_patterns: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.template, str):
            raise InvalidArgumentError("template must be str")
        names: list[str] = []
        parts: list[str] = []
        width = 1
        try:
            parsed = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise InvalidArgumentError(f"malformed template {self.template!r}: {exc}") from None
        for literal, name, spec, conversion in parsed:
            parts.append(re.escape(literal))
            if name is None:
                continue
            if _IDENT.fullmatch(name) is None or conversion:
                raise InvalidArgumentError(
                    f"template placeholders must be plain lowercase names, got {{{name}}}"
                )
            if name in names:
                raise InvalidArgumentError(f"placeholder {{{name}}} appears twice")
            names.append(name)
            if name == "counter":
                sm = _COUNTER_SPEC.fullmatch(spec or "")
                if sm is None:
                    raise InvalidArgumentError(f"counter format must be like '02d', got {spec!r}")
                width = int(sm.group(1) or 1)
                parts.append(f"(?P<counter>[0-9]{{{width},}})")
            else:
                if spec:
                    raise InvalidArgumentError("only {counter} may have a format spec")
                pattern = self.field_patterns.get(
                    name, DEFAULT_FIELD_PATTERNS.get(name, _OTHER_FIELD)
                )
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise InvalidArgumentError(f"bad pattern for {{{name}}}: {exc}") from None
                parts.append(f"(?P<{name}>{pattern})")
        if "counter" not in names:
            raise InvalidArgumentError("the template must contain {counter}")
        unknown = [n for n in self.counter_scope if n not in names or n == "counter"]
        if unknown:
            raise InvalidArgumentError(
                f"counter_scope names {unknown} are not placeholders of {self.template!r}"
            )
        check_int(self.max_counter, "max_counter", 1)
        object.__setattr__(self, "_names", tuple(n for n in names if n != "counter"))
        object.__setattr__(self, "_width", width)
        object.__setattr__(self, "_regex", re.compile("".join(parts)))

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholders other than ``counter``, in template order."""
        names: tuple[str, ...] = self._names  # type: ignore[attr-defined]
        return names

    def _check_fields(self, fields: Mapping[str, str]) -> None:
        missing = [n for n in self.placeholders if n not in fields]
        extra = [n for n in fields if n not in self.placeholders]
        if missing or extra:
            raise InvalidArgumentError(
                f"template {self.template!r} needs {list(self.placeholders)}; "
                f"missing {missing}, unknown {extra}"
            )
        for name in self.placeholders:
            value = fields[name]
            if not isinstance(value, str):
                raise InvalidArgumentError(f"{name} must be str, got {type(value).__name__}")
            pattern = self.field_patterns.get(name, DEFAULT_FIELD_PATTERNS.get(name, _OTHER_FIELD))
            if re.fullmatch(pattern, value) is None:
                raise InvalidCodeError(
                    f"invalid {name} {value!r} for a digitization code: expected /{pattern}/",
                    code=value,
                    reason=f"bad-{name.replace('_', '-')}",
                )

    def format(self, *, counter: int, **fields: str) -> str:
        """The code text for ``fields`` and ``counter``.

        Raises
        ------
        InvalidArgumentError
            Missing/unknown placeholders, counter outside 1..max_counter, or values for which
            the template would be ambiguous.
        InvalidCodeError
            A value does not match its placeholder's pattern.
        """
        self._check_fields(fields)
        check_int(counter, "counter", 1, self.max_counter)
        text = self.template.format(counter=counter, **fields)
        m = self._regex.fullmatch(text)  # type: ignore[attr-defined]
        if m is None or any(m.group(n) != fields[n] for n in self.placeholders):
            raise InvalidArgumentError(
                f"template {self.template!r} is ambiguous for {fields}: {text!r} would not "
                f"parse back to the same values"
            )
        return text

    def build(self, *, counter: int, **fields: str) -> DigitizationCode:
        """Like :meth:`format`, returning a :class:`DigitizationCode`."""
        text = self.format(counter=counter, **fields)
        return DigitizationCode(text, tuple((n, fields[n]) for n in self.placeholders), counter)

    def parse(self, text: str) -> DigitizationCode:
        """Split a code made by this scheme into its fields.

        Raises
        ------
        InvalidCodeError
            ``text`` does not match the template (reason ``"template-mismatch"``), or the
            counter is out of range / not written canonically.
        """
        if not isinstance(text, str):
            raise InvalidArgumentError(f"a code must be str, got {type(text).__name__}")
        m = self._regex.fullmatch(text)  # type: ignore[attr-defined]
        if m is None:
            raise InvalidCodeError(
                f"{text!r} does not match the digitization template {self.template!r}",
                code=text,
                reason="template-mismatch",
            )
        digits = m.group("counter")
        counter = int(digits)
        width: int = self._width  # type: ignore[attr-defined]
        if not 1 <= counter <= self.max_counter or digits != f"{counter:0{width}d}":
            raise InvalidCodeError(
                f"invalid counter {digits!r} in {text!r}: expected 1-{self.max_counter} "
                f"written with at least {width} digits",
                code=text,
                position=m.start("counter"),
                reason="bad-counter",
            )
        fields = tuple((n, m.group(n)) for n in self.placeholders)
        return DigitizationCode(text, fields, counter)

    def counter_key(self, **fields: str) -> str:
        """Store key of the counter for ``fields`` (template + scoped values)."""
        self._check_fields(fields)
        return "\x1e".join([self.template, *(fields[n] for n in self.counter_scope)])
