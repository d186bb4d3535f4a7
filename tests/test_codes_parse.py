"""Parsers of onestop_docs.codes against the rules of regulations.md §1-3, §7.

References: the regex cheat-sheet of regulations.md §7 (copied verbatim below) plus
``datetime.date`` for the calendar; hand-derived (position, reason) for the invalid table.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from onestop_docs.codes import (
    AgencyForm,
    AgencyId,
    AgencyMapping,
    DocumentNotation,
    DossierCode,
    FieldCode,
    Level1Table,
    ProcedureCode,
    ResultTypeCode,
    UnknownLevel1Warning,
    archive_file_name,
    parse_archive_file_name,
    set_default_level1_table,
    validate_dossier_codes,
)
from onestop_docs.codes.dossier import _validate_python
from onestop_docs.errors import InvalidArgumentError, InvalidCodeError

pytestmark = pytest.mark.filterwarnings("ignore::onestop_docs.codes.UnknownLevel1Warning")

# ---- regulations.md §7, verbatim ------------------------------------------------------------
AGENCY_LEGACY = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Y][0-9]{2}"
AGENCY_QD20 = r"[A-Y][0-9]{2}(?:\.[0-9A-Z]+)*"
AGENCY = rf"(?:{AGENCY_LEGACY}|{AGENCY_QD20})"
DOSSIER_CODE = rf"(?P<agency>{AGENCY})-(?P<yymmdd>[0-9]{{6}})-(?P<seq>[0-9]{{4}})"
LINH_VUC_CODE = r"[A-Y][0-9]{2}-[0-9A-Z]+"
TTHC_CODE = r"[12]\.[0-9]{6}(?:\.(?:[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Y][0-9]{2}|[A-Y][0-9]{2}(?:\.[0-9A-Z]+)*))?"
RESULT_TYPE = r"KQ\.[A-Y][0-9]{2}\.[0-9]{6}"
# -------------------------------------------------------------------------------------------


def ref_dossier_ok(s: str) -> bool:
    """Reference: the §7 regex + post-checks (agency <= 35, real date, seq != 0000)."""
    m = re.fullmatch(DOSSIER_CODE, s)
    if m is None or len(m["agency"]) > 35 or m["seq"] == "0000":
        return False
    y = m["yymmdd"]
    try:
        dt.date(2000 + int(y[:2]), int(y[2:4]), int(y[4:]))
    except ValueError:
        return False
    return True


def ref_agency_ok(s: str) -> bool:
    return re.fullmatch(AGENCY, s) is not None and len(s) <= 35


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("text", "agency", "date", "seq"),
    [
        ("000.00.00.H27-210630-0001", "000.00.00.H27", dt.date(2021, 6, 30), 1),
        ("000.17.22.H56-210531-0001", "000.17.22.H56", dt.date(2021, 5, 31), 1),
        ("H56.14-240823-0001", "H56.14", dt.date(2024, 8, 23), 1),
    ],
)
def test_regulation_dossier_examples(text: str, agency: str, date: dt.date, seq: int) -> None:
    code = DossierCode.parse(text, strict=True)
    assert (str(code.agency), code.date, code.seq) == (agency, date, seq)
    assert str(code) == text
    assert code == DossierCode(agency, date, seq)


@pytest.mark.parametrize(
    ("text", "form", "level1", "levels"),
    [
        ("000.00.00.H49", AgencyForm.LEGACY, "H49", ("H49",)),
        ("000.00.00.H27", AgencyForm.LEGACY, "H27", ("H27",)),
        ("000.00.01.H27", AgencyForm.LEGACY, "H27", ("H27", "01")),
        ("000.17.22.H56", AgencyForm.LEGACY, "H56", ("H56", "22", "17")),
        ("001.03.08.H56", AgencyForm.LEGACY, "H56", ("H56", "08", "03", "001")),
        ("H27.01", AgencyForm.QD20, "H27", ("H27", "01")),
        ("H56.14", AgencyForm.QD20, "H56", ("H56", "14")),
        ("H54.01", AgencyForm.QD20, "H54", ("H54", "01")),
        ("H37.02.02", AgencyForm.QD20, "H37", ("H37", "02", "02")),
        ("K54", AgencyForm.QD20, "K54", ("K54",)),
        ("G15", AgencyForm.QD20, "G15", ("G15",)),
    ],
)
def test_regulation_agency_examples(
    text: str, form: AgencyForm, level1: str, levels: tuple[str, ...]
) -> None:
    a = AgencyId.parse(text)
    assert (a.form, a.level1, a.levels, str(a)) == (form, level1, levels, text)
    assert a.depth == len(levels)


def test_other_code_examples() -> None:
    assert ProcedureCode.parse("1.001193").national == "1.001193"
    assert ProcedureCode.parse("2.000635").prefix == 2
    p = ProcedureCode.parse("1.000234.000.00.00.H42")
    assert str(p.agency) == "000.00.00.H42" and str(p) == "1.000234.000.00.00.H42"
    assert ResultTypeCode.parse("KQ.G15.000031").number == "000031"
    assert ResultTypeCode.parse("KQ.G15.000032").level1 == "G15"
    assert str(FieldCode.parse("H27-TP")) == "H27-TP"
    cases = {
        "Số: 223/KH-UBND": (223, None, "KH", "UBND", ()),
        "Số: 3739/QĐ-UBND": (3739, None, "QĐ", "UBND", ()),
        "Số: 450/TTr-STTTT": (450, None, "TTr", "STTTT", ()),
        "Số: 09/2025/QĐ-TTg": (9, 2025, "QĐ", "TTg", ()),
        "01/2023/TT-VPCP": (1, 2023, "TT", "VPCP", ()),
        "Số: 15/QĐ-BNV": (15, None, "QĐ", "BNV", ()),
        "Số: 05/BNV-VP": (5, None, None, "BNV", ("VP",)),
        "Số: 12/UBND-VX": (12, None, None, "UBND", ("VX",)),
        "123/BCY-CTSBMTT": (123, None, None, "BCY", ("CTSBMTT",)),
    }
    for text, (number, year, typ, issuer, units) in cases.items():
        n = DocumentNotation.parse(text)
        assert (n.number, n.year, n.type_abbrev, n.issuer, n.units) == (
            number,
            year,
            typ,
            issuer,
            units,
        ), text
        assert n.text(label=text.startswith("Số")) == text


def test_notation_nfd_input_is_normalised() -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Số: 09/2025/QĐ-TTg")
    assert nfd != "Số: 09/2025/QĐ-TTg"
    assert DocumentNotation.parse(nfd).type_abbrev == "QĐ"


def test_dossier_ordering_and_hash() -> None:
    codes = [
        DossierCode.parse(s)
        for s in ["H56.14-240823-0002", "H56.14-240822-0009", "H27.01-250101-0001"]
    ]
    ordered = sorted(codes)
    assert [str(c) for c in ordered] == [
        "H27.01-250101-0001",
        "H56.14-240822-0009",
        "H56.14-240823-0002",
    ]
    assert len({*codes, DossierCode.parse("H56.14-240823-0002")}) == 3
    with pytest.raises(AttributeError):
        codes[0].seq = 3  # type: ignore[misc]


def test_dossier_code_pickles() -> None:
    import pickle

    code = DossierCode.parse("000.17.22.H56-210531-0001")
    assert pickle.loads(pickle.dumps(code)) == code


def test_dossier_constructor_checks() -> None:
    with pytest.raises(InvalidArgumentError):
        DossierCode("H27.01", dt.date(2025, 1, 1), 0)
    with pytest.raises(InvalidArgumentError):
        DossierCode("H27.01", dt.date(2025, 1, 1), 10000)
    with pytest.raises(InvalidArgumentError):
        DossierCode("H27.01", dt.datetime(2025, 1, 1, 12), 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        DossierCode("H27.01", dt.date(1999, 12, 31), 1)
    with pytest.raises(InvalidCodeError):
        DossierCode("H27.01.", dt.date(2025, 1, 1), 1)


def test_not_after_rejects_future_dates() -> None:
    with pytest.raises(InvalidCodeError) as exc:
        DossierCode.parse("H27.01-250701-0001", not_after=dt.date(2025, 6, 30))
    assert (exc.value.reason, exc.value.position) == ("future-date", 7)
    assert DossierCode.parse("H27.01-250630-0001", not_after=dt.date(2025, 6, 30)).seq == 1


# --------------------------------------------------------------------------- invalid codes

A36 = "H56." + "1" * 32  # 36 characters: one over QĐ 20/2020 Điều 4 k1
assert len(A36) == 36

INVALID_DOSSIER = [
    # text, position, reason
    ("h56.14-240823-0001", 0, "lowercase"),
    ("H56.14-240823-000l", 17, "lowercase"),
    ("H27.0a-240823-0001", 5, "lowercase"),
    (" H56.14-240823-0001", 0, "whitespace"),
    ("H56.14-240823-0001 ", 18, "whitespace"),
    ("H56.14 -240823-0001", 6, "whitespace"),
    ("H56.14\u00a0-240823-0001", 6, "whitespace"),
    ("H56.14-240823-0001\n", 18, "whitespace"),
    ("H56.14\u2013240823-0001", 6, "dash-lookalike"),
    ("H56.14-240823\u20140001", 13, "dash-lookalike"),
    ("H56.14\u2212240823-0001", 6, "dash-lookalike"),
    ("\u041d56.14-240823-0001", 0, "lookalike-letter"),  # Cyrillic EN
    ("H56.14-24\u041e823-0001", 9, "lookalike-letter"),  # Cyrillic O
    ("\u039756.14-240823-0001", 0, "lookalike-letter"),  # Greek ETA
    ("000.00.00.\u041d27-210630-0001", 10, "lookalike-letter"),
    ("H56.14-\uff1240823-0001", 7, "fullwidth"),
    ("H56.14-240823-\uff10001", 14, "fullwidth"),
    ("H\uff156.14-240823-0001", 1, "fullwidth"),
    ("Z56.14-240823-0001", 0, "reserved-z"),
    ("056.14-240823-0001", 0, "bad-level1"),
    ("000.00.00.Z27-210630-0001", 10, "reserved-z"),
    ("000.00.00.027-210630-0001", 10, "bad-level1"),
    ("H5.14-240823-0001", 2, "bad-level1"),
    ("H567.14-240823-0001", 3, "bad-level1"),
    ("H56_14-240823-0001", 3, "bad-char"),
    ("H56.14-210230-0001", 11, "bad-date"),
    ("H56.14-230229-0001", 11, "bad-date"),
    ("H56.14-210431-0001", 11, "bad-date"),
    ("H56.14-211301-0001", 9, "bad-date"),
    ("H56.14-210001-0001", 9, "bad-date"),
    ("H56.14-210600-0001", 11, "bad-date"),
    ("H56.14-210630-0000", 14, "seq-zero"),
    ("H56.14-210630-001", 17, "seq-format"),
    ("H56.14-210630-00001", 18, "seq-format"),
    ("H56.14-240823-00O1", 16, "seq-format"),
    ("H56.14-21063-0001", 12, "date-format"),
    ("H56.14-24O823-0001", 9, "date-format"),
    ("H56.14.-240823-0001", 6, "trailing-dot"),
    ("H56..14-240823-0001", 4, "empty-group"),
    (".H56.14-240823-0001", 0, "leading-dot"),
    ("H56.14-240823", 13, "structure"),
    ("H56.14-240823-0001-1", 6, "structure"),
    (A36 + "-240823-0001", 35, "too-long"),
    ("000.00.0.H27-210630-0001", 8, "legacy-format"),
    ("000.00.00.H2-210630-0001", 12, "legacy-length"),
    ("000.00.00.H270-210630-0001", 13, "legacy-length"),
    ("", 0, "empty"),
]

INVALID_AGENCY = [
    ("H27.01.", 6, "trailing-dot"),
    ("H27.", 3, "trailing-dot"),
    ("H27 .01", 3, "whitespace"),
    ("000.00.00.H27 ", 13, "whitespace"),
    ("Z01", 0, "reserved-z"),
    ("h27", 0, "lowercase"),
    (A36, 35, "too-long"),
    ("H27-01", 3, "bad-char"),
]

INVALID_OTHER = [
    (ProcedureCode.parse, "3.001193", 0, "format"),
    (ProcedureCode.parse, "1.00119", 7, "too-short"),
    (ProcedureCode.parse, "1.0011933", 8, "format"),
    (ProcedureCode.parse, "1,001193", 1, "bad-char"),
    (ProcedureCode.parse, "1.001193.H42.", 12, "trailing-dot"),
    (ProcedureCode.parse, "1.001193.Z42", 9, "reserved-z"),
    (ProcedureCode.parse, "1.00119\u0663", 7, "non-ascii"),  # Arabic-Indic digit three
    (FieldCode.parse, "G15_HT", 3, "bad-char"),
    (FieldCode.parse, "G15-", 4, "empty-group"),
    (FieldCode.parse, "G15-ht", 4, "lowercase"),
    (FieldCode.parse, "Z15-HT", 0, "reserved-z"),
    (ResultTypeCode.parse, "KQ.G15.00003", 12, "too-short"),
    (ResultTypeCode.parse, "KQ.Z15.000031", 3, "reserved-z"),
    (ResultTypeCode.parse, "kq.G15.000031", 0, "lowercase"),
    (DocumentNotation.parse, "223/KH \u2013 UBND", 6, "whitespace"),
    (DocumentNotation.parse, "223/KH\u2013UBND", 6, "dash-lookalike"),
    (DocumentNotation.parse, "9/QĐ-UBND", 0, "number-format"),
    (DocumentNotation.parse, "009/QĐ-UBND", 0, "number-format"),
    (DocumentNotation.parse, "00/QĐ-UBND", 0, "number-format"),
    (DocumentNotation.parse, "Số: 223 /KH-UBND", 7, "whitespace"),
    (DocumentNotation.parse, "223/KH-", 7, "empty-group"),
    (DocumentNotation.parse, "223/-UBND", 4, "empty-group"),
    (DocumentNotation.parse, "223/KH", 6, "missing-issuer"),
    (DocumentNotation.parse, "223/25/QĐ-TTg", 4, "bad-year"),
    (DocumentNotation.parse, "223/1900/QĐ-TTg", 4, "bad-year"),
    (DocumentNotation.parse, "Số 223/KH-UBND", 2, "label"),
]


def test_invalid_table_is_large_enough() -> None:
    assert len(INVALID_DOSSIER) + len(INVALID_AGENCY) + len(INVALID_OTHER) >= 40
    assert len(INVALID_DOSSIER) >= 40


@pytest.mark.parametrize(("text", "position", "reason"), INVALID_DOSSIER)
def test_invalid_dossier_codes(text: str, position: int, reason: str) -> None:
    assert not ref_dossier_ok(text)  # the reference agrees that the code is invalid
    with pytest.raises(InvalidCodeError) as exc:
        DossierCode.parse(text)
    assert (exc.value.position, exc.value.reason) == (position, reason), str(exc.value)
    assert exc.value.code == text
    assert "expected" in str(exc.value) and "found" in str(exc.value)
    assert not validate_dossier_codes([text])[0]


@pytest.mark.parametrize(("text", "position", "reason"), INVALID_AGENCY)
def test_invalid_agency_ids(text: str, position: int, reason: str) -> None:
    assert not ref_agency_ok(text)
    with pytest.raises(InvalidCodeError) as exc:
        AgencyId.parse(text)
    assert (exc.value.position, exc.value.reason) == (position, reason), str(exc.value)
    with pytest.raises(InvalidCodeError):
        AgencyId(text)


@pytest.mark.parametrize(("parse", "text", "position", "reason"), INVALID_OTHER)
def test_invalid_other_codes(parse: object, text: str, position: int, reason: str) -> None:
    with pytest.raises(InvalidCodeError) as exc:
        parse(text)  # type: ignore[operator]
    assert (exc.value.position, exc.value.reason) == (position, reason), str(exc.value)


def test_non_str_input_is_an_argument_error() -> None:
    for parse in (AgencyId.parse, DossierCode.parse, ProcedureCode.parse, FieldCode.parse,
                  ResultTypeCode.parse, DocumentNotation.parse):  # fmt: skip
        with pytest.raises(InvalidArgumentError):
            parse(b"H27.01")  # type: ignore[arg-type]


def test_unknown_type_abbreviation_in_constructor() -> None:
    with pytest.raises(InvalidCodeError):
        DocumentNotation(1, None, "XX", "UBND")
    with pytest.raises(InvalidArgumentError):
        DocumentNotation(0, None, "QĐ", "UBND")


# --------------------------------------------------------------------------- level-1 table


def test_level1_table_strict_and_warning() -> None:
    with pytest.raises(InvalidCodeError) as exc:
        AgencyId.parse("H98.01", strict=True)
    assert (exc.value.reason, exc.value.position) == ("unknown-level1", 0)
    with pytest.raises(InvalidCodeError) as exc:
        DossierCode.parse("000.00.01.H98-250101-0001", strict=True)
    assert (exc.value.reason, exc.value.position) == ("unknown-level1", 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert AgencyId.parse("H98.01").level1 == "H98"
        AgencyId.parse("H27.01")
        AgencyId.parse("H98.01", check_table=False)
    assert [w.category for w in caught] == [UnknownLevel1Warning]
    assert AgencyId.parse("H27.01", strict=True).level1 == "H27"


def test_packaged_level1_table_has_provenance() -> None:
    t = Level1Table.default()
    assert t.source and t.date
    # Hà Tĩnh is H27; H42 is Ninh Bình (regulations.md §1.4: do not mix with mã ĐVHC 42).
    assert "Hà Tĩnh" in t.get("H27").name  # type: ignore[union-attr]
    assert "Ninh Bình" in t.get("H42").name  # type: ignore[union-attr]
    assert {"G01", "G15", "G22", "H49", "K54"} <= t.codes
    assert "Z01" not in t and all(re.fullmatch(r"[A-Y][0-9]{2}", e.code) for e in t)


def test_full_catalogue_from_csv(tmp_path: object) -> None:
    csv_text = "# source: dmdc.ngsp.gov.vn export\n# date: 2026-01-02\ncode,name\nH98,Test\n"
    table = Level1Table.from_csv(io.StringIO(csv_text))
    assert (table.source, table.date, len(table)) == ("dmdc.ngsp.gov.vn export", "2026-01-02", 1)
    assert AgencyId.parse("H98.01", strict=True, table=table).level1 == "H98"
    with pytest.raises(InvalidCodeError):
        AgencyId.parse("H27.01", strict=True, table=table)
    set_default_level1_table(table)
    try:
        assert DossierCode.parse("H98.01-250101-0001", strict=True).seq == 1
    finally:
        set_default_level1_table(None)
    with pytest.raises(InvalidArgumentError):
        Level1Table.from_csv(io.StringIO("code,name\nH98,A\nH98,B\n"))
    with pytest.raises(InvalidArgumentError):
        Level1Table.from_csv(io.StringIO("code,name\nZ01,A\n"))
    with pytest.raises(InvalidArgumentError):
        Level1Table.from_csv(io.StringIO("kode,name\nH01,A\n"))


def test_agency_mapping() -> None:
    m = AgencyMapping.default()
    assert str(m.to_new("000.00.01.H27")) == "H27.01"
    assert str(m.to_legacy(AgencyId("H27.01"))) == "000.00.01.H27"
    # No arithmetic conversion: an unlisted code is unknown, not "reversed".
    assert m.to_new("000.17.22.H56") is None
    custom = AgencyMapping.from_csv(io.StringIO("legacy,new\n000.17.22.H56,H56.22.17\n"))
    assert str(custom.to_new("000.17.22.H56")) == "H56.22.17"
    with pytest.raises(InvalidArgumentError):
        AgencyMapping([("H27.01", "000.00.01.H27")])
    with pytest.raises(InvalidArgumentError):
        AgencyMapping([("000.00.01.H27", "H27.01"), ("000.00.01.H27", "H27.02")])


def test_archive_file_names() -> None:
    assert archive_file_name("H56.14-240823-0001", 1) == "H56.14-240823-0001.001.pdf"
    code, idx = parse_archive_file_name("000.00.00.H27-210630-0001.120.pdf")
    assert (str(code), idx) == ("000.00.00.H27-210630-0001", 120)
    for bad in ("H56.14-240823-0001.000.pdf", "H56.14-240823-0001.1.pdf", "x.001.pdf"):
        with pytest.raises(InvalidCodeError):
            parse_archive_file_name(bad)
    with pytest.raises(InvalidArgumentError):
        archive_file_name("H56.14-240823-0001", 1000)


# --------------------------------------------------------------------------- property tests

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGIT = "0123456789"
level1_st = st.builds(
    lambda m, d: m + d, st.sampled_from(UPPER[:25]), st.text(DIGIT, min_size=2, max_size=2)
)
legacy_st = st.builds(
    lambda v, z, y, m: f"{v}.{z}.{y}.{m}",
    st.text(DIGIT, min_size=3, max_size=3),
    st.text(DIGIT, min_size=2, max_size=2),
    st.text(DIGIT, min_size=2, max_size=2),
    level1_st,
)
qd20_st = st.builds(
    lambda l1, groups: ".".join([l1, *groups]),
    level1_st,
    st.lists(st.text(DIGIT + UPPER, min_size=1, max_size=5), max_size=6),
).filter(lambda s: len(s) <= 35)
agency_st = st.one_of(legacy_st, qd20_st)
date_st = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@given(agency_st)
def test_agency_round_trip(text: str) -> None:
    a = AgencyId.parse(text)
    assert str(a) == text
    assert a.level1 in {text[:3], text[-3:]}


@given(agency_st, date_st, st.integers(1, 9999))
def test_dossier_round_trip(agency: str, date: dt.date, seq: int) -> None:
    text = f"{agency}-{date.year % 100:02d}{date.month:02d}{date.day:02d}-{seq:04d}"
    assert ref_dossier_ok(text)
    code = DossierCode.parse(text)
    assert str(code) == text
    assert (code.date, code.seq, str(code.agency)) == (date, seq, agency)
    assert str(DossierCode(agency, date, seq)) == text


@given(st.sampled_from("12"), st.text(DIGIT, min_size=6, max_size=6), st.none() | agency_st)
def test_procedure_round_trip(prefix: str, digits: str, agency: str | None) -> None:
    text = f"{prefix}.{digits}" + ("" if agency is None else f".{agency}")
    assert re.fullmatch(TTHC_CODE, text)
    assert str(ProcedureCode.parse(text)) == text


@given(level1_st, st.text(DIGIT + UPPER, min_size=1, max_size=8))
def test_field_round_trip(l1: str, lv: str) -> None:
    text = f"{l1}-{lv}"
    assert re.fullmatch(LINH_VUC_CODE, text)
    assert str(FieldCode.parse(text)) == text


@given(level1_st, st.text(DIGIT, min_size=6, max_size=6))
def test_result_type_round_trip(l1: str, digits: str) -> None:
    text = f"KQ.{l1}.{digits}"
    assert re.fullmatch(RESULT_TYPE, text)
    assert str(ResultTypeCode.parse(text)) == text


@given(agency_st, date_st, st.integers(1, 9999), st.integers(1, 999))
def test_archive_name_round_trip(agency: str, date: dt.date, seq: int, index: int) -> None:
    text = f"{agency}-{date.year % 100:02d}{date.month:02d}{date.day:02d}-{seq:04d}"
    name = f"{text}.{index:03d}.pdf"
    code, idx = parse_archive_file_name(name)
    assert (str(code), idx) == (text, index)
    assert archive_file_name(code, idx) == name


group_st = st.text(DIGIT + UPPER + "abcdefghijklmnopqrstuvwxyzĐđ", min_size=1, max_size=6)


@given(
    st.integers(1, 99999),
    st.none() | st.integers(1945, 2099),
    st.none() | st.sampled_from(["QĐ", "KH", "TTr", "QyĐ", "CTr", "TT", "NQ", "SY"]),
    group_st,
    st.lists(group_st, max_size=2),
    st.booleans(),
)
def test_notation_round_trip(
    number: int, year: int | None, typ: str | None, issuer: str, units: list[str], label: bool
) -> None:
    from onestop_docs.codes import NotationRules

    assume(typ is not None or issuer not in NotationRules().types)
    groups = ([typ] if typ else []) + [issuer, *units]
    text = f"{number:02d}" + (f"/{year}" if year else "") + "/" + "-".join(groups)
    if label:
        text = "Số: " + text
    n = DocumentNotation.parse(text)
    assert n.text(label=label) == text
    assert (n.number, n.year, n.type_abbrev, n.issuer, n.units) == (
        number,
        year,
        typ,
        issuer,
        tuple(units),
    )


NEAR_MISS = DIGIT + "AHKGYZ.-ah \u2013\u041d\uff11/:Số"


@given(st.one_of(st.text(max_size=50), st.text(NEAR_MISS, max_size=30)))
def test_parsers_raise_only_invalid_code_error(text: str) -> None:
    from onestop_docs.codes import DigitizationCodeScheme, QrPayload

    parsers = (AgencyId.parse, DossierCode.parse, ProcedureCode.parse, FieldCode.parse,
               ResultTypeCode.parse, DocumentNotation.parse, parse_archive_file_name,
               QrPayload.decode, DigitizationCodeScheme().parse)  # fmt: skip
    for parse in parsers:
        try:
            parse(text)  # type: ignore[operator]
        except InvalidCodeError as exc:
            assert exc.position is None or 0 <= exc.position <= len(text)


@given(
    st.one_of(
        st.builds(
            lambda a, d, s: f"{a}-{d}-{s}",
            agency_st,
            st.text(DIGIT, min_size=6, max_size=6),
            st.text(DIGIT, min_size=4, max_size=4),
        ),
        st.text(NEAR_MISS, max_size=30),
    )
)
def test_dossier_parse_agrees_with_reference(text: str) -> None:
    try:
        DossierCode.parse(text)
        ok = True
    except InvalidCodeError:
        ok = False
    assert ok == ref_dossier_ok(text)


# --------------------------------------------------------------------------- bulk validation


def _mutations(rng: np.random.Generator, valid: list[str], n: int) -> list[str]:
    alphabet = list("0123456789ABHZ.-a \u2013\uff11\u041d")
    out = []
    for _ in range(n):
        s = list(valid[int(rng.integers(len(valid)))])
        op = int(rng.integers(3))
        pos = int(rng.integers(len(s) + 1))
        if op == 0 and s:
            s[min(pos, len(s) - 1)] = alphabet[int(rng.integers(len(alphabet)))]
        elif op == 1:
            s.insert(pos, alphabet[int(rng.integers(len(alphabet)))])
        elif s:
            del s[min(pos, len(s) - 1)]
        out.append("".join(s))
    return out


def test_bulk_validation_agrees_with_reference() -> None:
    rng = np.random.default_rng(42)
    valid = [
        "000.00.00.H27-210630-0001",
        "000.17.22.H56-210531-0001",
        "H56.14-240823-0001",
        "H37.02.02-240229-9999",
        "A00." + "B" * 31 + "-991231-0100",  # 35-character agency
    ]
    codes = valid + _mutations(rng, valid, 5000) + [s for s, _, _ in INVALID_DOSSIER]
    days = [dt.date(2000, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 36524, 500)]
    codes += [f"H27.01-{d:%y%m%d}-{int(k):04d}" for d, k in zip(days, rng.integers(0, 10000, 500))]
    codes += [f"H27.01-{int(k):06d}-0001" for k in rng.integers(0, 1000000, 2000)]
    expected = np.array([ref_dossier_ok(c) for c in codes])
    got = validate_dossier_codes(codes)
    assert got.dtype == np.bool_ and got.shape == (len(codes),)
    assert expected.sum() > 1000 and (~expected).sum() > 1000
    mismatch = [codes[i] for i in np.flatnonzero(got != expected)]
    assert not mismatch, mismatch[:5]
    assert np.array_equal(_validate_python(codes), expected)
    assert np.array_equal(validate_dossier_codes(iter(codes)), expected)


def test_bulk_validation_edge_cases() -> None:
    assert validate_dossier_codes([]).shape == (0,)
    assert validate_dossier_codes(["", ""]).tolist() == [False, False]
    with pytest.raises(InvalidArgumentError):
        validate_dossier_codes(["H56.14-240823-0001", 5])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        validate_dossier_codes("H56.14-240823-0001")
