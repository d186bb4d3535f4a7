"""Tests of onestop_docs.cleanup against scikit-image, doxapy and generated ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from onestop_docs.cleanup import (
    MAX_WINDOW,
    BlankCheck,
    CleanOptions,
    binarize,
    clean_page,
    default_window,
    despeckle,
    detect_blank,
    find_content_box,
    normalize_background,
    otsu_threshold,
    remove_borders,
)
from onestop_docs.errors import InvalidArgumentError, InvalidImageError
from onestop_docs.imageio import Page

skfilters = pytest.importorskip("skimage.filters")
skmeasure = pytest.importorskip("skimage.measure")
doxapy = pytest.importorskip("doxapy")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def degraded() -> tuple[np.ndarray, np.ndarray]:
    """A5 200 dpi Vietnamese page: uneven light, blur, noise, specks, JPEG; clean mask."""
    rng = np.random.default_rng(3)
    pg = synth.render_page(dpi=200, paper="A5")
    img = synth.uneven_light(pg.gray, 0.5)
    img = synth.blur(img, 0.8)
    img = synth.add_noise(img, 10, rng)
    img, _ = synth.add_specks(img, 60, rng, radius=2, keep_out=pg.ink, min_dist=20)
    img = synth.jpeg(img, 80)
    return img, pg.ink


@pytest.fixture(scope="module")
def small_page() -> np.ndarray:
    rng = np.random.default_rng(7)
    pg = synth.render_page(dpi=100, paper="A6")
    return synth.add_noise(synth.uneven_light(pg.gray, 0.4), 6, rng)


def _doxa(img: np.ndarray, algorithm: str, **params: float) -> np.ndarray:
    b = doxapy.Binarization(getattr(doxapy.Binarization.Algorithms, algorithm))
    b.initialize(img)
    out = np.empty_like(img)
    b.to_binary(out, params)
    return out == 0  # doxa: black (0) = ink


def _fmeasure(pred: np.ndarray, gt: np.ndarray) -> float:
    tp = float((pred & gt).sum())
    p = tp / max(float(pred.sum()), 1.0)
    r = tp / max(float(gt.sum()), 1.0)
    return 2 * p * r / max(p + r, 1e-12)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ----------------------------------------------------------------------------- Otsu


@pytest.mark.parametrize("seed", range(6))
def test_otsu_equals_skimage_random(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 120, 2))
    lo, hi = sorted(int(v) for v in rng.integers(0, 256, 2))
    img = rng.integers(lo, hi + 1, shape, dtype=np.uint8)
    assert otsu_threshold(img) == int(skfilters.threshold_otsu(img))


def test_otsu_equals_skimage_pages(small_page: np.ndarray, degraded: tuple) -> None:
    for img in (small_page, degraded[0], synth.render_page(dpi=150, paper="A5").gray):
        assert otsu_threshold(img) == int(skfilters.threshold_otsu(img))
        np.testing.assert_array_equal(binarize(img, "otsu"), img <= skfilters.threshold_otsu(img))


@given(arrays(np.uint8, st.tuples(st.integers(1, 30), st.integers(1, 30))))
def test_otsu_equals_skimage_property(img: np.ndarray) -> None:
    assert otsu_threshold(img) == int(skfilters.threshold_otsu(img))


def test_otsu_rgb_uses_luma() -> None:
    rgb = synth.to_color(synth.render_page(dpi=60, paper="A6").gray)
    from PIL import Image

    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    assert otsu_threshold(rgb) == int(skfilters.threshold_otsu(luma))


# ----------------------------------------------------------------------------- local methods


@pytest.mark.parametrize("window", [3, 15, 31, 51])
@pytest.mark.parametrize("method", ["sauvola", "niblack"])
def test_compat_skimage_exact(small_page: np.ndarray, method: str, window: int) -> None:
    ref_fn = skfilters.threshold_sauvola if method == "sauvola" else skfilters.threshold_niblack
    for k in (0.2, 0.5):
        ref = ~(small_page > ref_fn(small_page, window_size=window, k=k))
        ours = binarize(small_page, method, window=window, k=k, compat="skimage")
        # Same integer sums, same float64 expression order: bit-identical.
        assert int((ours != ref).sum()) <= ref.size // 10000
        np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("window", [15, 31, 75])
@pytest.mark.parametrize("method", ["SAUVOLA", "NIBLACK", "WOLF"])
def test_compat_doxa_exact(small_page: np.ndarray, method: str, window: int) -> None:
    for k in (0.2, 0.35):
        ref = _doxa(small_page, method, window=window, k=k)
        ours = binarize(small_page, method.lower(), window=window, k=k, compat="doxa")
        np.testing.assert_array_equal(ours, ref)


def test_compat_defaults_match_library_defaults(small_page: np.ndarray) -> None:
    np.testing.assert_array_equal(binarize(small_page, compat="doxa"), _doxa(small_page, "SAUVOLA"))
    np.testing.assert_array_equal(
        binarize(small_page, compat="skimage"),
        ~(small_page > skfilters.threshold_sauvola(small_page)),
    )


def test_compat_on_degraded_page_within_float_bound(degraded: tuple) -> None:
    img = degraded[0]
    diff_doxa = (binarize(img, compat="doxa") != _doxa(img, "SAUVOLA")).sum()
    diff_sk = (binarize(img, compat="skimage") != ~(img > skfilters.threshold_sauvola(img))).sum()
    assert diff_doxa <= img.size // 10000
    assert diff_sk <= img.size // 10000


def _reference_clipped(img: np.ndarray, window: int, method: str, k: float) -> np.ndarray:
    """Independent float64 reference of our own convention (clipped window, p < T)."""
    h, w = img.shape
    r = window // 2
    f = img.astype(np.float64)
    ii = np.zeros((h + 1, w + 1))
    ii2 = np.zeros((h + 1, w + 1))
    ii[1:, 1:] = f.cumsum(0).cumsum(1)
    ii2[1:, 1:] = (f * f).cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) - r, 0, h)[:, None]
    y1 = np.clip(np.arange(h) + r + 1, 0, h)[:, None]
    x0 = np.clip(np.arange(w) - r, 0, w)[None, :]
    x1 = np.clip(np.arange(w) + r + 1, 0, w)[None, :]
    n = (y1 - y0) * (x1 - x0)
    s = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
    q = ii2[y1, x1] - ii2[y0, x1] - ii2[y1, x0] + ii2[y0, x0]
    m = s / n
    sd = np.sqrt(np.maximum(q / n - m * m, 0))
    if method == "sauvola":
        t = m * (1 + k * (sd / 128.0 - 1))
    elif method == "niblack":
        t = m - k * sd
    else:
        t = m - k * (1 - sd / sd.max()) * (m - f.min())
    return f < t


@pytest.mark.parametrize("method", ["sauvola", "niblack", "wolf"])
def test_default_convention_matches_float_reference(small_page: np.ndarray, method: str) -> None:
    for window in (5, 25, 61):
        for k in (0.3, 0.0, -0.1):
            ours = binarize(small_page, method, window=window, k=k)
            ref = _reference_clipped(small_page, window, method, k)
            assert int((ours != ref).sum()) <= max(1, ref.size // 10000)


def test_strips_equal_whole_page(small_page: np.ndarray) -> None:
    from onestop_docs._native import cleanup as k

    whole = binarize(small_page, window=25)
    for strip in (1, 7, 100):
        out = np.zeros(small_page.shape, np.uint8)
        k.local_threshold(small_page, out, 25, 25, 0, 0, 0.2, 128.0, 0.0, 1.0, strip)
        np.testing.assert_array_equal(out.astype(bool), whole)


def test_default_window_scales_with_dpi() -> None:
    img = np.full((400, 400), 200, np.uint8)
    img[200:210, 100:300] = 20
    assert default_window(300) == 75 and default_window(600) == 151
    a = binarize(img, "sauvola", dpi=300)
    b = binarize(img, window=75)
    np.testing.assert_array_equal(a, b)
    page = Page(img, mode="L", dpi=(150.0, 150.0))
    np.testing.assert_array_equal(binarize(page, "sauvola"), binarize(img, window=37))


def test_flat_page_has_no_ink() -> None:
    for method in ("sauvola", "niblack", "wolf"):
        for k in (None, 0.0):
            assert not binarize(np.full((50, 60), 240, np.uint8), method, k=k).any()


@pytest.mark.parametrize("shape", [(1, 1), (1, 5000), (3, 2), (2000, 1), (7, 9, 3)])
def test_clean_page_degenerate_shapes_default_dpi(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    r = clean_page(img)
    assert r.image.shape == img.shape and r.mask.shape == img.shape[:2]
    assert detect_blank(img).ink_fraction == r.blank.ink_fraction


def test_clean_page_otsu_and_gate() -> None:
    pg = synth.render_page(dpi=100, paper="A6")
    img = synth.uneven_light(pg.gray, 0.3)
    opt = CleanOptions(dpi=100, method="otsu", despeckle=False, ink_contrast=0.5)
    r = clean_page(img, opt)
    norm = normalize_background(img, dpi=100)
    expected = norm <= min(otsu_threshold(norm), 127)
    np.testing.assert_array_equal(r.mask, expected)
    assert _fmeasure(r.mask, pg.ink) > 0.9


# ----------------------------------------------------------------------------- quality


def test_clean_page_beats_reference_sauvola(degraded: tuple) -> None:
    img, gt = degraded
    result = clean_page(img, CleanOptions(dpi=200))
    f_ours = _fmeasure(result.mask, gt)
    f_sk = _fmeasure(~(img > skfilters.threshold_sauvola(img)), gt)
    f_doxa = _fmeasure(_doxa(img, "SAUVOLA"), gt)
    clean = np.where(gt, 0, 255).astype(np.uint8)
    psnr_ours = _psnr(np.where(result.mask, 0, 255).astype(np.uint8), clean)
    psnr_sk = _psnr(np.where(~(img > skfilters.threshold_sauvola(img)), 0, 255), clean)
    print(
        f"F ours={f_ours:.4f} skimage={f_sk:.4f} doxa={f_doxa:.4f}; "
        f"PSNR ours={psnr_ours:.2f} dB skimage={psnr_sk:.2f} dB"
    )
    assert f_ours > f_sk and f_ours > f_doxa
    assert psnr_ours > psnr_sk


@pytest.mark.parametrize(("dpi", "pt"), [(200, 10), (200, 12), (300, 10), (300, 12)])
def test_despeckle_keeps_diacritics(dpi: int, pt: int) -> None:
    rng = np.random.default_rng(dpi + pt)
    lines = ["ạ ị ọ ụ ẹ i ạ ị ọ ụ ẹ i ỵ ặ ộ ị ẹ"] * 40
    pg = synth.render_page(lines, dpi=dpi, paper="A6", font_pt=pt)
    img, speck_mask = synth.add_specks(
        pg.gray, 80, rng, radius=1 if dpi == 200 else 2, keep_out=pg.ink, min_dist=dpi // 8
    )
    result = despeckle(img < 128, dpi=dpi)
    text = skmeasure.label(pg.ink, connectivity=2)
    lost = [i for i in range(1, text.max() + 1) if not result.mask[text == i].any()]
    assert lost == []  # every letter and every mark (dấu nặng, dot of i, hooks) survives
    specks = skmeasure.label(speck_mask, connectivity=2)
    removed = sum(1 for i in range(1, specks.max() + 1) if not result.mask[specks == i].any())
    assert removed >= 0.95 * specks.max()
    assert result.removed_components == removed
    assert result.removed_pixels == int(((img < 128) & ~result.mask).sum())


def test_despeckle_counts_and_bad_input() -> None:
    m = np.zeros((30, 30), bool)
    m[5, 5] = m[20, 25] = True
    r = despeckle(m, dpi=300)
    assert (r.removed_components, r.removed_pixels) == (2, 2) and not r.mask.any()
    with pytest.raises(InvalidArgumentError):
        despeckle(m.astype(np.uint8))
    with pytest.raises(InvalidArgumentError):
        despeckle(m, max_area=-1)


# ----------------------------------------------------------------------------- blank pages


def _bleed(rng: np.random.Generator, dpi: int) -> np.ndarray:
    back = synth.render_page(dpi=dpi, paper="A5").gray[:, ::-1]  # mirrored verso text
    paper = np.full(back.shape, 232.0)
    img = np.where(back < 128, 200.0, paper)  # faint show-through
    return synth.add_noise(synth.blur(img.astype(np.uint8), 1.0), 8, rng)


@pytest.mark.parametrize("seed", range(3))
def test_blank_no_false_alarm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = _bleed(rng, 150)
    img = synth.dark_border(img, left=25 + seed * 10, top=12)
    img = synth.uneven_light(img, 0.3)
    check = detect_blank(img, dpi=150)
    assert isinstance(check, BlankCheck)
    assert check.is_blank, check
    assert 0.0 <= check.ink_fraction < 1e-3 and 0.0 <= check.confidence <= 1.0


@pytest.mark.parametrize("line", ["Số: 223/KH-UBND", "Ông bà ạ", "Lưu: VT"])
def test_blank_no_miss_on_one_short_line(line: str) -> None:
    rng = np.random.default_rng(1)
    pg = synth.render_page([line], dpi=150, paper="A5", max_lines=1)
    img = synth.add_noise(synth.dark_border(pg.gray, right=20), 8, rng)
    check = detect_blank(img, dpi=150)
    assert not check.is_blank, check


# ----------------------------------------------------------------------------- borders


def test_borders_found_and_text_kept() -> None:
    pg = synth.render_page(dpi=150, paper="A5", margin_mm=6)  # text close to the margin
    img = synth.dark_border(pg.gray, left=30, top=18, right=12, bottom=25)
    box = find_content_box(img, dpi=150)
    h, w = img.shape
    ys, xs = np.nonzero(pg.ink)
    assert box.x0 <= xs.min() and box.y0 <= ys.min()
    assert box.x1 > xs.max() and box.y1 > ys.max()
    assert box.x0 >= 30 and box.y0 >= 18 and box.x1 <= w - 12 and box.y1 <= h - 25
    res = remove_borders(img, dpi=150)
    assert res.image.shape == img.shape
    assert (res.image[:, :30] > 128).all()  # border whitened
    # Every text pixel is untouched.
    np.testing.assert_array_equal(res.image[pg.ink], img[pg.ink])
    crop = remove_borders(img, mode="crop", dpi=150)
    assert crop.image.shape == (box.height, box.width)


def test_borders_of_skewed_sheet_wedges() -> None:
    pg = synth.render_page(dpi=100, paper="A5", margin_mm=8)
    rot = synth.rotate(pg.gray, 4.0, fill=15)  # black wedges in the corners
    ink = synth.rotate(pg.ink.astype(np.uint8) * 255, 4.0, fill=0) > 128
    res = remove_borders(rot, dpi=100)
    corners = [res.image[:5, :5], res.image[:5, -5:], res.image[-5:, :5], res.image[-5:, -5:]]
    assert all((c > 128).all() for c in corners)
    ys, xs = np.nonzero(ink)
    b = res.box
    assert b.x0 <= xs.min() and b.y0 <= ys.min() and b.x1 > xs.max() and b.y1 > ys.max()


def test_page_frame_removed() -> None:
    pg = synth.render_page(dpi=100, paper="A5", margin_mm=15)
    img = pg.gray.copy()
    h, w = img.shape
    img[10:13, 10 : w - 10] = img[h - 13 : h - 10, 10 : w - 10] = 10
    img[10 : h - 10, 10:13] = img[10 : h - 10, w - 13 : w - 10] = 10
    res = remove_borders(img, dpi=100)
    assert (res.image[11, 10 : w - 10] > 128).all()
    assert res.box.x0 >= 10 and res.box.y0 >= 10


# ----------------------------------------------------------------------------- background


def test_normalize_background_grey_and_colour() -> None:
    pg = synth.render_page(dpi=100, paper="A6")
    grey = synth.uneven_light(pg.gray, 0.5)
    out = normalize_background(grey, dpi=100)
    paper = out[~pg.ink & (synth.blur(pg.gray, 2) > 250)]
    assert np.median(paper) >= 250 and np.percentile(paper, 5) >= 225
    assert np.median(out[pg.ink]) < 100

    rgb = synth.to_color(pg.gray)  # yellowish paper
    rgb = synth.add_stamp(rgb, (200, 300), 60)
    rgb = synth.add_signature(rgb, (60, 420))
    res = normalize_background(rgb, dpi=100)
    assert res.shape == rgb.shape
    assert (np.median(res[~pg.ink & (synth.blur(pg.gray, 2) > 250)], axis=0) >= 250).all()
    red = (rgb[:, :, 0] > 150) & (rgb[:, :, 1] < 80)
    blue = (rgb[:, :, 2] > 150) & (rgb[:, :, 0] < 80)
    assert red.sum() > 100 and blue.sum() > 20
    r, g, b = (res[red][:, c].astype(int) for c in range(3))
    assert np.median(r - g) > 100 and np.median(r - b) > 100  # still red
    r, g, b = (res[blue][:, c].astype(int) for c in range(3))
    assert np.median(b - r) > 100  # still blue


def test_clean_page_colour_and_switches() -> None:
    pg = synth.render_page(dpi=100, paper="A6")
    rgb = synth.add_stamp(synth.to_color(pg.gray), (200, 300), 60)
    page = Page(rgb, mode="RGB", dpi=(100.0, 100.0))
    r = clean_page(page)
    assert r.image.shape == rgb.shape and r.mask.shape == rgb.shape[:2]
    assert r.mask.dtype == np.bool_
    assert set(r.timings) >= {"background", "borders", "binarize", "despeckle", "blank"}
    assert r.measurements["dpi"] == 100.0
    off = CleanOptions(
        normalize_background=False,
        remove_borders=False,
        despeckle=False,
        detect_blank=False,
        method="sauvola",
    )
    r2 = clean_page(page, off)
    np.testing.assert_array_equal(r2.image, rgb)
    np.testing.assert_array_equal(r2.mask, binarize(page, "sauvola"))
    assert r2.blank.confidence == 0.0
    crop = clean_page(
        synth.dark_border(pg.gray, left=20), CleanOptions(dpi=100, border_mode="crop")
    )
    assert crop.image.shape == (crop.content_box.height, crop.content_box.width)
    assert crop.mask.shape == crop.image.shape


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.float64),
        np.full((4, 4), np.nan),
        np.zeros((4, 4), np.uint16),
        np.zeros((4,), np.uint8),
        np.zeros((2, 2, 2, 2), np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        [[1, 2], [3, 4]],
    ],
)
def test_bad_images_rejected(bad: object) -> None:
    for fn in (
        otsu_threshold,
        binarize,
        normalize_background,
        find_content_box,
        detect_blank,
        clean_page,
    ):
        with pytest.raises(InvalidArgumentError):
            fn(bad)


def test_float_in_unit_range_not_coerced() -> None:
    with pytest.raises(InvalidArgumentError, match="never rescaled"):
        binarize(np.full((8, 8), 0.5, np.float32))


def test_empty_rejected() -> None:
    for fn in (otsu_threshold, binarize, clean_page):
        with pytest.raises(InvalidImageError):
            fn(np.zeros((0, 5), np.uint8))


def test_bad_parameters() -> None:
    img = np.full((20, 30), 200, np.uint8)
    for kw in (
        {"window": 4},
        {"window": 21},
        {"window": 0},
        {"window": MAX_WINDOW + 2},
        {"window": 3.0},
        {"window": (3, 4)},
        {"k": float("nan")},
        {"k": 9.0},
        {"dpi": 10},
        {"compat": "opencv"},
    ):
        with pytest.raises(InvalidArgumentError):
            binarize(img, **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        binarize(img, "bradley")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        binarize(img, "wolf", compat="skimage")
    with pytest.raises(InvalidArgumentError):
        remove_borders(img, mode="cut")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        CleanOptions(ink_contrast=1.5)
    with pytest.raises(InvalidArgumentError):
        clean_page(img, CleanOptions(window=31))


@given(
    arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 300))),
    st.sampled_from(["midpoint", "otsu", "sauvola", "wolf", "niblack"]),
    st.sampled_from([None, "skimage", "doxa"]),
)
def test_any_shape_gives_mask_of_that_shape(
    img: np.ndarray, method: str, compat: str | None
) -> None:
    if (method == "wolf" and compat == "skimage") or (method == "midpoint" and compat):
        return
    mask = binarize(img, method, compat=compat)  # type: ignore[arg-type]
    assert mask.shape == img.shape and mask.dtype == np.bool_


@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))), st.data())
def test_any_window_matches_skimage(img: np.ndarray, data: st.DataObject) -> None:
    side = min(img.shape)
    window = data.draw(st.sampled_from(list(range(1, side + 1, 2))))
    ours = binarize(img, window=window, compat="skimage")
    ref = ~(img > skfilters.threshold_sauvola(img, window_size=window))
    np.testing.assert_array_equal(ours, ref)


@given(
    arrays(
        np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 200)), elements=st.integers(0, 255)
    )
)
def test_clean_page_any_shape(img: np.ndarray) -> None:
    r = clean_page(img, CleanOptions(dpi=50))
    assert r.mask.shape == img.shape and r.image.shape == img.shape
    b = r.content_box
    assert 0 <= b.x0 < b.x1 <= img.shape[1] and 0 <= b.y0 < b.y1 <= img.shape[0]


def test_remove_borders_colour_paints_paper_colour() -> None:
    pg = synth.render_page(dpi=100, paper="A6", margin_mm=8)
    rgb = synth.to_color(synth.dark_border(pg.gray, left=15, value=10))
    res = remove_borders(rgb, dpi=100)
    paper = np.median(rgb[60:-60, 20:-20][~pg.ink[60:-60, 20:-20]], axis=0)
    border = res.image[:, :15].reshape(-1, 3).astype(int)
    assert (np.abs(border - paper).max(axis=1) <= 3).all()
    assert res.box.x0 >= 15
    np.testing.assert_array_equal(res.image[pg.ink], rgb[pg.ink])


@given(arrays(np.bool_, st.tuples(st.integers(1, 40), st.integers(1, 70))))
def test_run_labelling_matches_skimage(mask: np.ndarray) -> None:
    from onestop_docs._native import cleanup_components as kernels

    ry, rx0, rx1, rlab, area, bx0, by0, bx1, by1 = kernels.label_runs(mask.view(np.uint8))
    ours = np.zeros(mask.shape, np.int64)
    for y, a, b, lab in zip(ry, rx0, rx1, rlab):
        ours[y, a:b] = lab + 1
    ref = skmeasure.label(mask, connectivity=2)
    assert (ours > 0).sum() == mask.sum() and len(area) == ref.max()
    # Same partition: every (ours, ref) label pair is one-to-one.
    pairs = set(zip(ours[mask].tolist(), ref[mask].tolist()))
    assert len(pairs) == ref.max()
    for lab in range(len(area)):
        ys, xs = np.nonzero(ours == lab + 1)
        assert area[lab] == ys.size
        assert (bx0[lab], by0[lab], bx1[lab], by1[lab]) == (
            xs.min(),
            ys.min(),
            xs.max() + 1,
            ys.max() + 1,
        )


@given(arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_compat_skimage_default_window_on_tiny_images(img: np.ndarray) -> None:
    # skimage's default window 15 with reflect padding, even on a page smaller than 15.
    np.testing.assert_array_equal(
        binarize(img, compat="skimage"), ~(img > skfilters.threshold_sauvola(img))
    )


@given(
    arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3]))),
    st.integers(1, 12),
    st.integers(1, 3),
    st.sampled_from([0.0, 0.5, 0.9, 1.0]),
)
def test_tile_percentile_kernel(img: np.ndarray, tile: int, step: int, q: float) -> None:
    from onestop_docs._native import cleanup as kernels

    h, w, nc = img.shape
    th, tw = -(-h // tile), -(-w // tile)
    out = np.zeros((th, tw, nc), np.uint8)
    kernels.tile_percentile(img, tile, step, q, out)
    for ty in range(th):
        for tx in range(tw):
            block = img[ty * tile : (ty + 1) * tile : step, tx * tile : (tx + 1) * tile : step]
            vals = np.sort(block.reshape(-1, nc), axis=0)
            rank = min(int(q * vals.shape[0]), vals.shape[0] - 1)
            np.testing.assert_array_equal(out[ty, tx], vals[rank])


def test_background_gain_kernel_matches_bilinear_reference() -> None:
    from onestop_docs._native import cleanup as kernels

    rng = np.random.default_rng(2)
    for shape, tile in (((37, 53, 3), 8), ((20, 31, 1), 6), ((5, 4, 1), 16)):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        th, tw = -(-shape[0] // tile), -(-shape[1] // tile)
        gain = rng.uniform(0.5, 3.0, (th, tw, shape[2])).astype(np.float32)
        out = np.empty_like(img)
        kernels.apply_gain(img, gain, tile, out)
        # Bilinear between tile centres, constant beyond the outer ones.
        fy = np.clip((np.arange(shape[0]) + 0.5) / tile - 0.5, 0, th - 1)
        fx = np.clip((np.arange(shape[1]) + 0.5) / tile - 0.5, 0, tw - 1)
        gy = np.stack(
            [
                np.interp(fy, np.arange(th), gain[:, j, c])
                for j in range(tw)
                for c in range(shape[2])
            ],
            axis=1,
        ).reshape(shape[0], tw, shape[2])
        g = np.stack(
            [
                np.stack(
                    [np.interp(fx, np.arange(tw), gy[y, :, c]) for c in range(shape[2])], axis=1
                )
                for y in range(shape[0])
            ]
        )
        ref = np.minimum(img * g + 0.5, 255).astype(np.uint8)
        assert np.abs(out.astype(int) - ref).max() <= 1  # float32 gain arithmetic


def test_whiten_specks_false_keeps_the_specks_in_the_image_only() -> None:
    rng = np.random.default_rng(11)
    page = synth.render_page(max_lines=6, dpi=200)
    dirty, specks = synth.add_specks(page.gray, 40, rng, keep_out=page.ink, min_dist=12)
    assert specks.sum() > 0
    painted = clean_page(dirty, CleanOptions(dpi=200))
    kept = clean_page(dirty, CleanOptions(dpi=200, whiten_specks=False))
    # Same despeckled mask and blank check either way.
    assert np.array_equal(painted.mask, kept.mask)
    assert kept.blank == painted.blank
    assert not (painted.mask & specks).any()
    # The default whitens the specks in the image; whiten_specks=False leaves them dark.
    assert painted.image[specks].min() >= 200
    assert kept.image[specks].max() < 128
    # Away from the specks the two images are the same pixels.
    near = np.zeros_like(specks)
    ys, xs = np.nonzero(specks)
    for y, x in zip(ys, xs, strict=True):
        near[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4] = True
    assert np.array_equal(painted.image[~near], kept.image[~near])


# ----------------------------------------------------------------------------- midpoint


def test_midpoint_drops_borders_keeps_text_at_the_edge() -> None:
    pg = synth.render_page(dpi=150, paper="A6")
    gt = pg.ink.copy()
    img = pg.gray.copy()
    # A pen stroke that runs into the top edge of the crop: thin, so not a border.
    for x in range(40, 400):
        y = int(14 + 20 * np.sin(x / 12.0))
        img[max(0, y - 1) : max(0, y + 2), x] = 40
    stroke = img < 60
    gt |= stroke & ~(pg.gray < 128)
    bordered = synth.dark_border(img, left=25, bottom=18)
    mask = binarize(bordered, dpi=150)
    assert not mask[:, :20].any() and not mask[-14:, :].any()
    kept = np.count_nonzero(mask & stroke) / np.count_nonzero(stroke)
    assert kept > 0.9
    assert _fmeasure(mask, gt) > _fmeasure(binarize(bordered, "sauvola", dpi=150), gt)


def test_midpoint_faded_and_grey_paper_against_otsu_on_clean() -> None:
    """Faded ink on grey paper: the mask matches Otsu's mask of the undegraded page."""
    pg = synth.render_page(dpi=150, paper="A6")
    faded = (150 + (pg.gray.astype(np.float32) / 255.0) * 60).astype(np.uint8)  # ink 150, paper 210
    ref = binarize(pg.gray, "otsu")
    assert _fmeasure(binarize(faded, dpi=150), ref) > 0.9
    # A blank grey page with faint bleed-through-like marks stays empty.
    blank = np.full((400, 300), 200, np.uint8)
    blank[100:104, 30:270] = 185
    assert not binarize(blank, dpi=150).any()


def test_midpoint_faded_text_behind_a_dark_border() -> None:
    """A black scanner border is darker than faded print: it must not set the ink level.

    Ink at grey 175 on paper 235 (contrast 0.25, as faded as the evalkit's faded pages), a
    black bar on two sides: the mask keeps the text (Otsu's mask of the undegraded page is
    the reference) and drops the bars.
    """
    pg = synth.render_page(dpi=150, paper="A5")
    faded = (175 + (pg.gray.astype(np.float32) / 255.0) * 60).astype(np.uint8)
    bordered = synth.dark_border(faded, left=60, bottom=45, value=25)
    ref = binarize(pg.gray, "otsu")
    ref[:, :60] = False
    ref[-45:, :] = False
    mask = binarize(bordered, dpi=150)
    assert not mask[:, :56].any() and not mask[-41:, :].any()
    assert _fmeasure(mask, ref) > 0.9
    # The same text with black ink and a page whose text block reaches the edges (cropped
    # on every side, so that on the tile grid the block touches the edge like a border):
    # the black text stays the ink level, the mask still matches Otsu's.
    crop = pg.gray[pg.ink.any(axis=1).argmax() :, pg.ink.any(axis=0).argmax() :]
    assert _fmeasure(binarize(crop, dpi=150), binarize(crop, "otsu")) > 0.9


def test_midpoint_parameters() -> None:
    img = np.full((40, 40), 200, np.uint8)
    for kw in (
        {"k": 0.0},
        {"k": 1.0},
        {"window": 5, "method": "midpoint"},
        {"compat": "doxa", "method": "midpoint"},
    ):
        with pytest.raises(InvalidArgumentError):
            binarize(img, **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        CleanOptions(method="midpoint", window=31)
    # A window or compat without a method still means Sauvola (0.1.0 calls).
    np.testing.assert_array_equal(
        binarize(img, compat="doxa"), binarize(img, "sauvola", compat="doxa")
    )
