"""Shared pytest configuration: hypothesis profiles, the synthetic-page helpers, a test PKI."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def station_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Code store, input fingerprints and warning log of the CLI go to a scratch station
    data directory, never the machine's (``$ONESTOP_DATA_DIR``, docs/scan-station.md)."""
    path = tmp_path_factory.mktemp("station-data")
    old = os.environ.get("ONESTOP_DATA_DIR")
    os.environ["ONESTOP_DATA_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("ONESTOP_DATA_DIR", None)
    else:
        os.environ["ONESTOP_DATA_DIR"] = old


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
