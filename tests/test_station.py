"""The scan station in daily use: config schema, the per-station code store, re-runs and killed
runs, file permissions, warnings, and the exit-code table of the README (one test per row)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import synth
from pg_fixture import pg_dsn  # noqa: F401

from onestop_docs import station
from onestop_docs._fileutil import atomic_write_bytes
from onestop_docs.cli import main
from onestop_docs.codes import DossierCode, vietnam_now
from onestop_docs.errors import InvalidArgumentError
from onestop_docs.imageio import Page, save_page

AGENCY = "000.00.00.H27"
CLI = [sys.executable, "-m", "onestop_docs.cli"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _scans(folder: Path, n: int = 1, seed: int = 0, paper: str = "A5") -> Path:
    """``n`` small text pages (distinct per ``seed``) that record their resolution."""
    folder.mkdir(parents=True)
    lines = synth.VI_LINES
    for i in range(n):
        start = (seed * 5 + i * 3) % (len(lines) - 8)
        sp = synth.render_page(lines[start : start + 8], dpi=200, paper=paper, font_pt=10)
        save_page(
            Page(synth.to_color(sp.gray), mode="RGB", dpi=(200.0, 200.0)),
            folder / f"{i + 1:02d}.png",
        )
    return folder


def _digitize(*extra: str) -> list[str]:
    # Signed with a demo identity: an unsigned record fails compliance (TT 01/2023 Điều 8).
    return [
        "digitize",
        *extra,
        "--agency",
        AGENCY,
        "--no-ocr",
        "--no-progress",
        "--json",
        "--demo-pki",
    ]


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[station]\ncode_stor = "/tmp/x.sqlite"\n', "'code_stor' in [station]"),
        ('[stations]\nagency = "H27.01"\n', "[stations]"),
        ('[options]\nocr_lang = "vie"\n', "'ocr_lang' in [options]"),
        ("[officer]\np12 = 12\n", "[officer] p12 must be a string"),
        ('station = "H27"\n', "must be a [station] table"),
        ("[station\nagency = 1\n", "cannot read config"),
    ],
)
def test_bad_config_is_an_error_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=named.replace("[", r"\[").replace("]", r"\]")):
        station.load_station_config(cfg)


def test_every_documented_config_key_is_accepted(tmp_path: Path) -> None:
    # The example in `digitize --help` and docs/scan-station.md must load as written.
    from onestop_docs.cli import _EPILOG_CONFIG

    body = "\n".join(
        line.split("#")[0].rstrip() if "#" in line and "=" in line else line
        for line in _EPILOG_CONFIG.splitlines()[1:]
    )
    cfg = tmp_path / "station.toml"
    cfg.write_text(body, encoding="utf-8")
    loaded = station.load_station_config(cfg)
    assert loaded["station"]["agency"] == AGENCY and loaded["options"]["ocr"] is True
    doc = Path(__file__).parents[1] / "docs" / "scan-station.md"
    toml = doc.read_text(encoding="utf-8").split("```toml\n")[1].split("```")[0]
    cfg.write_text(toml, encoding="utf-8")
    assert station.load_station_config(cfg)["officer"]["password_env"]


# --- where the station's state lives --------------------------------------------------------------


def test_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ONESTOP_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert station.station_data_dir() == tmp_path / "xdg" / "onestop-docs"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert station.station_data_dir() == Path("/var/lib/onestop-docs")
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(tmp_path / "env"))
    assert station.station_data_dir() == tmp_path / "env"
    cfg = {"station": {"data_dir": str(tmp_path / "cfg")}}
    assert station.station_data_dir(cfg) == tmp_path / "cfg"
    assert station.default_code_store(cfg) == str(tmp_path / "cfg" / "codes.sqlite")


def test_store_inside_out_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="inside the output folder"):
        station.open_code_store(str(tmp_path / "out" / "codes.sqlite"), out_dir=tmp_path / "out")


def test_two_output_folders_never_share_a_code_and_reruns_keep_theirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], station_data_dir: Path
) -> None:
    a, b = _scans(tmp_path / "a", seed=1), _scans(tmp_path / "b", seed=2)
    codes = []
    for scans, out in ((a, "out1"), (b, "out2")):
        rc, out_text, err = _run([*_digitize(str(scans), "--out", str(tmp_path / out))], capsys)
        assert rc == 0, err + out_text
        (rec,) = json.loads(out_text)["records"]
        codes.append(DossierCode.parse(rec["dossier_code"]))
        assert not (tmp_path / out / "codes.sqlite").exists()
    today = vietnam_now().date()
    assert [c.date for c in codes] == [today, today]
    assert codes[1].seq == codes[0].seq + 1
    assert (station_data_dir / "codes.sqlite").is_file()
    # The same scans again, no --dossier-code: recognised, nothing digitized again.
    rc, out_text, _ = _run([*_digitize(str(a), "--out", str(tmp_path / "out1"))], capsys)
    doc = json.loads(out_text)
    assert rc == 0 and [o["status"] for o in doc["outcomes"]] == ["skipped"]
    assert doc["records"][0]["dossier_code"] == str(codes[0])
    assert any("resumed" in n for n in doc["notes"])
    # report.json names the record's own folder, never the deleted .partial one.
    report = json.loads(next((tmp_path / "out1").glob("*/data/report.json")).read_text())
    assert Path(report["directory"]) == tmp_path / "out1" / f"{codes[0]}.001"
    assert ".partial" not in json.dumps(report)


@pytest.mark.slow
def test_killed_run_resumes_its_code_and_cleans_its_partial_folder(tmp_path: Path) -> None:
    scans = _scans(tmp_path / "scans", n=3, seed=3, paper="A4")
    out = tmp_path / "out"
    cmd = [*CLI, *_digitize(str(scans), "--out", str(out))]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        partial = list(out.glob(".partial-*")) if out.exists() else []
        if partial:
            break
        time.sleep(0.01)
    assert partial, "the run finished before a page was processed; use more pages"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, as systemd stops a service
    proc.wait(30)
    record_id = partial[0].name.removeprefix(".partial-").rsplit("-", 1)[0]
    killed_code = record_id.rsplit(".", 1)[0]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (rec,) = json.loads(done.stdout)["records"]
    assert rec["dossier_code"] == killed_code
    assert not list(out.glob(".partial-*"))


@pytest.mark.postgres
def test_postgresql_dsn_in_store_and_config(
    pg_dsn: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = _run(
        ["code", "issue", "--agency", "H27.01", "--store", pg_dsn, "--json"], capsys
    )
    assert rc == 0, err
    first = DossierCode.parse(json.loads(out)["dossier_code"])
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nagency = "H27.01"\ncode_store = "{pg_dsn}"\n', encoding="utf-8")
    scans = _scans(tmp_path / "scans", seed=4)
    rc, out, err = _run(
        [
            "digitize",
            str(scans),
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(cfg),
            "--no-ocr",
            "--no-progress",
            "--json",
            "--demo-pki",
        ],
        capsys,
    )
    assert rc == 0, err + out
    second = DossierCode.parse(json.loads(out)["records"][0]["dossier_code"])
    assert (second.agency, second.date, second.seq) == (first.agency, first.date, first.seq + 1)
    assert not any(pg_dsn in n for n in json.loads(out)["notes"])  # a DSN may hold a password


# --- no surprises ----------------------------------------------------------------------------------


def _modes(root: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {"file": set(), "dir": set()}
    for p in root.rglob("*"):
        if p.suffix == ".p12":  # the demo identity's private keys are 0600 on purpose
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
            continue
        found["dir" if p.is_dir() else "file"].add(stat.S_IMODE(p.stat().st_mode))
    return found


def test_files_follow_the_umask(tmp_path: Path) -> None:
    # 0644/0755 under the usual 022 is checked on the demo run (test_cli); here a stricter
    # station umask, which must win over both mkstemp's 0600 and a hard-coded 0644.
    umask, file_mode, dir_mode = 0o027, 0o640, 0o750
    scans = _scans(tmp_path / "scans", seed=5)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *CLI,
            *_digitize(str(scans), "--out", str(out), "--dossier-code", f"{AGENCY}-210630-0042"),
        ],
        capture_output=True,
        text=True,
        umask=umask,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert _modes(out) == {"file": {file_mode}, "dir": {dir_mode}}
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_write_bytes(tmp_path / "key.p12", b"x", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "key.p12").stat().st_mode) == 0o600


@pytest.mark.slow
def test_warnings_go_to_the_log_not_raw_to_the_operator(
    tmp_path: Path, station_data_dir: Path
) -> None:
    # K99 is no province: the codes module warns (UnknownLevel1Warning).  The operator sees
    # one plain line; the Python warning with its source line goes to the station log only.
    scans = _scans(tmp_path / "scans", seed=6)
    done = subprocess.run(
        [
            *CLI,
            "digitize",
            str(scans),
            "--out",
            str(tmp_path / "out"),
            "--agency",
            "K99.01",
            "--dossier-code",
            "K99.01-210630-0001",
            "--no-ocr",
            "--no-progress",
            "--demo-pki",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning:" not in done.stderr and "warnings.warn" not in done.stderr
    assert "CryptographyDeprecationWarning" not in done.stderr
    assert done.stderr.count("onestop-docs: warning: agency identifier 'K99.01'") == 1
    log = (station_data_dir / "onestop-docs.log").read_text(encoding="utf-8")
    assert "UnknownLevel1Warning" in log


# --- the exit-code table (README "Exit codes"), one test per row ----------------------------------


def test_exit_0_ok_and_1_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["code", "validate", f"{AGENCY}-210630-0001"], capsys)[0] == 0
    assert _run(["code", "validate", f"{AGENCY}-213030-0001"], capsys)[0] == 1


def _p12_config(tmp_path: Path, p12: Path, env: str) -> Path:
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        f'[station]\nagency = "{AGENCY}"\n[officer]\np12 = "{p12}"\npassword_env = "{env}"\n',
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("malformed-config", "unknown key"),
        ("dossier-code-malformed", "InvalidCodeError"),
        ("dossier-code-other-agency", "belongs to agency"),
        ("dossier-code-future", "in the future"),
        ("assume-dpi-nan", "assume_dpi"),
        ("assume-dpi-zero", "assume_dpi"),
        ("p12-missing", "cannot open PKCS#12"),
        ("p12-wrong-password", "cannot open PKCS#12"),
        ("verify-missing-path", "does not exist"),
    ],
)
def test_exit_2_usage_or_input_error(
    case: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scans = _scans(tmp_path / "scans", seed=7)
    out = tmp_path / "out"
    base = ["digitize", str(scans), "--out", str(out), "--no-ocr", "--no-progress"]
    tomorrow = vietnam_now().date() + dt.timedelta(days=1)
    args = {
        "malformed-config": [*base, "--config", str(tmp_path / "bad.toml")],
        "dossier-code-malformed": [*base, "--agency", AGENCY, "--dossier-code", "H27-1-1"],
        "dossier-code-other-agency": [
            *base,
            "--agency",
            AGENCY,
            "--dossier-code",
            "H27.01-210630-0001",
        ],
        "dossier-code-future": [
            *base,
            "--agency",
            AGENCY,
            "--dossier-code",
            f"{AGENCY}-{tomorrow:%y%m%d}-0001",
        ],
        "assume-dpi-nan": [*base, "--agency", AGENCY, "--assume-dpi", "nan"],
        "assume-dpi-zero": [*base, "--agency", AGENCY, "--assume-dpi", "0"],
        "p12-missing": [*base, "--config", str(_p12_config(tmp_path, tmp_path / "no.p12", "PW"))],
        "verify-missing-path": ["verify", str(tmp_path / "nowhere")],
    }
    (tmp_path / "bad.toml").write_text('[station]\nagency = "H27.01"\ncode_stor = "x"\n')
    monkeypatch.setenv("PW", "wrong")
    if case == "p12-wrong-password":
        from onestop_docs.signing import demo_pki

        pki = demo_pki(tmp_path / "pki")
        args[case] = [*base, "--config", str(_p12_config(tmp_path, pki.officer_p12_path, "PW"))]
    t = time.perf_counter()
    rc, _, err = _run(args[case], capsys)
    assert rc == 2, err
    assert message in err
    # Found before any page work: no record, no partial folder, no QA thumbnails.
    assert not out.exists() or not any(out.iterdir())
    assert time.perf_counter() - t < 20


def test_exit_3_missing_dependency(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg → ImportError
    rc, _, err = _run(
        ["code", "issue", "--agency", "H27.01", "--store", "postgresql://x/y"], capsys
    )
    assert rc == 3 and "onestop_docs[postgres]" in err
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract: refused before any page work
    scans = _scans(tmp_path / "scans", seed=8)
    rc, _, err = _run(
        ["digitize", str(scans), "--out", str(tmp_path / "out"), "--agency", AGENCY], capsys
    )
    assert rc == 3 and "tesseract" in err


def test_exit_4_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import onestop_docs.cli as cli

    def broken(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_cmd_code_validate", broken)
    rc, _, err = _run(["code", "validate", "H27.01"], capsys)
    assert rc == 4 and "internal error: RuntimeError: a bug" in err


def test_readme_exit_code_table_matches_the_cli() -> None:
    import onestop_docs.cli as cli

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("| exit | meaning |")[1].split("\n\n")[0]
    rows = [r.split("|")[1].strip() for r in table.strip().splitlines()[1:]]
    constants = (
        cli.EXIT_OK,
        cli.EXIT_FINDINGS,
        cli.EXIT_USAGE,
        cli.EXIT_MISSING,
        cli.EXIT_INTERNAL,
    )
    assert [int(r) for r in rows] == list(constants)


def test_batch_opens_signers_before_any_page_work(tmp_path: Path) -> None:
    from onestop_docs.errors import SignatureError
    from onestop_docs.pipeline import DigitizeJob, DigitizeOptions, SignerSpec, digitize_batch
    from onestop_docs.signing import demo_pki

    pki = demo_pki(tmp_path / "pki")
    scans = _scans(tmp_path / "scans", seed=9)
    job = DigitizeJob(
        inputs=(str(scans),),
        out_dir=str(tmp_path / "out"),
        dossier_code=f"{AGENCY}-210630-0009",
        agency=AGENCY,
        officer=SignerSpec.pkcs12(pki.officer_p12_path, "not-the-password"),
        options=DigitizeOptions(ocr=False),
    )
    with pytest.raises(SignatureError, match="PKCS#12"):
        digitize_batch([job])
    assert not (tmp_path / "out").exists()
