"""QR payloads (TT 01/2023 Điều 26), QR rendering and digitization-code schemes.

Rendered codes are read back with an independent decoder (OpenCV's QRCodeDetector); the SVG
is rasterised by a tiny path reader below, independent of segno.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.codes import (
    DigitizationCodeScheme,
    QrPayload,
    render_qr,
)
from onestop_docs.errors import InvalidArgumentError, InvalidCodeError, MissingDependencyError

VN = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 6, 30, 14, 5, 9, tzinfo=VN)


def receipt(**kw: object) -> QrPayload:
    args: dict[str, object] = dict(
        kind="receipt",
        dossier_code="H27.01-250630-0001",
        procedure_code="1.001193",
        owner_id="001203004567",
        document_name="Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        system_name="Hệ thống thông tin giải quyết TTHC tỉnh Hà Tĩnh",
        issued_at=T0,
        due_date=dt.date(2025, 7, 3),
    )
    args.update(kw)
    return QrPayload(**args)  # type: ignore[arg-type]


def test_receipt_encoding_is_the_documented_one() -> None:
    # Expected text written from the format description in the module docstring.
    expected = "|".join(
        [
            "OSD1",
            "R",
            "H27.01-250630-0001",
            "1.001193",
            "001203004567",
            "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
            "Hệ thống thông tin giải quyết TTHC tỉnh Hà Tĩnh",
            "20250630T140509+0700",
            "20250703",
        ]
    )
    assert receipt().encode() == expected
    assert QrPayload.decode(expected) == receipt()


def test_result_payload_and_escaping() -> None:
    p = QrPayload(
        "result",
        "000.00.00.H27-210630-0001",
        "1.000234.000.00.00.H42",
        "",
        "Giấy khai sinh | bản chính 100%",
        "DVC\nHà Tĩnh",
        dt.datetime(2025, 6, 30, 7, 5, 9, 123456, tzinfo=dt.UTC),
        valid_until=None,
        scope="Toàn quốc",
    )
    text = p.encode()
    assert "Giấy khai sinh %7C bản chính 100%25" in text
    assert "DVC%0AHà Tĩnh" in text
    assert "|20250630T140509+0700|" in text  # 07:05:09 UTC is 14:05:09 in Vietnam
    assert text.endswith("||Toàn quốc")
    back = QrPayload.decode(text)
    assert back == p and back.issued_at.microsecond == 0
    assert back.document_name == "Giấy khai sinh | bản chính 100%"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t.replace("OSD1", "OSD2", 1), "version"),
        (lambda t: t.replace("|R|", "|X|", 1), "bad-field"),
        (lambda t: t + "|extra", "field-count"),
        (lambda t: t.rsplit("|", 1)[0], "field-count"),
        (lambda t: t.replace("+0700", "+0000"), "non-canonical"),
        (lambda t: t.replace("20250703", "20250732"), "bad-field"),
        (lambda t: t.replace("20250630T140509", "2025-06-30T14:05:09"), "bad-field"),
        (lambda t: t.replace("Giấy", unicodedata.normalize("NFD", "Giấy")), "non-canonical"),
        (lambda t: t.replace("Giấy", "Gi%E1%BA%A5y"), "non-canonical"),
        (lambda t: t.replace("Giấy", "Gi%zzy"), "bad-escape"),
        (lambda t: t.replace("H27.01-250630-0001", "h27.01-250630-0001"), "bad-field"),
        (lambda t: t.replace("1.001193", "1.00119"), "bad-field"),
    ],
)
def test_decode_rejects_malformed_and_non_canonical(mutate: object, reason: str) -> None:
    text = mutate(receipt().encode())  # type: ignore[operator]
    with pytest.raises(InvalidCodeError) as exc:
        QrPayload.decode(text)
    assert exc.value.reason == reason, str(exc.value)


@given(st.data())
def test_decode_of_damaged_payloads_raises_only_invalid_code_error(data: st.DataObject) -> None:
    text = receipt(document_name="Giấy | 100%").encode()
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars) - 1))
        op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        ch = data.draw(st.sampled_from(list("|%0aZ7C-.+ \u0301\x00")))
        if op == "replace":
            chars[i] = ch
        elif op == "delete":
            del chars[i]
        else:
            chars.insert(i, ch)
    damaged = "".join(chars)
    try:
        back = QrPayload.decode(damaged)
    except InvalidCodeError as exc:
        assert exc.position is None or 0 <= exc.position <= len(damaged)
    else:
        assert back.encode() == damaged  # accepted only if it is canonical


def test_lowercase_hex_escape_is_rejected() -> None:
    text = receipt(document_name="a|b").encode().replace("%7C", "%7c")
    with pytest.raises(InvalidCodeError) as exc:
        QrPayload.decode(text)
    assert exc.value.reason == "bad-escape"


def test_text_fields_get_the_library_normal_form() -> None:
    # "Giấy" typed with the tone mark before the circumflex: plain NFC cannot compose it
    # (both marks have combining class 230), the library's normal form can.
    typed = "Gia\u0301\u0302y tiếp nhận"
    assert unicodedata.normalize("NFC", typed) != "Giấy tiếp nhận"
    p = receipt(document_name=typed, system_name="Hệ thống \u00d0ăng ký")
    assert p.document_name == "Giấy tiếp nhận"
    assert p.system_name == "Hệ thống Đăng ký"  # OCR look-alike eth read as Đ
    assert QrPayload.decode(p.encode()) == p


def test_payload_field_rules() -> None:
    with pytest.raises(InvalidArgumentError):
        receipt(due_date=None)
    with pytest.raises(InvalidArgumentError):
        receipt(issued_at=dt.datetime(2025, 6, 30, 14, 5))
    with pytest.raises(InvalidArgumentError):
        receipt(document_name="   ")
    with pytest.raises(InvalidArgumentError):
        receipt(kind="result")  # a result cannot carry a due date
    with pytest.raises(InvalidCodeError):
        receipt(dossier_code="H27.01-250630-0000")
    with pytest.raises(InvalidCodeError):
        receipt(owner_id="0012 0300")


text_st = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)


@given(
    st.sampled_from(["receipt", "result"]),
    text_st,
    text_st,
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2099, 12, 30),
        timezones=st.sampled_from([dt.UTC, VN, dt.timezone(dt.timedelta(hours=-9, minutes=-30))]),
    ),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.none() | text_st,
    st.text("0123456789", max_size=12),
)
def test_payload_round_trip(
    kind: str,
    name: str,
    system: str,
    issued: dt.datetime,
    day: dt.date,
    scope: str | None,
    owner: str,
) -> None:
    extra: dict[str, object]
    if kind == "receipt":
        extra = {"due_date": day}
    else:
        extra = {"valid_until": day, "scope": scope}
    p = QrPayload(kind, "H56.14-240823-0001", "2.000635", owner, name, system, issued, **extra)  # type: ignore[arg-type]
    text = p.encode()
    assert QrPayload.decode(text) == p
    assert QrPayload.decode(text).encode() == text
    assert text.count("|") == (8 if kind == "receipt" else 9)
    # Independent check of the time field: Vietnam local time = UTC + 7 h.
    local = issued.astimezone(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=7)
    assert text.split("|")[7] == local.strftime("%Y%m%dT%H%M%S") + "+0700"
    assert all(re.search(r"[\x00-\x1f\x7f]", f) is None for f in text.split("|"))


# --------------------------------------------------------------------------- rendering


def _read_qr(img: np.ndarray) -> str:
    """Decode with OpenCV; the classic detector misses some symbols, so try both detectors."""
    cv2 = pytest.importorskip("cv2")
    padded = np.pad(img, 16, constant_values=255)
    detectors = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    for det in detectors:
        text, _, _ = det.detectAndDecode(padded)
        if text:
            return str(text)
    return ""


def _decode_png(png: bytes) -> str:
    from PIL import Image

    return _read_qr(np.array(Image.open(io.BytesIO(png)).convert("L")))


def _rasterise_segno_svg(svg: bytes) -> np.ndarray:
    """Module matrix from a segno SVG path (M/m moves and h runs, in module units)."""
    m = re.search(rb'<svg[^>]*width="(\d+)"[^>]*height="(\d+)"', svg)
    path = re.search(rb' d="([^"]+)"', svg)
    scale = re.search(rb"scale\((\d+)\)", svg)
    assert m and path and scale
    k = int(scale.group(1))
    w, h = int(m.group(1)) // k, int(m.group(2)) // k
    grid = np.full((h, w), 255, np.uint8)
    x = y = 0.0
    for cmd, args in re.findall(rb"([MmHh])([^MmHh]+)", path.group(1)):
        nums = [float(v) for v in re.split(rb"[ ,]+", args.strip()) if v]
        if cmd == b"M":
            x, y = nums
        elif cmd == b"m":
            x, y = x + nums[0], y + nums[1]
        else:
            end = nums[0] if cmd == b"H" else x + nums[0]
            grid[int(y), int(x) : int(end)] = 0
            x = end
    return grid


@pytest.mark.parametrize("error", ["L", "M", "H"])
def test_png_renders_and_decodes(error: str) -> None:
    text = receipt().encode()
    png = render_qr(receipt(), scale=5, error=error)  # type: ignore[arg-type]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _decode_png(png) == text


def test_svg_renders_and_decodes() -> None:
    payload = receipt()
    svg = render_qr(payload, format="svg", scale=3)
    assert svg.startswith(b"<?xml")
    grid = _rasterise_segno_svg(svg)
    assert _read_qr(np.kron(grid, np.ones((6, 6), np.uint8))) == payload.encode()


def test_render_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        render_qr("x", format="jpeg")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        render_qr("x", scale=0)
    with pytest.raises(InvalidArgumentError):
        render_qr("x", error="X")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        render_qr("")


def test_missing_segno_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "segno", None)  # makes `import segno` fail
    with pytest.raises(MissingDependencyError, match=r"onestop_docs\[qr\]"):
        render_qr("H27.01-250630-0001")


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from onestop_docs.codes import PostgresCodeStore

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependencyError, match=r"onestop_docs\[postgres\]"):
        PostgresCodeStore("host=/tmp")


# --------------------------------------------------------------------------- digitization


owner_st = st.one_of(
    st.text("0123456789", min_size=12, max_size=12),  # CCCD
    st.text("0123456789", min_size=10, max_size=10),  # mã số thuế / doanh nghiệp
    st.builds(
        lambda a, b: f"{a}-{b}",
        st.text("0123456789", min_size=10, max_size=10),
        st.text("0123456789", min_size=3, max_size=3),
    ),
    st.builds(
        lambda c, d: c + d, st.sampled_from("BCN"), st.text("0123456789", min_size=7, max_size=7)
    ),
    st.just(""),  # no identifier (TT 01/2023 Điều 10 k2)
)
type_st = st.one_of(
    st.builds(
        lambda m, n: f"KQ.{m}.{n:06d}",
        st.sampled_from(["G15", "G01", "H27"]),
        st.integers(0, 999999),
    ),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8),
)


@given(owner_st, type_st, st.integers(1, 99))
def test_default_scheme_round_trip(owner: str, type_code: str, counter: int) -> None:
    scheme = DigitizationCodeScheme()
    code = scheme.build(owner_id=owner, type_code=type_code, counter=counter)
    assert code.text == f"{owner}.{type_code}.{counter:02d}"  # the documented default
    back = scheme.parse(code.text)
    assert back == code
    assert (back["owner_id"], back["type_code"], back.counter) == (owner, type_code, counter)


def test_custom_templates() -> None:
    copy = DigitizationCodeScheme(
        "{owner_id}.{document_code}.STP-SCT.{counter:02d}",
        counter_scope=("owner_id",),
    )
    c = copy.build(owner_id="001203004567", document_code="GKS", counter=4)
    assert str(c) == "001203004567.GKS.STP-SCT.04"
    assert copy.parse("001203004567.GKS.STP-SCT.04") == c
    wide = DigitizationCodeScheme("{type_code}/{owner_id}/{counter:05d}", max_counter=99999)
    assert str(wide.build(type_code="KQ.G15.000031", owner_id="X1", counter=42)) == (
        "KQ.G15.000031/X1/00042"
    )
    # The counter key includes the template, so two schemes never share numbers.
    assert copy.counter_key(owner_id="A", document_code="B") != DigitizationCodeScheme(
        "{owner_id}.{document_code}.{counter:02d}", counter_scope=("owner_id",)
    ).counter_key(owner_id="A", document_code="B")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"template": "{owner_id}.{type_code}"},  # no counter
        {"template": "{owner_id}.{counter}.{counter}"},
        {"template": "{owner_id!r}.{counter}"},
        {"template": "{owner_id:>5}.{counter}"},
        {"template": "{Owner}.{counter}"},
        {"template": "{owner_id}.{counter:x}"},
        {"template": "{owner_id.{counter}"},
        {"counter_scope": ("nobody",)},
        {"max_counter": 0},
        {"field_patterns": {"owner_id": "("}},
    ],
)
def test_bad_schemes(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        DigitizationCodeScheme(**kwargs)  # type: ignore[arg-type]


def test_scheme_value_checks() -> None:
    scheme = DigitizationCodeScheme()
    with pytest.raises(InvalidCodeError):
        scheme.format(owner_id="0012.03", type_code="KQ.G15.000031", counter=1)  # dot in owner
    with pytest.raises(InvalidArgumentError):
        scheme.format(owner_id="001203004567", counter=1)  # missing type_code
    with pytest.raises(InvalidArgumentError):
        scheme.format(owner_id="1", type_code="T", counter=100)
    with pytest.raises(InvalidCodeError) as exc:
        scheme.parse("001203004567.KQ.G15.000031.1")
    assert exc.value.reason == "template-mismatch"
    with pytest.raises(InvalidCodeError) as exc:
        scheme.parse("001203004567.KQ.G15.000031.00")
    assert exc.value.reason == "bad-counter"
    # A template whose fields can swallow each other is caught when formatting.
    greedy = DigitizationCodeScheme(
        "{a}{b}.{counter}", counter_scope=("a",), field_patterns={"a": "[A-Z]*", "b": "[A-Z]+"}
    )
    assert greedy.format(a="AB", b="C", counter=1) == "ABC.1"  # parses back to the same
    with pytest.raises(InvalidArgumentError, match="ambiguous"):
        greedy.format(a="A", b="BC", counter=1)  # would parse back as a="AB", b="C"
