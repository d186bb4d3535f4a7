"""Code issuers on real stores: SQLite files and a throwaway PostgreSQL cluster.

Ground truth here is arithmetic, not our own output: N issued codes must be N distinct values;
after crashes every new sequence number must be above every number a killed process reported;
Vietnam's date is UTC + 7 h (no DST), computed independently of zoneinfo.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_fixture import pg_dsn  # noqa: F401  (session fixture)

from onestop_docs.codes import (
    AgencyId,
    CodeStore,
    DigitizationCodeIssuer,
    DigitizationCodeScheme,
    DocumentNumberIssuer,
    DossierCode,
    DossierCodeIssuer,
    PostgresCodeStore,
    SQLiteCodeStore,
)
from onestop_docs.errors import (
    CodeStoreError,
    InvalidArgumentError,
    InvalidCodeError,
    SequenceExhaustedError,
)

UTC = dt.UTC
VN_OFFSET = dt.timedelta(hours=7)  # reference: Vietnam has used UTC+7 without DST since 1975
FIXED_NOON = dt.datetime(2025, 6, 30, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam

# fork: children start in milliseconds and open their own connections (the stores reconnect
# when they notice a new pid).
CTX = mp.get_context("fork")


def _make_store(spec: tuple[str, str, str]) -> CodeStore:
    kind, where, table = spec
    if kind == "sqlite":
        return SQLiteCodeStore(where)
    return PostgresCodeStore(where, table=table)


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one.

    These tests are about concurrency and process crashes, where fsync() plays no part (a
    killed process loses nothing the kernel already has); on a disk shared with other jobs
    each SQLite commit's fsync would make 16,000 commits take minutes.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="onestop-codes-", dir=shm))
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, fast_dir: Path) -> tuple[str, str, str]:
    """(kind, path-or-dsn, table) of an empty store of each backend."""
    table = f"t_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        return ("sqlite", str(fast_dir / "codes.sqlite"), table)
    dsn = request.getfixturevalue("pg_dsn")
    return ("postgres", dsn, table)


# --------------------------------------------------------------------------- workers


def _issue_n(spec: tuple[str, str, str], agency: str, n: int, out: Any) -> None:
    # 16,000 codes do not fit in one agency-day (9,999), so alternate between two days:
    # every day still sees all processes competing for its counter.
    store = _make_store(spec)
    issuer = DossierCodeIssuer(agency, store, clock=lambda: FIXED_NOON)
    days = (FIXED_NOON, FIXED_NOON + dt.timedelta(days=1))
    codes = [str(issuer.issue(days[i % 2])) for i in range(n)]
    store.close()
    out.put(codes)


def _issue_forever(spec: tuple[str, str, str], agency: str, log_path: str) -> None:
    store = _make_store(spec)
    issuer = DossierCodeIssuer(agency, store, clock=lambda: FIXED_NOON)
    with open(log_path, "a", encoding="ascii") as fh:
        while True:
            code = issuer.issue()
            # Written only after issue() returned, i.e. after the COMMIT: this is what a desk
            # would have printed on a receipt.
            fh.write(f"{code}\n")
            fh.flush()


def _logged(path: Path) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(encoding="ascii")
    lines = text.split("\n")
    return [line for line in lines[:-1] if line]  # drop a torn last line


# --------------------------------------------------------------------------- issuing


def test_sequential_codes_and_format(store_spec: tuple[str, str, str]) -> None:
    store = _make_store(store_spec)
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON)
    codes = [issuer.issue() for _ in range(12)]
    assert [c.seq for c in codes] == list(range(1, 13))
    assert str(codes[0]) == "H27.01-250630-0001"
    assert str(codes[11]) == "H27.01-250630-0012"
    assert all(DossierCode.parse(str(c)) == c for c in codes)
    # Another receiving agency has its own sequence on the same day.
    other = DossierCodeIssuer("000.00.00.H27", store, clock=lambda: FIXED_NOON)
    assert str(other.issue()) == "000.00.00.H27-250630-0001"
    assert issuer.issued_today() == 12
    store.close()


def test_threads_never_duplicate(store_spec: tuple[str, str, str]) -> None:
    store = _make_store(store_spec)
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON)
    results: list[list[str]] = [[] for _ in range(8)]

    def work(k: int) -> None:
        results[k] = [str(issuer.issue()) for _ in range(150)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [c for r in results for c in r]
    assert len(everything) == 1200
    assert len(set(everything)) == 1200
    # No gaps either when nothing crashed: exactly 0001..1200.
    assert sorted(DossierCode.parse(c).seq for c in everything) == list(range(1, 1201))
    store.close()


@pytest.mark.slow
def test_eight_processes_2000_codes_each(store_spec: tuple[str, str, str]) -> None:
    _make_store(store_spec).close()  # create the schema once
    queue = CTX.Queue()
    procs = [
        CTX.Process(target=_issue_n, args=(store_spec, "H56.14", 2000, queue)) for _ in range(8)
    ]
    for p in procs:
        p.start()
    batches = []
    for _ in procs:
        try:
            batches.append(queue.get(timeout=120))
        except Exception:  # a worker died: report its exit code instead of hanging
            pytest.fail(f"worker failed: exit codes {[p.exitcode for p in procs]}")
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    everything = [c for b in batches for c in b]
    assert len(everything) == 16000
    assert len(set(everything)) == 16000
    for yymmdd in ("250630", "250701"):
        seqs = sorted(int(c[-4:]) for c in everything if c[-11:-5] == yymmdd)
        assert seqs == list(range(1, 8001))
    # Each process saw its own codes of a day in increasing order (monotonic counter).
    for b in batches:
        for parity in (0, 1):
            seqs = [int(c[-4:]) for c in b[parity::2]]
            assert seqs == sorted(seqs)


@pytest.mark.slow
def test_sigkill_while_issuing_leaves_store_consistent(
    store_spec: tuple[str, str, str], tmp_path: Path
) -> None:
    _make_store(store_spec).close()
    rng = random.Random(7)
    logs: list[Path] = []
    for round_ in range(3):
        round_logs = [tmp_path / f"log-{round_}-{k}.txt" for k in range(2)]
        logs += round_logs
        procs = [
            CTX.Process(target=_issue_forever, args=(store_spec, "H27.01", str(path)))
            for path in round_logs
        ]
        for p in procs:
            p.start()
        # Let them issue a random number of codes, then kill both at an arbitrary instant
        # (most of their time is spent inside the store transaction).
        target = rng.randint(20, 200)
        deadline = time.monotonic() + 60
        while sum(len(_logged(path)) for path in round_logs) < target:
            assert time.monotonic() < deadline, "workers issued nothing"
            time.sleep(0.002)
        time.sleep(rng.random() * 0.02)
        for p in procs:
            assert p.pid is not None
            os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == -signal.SIGKILL
    printed = [c for path in logs for c in _logged(path)]
    assert len(printed) >= 60
    assert len(set(printed)) == len(printed), "a code was issued twice before the restart"

    store = _make_store(store_spec)
    if isinstance(store, SQLiteCodeStore):
        assert store.check_integrity()
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON)
    fresh = [str(issuer.issue()) for _ in range(100)]
    assert not set(fresh) & set(printed)
    top = max(int(c[-4:]) for c in printed)
    assert min(int(c[-4:]) for c in fresh) > top
    # The counter never runs behind what was printed (gaps only, never a step back).
    assert issuer.issued_today() >= top + 100
    store.close()


def _issue_prefetch(spec: tuple[str, str, str], n: int, out: Any) -> None:
    store = _make_store(spec)
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON, prefetch=7)
    out.put([str(issuer.issue()) for _ in range(n)])


def test_prefetch_never_duplicates(store_spec: tuple[str, str, str]) -> None:
    _make_store(store_spec).close()
    queue = CTX.Queue()
    procs = [CTX.Process(target=_issue_prefetch, args=(store_spec, 300, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    batches = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    everything = [c for b in batches for c in b]
    assert len(set(everything)) == 1200
    # Blocks of 7: 4 x 300 codes use ceil(300 / 7) = 43 blocks per process, the rest are gaps.
    store = _make_store(store_spec)
    assert store.current("dossier", "H27.01", "2025-06-30") == 4 * 43 * 7
    store.close()


def test_prefetch_block_is_not_shared_with_a_forked_child(tmp_path: Path) -> None:
    store = SQLiteCodeStore(tmp_path / "c.sqlite")
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON, prefetch=10)
    first = [str(issuer.issue())]  # the parent now holds 0002..0010 in memory
    queue = CTX.Queue()
    child = CTX.Process(target=lambda: queue.put([str(issuer.issue()) for _ in range(5)]))
    child.start()
    from_child = queue.get(timeout=60)
    child.join(timeout=60)
    from_parent = [str(issuer.issue()) for _ in range(5)]
    everything = first + from_child + from_parent
    assert len(set(everything)) == 11
    assert [int(c[-4:]) for c in from_parent] == [2, 3, 4, 5, 6]
    assert [int(c[-4:]) for c in from_child] == [11, 12, 13, 14, 15]


def test_prefetch_near_the_limit_and_day_change(tmp_path: Path) -> None:
    store = SQLiteCodeStore(tmp_path / "c.sqlite")
    now = [FIXED_NOON]
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: now[0], prefetch=4, max_sequence=10)
    assert [issuer.issue().seq for _ in range(10)] == list(range(1, 11))
    with pytest.raises(SequenceExhaustedError):
        issuer.issue()
    now[0] = FIXED_NOON + dt.timedelta(days=1)
    assert issuer.issue().seq == 1
    with pytest.raises(InvalidArgumentError):
        DossierCodeIssuer("H27.01", store, prefetch=0)


# --------------------------------------------------------------------------- dates and limits


def test_rollover_at_vietnam_midnight(tmp_path: Path) -> None:
    times = iter(
        [
            dt.datetime(2025, 6, 30, 16, 59, 59, tzinfo=UTC),  # 23:59:59 in Vietnam
            dt.datetime(2025, 6, 30, 16, 59, 59, 999999, tzinfo=UTC),
            dt.datetime(2025, 6, 30, 17, 0, 0, tzinfo=UTC),  # 00:00:00 on 1 July
            dt.datetime(2025, 7, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            dt.datetime(2025, 12, 31, 17, 0, tzinfo=UTC),  # new year in Vietnam
        ]
    )
    store = SQLiteCodeStore(tmp_path / "c.sqlite")
    seen: list[dt.datetime] = []

    def clock() -> dt.datetime:
        seen.append(next(times))
        return seen[-1]

    issuer = DossierCodeIssuer("H27.01", store, clock=clock)
    codes = [issuer.issue() for _ in range(5)]
    ref_dates = [(t.astimezone(UTC) + VN_OFFSET).date() for t in seen]
    assert [c.date for c in codes] == ref_dates
    assert [str(c) for c in codes] == [
        "H27.01-250630-0001",
        "H27.01-250630-0002",
        "H27.01-250701-0001",
        "H27.01-250701-0002",  # 02:00 at UTC-5 is 14:00 in Vietnam, same day
        "H27.01-260101-0001",
    ]


def test_machine_time_zone_is_irrelevant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        issuer = DossierCodeIssuer("H27.01", SQLiteCodeStore(tmp_path / "c.sqlite"))
        before = (dt.datetime.now(UTC) + VN_OFFSET).date()
        got = issuer.issue().date
        after = (dt.datetime.now(UTC) + VN_OFFSET).date()
        assert got in {before, after}
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    issuer = DossierCodeIssuer(
        "H27.01", SQLiteCodeStore(tmp_path / "c.sqlite"), clock=lambda: dt.datetime(2025, 1, 1)
    )
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        issuer.issue()


def test_exhaustion_at_9999(store_spec: tuple[str, str, str]) -> None:
    store = _make_store(store_spec)
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON)
    block = issuer.issue_block(9998)
    assert block[0].seq == 1 and block[-1].seq == 9998
    assert issuer.issue().seq == 9999
    with pytest.raises(SequenceExhaustedError, match="9999"):
        issuer.issue()
    with pytest.raises(SequenceExhaustedError):
        issuer.issue_block(2)
    assert issuer.issued_today() == 9999  # the failed attempts consumed nothing
    # The next Vietnam day and other agencies are unaffected.
    assert issuer.issue(FIXED_NOON + dt.timedelta(days=1)).seq == 1
    assert DossierCodeIssuer("H27.02", store, clock=lambda: FIXED_NOON).issue().seq == 1
    store.close()


def test_block_larger_than_limit_consumes_nothing(tmp_path: Path) -> None:
    store = SQLiteCodeStore(tmp_path / "c.sqlite")
    issuer = DossierCodeIssuer("H27.01", store, clock=lambda: FIXED_NOON, max_sequence=5)
    assert [c.seq for c in issuer.issue_block(3)] == [1, 2, 3]
    with pytest.raises(SequenceExhaustedError):
        issuer.issue_block(3)
    assert [c.seq for c in issuer.issue_block(2)] == [4, 5]
    with pytest.raises(SequenceExhaustedError):
        issuer.issue_block(6)


@pytest.mark.parametrize("bad", [0, 10000, True, 3.0])
def test_bad_max_sequence(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        DossierCodeIssuer("H27.01", SQLiteCodeStore(tmp_path / "c.sqlite"), max_sequence=bad)


def test_bad_agency_and_store(tmp_path: Path) -> None:
    with pytest.raises(InvalidCodeError):
        DossierCodeIssuer("h27.01", SQLiteCodeStore(tmp_path / "c.sqlite"))
    with pytest.raises(InvalidArgumentError):
        DossierCodeIssuer("H27.01", object())  # type: ignore[arg-type]


def test_sqlite_store_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        SQLiteCodeStore(tmp_path / "c.sqlite", synchronous="NORMAL")
    not_db = tmp_path / "not.sqlite"
    not_db.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(CodeStoreError):
        SQLiteCodeStore(not_db)
    with pytest.raises(CodeStoreError):
        SQLiteCodeStore(tmp_path / "missing-dir" / "c.sqlite")


def test_store_is_picklable(tmp_path: Path) -> None:
    import pickle

    store = SQLiteCodeStore(tmp_path / "c.sqlite")
    store.allocate("x", "y", "z", limit=10)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.allocate("x", "y", "z", limit=10) == 2


def test_postgres_bad_dsn() -> None:
    with pytest.raises(CodeStoreError):
        PostgresCodeStore("host=/nonexistent-dir port=1 user=nobody", connect_timeout_s=1)
    with pytest.raises(InvalidArgumentError):
        PostgresCodeStore("host=/tmp", table="Robert'); DROP TABLE x;--")


# --------------------------------------------------------------------------- other issuers


def test_document_numbers_restart_each_year(store_spec: tuple[str, str, str]) -> None:
    store = _make_store(store_spec)
    now = [dt.datetime(2021, 12, 31, 16, 59, tzinfo=UTC)]  # 23:59 on 31/12 in Vietnam
    numbers = DocumentNumberIssuer("UBND", store, clock=lambda: now[0])
    assert str(numbers.issue("KH")) == "01/KH-UBND"
    assert str(numbers.issue("QĐ")) == "02/QĐ-UBND"
    assert numbers.issue(None).text(label=True) == "Số: 03/UBND"
    now[0] = dt.datetime(2021, 12, 31, 17, 0, tzinfo=UTC)  # 00:00 on 1/1/2022 in Vietnam
    n = numbers.issue("QĐ", with_year=True)
    assert str(n) == "01/2022/QĐ-UBND"
    # Per-type counters are separate from the common register.
    per_type = DocumentNumberIssuer("UBND", store, scope="UBND-typed", per_type=True,
                                    clock=lambda: now[0])  # fmt: skip
    assert [per_type.issue("KH").number, per_type.issue("TB").number] == [1, 1]
    assert per_type.issue("KH").number == 2
    with pytest.raises(InvalidCodeError):
        numbers.issue("XYZ")  # not in NĐ 30 Phụ lục III
    assert numbers.issue("TB").number == 2  # the rejected call consumed nothing
    store.close()


def test_digitization_issuer_per_owner(store_spec: tuple[str, str, str]) -> None:
    store = _make_store(store_spec)
    issuer = DigitizationCodeIssuer(DigitizationCodeScheme(max_counter=3), store)
    a = [str(issuer.issue(owner_id="001203004567", type_code="KQ.G15.000031")) for _ in range(3)]
    assert a == [f"001203004567.KQ.G15.000031.0{i}" for i in (1, 2, 3)]
    b = issuer.issue(owner_id="001203004568", type_code="KQ.G15.000031")
    assert b.counter == 1
    with pytest.raises(SequenceExhaustedError):
        issuer.issue(owner_id="001203004567", type_code="KQ.G15.000031")
    # No owner identifier: left empty (TT 01/2023 Điều 10 k2).
    assert str(issuer.issue(owner_id="", type_code="KQ.G15.000032")) == ".KQ.G15.000032.01"
    with pytest.raises(InvalidCodeError):
        issuer.issue(owner_id="0012 03", type_code="KQ.G15.000031")
    store.close()


def test_issuer_accepts_agency_object(tmp_path: Path) -> None:
    agency = AgencyId.parse("000.17.22.H56")
    issuer = DossierCodeIssuer(agency, SQLiteCodeStore(tmp_path / "c.sqlite"),
                               clock=lambda: dt.datetime(2021, 5, 31, 1, tzinfo=UTC))  # fmt: skip
    assert str(issuer.issue()) == "000.17.22.H56-210531-0001"


def test_one_vietnam_time_zone_matches_the_tz_database() -> None:
    from zoneinfo import ZoneInfo

    from onestop_docs import pipeline, signing, types
    from onestop_docs.codes import VIETNAM_TZ

    assert VIETNAM_TZ is types.VN_TZ is signing.VN_TZ is pipeline.VN_TZ
    reference = ZoneInfo("Asia/Ho_Chi_Minh")
    for year in range(1976, 2101, 3):
        for month in (1, 4, 7, 10):
            moment = dt.datetime(year, month, 15, 12, tzinfo=UTC)
            assert moment.astimezone(VIETNAM_TZ).utcoffset() == VN_OFFSET
            assert moment.astimezone(reference).utcoffset() == VN_OFFSET
