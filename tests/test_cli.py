"""The onestop-docs command: help, exit codes, JSON schema, digitize → verify, QA report."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import synth

from onestop_docs.cli import main
from onestop_docs.imageio import Page, save_page

SUBCOMMANDS = [
    ["digitize"],
    ["check"],
    ["verify"],
    ["hash"],
    ["dedup"],
    ["code"],
    ["code", "issue"],
    ["code", "validate"],
    ["qr"],
]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("sub", SUBCOMMANDS, ids=lambda s: "-".join(s))
def test_every_subcommand_has_help_with_examples(sub: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "onestop_docs.cli", *sub, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "usage: onestop-docs" in out.stdout
    if sub in (["digitize"], ["check"], ["verify"], ["hash"], ["dedup"], ["code"], ["qr"]):
        assert "example" in out.stdout


def test_console_script_is_installed() -> None:
    exe = shutil.which("onestop-docs") or str(Path(sys.executable).parent / "onestop-docs")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "onestop-docs" in out.stdout


def test_usage_error_exit_code(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["digitize"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_code_validate_exit_codes_and_json(capsys) -> None:
    code, out, _ = _run(
        [
            "code",
            "validate",
            "000.00.00.H27-210630-0001",
            "H56.14-240823-0001",
            "Số: 223/KH-UBND",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["command"] == "code"
    assert [r["kind"] for r in doc["results"]] == ["dossier_code", "dossier_code", "notation"]
    code, out, _ = _run(["code", "validate", "000.00.00.H27-210230-0001", "--json"], capsys)
    assert code == 1
    bad = json.loads(out)["results"][0]
    assert bad["valid"] is False and bad["error"]


def test_code_issue_is_sequential(tmp_path: Path, capsys) -> None:
    store = tmp_path / "codes.sqlite"
    codes = []
    for _ in range(3):
        code, out, _ = _run(
            ["code", "issue", "--agency", "H27.01", "--store", str(store), "--json"], capsys
        )
        assert code == 0
        codes.append(json.loads(out)["dossier_code"])
    assert [c.rsplit("-", 1)[1] for c in codes] == ["0001", "0002", "0003"]
    assert len(set(codes)) == 3


def test_qr_writes_svg_and_png(tmp_path: Path, capsys) -> None:
    for name in ("r.svg", "r.png"):
        code, out, _ = _run(
            [
                "qr",
                "--dossier-code",
                "H27.01-250630-0001",
                "--procedure",
                "1.001193",
                "--name",
                "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
                "--due",
                "2025-07-03",
                "--out",
                str(tmp_path / name),
                "--json",
            ],
            capsys,
        )
        assert code == 0
        assert json.loads(out)["payload"].startswith("OSD1|R|H27.01-250630-0001|1.001193|")
    assert (tmp_path / "r.svg").read_text().lstrip().startswith("<")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_input_is_an_input_error(tmp_path: Path, capsys) -> None:
    code, _, err = _run(
        [
            "digitize",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "o"),
            "--agency",
            "H27.01",
            "--dossier-code",
            "H27.01-250630-0001",
        ],
        capsys,
    )
    assert code == 2 and "does not exist" in err
    code, _, err = _run(["check", str(tmp_path / "nope.pdf")], capsys)
    assert code == 2


def _sample(folder: Path) -> None:
    folder.mkdir(parents=True)
    lines = synth.VI_LINES
    for i, start in enumerate((0, 6)):
        sp = synth.render_page(
            lines[start : start + 12], dpi=200, paper="A5", font_pt=11, margin_mm=15
        )
        g = synth.rotate(sp.gray, 2.0) if i else sp.gray
        save_page(
            Page(synth.to_color(g), mode="RGB", dpi=(200.0, 200.0)), folder / f"{i + 1:02d}.png"
        )
    blank = synth.add_noise(np.full(sp.gray.shape, 248, np.uint8), 2.0, np.random.default_rng(1))
    save_page(Page(synth.to_color(blank), mode="RGB", dpi=(200.0, 200.0)), folder / "03.png")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("cli")
    _sample(base / "scans")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "onestop_docs.cli",
            "digitize",
            str(base / "scans"),
            "--out",
            str(base / "out"),
            "--agency",
            "000.00.00.H27",
            "--dossier-code",
            "000.00.00.H27-210630-0002",
            "--demo-pki",
            "--no-ocr",
            "--json",
        ],
        capture_output=True,
        text=True,
        umask=0o022,
    )
    return base, out


def test_digitize_json_schema_and_outputs(demo_run) -> None:
    _, out = demo_run
    assert out.returncode == 0, out.stderr + out.stdout
    doc = json.loads(out.stdout)
    assert doc["schema"] == 1 and doc["command"] == "digitize" and doc["ok"] is True
    assert set(doc) >= {"records", "outcomes", "qa_report", "transparency_log", "notes"}
    assert any("DEMO" in n and "NOT FOR PRODUCTION" in n for n in doc["notes"])
    (rec,) = doc["records"]
    assert rec["record_id"] == "000.00.00.H27-210630-0002.001"
    assert [p["blank"] for p in rec["pages"]] == [False, False, True]
    assert Path(rec["pdf_path"]).is_file() and Path(doc["qa_report"]).is_file()
    # Under umask 022 every file is 0644 and every folder 0755, except the demo's keys.
    base, _ = demo_run
    modes = {
        (p.is_dir(), stat.S_IMODE(p.stat().st_mode))
        for p in (base / "out").rglob("*")
        if p.suffix != ".p12"
    }
    assert modes == {(False, 0o644), (True, 0o755)}
    assert "Warning" not in out.stderr  # e.g. CryptographyDeprecationWarning: logged instead


def test_verify_exit_codes(demo_run, tmp_path: Path, capsys) -> None:
    base, _ = demo_run
    root = base / "out" / "demo-pki" / "demo-root.pem"
    code, out, _ = _run(["verify", str(base / "out"), "--trust-root", str(root), "--json"], capsys)
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    # Without trust roots a signed record cannot be verified: reported, not silently trusted.
    code, out, _ = _run(["verify", str(base / "out")], capsys)
    assert code == 1 and "no trust roots" in out
    # A payload file edited after the fact is detected by the bag and the log.
    copy = tmp_path / "copy"
    shutil.copytree(base / "out", copy)
    xml = next(copy.glob("*/data/*.xml"))
    xml.write_bytes(xml.read_bytes().replace(b"210630-0002", b"210630-0003"))
    code, out, _ = _run(["verify", str(copy), "--trust-root", str(root)], capsys)
    assert code == 1 and "altered" in out


def test_check_command_on_the_record(demo_run, capsys) -> None:
    base, _ = demo_run
    pdf = next((base / "out").glob("*/data/*.pdf"))
    code, out, _ = _run(["check", str(pdf), "--json"], capsys)
    assert code == 0, out
    code, out, _ = _run(["check", str(pdf), "--pages", "4", "--json"], capsys)
    assert code == 1
    assert any(f["rule"] for f in json.loads(out)["results"][0]["findings"])


def _screenshot(report: Path, shot: Path) -> tuple[np.ndarray, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    out = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1200,1400",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), out.stderr
    from PIL import Image

    return np.asarray(Image.open(shot).convert("RGB")).astype(int), out.stderr


def _banner_fraction(px: np.ndarray) -> float:
    from onestop_docs.qa import DEMO_BANNER_RGB

    return float(np.all(np.abs(px - np.array(DEMO_BANNER_RGB)) <= 12, axis=-1).mean())


def test_qa_report_renders_in_headless_chromium(demo_run, tmp_path: Path) -> None:
    base, _ = demo_run
    report = base / "out" / "qa-report.html"
    html = report.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == 6  # before/after of 3 pages
    assert "log index: 0" in html  # the record's place in the transparency log, not "—"
    px, stderr = _screenshot(report, tmp_path / "shot.png")
    assert px.std() > 10, "screenshot is blank"
    console_errors = [
        ln for ln in stderr.splitlines() if "CONSOLE" in ln and ("ERROR" in ln or "Uncaught" in ln)
    ]
    assert not console_errors, console_errors
    # A DEMO run: a red banner across the top of what the operator sees first.
    assert _banner_fraction(px[4:30, 20:1180]) > 0.7
    assert _banner_fraction(px[200:]) < 0.001
    # The thumbnails are drawn (page pixels: the paper colour of synth.to_color).
    paper = np.all(np.abs(px - np.array([250, 246, 232])) <= 6, axis=-1)
    assert paper.sum() > 5000


def test_qa_report_duplicates_dates_and_no_demo_banner(demo_run, tmp_path: Path) -> None:
    import dataclasses
    import datetime as dt

    from onestop_docs.pipeline import load_record
    from onestop_docs.qa import write_qa_report

    base, _ = demo_run
    rec = load_record(next(p for p in (base / "out").iterdir() if p.name.endswith(".001")))
    match = {
        "record_id": "H27.01-250101-0007.001",
        "page": 2,
        "kind": "near",
        "pdq_distance": 14,
        "dct_distance": 9,
        "region_diff": 0.021,
    }
    pages = (dataclasses.replace(rec.pages[0], duplicates=(match,)), *rec.pages[1:])
    day = {"value": dt.date(2021, 6, 30).isoformat(), "confidence": 0.9}
    other = {"value": dt.date(2021, 7, 1).isoformat(), "confidence": 0.8}
    fields = {"dates": [day] * 52 + [other]}
    rec = dataclasses.replace(rec, pages=pages, fields=fields, log_index=7)
    report = write_qa_report([rec], tmp_path / "qa.html")
    html = report.read_text(encoding="utf-8")
    assert "≈ H27.01-250101-0007.001 p2 (near, PDQ 14, DCT 9, region diff 0.021)" in html
    assert "(d=" not in html and "log index: 7" in html
    assert html.count("2021-06-30") == 1 and "×52" in html and html.count("2021-07-01") == 1
    px, _ = _screenshot(report, tmp_path / "plain.png")
    assert px.std() > 10
    assert _banner_fraction(px) < 0.001  # no DEMO banner on a real batch


def test_dedup_folder_and_reuse_index(tmp_path: Path, capsys) -> None:
    lines = synth.VI_LINES
    first = synth.to_color(synth.render_page(lines[:12], dpi=150, paper="A5", font_pt=11).gray)
    other = synth.to_color(synth.render_page(lines[9:21], dpi=150, paper="A5", font_pt=11).gray)
    rescan = np.roll(synth.rotate(first, 1.5, fill=250), (5, -3), axis=(0, 1))
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    day1.mkdir()
    day2.mkdir()
    save_page(Page(first, mode="RGB", dpi=(150.0, 150.0)), day1 / "a.png")
    save_page(Page(other, mode="RGB", dpi=(150.0, 150.0)), day1 / "b.png")
    save_page(Page(synth.jpeg(rescan, 70), mode="RGB", dpi=(150.0, 150.0)), day2 / "c.jpg")
    save_page(Page(other, mode="RGB", dpi=(150.0, 150.0)), day2 / "d.png")
    # Folder mode: the two different pages of day 1 are not duplicates.
    code, out, _ = _run(["dedup", str(day1), "--json"], capsys)
    assert code == 0 and json.loads(out)["groups"] == []
    # Index mode: day 1 goes into the index, day 2's rescan and identical file are found.
    index = tmp_path / "reuse.idx"
    code, out, _ = _run(["dedup", str(day1), "--index", str(index), "--add", "--json"], capsys)
    assert code == 0 and json.loads(out)["matches"] == []
    code, out, _ = _run(["dedup", str(day2), "--index", str(index), "--json"], capsys)
    assert code == 1
    found = {(m["page"], m["matches"]) for m in json.loads(out)["matches"]}
    assert found == {("c.jpg#1", "day1/a.png#1"), ("d.png#1", "day1/b.png#1")}
