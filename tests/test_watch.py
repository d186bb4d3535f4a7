"""The watched folder: taken when complete, once, across kills (SIGKILL of a real process)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import synth

from onestop_docs import errors
from onestop_docs.codes import DossierCodeIssuer, SQLiteCodeStore
from onestop_docs.imageio import Page, save_page
from onestop_docs.pipeline import (
    DigitizeOptions,
    DossierWatcher,
    WatchSettings,
    input_fingerprint,
    is_record_complete,
)

AGENCY = "000.00.00.H27"
DPI = 100


def _dossier(folder: Path, seed: int, *, pages: int = 2, ready: bool = True) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(pages):
        lines = [synth.VI_LINES[(seed + i + k) % len(synth.VI_LINES)] for k in range(8)]
        sp = synth.render_page(lines, dpi=DPI, paper="A5", font_pt=11, margin_mm=15)
        rgb = synth.to_color(synth.add_noise(sp.gray, 3.0, rng))
        save_page(Page(rgb, mode="RGB", dpi=(DPI, DPI)), folder / f"{i + 1:02d}.png")
    if ready:
        (folder / "READY").touch()


def _watcher(root: Path, **settings) -> DossierWatcher:
    issuer = DossierCodeIssuer(AGENCY, SQLiteCodeStore(root / "codes.sqlite"))
    return DossierWatcher(
        root / "in",
        root / "out",
        agency=AGENCY,
        issue_code=lambda: str(issuer.issue()),
        settings=WatchSettings(poll_s=0.1, **settings),
        options=DigitizeOptions(ocr=False, page_workers=1),
    )


def _records(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_taken_by_marker_or_settle_time_then_moved_with_result(tmp_path: Path) -> None:
    _dossier(tmp_path / "in" / "b", 2, ready=False)
    w = _watcher(tmp_path, settle_s=1.0)
    try:
        assert w.poll() == []  # first sight of b
        assert w.poll() == []  # unchanged, but not for 1 s yet
        time.sleep(0.6)
        (tmp_path / "in" / "b" / "03.png").write_bytes(
            (tmp_path / "in" / "b" / "02.png").read_bytes()
        )
        assert w.poll() == []  # still being written: the clock starts again
        time.sleep(0.6)
        assert w.poll() == []
        time.sleep(0.6)
        first = w.poll()
        assert [(o.name, o.status) for o in first] == [("b", "done")]
        _dossier(tmp_path / "in" / "a", 1)  # with its READY marker: taken at once
        second = w.poll()
        assert [(o.name, o.status) for o in second] == [("a", "done")]
    finally:
        w.close()
    recs = _records(tmp_path / "out")
    assert len(recs) == 2 and all(is_record_complete(r) for r in recs)
    assert {o.record_id for o in first + second} == {r.name for r in recs}
    for o in first + second:
        moved = Path(o.moved_to)
        assert moved.parent == tmp_path / "in" / "_done"
        result = json.loads((moved / "result.json").read_text())
        assert result["record_id"] == o.record_id and result["status"] == "done"
        assert {"01.png", "02.png"} <= {p.name for p in moved.glob("*.png")}
    assert not (tmp_path / "in" / "a").exists()


def test_same_inputs_resubmitted_are_recognised(tmp_path: Path) -> None:
    _dossier(tmp_path / "in" / "a", 1)
    w = _watcher(tmp_path)
    try:
        (done,) = w.poll()
        again = tmp_path / "in" / "a-again"
        again.mkdir()
        for i, png in enumerate(sorted(Path(done.moved_to).glob("*.png"))):
            shutil.copy(png, again / f"page-{9 - i}.png")  # other names, other order
        (again / "READY").touch()
        assert input_fingerprint(again, ignore=("READY",)) == done.fingerprint
        (dup,) = w.poll()
    finally:
        w.close()
    assert dup.status == "duplicate" and dup.record_id == done.record_id
    assert "not digitized again" in (dup.reason or "")
    assert len(_records(tmp_path / "out")) == 1
    # No code was spent on the duplicate: the next code issued is the second of the day.
    issuer = DossierCodeIssuer(AGENCY, SQLiteCodeStore(tmp_path / "codes.sqlite"))
    assert str(issuer.issue()).endswith("-0002")


def test_stray_or_unsupported_file_fails_the_dossier_with_the_reason(tmp_path: Path) -> None:
    _dossier(tmp_path / "in" / "c", 3)
    (tmp_path / "in" / "c" / "ghi-chu.txt").write_text("note from the clerk")
    w = _watcher(tmp_path)
    try:
        (o,) = w.poll()
    finally:
        w.close()
    assert o.status == "failed" and "ghi-chu.txt" in (o.reason or "")
    moved = Path(o.moved_to)
    assert moved.parent == tmp_path / "in" / "_failed"
    assert "ghi-chu.txt" in (moved / "REASON.txt").read_text()
    assert (moved / "ghi-chu.txt").is_file() and (moved / "01.png").is_file()  # nothing lost
    assert _records(tmp_path / "out") == []


def test_one_watcher_per_folder(tmp_path: Path) -> None:
    w = _watcher(tmp_path)
    try:
        with pytest.raises(errors.PipelineError, match="another watcher"):
            _watcher(tmp_path)
    finally:
        w.close()


_WATCH_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from onestop_docs.codes import DossierCodeIssuer, SQLiteCodeStore
    from onestop_docs.pipeline import DigitizeOptions, DossierWatcher, WatchSettings

    root = Path(sys.argv[1])
    issuer = DossierCodeIssuer("000.00.00.H27", SQLiteCodeStore(root / "codes.sqlite"))
    w = DossierWatcher(root / "in", root / "out", agency="000.00.00.H27",
                       issue_code=lambda: str(issuer.issue()),
                       settings=WatchSettings(poll_s=0.1),
                       options=DigitizeOptions(ocr=False, page_workers=1))
    w.poll()
    """
)


@pytest.mark.parametrize(
    "kill_after", ["started", pytest.param("digitized", marks=pytest.mark.slow)]
)
def test_sigkill_mid_dossier_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, kill_after: str
) -> None:
    for i, name in enumerate(["d1", "d2", "d3"]):
        _dossier(tmp_path / "in" / name, 10 + i)
    journal = tmp_path / "in" / ".onestop-watch" / "journal.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _WATCH_SCRIPT, str(tmp_path)], env=env)
    killed_claim = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            events = (
                [json.loads(x) for x in journal.read_text().splitlines()]
                if journal.exists()
                else []
            )
            # Kill while the second dossier is at the chosen step.
            hits = [e for e in events if e["event"] == kill_after]
            if len(hits) >= 2:
                proc.send_signal(signal.SIGKILL)
                killed_claim = hits[1]["claim"]
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert killed_claim is not None, "the watcher finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL

    w = _watcher(tmp_path)  # the restart
    try:
        w.poll()
    finally:
        w.close()
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    started = [e for e in events if e["event"] == "started"]
    codes = [e["code"] for e in started]
    assert len(codes) == len(set(codes)) == 3  # the killed dossier kept its code
    recs = _records(tmp_path / "out")
    assert [r.name for r in recs] == sorted(f"{c}.001" for c in codes)
    assert all(is_record_complete(r) for r in recs)
    assert not list((tmp_path / "out").glob(".partial-*"))
    assert sorted(p.name for p in (tmp_path / "in" / "_done").iterdir()) == ["d1", "d2", "d3"]
    assert not list((tmp_path / "in" / ".onestop-watch" / "claimed").iterdir())
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == [
        ".onestop-watch",
        "_done",
        "_failed",
    ]


def test_watch_command_once(tmp_path: Path, capsys) -> None:
    from onestop_docs.cli import main

    _dossier(tmp_path / "in" / "ok", 4)
    _dossier(tmp_path / "in" / "stray", 5)
    (tmp_path / "in" / "stray" / "Thumbs.db").write_bytes(b"\x00" * 64)
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nagency = "{AGENCY}"\ncode_store = "{tmp_path / "codes.sqlite"}"\n'
        "[options]\nocr = false\n[watch]\nsettle_s = 3600\n"
    )
    args = ["watch", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    code = main([*args, "--config", str(config), "--once", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 1  # a dossier failed: findings
    assert {(d["name"], d["status"]) for d in lines} == {("ok", "done"), ("stray", "failed")}
    assert "Thumbs.db" in next(d["reason"] for d in lines if d["status"] == "failed")
    assert len(_records(tmp_path / "out")) == 1
