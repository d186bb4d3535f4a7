"""Colour conversion and histogram on an A4 300-dpi colour page, beside Pillow/OpenCV/numpy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from onestop_docs._native import gray as kernels
from onestop_docs.imageio import to_gray


@pytest.fixture(scope="module")
def rgb_a4() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3508, 2480, 3), dtype=np.uint8)


@pytest.mark.benchmark(group="to_gray-a4-rgb")
def test_to_gray_ours(benchmark, rgb_a4):
    benchmark(to_gray, rgb_a4)


@pytest.mark.benchmark(group="to_gray-a4-rgb")
def test_to_gray_pillow(benchmark, rgb_a4):
    benchmark(lambda: np.asarray(Image.fromarray(rgb_a4).convert("L")))


@pytest.mark.benchmark(group="to_gray-a4-rgb")
def test_to_gray_opencv(benchmark, rgb_a4):
    cv2 = pytest.importorskip("cv2")
    benchmark(cv2.cvtColor, rgb_a4, cv2.COLOR_RGB2GRAY)


@pytest.mark.benchmark(group="histogram-a4-gray")
def test_histogram_ours(benchmark, rgb_a4):
    g = np.ascontiguousarray(rgb_a4[:, :, 0])
    hist = np.zeros(256, np.int64)
    benchmark(kernels.histogram, g, hist)


@pytest.mark.benchmark(group="histogram-a4-gray")
def test_histogram_numpy(benchmark, rgb_a4):
    g = np.ascontiguousarray(rgb_a4[:, :, 0])
    benchmark(np.bincount, g.ravel(), minlength=256)


@pytest.mark.benchmark(group="histogram-a4-gray")
def test_histogram_opencv(benchmark, rgb_a4):
    cv2 = pytest.importorskip("cv2")
    g = np.ascontiguousarray(rgb_a4[:, :, 0])
    benchmark(cv2.calcHist, [g], [0], None, [256], [0, 256])
