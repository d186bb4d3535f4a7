"""Skew, orientation and rotation on an A4 300-dpi page, beside the usual tools (one thread).

Anchors: ``deskew.determine_skew`` (defaults, as in its README), the OpenCV minAreaRect and
Hough-lines recipes (``tests/test_deskew_compare.py``), Tesseract OSD (``--psm 0``) and
OpenCV ``warpAffine``.  Accuracy of the same recipes: ``tests/test_deskew_compare.py``.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import synth
from test_deskew_compare import opencv_hough, opencv_min_area_rect

from onestop_docs.deskew import (
    PageTransform,
    detect_orientation,
    estimate_resolution,
    estimate_skew,
    rotate,
)

ANGLE = 3.3


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    try:
        import cv2
    except ImportError:
        yield
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


@pytest.fixture(scope="module")
def page_a4() -> np.ndarray:
    page = synth.render_page(dpi=300, paper="A4", font_pt=11.0)
    return synth.add_noise(synth.rotate(page.gray, ANGLE), 6.0, np.random.default_rng(0))


@pytest.fixture(scope="module")
def turned_a4(page_a4) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(page_a4, 1))


# ------------------------------------------------------------------------ skew estimate


@pytest.mark.benchmark(group="deskew-skew-a4-300")
def test_estimate_skew_ours(benchmark, page_a4):
    est = benchmark(estimate_skew, page_a4, 45.0, 300.0)  # the default: the whole half turn
    assert est.angle is not None


@pytest.mark.benchmark(group="deskew-resolution-a4-300")
def test_estimate_resolution_ours(benchmark, page_a4):
    est = benchmark(estimate_resolution, page_a4)
    assert est.dpi is not None


@pytest.mark.benchmark(group="deskew-skew-a4-300")
def test_estimate_skew_deskew(benchmark, page_a4):
    deskew = pytest.importorskip("deskew")
    benchmark.pedantic(deskew.determine_skew, args=(page_a4,), rounds=3, iterations=1)


@pytest.mark.benchmark(group="deskew-skew-a4-300")
def test_estimate_skew_minarearect(benchmark, page_a4):
    pytest.importorskip("cv2")
    benchmark(opencv_min_area_rect, page_a4)


@pytest.mark.benchmark(group="deskew-skew-a4-300")
def test_estimate_skew_hough(benchmark, page_a4):
    pytest.importorskip("cv2")
    benchmark(opencv_hough, page_a4)


# ------------------------------------------------------------------------ orientation


@pytest.mark.benchmark(group="deskew-orientation-a4-300")
def test_orientation_ours(benchmark, turned_a4):
    est = benchmark(detect_orientation, turned_a4, dpi=300.0)
    assert est.rotation == 90


@pytest.mark.benchmark(group="deskew-orientation-a4-300")
def test_orientation_tesseract(benchmark, turned_a4, tmp_path):
    exe = shutil.which("tesseract")
    if exe is None:
        pytest.skip("tesseract not installed")
    path = tmp_path / "page.png"
    path.write_bytes(synth.png_bytes(turned_a4, 300))

    def osd() -> str:
        run = subprocess.run(
            [exe, str(path), "-", "--psm", "0"],
            capture_output=True,
            text=True,
            check=False,
            env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
        )
        return run.stdout

    benchmark.pedantic(osd, rounds=3, iterations=1)


# ------------------------------------------------------------------------ rotation


def _cv2_rotate(img: np.ndarray, angle: float, cubic: bool = False):
    cv2 = pytest.importorskip("cv2")
    h, w = img.shape[:2]
    m = np.array(PageTransform.rotation(angle, (h, w), (h, w)).matrix).reshape(2, 3)
    fill = 255 if img.ndim == 2 else (255, 255, 255)
    interpolation = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return lambda: cv2.warpAffine(
        img,
        m,
        (w, h),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )


@pytest.mark.benchmark(group="deskew-rotate-a4-gray")
def test_rotate_gray_ours(benchmark, page_a4):
    benchmark(rotate, page_a4, -ANGLE)


@pytest.mark.benchmark(group="deskew-rotate-a4-gray")
def test_rotate_gray_opencv(benchmark, page_a4):
    benchmark(_cv2_rotate(page_a4, -ANGLE))


@pytest.fixture(scope="module")
def page_a4_rgb(page_a4) -> np.ndarray:
    return synth.to_color(page_a4)


@pytest.mark.benchmark(group="deskew-rotate-a4-rgb")
def test_rotate_rgb_ours(benchmark, page_a4_rgb):
    benchmark(rotate, page_a4_rgb, -ANGLE)


@pytest.mark.benchmark(group="deskew-rotate-a4-rgb")
def test_rotate_rgb_opencv(benchmark, page_a4_rgb):
    benchmark(_cv2_rotate(page_a4_rgb, -ANGLE))


@pytest.mark.benchmark(group="deskew-rotate-a4-gray-bicubic")
def test_rotate_bicubic_ours(benchmark, page_a4):
    benchmark(rotate, page_a4, -ANGLE, interpolation="bicubic")


@pytest.mark.benchmark(group="deskew-rotate-a4-gray-bicubic")
def test_rotate_bicubic_opencv(benchmark, page_a4):
    benchmark(_cv2_rotate(page_a4, -ANGLE, cubic=True))
