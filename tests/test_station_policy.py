"""Station signing policy (issue 16): PAdES level, an unreachable TSA, long-term records.

The officer and organisation certificates come from ``tests/ocsp.py`` (a CA with a live
``openssl ocsp`` responder named in every leaf), the TSA is ``tests/tsa.py`` (``openssl ts``).
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyhanko")
pikepdf = pytest.importorskip("pikepdf")
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

from ocsp import LocalOcsp  # noqa: E402
from tsa import LocalTsa  # noqa: E402

from onestop_docs.cli import main  # noqa: E402
from onestop_docs.imageio import Page, save_page  # noqa: E402

AGENCY = "000.00.00.H27"


def _scans(folder: Path) -> Path:
    folder.mkdir(parents=True)
    img = np.full((1654, 1166, 3), 250, np.uint8)  # A5 at 200 dpi
    img[300:310, 100:1000] = 20
    save_page(Page(img, mode="RGB", dpi=(200.0, 200.0)), folder / "01.png")
    return folder


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/tsa"  # nothing listens once closed


def _digitize(scans: Path, out: Path, cfg: Path, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(
        ["digitize", str(scans), "--out", str(out), "--agency", AGENCY, "--config", str(cfg),
         "--no-ocr", "--no-progress", "--workers", "1", "--json", *extra]
    )  # fmt: skip
    captured = capsys.readouterr()
    doc = json.loads(captured.out) if captured.out.strip() else {"stderr": captured.err}
    return code, doc


def test_unreachable_tsa_fails_before_a_dossier_code_is_issued(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\ntsa_url = "{_closed_port_url()}"\n', encoding="utf-8")
    out = tmp_path / "out"
    code, _ = _digitize(_scans(tmp_path / "scans"), out, cfg, capsys, "--demo-pki")
    assert code == 1
    assert not (out / "codes.sqlite").exists()  # no code issued, none burnt
    assert not [p for p in out.glob("*") if (p / "bagit.txt").exists()]


def test_unreachable_tsa_signs_b_b_with_a_warning_when_policy_allows(
    tmp_path: Path, capsys
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        f'[station]\ntsa_url = "{_closed_port_url()}"\ntsa_unreachable = "sign-b-b"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, doc = _digitize(
        _scans(tmp_path / "scans"), out, cfg, capsys, "--demo-pki",
        "--dossier-code", "000.00.00.H27-210630-0031",
    )  # fmt: skip
    assert code == 0, doc
    (rec,) = doc["records"]
    assert rec["signatures"] == ["officer", "organisation"]
    assert any(
        f["rule"] == "timestamp" and "unreachable" in f["message"]
        for f in rec["compliance"]["findings"]
    )
    root = out / "demo-pki" / "demo-root.pem"
    assert main(["verify", str(out), "--trust-root", str(root)]) == 0


@pytest.mark.slow
def test_station_makes_b_lta_records_that_verify(pki, tmp_path: Path, capsys) -> None:
    with LocalOcsp(tmp_path / "ocsp") as ocsp, LocalTsa(pki, tmp_path) as tsa:
        cfg_lines = [
            "[station]",
            f'tsa_url = "{tsa.url}"',
            'pades_level = "B-LTA"',
            f'tsa_trust_roots = ["{tsa.root_path}"]',
        ]
        for role in ("officer", "organisation"):
            key, cert = ocsp.issue(f"{role} B-LTA").write_pem(tmp_path, role)
            cfg_lines += [f"[{role}]", f'key = "{key}"', f'cert = "{cert}"']
        cfg = tmp_path / "station.toml"
        cfg.write_text("\n".join(cfg_lines) + "\n", encoding="utf-8")
        out = tmp_path / "out"
        code, doc = _digitize(
            _scans(tmp_path / "scans"), out, cfg, capsys,
            "--dossier-code", "000.00.00.H27-210630-0032",
        )  # fmt: skip
        assert code == 0, doc
        (rec,) = doc["records"]
        with pikepdf.open(rec["pdf_path"]) as pdf:
            dss = pdf.Root.DSS
            assert len(dss.OCSPs) >= 2  # officer and organisation certificates
            types = [f.V.get("/Type") for f in pdf.Root.AcroForm.Fields if "/V" in f]
            assert types.count("/DocTimeStamp") == 2 and types.count("/Sig") == 2
        roots = ["--trust-root", str(ocsp.root_path), "--trust-root", str(tsa.root_path)]
        capsys.readouterr()
        assert main(["verify", str(out), *roots, "--json"]) == 0, capsys.readouterr().out
