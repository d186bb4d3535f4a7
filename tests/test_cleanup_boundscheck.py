"""The cleanup kernels rebuilt with Cython bounds checking give the same results, no errors.

The normal build has ``boundscheck=False``; this test compiles ``src/_native/cleanup.pyx``
once more in a temporary directory with ``boundscheck``, ``wraparound`` and
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

from onestop_docs import cleanup, cleanup_regions, cleanup_threshold

PYX = Path(__file__).resolve().parent.parent / "src" / "_native" / "cleanup.pyx"

_BUILD = """
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

ext = Extension("cleanup", ["cleanup.pyx"], include_dirs=[np.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
directives = dict(language_level=3, boundscheck=True, wraparound=True, initializedcheck=True,
                  cdivision=True)
setup(name="cleanup_checked", ext_modules=cythonize([ext], compiler_directives=directives,
      quiet=True), script_args=["build_ext", "--inplace", "-q"])
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    pytest.importorskip("Cython")
    if not PYX.exists():
        pytest.skip("kernel source not available (installed package)")
    d = tmp_path_factory.mktemp("boundscheck")
    shutil.copy(PYX, d / "cleanup.pyx")
    subprocess.run(
        [sys.executable, "-c", _BUILD], cwd=d, check=True, timeout=600, capture_output=True
    )
    so = next(
        p for p in d.iterdir() if p.name.startswith("cleanup.") and p.suffix in (".so", ".pyd")
    )
    loader = importlib.machinery.ExtensionFileLoader("cleanup", str(so))
    spec = importlib.util.spec_from_file_location("cleanup", so, loader=loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _run_all(img: np.ndarray) -> list[Any]:
    out: list[Any] = []
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
def test_bounds_checked_build_agrees(checked: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
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
    for mod in (cleanup, cleanup_regions, cleanup_threshold):
        monkeypatch.setattr(mod, "_k", checked)
    got = [_run_all(img) for img in images]
    assert reports == []
    for exp, res in zip(expected, got):
        for a, b in zip(exp, res):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
            else:
                assert a == b
