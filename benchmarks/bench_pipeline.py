"""The scan-station job: pages per minute on 2 cores beside OCRmyPDF, and peak memory.

Groups (see conftest.py for the naming convention):

* ``digitize-20p-noocr``: 20 A4 300-dpi colour pages, orientation + deskew + cleanup + PDF/A,
  no OCR.  Ours: two documents of 10 pages on a 2-process pool.  OCRmyPDF:
  ``--deskew --output-type pdfa-2 --tesseract-timeout 0 -j 2`` on the same pages (its OCR step
  is skipped by the zero timeout, so both do the image work and the PDF/A only).
* ``digitize-4p-ocr``: 4 pages with Vietnamese OCR, ours vs ``ocrmypdf --deskew -l vie``.
* ``digitize-2p-smoke``: a tiny run so CI proves the benchmark code still works.

``test_scan_station_throughput`` (and ``python benchmarks/bench_pipeline.py``) is the scan
station's figure of docs/benchmarks.md "Scan station throughput": one 20-page dossier of
evalkit scanner pages with text ground truth (seed s21, set full; ``ONESTOP_EVALKIT_DATA``
points elsewhere), with OCR, on one page worker and on two, beside OCRmyPDF
``--deskew --rotate-pages -l vie --output-type pdfa -j 2`` on the same pages in the same run.
Text accuracy of each output PDF's text layer (``pdftotext``, page by page) is scored with
evalkit's own metrics (CER after NFC and whitespace collapsing against ``text_rowmajor``, and
bag-of-words recall).  It prints; it asserts nothing about time.

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


# --- scan station: one 20-page dossier with OCR, page workers, beside OCRmyPDF ----------------

# ../shared/evalkit beside the checkout (or beside its parent, for a git worktree).
EVALKIT = next(
    (
        p / "shared" / "evalkit"
        for p in Path(__file__).resolve().parents[1:4]
        if (p / "shared" / "evalkit" / "metrics.py").is_file()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "evalkit",
)
SEED_DATA = Path.home() / ".cache" / "onestop-evalkit" / "seeds" / "s21" / "full"


def _evalkit_pages(n: int) -> list[tuple[Path, str]]:
    """The first ``n`` scanner pages with text: (image, ground-truth text in row-major order)."""
    import json
    import os

    data = Path(os.environ.get("ONESTOP_EVALKIT_DATA", SEED_DATA))
    folder = data / "pages" if (data / "pages").is_dir() else data
    out = []
    for meta in sorted(folder.glob("p*.json")):
        d = json.loads(meta.read_text(encoding="utf-8"))
        if d.get("kind") != "document" or d.get("capture", "scanner") != "scanner":
            continue
        if not d.get("text_rowmajor", "").strip():
            continue
        out.append((folder / d["files"]["degraded"], d["text_rowmajor"]))
        if len(out) == n:
            break
    return out


def _lossless_pdf(images: list[Path], path: Path, dpi: float = 300.0) -> None:
    """The pages as a scanner would wrap them (one Flate image per page, no re-encoding loss)."""
    import zlib

    import pikepdf

    pdf = pikepdf.new()
    for img in images:
        with Image.open(img) as im:
            im = im.convert("RGB") if im.mode not in ("L", "RGB") else im
            w, h = im.size
            raw = im.tobytes()
            gray = im.mode == "L"
        stream = pikepdf.Stream(pdf, zlib.compress(raw, 6))
        stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        stream.Width, stream.Height, stream.BitsPerComponent = w, h, 8
        stream.ColorSpace = pikepdf.Name.DeviceGray if gray else pikepdf.Name.DeviceRGB
        stream.Filter = pikepdf.Name.FlateDecode
        wpt, hpt = w * 72 / dpi, h * 72 / dpi
        page = pdf.add_blank_page(page_size=(wpt, hpt))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
        page.Contents = pdf.make_stream(f"q {wpt:.4f} 0 0 {hpt:.4f} 0 0 cm /Im0 Do Q".encode())
    pdf.save(path)


def _page_texts(pdf: Path, n: int) -> list[str]:
    return [
        subprocess.run(
            ["pdftotext", "-f", str(i), "-l", str(i), "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        for i in range(1, n + 1)
    ]


def scan_station_throughput(n_pages: int = 20, workdir: Path | None = None) -> str:
    """Run the comparison and return a Markdown table (see the module docstring)."""
    import os
    import platform
    import tempfile
    import time

    sys.path.insert(0, str(EVALKIT))
    from metrics import bow_recall, cer  # evalkit's own scoring: an independent judge

    from onestop_docs.pipeline import digitize

    pages = _evalkit_pages(n_pages)
    if len(pages) < n_pages:
        raise FileNotFoundError(f"fewer than {n_pages} evalkit pages with text ground truth")
    root = Path(workdir or tempfile.mkdtemp(prefix="bench-station-"))
    dossier = root / "dossier"
    dossier.mkdir(parents=True, exist_ok=True)
    for i, (img, _) in enumerate(pages, start=1):
        shutil.copy(img, dossier / f"{i:02d}.png")
    _lossless_pdf([dossier / f"{i:02d}.png" for i in range(1, n_pages + 1)], root / "in.pdf")
    truths = [t for _, t in pages]
    rows = []
    stages: dict[int, str] = {}
    cpus: dict[str, float] = {}

    def cpu() -> float:
        # This process and every child it waited for (Tesseract, OCRmyPDF and theirs).
        import resource

        me, kids = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def score(pdf: Path) -> tuple[float, float]:
        texts = _page_texts(pdf, n_pages)
        return (
            float(np.mean([cer(t, h) for t, h in zip(truths, texts)])),
            float(np.mean([bow_recall(t, h) for t, h in zip(truths, texts)])),
        )

    def ours(workers: int) -> tuple[float, Path]:
        out = root / f"out-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        c = cpu()
        t = time.perf_counter()
        rec = digitize(
            dossier,
            out_dir=out,
            dossier_code="000.00.00.H27-210630-0001",
            agency=AGENCY,
            options=DigitizeOptions(ocr=True, page_workers=workers, assume_dpi=300.0),
        )
        secs = time.perf_counter() - t
        cpus[f"ours, {workers} page worker{'s' if workers > 1 else ''}"] = cpu() - c
        stages[workers] = ", ".join(
            f"{k} {v:.1f}" for k, v in rec.timings.items() if k in ("pages", "pdf", "compliance")
        )
        return secs, rec.pdf_path

    def ocrmypdf() -> tuple[float, Path]:
        exe = shutil.which("ocrmypdf") or str(Path(sys.executable).parent / "ocrmypdf")
        dst = root / "ocrmypdf.pdf"
        args = [exe, "--deskew", "--rotate-pages", "-l", "vie", "--output-type", "pdfa"]
        c = cpu()
        t = time.perf_counter()
        subprocess.run([*args, "-j", "2", "-q", str(root / "in.pdf"), str(dst)], check=True)
        secs = time.perf_counter() - t
        cpus["OCRmyPDF -j 2"] = cpu() - c
        return secs, dst

    # A station digitizes dossier after dossier in one process (``watch``): warm it up once
    # (imports, the OCR engines, the signing stack) on two pages, as OCRmyPDF's own start-up
    # is part of every one of its runs.  The cold first run is printed too.
    warm = root / "warm"
    warm.mkdir(exist_ok=True)
    for i in (1, 2):
        shutil.copy(dossier / f"{i:02d}.png", warm / f"{i:02d}.png")
    c, t = cpu(), time.perf_counter()
    digitize(
        warm,
        out_dir=root / "out-warm",
        dossier_code="000.00.00.H27-210630-0001",
        agency=AGENCY,
        options=DigitizeOptions(ocr=True, page_workers=2, assume_dpi=300.0),
    )
    cold = (time.perf_counter() - t, cpu() - c)

    load_before = os.getloadavg()[0]
    runs = {"ours, 2 page workers": ours(2), "OCRmyPDF -j 2": ocrmypdf()}
    runs["ours, 1 page worker"] = ours(1)
    load_after = os.getloadavg()[0]
    base = runs["ours, 1 page worker"][0]
    anchor = runs["OCRmyPDF -j 2"][0]
    rows.append(
        "| run | wall s | CPU s | pages/min | vs 1 worker | vs OCRmyPDF | mean CER | BoW recall |"
    )
    rows.append("|---|---|---|---|---|---|---|---|")
    for name, (secs, pdf) in runs.items():
        c, b = score(pdf)
        rows.append(
            f"| {name} | {secs:.1f} | {cpus[name]:.1f} | {n_pages * 60 / secs:.1f} | "
            f"{base / secs:.2f}× | "
            f"{anchor / secs:.2f}× | {100 * c:.1f} % | {100 * b:.1f} % |"
        )
    rows.append("")
    rows.append(
        f"{n_pages} pages ({pages[0][0].parent}), {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), load average {load_before:.1f} before "
        f"and {load_after:.1f} after the run.  Our runs follow a 2-page warm-up run in the "
        f"same process ({cold[0]:.1f} s wall, {cold[1]:.1f} CPU s, cold)."
    )
    rows.append("")
    rows.append(
        "Stage seconds of our runs (pages = until the last page is in the PDF; pdf and "
        "compliance come after it, serial): "
        + "; ".join(f"{w} worker(s): {stages[w]}" for w in sorted(stages))
    )
    return "\n".join(rows)


def page_worker_speedup(n_pages: int = 8, rounds: int = 2) -> str:
    """One and two page workers alternated ``rounds`` times on the same pages (noisy machines).

    Alternating puts both settings under the same neighbours' load as far as possible; the
    ratio of the medians is the figure.
    """
    import os
    import statistics
    import tempfile
    import time

    from onestop_docs.pipeline import digitize

    pages = _evalkit_pages(n_pages)
    root = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    dossier = root / "dossier"
    dossier.mkdir()
    for i, (img, _) in enumerate(pages, start=1):
        shutil.copy(img, dossier / f"{i:02d}.png")
    times: dict[int, list[float]] = {1: [], 2: []}
    loads = [os.getloadavg()[0]]
    for r in range(rounds):
        for workers in (1, 2) if r % 2 == 0 else (2, 1):
            out = root / f"out-{r}-{workers}"
            t = time.perf_counter()
            digitize(
                dossier,
                out_dir=out,
                dossier_code="000.00.00.H27-210630-0001",
                agency=AGENCY,
                options=DigitizeOptions(ocr=True, page_workers=workers, assume_dpi=300.0),
            )
            times[workers].append(time.perf_counter() - t)
            loads.append(os.getloadavg()[0])
    one, two = statistics.median(times[1]), statistics.median(times[2])
    shutil.rmtree(root, ignore_errors=True)
    return (
        f"{n_pages} pages x {rounds} rounds: 1 worker {[round(t, 1) for t in times[1]]} s, "
        f"2 workers {[round(t, 1) for t in times[2]]} s; speed-up {one / two:.2f}x "
        f"(load average {min(loads):.1f}-{max(loads):.1f})"
    )


@pytest.mark.slow
def test_scan_station_throughput(tmp_path):
    """Prints the table of docs/benchmarks.md "Scan station throughput" (asserts nothing)."""
    pytest.importorskip("ocrmypdf")
    if not _evalkit_pages(20) or not (EVALKIT / "metrics.py").is_file():
        pytest.skip("evalkit pages (seed s21, set full) or evalkit itself not found")
    print("\n" + scan_station_throughput(20, tmp_path))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "workers":
        print(page_worker_speedup(*(int(a) for a in sys.argv[2:4])))
    else:
        print(scan_station_throughput(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
