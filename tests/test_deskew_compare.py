"""Skew accuracy beside the tools a user would otherwise pick, on the same generated pages.

Anchors: the ``deskew`` package (``determine_skew``, Hough transform on Canny edges), the
OpenCV ``minAreaRect`` recipe (rectangle around all ink) and an OpenCV Hough-lines recipe.
Each anchor is scored with whichever sign convention suits it better, so the comparison is
generous to the anchors.  ``benchmarks/bench_deskew.py`` times the same functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import synth

from onestop_docs.deskew import estimate_skew


def _fold(angle: float) -> float:
    """Fold a line angle into (-45, 45]."""
    a = (angle + 45.0) % 90.0 - 45.0
    return 45.0 if a == -45.0 else a


def deskew_package(gray: np.ndarray, min_deviation: float = 1.0) -> float | None:
    """``deskew.determine_skew`` as its README uses it (grey input, defaults).

    ``min_deviation`` (degrees) is its angular resolution; 0.1 gives it its best accuracy.
    """
    deskew = pytest.importorskip("deskew")
    angle = deskew.determine_skew(gray, min_deviation=min_deviation)
    return None if angle is None else float(angle)


def opencv_min_area_rect(gray: np.ndarray) -> float | None:
    """The common recipe: Otsu, then the minimum-area rectangle around every ink pixel."""
    cv2 = pytest.importorskip("cv2")
    ink = cv2.threshold(255 - gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    coords = np.column_stack(np.nonzero(ink)[::-1]).astype(np.float32)  # (x, y)
    if len(coords) < 5:
        return None
    return _fold(float(cv2.minAreaRect(coords)[-1]))


def opencv_hough(gray: np.ndarray) -> float | None:
    """Hough-lines recipe: Otsu, close words into line blobs, Canny, HoughLines, median angle."""
    cv2 = pytest.importorskip("cv2")
    ink = cv2.threshold(255 - gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    k = max(3, gray.shape[1] // 60)
    blobs = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, k), np.uint8))
    edges = cv2.Canny(blobs, 50, 150)
    lines = cv2.HoughLines(edges, 1, np.pi / 1800, threshold=gray.shape[1] // 4)
    if lines is None:
        return None
    degs = [math.degrees(float(t)) - 90.0 for t in lines[:40, 0, 1]]
    near = [d for d in degs if abs(d) <= 45.0]
    return float(np.median(near)) if near else None


def _error(est: float | None, truth: float, *, either_sign: bool) -> float:
    if est is None:
        return 90.0  # no answer counts as the worst error in a head-to-head comparison
    if either_sign:
        return min(abs(est - truth), abs(-est - truth))
    return abs(est - truth)


def comparison_pages(n: int = 10, seed: int = 31) -> list[tuple[np.ndarray, float]]:
    """Generated A5 pages at 200 dpi, rotated within +-15 degrees and degraded."""
    rng = np.random.default_rng(seed)
    out = []
    bases = [
        synth.render_page(dpi=200, paper="A5", font=f, font_pt=p)
        for f, p in (("serif", 11.0), ("sans", 10.0))
    ]
    for i in range(n):
        truth = float(rng.uniform(-15.0, 15.0))
        img = synth.rotate(bases[i % 2].gray, truth)
        if i % 2 == 0:
            img = synth.add_noise(img, 10.0, rng)
        if i % 3 == 1:
            img = synth.jpeg(img, 50)
        if i % 4 == 3:
            img = synth.dark_border(img, top=30, left=20)
        out.append((img, truth))
    return out


def mean_errors(pages: list[tuple[np.ndarray, float]], *, fine: bool = False) -> dict[str, float]:
    anchors: dict[str, Any] = {
        "deskew": deskew_package,
        "minarearect": opencv_min_area_rect,
        "hough": opencv_hough,
    }
    if fine:
        anchors["deskew-0.1"] = lambda g: deskew_package(g, min_deviation=0.1)
    errs: dict[str, list[float]] = {"ours": [], **{k: [] for k in anchors}}
    for img, truth in pages:
        errs["ours"].append(_error(estimate_skew(img, dpi=200).angle, truth, either_sign=False))
        for name, fn in anchors.items():
            errs[name].append(_error(fn(img), truth, either_sign=True))
    return {k: float(np.mean(v)) for k, v in errs.items()}


def test_ours_has_the_lowest_mean_error() -> None:
    pytest.importorskip("deskew")
    pytest.importorskip("cv2")
    means = mean_errors(comparison_pages())
    print("mean absolute skew error (degrees):", means)
    for name, value in means.items():
        if name != "ours":
            assert means["ours"] < value, means
    assert means["ours"] <= 0.05


@pytest.mark.slow
def test_ours_beats_deskew_at_its_finest_resolution() -> None:
    pytest.importorskip("deskew")
    pytest.importorskip("cv2")
    means = mean_errors(comparison_pages(), fine=True)
    print("mean absolute skew error (degrees):", means)
    for name, value in means.items():
        if name != "ours":
            assert means["ours"] < value, means
