"""Fresh-machine set-up: .ci/sysdeps (install or stop with the command), extras and the lock."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SYSDEPS = ROOT / ".ci" / "sysdeps"


def _fake_bin(tmp_path: Path, *, uid: int, sudo_ok: bool) -> Path:
    """Stand-ins for dpkg-query, id, sudo and apt-get that record what they were asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    scripts = {
        # Packages named in $MISSING are "not installed"; every other one is.
        "dpkg-query": 'for p in $MISSING; do [ "$p" = "${@: -1}" ] && exit 1; done\n'
        'printf "install ok installed"\n',
        "id": f"echo {uid}\n",
        "sudo": (
            '[ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; "$@"\n' if sudo_ok else "exit 1\n"
        ),
        "apt-get": 'echo "apt-get $*" >> "$APT_LOG"\n',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/usr/bin/env bash\n" + body)
        path.chmod(0o755)
    return bin_dir


def _sysdeps(
    tmp_path: Path, profile: str, missing: str, *, uid: int, sudo_ok: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = _fake_bin(tmp_path, uid=uid, sudo_ok=sudo_ok)
    log = tmp_path / "apt.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "MISSING": missing,
        "APT_LOG": str(log),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(SYSDEPS), profile], capture_output=True, text=True, env=env, timeout=60
    )
    return done, log.read_text().splitlines() if log.exists() else []


def test_without_root_or_sudo_it_stops_with_the_exact_command(tmp_path: Path) -> None:
    done, apt = _sysdeps(tmp_path, "demo", "tesseract-ocr-vie fonts-liberation2", uid=1000)
    assert done.returncode == 1 and apt == []
    assert (
        "apt-get update && apt-get install -y --no-install-recommends "
        "tesseract-ocr-vie fonts-liberation2" in done.stderr
    )


@pytest.mark.parametrize(("uid", "sudo_ok"), [(0, False), (1000, True)])
def test_as_root_or_with_sudo_it_installs_what_is_missing(
    tmp_path: Path, uid: int, sudo_ok: bool
) -> None:
    done, apt = _sysdeps(tmp_path, "test", "chromium xmlsec1", uid=uid, sudo_ok=sudo_ok)
    assert done.returncode == 0, done.stderr
    assert apt == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends xmlsec1 chromium",
    ]


def test_demo_needs_only_tesseract_and_the_stamp_font(tmp_path: Path) -> None:
    done, apt = _sysdeps(tmp_path, "demo", "chromium postgresql poppler-utils", uid=1000)
    assert done.returncode == 0 and apt == []
    done, _ = _sysdeps(tmp_path / "t", "test", "chromium", uid=1000)
    assert done.returncode == 1 and "chromium" in done.stderr


def _extra_closure(extras: dict[str, list[str]], name: str) -> set[str]:
    """Distribution names an extra pulls in, following onestop_docs[...] self-references."""
    names: set[str] = set()
    for req in extras[name]:
        m = re.match(r"([A-Za-z0-9_.-]+)(\[([^\]]+)\])?", req)
        assert m is not None, req
        if m.group(1) == "onestop_docs":
            for sub in m.group(3).split(","):
                names |= _extra_closure(extras, sub.strip())
        else:
            names.add(m.group(1).lower().replace("_", "-"))
    return names


def test_extras_and_the_lock_agree() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = meta["project"]["optional-dependencies"]
    station = _extra_closure(extras, "station")
    heavy = {"faiss-cpu", "ocrmypdf", "opencv-python-headless", "scikit-image", "dask"}
    assert not station & heavy, "make demo must not install the test/bench stacks"
    assert {"pytesseract", "pikepdf", "pyhanko", "cryptography"} <= station
    assert "dask" in _extra_closure(extras, "all")
    lock = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version
    wanted = _extra_closure(extras, "bench") | {"build", "cython", "numpy", "setuptools", "wheel"}
    assert wanted <= set(lock), sorted(wanted - set(lock))
    # bagit-python 1.8 imports pkg_resources, gone from setuptools 81.
    assert int(lock["setuptools"].split(".")[0]) < 81
    assert "onestop-docs" not in lock and "pip" not in lock
