"""Page capture: sheet finding, perspective, paper size and the typed answers for bad photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image

from onestop_docs.capture import find_page, rectify
from onestop_docs.errors import InvalidArgumentError, InvalidImageError

DATA = Path(__file__).parent / "data" / "page_dewarp"


def _photo(
    corners: np.ndarray,
    shape: tuple[int, int] = (1500, 1200),
    seed: int = 0,
    page_dpi: int = 60,
    background: tuple[float, float] = (90.0, 12.0),
    paper_gain: float = 0.92,
) -> np.ndarray:
    """An A4 page rendered at ``page_dpi``, placed by the homography onto ``corners`` of a
    textured background with a lighting gradient (independent of the code under test:
    PIL's own perspective transform)."""
    rng = np.random.default_rng(seed)
    page = synth.render_page(dpi=page_dpi, font_pt=12).gray
    ph, pw = page.shape
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], float)
    coeffs = synth.perspective_coeffs(np.asarray(corners, float), src)
    h, w = shape
    sheet = Image.fromarray(page).transform((w, h), Image.PERSPECTIVE, coeffs, fill=0)
    inside = Image.fromarray(np.full(page.shape, 255, np.uint8)).transform(
        (w, h), Image.PERSPECTIVE, coeffs, fill=0
    )
    bg = rng.normal(background[0], background[1], shape)
    img = np.where(np.asarray(inside) > 127, np.asarray(sheet, float) * paper_gain, bg)
    light = np.linspace(1.0, 0.7, w)[None, :] * np.linspace(1.0, 0.85, h)[:, None]
    return np.clip(img * light, 0, 255).astype(np.uint8)


CORNERS = np.array([[220.0, 160], [1010, 210], [1060, 1330], [170, 1290]])


def test_finds_the_corners_of_a_tilted_sheet() -> None:
    photo = _photo(CORNERS)
    q = find_page(photo)
    assert q.status == "ok", q
    assert q.corners is not None
    assert np.abs(q.corners - CORNERS).max() < 12, q.corners


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_finds_a_sheet_on_a_table_nearly_as_bright_as_the_paper(seed: int) -> None:
    # evalkit's phone captures: a grey table a few levels darker than the paper, under a
    # lighting gradient; the sheet's outline is a step of about 8 grey levels only.
    # (the edge search covers sides tilted by up to 8.5 degrees against the frame)
    corners = CORNERS + np.random.default_rng(seed).uniform(-30, 30, CORNERS.shape)
    photo = _photo(corners, seed=seed, background=(226.0, 2.0), paper_gain=0.97)
    q = find_page(photo)
    assert q.status == "ok", q
    assert q.corners is not None
    assert np.abs(q.corners - corners).max() < 12, q.corners - corners


def test_finds_a_tinted_sheet_on_a_grey_table_of_the_same_brightness() -> None:
    # Pink paper on a grey table of equal luma: only the colour steps at the outline.
    grey = _photo(CORNERS, background=(0.0, 0.0), paper_gain=1.0)
    inside = grey > 0
    rgb = np.empty((*grey.shape, 3), np.uint8)
    rgb[...] = 205
    page = grey.astype(float)
    for ch, gain in enumerate((1.08, 0.95, 0.99)):  # luma 0.299 R + 0.587 G + 0.114 B ~ 1
        rgb[..., ch] = np.where(inside, np.clip(page * gain * 0.83, 0, 255), 205)
    q = find_page(rgb)
    assert q.status == "ok", q
    assert q.corners is not None
    assert np.abs(q.corners - CORNERS).max() < 12, q.corners - CORNERS


def test_rectified_page_has_a4_aspect_and_a_resolution() -> None:
    res = rectify(_photo(CORNERS))
    assert res.status == "ok" and res.page is not None
    h, w = res.page.shape
    assert h / w == pytest.approx(2**0.5, rel=0.01)
    assert res.paper == "A4" and res.dpi == pytest.approx(h / (297 / 25.4), rel=1e-6)
    # the lighting is flat: paper near 255 in every corner region of the page
    m = h // 10
    for region in (res.page[m : 2 * m, m : 2 * m], res.page[-2 * m : -m, -2 * m : -m]):
        assert np.percentile(region, 90) > 235
    # asking for a resolution gives the A4 size at that resolution
    at100 = rectify(_photo(CORNERS), dpi=100)
    assert at100.page is not None and at100.page.shape == (round(297 / 25.4 * 100), 827)


def test_rectified_text_lines_are_level() -> None:
    from onestop_docs.deskew import estimate_skew

    res = rectify(_photo(CORNERS))
    assert res.page is not None and res.dpi is not None
    est = estimate_skew(res.page, dpi=res.dpi)
    assert est.angle is not None and abs(est.angle) < 0.5


def test_bad_photos_get_typed_answers() -> None:
    rng = np.random.default_rng(3)
    texture = np.clip(rng.normal(120, 25, (900, 700)), 0, 255).astype(np.uint8)
    assert rectify(texture).status in ("no-page", "full-frame")
    # a sheet cut off by the frame
    cut = _photo(np.array([[300.0, 160], [1300, 210], [1350, 1330], [250, 1290]]))
    assert rectify(cut).status == "incomplete"
    # two sheets side by side
    two = np.full((1000, 1600), 70, np.uint8)
    two[150:850, 150:640] = 235
    two[150:850, 900:1390] = 235
    two[300:310, 200:600] = 10
    two[300:310, 950:1350] = 10
    assert rectify(two).status == "two-pages"
    # a blank sheet
    blank = np.full((1000, 800), 70, np.uint8)
    blank[100:900, 120:680] = 235
    assert rectify(blank).status == "blank"
    # a flatbed scan: nothing to rectify
    assert rectify(synth.render_page(dpi=60).gray).status == "full-frame"
    with pytest.raises(InvalidArgumentError):
        rectify(np.zeros((100, 100), np.float32))
    with pytest.raises((InvalidArgumentError, InvalidImageError)):
        rectify(np.zeros((0, 0), np.uint8))
    with pytest.raises(InvalidArgumentError):
        rectify(_photo(CORNERS), paper="B5")


def test_real_book_photo_filling_the_frame() -> None:
    # boston_cooking_a.jpg (page_dewarp, MIT): a book page photographed so close that the
    # text runs into the frame on every side: no sheet outline to rectify.
    photo = np.asarray(Image.open(DATA / "boston_cooking_a.jpg"))
    res = rectify(photo)
    assert res.status in ("full-frame", "incomplete") and res.page is None


def test_real_thesis_photo_is_cut_off() -> None:
    # linguistics_thesis_a.jpg (page_dewarp, MIT): the page's bottom edge is outside the frame.
    photo = np.asarray(Image.open(DATA / "linguistics_thesis_a.jpg"))
    assert rectify(photo).status == "incomplete"
