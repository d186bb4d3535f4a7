"""QR payloads for receipts and results (TT 01/2023/TT-VPCP Điều 26) and their rendering.

Điều 26 sets the minimum content of the QR code printed at the top left of documents issued
by the one-stop system: dossier code, procedure code, owner identifier, document name, name of
the issuing system and issue time; a receipt (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) adds
the due date, a result adds its validity and scope.  The law does not fix an encoding, so this
module defines a compact, canonical, versioned one (``OSD1``)::

    OSD1|R|dossier|procedure|owner|document name|system|issued|due
    OSD1|K|dossier|procedure|owner|document name|system|issued|valid until|scope

* fields are separated by ``|``; inside text fields ``%``, ``|`` and control characters are
  percent-escaped (``%25``, ``%7C``, ``%0A``) with uppercase hex, and text is NFC UTF-8;
* ``issued`` is Vietnam local time with its offset, ``YYYYMMDDTHHMMSS+0700``; dates are
  ``YYYYMMDD``; empty optional fields stay empty;
* there is exactly one encoding of a payload: :meth:`QrPayload.decode` rejects any other
  (reason ``"non-canonical"``), so the payload text can be hashed or signed as is.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import dataclass
from typing import Final, Literal

from .._deps import require_module
from .._validate import check_int
from ..errors import InvalidArgumentError, InvalidCodeError
from ..types import VN_TZ
from ..vntext import normalize as _vn_normalize
from .dossier import DossierCode
from .procedure import ProcedureCode

__all__ = ["QR_VERSION", "QrPayload", "render_qr"]

#: Version tag of the payload encoding.
QR_VERSION: Final = "OSD1"

_KINDS: Final = {"receipt": "R", "result": "K"}
_KIND_OF: Final = {v: k for k, v in _KINDS.items()}
_ESCAPE_RE = re.compile(r"[%|\x00-\x1f\x7f]")
_OWNER_RE = re.compile(r"[0-9A-Z]*(?:[.\-][0-9A-Z]+)*")
_KIND = "QR payload"


def _escape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: f"%{ord(m.group()):02X}", text)


def _unescape(text: str, offset: int, payload: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            hexa = text[i + 1 : i + 3]
            if len(hexa) != 2 or re.fullmatch(r"[0-9A-F]{2}", hexa) is None:
                raise InvalidCodeError(
                    f"invalid {_KIND}: expected %HH (uppercase hex) at {offset + i}",
                    code=payload,
                    position=offset + i,
                    reason="bad-escape",
                )
            out.append(chr(int(hexa, 16)))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _text(value: object, name: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be str, got {type(value).__name__}")
    value = _vn_normalize(value)  # NFC with Vietnamese mark-order repair
    if not value.strip() and not empty_ok:
        raise InvalidArgumentError(f"{name} must not be empty")
    return value


@dataclass(frozen=True)
class QrPayload:
    """Content of the QR code on a receipt or a result (TT 01/2023/TT-VPCP Điều 26).

    Parameters
    ----------
    kind : {"receipt", "result"}
    dossier_code : str
        Mã số hồ sơ (validated syntax).
    procedure_code : str
        Mã TTHC (validated syntax).
    owner_id : str
        Identifier of the citizen/organisation (may be empty when there is none).
    document_name : str
        Tên giấy tờ (NFC).
    system_name : str
        Name of the issuing system (tên hệ thống cung cấp dữ liệu).
    issued_at : datetime
        Aware; stored in Vietnam time, truncated to whole seconds.
    due_date : date, optional
        Ngày hẹn trả: required for a receipt, refused for a result.
    valid_until : date, optional
        Result only: end of validity (thời hạn hiệu lực).
    scope : str, optional
        Result only: phạm vi sử dụng.

    Raises
    ------
    InvalidArgumentError
        Missing/extra fields for the kind, wrong types, naive datetime.
    InvalidCodeError
        Malformed dossier, procedure or owner code.

    Examples
    --------
    >>> import datetime
    >>> tz = datetime.timezone(datetime.timedelta(hours=7))
    >>> p = QrPayload("receipt", "H27.01-250630-0001", "1.001193", "001203004567",
    ...               "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "Một cửa Hà Tĩnh",
    ...               datetime.datetime(2025, 6, 30, 14, 5, 9, tzinfo=tz),
    ...               due_date=datetime.date(2025, 7, 3))
    >>> text = p.encode()
    >>> text
    'OSD1|R|H27.01-250630-0001|1.001193|001203004567|Giấy tiếp nhận hồ sơ và hẹn trả kết quả|Một cửa Hà Tĩnh|20250630T140509+0700|20250703'
    >>> QrPayload.decode(text) == p
    True
    """

    kind: Literal["receipt", "result"]
    dossier_code: str
    procedure_code: str
    owner_id: str
    document_name: str
    system_name: str
    issued_at: _dt.datetime
    due_date: _dt.date | None = None
    valid_until: _dt.date | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidArgumentError(f"kind must be 'receipt' or 'result', got {self.kind!r}")
        if not isinstance(self.dossier_code, str):
            raise InvalidArgumentError("dossier_code must be str")
        DossierCode.parse(self.dossier_code, check_table=False)
        if not isinstance(self.procedure_code, str):
            raise InvalidArgumentError("procedure_code must be str")
        ProcedureCode.parse(self.procedure_code, check_table=False)
        owner = _text(self.owner_id, "owner_id", empty_ok=True)
        if _OWNER_RE.fullmatch(owner) is None:
            raise InvalidCodeError(
                f"invalid owner_id {owner!r}: expected 0-9, A-Z, '.' and '-' only",
                code=owner,
                reason="bad-owner",
            )
        object.__setattr__(self, "document_name", _text(self.document_name, "document_name"))
        object.__setattr__(self, "system_name", _text(self.system_name, "system_name"))
        t = self.issued_at
        if not isinstance(t, _dt.datetime) or t.tzinfo is None or t.utcoffset() is None:
            raise InvalidArgumentError("issued_at must be a timezone-aware datetime")
        object.__setattr__(self, "issued_at", t.astimezone(VN_TZ).replace(microsecond=0))
        for name in ("due_date", "valid_until"):
            d = getattr(self, name)
            if d is not None and (isinstance(d, _dt.datetime) or not isinstance(d, _dt.date)):
                raise InvalidArgumentError(f"{name} must be a datetime.date or None")
        if self.kind == "receipt":
            if self.due_date is None:
                raise InvalidArgumentError("a receipt QR must carry due_date (ngày hẹn trả)")
            if self.valid_until is not None or self.scope is not None:
                raise InvalidArgumentError("valid_until and scope belong to a result QR")
        else:
            if self.due_date is not None:
                raise InvalidArgumentError("due_date belongs to a receipt QR")
            if self.scope is not None:
                object.__setattr__(self, "scope", _text(self.scope, "scope"))

    def encode(self) -> str:
        """The canonical ``OSD1`` text (see the module docstring)."""
        fields = [
            QR_VERSION,
            _KINDS[self.kind],
            self.dossier_code,
            self.procedure_code,
            self.owner_id,
            _escape(self.document_name),
            _escape(self.system_name),
            self.issued_at.strftime("%Y%m%dT%H%M%S%z"),
        ]
        if self.kind == "receipt":
            assert self.due_date is not None
            fields.append(self.due_date.strftime("%Y%m%d"))
        else:
            fields.append(self.valid_until.strftime("%Y%m%d") if self.valid_until else "")
            fields.append(_escape(self.scope) if self.scope is not None else "")
        return "|".join(fields)

    @classmethod
    def decode(cls, text: str) -> QrPayload:
        """Parse a canonical ``OSD1`` payload.

        Raises
        ------
        InvalidCodeError
            Unknown version (reason ``"version"``), wrong field count (``"field-count"``),
            bad field (``"bad-field"``, ``"bad-escape"``) or a non-canonical encoding
            (``"non-canonical"``); ``position`` is the offset in ``text`` where known.
        """
        if not isinstance(text, str):
            raise InvalidArgumentError(f"a QR payload must be str, got {type(text).__name__}")
        parts = text.split("|")
        starts = [0]
        for p in parts[:-1]:
            starts.append(starts[-1] + len(p) + 1)
        if parts[0] != QR_VERSION:
            raise InvalidCodeError(
                f"unsupported {_KIND}: expected version {QR_VERSION!r}, found {parts[0][:8]!r}",
                code=text,
                position=0,
                reason="version",
            )
        kind_s = _KIND_OF.get(parts[1]) if len(parts) > 1 else None
        if kind_s is None:
            raise InvalidCodeError(
                f"invalid {_KIND}: expected kind R or K in field 2",
                code=text,
                position=min(len(text), 5),
                reason="bad-field",
            )
        kind: Literal["receipt", "result"] = "receipt" if kind_s == "receipt" else "result"
        want = 9 if kind == "receipt" else 10
        if len(parts) != want:
            raise InvalidCodeError(
                f"invalid {_KIND}: expected {want} '|'-separated fields, found {len(parts)}",
                code=text,
                position=len(text),
                reason="field-count",
            )

        def field_error(idx: int, what: str) -> InvalidCodeError:
            return InvalidCodeError(
                f"invalid {_KIND}: field {idx + 1} is not {what}: {parts[idx][:40]!r}",
                code=text,
                position=starts[idx],
                reason="bad-field",
            )

        for idx, parse in ((2, DossierCode.parse), (3, ProcedureCode.parse)):
            try:
                parse(parts[idx], check_table=False)
            except InvalidCodeError as exc:
                pos = starts[idx] + (exc.position or 0)
                raise InvalidCodeError(
                    f"invalid {_KIND}: field {idx + 1}: {exc}",
                    code=text,
                    position=pos,
                    reason="bad-field",
                ) from exc
        try:
            issued = _dt.datetime.strptime(parts[7], "%Y%m%dT%H%M%S%z")
        except ValueError:
            raise field_error(7, "YYYYMMDDTHHMMSS+0700") from None

        def date_field(idx: int) -> _dt.date | None:
            if kind == "result" and parts[idx] == "":
                return None
            if re.fullmatch(r"[0-9]{8}", parts[idx]) is None:
                raise field_error(idx, "a date YYYYMMDD")
            try:
                return _dt.datetime.strptime(parts[idx], "%Y%m%d").date()
            except ValueError:
                raise field_error(idx, "a real date YYYYMMDD") from None

        name = _unescape(parts[5], starts[5], text)
        system = _unescape(parts[6], starts[6], text)
        scope = (_unescape(parts[9], starts[9], text) or None) if kind == "result" else None
        due = date_field(8) if kind == "receipt" else None
        valid_until = date_field(8) if kind == "result" else None
        try:
            payload = cls(
                kind,
                parts[2],
                parts[3],
                parts[4],
                name,
                system,
                issued,
                due_date=due,
                valid_until=valid_until,
                scope=scope,
            )
        except (InvalidArgumentError, InvalidCodeError) as exc:
            raise InvalidCodeError(
                f"invalid {_KIND}: {exc}", code=text, position=None, reason="bad-field"
            ) from exc
        if payload.encode() != text:
            raise InvalidCodeError(
                f"non-canonical {_KIND}: re-encoding gives a different text "
                f"(escapes, NFC, time zone or padding differ)",
                code=text,
                position=None,
                reason="non-canonical",
            )
        return payload


def render_qr(
    payload: QrPayload | str,
    format: Literal["png", "svg"] = "png",
    *,
    scale: int = 4,
    border: int = 4,
    error: Literal["L", "M", "Q", "H"] = "M",
) -> bytes:
    """Render a QR code (ISO/IEC 18004 = TCVN 7322:2009) for a receipt or result.

    Parameters
    ----------
    payload : QrPayload or str
        A payload (encoded with :meth:`QrPayload.encode`) or raw text.
    format : {"png", "svg"}, default "png"
    scale : int, default 4
        Pixels (PNG) or user units (SVG) per module; 4 px at 300 dpi is about 0.34 mm.
    border : int, default 4
        Quiet zone in modules (ISO/IEC 18004 requires 4).
    error : {"L", "M", "Q", "H"}, default "M"
        Error-correction level; M survives ~15 % damage and suits printed receipts.

    Returns
    -------
    bytes
        PNG or SVG document.

    Raises
    ------
    MissingDependencyError
        segno is not installed (``pip install 'onestop_docs[qr]'``).
    InvalidArgumentError
        Bad format, scale, border or error level, or an empty payload.

    Examples
    --------
    >>> render_qr("H27.01-250630-0001")[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    >>> render_qr("H27.01-250630-0001", format="svg")[:5]
    b'<?xml'
    """
    if format not in ("png", "svg"):
        raise InvalidArgumentError(f"format must be 'png' or 'svg', got {format!r}")
    check_int(scale, "scale", 1, 100)
    check_int(border, "border", 0, 100)
    if error not in ("L", "M", "Q", "H"):
        raise InvalidArgumentError(f"error must be one of L, M, Q, H, got {error!r}")
    text = payload.encode() if isinstance(payload, QrPayload) else payload
    if not isinstance(text, str) or not text:
        raise InvalidArgumentError("payload must be a QrPayload or a non-empty str")
    segno = require_module("segno", "qr")
    qr = segno.make(text, error=error.lower(), micro=False, boost_error=False)
    buf = io.BytesIO()
    qr.save(buf, kind=format, scale=scale, border=border)
    return buf.getvalue()
