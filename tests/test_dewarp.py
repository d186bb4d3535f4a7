"""Text-line dewarping (``capture.dewarp``): the kernel against numpy, a page bent by a known
field straightened again (measured on the ground-truth line bands, not with the module's
own line finder), flat pages left alone, real curled book photos (page_dewarp, MIT) read
better by Tesseract, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import synth
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from onestop_docs import deskew
from onestop_docs._native import dewarp as _k  # type: ignore[attr-defined]
from onestop_docs._validate import as_gray
from onestop_docs.capture import dewarp
from onestop_docs.errors import InvalidArgumentError

DATA = Path(__file__).parent / "data" / "page_dewarp"


def _remap_reference(src: np.ndarray, grid: np.ndarray, step: int, fill: int) -> np.ndarray:
    """out[y, x] = src[y + d(x, y), x], d bilinear in the grid, linear between two rows."""
    h, w = src.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    fy, fx = ys / step, xs / step
    gy0 = np.minimum(fy.astype(int), grid.shape[0] - 1)
    gx0 = np.minimum(fx.astype(int), grid.shape[1] - 1)
    gy1 = np.minimum(gy0 + 1, grid.shape[0] - 1)
    gx1 = np.minimum(gx0 + 1, grid.shape[1] - 1)
    ty, tx = np.minimum(fy - gy0, 1.0), np.minimum(fx - gx0, 1.0)
    g = grid.astype(np.float64)
    d = (1 - ty) * ((1 - tx) * g[gy0, gx0] + tx * g[gy0, gx1]) + ty * (
        (1 - tx) * g[gy1, gx0] + tx * g[gy1, gx1]
    )
    sy = ys + d
    inside = (sy >= 0) & (sy <= h - 1)
    y0 = np.clip(np.floor(sy), 0, max(h - 2, 0)).astype(int)
    t = sy - y0
    xi = xs.astype(int)
    out = np.empty_like(src)
    for c in range(src.shape[2]):
        y1 = np.minimum(y0 + 1, h - 1)
        v = (1 - t) * src[y0, xi, c] + t * src[y1, xi, c]
        out[:, :, c] = np.where(inside, np.floor(v + 0.5), fill).astype(np.uint8)
    return out


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(2, 40),
    w=st.integers(1, 40),
    nc=st.sampled_from([1, 3]),
    step=st.integers(1, 9),
    amp=st.floats(0, 30),
    seed=st.integers(0, 2**31 - 1),
)
def test_kernel_matches_numpy(h: int, w: int, nc: int, step: int, amp: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 256, (h, w, nc), dtype=np.uint8)
    grid = (rng.uniform(-amp, amp, (h // step + 2, w // step + 2))).astype(np.float32)
    out = np.empty_like(src)
    _k.remap_rows(src, grid, step, out, 255)
    ref = _remap_reference(src, grid, step, 255)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1  # rounding of x.5 only


LINES = [
    "Cộng hòa xã hội chủ nghĩa Việt Nam - Độc lập - Tự do - Hạnh phúc",
    "Ủy ban nhân dân tỉnh Đồng Nai xác nhận hồ sơ của công dân",
    "Họ và tên: Nguyễn Thị Ánh Tuyết, sinh ngày 12 tháng 8 năm 1985",
    "Nơi thường trú: ấp Bình Thạnh, xã Đại Phước, huyện Nhơn Trạch",
    "Số định danh cá nhân 075185001234 cấp ngày 03 tháng 5 năm 2021",
]


@pytest.fixture(scope="module")
def page() -> synth.SynthPage:
    return synth.render_page(LINES * 5, dpi=200, paper="A4", font_pt=11, margin_mm=18)


def _bend(gray: np.ndarray, boxes: list[tuple[int, int, int, int]], shift) -> float:
    """Mean over the lines of the largest deviation of the line's ink centre from its median
    height (a straight, level line: 0), measured in bands around where the ground truth puts each line (``shift(x)`` is
    where the line was moved to at column ``x``)."""
    out = []
    for x0, y0, x1, y1 in boxes:
        xs, ys = [], []
        for a in range(x0, x1 - 40, 40):
            cx = a + 20
            off = round(shift(cx, (y0 + y1) / 2))
            lo, hi = max(0, y0 + off - 12), min(gray.shape[0], y1 + off + 12)
            band = gray[lo:hi, a : a + 40] < 128
            if band.sum() < 30:
                continue
            rows = np.nonzero(band)[0]
            xs.append(cx)
            ys.append(lo + rows.mean())
        if len(xs) < 5:
            continue
        ys_a = np.array(ys, float)
        out.append(np.abs(ys_a - np.median(ys_a)).max())
    return float(np.mean(out))


def _bow(right: int, h: int, amp: float):
    def shift(x: float, y: float) -> float:  # a page bowed towards the lines' right end
        u = x / right
        return amp * u**2 * (0.6 + 0.4 * y / h)

    return shift


def test_a_bent_page_is_straightened(page: synth.SynthPage) -> None:
    h, w = page.gray.shape
    shift = _bow(max(b[2] for b in page.line_boxes), h, 35.0)
    # bend with the reference remap: line content at y moves to y + shift(x, y)
    ys, xs = np.mgrid[0:h:8, 0:w:8]
    grid = -np.vectorize(shift)(xs.astype(float), ys.astype(float)).astype(np.float32)
    bent = _remap_reference(page.gray[:, :, None], grid, 8, 255)[:, :, 0]
    before = _bend(bent, page.line_boxes, shift)
    res = dewarp(bent)
    assert res.applied and res.reason is None
    after = _bend(res.image, page.line_boxes, lambda x, y: 0.0)
    flat = _bend(page.gray, page.line_boxes, lambda x, y: 0.0)
    assert before > 8.0  # the bend is there to remove
    assert after < 0.35 * before
    assert after < flat + 3.0


def test_a_flat_page_is_left_alone(page: synth.SynthPage) -> None:
    res = dewarp(page.gray)
    assert not res.applied
    assert res.reason == "flat"
    assert res.image is page.gray or np.array_equal(res.image, page.gray)


def test_colour_pages_keep_their_colour(page: synth.SynthPage) -> None:
    h, w = page.gray.shape
    shift = _bow(max(b[2] for b in page.line_boxes), h, 35.0)
    ys, xs = np.mgrid[0:h:8, 0:w:8]
    grid = -np.vectorize(shift)(xs.astype(float), ys.astype(float)).astype(np.float32)
    rgb = np.dstack([page.gray, page.gray, np.full_like(page.gray, 200)])
    bent = _remap_reference(rgb, grid, 8, 255)
    res = dewarp(bent)
    assert res.applied and res.image.shape == rgb.shape
    before = _bend(bent[:, :, 0], page.line_boxes, shift)
    assert _bend(res.image[:, :, 0], page.line_boxes, lambda x, y: 0.0) < 0.35 * before
    # every channel moved by the same field: the tinted channel stays flat paper
    assert np.median(res.image[:, :, 2]) == 200


@pytest.mark.ocr
@pytest.mark.parametrize("name", ["boston_cooking_a.jpg", "boston_cooking_b.jpg"])
def test_real_curled_book_pages_read_better(name: str) -> None:
    from onestop_docs.ocr import recognize

    with Image.open(DATA / name) as im:
        gray = np.asarray(im.convert("L"))
    upright = as_gray(deskew.deskew(gray, max_angle=45).page)
    res = dewarp(upright)
    assert res.applied
    # Tesseract's own reading, without the second reading of blocks it sets aside as
    # pictures: that recovers part of what the curl loses too (292 instead of 277 sure
    # words on page a) and is measured in docs/ocr.md, not here.
    before = recognize(upright, "eng", preprocess=False, read_pictures=False)
    after = recognize(res.image, "eng", preprocess=False, read_pictures=False)

    def sure(r):
        return sum(w.confidence > 60 for w in r.words)

    assert sure(after) >= 1.1 * sure(before)
    assert after.mean_confidence > before.mean_confidence


def test_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="uint8"):
        dewarp(np.zeros((50, 50), np.float32))
    with pytest.raises(InvalidArgumentError, match="RGB"):
        dewarp(np.zeros((50, 50, 2), np.uint8))
    with pytest.raises(InvalidArgumentError):
        dewarp(np.full((50, 50), 255, np.uint8), min_shift=-1)
    assert dewarp(np.full((500, 400), 255, np.uint8)).reason == "no text"
    assert dewarp(np.full((20, 20), 0, np.uint8)).reason == "page too small"
    noise = np.random.default_rng(1).integers(0, 256, (600, 500), dtype=np.uint8)
    assert not dewarp(noise).applied
