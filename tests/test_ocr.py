"""Tests of onestop_docs.ocr: Tesseract invocation, errors, TSV parsing, word geometry.

Geometry is checked against ground truth from the page generator (tests/synth.py): known
words rendered at known places, then rotated with Pillow; the expected box of each word in
the rotated input page is computed here from the rotation, independently of the deskew
module.  Error paths use a stand-in ``tesseract`` script that crashes, hangs or prints
garbage on demand.  Quality against plain pytesseract is in test_ocr_quality.py.
"""

from __future__ import annotations

import math
import stat
import textwrap
from pathlib import Path

import numpy as np
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import (
    InvalidArgumentError,
    InvalidImageError,
    MissingDependencyError,
    OcrError,
)
from onestop_docs.imageio import Page
from onestop_docs.ocr import (
    SCANNER_DPI_TOLERANCE,
    SCANNER_DPIS,
    Box,
    Preprocess,
    TesseractConfig,
    available_languages,
    dpi_from_paper_size,
    parse_tsv,
    prepare_page,
    recognize,
    recognize_pages,
    remove_dust,
    snap_to_scanner_dpi,
    tesseract_output,
)
from onestop_docs.vntext import cer

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)
WORDS = ["Quyết", "định", "Hà", "Tĩnh", "Đồng", "Nai", "hồ", "sơ", "Ủy", "ban"]


# ------------------------------------------------------------------ stand-in tesseract


@pytest.fixture
def fake_tesseract(tmp_path: Path) -> TesseractConfig:
    """A script that answers --list-langs and behaves as $FAKE_MODE says."""
    script = tmp_path / "tesseract"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            for a in "$@"; do
              if [ "$a" = "--list-langs" ]; then
                echo 'List of available languages in "/fake/" (2):'; echo eng; echo vie; exit 0
              fi
            done
            cat > /dev/null
            case "$FAKE_MODE" in
              crash) kill -SEGV $$ ;;
              fail) echo "Error in pixReadMem: boom" >&2; exit 1 ;;
              langfail) echo "Failed loading language 'vie'" >&2; exit 1 ;;
              garbage) echo "this is not TSV" ;;
              badrow) printf 'HEADER\\n5\\t1\\t1\\t1\\t1\\t1\\tx\\t0\\t1\\t1\\t90\\tword\\n' ;;
              hang) sleep 30 ;;
              echo)
                dpi=none; prev=""
                for a in "$@"; do [ "$prev" = "--dpi" ] && dpi="$a"; prev="$a"; done
                printf 'HEADER\\n5\\t1\\t1\\t1\\t1\\t1\\t1\\t1\\t5\\t5\\t90\\tomp=%s\\n' "$OMP_THREAD_LIMIT"
                printf '5\\t1\\t1\\t1\\t1\\t2\\t9\\t1\\t5\\t5\\t80\\tdpi=%s\\n' "$dpi"
                ;;
            esac
            """
        ).replace("HEADER", HEADER.replace("\t", "\\t"))
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return TesseractConfig(command=str(script))


PAGE = np.full((40, 60), 255, np.uint8)


def test_missing_binary_is_missing_dependency() -> None:
    cfg = TesseractConfig(command="/nonexistent/dir/tesseract")
    with pytest.raises(MissingDependencyError, match="apt-get install tesseract-ocr"):
        recognize(PAGE, config=cfg, preprocess=False)
    with pytest.raises(MissingDependencyError):
        available_languages(cfg)


@pytest.mark.ocr
def test_missing_language_is_missing_dependency() -> None:
    with pytest.raises(MissingDependencyError, match="tesseract-ocr-xyz") as exc:
        recognize(PAGE, lang="vie+xyz", preprocess=False)
    assert "vie" in str(exc.value)  # lists what is installed


@pytest.mark.parametrize("lang", ["", "vie eng", "vie;rm", "../vie", "vie+"])
def test_bad_language_names(lang: str) -> None:
    with pytest.raises(InvalidArgumentError):
        recognize(PAGE, lang=lang, preprocess=False)


@pytest.mark.parametrize(
    ("mode", "error", "match"),
    [
        ("crash", OcrError, "killed by signal 11"),
        ("fail", OcrError, "exit status 1.*boom"),
        ("langfail", MissingDependencyError, "tesseract-ocr-vie"),
        ("garbage", OcrError, "TSV header"),
        ("badrow", OcrError, "not numeric"),
    ],
)
def test_engine_failures_map_to_errors(
    fake_tesseract: TesseractConfig,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[Exception],
    match: str,
) -> None:
    monkeypatch.setenv("FAKE_MODE", mode)
    with pytest.raises(error, match=match):
        recognize(PAGE, config=fake_tesseract, preprocess=False)


def test_timeout_stops_the_engine(
    fake_tesseract: TesseractConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    import time

    t0 = time.perf_counter()
    with pytest.raises(OcrError, match=r"timeout of 0\.5 s"):
        recognize(PAGE, config=fake_tesseract, preprocess=False, timeout=0.5)
    assert time.perf_counter() - t0 < 10


def test_child_gets_thread_limit_and_dpi(
    fake_tesseract: TesseractConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "echo")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")  # the caller's value must not leak through
    res = recognize(PAGE, config=fake_tesseract, preprocess=False, dpi=212.4)
    assert [w.text for w in res.words] == ["omp=1", "dpi=212"]
    page = Page(PAGE, dpi=(300.0, 300.0))
    res = recognize(page, config=fake_tesseract, preprocess=False)
    assert res.words[1].text == "dpi=300" and res.dpi == 300.0
    assert res.dpi_source == "page"
    res = recognize(PAGE, config=fake_tesseract, preprocess=False)
    assert res.words[1].text == "dpi=none" and res.dpi is None and res.dpi_source is None


@pytest.mark.parametrize("true_dpi", [150, 200, 300])
def test_unknown_or_implausible_dpi_is_read_from_the_text(
    fake_tesseract: TesseractConfig, monkeypatch: pytest.MonkeyPatch, true_dpi: int
) -> None:
    # Body text of 13 pt (NĐ 30/2020 Phụ lục I): the estimate must land near the true dpi.
    # The sheet is no paper size (a cropped scan), so its pixel size says nothing.
    monkeypatch.setenv("FAKE_MODE", "echo")
    page = synth.render_page(dpi=true_dpi, paper=(150.0, 200.0), font_pt=13.0).gray
    for src in (page, Page(page, dpi=(72.0, 72.0))):  # no dpi; a phone photo's "72"
        res = recognize(src, config=fake_tesseract, preprocess=False)
        assert res.dpi_source == "text" and res.dpi is not None
        assert abs(res.dpi / true_dpi - 1.0) <= 0.2, (true_dpi, res.dpi)
        passed = float(res.words[1].text.removeprefix("dpi="))
        assert passed == pytest.approx(res.dpi, abs=1.0)
    res = recognize(Page(page, dpi=(true_dpi, true_dpi)), config=fake_tesseract, preprocess=False)
    assert (res.dpi, res.dpi_source) == (true_dpi, "page")
    res = recognize(page, config=fake_tesseract, preprocess=False, dpi=240)
    assert (res.dpi, res.dpi_source) == (240, "argument")


def test_whole_sheet_at_a_scanner_setting_is_read_at_that_setting(
    fake_tesseract: TesseractConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An A4 sheet scanned at 300 dpi with 12-pt body text: its text reads about 240 dpi,
    # far from any scanner setting, yet the sheet's pixel size says 300 (regression: the
    # text estimate was passed as --dpi, and evalkit hard pages lost lines at 260).
    monkeypatch.setenv("FAKE_MODE", "echo")
    page = synth.render_page(dpi=300, paper="A4", font_pt=12.0).gray
    assert page.shape == (3508, 2480)
    for src in (page, Page(page, dpi=(72.0, 72.0)), page.T.copy()):
        res = recognize(src, config=fake_tesseract, preprocess=False)
        assert (res.dpi, res.dpi_source) == (300.0, "paper")
        assert res.words[1].text == "dpi=300"
    res = recognize(page, config=fake_tesseract, preprocess=False, dpi=240)
    assert (res.dpi, res.dpi_source) == (240, "argument")


@pytest.mark.parametrize(
    ("paper", "dpi"),
    [("A4", 300), ("A4", 200), ("A4", 600), ("A5", 300), ("A5", 150), ("Letter", 300)],
)
def test_paper_size_gives_the_scanner_setting(paper: str, dpi: int) -> None:
    # Sheet sizes from ISO 216 / ANSI, independent of the module's table.
    mm = {"A4": (210, 297), "A5": (148, 210), "Letter": (215.9, 279.4)}[paper]
    w, h = (round(x / 25.4 * dpi) for x in mm)
    assert dpi_from_paper_size(w, h) == dpi
    assert dpi_from_paper_size(h, w) == dpi
    # a sheet trimmed by 3 % or a phone frame is no sheet at any setting
    assert dpi_from_paper_size(round(w * 0.97), h) is None
    assert dpi_from_paper_size(3024, 4032) is None
    assert dpi_from_paper_size(4000, 3000) is None


@given(st.integers(1, 20000), st.integers(1, 20000))
def test_paper_size_setting_is_a_scanner_setting_or_none(w: int, h: int) -> None:
    out = dpi_from_paper_size(w, h)
    assert out is None or out in SCANNER_DPIS
    assert dpi_from_paper_size(h, w) == out


@pytest.mark.ocr
def test_cer_without_dpi_close_to_cer_with_the_true_dpi() -> None:
    page = synth.render_page(dpi=200, paper=(150, 90), font_pt=13.0, margin_mm=8)
    truth = "\n".join(page.lines)
    known = cer(truth, recognize(page.gray, dpi=200).text)
    res = recognize(page.gray)
    assert res.dpi_source == "text"
    assert cer(truth, res.text) <= 1.1 * known + 0.005, (cer(truth, res.text), known)


def test_batch_goes_on_after_a_failed_page(
    fake_tesseract: TesseractConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "echo")
    pages = [PAGE, np.zeros((4, 4), np.float32), PAGE, np.zeros((0, 5), np.uint8), PAGE]
    out = list(recognize_pages(pages, config=fake_tesseract, preprocess=False, workers=2))
    assert [o.index for o in out] == [0, 1, 2, 3, 4]
    assert [o.ok for o in out] == [True, False, True, False, True]
    assert isinstance(out[1].error, InvalidArgumentError)
    assert isinstance(out[3].error, InvalidImageError)
    monkeypatch.setenv("FAKE_MODE", "crash")
    out = list(recognize_pages([PAGE, PAGE], config=fake_tesseract, preprocess=False, workers=1))
    assert [isinstance(o.error, OcrError) for o in out] == [True, True]


def test_batch_stops_on_missing_dependency() -> None:
    cfg = TesseractConfig(command="/nonexistent/tesseract")
    with pytest.raises(MissingDependencyError):
        list(recognize_pages([PAGE, PAGE], config=cfg, preprocess=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"psm": 14},
        {"psm": True},
        {"timeout": 0},
        {"timeout": float("nan")},
        {"dpi": 10},
        {"preprocess": "yes"},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        recognize(PAGE, **kwargs)  # type: ignore[arg-type]


def test_config_validation() -> None:
    with pytest.raises(InvalidArgumentError):
        TesseractConfig(command="")
    with pytest.raises(InvalidArgumentError):
        TesseractConfig(oem=7)
    with pytest.raises(InvalidArgumentError):
        TesseractConfig(omp_thread_limit=0)
    with pytest.raises(InvalidArgumentError, match="omp_thread_limit"):
        TesseractConfig(omp_thread_limit=True)  # was passed on as OMP_THREAD_LIMIT=True
    with pytest.raises(InvalidArgumentError):
        TesseractConfig(variables=(("a",),))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Preprocess(max_angle=90)


# ------------------------------------------------------------------ TSV parsing


def _tsv(rows: list[tuple[int, int, int, int, int, int, int, int, float, str]]) -> str:
    return (
        HEADER
        + "\n"
        + "".join(
            f"5\t1\t{b}\t{p}\t{ln}\t{w}\t{x}\t{y}\t{wd}\t{ht}\t{c}\t{t}\n"
            for (b, p, ln, w, x, y, wd, ht, c, t) in rows
        )
    )


def test_parse_tsv_groups_lines_and_normalises() -> None:
    nfd = "Ho\u0300a"
    tsv = _tsv(
        [
            (1, 1, 1, 1, 10, 10, 30, 12, 91.0, "Số:"),
            (1, 1, 1, 2, 45, 10, 50, 12, 89.0, "223/KH-UBND"),
            (1, 1, 2, 1, 10, 30, 30, 12, 150.0, nfd),  # confidence clipped to 100
            (1, 1, 2, 2, 45, 30, 5, 12, -1.0, " "),  # empty word dropped
            (2, 1, 1, 1, 10, 60, 20, 12, 70.0, "Bình"),
        ]
    )
    tsv = tsv.replace("\n", "\n4\t1\t1\t1\t1\t0\t0\t0\t1\t1\t-1\t\n", 1)  # a line-level row
    res = parse_tsv(tsv, width=100, height=70, dpi=300.0)
    assert res.text == "Số: 223/KH-UBND\nHòa\nBình"
    assert [len(ln.words) for ln in res.lines] == [2, 1, 1]
    assert [w.line_index for w in res.words] == [0, 0, 1, 2]
    assert res.lines[0].box == Box(10, 10, 95, 22)
    assert res.words[2].confidence == 100.0
    assert res.mean_confidence == pytest.approx((91 + 89 + 100 + 70) / 4)
    assert res.words[3].box == Box(10, 60, 30, 70)  # clipped to the page height
    assert (res.width, res.height, res.dpi) == (100, 70, 300.0)


def test_parse_tsv_empty_and_errors() -> None:
    empty = parse_tsv("", width=5, height=5)
    assert empty.text == "" and empty.words == () and empty.mean_confidence == 0.0
    assert parse_tsv(HEADER + "\n", width=5, height=5).lines == ()
    with pytest.raises(OcrError, match="columns"):
        parse_tsv(HEADER + "\n5\t1\t1\n", width=5, height=5)
    with pytest.raises(InvalidArgumentError):
        parse_tsv(HEADER, width=0, height=5)


class _Shift:
    def to_input(self, xy: np.ndarray) -> np.ndarray:
        return xy + np.array([100.0, -5.0])


def test_parse_tsv_maps_boxes_through_transform() -> None:
    tsv = _tsv([(1, 1, 1, 1, 10, 10, 30, 12, 90.0, "a")])
    res = parse_tsv(tsv, width=500, height=500, transform=_Shift())
    assert res.words[0].box == Box(110, 5, 140, 17)


# ------------------------------------------------------------------ reading order

# A form's field table as Tesseract's psm 3 cuts it: the title and the labels in block 1,
# the values in block 2 (a label's value on its baseline, one value wrapped to a second
# line), the closing sentence in block 3.
FORM_ROWS = [
    (1, 1, 1, 1, 150, 10, 200, 24, 95.0, "TỜ KHAI"),
    (1, 1, 2, 1, 10, 60, 60, 20, 90.0, "Họ và tên:"),
    (1, 1, 3, 1, 10, 100, 60, 20, 90.0, "Ngày sinh:"),
    (1, 1, 4, 1, 10, 140, 60, 20, 90.0, "Nơi cư trú:"),
    (1, 1, 5, 1, 10, 210, 60, 20, 90.0, "Dân tộc:"),
    (2, 1, 1, 1, 200, 61, 120, 21, 90.0, "NGUYỄN VĂN AN"),
    (2, 1, 2, 1, 200, 99, 90, 22, 90.0, "12/03/1985"),
    (2, 1, 3, 1, 200, 141, 150, 20, 90.0, "Thôn Đông,"),
    (2, 1, 4, 1, 200, 175, 150, 20, 90.0, "xã Hòa Bình"),
    (2, 1, 5, 1, 200, 209, 40, 20, 90.0, "Kinh"),
    (3, 1, 1, 1, 10, 260, 380, 20, 88.0, "Tôi xin cam đoan."),
]


def test_form_table_is_read_by_row() -> None:
    """Each label is followed by its value (Tesseract gives every label, then every value)."""
    res = parse_tsv(_tsv(FORM_ROWS), width=400, height=300)
    assert res.text.split("\n") == [
        "TỜ KHAI",
        "Họ và tên:",
        "NGUYỄN VĂN AN",
        "Ngày sinh:",
        "12/03/1985",
        "Nơi cư trú:",
        "Thôn Đông,",
        "xã Hòa Bình",
        "Dân tộc:",
        "Kinh",
        "Tôi xin cam đoan.",
    ]
    # Lines and words keep their boxes and confidences; line_index follows the new order.
    engine = parse_tsv(_tsv(FORM_ROWS), width=400, height=300, order="tesseract")
    assert engine.text.split("\n")[1:5] == ["Họ và tên:", "Ngày sinh:", "Nơi cư trú:", "Dân tộc:"]
    assert len(res.words) == len(FORM_ROWS)
    assert sorted((w.text, w.box, w.confidence) for w in res.words) == sorted(
        (w.text, w.box, w.confidence) for w in engine.words
    )
    for i, line in enumerate(res.lines):
        assert all(w.line_index == i for w in line.words)
    with pytest.raises(InvalidArgumentError, match="order"):
        parse_tsv(_tsv(FORM_ROWS), width=400, height=300, order="columns")  # type: ignore[arg-type]


def test_a_block_above_is_read_first_and_independent_columns_stay_columns() -> None:
    """Tesseract listed the heading after the columns below it; the columns' lines do not
    sit on shared baselines (pitch 30 against 37 px), so they are read one after the other."""
    rows = []
    for k in range(5):  # left column, block 1
        rows.append((1, 1, k + 1, 1, 10, 100 + 30 * k, 170, 20, 90.0, f"trái{k}"))
    for k in range(4):  # right column, block 2
        rows.append((2, 1, k + 1, 1, 220, 114 + 37 * k, 170, 20, 90.0, f"phải{k}"))
    rows.append((3, 1, 1, 1, 10, 40, 380, 24, 90.0, "TIÊU ĐỀ"))  # heading above both
    res = parse_tsv(_tsv(rows), width=400, height=300)
    assert res.text.split("\n") == (
        ["TIÊU ĐỀ"] + [f"trái{k}" for k in range(5)] + [f"phải{k}" for k in range(4)]
    )


@given(
    st.lists(
        st.tuples(
            st.integers(1, 4),
            st.integers(0, 300),
            st.integers(0, 300),
            st.integers(1, 120),
            st.integers(1, 40),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_reading_order_is_a_permutation_and_keeps_each_block_in_order(
    lines: list[tuple[int, int, int, int, int]],
) -> None:
    from onestop_docs.ocr._layout import reading_order

    boxes = np.array([[x, y, x + w, y + h] for _, x, y, w, h in lines], dtype=np.int64)
    blocks = np.array([b for b, *_ in lines], dtype=np.int64)
    order = reading_order(boxes, blocks)
    assert sorted(order) == list(range(len(lines)))
    if len(set(blocks.tolist())) == 1:
        assert order == list(range(len(lines)))


# ------------------------------------------------------------------ real engine


def _rotated_box(box: tuple[int, int, int, int], angle: float, w: int, h: int) -> Box:
    """Axis-aligned box of ``box`` after Pillow's counter-clockwise rotation about the centre."""
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    cx, cy = w / 2, h / 2
    x0, y0, x1, y1 = box
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        xs.append(cx + (x - cx) * c + (y - cy) * s)
        ys.append(cy - (x - cx) * s + (y - cy) * c)
    return Box(math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys)))


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / (a.area + b.area - inter)


@pytest.fixture(scope="module")
def word_page() -> synth.SynthPage:
    lines = [" ".join(WORDS[:5]), " ".join(WORDS[5:]), "Số: 223/KH-UBND ngày 30/6/2021"]
    return synth.render_page(lines, paper=(105, 40), dpi=300, font_pt=14, margin_mm=12)


@pytest.mark.ocr
@pytest.mark.parametrize("angle", [0.0, 7.0, -9.0])
def test_word_boxes_land_on_words_in_input_coordinates(
    word_page: synth.SynthPage, angle: float
) -> None:
    h, w = word_page.gray.shape
    img = synth.rotate(word_page.gray, angle) if angle else word_page.gray
    res = recognize(img, dpi=300)
    assert (res.width, res.height) == (w, h)
    assert cer(word_page.text, res.text) < 0.05
    expected = {t: _rotated_box(b, angle, w, h) for t, b in word_page.word_boxes if t in WORDS}
    found = {wd.text: wd for wd in res.words if wd.text in expected}
    assert len(found) >= len(expected) - 1, res.text
    for text, word in found.items():
        assert _iou(word.box, expected[text]) > 0.6, (text, word.box, expected[text])
        assert 0.0 <= word.confidence <= 100.0
    assert 50.0 < res.mean_confidence <= 100.0
    assert set(res.timings) == {"prepare", "tesseract", "parse"}


@pytest.mark.ocr
@pytest.mark.parametrize("turns", [1, 3])
def test_word_boxes_after_quarter_turn(turns: int) -> None:
    """A page scanned sideways: orientation fix, then boxes mapped back to the sideways page."""
    page = synth.render_page(paper=(105, 80), dpi=300, font_pt=12, margin_mm=8)
    h, w = page.gray.shape
    img = np.ascontiguousarray(np.rot90(page.gray, turns))  # content turned counter-clockwise
    res = recognize(img, dpi=300)
    assert (res.width, res.height) == (h, w)
    assert cer(page.text, res.text) < 0.1
    counts: dict[str, int] = {}
    for t, _ in page.word_boxes:
        counts[t] = counts.get(t, 0) + 1
    checked = hits = 0
    for text, (x0, y0, x1, y1) in page.word_boxes:
        if counts[text] != 1 or len(text) < 3:
            continue
        # np.rot90 once maps (x, y) -> (y, W - x); three times maps (x, y) -> (H - y, x).
        exp = Box(y0, w - x1, y1, w - x0) if turns == 1 else Box(h - y1, x0, h - y0, x1)
        checked += 1
        found = [wd for wd in res.words if wd.text == text]
        hits += bool(found) and max(_iou(wd.box, exp) for wd in found) > 0.6
    assert checked >= 20 and hits >= 0.85 * checked, (hits, checked)


@pytest.mark.ocr
def test_form_page_reads_each_label_with_its_value() -> None:
    """A field table rendered as forms print it (labels at the margin, values in a column at
    45 % of the width): Tesseract's psm 3 reads it as two blocks, every label before every
    value; ``recognize`` gives label, value, label, value."""
    from PIL import Image, ImageDraw, ImageFont

    rows = [
        ("Họ và tên:", "NGUYỄN VĂN AN"),
        ("Ngày sinh:", "12/03/1985"),
        ("Giới tính:", "Nam"),
        ("Dân tộc:", "Kinh"),
        ("Quốc tịch:", "Việt Nam"),
        ("Nơi cư trú:", "Thôn Đông, xã Hòa Bình"),
    ]
    im = Image.new("L", (2480, 1100), 255)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(synth.font_path("serif"), round(13 / 72 * 300))
    draw.text((700, 80), "TỜ KHAI ĐĂNG KÝ KHAI SINH", font=font, fill=0)
    for k, (label, value) in enumerate(rows):
        draw.text((200, 220 + 110 * k), label, font=font, fill=0)
        draw.text((1100, 220 + 110 * k), value, font=font, fill=0)
    draw.text(
        (200, 900), "Tôi xin cam đoan những thông tin trên là đúng sự thật.", font=font, fill=0
    )
    res = recognize(np.asarray(im, dtype=np.uint8).copy(), dpi=300)
    got = [ln.text for ln in res.lines]
    want = ["TỜ KHAI ĐĂNG KÝ KHAI SINH"] + [t for row in rows for t in row]
    want.append("Tôi xin cam đoan những thông tin trên là đúng sự thật.")
    assert len(got) == len(want), got
    for g, w in zip(got, want):
        assert cer(w, g) < 0.2, (g, w, got)
    engine = recognize(np.asarray(im, dtype=np.uint8).copy(), dpi=300, order="tesseract")
    assert cer(engine.text, res.text) > 0.2  # the engine's own order is the columns one


@pytest.mark.ocr
def test_hocr_and_tsv_access(word_page: synth.SynthPage) -> None:
    hocr = tesseract_output(word_page.gray, kind="hocr", dpi=300)
    assert "ocrx_word" in hocr and "bbox" in hocr
    tsv = tesseract_output(word_page.gray, kind="tsv", dpi=300)
    h, w = word_page.gray.shape
    from_tsv = parse_tsv(tsv, width=w, height=h)
    direct = recognize(word_page.gray, dpi=300, preprocess=False)
    assert from_tsv.text == direct.text
    txt = tesseract_output(word_page.gray, kind="txt", dpi=300)
    assert cer(word_page.text, txt) < 0.05
    with pytest.raises(InvalidArgumentError):
        tesseract_output(word_page.gray, kind="pdf")  # type: ignore[arg-type]


@pytest.mark.ocr
def test_blank_page_and_parallel_batch(word_page: synth.SynthPage) -> None:
    blank = recognize(np.full((120, 200), 255, np.uint8), dpi=300)
    assert blank.text == "" and blank.mean_confidence == 0.0
    pages = [word_page.gray, np.full((120, 200), 255, np.uint8), word_page.gray]
    par = list(recognize_pages(pages, dpi=300, preprocess=False, workers=2))
    seq = list(recognize_pages(pages, dpi=300, preprocess=False, workers=1))
    assert [o.result.text for o in par if o.result] == [o.result.text for o in seq if o.result]
    assert [o.index for o in par] == [0, 1, 2] and all(o.ok for o in par)


@pytest.mark.ocr
def test_rgb_page_is_accepted(word_page: synth.SynthPage) -> None:
    rgb = synth.to_color(word_page.gray)
    res = recognize(Page(rgb, mode="RGB", dpi=(300.0, 300.0)))
    assert cer(word_page.text, res.text) < 0.05
    assert res.dpi == 300.0


@given(
    st.lists(
        st.lists(
            st.tuples(
                st.text(
                    alphabet=st.sampled_from(list("aăâđêôơưÁẠỆỹ0123456789/-")),
                    min_size=1,
                    max_size=8,
                ),
                st.integers(0, 400),
                st.integers(0, 300),
                st.integers(1, 80),
                st.integers(1, 40),
                st.floats(0, 100),
            ),
            min_size=1,
            max_size=5,
        ),
        max_size=6,
    )
)
def test_parse_tsv_property(lines: list[list[tuple[str, int, int, int, int, float]]]) -> None:
    rows = []
    for li, words in enumerate(lines, start=1):
        for wi, (t, x, y, wd, ht, c) in enumerate(words, start=1):
            rows.append((1, 1, li, wi, x, y, wd, ht, c, t))
    res = parse_tsv(_tsv(rows), width=450, height=320)
    assert len(res.lines) == len(lines)
    flat = [w for words in lines for w in words]
    assert [w.text for w in res.words] == [t for t, *_ in flat]
    for got, (_t, x, y, wd, ht, c) in zip(res.words, flat):
        assert got.box == Box(x, y, min(x + wd, 450), min(y + ht, 320))
        assert got.confidence == pytest.approx(c)
    assert res.text == "\n".join(" ".join(t for t, *_ in words) for words in lines)


@pytest.mark.ocr
def test_low_dpi_page_is_upscaled_and_boxes_map_back() -> None:
    page = synth.render_page(
        [" ".join(WORDS[:5]), " ".join(WORDS[5:])],
        paper=(105, 30),
        dpi=150,
        font_pt=12,
        margin_mm=8,
    )
    h, w = page.gray.shape
    prep = prepare_page(page.gray, dpi=150)
    assert prep.steps[-1] == "upscale" and prep.dpi == pytest.approx(300, rel=0.01)
    assert prep.image.shape == (round(h * 2), round(w * 2))
    res = recognize(page.gray, dpi=150)
    assert (res.width, res.height, res.dpi) == (w, h, 150.0)
    assert cer(page.text, res.text) < 0.05
    expected = {t: Box(*b) for t, b in page.word_boxes}
    found = [wd for wd in res.words if wd.text in expected]
    assert len(found) >= len(WORDS) - 1
    for wd in found:
        assert _iou(wd.box, expected[wd.text]) > 0.6, (wd.text, wd.box, expected[wd.text])
    plain = prepare_page(page.gray, dpi=150, options=Preprocess(upscale_below_dpi=None))
    assert "upscale" not in plain.steps and plain.image.shape == (h, w)


# --- red dropout (Preprocess.drop_red) ----------------------------------------------------


def _dropout_reference(rgb: np.ndarray) -> np.ndarray:
    """The documented rule, written independently of the kernel: Pillow's luma, then a
    linear fade to white between 30 and 80 levels of red above max(green, blue)."""
    from PIL import Image

    luma = np.asarray(Image.fromarray(rgb, "RGB").convert("L")).astype(np.int64)
    r = rgb[..., 0].astype(np.int64)
    excess = np.clip(r - np.maximum(rgb[..., 1], rgb[..., 2]).astype(np.int64) - 30, 0, 50)
    return (luma + (255 - luma) * excess // 50).astype(np.uint8)


@given(st.integers(0, 2**32 - 1))
def test_red_dropout_matches_the_documented_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    only_red = Preprocess(deskew=False, normalize_background=False, remove_dust=False)
    prep = prepare_page(rgb, dpi=300, options=only_red)
    np.testing.assert_array_equal(prep.image, _dropout_reference(rgb))


def test_red_dropout_keeps_black_and_blue_ink_and_grey_pages() -> None:
    opts = Preprocess(deskew=False, normalize_background=False, remove_dust=False)
    rgb = np.array([[[0, 0, 0], [30, 50, 190], [200, 30, 40], [250, 246, 232]]], np.uint8)
    img = prepare_page(rgb, dpi=300, options=opts).image[0]
    assert img[0] == 0 and img[1] < 80  # black and blue ink stay dark
    assert img[2] == 255  # a seal's red becomes paper
    off = prepare_page(rgb, dpi=300, options=Preprocess(**{**vars(opts), "drop_red": False}))
    assert off.image[0, 2] < 100  # without dropout the seal is dark ink for Tesseract
    grey = np.array([[0, 90, 255]], np.uint8)
    np.testing.assert_array_equal(prepare_page(grey, dpi=300, options=opts).image, grey)


@pytest.mark.ocr
def test_red_seal_over_text_is_not_read_as_text() -> None:
    """A red seal with red lettering stamped over the last lines of a page: with dropout the
    text layer is the page's text; without it the seal's letters and ring add garbage."""
    from PIL import Image, ImageDraw, ImageFont

    page = synth.render_page(synth.VI_LINES, paper=(150, 120), font_pt=11, margin_mm=10)
    rgb = synth.to_color(page.gray)
    h, w = page.gray.shape
    center, radius = (w // 2, int(h * 0.62)), int(min(h, w) * 0.3)
    # Seal ink is translucent: drawn on a white layer and multiplied onto the page, so
    # black text under the ring stays black (an opaque red ring would erase it).
    layer = synth.add_stamp(np.full_like(rgb, 255), center, radius, width=10)
    im = Image.fromarray(layer, "RGB")
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(synth.font_path("sans"), 54)
    for dy, text in ((-radius * 2 // 3, "PHÒNG TƯ PHÁP"), (radius * 2 // 3 - 54, "QUẬN BA ĐÌNH")):
        tw = draw.textlength(text, font=font)
        draw.text((center[0] - tw / 2, center[1] + dy), text, fill=(200, 30, 40), font=font)
    seal_ink = np.asarray(im, dtype=np.uint16)
    rgb = (rgb.astype(np.uint16) * seal_ink // 255).astype(np.uint8)
    from onestop_docs.vntext import cer

    floor = cer(page.text, recognize(page.gray, dpi=300, preprocess=False).text)
    kept = recognize(rgb, dpi=300, preprocess=Preprocess(deskew=False, normalize_background=False))
    seal = recognize(
        rgb,
        dpi=300,
        preprocess=Preprocess(deskew=False, normalize_background=False, drop_red=False),
    )
    assert "TƯ PHÁP" not in kept.text and "BA ĐÌNH" not in kept.text
    assert cer(page.text, kept.text) <= floor + 0.01, (cer(page.text, kept.text), floor)
    assert cer(page.text, kept.text) < cer(page.text, seal.text)


@given(st.floats(min_value=50.0, max_value=2400.0))
def test_text_resolution_snaps_only_to_a_near_scanner_setting(dpi: float) -> None:
    out = snap_to_scanner_dpi(dpi)
    near = [s for s in SCANNER_DPIS if abs(dpi / s - 1.0) <= SCANNER_DPI_TOLERANCE]
    if not near:
        assert out == dpi
    else:
        # the setting nearest on a log scale (the settings are far enough apart that at
        # most two are within 10 %, and then the nearer one wins)
        assert out == min(near, key=lambda s: abs(math.log(dpi / s)))
    assert snap_to_scanner_dpi(out) == out


@pytest.mark.parametrize("bad", [0.0, -300.0, float("nan"), float("inf"), "dpi", None])
def test_snap_to_scanner_dpi_rejects_bad_resolutions(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        snap_to_scanner_dpi(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("estimate", "told"),
    [
        (320.0, 300.0),
        (280.0, 300.0),
        (340.0, 340.0),
        (185.0, 200.0),
        (240.0, 240.0),
        (560.0, 600.0),
        (72.0, 72.0),
        (1100.0, 1200.0),
    ],
)
def test_text_resolution_is_taken_as_the_scanner_setting_it_is_near(
    estimate: float, told: float
) -> None:
    # evalkit scanner pages at 300 dpi read 280 to 320 from their text (13-14 pt body).
    assert snap_to_scanner_dpi(estimate) == told


# ------------------------------------------------------------------ dust removal


def _dusty_page(seed: int, n: int = 150) -> tuple[synth.SynthPage, np.ndarray, np.ndarray]:
    """A page with ``n`` black dots of radius 1-5 px (0.2-0.9 mm at 300 dpi), each at least
    16 px (1.4 mm) from the text and 40 px from the other dots, as a scanner's dust."""
    rng = np.random.default_rng(seed)
    page = synth.render_page(synth.VI_LINES, paper=(150, 110), font_pt=12, margin_mm=10)
    img = page.gray.copy()
    h, w = img.shape
    specks = np.zeros_like(page.ink)
    centres: list[tuple[int, int]] = []
    yy, xx = np.ogrid[-5:6, -5:6]
    for _ in range(n * 50):
        if len(centres) == n:
            break
        radius = 1 + len(centres) % 5
        cy, cx = int(rng.integers(20, h - 20)), int(rng.integers(20, w - 20))
        if page.ink[cy - 16 - radius : cy + 17 + radius, cx - 16 - radius : cx + 17 + radius].any():
            continue
        if any(abs(cy - y) < 40 and abs(cx - x) < 40 for y, x in centres):
            continue
        disk = yy * yy + xx * xx <= radius * radius
        specks[cy - 5 : cy + 6, cx - 5 : cx + 6] |= disk
        centres.append((cy, cx))
    img[specks] = 0
    return page, img, specks


@pytest.mark.parametrize("seed", [1, 2])
def test_remove_dust_clears_lone_dots_and_keeps_the_text(seed: int) -> None:
    page, img, specks = _dusty_page(seed)
    # Marks a dust filter must keep: a dash between words (elongated, alone), a dot 0.5 mm
    # from a letter (a full stop), and every diacritic of the text (checked pixelwise).
    img = img.copy()
    img[20:24, 300:330] = 0  # a lone dash, 2.5 x 0.3 mm
    ys, xs = np.nonzero(page.ink)
    y, x = int(ys.max()), int(xs[ys.argmax()])
    img[y - 4 : y, x + 6 : x + 10] = 0  # a full stop 6 px right of the last line's ink
    out = remove_dust(img, dpi=300)
    assert np.all(out[specks] == 255)
    keep = ~specks
    keep[20:24, 300:330] = True
    np.testing.assert_array_equal(out[page.ink], img[page.ink])
    assert np.all(out[20:24, 300:330] == 0) and np.all(out[y - 4 : y, x + 6 : x + 10] == 0)
    # Nothing else changed but the dots and their 2 px margin.
    changed = out != img
    near_speck = np.zeros_like(specks)
    yy, xx = np.nonzero(specks)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near_speck[
                np.clip(yy + dy, 0, specks.shape[0] - 1), np.clip(xx + dx, 0, specks.shape[1] - 1)
            ] = True
    assert not np.any(changed & ~near_speck)


def test_remove_dust_scales_with_the_resolution_and_validates() -> None:
    page = np.full((300, 300), 250, np.uint8)
    page[100:112, 100:112] = 0  # 144 px: 1.0 mm across at 300 dpi, 2.0 mm at 150 dpi
    assert remove_dust(page, dpi=300)[105, 105] == 255
    assert remove_dust(page, dpi=150)[105, 105] == 0  # a 2 mm blot is no dust
    assert remove_dust(Page(page, dpi=(150.0, 150.0)))[105, 105] == 0
    blank = np.full((40, 40), 255, np.uint8)
    np.testing.assert_array_equal(remove_dust(blank), blank)
    with pytest.raises(InvalidArgumentError):
        remove_dust(page, dpi=0)
    with pytest.raises((InvalidArgumentError, InvalidImageError)):
        remove_dust(np.zeros((10, 10), np.float32))
    with pytest.raises(InvalidArgumentError):
        Preprocess(remove_dust="yes")  # type: ignore[arg-type]


@pytest.mark.ocr
def test_dust_is_not_read_as_punctuation() -> None:
    """Isolated dots between the lines are read as '.', ',' or '„' words without the dust
    step (CER 6 % on this page); with it the page reads as the clean page."""
    page, img, _ = _dusty_page(5)
    clean = cer(page.text, recognize(page.gray, dpi=300).text)
    dusty = cer(page.text, recognize(img, dpi=300, preprocess=Preprocess(remove_dust=False)).text)
    res = recognize(img, dpi=300)
    assert "remove_dust" in prepare_page(img, dpi=300).steps
    assert cer(page.text, res.text) <= clean + 0.005, (cer(page.text, res.text), clean)
    assert cer(page.text, res.text) < dusty - 0.01, (cer(page.text, res.text), dusty)


def test_remove_dust_keeps_lone_small_letters_and_their_marks() -> None:
    """At 9 pt a round letter is as small as a dust dot: "ọ", "ồ", "ế" standing alone (a
    list of tone marks, a one-letter word) keep their parts, and letters 1 mm apart keep
    each other.  The first rule (protection by larger ink only) erased 200 px here."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(synth.font_path("serif"), round(9 / 72 * 300))
    im = Image.new("L", (900, 120), 255)
    draw = ImageDraw.Draw(im)
    for i, ch in enumerate(["o", "ọ", "ồ", "ơ", "ê", "c", "ế", "ụ"]):
        draw.text((30 + 110 * i, 40), ch, fill=0, font=font)
    img = np.asarray(im, dtype=np.uint8).copy()
    np.testing.assert_array_equal(remove_dust(img, dpi=300), img)
