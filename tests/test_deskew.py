"""Tests of onestop_docs.deskew: skew and orientation against generated ground truth.

Pages come from ``synth.render_page`` and are rotated by known angles with Pillow (an
independent implementation, same sign convention: positive = counter-clockwise).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw, ImageFont

from onestop_docs.deskew import (
    DeskewResult,
    OrientationEstimate,
    PageTransform,
    SkewEstimate,
    _analyse,
    _fourier_angle,
    deskew,
    detect_orientation,
    estimate_skew,
    rotate,
)
from onestop_docs.errors import InvalidArgumentError, InvalidImageError
from onestop_docs.imageio import Page

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pages() -> dict[tuple[int, str, str, float], synth.SynthPage]:
    out = {}
    for dpi, font, pt in [(200, "serif", 11.0), (200, "sans", 10.0), (300, "serif", 12.0)]:
        out[(dpi, "A5", font, pt)] = synth.render_page(dpi=dpi, paper="A5", font=font, font_pt=pt)
    return out


def _degrade(img: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cycle through the degradations of a real scan: noise, blur, JPEG, dark borders."""
    if k % 2 == 0:
        img = synth.add_noise(img, 10.0, rng)
    if k % 3 == 0:
        img = synth.blur(img, 1.0)
    if k % 4 == 1:
        img = synth.jpeg(img, 40)
    if k % 4 == 3:
        img = synth.dark_border(img, top=35, left=25, right=10)
    if k % 5 == 2:
        img = synth.uneven_light(img, 0.4)
    return img


# ----------------------------------------------------------------------------- skew quality


def test_skew_accuracy_within_15_degrees(pages: dict) -> None:
    rng = np.random.default_rng(20240415)
    errors = []
    for i, (key, page) in enumerate(pages.items()):
        for k in range(10 if key[0] == 200 else 6):
            truth = float(rng.uniform(-15.0, 15.0))
            img = _degrade(synth.rotate(page.gray, truth), k + i, rng)
            est = estimate_skew(img, dpi=key[0])
            assert est.angle is not None, (key, truth, est)
            assert est.method in ("projection", "fourier")
            assert 0.0 < est.confidence <= 1.0
            errors.append(abs(est.angle - truth))
    err = np.array(errors)
    assert len(err) >= 24
    assert err.mean() <= 0.05, err
    assert err.max() <= 0.2, err
    assert np.mean(err <= 0.1) >= 0.9, err


def test_skew_accuracy_within_45_degrees(pages: dict) -> None:
    rng = np.random.default_rng(7)
    page = pages[(200, "A5", "sans", 10.0)]
    errors = []
    for truth in [*list(rng.uniform(-45.0, 45.0, 8)), 44.0, -44.5]:
        img = synth.rotate(page.gray, float(truth), expand=True)
        est = estimate_skew(img, max_angle=45.0, dpi=200)
        assert est.angle is not None, (truth, est)
        errors.append(abs(est.angle - truth))
    assert np.mean(errors) <= 0.1, errors


def test_straight_page_stays_straight(pages: dict) -> None:
    # An unrotated page has every text row on a pixel row: the quantity most prone to bias.
    for key, page in pages.items():
        est = estimate_skew(page.gray, dpi=key[0])
        assert est.angle is not None and abs(est.angle) <= 0.02, (key, est)


def test_skew_sign_convention_lines_rising_right_are_positive() -> None:
    img = np.full((300, 400), 255, np.uint8)
    for y0 in range(60, 260, 20):
        for x in range(40, 360):
            y = round(y0 - (x - 40) * math.tan(math.radians(4.0)))
            img[y : y + 5, x] = 0
    est = estimate_skew(img, dpi=100)
    assert est.angle is not None and abs(est.angle - 4.0) < 0.1


def test_scale_stability_150_to_600_dpi() -> None:
    angles = []
    for dpi in (150, 200, 300, 600):
        page = synth.render_page(dpi=dpi, paper="A6", font_pt=10.0)
        est = estimate_skew(synth.rotate(page.gray, 4.3), dpi=dpi)
        assert est.angle is not None, (dpi, est)
        angles.append(est.angle)
    assert max(angles) - min(angles) <= 0.05, angles


def test_skew_of_colour_page_and_bool_mask(pages: dict) -> None:
    page = pages[(200, "A5", "serif", 11.0)]
    img = synth.rotate(page.gray, -6.5)
    rgb = synth.add_stamp(synth.to_color(img), (500, 800), 120)
    for arr in (rgb, img < 128):
        est = estimate_skew(arr, dpi=200)
        assert est.angle is not None and abs(est.angle + 6.5) < 0.1, est


def test_page_dpi_is_used(pages: dict) -> None:
    page = pages[(300, "A5", "serif", 12.0)]
    img = synth.rotate(page.gray, 2.0)
    est = estimate_skew(Page(img, dpi=(300.0, 300.0)))
    assert est.angle is not None and abs(est.angle - 2.0) < 0.1


def test_fourier_estimator_is_independent_and_close(pages: dict) -> None:
    page = pages[(200, "A5", "serif", 11.0)]
    for truth in (-9.0, -2.5, 0.0, 3.7, 12.0):
        ana = _analyse(synth.rotate(page.gray, truth), 200.0)
        angle, ratio = _fourier_angle(ana.fine, 15.0)
        assert abs(angle - truth) <= 0.3 and ratio > 3.0, (truth, angle, ratio)


# ----------------------------------------------------------------------------- abstention


@pytest.mark.parametrize(
    ("truth", "max_angle"),
    [
        (20.0, 15.0),
        (-24.0, 15.0),
        (35.0, 15.0),
        (38.0, 30.0),
        (-41.0, 30.0),
        (55.0, 30.0),
        (-130.0, 30.0),
    ],
)
def test_beyond_range_gives_none(pages: dict, truth: float, max_angle: float) -> None:
    page = pages[(200, "A5", "serif", 11.0)]
    est = estimate_skew(synth.rotate(page.gray, truth, expand=True), max_angle=max_angle, dpi=200)
    assert est.angle is None and est.reason and est.confidence == 0.0, est


@pytest.mark.parametrize("truth", [60.0, -75.0, 88.0, 93.5, -178.0, 181.0, 268.0])
def test_turned_page_gives_the_residual_skew(pages: dict, truth: float) -> None:
    # The skew is defined modulo 90: the turn itself is detect_orientation's answer.
    page = pages[(200, "A5", "serif", 11.0)]
    est = estimate_skew(synth.rotate(page.gray, truth, expand=True), dpi=200)
    residual = (truth + 45.0) % 90.0 - 45.0
    assert est.angle is not None and abs(est.angle - residual) <= 0.1, (truth, est)


def _card_copy(dpi: int, angle: float) -> np.ndarray:
    """A copied ID card: 110 x 70 mm of dense 11-pt text in a frame, turned by ``angle``."""
    card = synth.render_page(
        dpi=dpi, paper=(110.0, 70.0), font_pt=11.0, margin_mm=5.0, line_spacing=1.25
    ).gray.copy()
    card[:3] = 0
    card[-3:] = 0
    card[:, :3] = 0
    card[:, -3:] = 0
    return synth.rotate(card, angle, expand=True)


def _page_with_cards(dpi: int, extras: tuple[float, ...]) -> np.ndarray:
    """Two long text lines at the top and bottom of an A4 page, with card copies pasted in
    between, each ``extra`` degrees off the page's lines."""
    long = [
        "Căn cứ Luật Xây dựng, công dân thẩm định hồ sơ địa chính theo quy định hiện hành.",
        "Ủy ban nhân dân xã hướng dẫn hoàn thiện hồ sơ và trả kết quả đúng hạn cho công dân.",
    ]
    page = synth.render_page(long, dpi=dpi, paper="A4", font_pt=13.0, line_spacing=2.0).gray
    page = page.copy()
    h, w = page.shape
    y = int(0.15 * h)
    page[y : int(0.85 * h)] = 255
    for extra in extras:
        card = _card_copy(dpi, extra)
        ch, cw = card.shape
        x = (w - cw) // 2
        np.minimum(page[y : y + ch, x : x + cw], card, out=page[y : y + ch, x : x + cw])
        y += ch
    return page


def test_cards_pasted_at_their_own_angle_do_not_set_the_page_skew() -> None:
    # Two card copies (front and back) pasted 2.0 and 2.8 degrees off the page's long text
    # lines, then the page scanned at 3.7 degrees: the page's skew is that of its lines (the
    # evaluation kit's ID-card pages).  The cards' dense text makes a second sweep peak that
    # 0.1.0 handed to the Fourier fallback, which answered the cards' angle (6.48).
    dpi = 200
    page = _page_with_cards(dpi, (2.0, 2.8))
    est = estimate_skew(synth.rotate(page, 3.7), dpi=dpi)
    assert est.angle is not None and abs(est.angle - 3.7) <= 0.05, est


@pytest.mark.parametrize("skew", [-4.95, -2.5, -0.05, 1.35, 4.5])
def test_page_lines_beat_cards_whose_peak_hides_theirs(skew: float) -> None:
    # The same kind of page with the cards only 2.0 and 2.5 degrees off the page's lines: on
    # the sweep's coarse copy the cards' wide peak swallows the page's narrow one, which the
    # first pass (every 4th direction) sampled only on its shoulder.  The fine copy, where
    # the page's long lines score twice as high as the cards, must decide.  Before: 14 of 35
    # angles from -6 to 6 degrees gave the cards' angle.
    dpi = 200
    page = _page_with_cards(dpi, (2.0, 2.5))
    est = estimate_skew(synth.rotate(page, skew), dpi=dpi)
    assert est.angle is not None and abs(est.angle - skew) <= 0.05, est


def test_non_text_gives_none() -> None:
    skdata = pytest.importorskip("skimage.data")
    rng = np.random.default_rng(1)
    cases = {
        "blank": np.full((800, 600), 255, np.uint8),
        "blank+noise": synth.add_noise(np.full((800, 600), 240, np.uint8), 12.0, rng),
        "black": np.zeros((800, 600), np.uint8),
        "uniform noise": rng.integers(0, 256, (800, 600), dtype=np.uint8),
        "camera": skdata.camera(),
        "astronaut": skdata.astronaut(),
        "coffee": skdata.coffee(),
        "coins": skdata.coins(),
        "moon": skdata.moon(),
        "checkerboard": skdata.checkerboard(),
        "brick": skdata.brick(),
        "gravel": skdata.gravel(),
        "specks": synth.add_specks(np.full((800, 600), 255, np.uint8), 200, rng)[0],
    }
    for name, img in cases.items():
        est = estimate_skew(img)
        assert est.angle is None and est.reason, (name, est)
        assert detect_orientation(img).rotation is None, name


# ----------------------------------------------------------------------------- orientation


def test_orientation_all_four_rotations() -> None:
    rng = np.random.default_rng(11)
    specs = [
        (150, "A5", "serif", 12.0),
        (200, "A5", "sans", 10.0),
        (200, "A6", "serif", 10.0),
        (150, "A4", "sans", 12.0),
        (300, "A6", "serif", 14.0),
    ]
    total = correct = 0
    for dpi, paper, font, pt in specs:
        page = synth.render_page(dpi=dpi, paper=paper, font=font, font_pt=pt)
        assert len(page.lines) >= 10
        for rotation in (0, 90, 180, 270):
            skew = float(rng.uniform(-4.0, 4.0))
            img = synth.add_noise(synth.rotate(page.gray, rotation + skew, expand=True), 6, rng)
            est = detect_orientation(img, dpi=dpi)
            total += 1
            correct += est.rotation == rotation
            assert est.rotation == rotation, (dpi, paper, font, rotation, est)
            assert est.confidence > 0.5
    assert correct / total >= 0.99


def test_orientation_ten_line_pages_with_degradations() -> None:
    rng = np.random.default_rng(9)
    for i, (dpi, font, pt) in enumerate(
        [(150, "serif", 10.0), (200, "sans", 10.0), (300, "serif", 12.0), (200, "serif", 12.0)]
    ):
        page = synth.render_page(dpi=dpi, paper="A5", font=font, font_pt=pt, max_lines=10)
        assert len(page.lines) == 10
        for rotation in (0, 90, 180, 270):
            img = synth.rotate(page.gray, rotation + float(rng.uniform(-3, 3)), expand=True)
            img = _degrade(img, i + rotation // 90, rng)
            est = detect_orientation(img, dpi=dpi)
            assert est.rotation == rotation, (dpi, font, pt, rotation, est)


@pytest.mark.parametrize("n_lines", [1, 2])
def test_orientation_abstains_on_one_or_two_lines(n_lines: int) -> None:
    page = synth.render_page(dpi=200, paper="A5", max_lines=n_lines)
    for rotation in (0, 90, 180, 270):
        est = detect_orientation(synth.rotate(page.gray, rotation + 1.0, expand=True), dpi=200)
        assert est.rotation is None and est.reason, (rotation, est)


@pytest.mark.ocr
def test_tesseract_osd_backend_agrees_with_ground_truth() -> None:
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed")
    page = synth.render_page(dpi=200, paper="A5", font_pt=12.0)
    for rotation in (0, 90, 180, 270):
        img = synth.rotate(page.gray, rotation, expand=True)
        est = detect_orientation(img, dpi=200, backend="tesseract")
        assert est.rotation == rotation and 0 < est.confidence <= 1, (rotation, est)
    blank = detect_orientation(np.full((400, 300), 255, np.uint8), backend="tesseract")
    assert blank.rotation is None and blank.reason


def test_tesseract_second_opinion_only_fills_abstentions_and_vetoes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import onestop_docs.deskew as dk

    answers: list[OrientationEstimate] = []
    monkeypatch.setattr(dk, "_tesseract_osd", lambda *a: answers[-1])
    many = synth.render_page(dpi=200, paper="A5", font_pt=12.0).gray  # native answers 0
    two = synth.render_page(dpi=200, paper="A5", max_lines=2).gray  # native abstains
    answers.append(OrientationEstimate(180, 0.9))
    est = detect_orientation(many, dpi=200, backend="native+tesseract")
    assert est.rotation is None and "tesseract says 180" in (est.reason or ""), est
    answers.append(OrientationEstimate(0, 0.9))
    assert detect_orientation(many, dpi=200, backend="native+tesseract").rotation == 0
    answers.append(OrientationEstimate(90, 0.8))
    assert detect_orientation(two, dpi=200, backend="native+tesseract").rotation == 90
    answers.append(OrientationEstimate(90, 0.3))  # too unsure to answer alone
    est = detect_orientation(two, dpi=200, backend="native+tesseract")
    assert est.rotation is None and est.reason, est


def test_orientation_backend_is_checked() -> None:
    with pytest.raises(InvalidArgumentError):
        detect_orientation(np.full((40, 40), 255, np.uint8), backend="osd")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        detect_orientation(np.full((40, 40), 255, np.uint8), timeout_s=0)


# ----------------------------------------------------------------------------- deskew


def test_deskew_maps_word_boxes_back(pages: dict) -> None:
    page = pages[(200, "A5", "serif", 11.0)]
    h, w = page.gray.shape
    for rotation, skew in [(0, 3.2), (90, -2.0), (180, 1.1), (270, 0.0)]:
        total = rotation + skew
        img = synth.rotate(page.gray, total, expand=True)
        res = deskew(Page(img, dpi=(200.0, 200.0)))
        out, _est_skew, orient = res  # unpacks as a 3-tuple
        assert isinstance(res, DeskewResult) and isinstance(res.transform, PageTransform)
        assert orient.rotation == rotation, orient
        assert out.dpi == (200.0, 200.0)
        expect_shape = img.shape[::-1] if rotation in (90, 270) else img.shape
        assert out.pixels.shape == expect_shape
        # Ground truth: word centres in the upright page -> (Pillow rotation) -> input image.
        centres = np.array(
            [((x0 + x1) / 2, (y0 + y1) / 2) for _, (x0, y0, x1, y1) in page.word_boxes[:60]]
        )
        a = math.radians(total)
        hi, wi = img.shape
        d = centres - [(w - 1) / 2, (h - 1) / 2]
        in_xy = np.c_[
            math.cos(a) * d[:, 0] + math.sin(a) * d[:, 1],
            -math.sin(a) * d[:, 0] + math.cos(a) * d[:, 1],
        ] + [(wi - 1) / 2, (hi - 1) / 2]
        out_xy = res.transform.to_output(in_xy)
        # Upright output: the words keep their relative layout (offset = centring only).
        rel = out_xy - out_xy.mean(axis=0)
        rel_truth = centres - centres.mean(axis=0)
        assert np.abs(rel - rel_truth).max() < 1.5, (rotation, skew)
        np.testing.assert_allclose(res.transform.to_input(out_xy), in_xy, atol=1e-6)
        # And the pixels there show the same word as the upright page.
        shift = np.rint(out_xy - centres).astype(int)
        diffs, control = [], []
        for (_, (x0, y0, x1, y1)), (dx, dy) in zip(page.word_boxes[:60], shift):
            ref = page.gray[y0:y1, x0:x1].astype(int)
            got = out.pixels[y0 + dy : y1 + dy, x0 + dx : x1 + dx].astype(int)
            off = out.pixels[y0 + dy + 12 : y1 + dy + 12, x0 + dx : x1 + dx].astype(int)
            diffs.append(np.abs(got - ref).mean())
            control.append(np.abs(off - ref).mean())
        assert np.mean(diffs) < 0.5 * np.mean(control), (rotation, np.mean(diffs))


def test_deskew_untouched_when_unsure() -> None:
    img = np.full((400, 300), 255, np.uint8)
    page = Page(img, dpi=(150.0, 150.0))
    res = deskew(page)
    assert res.page is page and res.transform.is_identity
    assert res.skew.angle is None and res.orientation.rotation is None


def test_deskew_array_and_rgb(pages: dict) -> None:
    page = pages[(200, "A5", "sans", 10.0)]
    rgb = synth.to_color(synth.rotate(page.gray, -4.0))
    res = deskew(rgb, dpi=200)
    assert res.page.pixels.shape == rgb.shape and res.page.mode == "RGB"
    assert res.skew.angle is not None and abs(res.skew.angle + 4.0) < 0.1
    again = estimate_skew(res.page, dpi=200)
    assert again.angle is not None and abs(again.angle) < 0.1


def test_deskew_rotation_only_is_lossless() -> None:
    page = synth.render_page(dpi=150, paper="A6", font_pt=10.0)
    img = np.ascontiguousarray(np.rot90(page.gray, 1))  # exact 90, no skew
    res = deskew(img, dpi=150)
    assert res.orientation.rotation == 90
    # A page with no skew at all: either no skew fix (lossless) or a negligible one.
    if res.skew.angle is None or res.skew.angle == 0.0:
        np.testing.assert_array_equal(res.page.pixels, page.gray)


# ----------------------------------------------------------------------------- rotate


def test_rotate_multiples_of_90_are_lossless() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    for q in range(-4, 5):
        np.testing.assert_array_equal(rotate(img, 90.0 * q), np.rot90(img, q))
    t = PageTransform.rotation(90.0, (7, 5), (5, 7))
    out = rotate(img, 90)
    for yo in range(5):
        for xo in range(7):
            x, y = t.to_input(np.array([[xo, yo]], float))[0]
            np.testing.assert_array_equal(out[yo, xo], img[round(y), round(x)])


@pytest.mark.parametrize("channels", [1, 3])
def test_rotate_bilinear_matches_opencv(channels: int) -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(channels)
    shape = (123, 171) if channels == 1 else (123, 171, 3)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    for angle in (-33.3, -0.7, 5.0, 77.0):
        ours = rotate(img, angle, fill=0)
        t = PageTransform.rotation(angle, img.shape[:2], img.shape[:2])
        ref = cv2.warpAffine(
            img,
            np.array(t.matrix).reshape(2, 3),
            (171, 123),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        # OpenCV quantises positions to 1/32 pixel, we to 1/256: a grey level or two apart.
        diff = np.abs(ours.astype(int) - ref.astype(int))
        assert diff.max() <= 4 and diff.mean() < 0.6, (angle, diff.max(), diff.mean())
        # Pillow agrees on the direction (an independent implementation of the convention).
        if channels == 1:
            pil = synth.rotate(img, angle, fill=0, resample=2)  # 2 = BILINEAR
            assert np.abs(pil.astype(int) - ours)[5:-5, 5:-5].mean() < 3.0


@given(
    angle=st.floats(-180.0, 180.0, allow_nan=False),
    seed=st.integers(0, 2**16),
    h=st.integers(1, 60),
    w=st.integers(1, 60),
)
def test_rotate_colour_equals_each_channel_alone(angle: float, seed: int, h: int, w: int) -> None:
    # The colour and grey kernels are separate code (SIMD gathers differ): same numbers.
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = rotate(img, angle, expand=True)
    for c in range(3):
        np.testing.assert_array_equal(
            out[..., c], rotate(np.ascontiguousarray(img[..., c]), angle, expand=True)
        )


def _keys_reference(img: np.ndarray, m: tuple[float, ...], fill: int) -> np.ndarray:
    """Plain float Keys (a = -0.5) bicubic resampling of a grey image, for comparison."""
    h, w = img.shape
    pad = np.pad(img.astype(float), 3, constant_values=fill)
    yo, xo = np.mgrid[0:h, 0:w].astype(float)
    x = m[0] * xo + m[1] * yo + m[2]
    y = m[3] * xo + m[4] * yo + m[5]
    ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)

    def k(t: np.ndarray) -> np.ndarray:
        t = np.abs(t)
        return np.where(
            t <= 1,
            1.5 * t**3 - 2.5 * t**2 + 1,
            np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0),
        )

    acc = np.zeros_like(x)
    for j in range(-1, 3):
        for i in range(-1, 3):
            xx, yy = np.clip(ix + i, -3, w + 2), np.clip(iy + j, -3, h + 2)
            acc += k(x - (ix + i)) * k(y - (iy + j)) * pad[yy + 3, xx + 3]
    out = np.clip(np.floor(acc + 0.5), 0, 255).astype(np.uint8)
    far = (x < -2) | (y < -2) | (x > w + 1) | (y > h + 1)
    out[far] = fill
    return out


def test_rotate_bicubic_matches_reference() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (40, 52), dtype=np.uint8)
    for angle in (-12.0, 3.3, 41.0):
        ours = rotate(img, angle, interpolation="bicubic", fill=255)
        ref = _keys_reference(img, PageTransform.rotation(angle, img.shape, img.shape).matrix, 255)
        assert np.abs(ours.astype(int) - ref)[3:-3, 3:-3].max() <= 1


def test_rotate_expand_holds_whole_image() -> None:
    img = np.zeros((100, 200), np.uint8)
    out = rotate(img, 30.0, expand=True, fill=255)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert abs(out.shape[1] - (199 * c + 99 * s + 1)) <= 1
    assert abs(out.shape[0] - (99 * c + 199 * s + 1)) <= 1
    assert (out == 0).sum() >= 0.97 * img.size  # nothing of the image was cut off


def test_rotate_bool_mask() -> None:
    mask = np.zeros((60, 80), bool)
    mask[20:40, 10:70] = True
    out = rotate(mask, 10.0)
    assert out.dtype == np.bool_ and out.shape == mask.shape
    assert abs(int(out.sum()) - int(mask.sum())) < 0.05 * mask.sum()
    assert not out[0, 0]  # fill "white" = no ink
    assert rotate(mask, 10.0, fill="black")[0, 0]


def _smooth_image(seed: int, h: int, w: int, channels: int) -> np.ndarray:
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (3, 3, 3) if channels == 3 else (3, 3), dtype=np.uint8)
    im = Image.fromarray(small).resize((w, h), Image.BICUBIC)
    return np.asarray(im, dtype=np.uint8).copy()


@given(
    angle=st.floats(-180.0, 180.0, allow_nan=False),
    seed=st.integers(0, 2**16),
    h=st.integers(32, 90),
    w=st.integers(32, 90),
    channels=st.sampled_from([1, 3]),
    interpolation=st.sampled_from(["bilinear", "bicubic"]),
)
def test_rotate_round_trip_interior(
    angle: float, seed: int, h: int, w: int, channels: int, interpolation: str
) -> None:
    img = _smooth_image(seed, h, w, channels)
    back = rotate(
        rotate(img, angle, interpolation=interpolation), -angle, interpolation=interpolation
    )
    assert back.shape == img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    inner = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 <= (0.4 * min(h, w) - 2) ** 2
    diff = np.abs(back.astype(int) - img.astype(int))[inner]
    assert diff.max() <= 10 and diff.mean() <= 2.0, (diff.max(), diff.mean())


_any_array = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.bool_, np.float32, np.int16, np.uint16]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
    ),
    st.sampled_from([None, "image", 3, [[1, 2], [3, 4]]]),
)


@given(arr=_any_array, angle=st.floats(allow_nan=True, allow_infinity=True))
def test_any_input_is_handled_or_rejected_with_documented_errors(arr: object, angle: float) -> None:
    for fn in (
        lambda: estimate_skew(arr),
        lambda: detect_orientation(arr),
        lambda: rotate(arr, angle),
        lambda: deskew(arr),
    ):
        try:
            res = fn()
        except (InvalidArgumentError, InvalidImageError):
            continue
        assert isinstance(res, (SkewEstimate, OrientationEstimate, np.ndarray, DeskewResult))


# ----------------------------------------------------------------------------- bad input


def test_bad_arguments_raise() -> None:
    img = np.full((50, 50), 255, np.uint8)
    for bad in (0.0, -1.0, 45.5, float("nan"), float("inf"), "abc", None):
        with pytest.raises(InvalidArgumentError):
            estimate_skew(img, max_angle=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            deskew(img, max_angle=bad)  # type: ignore[arg-type]
    for bad_angle in (float("nan"), float("inf"), "x"):
        with pytest.raises(InvalidArgumentError):
            rotate(img, bad_angle)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        rotate(img, 3.0, interpolation="nearest")  # type: ignore[arg-type]
    for bad_fill in ("grey", 300, -1, (1, 2), 2.5, True):
        with pytest.raises(InvalidArgumentError):
            rotate(img, 3.0, fill=bad_fill)
    with pytest.raises(InvalidArgumentError, match="float"):
        estimate_skew(img.astype(np.float32))
    with pytest.raises(InvalidImageError):
        estimate_skew(np.zeros((0, 10), np.uint8))
    with pytest.raises(InvalidArgumentError):
        estimate_skew(img, dpi=0)
    with pytest.raises(InvalidArgumentError):
        deskew(img < 128)  # a mask is not a page


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 500), (500, 2), (15, 15)])
def test_tiny_images_give_none(shape: tuple[int, int]) -> None:
    img = np.zeros(shape, np.uint8)
    img[::2] = 255
    assert estimate_skew(img).angle is None
    assert detect_orientation(img).rotation is None
    assert deskew(img).transform.is_identity
    assert rotate(img, 12.5).shape == shape


def test_deskew_result_pickles_with_its_transform(pages: dict) -> None:
    import pickle

    page = pages[(200, "A5", "serif", 11.0)]
    res = deskew(synth.rotate(page.gray, 2.0), dpi=200)
    back = pickle.loads(pickle.dumps(res))
    assert back.transform == res.transform and not back.transform.is_identity
    assert back.skew == res.skew and back.orientation == res.orientation
    np.testing.assert_array_equal(back.page.pixels, res.page.pixels)
    assert res.transform.array.shape == (2, 3)


def test_transform_round_trip_and_shape_check() -> None:
    t = PageTransform.rotation(-7.5, (300, 200), (300, 200))
    pts = np.random.default_rng(0).uniform(0, 200, (50, 2))
    np.testing.assert_allclose(t.to_input(t.to_output(pts)), pts, atol=1e-9)
    with pytest.raises(InvalidArgumentError):
        t.to_input(np.zeros((3, 3)))
    with pytest.raises(AttributeError):
        deskew(np.full((20, 20), 255, np.uint8)).transform = t  # type: ignore[misc]


# ----------------------------------------------------------------------------- slow sweep


@pytest.mark.slow
def test_skew_accuracy_large_sweep() -> None:
    rng = np.random.default_rng(99)
    errors = []
    for dpi, paper in [(300, "A4"), (200, "A4"), (300, "A5"), (150, "A5")]:
        for font in ("serif", "sans"):
            page = synth.render_page(
                dpi=dpi, paper=paper, font=font, font_pt=float(rng.choice([9, 10, 12, 14]))
            )
            for k in range(8):
                truth = float(rng.uniform(-15, 15))
                img = _degrade(synth.rotate(page.gray, truth), k, rng)
                est = estimate_skew(img, dpi=dpi)
                assert est.angle is not None, (dpi, paper, font, truth, est)
                errors.append(abs(est.angle - truth))
    err = np.array(errors)
    assert err.mean() <= 0.05 and err.max() <= 0.2 and np.mean(err <= 0.1) >= 0.9, err


@pytest.mark.slow
def test_orientation_large_sweep() -> None:
    rng = np.random.default_rng(1234)
    total = correct = 0
    for dpi in (150, 200, 300):
        for font in ("serif", "sans"):
            for pt in (10.0, 12.0, 14.0):
                page = synth.render_page(
                    dpi=dpi, paper="A6" if dpi == 300 else "A5", font=font, font_pt=pt
                )
                for rotation in (0, 90, 180, 270):
                    img = synth.rotate(page.gray, rotation + float(rng.uniform(-5, 5)), expand=True)
                    est = detect_orientation(img, dpi=dpi)
                    total += 1
                    correct += est.rotation == rotation
                    assert est.rotation in (None, rotation), (dpi, font, pt, rotation, est)
    # Never wrong; abstentions at most 2 % (issue 20's target): the vote rule trades a few
    # abstentions on noisy strips (measured 1 of 72 here) for no upside-down chart or card.
    assert correct / total >= 0.98, (correct, total)


# ----------------------------------------------------------------------------- faded pages


def _faded_scan(
    rotation: int, skew: float, rng: np.random.Generator, *, dpi: int = 150
) -> np.ndarray:
    """A faded page on tinted paper with a dark scanner border, as the evaluation kit makes them.

    The ink is faded to 30 % of its contrast (grey 150 on paper 215), the page is turned by
    ``rotation + skew`` degrees, and a near-black border (the scanner lid) runs along two
    edges.  Otsu's threshold of the whole image falls between the border and everything else:
    the text is then all paper.
    """
    page = synth.render_page(dpi=dpi, paper="A5", font_pt=12.0, max_lines=16).gray
    paper, contrast = 215.0, 0.3
    faded = paper - contrast * (paper - page.astype(np.float32) * paper / 255.0)
    img = synth.rotate(faded.astype(np.uint8), rotation + skew, expand=True, fill=int(paper))
    img = synth.dark_border(img, bottom=dpi // 4, left=dpi // 8, value=36)
    return synth.add_noise(img, 3.0, rng)


@pytest.mark.parametrize(("rotation", "skew"), [(0, -6.6), (0, 2.7), (90, -1.8), (270, 4.1)])
def test_faded_page_behind_a_dark_border(rotation: int, skew: float) -> None:
    # Evalkit `hard` pages of this kind were answered None, or by the angle of the
    # bleed-through, when the threshold was taken with the border in the histogram.
    img = _faded_scan(rotation, skew, np.random.default_rng(rotation + 7))
    est = estimate_skew(img, dpi=150)
    assert est.angle is not None and abs(est.angle - skew) <= 0.1, est
    assert detect_orientation(img, dpi=150).rotation == rotation


# ----------------------------------------------------------------------------- short pages


def _short_invitation(dpi: int) -> np.ndarray:
    """A "GIẤY MỜI" with one body line and a signed name, like the evaluation kit's short pages."""
    w, h = round(148 / 25.4 * dpi), round(210 / 25.4 * dpi)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    px = round(13 / 72 * dpi)
    regular = ImageFont.truetype(synth.font_path("serif"), px)
    bold = ImageFont.truetype(synth.font_path("serif-bold"), px)
    margin = round(15 / 25.4 * dpi)
    y = int(0.35 * h)
    d.text(((w - d.textlength("GIẤY MỜI", font=bold)) / 2, y), "GIẤY MỜI", font=bold, fill=0)
    y += int(1.8 * px)
    body = "Chủ tịch Ủy ban nhân dân xã xác nhận giấy chứng nhận quyền sử"
    d.text((margin, y), body, font=regular, fill=0)
    y += int(4.5 * px)
    name = "Hồ Văn Hữu Phương"
    x = w - margin - d.textlength(name, font=bold)
    d.text((x, y), name, font=bold, fill=0)
    rgb = np.stack([np.asarray(img)] * 3, axis=2)
    rgb = synth.add_signature(rgb, (int(x), int(y - 1.6 * px)), size=6 * px, seed=len(name))
    return np.asarray(Image.fromarray(rgb).convert("L")).copy()


def test_short_page_orientation_is_never_wrong_and_answers_split_strips() -> None:
    # Three text lines and a signature.  On 40-mm strips the name's last letters ("ương",
    # only a descender) voted down and the page abstained in these three cases; counted
    # again on 80-mm strips they answer.  Over 60 turns, skews and noises: never wrong.
    page = _short_invitation(200)
    answered = {(270, 2.96, 0), (270, 2.96, 2), (180, -2.5, 1)}
    for rotation in (0, 90, 180, 270):
        for skew in (2.96, 2.5, 1.5, -1.0, -2.5):
            for seed in range(3):
                img = synth.rotate(page, rotation + skew, expand=True)
                img = synth.add_noise(img, 4.0, np.random.default_rng(seed))
                est = detect_orientation(img, dpi=200)
                assert est.rotation in (None, rotation), (rotation, skew, seed, est)
                if (rotation, skew, seed) in answered:
                    assert est.rotation == rotation, (rotation, skew, seed, est)


def test_vote_tail_is_exact_for_few_votes_and_finite_for_thousands_of_marks() -> None:
    # The up/down test's coin-flip tail: exact against rational arithmetic where it is
    # small, and no OverflowError (2.0**n past n = 1023) where a page's split lines are
    # settled by thousands of small marks.
    from fractions import Fraction

    from onestop_docs.deskew import _tail

    def exact(a: int, b: int) -> float:
        n, k = a + b, max(a, b)
        return float(Fraction(sum(math.comb(n, j) for j in range(k, n + 1)), 2**n))

    for a, b in [(3, 4), (5, 1), (40, 30), (35, 35), (60, 5), (100, 80), (700, 300), (520, 500)]:
        assert _tail(a, b) == pytest.approx(exact(a, b), rel=1e-9, abs=1e-300)
        assert _tail(a, b) == _tail(b, a)
    assert _tail(41_799, 10_198) == 0.0
    assert 0.45 < _tail(50_000, 50_010) < 0.5
    assert _tail(3_000, 2_800) == pytest.approx(exact(3_000, 2_800), rel=1e-9)
