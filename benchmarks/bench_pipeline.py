"""The scan-station job: pages per minute on 2 cores beside OCRmyPDF, and peak memory.

Groups (see conftest.py for the naming convention):

* ``digitize-20p-noocr``: 20 A4 300-dpi colour pages, orientation + deskew + cleanup + PDF/A,
  no OCR.  Ours: two documents of 10 pages on a 2-process pool.  OCRmyPDF:
  ``--deskew --output-type pdfa-2 --tesseract-timeout 0 -j 2`` on the same pages (its OCR step
  is skipped by the zero timeout, so both do the image work and the PDF/A only).
* ``digitize-4p-ocr``: 4 pages with Vietnamese OCR, ours vs ``ocrmypdf --deskew -l vie``.
* ``digitize-2p-smoke``: a tiny run so CI proves the benchmark code still works.

``test_peak_rss_300_page_tiff`` prints the peak RSS of digitizing a 300-page TIFF (one
document, no OCR) in a fresh process; it is a measurement, not a test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image

from onestop_docs.imageio import Page, save_page
from onestop_docs.pipeline import DigitizeJob, DigitizeOptions, digitize_batch

AGENCY = "000.00.00.H27"


def _pages(n: int, dpi: int = 300, paper: str = "A4") -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        sp = synth.render_page(
            synth.VI_LINES[i % 7 :] + synth.VI_LINES[: i % 7], dpi=dpi, paper=paper
        )
        g = synth.rotate(sp.gray, float(rng.uniform(-4, 4)))
        out.append(synth.to_color(synth.add_noise(g, 6.0, rng)))
    return out


def _write(pages: list[np.ndarray], folder: Path, dpi: int = 300) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, px in enumerate(pages):
        save_page(
            Page(px, mode="RGB", dpi=(float(dpi), float(dpi))),
            folder / f"{i + 1:03d}.jpg",
            jpeg_quality=90,
        )


def _jobs(root: Path, folders: list[Path], ocr: bool) -> list[DigitizeJob]:
    return [
        DigitizeJob(
            inputs=(str(f),),
            out_dir=str(root / "out"),
            dossier_code="000.00.00.H27-210630-0001",
            agency=AGENCY,
            component=i + 1,
            options=DigitizeOptions(ocr=ocr),
        )
        for i, f in enumerate(folders)
    ]


def _run_ours(root: Path, folders: list[Path], ocr: bool) -> None:
    shutil.rmtree(root / "out", ignore_errors=True)
    with ProcessPoolExecutor(2) as pool:
        rep = digitize_batch(_jobs(root, folders, ocr), executor=pool)
    assert rep.ok, rep.outcomes


def _input_pdf(pages: list[np.ndarray], path: Path, dpi: int = 300) -> None:
    ims = [Image.fromarray(p) for p in pages]
    ims[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=ims[1:], quality=90)


def _run_ocrmypdf(src: Path, dst: Path, ocr: bool) -> None:
    exe = shutil.which("ocrmypdf") or str(Path(sys.executable).parent / "ocrmypdf")
    args = [exe, "--deskew", "--output-type", "pdfa-2", "-j", "2", "--force-ocr", "-q"]
    args += ["-l", "vie"] if ocr else ["--tesseract-timeout", "0"]
    subprocess.run([*args, str(src), str(dst)], check=True, capture_output=True)


def _dossier(root: Path, n: int) -> Path:
    """n pages as two documents (folders a/ and b/) and as one input PDF for OCRmyPDF."""
    pages = _pages(n)
    _write(pages[: n // 2], root / "a")
    _write(pages[n // 2 :], root / "b")
    _input_pdf(pages, root / "in.pdf")
    return root


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory):
    return _dossier(tmp_path_factory.mktemp("bench20"), 20)


@pytest.mark.slow
@pytest.mark.benchmark(group="digitize-20p-noocr")
def test_digitize_20p_noocr_ours(benchmark, twenty):
    benchmark.pedantic(_run_ours, args=(twenty, [twenty / "a", twenty / "b"], False), rounds=2)


@pytest.mark.slow
@pytest.mark.benchmark(group="digitize-20p-noocr")
def test_digitize_20p_noocr_ocrmypdf(benchmark, twenty):
    pytest.importorskip("ocrmypdf")
    benchmark.pedantic(_run_ocrmypdf, args=(twenty / "in.pdf", twenty / "o.pdf", False), rounds=2)


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory):
    return _dossier(tmp_path_factory.mktemp("bench4"), 4)


@pytest.mark.slow
@pytest.mark.benchmark(group="digitize-4p-ocr")
def test_digitize_4p_ocr_ours(benchmark, four):
    benchmark.pedantic(_run_ours, args=(four, [four / "a", four / "b"], True), rounds=1)


@pytest.mark.slow
@pytest.mark.benchmark(group="digitize-4p-ocr")
def test_digitize_4p_ocr_ocrmypdf(benchmark, four):
    pytest.importorskip("ocrmypdf")
    benchmark.pedantic(_run_ocrmypdf, args=(four / "in.pdf", four / "o.pdf", True), rounds=1)


@pytest.mark.benchmark(group="digitize-2p-smoke")
def test_digitize_2p_smoke_ours(benchmark, tmp_path):
    pages = _pages(2, dpi=200, paper="A5")
    _write(pages, tmp_path / "a", dpi=200)
    benchmark.pedantic(_run_ours, args=(tmp_path, [tmp_path / "a"], False), rounds=1)


_RSS_SCRIPT = r"""
import re, sys
from onestop_docs.pipeline import digitize, DigitizeOptions
digitize(sys.argv[1], out_dir=sys.argv[2], dossier_code="000.00.00.H27-210630-0001",
         agency="000.00.00.H27", options=DigitizeOptions(ocr=False))
print(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))  # peak RSS, kB
"""


@pytest.mark.slow
def test_peak_rss_300_page_tiff(tmp_path):
    """Peak RSS of one 300-page A4 300-dpi colour TIFF document (printed, not asserted)."""
    base = _pages(6)
    frames = (Image.fromarray(base[i % 6]) for i in range(1, 300))  # generated lazily
    tif = tmp_path / "dossier.tif"
    Image.fromarray(base[0]).save(
        tif, save_all=True, append_images=frames, compression="jpeg", quality=85, dpi=(300, 300)
    )
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tif), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mb = int(out.stdout.strip()) / 1024
    print(f"\npeak RSS, 300-page A4 300-dpi colour TIFF, no OCR: {peak_mb:.0f} MB")
