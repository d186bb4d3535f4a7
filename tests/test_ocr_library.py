"""Tesseract read in-process (``TesseractConfig(engine="library")``) against the program.

The reference is the ``tesseract`` program itself, a separate build artefact driven through
its command line: the library engine must return exactly its words, boxes and confidences,
on a real scan (OCRmyPDF's public-domain ``c02-22.jpg``) and on a Vietnamese page, with and
without a known resolution, from several threads at once and after a fork.  Process-level
properties (OpenMP limit, nothing on stderr, nothing leaked at exit) run in a fresh
interpreter, since they depend on what was loaded before.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image

from onestop_docs.errors import InvalidArgumentError, MissingDependencyError, OcrError
from onestop_docs.ocr import TesseractConfig, _library, recognize

pytestmark = [
    pytest.mark.ocr,
    pytest.mark.skipif(not _library.available(1), reason="libtesseract.so.5 not loadable"),
]

DATA = Path(__file__).parent / "data"
LIB = TesseractConfig(engine="library")
PROG = TesseractConfig(engine="program")
LINES = [
    "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Độc lập - Tự do - Hạnh phúc",
    "Giấy xác nhận cư trú của ông Đặng Văn Mạnh",
    "Số: 223/KH-UBND ngày 30 tháng 6 năm 2021",
    "Địa chỉ: thôn Ấp Bắc, xã Tân Phước, huyện Gò Công",
]


@pytest.fixture(scope="module")
def vi_page() -> np.ndarray:
    sp = synth.render_page(LINES, paper=(150, 70), dpi=300, font_pt=12, margin_mm=10)
    return synth.rotate(sp.gray, 2.5)


@pytest.fixture(scope="module")
def real_scan() -> np.ndarray:
    with Image.open(DATA / "ocrmypdf" / "c02-22.jpg") as im:
        return np.asarray(im.convert("L"))


def _same(a: object, b: object) -> None:
    assert a == b


@pytest.mark.parametrize("dpi", [300.0, None])
def test_library_reads_exactly_what_the_program_reads(vi_page: np.ndarray, dpi: float | None):
    prog = recognize(vi_page, dpi=dpi, config=PROG)
    lib = recognize(vi_page, dpi=dpi, config=LIB)
    assert len(prog.words) > 20  # the page was read at all
    assert "Việt Nam" in prog.text
    _same(lib, prog)


def test_real_scan_and_psm_match_the_program(real_scan: np.ndarray) -> None:
    for psm in (None, 6):
        prog = recognize(real_scan, "eng", dpi=150, psm=psm, config=PROG)
        lib = recognize(real_scan, "eng", dpi=150, psm=psm, config=LIB)
        assert len(prog.words) > 100
        _same(lib, prog)


def test_threads_share_nothing(vi_page: np.ndarray, real_scan: np.ndarray) -> None:
    jobs = [(vi_page, "vie", 300.0), (real_scan, "eng", 150.0)] * 2
    expected = [recognize(p, lang, dpi=d, config=PROG) for p, lang, d in jobs]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda j: recognize(j[0], j[1], dpi=j[2], config=LIB), jobs))
    for g, e in zip(got, expected, strict=True):
        _same(g, e)


def _child_words(page: np.ndarray) -> list[str]:
    return [w.text for w in recognize(page, dpi=300.0, config=LIB).words]


def test_a_forked_child_reads_with_its_own_engine(vi_page: np.ndarray) -> None:
    parent = _child_words(vi_page)  # the parent holds an engine when it forks
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply(_child_words, (vi_page,))
    assert child == parent


def test_timeout_stops_recognition(real_scan: np.ndarray) -> None:
    big = np.tile(real_scan, (3, 3))
    with pytest.raises(OcrError, match=r"timeout of 0\.01 s"):
        recognize(big, "eng", dpi=150, timeout=0.01, config=LIB, preprocess=False)
    # the engine is usable again after a stopped page
    small = recognize(real_scan, "eng", dpi=150, config=LIB)
    assert len(small.words) > 100


def test_missing_language_data_names_the_package(tmp_path: Path) -> None:
    empty = TesseractConfig(engine="library", tessdata_dir=str(tmp_path))
    with pytest.raises(MissingDependencyError, match="tesseract-ocr-vie"):
        _library.recognize_tsv(
            np.full((50, 50), 255, np.uint8),
            "vie",
            dpi=300,
            psm=None,
            timeout=10,
            tessdata_dir=empty.tessdata_dir,
            oem=None,
            variables=(),
            thread_limit=1,
        )


def test_engine_is_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="engine"):
        TesseractConfig(engine="fast")  # type: ignore[arg-type]


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    src = Path(__file__).parents[1] / "src"
    env = {"PYTHONPATH": f"{src}:{Path(__file__).parent}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_openmp_is_limited_and_the_environment_restored() -> None:
    proc = _fresh(
        """
        import ctypes, os
        import numpy as np, synth
        from onestop_docs.ocr import TesseractConfig, recognize
        sp = synth.render_page(["Độc lập - Tự do - Hạnh phúc"], paper=(150, 40), dpi=300, font_pt=12, margin_mm=10)
        res = recognize(sp.gray, dpi=300, config=TesseractConfig(engine="library"))
        gomp = ctypes.CDLL("libgomp.so.1")
        print(gomp.omp_get_thread_limit(), os.environ.get("OMP_THREAD_LIMIT"), res.text)
        """
    )
    assert proc.returncode == 0, proc.stderr
    limit, env, text = proc.stdout.split(" ", 2)
    assert (limit, env) == ("1", "None")
    assert "phúc" in text
    # Tesseract's own messages and its exit-time cache report stay off the terminal
    assert proc.stderr == ""


def test_openmp_started_without_a_limit_refuses_the_library() -> None:
    proc = _fresh(
        """
        import ctypes
        ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)  # another library started OpenMP
        import numpy as np
        from onestop_docs.errors import MissingDependencyError
        from onestop_docs.ocr import TesseractConfig, recognize
        page = np.full((60, 60), 255, np.uint8)
        try:
            recognize(page, dpi=300, config=TesseractConfig(engine="library"))
        except MissingDependencyError as exc:
            print("refused:", "OMP_THREAD_LIMIT" in str(exc))
        res = recognize(page, dpi=300)  # "auto" falls back to the program
        print("auto:", res.text == "")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["refused: True", "auto: True"]


def test_engines_are_reused_across_thread_pools(vi_page: np.ndarray) -> None:
    # The pipeline makes a thread pool per document: engines must not pile up per thread.
    small = vi_page[:400]
    expected = recognize(small, dpi=300.0, config=PROG)
    before = _library.idle_engines()
    for _ in range(4):
        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(lambda p: recognize(p, dpi=300.0, config=LIB), [small] * 2))
        assert got == [expected, expected]
    assert _library.idle_engines() <= max(before, 2)
