"""The cleanup kernels rebuilt with Cython bounds checking give the same results, no errors.

The normal build has ``boundscheck=False``; this test compiles ``src/_native/cleanup.pyx``
and ``cleanup_components.pyx`` once more in a temporary directory with ``boundscheck``, ``wraparound`` and
``initializedcheck`` on, swaps it in for the public functions and runs them on degenerate
and ordinary shapes.  An out-of-bounds index inside a ``nogil`` kernel cannot raise, so
Cython reports it through ``sys.unraisablehook``; the test collects those reports.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import synth

from onestop_docs import cleanup
from onestop_docs.cleanup import _binarize, _regions, _threshold

NATIVE = Path(__file__).resolve().parent.parent / "src" / "_native"
KERNELS = ("cleanup", "cleanup_components")

_BUILD = """
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

exts = [Extension(name, [name + ".pyx"], include_dirs=[np.get_include()],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
        for name in ("cleanup", "cleanup_components")]
directives = dict(language_level=3, boundscheck=True, wraparound=True, initializedcheck=True,
                  cdivision=True)
setup(name="cleanup_checked", ext_modules=cythonize(exts, compiler_directives=directives,
      quiet=True), script_args=["build_ext", "--inplace", "-q"])
"""


def _load(so: Path, name: str) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(name, str(so))
    spec = importlib.util.spec_from_file_location(name, so, loader=loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    pytest.importorskip("Cython")
    if not all((NATIVE / f"{n}.pyx").exists() for n in KERNELS):
        pytest.skip("kernel sources not available (installed package)")
    d = tmp_path_factory.mktemp("boundscheck")
    for n in KERNELS:
        shutil.copy(NATIVE / f"{n}.pyx", d / f"{n}.pyx")
    subprocess.run(
        [sys.executable, "-c", _BUILD], cwd=d, check=True, timeout=600, capture_output=True
    )
    out = {}
    for n in KERNELS:
        so = next(
            p for p in d.iterdir() if p.name.startswith(n + ".") and p.suffix in (".so", ".pyd")
        )
        out[n] = _load(so, n)
    return out


def _run_all(img: np.ndarray) -> list[Any]:
    out: list[Any] = [cleanup.binarize(img, dpi=60)]
    for method in ("otsu", "sauvola", "niblack", "wolf"):
        for compat in (None, "skimage", "doxa"):
            if method == "wolf" and compat == "skimage":
                continue
            out.append(cleanup.binarize(img, method, compat=compat, dpi=60))  # type: ignore[arg-type]
    r = cleanup.clean_page(img, cleanup.CleanOptions(dpi=60))
    out += [r.image, r.mask, r.content_box, r.blank]
    out.append(cleanup.despeckle(r.mask | (img < 100), dpi=60).mask)
    out.append(cleanup.remove_borders(img, dpi=60).image)
    out.append(cleanup.normalize_background(synth.to_color(img), dpi=60))
    return out


@pytest.mark.slow
def test_bounds_checked_build_agrees(
    checked: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    pg = synth.dark_border(synth.render_page(dpi=60, paper="A6").gray, left=6, top=4)
    images = [
        np.zeros((1, 1), np.uint8),
        rng.integers(0, 256, (1, 257), dtype=np.uint8),
        rng.integers(0, 256, (300, 1), dtype=np.uint8),
        rng.integers(0, 256, (5, 7), dtype=np.uint8),
        pg,
    ]
    expected = [_run_all(img) for img in images]

    reports: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reports.append(repr(u.exc_value)))
    for mod in (_binarize, _regions, _threshold):
        monkeypatch.setattr(mod, "_k", checked["cleanup"])
    monkeypatch.setattr(_regions, "_cc", checked["cleanup_components"])
    got = [_run_all(img) for img in images]
    assert reports == []
    for exp, res in zip(expected, got):
        for a, b in zip(exp, res):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
            else:
                assert a == b
