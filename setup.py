"""Build script: compiles every ``src/_native/*.pyx`` into ``onestop_docs._native.<name>``.

Environment variables
---------------------
ONESTOP_NATIVE_ARCH
    Extra architecture flags, e.g. ``-march=native`` for a build that will only run on this
    machine.  Never set for distributed wheels (they must run on any x86-64 / aarch64 CPU);
    run-time CPU detection in the kernels covers instructions like POPCNT.
ONESTOP_BOUNDSCHECK=1
    Compile the kernels with Cython bounds checking and wraparound on (a CI job uses this to
    prove no kernel reads out of bounds).
ONESTOP_ONLY=name[,name]
    Build only these kernels (developer convenience).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
NATIVE = HERE / "src" / "_native"


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        return ["/O2"]
    args = ["-O3", "-fno-strict-aliasing", "-ftree-vectorize", "-fno-math-errno"]
    arch = os.environ.get("ONESTOP_NATIVE_ARCH", "").split()
    return args + arch


def _extensions() -> list[Extension]:
    only = {s.strip() for s in os.environ.get("ONESTOP_ONLY", "").split(",") if s.strip()}
    exts = []
    for pyx in sorted(NATIVE.glob("*.pyx")):
        name = pyx.stem
        if only and name not in only:
            continue
        exts.append(
            Extension(
                f"onestop_docs._native.{name}",
                sources=[str(pyx.relative_to(HERE))],
                include_dirs=[np.get_include(), str(NATIVE.relative_to(HERE))],
                extra_compile_args=_compile_args(),
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return exts


checks = os.environ.get("ONESTOP_BOUNDSCHECK") == "1"
setup(
    ext_modules=cythonize(
        _extensions(),
        include_path=[str(NATIVE.relative_to(HERE))],
        compiler_directives={
            "language_level": "3",
            "boundscheck": checks,
            "wraparound": checks,
            "initializedcheck": checks,
            "cdivision": True,
            "embedsignature": True,
        },
        quiet=True,
    ),
)
