"""Document keys in the metadata XML, rebuilding a store from the archive, and the reuse
wiring of digitize (store lookups, batch duplicates, owner ids) and of the CLI."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import synth
import test_dedup_forms as forms

from onestop_docs.errors import InvalidArgumentError, MetadataError, PipelineError
from onestop_docs.imageio import Page
from onestop_docs.metadata import PageDigest, RecordMetadata, from_xml, to_xml, validate_xml
from onestop_docs.pipeline import DigitizeJob, DigitizeOptions, digitize, digitize_batch
from onestop_docs.reuse import ReuseStore, add_record_folder, read_record_folder
from onestop_docs.reuse import keys as reuse_keys

CODE = "H27.01-210630-0001"
AGENCY = "H27.01"
OWNER = "042203004567"


def _page(lines: list[str], seed: int) -> Page:
    rng = np.random.default_rng(seed)
    img = forms.rescan(lines, rng, dpi=150)
    return Page(synth.to_color(img), mode="RGB", dpi=(150.0, 150.0))


@pytest.fixture(scope="module")
def docs() -> list[list[str]]:
    rng = np.random.default_rng(31)
    return [forms.form_lines(rng, 0) for _ in range(3)]


def test_document_key_in_metadata_xml_round_trips() -> None:
    blob = bytes(range(256)) * 3
    sha = "ab" * 32
    rec = RecordMetadata(
        dossier_code=CODE,
        owner_id=OWNER,
        pages=(
            PageDigest(1, "cd" * 32, (("pdq", "00ff"),), file_sha256=sha, document_key=blob,
                       document_key_version=7),
            PageDigest(2, "ef" * 32, blank=True),
        ),
    )  # fmt: skip
    xml = to_xml(rec)
    validate_xml(xml)
    assert base64.b64encode(blob) in xml
    back = from_xml(xml)
    assert back == rec and back.pages[0].document_key == blob
    assert back.pages[0].document_key_version == 7 and back.pages[0].file_sha256 == sha
    with pytest.raises(MetadataError):
        from_xml(xml.replace(base64.b64encode(blob)[:8], b"!!!!!!!!"))
    with pytest.raises(InvalidArgumentError):
        PageDigest(1, "cd" * 32, document_key=blob)  # a key without its version
    with pytest.raises(InvalidArgumentError):
        PageDigest(1, "cd" * 32, file_sha256="xyz")


class _Inline:
    """An executor that runs each job at once, in this process."""

    def submit(self, fn: Any, *args: Any) -> Any:
        from concurrent.futures import Future

        fut: Future[Any] = Future()
        fut.set_result(fn(*args))
        return fut


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from onestop_docs.signing import demo_pki

    return demo_pki(tmp_path_factory.mktemp("pki"))


def _digitize(pages: list[Page], out: Path, component: int, **kw: Any) -> Any:
    return digitize(
        pages,
        out_dir=out,
        dossier_code=CODE,
        agency=AGENCY,
        component=component,
        options=kw.pop("options", DigitizeOptions(ocr=False)),
        **kw,
    )


def test_digitize_fills_the_store_and_finds_earlier_records(
    tmp_path: Path, docs: list[list[str]], demo: Any
) -> None:
    store_path = str(tmp_path / "reuse.sqlite")
    opts = DigitizeOptions(ocr=False, reuse_store=store_path)
    meta = {"owner_id": OWNER, "procedure_code": "1.001193", "component_code": "TP1",
            "type_name": "Giấy khai sinh"}  # fmt: skip
    # Signed: only records that verify are re-indexed from the archive.
    first = _digitize([_page(docs[0], 1), _page(docs[1], 2)], tmp_path / "out", 1,
                      options=opts, metadata=meta, officer=demo.officer_signer)  # fmt: skip
    assert all(not p.duplicates for p in first.pages)
    # a later record holding a rescan of page 2 of the first one, and an unrelated filling
    second = _digitize([_page(docs[2], 3), _page(docs[1], 4)], tmp_path / "out", 2, options=opts,
                       officer=demo.officer_signer)  # fmt: skip
    assert not second.pages[0].duplicates
    assert [(d["record_id"], d["page"]) for d in second.pages[1].duplicates] == [
        (first.record_id, 2)
    ]
    assert second.pages[1].duplicates[0]["owner_id"] == OWNER
    with ReuseStore(store_path) as store:
        assert [r.record_id for r in store.records_of(OWNER)] == [first.record_id]
        rec = store.record(first.record_id)
        assert rec is not None
        assert (rec.procedure_code, rec.component_code, rec.document_type, rec.dossier_code) == (
            "1.001193", "TP1", "Giấy khai sinh", CODE
        )  # fmt: skip
        assert store.counts() == (2, 4)
        # a store rebuilt from the archive holds the same pages and keys
        rebuilt = ReuseStore(tmp_path / "rebuilt.sqlite")
        for r in (first, second):
            roots = [demo.root_cert_path]
            added, entry = add_record_folder(rebuilt, r.directory, trust_roots=roots)
            assert added and entry.record_id == r.record_id
            assert add_record_folder(rebuilt, r.directory, trust_roots=roots)[0] is False
        for r in (first, second):
            a, b = store.pages(r.record_id), rebuilt.pages(r.record_id)
            assert [(p.number, p.page_sha256, p.file_sha256) for p in a] == [
                (p.number, p.page_sha256, p.file_sha256) for p in b
            ]
            assert [reuse_keys.key_to_blob(p.key) for p in a] == [
                reuse_keys.key_to_blob(p.key) for p in b
            ]
        assert rebuilt.records_of(OWNER)[0].record_id == first.record_id
        rebuilt.close()
    # a run that stopped between the record's rename and the store: the re-run adds it
    late = str(tmp_path / "late.sqlite")
    again = _digitize([_page(docs[0], 1), _page(docs[1], 2)], tmp_path / "out", 1,
                      options=DigitizeOptions(ocr=False, reuse_store=late), metadata=meta)  # fmt: skip
    assert again.resumed
    job = DigitizeJob((str(tmp_path),), str(tmp_path / "out"), CODE, AGENCY, component=2,
                      options=DigitizeOptions(ocr=False, reuse_store=late))  # fmt: skip
    assert digitize_batch([job], executor=_Inline()).outcomes[0].status == "skipped"
    with ReuseStore(late) as store:
        assert store.counts() == (2, 4)
        assert store.records_of(OWNER)[0].record_id == first.record_id
    # a record whose bag was altered is not indexed
    bad = tmp_path / "bad"
    shutil.copytree(first.directory, bad)
    (bad / "data" / "qa" / "page-001-after.jpg").write_bytes(b"tampered")
    with (
        ReuseStore(tmp_path / "third.sqlite") as third,
        pytest.raises(PipelineError, match="verify"),
    ):
        add_record_folder(third, bad)
    assert read_record_folder(bad).record_id == first.record_id


def test_digitize_refuses_a_bad_owner_or_a_duplicate_index(
    tmp_path: Path, docs: list[list[str]]
) -> None:
    from onestop_docs.dedup import DuplicateIndex

    opts = DigitizeOptions(ocr=False, reuse_store=str(tmp_path / "r.sqlite"))
    with pytest.raises(InvalidArgumentError, match="owner id"):
        _digitize([_page(docs[0], 1)], tmp_path / "o", 1, options=opts, metadata={"owner_id": "12"})
    with pytest.raises(InvalidArgumentError, match="ReuseStore"):
        _digitize([_page(docs[0], 1)], tmp_path / "o", 1, duplicate_index=DuplicateIndex())
    assert not (tmp_path / "o" / f"{CODE}.001").exists()


def test_batch_flags_the_same_paper_in_two_components(
    tmp_path: Path, docs: list[list[str]]
) -> None:
    scans = tmp_path / "scans"
    for i, (d, seed) in enumerate([(0, 11), (1, 12), (0, 13)]):  # components 1 and 3: one paper
        folder = scans / f"c{i + 1}"
        folder.mkdir(parents=True)
        page = _page(docs[d], seed)
        (folder / "p1.png").write_bytes(synth.png_bytes(page.pixels, dpi=150))
    jobs = [
        DigitizeJob((str(scans / f"c{i}"),), str(tmp_path / "out"), CODE, AGENCY, component=i,
                    options=DigitizeOptions(ocr=False))
        for i in (1, 2, 3)
    ]  # fmt: skip
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        report = digitize_batch(jobs, executor=pool)
    assert report.ok
    assert [(d["record_id"], d["page"], d["duplicates_record_id"], d["duplicates_page"])
            for d in report.duplicates] == [(f"{CODE}.003", 1, f"{CODE}.001", 1)]  # fmt: skip


@pytest.mark.slow
def test_cli_reuse_add_and_find(tmp_path: Path, docs: list[list[str]]) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "p1.png").write_bytes(synth.png_bytes(_page(docs[0], 21).pixels, dpi=150))
    store = tmp_path / "reuse.sqlite"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "onestop_docs.cli", *args], capture_output=True, text=True
        )

    out = tmp_path / "out"
    r = cli("digitize", str(scans), "--out", str(out), "--agency", AGENCY, "--dossier-code", CODE,
            "--no-ocr", "--owner", "0100109106", "--procedure", "1.001193",
            "--component-code", "TP1", "--json", "--no-progress", "--demo-pki")  # fmt: skip
    # signed: only records that verify are added to a store from the archive.  Exit 1: the
    # 150-dpi page is below the 200 dpi rule (a compliance finding); the record is done.
    assert r.returncode in (0, 1), r.stderr
    assert [o["status"] for o in json.loads(r.stdout)["outcomes"]] == ["done"]
    r = cli("digitize", str(scans), "--out", str(tmp_path / "x"), "--agency", AGENCY,
            "--dossier-code", CODE, "--no-ocr", "--owner", "0100109107")  # fmt: skip
    assert r.returncode == 2 and "check digit" in r.stderr
    root = str(out / "demo-pki" / "demo-root.pem")
    r = cli("reuse", "add", str(out), "--store", str(store), "--trust-root", root, "--json")
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    assert [x["status"] for x in payload["records"]] == ["added"]
    photo = tmp_path / "rescan.png"
    photo.write_bytes(synth.png_bytes(_page(docs[0], 22).pixels, dpi=150))
    r = cli("reuse", "find", str(photo), "--store", str(store), "--json")
    assert r.returncode == 1, r.stderr  # found: a finding, like dedup
    found = json.loads(r.stdout)
    assert found["status"] == "found"
    assert [(m["record_id"], m["page"], m["owner_id"]) for m in found["matches"]] == [
        (f"{CODE}.001", 1, "0100109106")
    ]
    other = tmp_path / "other.png"
    other.write_bytes(synth.png_bytes(_page(docs[1], 23).pixels, dpi=150))
    r = cli("reuse", "find", str(other), "--store", str(store), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "not-found"
    r = cli("reuse", "find", str(other), "--store", str(tmp_path / "nodir" / "s.sqlite"))
    assert r.returncode == 2 and "unreachable" in r.stderr.lower()
