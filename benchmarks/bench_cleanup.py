"""Page cleanup on an A4 300-dpi grey page (2480 x 3508), one thread, beside its anchors.

Groups: Sauvola (doxapy, scikit-image, OpenCV adaptiveThreshold mean at the same window),
Otsu histogram + apply (OpenCV), whole clean_page grey vs colour, two pages on two threads
vs one after the other, and the peak extra memory of binarize (tracemalloc, recorded in
``extra_info`` and printed).
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
import synth

from onestop_docs.cleanup import CleanOptions, binarize, clean_page, otsu_threshold

WINDOW = 75  # the default at 300 dpi


@pytest.fixture(scope="module")
def a4() -> np.ndarray:
    rng = np.random.default_rng(0)
    pg = synth.render_page(dpi=300, paper="A4")
    return synth.add_noise(synth.uneven_light(pg.gray, 0.4), 6, rng)


@pytest.fixture(scope="module")
def a4_rgb(a4: np.ndarray) -> np.ndarray:
    rgb = synth.to_color(a4)
    return synth.add_signature(synth.add_stamp(rgb, (1800, 3000), 250), (300, 3000), size=500)


@pytest.fixture
def cv2_one_thread():
    """OpenCV parallelises its filters; the comparison is one thread against one thread."""
    cv2 = pytest.importorskip("cv2")
    n = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield cv2
    cv2.setNumThreads(n)


# ----------------------------------------------------------------------------- Sauvola


@pytest.mark.benchmark(group="sauvola-a4")
def test_sauvola_a4_ours(benchmark, a4):
    benchmark(binarize, a4, "sauvola", window=WINDOW, k=0.2)


@pytest.mark.benchmark(group="sauvola-a4")
def test_sauvola_a4_ours_doxacompat(benchmark, a4):
    benchmark(binarize, a4, "sauvola", window=WINDOW, k=0.2, compat="doxa")


@pytest.mark.benchmark(group="sauvola-a4")
def test_sauvola_a4_doxapy(benchmark, a4):
    doxapy = pytest.importorskip("doxapy")
    b = doxapy.Binarization(doxapy.Binarization.Algorithms.SAUVOLA)
    b.initialize(a4)
    out = np.empty_like(a4)
    benchmark(b.to_binary, out, {"window": WINDOW, "k": 0.2})


@pytest.mark.benchmark(group="sauvola-a4")
def test_sauvola_a4_skimage(benchmark, a4):
    filters = pytest.importorskip("skimage.filters")
    benchmark.pedantic(
        lambda: a4 > filters.threshold_sauvola(a4, window_size=WINDOW, k=0.2),
        rounds=3,
        iterations=1,
    )


@pytest.mark.benchmark(group="sauvola-a4")
def test_sauvola_a4_opencv(benchmark, a4, cv2_one_thread):
    cv2 = cv2_one_thread
    benchmark(
        cv2.adaptiveThreshold, a4, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, WINDOW, 10
    )


# ----------------------------------------------------------------------------- Otsu


@pytest.mark.benchmark(group="otsu-a4")
def test_otsu_a4_ours(benchmark, a4):
    benchmark(binarize, a4, "otsu")


@pytest.mark.benchmark(group="otsu-a4")
def test_otsu_a4_opencv(benchmark, a4, cv2_one_thread):
    cv2 = cv2_one_thread
    benchmark(cv2.threshold, a4, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)


@pytest.mark.benchmark(group="otsu-a4")
def test_otsu_a4_skimage(benchmark, a4):
    filters = pytest.importorskip("skimage.filters")
    benchmark(lambda: a4 <= filters.threshold_otsu(a4))


def test_otsu_threshold_agrees_with_opencv(a4):
    cv2 = pytest.importorskip("cv2")
    t, _ = cv2.threshold(a4, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    assert abs(otsu_threshold(a4) - int(t)) <= 1


# ----------------------------------------------------------------------------- clean_page


@pytest.mark.benchmark(group="clean_page-a4")
def test_clean_page_gray_ours(benchmark, a4):
    benchmark(clean_page, a4, CleanOptions(dpi=300))


@pytest.mark.benchmark(group="clean_page-a4")
def test_clean_page_color_ours(benchmark, a4_rgb):
    benchmark(clean_page, a4_rgb, CleanOptions(dpi=300))


# ----------------------------------------------------------------------------- threads


def _two_threads(pages: list[np.ndarray]) -> None:
    threads = [
        threading.Thread(target=binarize, args=(p,), kwargs={"window": WINDOW}) for p in pages
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.benchmark(group="sauvola-two-pages")
def test_two_pages_threads_ours(benchmark, a4):
    pages = [a4, a4.copy()]
    benchmark(_two_threads, pages)


@pytest.mark.benchmark(group="sauvola-two-pages")
def test_two_pages_onethread(benchmark, a4):
    pages = [a4, a4.copy()]
    benchmark(lambda: [binarize(p, window=WINDOW) for p in pages])


# ----------------------------------------------------------------------------- memory


@pytest.mark.parametrize("method", ["sauvola", "wolf", "otsu"])
def test_binarize_peak_memory(method, a4):
    binarize(a4, method)  # warm up imports
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        mask = binarize(a4, method, window=WINDOW if method != "otsu" else None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra = (peak - mask.nbytes) / a4.size
    print(f"binarize {method}: peak extra {extra:.4f} bytes/pixel beyond the output mask")
    assert extra <= 3.0


# ----------------------------------------------------------------------------- default mask


@pytest.mark.benchmark(group="binarize-default-a4")
def test_default_a4_ours_midpoint(benchmark, a4):
    benchmark(binarize, a4, dpi=300)


@pytest.mark.benchmark(group="binarize-default-a4")
def test_default_a4_doxapy_sauvola(benchmark, a4):
    """doxapy's Sauvola with its defaults: the 0.1.0 default of this project."""
    doxapy = pytest.importorskip("doxapy")
    b = doxapy.Binarization(doxapy.Binarization.Algorithms.SAUVOLA)
    out = np.empty_like(a4)

    def run() -> None:
        b.initialize(a4)
        b.to_binary(out, {})

    benchmark(run)


@pytest.mark.benchmark(group="binarize-default-a4")
def test_default_a4_opencv_gauss(benchmark, a4, cv2_one_thread):
    """The best anchor of the evalkit hard plan: adaptive Gaussian, block 31, C 15."""
    cv2 = cv2_one_thread
    benchmark(
        cv2.adaptiveThreshold, a4, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 15
    )
