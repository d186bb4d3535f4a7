"""Skew and orientation on pages the project did not typeset: a real scan, a chart, a photo page.

``tests/data/ocrmypdf/c02-22.jpg`` is a public-domain book page from OCRmyPDF's test
resources (see the README there).  Its skew is checked against the ``deskew`` package, an
independent implementation; its orientation is known (it is upright).  The chart and the
photo page are drawn here with Pillow and scikit-image's sample photograph: the kinds of page
(OCRmyPDF's ``graph.pdf``, an ID card copy) that 0.1.0 answered upside down.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image, ImageDraw, ImageFont

from onestop_docs.deskew import deskew, detect_orientation, estimate_skew

DATA = Path(__file__).parent / "data" / "ocrmypdf"


def _fold(angle: float) -> float:
    return (angle + 45.0) % 90.0 - 45.0


@pytest.fixture(scope="module")
def book_page() -> np.ndarray:
    return np.asarray(Image.open(DATA / "c02-22.jpg").convert("L"))


def test_book_page_skew_agrees_with_the_deskew_package(book_page: np.ndarray) -> None:
    pkg = pytest.importorskip("deskew")
    # deskew.determine_skew returns the angle that straightens the page: our skew negated.
    ref = -float(pkg.determine_skew(book_page, min_deviation=0.05))
    for k in range(4):
        turned = np.ascontiguousarray(np.rot90(book_page, k))
        est = estimate_skew(turned, dpi=150)
        assert est.angle is not None, (k, est)
        assert abs(_fold(est.angle - ref)) <= 0.15, (k, est.angle, ref)


def test_book_page_orientation_in_all_four_turns(book_page: np.ndarray) -> None:
    for k in range(4):
        turned = np.ascontiguousarray(np.rot90(book_page, k))  # content turned 90 k, ccw
        for dpi in (150, None):
            est = detect_orientation(turned, dpi=dpi)
            assert est.rotation == 90 * k, (k, dpi, est)


def test_book_page_deskew_gives_an_upright_page(book_page: np.ndarray) -> None:
    res = deskew(np.ascontiguousarray(np.rot90(book_page, 3)), dpi=150)
    assert res.orientation.rotation == 270
    assert res.page.pixels.shape[:2] == book_page.shape
    again = estimate_skew(res.page.pixels, dpi=150)
    assert again.angle is not None and abs(again.angle) <= 0.1, again


def _chart(rng: np.random.Generator) -> np.ndarray:
    """A line chart like OCRmyPDF's graph.pdf: grid, five series, legend, slanted labels."""
    w, h = 960, 400
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(synth.font_path("sans"), 12)
    x0, x1, y0, y1 = 50, 780, 20, 300
    for k in range(7):
        y = y1 - k * (y1 - y0) // 6
        d.line((x0, y, x1, y), fill=170, width=1)
        d.text((10, y - 7), str(100 * k), fill=0, font=font)
    xs = np.linspace(x0 + 10, x1 - 10, 21)
    for s in range(5):
        ys = y1 - rng.uniform(0.0, 1.0, len(xs)) * (y1 - y0)
        pts = [(float(a), float(b)) for a, b in zip(xs, ys)]
        d.line(pts, fill=40 + 30 * s, width=3)
        for a, b in pts:
            d.rectangle((a - 4, b - 4, a + 4, b + 4), fill=40 + 30 * s)
        d.text((810, 120 + 24 * s), f"Series {s + 1} [note {s}]", fill=0, font=font)
    for i, a in enumerate(xs):
        label = Image.new("L", (110, 16), 255)
        ImageDraw.Draw(label).text((0, 0), f"Candidate {i}", fill=0, font=font)
        rot = label.rotate(45, expand=True, fillcolor=255)
        img.paste(
            rot,
            (int(a) - rot.width + 8, y1 + 6),
            Image.fromarray((np.asarray(rot) < 128).astype(np.uint8) * 255),
        )
    return np.asarray(img)


def test_chart_is_never_answered_wrong() -> None:
    rng = np.random.default_rng(5)
    for trial in range(3):
        chart = _chart(rng)
        for rotation in (0, 90, 180, 270):
            for skew in (0.0, 2.5):
                img = synth.rotate(chart, rotation + skew, expand=True)
                for dpi in (96, None):
                    est = detect_orientation(img, dpi=dpi)
                    assert est.rotation in (None, rotation), (trial, rotation, skew, dpi, est)


def _photo_page(n_lines: int, caption_only: bool = False) -> tuple[np.ndarray, int]:
    """An A4 page at 150 dpi with a large photograph in the middle and text around it."""
    skdata = pytest.importorskip("skimage.data")
    page = synth.render_page(dpi=150, paper="A4", font_pt=12.0, max_lines=n_lines).gray.copy()
    photo = Image.fromarray(skdata.camera()).resize((900, 700))
    top = 300 if not caption_only else 120
    page[top : top + 700, 170:1070] = np.asarray(photo)
    return page, top


@pytest.mark.parametrize("truth", [-7.0, 2.0, 31.0])
def test_page_with_a_photo_still_gives_its_skew(truth: float) -> None:
    page, _ = _photo_page(40)
    img = synth.rotate(page, truth)
    est = estimate_skew(img, dpi=150)
    assert est.angle is not None and abs(est.angle - truth) <= 0.1, (truth, est)
    orient = detect_orientation(img, dpi=150)
    assert orient.rotation in (None, 0), orient


def test_photo_with_a_caption_is_never_answered_wrong() -> None:
    page, _ = _photo_page(2, caption_only=True)
    for rotation in (0, 90, 180, 270):
        est = detect_orientation(synth.rotate(page, rotation + 1.5, expand=True), dpi=150)
        assert est.rotation in (None, rotation), (rotation, est)


def _table(rows: int, cols: int) -> np.ndarray:
    img = Image.new("L", (1200, 1600), 255)
    d = ImageDraw.Draw(img)
    for r in range(rows + 1):
        d.line((100, 100 + 60 * r, 1100, 100 + 60 * r), fill=0, width=3)
    for c in range(cols + 1):
        x = 100 + c * 1000 // cols
        d.line((x, 100, x, 100 + 60 * rows), fill=0, width=3)
    return np.asarray(img)


@pytest.mark.parametrize(
    "name",
    ["blank", "one line", "photo only", "empty table", "thin strip", "tall strip", "tiny"],
)
def test_bad_input_gives_none_with_a_reason(name: str) -> None:
    skdata = pytest.importorskip("skimage.data")
    one_line = synth.render_page(dpi=200, paper="A5", max_lines=1).gray
    cases = {
        "blank": np.full((1000, 700), 250, np.uint8),
        "one line": one_line,
        "photo only": skdata.astronaut(),
        "empty table": _table(12, 5),
        "thin strip": np.ascontiguousarray(one_line[150:160, :]),
        "tall strip": np.ascontiguousarray(one_line[:, 300:306]),
        "tiny": np.zeros((3, 3), np.uint8),
    }
    img = cases[name]
    orient = detect_orientation(img)
    assert orient.rotation is None and orient.reason and orient.confidence == 0.0, orient
    if name != "one line" and name != "empty table":
        # A single text line and table rules have a direction; the others have none.
        est = estimate_skew(img)
        assert est.angle is None and est.reason, (name, est)


def test_short_serif_page_on_coloured_paper_answers_in_all_four_turns() -> None:
    # A title and three lines of 300-dpi serif text on blue paper (evalkit tuning page, see
    # data/evalkit/README.md).  The x-height line and the baseline print as two peaks of
    # each line's profile with a dip between them; the band around the higher peak alone
    # was a few pixels, most lines were not taken for text and the rest split 5 to 1.
    page = np.asarray(Image.open(Path(__file__).parent / "data/evalkit/short_serif_blue_paper.jpg"))
    for k in range(4):
        est = detect_orientation(np.ascontiguousarray(np.rot90(page, k)), dpi=300)
        assert est.rotation == 90 * k, (k, est)


def _short_white_page() -> np.ndarray:
    return np.asarray(
        Image.open(Path(__file__).parent / "data/evalkit/short_three_lines_white_paper.jpg")
    )


def test_short_page_answers_from_its_diacritics_in_all_four_turns() -> None:
    # A title, one line of body text and a signatory's name (evalkit tuning page, see
    # data/evalkit/README.md).  Its lines split 3 to 3 ("Phạm Ngọc" has only dots below and
    # votes down); the tone marks, circumflexes and dots of i above the lines (13 against 4
    # below) settle it.
    page = _short_white_page()
    for k in range(4):
        turned = np.ascontiguousarray(np.rot90(page, k))
        for dpi in (300, None):
            est = detect_orientation(turned, dpi=dpi)
            assert est.rotation == 90 * k, (k, dpi, est)


def test_short_page_without_its_marks_still_abstains() -> None:
    # The same page with every ink blob of at most 20 x 20 pixels painted over (the marks,
    # dots and specks): the lines alone disagree, and the answer stays None with a reason.
    measure = pytest.importorskip("skimage.measure")
    page = _short_white_page().copy()
    labels = measure.label(page < 128, connectivity=2)
    for region in measure.regionprops(labels):
        y0, x0, y1, x1 = region.bbox
        if max(y1 - y0, x1 - x0) <= 20:
            page[labels == region.label] = 240
    for k in range(4):
        est = detect_orientation(np.ascontiguousarray(np.rot90(page, k)), dpi=300)
        assert est.rotation is None and est.reason and "disagree" in est.reason, (k, est)


@pytest.mark.parametrize("font", ["serif", "sans"])
@pytest.mark.parametrize("pt", [12.0, 13.0])
def test_three_vietnamese_lines_are_never_answered_wrong(font: str, pt: float) -> None:
    # A title in capitals, a line of body text and a name with dots below, typeset here with
    # real diacritics: the lines split, and the marks may answer, never against the truth.
    lines = [
        "PHIẾU CHUYỂN",
        "Trường hợp hồ sơ chưa đầy đủ, các cơ quan, đơn vị có liên quan",
        "Phạm Ngọc Trang",
    ]
    page = synth.render_page(lines, dpi=300, paper="A4", font=font, font_pt=pt, max_lines=3)
    for rotation in (0, 90, 180, 270):
        for skew in (0.0, 2.9):
            img = synth.rotate(page.gray, rotation + skew, expand=True)
            est = detect_orientation(img, dpi=300)
            assert est.rotation in (None, rotation), (rotation, skew, est)
