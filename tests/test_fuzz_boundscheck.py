"""The fuzz inputs once more through kernels built with bounds checking (issue 18).

The normal build has ``boundscheck=False``.  Like ``tests/test_cleanup_boundscheck.py``, this
compiles the kernels that fuzzed inputs reach (``codes_validate``, ``dedup_index``,
``dedup_hash``, ``bitplane``) with ``boundscheck``, ``wraparound`` and ``initializedcheck`` on, swaps them
in, and replays the seeds, the kept corpus and a fixed set of mutations of the image, index
and code targets.  An out-of-bounds index in a ``nogil`` kernel is reported through
``sys.unraisablehook``; none may be, and every outcome must equal the normal build's.
"""

from __future__ import annotations

import re
import sys
import tempfile
from types import ModuleType

import numpy as np
import pytest
from fuzz_targets import TARGETS, corpus_files, mutate_with
from test_cleanup_boundscheck import NATIVE, _load

import onestop_docs._native
from onestop_docs.dedup import _hash, _index, _key

KERNELS = ("codes_validate", "dedup_index", "dedup_hash", "bitplane")
FUZZED = ("tiff", "png", "index", "codes", "key")

_BUILD = """
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

exts = [Extension(name, [name + ".pyx"], include_dirs=[np.get_include()],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
        for name in {kernels!r}]
directives = dict(language_level=3, boundscheck=True, wraparound=True, initializedcheck=True,
                  cdivision=True)
setup(name="fuzz_checked", ext_modules=cythonize(exts, compiler_directives=directives,
      quiet=True), script_args=["build_ext", "--inplace", "-q"])
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    import shutil
    import subprocess

    pytest.importorskip("Cython")
    if not all((NATIVE / f"{n}.pyx").exists() for n in KERNELS):
        pytest.skip("kernel sources not available (installed package)")
    d = tmp_path_factory.mktemp("fuzz-boundscheck")
    for n in KERNELS:
        shutil.copy(NATIVE / f"{n}.pyx", d / f"{n}.pyx")
    for shared in [*NATIVE.glob("*.pxd"), *NATIVE.glob("*.h")]:  # cimported / included
        shutil.copy(shared, d / shared.name)
    subprocess.run(
        [sys.executable, "-c", _BUILD.format(kernels=KERNELS)],
        cwd=d,
        check=True,
        timeout=1200,
        capture_output=True,
    )
    out = {}
    for n in KERNELS:
        so = next(
            p for p in d.iterdir() if p.name.startswith(n + ".") and p.suffix in (".so", ".pyd")
        )
        out[n] = _load(so, f"onestop_docs._native.{n}")
    return out


def _inputs() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(18)
    out: list[tuple[str, bytes]] = []
    for name in FUZZED:
        seed = TARGETS[name].seed()
        out.append((name, seed))
        out += [(name, mutate_with(rng, seed)) for _ in range(25)]
    out += [(n, p.read_bytes()) for n, p in corpus_files() if n in FUZZED]
    return out


def _outcome(name: str, data: bytes) -> str:
    target = TARGETS[name]
    try:
        text = repr(target.run(data))
    except target.allowed as exc:
        text = f"{type(exc).__name__}: {exc}"
    return re.sub(re.escape(tempfile.gettempdir()) + r"/[^/'\"]+", "<tmp>", text)


@pytest.mark.slow
def test_fuzz_inputs_through_bounds_checked_kernels(
    checked: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _inputs()
    expected = [_outcome(n, d) for n, d in inputs]
    reports: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reports.append(repr(u.exc_value)))
    monkeypatch.setattr(_index, "_k", checked["dedup_index"])
    monkeypatch.setattr(_hash, "_k", checked["dedup_hash"])
    monkeypatch.setattr(_key, "_bitplane", checked["bitplane"])
    monkeypatch.setattr(
        onestop_docs._native, "codes_validate", checked["codes_validate"], raising=False
    )
    monkeypatch.setitem(
        sys.modules, "onestop_docs._native.codes_validate", checked["codes_validate"]
    )
    got = [_outcome(n, d) for n, d in inputs]
    assert reports == []
    assert got == expected
