"""Tests of onestop_docs.fields.extract_fields on generated administrative headers.

The cases are built from parts with known values (agency, document type, number, date, place,
subject), laid out as NĐ 30/2020 prescribes; the expected fields are those parts, never the
output of the code under test.  OCR cases render the same headers in the two-column layout
and read them with Tesseract.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

import numpy as np
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.codes import DocumentNotation
from onestop_docs.errors import InvalidArgumentError
from onestop_docs.fields import extract_fields, words_of
from onestop_docs.types import Box, OcrLine, OcrResult, OcrWord

MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")

# (parent body lines, issuing body lines, issuer abbreviation, place)
AGENCIES = [
    ((), ("ỦY BAN NHÂN DÂN", "TỈNH HÀ TĨNH"), "UBND", "Hà Tĩnh"),
    (("UBND TỈNH QUẢNG NINH",), ("SỞ TƯ PHÁP",), "STP", "Quảng Ninh"),
    ((), ("BỘ TƯ PHÁP",), "BTP", "Hà Nội"),
    (("BỘ Y TẾ",), ("CỤC QUẢN LÝ DƯỢC",), "QLD", "Hà Nội"),
    (("ỦY BAN NHÂN DÂN", "THÀNH PHỐ ĐÀ NẴNG"), ("SỞ NỘI VỤ",), "SNV", "Đà Nẵng"),
    ((), ("HỘI ĐỒNG NHÂN DÂN", "TỈNH THÁI BÌNH"), "HĐND", "Thái Bình"),
    (("UBND HUYỆN ĐỨC THỌ",), ("ỦY BAN NHÂN DÂN", "XÃ TÙNG ẢNH"), "UBND", "Tùng Ảnh"),
    ((), ("VĂN PHÒNG CHÍNH PHỦ",), "VPCP", "Hà Nội"),
    (("UBND TỈNH ĐẮK LẮK",), ("SỞ THÔNG TIN VÀ TRUYỀN THÔNG",), "STTTT", "Đắk Lắk"),
    ((), ("ỦY BAN NHÂN DÂN", "TỈNH THANH HÓA"), "UBND", "Thanh Hóa"),
    (("BỘ NỘI VỤ",), ("VỤ CẢI CÁCH HÀNH CHÍNH",), "CCHC", "Hà Nội"),
    ((), ("ỦY BAN NHÂN DÂN", "TỈNH NINH BÌNH"), "UBND", "Ninh Bình"),
]
# (type abbreviation or None for a Công văn, title line, type name)
TYPES = [
    ("QĐ", "QUYẾT ĐỊNH", "Quyết định"),
    ("KH", "KẾ HOẠCH", "Kế hoạch"),
    ("TB", "THÔNG BÁO", "Thông báo"),
    ("BC", "BÁO CÁO", "Báo cáo"),
    ("TTr", "TỜ TRÌNH", "Tờ trình"),
    (None, None, "Công văn"),
    ("HD", "HƯỚNG DẪN", "Hướng dẫn"),
    ("CTr", "CHƯƠNG TRÌNH", "Chương trình"),
]
SUBJECTS = [
    "Về việc thành lập Tổ công tác số hóa hồ sơ thủ tục hành chính",
    "Triển khai số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
    "Kết quả thực hiện cơ chế một cửa, một cửa liên thông quý III",
    "Đôn đốc cập nhật dữ liệu đặc tả của giấy tờ đã số hóa",
    "Tiếp nhận và trả kết quả tại Bộ phận Một cửa cấp xã",
    "Phê duyệt danh mục thủ tục hành chính được số hóa",
]
BODY = "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;"


@dataclass
class Case:
    parent: tuple[str, ...]
    issuer: tuple[str, ...]
    number: str
    year: int | None
    symbol: str
    type_code: str | None
    title: str | None
    type_name: str
    place: str
    date: dt.date
    subject: str

    @property
    def notation(self) -> str:
        return (
            f"{self.number}/{self.year}/{self.symbol}"
            if self.year
            else f"{self.number}/{self.symbol}"
        )

    @property
    def date_line(self) -> str:
        # NĐ 30: day < 10 and months 1-2 with a leading zero.
        d = f"{self.date.day:02d}" if self.date.day < 10 else str(self.date.day)
        m = f"{self.date.month:02d}" if self.date.month < 3 else str(self.date.month)
        return f"{self.place}, ngày {d} tháng {m} năm {self.date.year}"

    def left_column(self) -> list[str]:
        col = [*self.parent, *self.issuer, f"Số: {self.notation}"]
        if self.type_code is None:
            # The V/v subject wraps inside the left column (at most ~40 characters a line).
            rows = [""]
            for word in f"V/v {self.subject[0].lower()}{self.subject[1:]}".split():
                if rows[-1] and len(rows[-1]) + 1 + len(word) > 40:
                    rows.append(word)
                else:
                    rows[-1] = f"{rows[-1]} {word}".strip()
            col.extend(rows)
        return col

    def right_column(self) -> list[str]:
        return [*MOTTO, self.date_line]

    def below(self) -> list[str]:
        out = [self.title, self.subject] if self.title else ["Kính gửi: Các sở, ban, ngành"]
        return [*out, BODY]

    def text_single_column(self) -> str:
        return "\n".join([*self.left_column(), *self.right_column(), *self.below()])

    def text_two_column(self) -> str:
        left, right = self.left_column(), self.right_column()
        rows = [
            f"{left[i] if i < len(left) else ''}    {right[i] if i < len(right) else ''}".strip()
            for i in range(max(len(left), len(right)))
        ]
        return "\n".join(rows + self.below())

    @property
    def expected_subject(self) -> str:
        return self.subject if self.title else f"{self.subject[0].lower()}{self.subject[1:]}"


def make_cases(n: int, seed: int = 6) -> list[Case]:
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        parent, issuer, abbr, place = AGENCIES[i % len(AGENCIES)]
        type_code, title, type_name = TYPES[i % len(TYPES)]
        year: int | None = None
        if i % 5 == 4 and type_code == "QĐ":
            year = 2020 + rnd.randrange(6)  # legal document with a year group
        date = dt.date(2018 + rnd.randrange(9), rnd.randrange(1, 13), rnd.randrange(1, 29))
        number = f"{rnd.randrange(1, 10):02d}" if i % 3 == 0 else str(rnd.randrange(10, 4000))
        if type_code is None:
            symbol = f"{abbr}-{rnd.choice(['VP', 'KSTTHC', 'NC', 'VX'])}"
        else:
            symbol = f"{type_code}-{abbr}"
        cases.append(
            Case(
                parent,
                issuer,
                number,
                year,
                symbol,
                type_code,
                title,
                type_name,
                place,
                date,
                SUBJECTS[i % len(SUBJECTS)],
            )
        )
    return cases


CASES = make_cases(36)


def check_core(case: Case, f: object) -> None:
    from onestop_docs.fields import Fields

    assert isinstance(f, Fields)
    assert f.notation is not None, case.notation
    assert str(f.notation.value) == case.notation
    groups = case.symbol.split("-")
    if case.type_code is None:
        expected = DocumentNotation(int(case.number), case.year, None, groups[0], tuple(groups[1:]))
    else:
        expected = DocumentNotation(
            int(case.number), case.year, groups[0], groups[1], tuple(groups[2:])
        )
    assert f.notation.value == expected
    assert f.issue_date is not None and f.issue_date.value == case.date, case.date_line


def test_cases_are_varied() -> None:
    assert len(CASES) >= 30
    assert len({c.place for c in CASES}) >= 8
    assert len({c.type_code for c in CASES}) >= 7
    assert len({c.date.year for c in CASES}) >= 5
    assert any(c.year for c in CASES) and any(
        len(c.number) == 2 and c.number[0] == "0" for c in CASES
    )


@pytest.mark.parametrize("layout", ["single", "two-column"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.notation)
def test_clean_text(case: Case, layout: str) -> None:
    text = case.text_single_column() if layout == "single" else case.text_two_column()
    f = extract_fields(text)
    check_core(case, f)
    assert f.place is not None and f.place.value == case.place
    assert f.issuing_body is not None and f.issuing_body.value == " ".join(case.issuer)
    if case.parent:
        assert f.parent_body is not None and f.parent_body.value == " ".join(case.parent)
    else:
        assert f.parent_body is None
    assert f.document_type is not None and f.document_type.value == case.type_name
    assert f.subject is not None and f.subject.value == case.expected_subject
    # Spans point at the source text and confidences are sane.
    for fld in (f.notation, f.issue_date, f.place, f.issuing_body, f.subject):
        assert fld is not None
        s, e = fld.span
        assert f.text[s:e] == fld.source
        assert 0.0 < fld.confidence <= 1.0
    assert f.text[slice(*f.notation.span)].startswith("Số")
    assert case.notation in f.notation.source
    # The body's citation date is found too, after the issue date.
    assert [d.value for d in f.dates][:2] == [case.date, dt.date(2015, 6, 19)]


@pytest.mark.parametrize("case", CASES[:8], ids=lambda c: c.notation)
def test_right_column_first(case: Case) -> None:
    """OCR may read the right column (motto, date line) before the left one."""
    text = "\n".join([*case.right_column(), *case.left_column(), *case.below()])
    f = extract_fields(text)
    check_core(case, f)
    assert f.place is not None and f.place.value == case.place
    assert f.issuing_body is not None and f.issuing_body.value == " ".join(case.issuer)


TONE_NOISE = {
    "à": "a",
    "á": "â",
    "ả": "ã",
    "ạ": "a",
    "ố": "ô",
    "ộ": "ô",
    "ơ": "o",
    "ư": "u",
    "ớ": "ó",
    "ế": "ê",
    "ệ": "e",
    "ì": "i",
    "ĩ": "í",
    "ỉ": "i",
    "ủ": "ú",
    "ỦY": "ỦY",
    "Đ": "Ð",
    "đ": "d",
    "ậ": "â",
    "ă": "a",
    "ờ": "o",
    "ữ": "u",
    "Ố": "Ô",
    "Ô": "O",
}


@given(st.sampled_from(CASES), st.randoms(use_true_random=False), st.floats(0.2, 1.0))
def test_diacritic_noise_does_not_stop_a_match(case: Case, rnd: random.Random, rate: float) -> None:
    """OCR-like damage to the marks only: digits and punctuation stay; values still match."""
    text = case.text_two_column()
    noisy = "".join(TONE_NOISE[c] if c in TONE_NOISE and rnd.random() < rate else c for c in text)
    f = extract_fields(noisy)
    assert f.notation is not None
    n = f.notation.value
    assert (n.number, n.year, n.type_abbrev) == (int(case.number), case.year, case.type_code)
    # Only the letter shapes may differ in the symbol: compare by folded key.
    from onestop_docs.vntext import comparison_key

    assert comparison_key(n.notation) == comparison_key(case.symbol)
    assert f.issue_date is not None and f.issue_date.value == case.date
    assert f.place is not None and comparison_key(f.place.value) == comparison_key(case.place)


def test_notation_forms() -> None:
    f = extract_fields("Số: 09/2025/QĐ-TTg")
    assert f.notation is not None
    assert f.notation.value == DocumentNotation(9, 2025, "QĐ", "TTg")
    assert f.document_type is not None and f.document_type.value == "Quyết định"
    # OCR damage: "Sô;", spaces around the dashes, eth look-alike, plain D.
    for noisy in ("Sô; 223/KH - UBND", "S0: 223/KH-UBND", "Số : 223 / KH-UBND"):
        g = extract_fields(noisy)
        assert g.notation is not None and str(g.notation.value) == "223/KH-UBND", noisy
        assert g.notation.confidence < 1.0
    g = extract_fields("Số: 15/QÐ-BNV")
    assert g.notation is not None and str(g.notation.value) == "15/QĐ-BNV"
    g = extract_fields("Số: 15/QD-BNV")
    assert g.notation is not None and g.notation.value.type_abbrev == "QĐ"
    assert str(g.notation.value) == "15/QĐ-BNV"
    # A Công văn: the first group is the issuer, not a type.
    g = extract_fields("Số: 12/UBND-VX\nV/v tăng cường số hóa")
    assert g.notation is not None and g.notation.value.type_abbrev is None
    assert g.notation.value.issuer == "UBND"
    assert g.document_type is not None and g.document_type.value == "Công văn"
    assert g.subject is not None and g.subject.value == "tăng cường số hóa"


def test_number_without_leading_zero_is_kept_with_less_confidence() -> None:
    # NĐ 30 writes numbers below 10 as "05"; a "5" still reads, less surely.
    f = extract_fields("Số: 5/QĐ-UBND")
    g = extract_fields("Số: 05/QĐ-UBND")
    assert f.notation is not None and g.notation is not None
    assert f.notation.value == g.notation.value == DocumentNotation(5, None, "QĐ", "UBND")
    assert f.notation.confidence < g.notation.confidence == 1.0
    assert extract_fields("Số: 00/QĐ-UBND").notation is None  # number 0 does not exist


def test_citation_in_body_is_not_the_document_number() -> None:
    text = "Thực hiện Quyết định số 468/QĐ-TTg ngày 27/3/2021 của Thủ tướng\nSố: 05/BC-UBND"
    f = extract_fields(text)
    assert f.notation is not None and str(f.notation.value) == "05/BC-UBND"
    assert [d.value for d in f.dates] == [dt.date(2021, 3, 27)]


def test_dates_numeric_forms_and_invalid() -> None:
    f = extract_fields("nộp 30/06/2021, hẹn 1.7.2021, ISO 2021-07-02, sai 31/02/2021, 5/2021")
    assert [d.value for d in f.dates] == [
        dt.date(2021, 6, 30),
        dt.date(2021, 7, 1),
        dt.date(2021, 7, 2),
    ]
    for d in f.dates:
        assert f.text[slice(*d.span)] == d.source


def test_long_date_with_tone_noise_and_invalid_date() -> None:
    f = extract_fields("Hà Tĩnh, ngảy 30 thang 6 nằm 2021")
    assert f.issue_date is not None and f.issue_date.value == dt.date(2021, 6, 30)
    assert f.place is not None and f.place.value == "Hà Tĩnh"
    assert extract_fields("Hà Tĩnh, ngày 31 tháng 2 năm 2021").issue_date is None


def test_place_names() -> None:
    for place in ["Thành phố Hồ Chí Minh", "TP. Hồ Chí Minh", "Bà Rịa - Vũng Tàu", "Cần Thơ"]:
        f = extract_fields(f"Số: 01/TB-UBND    {place}, ngày 05 tháng 01 năm 2020")
        assert f.place is not None and f.place.value == place
        assert f.issue_date is not None and f.issue_date.value == dt.date(2020, 1, 5)


def test_codes_and_citizen_ids() -> None:
    text = (
        "Mã hồ sơ: 000.00.00.H27-210630-0001; H56.14-240823-0012; sai H56.14-210230-0001\n"
        "Đơn vị: H27.01 và 000.17.22.H56; TTHC 1.001193\n"
        "CCCD: 042203004567; số khác 123 và 999203004567 (mã tỉnh 999 không có)"
    )
    f = extract_fields(text)
    assert [x.value for x in f.dossier_codes] == ["000.00.00.H27-210630-0001", "H56.14-240823-0012"]
    assert [x.value for x in f.agency_ids] == ["H27.01", "000.17.22.H56"]
    assert [x.value for x in f.citizen_ids] == ["042203004567"]
    for fld in (*f.dossier_codes, *f.agency_ids, *f.citizen_ids):
        assert f.text[slice(*fld.span)] == fld.value
    # H27 (Hà Tĩnh) is a confirmed Mã cấp 1; X99 is not in the table: kept, less surely.
    g = extract_fields("H27.01-210630-0001 X99.01-210630-0002 H27.01 X99.01")
    assert [(x.value, x.confidence) for x in g.dossier_codes] == [
        ("H27.01-210630-0001", 1.0),
        ("X99.01-210630-0002", 0.8),
    ]
    assert [(x.value, x.confidence) for x in g.agency_ids] == [("H27.01", 1.0), ("X99.01", 0.8)]


@given(
    st.integers(1, 96),
    st.integers(0, 9),
    st.integers(0, 99),
    st.integers(0, 999_999),
    st.sampled_from([" ", ": ", "\n", " số "]),
)
def test_citizen_id_property(prov: int, century: int, yy: int, rest: int, sep: str) -> None:
    cid = f"{prov:03d}{century}{yy:02d}{rest:06d}"
    f = extract_fields(f"Số định danh cá nhân{sep}{cid}.")
    assert [x.value for x in f.citizen_ids] == [cid]
    assert extract_fields(f"Số{sep}{cid}7").citizen_ids == ()  # 13 digits is not an ID


def test_nfd_input_and_spans_index_normalised_text() -> None:
    case = CASES[0]
    f = extract_fields(unicodedata.normalize("NFD", case.text_single_column()))
    check_core(case, f)
    assert f.text == unicodedata.normalize("NFC", case.text_single_column())


def _result_from_text(text: str, conf: float) -> OcrResult:
    lines = []
    for li, line in enumerate(text.split("\n")):
        words = tuple(
            OcrWord(w, Box(10 * i, 20 * li, 10 * i + 9, 20 * li + 15), conf, li)
            for i, w in enumerate(line.split(" "))
        )
        lines.append(OcrLine(words, Box(0, 20 * li, 10 * len(words), 20 * li + 15)))
    return OcrResult("\n".join(ln.text for ln in lines), tuple(lines), conf, 1000, 1000)


def test_ocr_confidence_scales_field_confidence() -> None:
    text = CASES[1].text_single_column()
    high = extract_fields(_result_from_text(text, 96.0))
    low = extract_fields(_result_from_text(text, 40.0))
    plain = extract_fields(text)
    assert high.notation is not None and low.notation is not None and plain.notation is not None
    assert low.notation.value == high.notation.value == plain.notation.value
    assert low.notation.confidence == pytest.approx(plain.notation.confidence * 0.40, abs=1e-3)
    assert high.notation.confidence == pytest.approx(plain.notation.confidence * 0.96, abs=1e-3)


def test_words_of_rejects_bad_arguments() -> None:
    res = _result_from_text("Số: 05/QĐ-UBND", 90.0)
    f = extract_fields(res)
    assert f.notation is not None
    assert [w.text for w in words_of(res, f.notation)] == ["Số:", "05/QĐ-UBND"]
    with pytest.raises(InvalidArgumentError):
        words_of("text", f.notation)  # type: ignore[arg-type]


def test_empty_and_bad_input() -> None:
    f = extract_fields("")
    assert f.notation is None and f.issue_date is None and f.dates == () and f.text == ""
    with pytest.raises(InvalidArgumentError):
        extract_fields(b"bytes")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ OCR of clean pages


def render_header(case: Case, dpi: int = 300) -> np.ndarray:
    """Two-column header (NĐ 30 layout) over full-width title/subject/body lines."""
    font_pt, margin = 12.0, 4.0  # NĐ 30 prescribes 12-13 pt for these lines
    step_mm = font_pt / 72 * 25.4 * 1.5

    def block(lines: list[str], width_mm: float) -> np.ndarray:
        h = 2 * margin + (len(lines) + 1.2) * step_mm
        p = synth.render_page(
            lines,
            paper=(width_mm, h),
            dpi=dpi,
            font_pt=font_pt,
            margin_mm=margin,
            max_lines=len(lines),
        )
        assert p.lines == lines, "test page too narrow: a line was cut"
        return p.gray

    left, right = case.left_column(), case.right_column()
    n = max(len(left), len(right))
    lcol = block(left, 84.0)
    rcol = block(right, 100.0)
    h = max(lcol.shape[0], rcol.shape[0])
    pad = lambda a: np.vstack([a, np.full((h - a.shape[0], a.shape[1]), 255, np.uint8)])  # noqa: E731
    top = np.hstack([pad(lcol), pad(rcol)])
    bottom = block(case.below(), 184.0)
    assert n and top.shape[1] == bottom.shape[1]
    return np.vstack([top, bottom])


def _ocr_case(case: Case) -> object:
    from onestop_docs.ocr import recognize

    return recognize(render_header(case), dpi=300, preprocess=False)


@pytest.mark.ocr
@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: c.notation)
def test_ocr_clean_headers_quick(case: Case) -> None:
    res = _ocr_case(case)
    assert isinstance(res, OcrResult)
    f = extract_fields(res)
    check_core(case, f)
    assert f.notation is not None and 0.0 < f.notation.confidence <= 1.0
    # The words under the number sit in the left column, those under the date in the right.
    assert f.issue_date is not None
    num_words, date_words = words_of(res, f.notation), words_of(res, f.issue_date)
    assert " ".join(w.text for w in num_words) == f.notation.source
    assert " ".join(w.text for w in date_words) == f.issue_date.source
    half = res.width * 84 // 184  # left column width in render_header
    assert all(w.box.x1 <= half + 5 for w in num_words)
    assert all(w.box.x0 >= half - 5 for w in date_words)


@pytest.mark.ocr
@pytest.mark.slow
def test_ocr_clean_headers_all() -> None:
    failures = []
    for case in CASES[3:]:
        f = extract_fields(_ocr_case(case))  # type: ignore[arg-type]
        try:
            check_core(case, f)
        except AssertionError as exc:
            failures.append(f"{case.notation} {case.date}: {exc}\n{f.text}")
    assert not failures, "\n\n".join(failures)


KNOWN_TYPES = ["QĐ", "KH", "TB", "BC", "TTr", "CTr", "HD", "NQ", "QyĐ", "ĐA", "SY", "NĐ", "TT"]
ABBR = st.text(alphabet=st.sampled_from(list("ABCDGHKLMNPQSTUVXĐ")), min_size=2, max_size=6)


@given(
    st.integers(1, 9999),
    st.one_of(st.none(), st.integers(1990, 2030)),
    st.one_of(st.none(), st.sampled_from(KNOWN_TYPES)),
    ABBR,
    st.lists(ABBR, max_size=2),
    st.sampled_from(["\n", "    "]),
)
def test_notation_property(
    number: int, year: int | None, type_code: str | None, issuer: str, units: list[str], sep: str
) -> None:
    from hypothesis import assume

    from onestop_docs.codes import COPY_TYPES, DOCUMENT_TYPES, NORMATIVE_TYPES

    types = {*DOCUMENT_TYPES, *COPY_TYPES, *NORMATIVE_TYPES}
    # A Công văn's first group must not read as a type, nor as a type with a doubled letter
    # (which extract_fields repairs as an OCR slip: documented limitation).
    doubled = {
        issuer[:i] + issuer[i + 1 :] for i in range(1, len(issuer)) if issuer[i] == issuer[i - 1]
    }
    # Nor as a type read with Đ as D (CD for CĐ: repaired as an OCR slip too).
    folded = {t.replace("Đ", "D") for t in types}
    assume(
        type_code is not None
        or (issuer not in types and issuer not in folded and not doubled & types)
    )
    expected = DocumentNotation(number, year, type_code, issuer, tuple(units))
    text = f"Số: {expected}{sep}Hà Tĩnh, ngày 05 tháng 01 năm 2020\nNội dung"
    f = extract_fields(text)
    assert f.notation is not None and f.notation.value == expected
    assert f.notation.confidence == 1.0
    assert f.text[slice(*f.notation.span)] == f"Số: {expected}"


@given(
    st.lists(
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(
                [
                    "Số:",
                    "/",
                    "-",
                    "ngày",
                    "tháng",
                    "năm",
                    "V/v",
                    ",",
                    "\n",
                    " ",
                    "2021",
                    "30",
                    "QĐ",
                    "UBND",
                    "H27.01",
                    "000.00.00.H27",
                    "Hà Tĩnh",
                    "ỦY BAN",
                    "KẾ HOẠCH",
                ]
            ),
        ),
        max_size=30,
    )
)
def test_any_text_gives_consistent_spans(parts: list[str]) -> None:
    f = extract_fields("".join(parts))
    singles = [f.notation, f.place, f.issue_date, f.issuing_body, f.parent_body, f.subject]
    for fld in [*singles, *f.dossier_codes, *f.agency_ids, *f.citizen_ids, *f.dates]:
        if fld is None:
            continue
        s, e = fld.span
        assert 0 <= s <= e <= len(f.text)
        assert f.text[s:e] == fld.source
        assert 0.0 <= fld.confidence <= 1.0
