"""Shared pytest configuration: hypothesis profiles, the synthetic-page helpers, a test PKI."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from pki import TestPki

sys.path.insert(0, str(Path(__file__).parent))  # make `import synth` work in every test

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    print_blob=True,
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# -- a throwaway PKI for the signing tests (tests/pki.py); a module may define its own ---------


@pytest.fixture(scope="module")
def pki(request: pytest.FixtureRequest) -> TestPki:
    """A fresh root → issuing CA per test module, labelled with the module's name."""
    from pki import TestPki  # imported here: cryptography is part of the optional sign extra

    return TestPki.create(request.module.__name__.removeprefix("test_"))


@pytest.fixture(scope="module")
def work(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch directory shared by the tests of one module."""
    return tmp_path_factory.mktemp(request.module.__name__)


@pytest.fixture(scope="module")
def root_pem(pki: TestPki, work: Path) -> Path:
    """The module PKI's root certificate as a PEM file, for ``trust_roots``."""
    return pki.write_root(work)
