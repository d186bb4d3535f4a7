"""Regression tests for issue 16: every attack on an archive that 0.1.0's ``verify`` let through.

The attacker has write access to the output folder and uses only public tools (pikepdf,
pyHanko, ``Manifest.create``, ``TransparencyLog``); they do not hold the station's keys.  Each
test forges one thing the way the issue describes and asserts that ``onestop-docs verify``
exits 1 (findings) and names what was wrong.  The positive controls (a clean archive, the
same archive copied elsewhere) exit 0, so the negatives cannot pass by always failing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from onestop_docs.cli import main
from onestop_docs.imageio import Page, save_page
from onestop_docs.integrity import Manifest, TransparencyLog

pytest.importorskip("pyhanko")
pikepdf = pytest.importorskip("pikepdf")

CODE = "000.00.00.H27-210630-0007"
REC_A = f"{CODE}.001"
REC_B = f"{CODE}.002"


def _page(seed: int) -> Page:
    rng = np.random.default_rng(seed)
    img = np.full((1654, 1166, 3), 250, np.uint8)  # A5 at 200 dpi, the minimum of NĐ 30/2020
    for _ in range(14):  # a few dark "text lines" so the page is not blank
        y = int(rng.integers(150, 1500))
        img[y : y + 8, 80 : int(rng.integers(400, 1080))] = 20
    return Page(img, mode="RGB", dpi=(200.0, 200.0))


def _scans(folder: Path) -> Path:
    for doc in (1, 2):
        d = folder / f"doc{doc}"
        d.mkdir(parents=True)
        save_page(_page(doc), d / "01.png")
    return folder


def _digitize(scans: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "digitize",
            str(scans),
            "--out",
            str(out),
            "--per-folder",
            "--agency",
            "000.00.00.H27",
            "--dossier-code",
            CODE,
            "--no-ocr",
            "--no-progress",
            "--workers",
            "1",
            "--json",
            *extra,
        ]
    )


def _verify(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", str(path), "--json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("attacks")
    scans = _scans(base / "scans")
    assert _digitize(scans, base / "out", "--demo-pki") == 0
    return base


@pytest.fixture
def copy(archive: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(archive / "out", dst)
    return dst


def _root(archive: Path) -> str:
    return str(archive / "out" / "demo-pki" / "demo-root.pem")


def _pdf(out: Path, rec: str) -> Path:
    return out / rec / "data" / f"{rec}.pdf"


def _strip_and_paint(pdf: Path) -> None:
    """Remove every signature (a full rewrite) and paint over the top of page 1."""
    with pikepdf.open(pdf, allow_overwriting_input=True) as doc:
        if "/AcroForm" in doc.Root:
            del doc.Root["/AcroForm"]
        page = doc.pages[0]
        if "/Annots" in page.obj:
            del page.obj["/Annots"]
        box = [float(v) for v in page.mediabox]
        paint = f"q 1 1 1 rg 0 {box[3] - 200} {box[2]} 200 re f Q".encode()
        page.contents_add(pikepdf.Stream(doc, paint), prepend=False)
        doc.save(pdf)


def _edit_report(rec_dir: Path, **changes: object) -> None:
    report = rec_dir / "data" / "report.json"
    data = json.loads(report.read_text(encoding="utf-8"))
    data.update(changes)
    report.write_text(json.dumps(data), encoding="utf-8")


def _rebag(rec_dir: Path) -> None:
    Manifest.create(rec_dir)  # bags data/ in place: the manifests are rewritten
    assert Manifest.validate(rec_dir).valid


def test_clean_archive_verifies(archive: Path, copy: Path, capsys) -> None:
    code, out = _verify(archive / "out", capsys, "--trust-root", _root(archive))
    assert code == 0, out
    doc = json.loads(out)
    assert {r["record_id"] for r in doc["records"]} == {REC_A, REC_B}
    # A verbatim copy elsewhere is the same archive.
    assert _verify(copy, capsys, "--trust-root", _root(archive))[0] == 0
    # Each record folder on its own (its log is found beside it).
    assert _verify(copy / REC_A, capsys, "--trust-root", _root(archive))[0] == 0


def test_strip_signatures_repaint_edit_report_rebag(archive: Path, copy: Path, capsys) -> None:
    rec = copy / REC_A
    _strip_and_paint(_pdf(copy, REC_A))
    _edit_report(rec, signatures=[])
    _rebag(rec)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1, out
    (bad,) = [r for r in json.loads(out)["records"] if not r["ok"]]
    assert bad["record_id"] == REC_A
    text = " ".join(bad["problems"])
    assert "unsigned" in text and "logged" in text


def test_rerun_digitize_does_not_launder_a_forged_record(archive: Path, copy: Path, capsys) -> None:
    rec = copy / REC_A
    _strip_and_paint(_pdf(copy, REC_A))
    _edit_report(rec, signatures=[])
    _rebag(rec)
    size_before = len(TransparencyLog(copy / "transparency.log", read_only=True))
    capsys.readouterr()
    code = _digitize(archive / "scans", copy, "--demo-pki")
    out, _ = capsys.readouterr()
    assert code == 1, out
    outcome = {o["record_id"]: o for o in json.loads(out)["outcomes"]}[REC_A]
    assert outcome["status"] == "failed"
    assert len(TransparencyLog(copy / "transparency.log", read_only=True)) == size_before
    assert _verify(copy, capsys, "--trust-root", _root(archive))[0] == 1


def test_swap_in_another_records_signed_pdf(archive: Path, copy: Path, capsys) -> None:
    shutil.copyfile(_pdf(copy, REC_B), _pdf(copy, REC_A))
    _rebag(copy / REC_A)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1, out
    (bad,) = [r for r in json.loads(out)["records"] if not r["ok"]]
    assert any(REC_B in p for p in bad["problems"])  # the PDF says which record it belongs to


def test_deleted_record_folder(archive: Path, copy: Path, capsys) -> None:
    shutil.rmtree(copy / REC_B)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1
    assert any(REC_B in p and "missing" in p for p in json.loads(out)["problems"])


def test_deleted_log_and_head(archive: Path, copy: Path, capsys) -> None:
    for p in copy.glob("transparency.log*"):
        p.unlink()
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1
    assert any("transparency log" in p for p in json.loads(out)["problems"])


def _fork_log(out: Path, forged_entry: bytes | None) -> None:
    """Rebuild the log from scratch with one entry replaced (a consistent log and head)."""
    old = TransparencyLog(out / "transparency.log", read_only=True)
    entries = [old.entry(i) for i in range(len(old))]
    origin = old.origin
    old.close()
    (out / "transparency.log").unlink()
    (out / "transparency.log.head").unlink()
    with TransparencyLog(out / "transparency.log", origin=origin) as new:
        for e in entries:
            if forged_entry is not None and json.loads(e)["record_id"] == REC_A:
                e = forged_entry
            new.append(e)


def test_forked_log_with_forged_entry(archive: Path, copy: Path, capsys) -> None:
    # The attacker forges record A, then rewrites the log so it logs the forgery.
    from onestop_docs.integrity import sha256_file

    _strip_and_paint(_pdf(copy, REC_A))
    _edit_report(copy / REC_A, signatures=[])
    _rebag(copy / REC_A)
    old = TransparencyLog(copy / "transparency.log", read_only=True)
    entry = next(
        json.loads(old.entry(i))
        for i in range(len(old))
        if json.loads(old.entry(i))["record_id"] == REC_A
    )
    old.close()
    for key, name in (
        ("pdf_sha256", f"data/{REC_A}.pdf"),
        ("xml_sha256", f"data/{REC_A}.xml"),
        ("manifest_sha256", "manifest-sha256.txt"),
        ("tagmanifest_sha256", "tagmanifest-sha256.txt"),
    ):
        if key in entry:
            entry[key] = sha256_file(copy / REC_A / name)
    entry["signatures"] = []
    forged = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    _fork_log(copy, forged)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1
    assert any("checkpoint" in p for p in json.loads(out)["problems"])
    # Deleting the signed checkpoint as well is no better.
    for p in copy.glob("transparency.log.checkpoint*"):
        p.unlink()
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1
    assert any("checkpoint" in p for p in json.loads(out)["problems"])


def test_edited_xml_rebagged(archive: Path, copy: Path, capsys) -> None:
    xml = copy / REC_A / "data" / f"{REC_A}.xml"
    xml.write_bytes(xml.read_bytes().replace(b"<PageAmount>1<", b"<PageAmount>2<"))
    _rebag(copy / REC_A)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1, out
    assert any("xml" in p.lower() for r in json.loads(out)["records"] for p in r["problems"])


def test_edited_report_json_rebagged(archive: Path, copy: Path, capsys) -> None:
    _edit_report(copy / REC_A, compliance={"ok": True, "findings": []}, signatures=[])
    _rebag(copy / REC_A)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1, out


def test_pdf_resigned_by_an_untrusted_key(archive: Path, copy: Path, capsys, tmp_path) -> None:
    from onestop_docs.signing import demo_pki, sign_pdf

    pdf = _pdf(copy, REC_A)
    _strip_and_paint(pdf)
    mallory = demo_pki(tmp_path / "mallory")
    sign_pdf(pdf, pdf, mallory.officer_signer, signer_name="Mallory")
    _rebag(copy / REC_A)
    code, out = _verify(copy, capsys, "--trust-root", _root(archive))
    assert code == 1, out
    text = " ".join(p for r in json.loads(out)["records"] for p in r["problems"])
    assert "untrusted-root" in text


@pytest.mark.slow
def test_rollback_to_an_earlier_signed_state_is_caught_by_a_saved_checkpoint(
    archive: Path, tmp_path: Path, capsys
) -> None:
    # Run 1 makes record A and a signed checkpoint; an auditor keeps that checkpoint.
    out = tmp_path / "out"
    scans = tmp_path / "scans"
    shutil.copytree(archive / "scans" / "doc1", scans / "doc1")
    assert _digitize(scans, out, "--demo-pki") == 0
    saved = {p.name: p.read_bytes() for p in out.glob("transparency.log*")}
    shutil.copytree(archive / "scans" / "doc2", scans / "doc2")
    assert _digitize(scans, out, "--demo-pki") == 0
    later = tmp_path / "seen.checkpoint"
    shutil.copyfile(out / "transparency.log.checkpoint", later)
    root = str(out / "demo-pki" / "demo-root.pem")
    assert _verify(out, capsys, "--trust-root", root, "--checkpoint", str(later))[0] == 0
    # The attacker restores the older, validly signed log state and drops record B.
    for name, data in saved.items():
        (out / name).write_bytes(data)
    shutil.rmtree(out / REC_B)
    assert _verify(out, capsys, "--trust-root", root)[0] == 0  # undetectable without a witness
    code, text = _verify(out, capsys, "--trust-root", root, "--checkpoint", str(later))
    assert code == 1
    assert any("checkpoint" in p for p in json.loads(text)["problems"])


def test_unsigned_digitize_fails_and_verify_needs_allow_unsigned(
    archive: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    capsys.readouterr()
    code = _digitize(archive / "scans", out)
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert all(r["compliance"]["ok"] is False for r in doc["records"])
    assert all(r["signatures"] == [] for r in doc["records"])
    code, text = _verify(out, capsys)
    assert code == 1 and "unsigned" in text
    assert _verify(out, capsys, "--allow-unsigned")[0] == 0
    # Trust roots given for other records: an unsigned draft archive has no signed checkpoint.
    assert _verify(out, capsys, "--allow-unsigned", "--trust-root", _root(archive))[0] == 0
    # A draft archive whose record was edited afterwards still fails against the log.
    xml = out / REC_A / "data" / f"{REC_A}.xml"
    xml.write_bytes(xml.read_bytes().replace(b"<PageAmount>1<", b"<PageAmount>2<"))
    _rebag(out / REC_A)
    assert _verify(out, capsys, "--allow-unsigned")[0] == 1


@pytest.mark.slow
def test_unsigned_drafts_allowed_by_station_config(archive: Path, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nallow_unsigned_drafts = true\n", encoding="utf-8")
    assert _digitize(archive / "scans", tmp_path / "out", "--config", str(cfg)) == 0


@pytest.mark.slow
def test_demo_pki_reuses_the_root_in_the_output_folder(archive: Path, copy: Path, capsys) -> None:
    root_before = (copy / "demo-pki" / "demo-root.pem").read_bytes()
    shutil.copytree(archive / "scans" / "doc1", copy.parent / "more" / "doc3")
    capsys.readouterr()
    assert (
        main(
            [
                "digitize",
                str(copy.parent / "more" / "doc3"),
                "--out",
                str(copy),
                "--agency",
                "000.00.00.H27",
                "--dossier-code",
                CODE,
                "--component",
                "3",
                "--no-ocr",
                "--no-progress",
                "--demo-pki",
            ]
        )
        == 0
    )
    assert (copy / "demo-pki" / "demo-root.pem").read_bytes() == root_before
    code, out = _verify(copy, capsys, "--trust-root", str(copy / "demo-pki" / "demo-root.pem"))
    assert code == 0, out


def test_verify_one_record_pdf_with_and_without_the_log(
    archive: Path, copy: Path, capsys, tmp_path: Path
) -> None:
    """A kiosk receives only the PDF: it learns the record id and dossier code the signed
    PDF carries and, given the log, whether it is the logged version of that record."""
    upload = tmp_path / "upload.pdf"
    shutil.copyfile(_pdf(copy, REC_B), upload)
    root = _root(archive)
    code, out = _verify(upload, capsys, "--trust-root", root)
    doc = json.loads(out)
    assert code == 0, out
    assert (doc["record_id"], doc["dossier_code"], doc["logged"]) == (REC_B, CODE, None)
    assert len(doc["signatures"]) == 2 and all(s["valid"] for s in doc["signatures"])
    log = str(copy / "transparency.log")
    code, out = _verify(upload, capsys, "--trust-root", root, "--log", log)
    assert code == 0 and json.loads(out)["logged"] is True, out
    # The same record re-signed by someone else after an edit: not the logged version.
    from onestop_docs.signing import demo_pki, sign_pdf

    _strip_and_paint(upload)
    mallory = demo_pki(tmp_path / "mallory")
    sign_pdf(upload, upload, mallory.officer_signer, signer_name="Mallory")
    code, out = _verify(upload, capsys, "--trust-root", root, "--log", log)
    doc = json.loads(out)
    assert code == 1 and doc["logged"] is False and doc["record_id"] == REC_B
    code, out = _verify(upload, capsys, "--trust-root", root, "--log", log, "--allow-unsigned")
    assert code == 1  # --allow-unsigned never excuses an untrusted signature
    # Usage errors stay usage errors.
    assert main(["verify", str(tmp_path / "missing.pdf")]) == 2


def test_xmp_rewritten_after_signing_does_not_change_the_record_id(
    archive: Path, copy: Path, capsys, tmp_path: Path
) -> None:
    """PAdES allows a later revision to replace the XMP stream (pyHanko counts it a
    long-term update), so a record id written after signing is not signed: the facts are
    read from the signed revision."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    src = _pdf(copy, REC_B)
    upload = tmp_path / "relabelled.pdf"
    with src.open("rb") as fh:
        w = IncrementalPdfFileWriter(fh, strict=False)
        w._update_meta = lambda: None  # keep pyHanko from regenerating the XMP on write
        md = w.root["/Metadata"]
        xmp = md.get_object().data.replace(REC_B.encode(), REC_A.encode())
        stream = generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/Metadata"),
                                       generic.NameObject("/Subtype"): generic.NameObject("/XML")},
                                      stream_data=xmp)  # fmt: skip
        w.root["/Metadata"] = w.add_object(stream)
        w.update_root()
        with upload.open("wb") as out:
            w.write(out)
    with pikepdf.open(upload) as pdf:  # the final revision now claims record A
        assert REC_A.encode() in pdf.Root.Metadata.read_bytes()
    _, out = _verify(upload, capsys, "--trust-root", _root(archive))
    assert json.loads(out)["record_id"] == REC_B, out  # what the signatures cover
