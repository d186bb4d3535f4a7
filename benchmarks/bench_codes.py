"""Administrative codes: bulk dossier-code validation and issuing from several processes.

Groups:

* ``codes-validate-100k``: :func:`validate_dossier_codes` on 100,000 archive codes (80 % valid)
  vs the anchor a province would write itself: ``re.fullmatch`` with the regulations.md §7
  regex plus a ``datetime.date`` check, in a Python loop (target: >= 300,000 codes/s).
* ``codes-validate-1m`` (slow): the same at 1,000,000 codes.
* ``codes-parse-10k``: :meth:`DossierCode.parse` (objects, diagnostics) vs the same anchor.
* ``codes-issue-sqlite-4proc``: 4 processes issue 250 codes each on one SQLite file on disk
  (target: >= 500 codes/s, process start-up included).  Ours with the default durable
  reservations (one fsynced commit per 32 codes, the others WAL commits without fsync), ours
  with ``reserve=1`` (one fsync per code), and the anchor: plain ``sqlite3`` with
  ``synchronous=FULL`` and SQLite's own busy handler, what an application would write itself.
  Codes/s are recorded in ``extra_info``.  With ``reserve=1`` and the anchor the rate is
  bounded by the disk's fsync latency, which swings by 10x on this shared machine.
* ``codes-issue-sqlite-4proc-prefetch16``: ours with ``prefetch=16`` (each process takes 16
  numbers per transaction; gaps and out-of-order codes between desks).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import re
import sqlite3
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from onestop_docs.codes import (
    DossierCode,
    DossierCodeIssuer,
    SQLiteCodeStore,
    UnknownLevel1Warning,
    validate_dossier_codes,
)

# regulations.md §7 (verbatim)
AGENCY_LEGACY = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Y][0-9]{2}"
AGENCY_QD20 = r"[A-Y][0-9]{2}(?:\.[0-9A-Z]+)*"
AGENCY = rf"(?:{AGENCY_LEGACY}|{AGENCY_QD20})"
DOSSIER_CODE = rf"(?P<agency>{AGENCY})-(?P<yymmdd>[0-9]{{6}})-(?P<seq>[0-9]{{4}})"
_REF = re.compile(DOSSIER_CODE)


def anchor_validate(codes: list[str]) -> np.ndarray:
    out = np.zeros(len(codes), dtype=bool)
    match, date = _REF.fullmatch, dt.date
    for i, s in enumerate(codes):
        m = match(s)
        if m is None or len(m["agency"]) > 35 or m["seq"] == "0000":
            continue
        y = m["yymmdd"]
        try:
            date(2000 + int(y[:2]), int(y[2:4]), int(y[4:]))
        except ValueError:
            continue
        out[i] = True
    return out


def make_codes(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    agencies = ["000.00.00.H27", "000.17.22.H56", "H56.14", "H27.01", "H37.02.02", "G15.10.03"]
    days = [dt.date(2019, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 2500, n)]
    seqs = rng.integers(1, 10000, n)
    ags = rng.integers(0, len(agencies), n)
    codes = [f"{agencies[a]}-{d:%y%m%d}-{s:04d}" for a, d, s in zip(ags, days, seqs)]
    # 20 % damaged the way typed or OCR'd codes are: lowercase, en-dash, bad day, trailing dot.
    for i in np.flatnonzero(rng.random(n) < 0.2):
        c = codes[i]
        codes[i] = [c.lower(), c.replace("-", "\u2013", 1), c[:-11] + "210230-0001", c + "."][
            int(i) % 4
        ]
    return codes


@pytest.fixture(scope="module")
def codes_100k() -> list[str]:
    return make_codes(100_000)


@pytest.mark.benchmark(group="codes-validate-100k")
def test_validate_100k_ours(benchmark, codes_100k):
    result = benchmark(validate_dossier_codes, codes_100k)
    assert np.array_equal(result, anchor_validate(codes_100k))
    if benchmark.stats is not None:
        benchmark.extra_info["codes_per_s"] = len(codes_100k) / benchmark.stats.stats.median


@pytest.mark.benchmark(group="codes-validate-100k")
def test_validate_100k_re(benchmark, codes_100k):
    benchmark(anchor_validate, codes_100k)
    if benchmark.stats is not None:
        benchmark.extra_info["codes_per_s"] = len(codes_100k) / benchmark.stats.stats.median


@pytest.mark.slow
@pytest.mark.benchmark(group="codes-validate-1m")
def test_validate_1m_ours(benchmark):
    codes = make_codes(1_000_000, seed=1)
    benchmark.pedantic(validate_dossier_codes, args=(codes,), rounds=3, iterations=1)


@pytest.mark.slow
@pytest.mark.benchmark(group="codes-validate-1m")
def test_validate_1m_re(benchmark):
    codes = make_codes(1_000_000, seed=1)
    benchmark.pedantic(anchor_validate, args=(codes,), rounds=3, iterations=1)


def _parse_all(codes: list[str]) -> int:
    ok = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLevel1Warning)
        for s in codes:
            try:
                DossierCode.parse(s)
                ok += 1
            except ValueError:
                pass
    return ok


@pytest.mark.benchmark(group="codes-parse-10k")
def test_parse_10k_ours(benchmark, codes_100k):
    benchmark(_parse_all, codes_100k[:10_000])


@pytest.mark.benchmark(group="codes-parse-10k")
def test_parse_10k_re(benchmark, codes_100k):
    benchmark(anchor_validate, codes_100k[:10_000])


# --------------------------------------------------------------------------- issuing

PROCS, PER_PROC = 4, 250
NOON = dt.datetime(2025, 6, 30, 5, 0, tzinfo=dt.UTC)


def _ours_worker(path: str, n: int, prefetch: int = 1, reserve: int = 32) -> None:
    issuer = DossierCodeIssuer(
        "H27.01", SQLiteCodeStore(path, reserve=reserve), clock=lambda: NOON, prefetch=prefetch
    )
    for _ in range(n):
        issuer.issue()


def _ours_strict_worker(path: str, n: int) -> None:
    _ours_worker(path, n, reserve=1)


def _ours_prefetch_worker(path: str, n: int) -> None:
    _ours_worker(path, n, prefetch=16)


def _plain_worker(path: str, n: int) -> None:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE counter SET value = value + 1 RETURNING value").fetchone()
        conn.execute("COMMIT")
    conn.close()


def _run_procs(target, path: str) -> float:
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=target, args=(path, PER_PROC)) for _ in range(PROCS)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    return time.perf_counter() - t0


def _new_store(path: str) -> None:
    SQLiteCodeStore(path).close()


def _new_plain_counter(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE counter (value INTEGER NOT NULL)")
    conn.execute("INSERT INTO counter VALUES (0)")
    conn.close()


def _bench_issue(benchmark, tmp_path: Path, create, worker) -> None:
    """Time PROCS processes running ``worker`` on a fresh database file per round."""
    counter = iter(range(1000))

    def setup():
        path = str(tmp_path / f"round-{next(counter)}.sqlite")
        create(path)
        return (path,), {}

    benchmark.pedantic(lambda path: _run_procs(worker, path), setup=setup, rounds=3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["codes_per_s"] = PROCS * PER_PROC / benchmark.stats.stats.median


@pytest.mark.benchmark(group="codes-issue-sqlite-4proc")
def test_issue_sqlite_4proc_ours(benchmark, tmp_path: Path):
    _bench_issue(benchmark, tmp_path, _new_store, _ours_worker)


@pytest.mark.benchmark(group="codes-issue-sqlite-4proc")
def test_issue_sqlite_4proc_reserve1_ours(benchmark, tmp_path: Path):
    _bench_issue(benchmark, tmp_path, _new_store, _ours_strict_worker)


@pytest.mark.benchmark(group="codes-issue-sqlite-4proc-prefetch16")
def test_issue_sqlite_4proc_prefetch16_ours(benchmark, tmp_path: Path):
    _bench_issue(benchmark, tmp_path, _new_store, _ours_prefetch_worker)


@pytest.mark.benchmark(group="codes-issue-sqlite-4proc")
def test_issue_sqlite_4proc_sqlite3(benchmark, tmp_path: Path):
    _bench_issue(benchmark, tmp_path, _new_plain_counter, _plain_worker)
