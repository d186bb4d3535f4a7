"""Fuzzing the public entry points with mutated valid inputs (issue 18).

Each target (``tests/fuzz_targets.py``) mutates a small valid PDF, TIFF, PNG, bag, XML
record, transparency log, index file or list of codes and calls the public entry points.
The only acceptable outcomes are a result or a documented typed error, within
``TIME_BOUND_S``.  CI runs a few examples per target (derandomized);
``make fuzz`` runs many (``ONESTOP_FUZZ_EXAMPLES``, random) and saves every failing input to
``tests/data/fuzz/<target>/`` (``ONESTOP_FUZZ_SAVE=1``), where
:func:`test_fuzz_corpus_regressions` replays it on every run.
"""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from fuzz_targets import CORPUS, TARGETS, TIME_BOUND_S, Target, corpus_files, mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("ONESTOP_FUZZ_EXAMPLES", "12"))
LONG_RUN = "ONESTOP_FUZZ_EXAMPLES" in os.environ


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    # Made outside @given: a seed may import a test module, whose own @given decorators
    # must not run inside a hypothesis test.
    return {name: target.seed() for name, target in TARGETS.items()}


def run_once(target: Target, data: bytes) -> None:
    """Call the target; fail on an undocumented exception or a call beyond the time bound."""
    start = time.perf_counter()
    try:
        target.run(data)
    except target.allowed:
        pass
    except BaseException:
        _save_crasher(target, data)
        raise
    elapsed = time.perf_counter() - start
    if elapsed > TIME_BOUND_S:
        _save_crasher(target, data)
        pytest.fail(f"{target.name}: {elapsed:.1f} s on one input (bound {TIME_BOUND_S} s)")


def _save_crasher(target: Target, data: bytes) -> None:
    if os.environ.get("ONESTOP_FUZZ_SAVE") == "1":
        folder = CORPUS / target.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"crash-{hashlib.sha256(data).hexdigest()[:16]}.bin").write_bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seed_is_accepted(name: str, seeds: dict[str, bytes]) -> None:
    # The seeds are valid inputs: each target's entry points accept it as it is.
    TARGETS[name].run(seeds[name])


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_inputs_give_a_result_or_a_typed_error(
    name: str, seeds: dict[str, bytes], data: st.DataObject
) -> None:
    run_once(TARGETS[name], data.draw(mutated(seeds[name]), label="input"))


@pytest.mark.parametrize(
    ("name", "path"),
    corpus_files(),
    ids=[f"{n}/{p.name}" for n, p in corpus_files()],
)
def test_fuzz_corpus_regressions(name: str, path) -> None:
    run_once(TARGETS[name], path.read_bytes())
