"""The scan-station job end to end, checked by independent tools (pdfsig, bagit, pdftotext)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import synth

from onestop_docs import errors
from onestop_docs.imageio import Page, save_page
from onestop_docs.pipeline import (
    DigitizeJob,
    DigitizeOptions,
    SignerSpec,
    digitize,
    digitize_batch,
    is_record_complete,
    load_record,
)

DPI = 200
AGENCY = "000.00.00.H27"
CODE = "000.00.00.H27-210630-0001"


def _color_page(lines: list[str], *, angle: float = 0.0, flip: bool = False) -> np.ndarray:
    sp = synth.render_page(lines, dpi=DPI, paper="A5", font_pt=11, margin_mm=12)
    gray = sp.gray
    if angle:
        gray = synth.rotate(gray, angle)
    if flip:
        gray = np.ascontiguousarray(gray[::-1, ::-1])
    return synth.to_color(gray)


def _write_dossier(folder: Path, *, with_duplicate: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = synth.VI_LINES
    p1 = _color_page(lines[:14])
    save_page(Page(p1, mode="RGB", dpi=(DPI, DPI)), folder / "01.png")
    save_page(
        Page(_color_page(lines[5:19], angle=3.0), mode="RGB", dpi=(DPI, DPI)), folder / "02.png"
    )
    save_page(
        Page(_color_page(lines[8:22], flip=True), mode="RGB", dpi=(DPI, DPI)), folder / "03.png"
    )
    blank = synth.add_noise(np.full(p1.shape[:2], 248, np.uint8), 2.0, np.random.default_rng(0))
    save_page(Page(synth.to_color(blank), mode="RGB", dpi=(DPI, DPI)), folder / "04.png")
    if with_duplicate:
        rescan = np.roll(synth.rotate(p1, 1.0, fill=250), (6, -4), axis=(0, 1))
        save_page(
            Page(synth.jpeg(rescan, 60), mode="RGB", dpi=(DPI, DPI)),
            folder / "05.jpg",
            jpeg_quality=95,
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    from onestop_docs.signing import demo_pki

    return demo_pki(tmp_path_factory.mktemp("pki"))


def _specs(pki) -> tuple[SignerSpec, SignerSpec]:
    return (
        SignerSpec.pkcs12(pki.officer_p12_path, pki.password, display_name="Nguyễn Văn Ạnh"),
        SignerSpec.pkcs12(pki.organisation_p12_path, pki.password),
    )


def _digitize_signed(base: Path, pki, **kw):
    """``base/scans`` → ``base/out`` with OCR and both signatures."""
    officer, org = _specs(pki)
    return digitize(
        base / "scans",
        out_dir=base / "out",
        dossier_code=CODE,
        agency=AGENCY,
        officer=officer,
        organisation=org,
        options=DigitizeOptions(ocr=True),
        **kw,
    )


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory, pki):
    """One full run with OCR and both signatures, shared by the end-to-end checks."""
    from onestop_docs.pipeline import ReuseIndex

    base = tmp_path_factory.mktemp("e2e")
    _write_dossier(base / "scans")
    rec = _digitize_signed(base, pki, agency_name="UBND tỉnh Hà Tĩnh", duplicate_index=ReuseIndex())
    return rec, base, pki


def test_record_layout_and_page_count(record) -> None:
    rec, base, _ = record
    assert rec.directory == base / "out" / f"{CODE}.001"
    assert rec.pdf_path.is_file() and rec.xml_path.is_file()
    assert len(rec.pages) == 5  # blank page kept: image count = physical page count
    assert not list((base / "out").glob(".partial-*"))
    out = subprocess.run(["pdfinfo", str(rec.pdf_path)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+5$", out.stdout, re.M), out.stdout


def test_blank_page_flagged_and_kept(record) -> None:
    rec, _, _ = record
    assert rec.blank_pages == (4,)


def test_upside_down_page_fixed_and_skew_measured(record) -> None:
    rec, _, _ = record
    assert rec.pages[2].rotation_deg == 180
    assert rec.pages[1].skew_deg is not None and abs(rec.pages[1].skew_deg - 3.0) < 0.2


def test_page_laid_at_a_large_angle_is_straightened_with_defaults(tmp_path: Path) -> None:
    """A page put on the glass at 32 degrees (evalkit's hard plan has 22-43): the default
    search covers 45 degrees, so it is straightened (0.1.0's 15 left it skewed)."""
    folder = tmp_path / "scans"
    folder.mkdir()
    page = _color_page(synth.VI_LINES[:14], angle=32.0)
    save_page(Page(page, mode="RGB", dpi=(DPI, DPI)), folder / "01.png")
    rec = digitize(
        folder, out_dir=tmp_path / "out", dossier_code=CODE, agency=AGENCY,
        options=DigitizeOptions(ocr=False),
    )  # fmt: skip
    skew = rec.pages[0].skew_deg
    assert skew is not None and abs(skew - 32.0) < 0.3, skew


def test_duplicate_rescan_reported(record) -> None:
    rec, _, _ = record
    dups = rec.pages[4].duplicates
    assert dups and dups[0]["page"] == 1
    assert not rec.pages[1].duplicates and not rec.pages[2].duplicates


def test_bag_validates_with_bagit_python(record) -> None:
    import bagit

    rec, _, _ = record
    bagit.Bag(str(rec.directory)).validate()


def test_signatures_accepted_by_pdfsig(record) -> None:
    rec, _, _ = record
    out = subprocess.run(["pdfsig", str(rec.pdf_path)], capture_output=True, text=True)
    text = out.stdout
    assert text.count("Signature #") == 2, text
    assert text.count("Signature Validation: Signature is Valid.") == 2, text
    assert rec.signatures == ("officer", "organisation")


def test_text_layer_and_fields(record) -> None:
    rec, _, _ = record
    out = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(rec.pdf_path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    from onestop_docs.vntext import fold

    assert "223/KH-UBND" in out.stdout
    assert "ha tinh" in fold(out.stdout)
    assert rec.fields, "no fields extracted"
    assert "223" in json.dumps(rec.fields, ensure_ascii=False)


def test_compliance_and_metadata_consistent(record) -> None:
    from onestop_docs.metadata import from_xml

    rec, _, _ = record
    assert rec.compliance["ok"], rec.compliance
    meta = from_xml(rec.xml_path.read_bytes())
    assert meta.dossier_code == CODE and meta.page_amount == 5
    assert [p.blank for p in meta.pages] == [False, False, False, True, False]
    assert meta.scanning_officer == "Nguyễn Văn Ạnh"


def test_verify_cli_accepts_then_detects_tampering(record, tmp_path: Path) -> None:
    from onestop_docs.cli import main
    from onestop_docs.integrity import TransparencyLog

    rec, _, pki = record
    copy = tmp_path / "out"
    shutil.copytree(rec.directory, copy / rec.directory.name)
    log = TransparencyLog(copy / "transparency.log")
    from onestop_docs.pipeline._record import _ensure_logged
    from onestop_docs.signing.logsig import sign_log_checkpoint

    _ensure_logged(load_record(copy / rec.directory.name), log)
    sign_log_checkpoint(log, pki.organisation_signer)  # the station signs the log's state
    log.close()
    root = str(pki.root_cert_path)
    assert main(["verify", str(copy), "--trust-root", root]) == 0
    pdf = copy / rec.directory.name / "data" / rec.pdf_path.name
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    assert main(["verify", str(copy), "--trust-root", root, "--json"]) == 1


def test_resume_returns_the_existing_record(record) -> None:
    rec, base, pki = record
    again = _digitize_signed(base, pki)
    assert again.resumed and again.record_id == rec.record_id
    assert again.pages == rec.pages


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path: Path, monkeypatch) -> None:
    import onestop_docs.pipeline as pl

    _write_dossier(tmp_path / "scans", with_duplicate=False)

    def boom(*args, **kwargs):
        raise RuntimeError("power cut while writing the PDF")

    def run():
        return digitize(
            tmp_path / "scans",
            out_dir=tmp_path / "out",
            dossier_code=CODE,
            agency=AGENCY,
            options=DigitizeOptions(ocr=False),
        )

    monkeypatch.setattr("onestop_docs.pdf.PdfWriter.save", boom)
    with pytest.raises(RuntimeError):
        run()
    assert not (tmp_path / "out" / f"{CODE}.001").exists()
    assert not list((tmp_path / "out").glob(".partial-*"))
    monkeypatch.undo()
    rec = run()
    assert is_record_complete(rec.directory)
    assert pl.load_record(rec.directory).record_id == rec.record_id


def test_bad_inputs_raise_typed_errors(tmp_path: Path) -> None:
    _write_dossier(tmp_path / "scans", with_duplicate=False)
    opts = DigitizeOptions(ocr=False)
    with pytest.raises(errors.InvalidCodeError):
        digitize(
            tmp_path / "scans",
            out_dir=tmp_path / "o",
            dossier_code="H27-210230-0001",
            agency=AGENCY,
            options=opts,
        )
    with pytest.raises(errors.InvalidCodeError):
        digitize(
            tmp_path / "scans",
            out_dir=tmp_path / "o",
            dossier_code=CODE,
            agency="h27",
            options=opts,
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(errors.InvalidArgumentError):
        digitize(empty, out_dir=tmp_path / "o", dossier_code=CODE, agency=AGENCY, options=opts)
    nodpi = tmp_path / "nodpi"
    nodpi.mkdir()
    save_page(np.full((300, 200, 3), 255, np.uint8), nodpi / "a.png")
    with pytest.raises(errors.PipelineError, match="resolution"):
        digitize(nodpi, out_dir=tmp_path / "o", dossier_code=CODE, agency=AGENCY, options=opts)
    with pytest.raises(errors.InvalidArgumentError):
        DigitizeOptions(max_angle_deg=60)
    # PdfWriter refuses a bool quality; the options must refuse it up front, not mid-record.
    with pytest.raises(errors.InvalidArgumentError, match="jpeg_quality"):
        DigitizeOptions(jpeg_quality=True)
    with pytest.raises(errors.InvalidArgumentError, match="ocr_engine"):
        DigitizeOptions(ocr_engine="fast")  # type: ignore[arg-type]


def _jobs(tmp_path: Path, n: int, *, bad: int | None = None) -> list[DigitizeJob]:
    jobs = []
    for i in range(n):
        folder = tmp_path / f"doc{i}"
        _write_dossier(folder, with_duplicate=False)
        if i == bad:  # a page without a resolution fails its document
            save_page(np.full((300, 200, 3), 255, np.uint8), folder / "02.png")
        jobs.append(
            DigitizeJob(
                inputs=(str(folder),),
                out_dir=str(tmp_path / "out"),
                dossier_code=CODE,
                agency=AGENCY,
                component=i + 1,
                options=DigitizeOptions(ocr=False),
            )
        )
    return jobs


def test_batch_records_failures_and_goes_on(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from onestop_docs.integrity import TransparencyLog

    jobs = _jobs(tmp_path, 3, bad=1)
    seen = []
    (tmp_path / "out").mkdir()
    log = TransparencyLog(tmp_path / "out" / "transparency.log")
    with ThreadPoolExecutor(2) as pool:
        rep = digitize_batch(
            jobs, executor=pool, log=log, on_progress=lambda d, t, o: seen.append((d, t, o.status))
        )
    assert [o.status for o in rep.outcomes] == ["done", "failed", "done"]
    assert rep.outcomes[1].error_type == "PipelineError"
    assert len(seen) == 3 and seen[-1][0] == 3
    assert len(log) == 2
    rep2 = digitize_batch(jobs, executor=ThreadPoolExecutor(2), log=log)
    assert [o.status for o in rep2.outcomes] == ["skipped", "failed", "skipped"]
    assert len(log) == 2  # nothing logged twice
    log.close()


_BATCH_SCRIPT = r"""
import sys, pickle
from onestop_docs.pipeline import digitize_batch
from onestop_docs.integrity import TransparencyLog
jobs = pickle.load(open(sys.argv[1], "rb"))
log = TransparencyLog(sys.argv[2])
rep = digitize_batch(jobs, log=log)
log.close()
print(",".join(o.status for o in rep.outcomes))
"""


@pytest.mark.slow
def test_batch_killed_and_rerun_completes_without_duplicates(tmp_path: Path) -> None:
    import pickle

    jobs = _jobs(tmp_path, 4)
    jobs_file = tmp_path / "jobs.pkl"
    jobs_file.write_bytes(pickle.dumps(jobs))
    log_path = tmp_path / "out" / "transparency.log"
    (tmp_path / "out").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _BATCH_SCRIPT, str(jobs_file), str(log_path)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    out = tmp_path / "out"
    deadline = time.time() + 120
    while time.time() < deadline:
        if any(p.name.startswith(".partial-") for p in out.iterdir()) or any(
            (out / j.record_id).exists() for j in jobs
        ):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes
    proc.wait()
    done = subprocess.run(
        [sys.executable, "-c", _BATCH_SCRIPT, str(jobs_file), str(log_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    statuses = done.stdout.strip().split(",")
    assert all(s in ("done", "skipped") for s in statuses), done.stdout
    assert not list(out.glob(".partial-*"))
    import bagit

    from onestop_docs.integrity import TransparencyLog

    for j in jobs:
        bagit.Bag(str(out / j.record_id)).validate()
    log = TransparencyLog(log_path)
    assert len(log) == len(jobs)  # every record logged exactly once
    log.close()


@pytest.mark.slow
def test_batch_on_a_dask_local_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    jobs = _jobs(tmp_path, 2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        rep = digitize_batch(jobs, executor=client)
    assert [o.status for o in rep.outcomes] == ["done", "done"]
    for j in jobs:
        assert is_record_complete(tmp_path / "out" / j.record_id)


# VmHWM (peak RSS of this process image), not ru_maxrss: Linux carries ru_maxrss over from
# the forked parent (pytest) across exec, which would hide or invent growth.
_RSS_SCRIPT = r"""
import re, sys
from onestop_docs.pipeline import digitize, DigitizeOptions
digitize(sys.argv[1], out_dir=sys.argv[2], dossier_code="000.00.00.H27-210630-0001",
         agency="000.00.00.H27", options=DigitizeOptions(ocr=False, page_workers=2))
print(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
"""


@pytest.mark.slow
def test_memory_per_document_does_not_grow_with_page_count(tmp_path: Path) -> None:
    from PIL import Image

    base = [_color_page(synth.VI_LINES[i:] + synth.VI_LINES[:i], angle=1.0 + i) for i in range(3)]
    peaks = {}
    # Two page workers hold at most 4 pages in flight: from 8 pages on, the window is full,
    # so the difference between 8 and 40 pages is what accumulates per page (a machine with
    # more cores would otherwise have a larger window in the 40-page run only).
    for n in (8, 40):  # 40 colour A5 pages = 40 x 5.8 MB = 232 MB of pixels if held
        tif = tmp_path / f"d{n}.tif"
        frames = (Image.fromarray(base[i % 3]) for i in range(1, n))
        Image.fromarray(base[0]).save(
            tif, save_all=True, append_images=frames, compression="jpeg", quality=85, dpi=(DPI, DPI)
        )
        out = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(tif), str(tmp_path / f"o{n}")],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        peaks[n] = int(out.stdout.strip()) / 1024
    # Only the compressed page images accumulate (~0.3 MB a page, ~10 MB), not the pixels
    # (holding them: 186 MB).
    assert peaks[40] - peaks[8] < 40, peaks


# --- inputs: every file of a folder is used or reported -----------------------------------------


def _small_page(seed: int) -> np.ndarray:
    lines = [synth.VI_LINES[(seed + k) % len(synth.VI_LINES)] for k in range(6)]
    return synth.render_page(lines, dpi=100, paper="A6", font_pt=10, margin_mm=8).gray


def test_mixed_folder_pages_read_and_strays_reported(tmp_path: Path) -> None:
    from PIL import Image

    from onestop_docs.cli import main

    folder = tmp_path / "scans"
    folder.mkdir()
    a, b, c, d = (_small_page(i) for i in range(4))
    # 01: a two-page scanner PDF (one image per page, 100 and 150 dpi)
    first = Image.fromarray(a)
    first.save(
        folder / "01.pdf", "PDF", resolution=100, save_all=True, append_images=[Image.fromarray(b)]
    )
    Image.fromarray(c).convert("P").save(folder / "02.gif")  # no resolution field: assumed
    Image.fromarray(d).save(folder / "03.jp2", dpi=(100, 100))
    (folder / "ghi-chu.txt").write_text("a note left in the scanner folder")
    Image.fromarray(d).save(folder / "04.ico")  # a format Pillow knows but pages are not
    opts = DigitizeOptions(ocr=False, assume_dpi=100, page_workers=2)
    rec = digitize(folder, out_dir=tmp_path / "o", dossier_code=CODE, agency=AGENCY, options=opts)
    assert [(Path(p.source).name, p.source_index) for p in rec.pages] == [
        ("01.pdf", 0),
        ("01.pdf", 1),
        ("02.gif", 0),
        ("03.jp2", 0),
    ]
    assert [(p.width, p.height) for p in rec.pages] == [
        (x.shape[1], x.shape[0]) for x in (a, b, c, d)
    ]  # native sizes: nothing rendered or resampled
    found = {Path(f["source"]).name: f["error_type"] for f in rec.input_findings}
    assert found == {"04.ico": "UnsupportedFormatError", "ghi-chu.txt": "InvalidImageError"}
    assert load_record(rec.directory).input_findings == rec.input_findings
    qa = sorted(p.name for p in (rec.directory / "data" / "qa").iterdir())
    assert qa == [f"page-{n:03d}-{k}.jpg" for n in range(1, 5) for k in ("after", "before")]
    # The command line says so and exits 1 (findings), with the good pages in the record.
    code = main(
        [
            "digitize",
            str(folder),
            "--out",
            str(tmp_path / "cli"),
            "--agency",
            AGENCY,
            "--dossier-code",
            CODE,
            "--no-ocr",
            "--assume-dpi",
            "100",
            "--json",
            "--no-progress",
        ]
    )
    assert code == 1


def test_page_progress_counts_every_page_in_order(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from onestop_docs.pipeline import count_input_pages

    jobs = _jobs(tmp_path, 2)
    seen: list[tuple[str, int]] = []
    with ThreadPoolExecutor(2) as pool:
        rep = digitize_batch(jobs, executor=pool, on_page=lambda r, n: seen.append((r, n)))
    assert rep.ok
    total = sum(count_input_pages(j.inputs) for j in jobs)
    assert len(seen) == total == 8
    for job in jobs:  # each document's pages reported once, in page order
        assert [n for r, n in seen if r == job.record_id] == [1, 2, 3, 4]


def test_parallel_pages_give_the_same_record_as_one_worker(tmp_path: Path) -> None:
    _write_dossier(tmp_path / "scans")
    recs = [
        digitize(
            tmp_path / "scans",
            out_dir=tmp_path / f"o{w}",
            dossier_code=CODE,
            agency=AGENCY,
            options=DigitizeOptions(ocr=False, page_workers=w),
        )
        for w in (1, 3)
    ]
    one, three = ([(p.sha256, p.page_hash, p.blank, p.duplicates) for p in r.pages] for r in recs)
    assert one == three


def _truncated_png(page: np.ndarray, path: Path) -> None:
    """A PNG whose header reads (size, one frame) but whose pixel data is cut short."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG", dpi=(100, 100))
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


@pytest.mark.parametrize("workers", [1, 2])
def test_page_that_fails_to_decode_in_a_worker_is_a_finding(tmp_path: Path, workers: int) -> None:
    # One-page files are decoded by the page workers; a file whose header reads but whose
    # pixels do not must still be a finding, with the later pages renumbered and kept.
    from PIL import Image

    folder = tmp_path / "scans"
    folder.mkdir()
    pages = [_small_page(i) for i in range(4)]
    for i, px in enumerate(pages):
        Image.fromarray(px).save(folder / f"{i + 1:02d}.png", dpi=(100, 100))
    _truncated_png(pages[1], folder / "02.png")
    opts = DigitizeOptions(ocr=False, assume_dpi=100, page_workers=workers)
    rec = digitize(folder, out_dir=tmp_path / "o", dossier_code=CODE, agency=AGENCY, options=opts)
    assert [(p.number, Path(p.source).name) for p in rec.pages] == [
        (1, "01.png"),
        (2, "03.png"),
        (3, "04.png"),
    ]
    assert [(p.width, p.height) for p in rec.pages] == [pages[i].shape[::-1] for i in (0, 2, 3)]
    assert [(Path(f["source"]).name, f["error_type"]) for f in rec.input_findings] == [
        ("02.png", "InvalidImageError")
    ]
    qa = sorted(p.name for p in (rec.directory / "data" / "qa").iterdir())
    assert qa == [f"page-{n:03d}-{k}.jpg" for n in range(1, 4) for k in ("after", "before")]


def test_folder_whose_only_page_fails_to_decode_raises(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    _truncated_png(_small_page(0), folder / "01.png")
    opts = DigitizeOptions(ocr=False, assume_dpi=100, page_workers=2)
    with pytest.raises(errors.InvalidImageError, match=r"01\.png"):
        digitize(folder, out_dir=tmp_path / "o", dossier_code=CODE, agency=AGENCY, options=opts)


@pytest.mark.ocr
def test_both_ocr_engines_give_the_same_text_layer(tmp_path: Path) -> None:
    # The station's default reads in-process; the program engine is the reference.
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(3):
        px = _color_page(synth.VI_LINES[i:] + synth.VI_LINES[:i], angle=1.5 * i)
        save_page(Page(px, mode="RGB", dpi=(DPI, DPI)), folder / f"{i:02d}.png")
    texts = {}
    for engine in ("program", "library"):
        opts = DigitizeOptions(ocr_engine=engine, page_workers=2)  # type: ignore[arg-type]
        rec = digitize(
            folder, out_dir=tmp_path / engine, dossier_code=CODE, agency=AGENCY, options=opts
        )
        texts[engine] = [(p.ocr_words, p.ocr_confidence) for p in rec.pages], rec.fields
    assert texts["library"] == texts["program"]
    assert all(words > 20 for words, _ in texts["program"][0])
