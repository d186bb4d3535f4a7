"""SQLite durable reservations: fsync per reservation, and no duplicate after a power loss.

A power loss cannot be produced in a test, but its worst outcome on SQLite in WAL mode is
known: the file comes back as it was at *some* commit between the last commit whose WAL was
fsynced and the last commit made (the WAL is a checksummed chain, so recovery keeps a prefix).
These tests snapshot the database files after every allocation, check independently (SQLite's
trace of the statements the connection ran) which commits were made with
``synchronous=FULL``, restore a snapshot from that window, and give the process a new boot id,
as the machine would have after the power came back.  Every number handed out later must
differ from every number handed out before the "crash", including the lost ones.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from onestop_docs.codes import DossierCodeIssuer, SQLiteCodeStore
from onestop_docs.codes import stores as stores_mod
from onestop_docs.errors import InvalidArgumentError, SequenceExhaustedError

KEY = ("dossier", "H27.01", "2025-06-30")


class BootId:
    """A settable stand-in for /proc/sys/kernel/random/boot_id."""

    def __init__(self) -> None:
        self.value: str | None = str(uuid.uuid4())

    def __call__(self) -> str | None:
        return self.value

    def reboot(self) -> None:
        self.value = str(uuid.uuid4())


@pytest.fixture
def boot(monkeypatch: pytest.MonkeyPatch) -> BootId:
    fake = BootId()
    monkeypatch.setattr(stores_mod, "_boot_id", fake)
    return fake


def _row(path: Path) -> tuple[int, int]:
    """(value, reserved) read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT value, reserved FROM onestop_code_counters"
            " WHERE namespace = ? AND scope = ? AND period = ?",
            KEY,
        ).fetchone()
    finally:
        conn.close()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _snapshot(path: Path) -> tuple[bytes, bytes]:
    wal = Path(str(path) + "-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


def _restore(path: Path, snap: tuple[bytes, bytes]) -> None:
    path.write_bytes(snap[0])
    Path(str(path) + "-wal").write_bytes(snap[1])
    Path(str(path) + "-shm").unlink(missing_ok=True)  # rebuilt from the WAL on open


class SyncTrace:
    """Tracks the safety level in force at each COMMIT from the connection's SQL trace."""

    def __init__(self, store: SQLiteCodeStore) -> None:
        self.level = store.synchronous
        self.commit_levels: list[str] = []
        conn = store._connection()
        conn.set_trace_callback(self._on_sql)

    def _on_sql(self, sql: str) -> None:
        text = " ".join(sql.split()).upper()
        if text.startswith("PRAGMA SYNCHRONOUS"):
            self.level = text.split("=")[1].strip()
        elif text == "COMMIT":
            self.commit_levels.append(self.level)


def test_reservation_commits_are_fsynced_and_the_others_are_not(
    tmp_path: Path, boot: BootId
) -> None:
    path = tmp_path / "c.sqlite"
    store = SQLiteCodeStore(path, reserve=8)
    trace = SyncTrace(store)
    previous_reserved = 0
    values = []
    for _ in range(40):
        values.append(store.allocate(*KEY, limit=9999))
        value, reserved = _row(path)
        assert value == values[-1]
        assert reserved >= value  # nothing is ever handed out above the durable reservation
        level = trace.commit_levels[-1]
        if reserved != previous_reserved:
            assert level == "FULL", f"reservation {reserved} committed with {level}"
        else:
            assert level == "NORMAL"
        previous_reserved = reserved
    assert values == list(range(1, 41))
    # one fsynced commit per 8 values: 1, 9, 17, 25, 33
    assert trace.commit_levels.count("FULL") == 5
    assert store.stats() == {"commits": 40, "durable_commits": 5, "reservations": True}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_power_loss_never_reissues_a_number(tmp_path: Path, boot: BootId, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "c.sqlite"
    reserve = rng.choice([2, 5, 16])
    store = SQLiteCodeStore(path, reserve=reserve)
    trace = SyncTrace(store)
    handed_out: list[int] = []
    # snapshots since (and including) the last fsynced commit: the possible recovered states
    window: list[tuple[bytes, bytes]] = [_snapshot(path)]
    crashes = 0
    for _ in range(150):
        if rng.random() < 0.12:
            # power loss: the file comes back as of some commit in the window; new boot id
            store.close()
            _restore(path, rng.choice(window))
            boot.reboot()
            crashes += 1
            trace = SyncTrace(store)  # reopens the connection
            window = [_snapshot(path)]
            continue
        count = rng.choice([1, 1, 1, 2, 3])
        last = store.allocate(*KEY, limit=9999, count=count)
        handed_out.extend(range(last - count + 1, last + 1))
        if trace.commit_levels[-1] == "FULL":
            window = []
        window.append(_snapshot(path))
    assert crashes > 5
    assert len(handed_out) == len(set(handed_out)), "a number was handed out twice"
    assert store.check_integrity()
    # the gap cost: at most reserve - 1 skipped numbers per crash
    assert max(handed_out) - len(handed_out) <= crashes * (reserve - 1)


def test_without_a_new_boot_id_the_same_crash_would_duplicate(tmp_path: Path, boot: BootId) -> None:
    # The control for the test above: restoring the state of the last fsynced commit without
    # a reboot is what a killed *process* can never cause, and it would reissue numbers.  It
    # shows the snapshot really loses the unsynced commits.
    path = tmp_path / "c.sqlite"
    store = SQLiteCodeStore(path, reserve=10)
    assert store.allocate(*KEY, limit=9999) == 1  # fsynced, reserves 1-10
    snap = _snapshot(path)
    for expected in range(2, 6):
        assert store.allocate(*KEY, limit=9999) == expected  # not fsynced
    store.close()
    _restore(path, snap)
    assert store.allocate(*KEY, limit=9999) == 2  # same boot: the lost commits reappear
    store.close()
    _restore(path, snap)
    boot.reboot()
    assert store.allocate(*KEY, limit=9999) == 11  # new boot: above the reservation
    assert store.current(*KEY) == 11


def test_current_after_reboot_is_the_reservation(tmp_path: Path, boot: BootId) -> None:
    path = tmp_path / "c.sqlite"
    store = SQLiteCodeStore(path, reserve=10)
    store.allocate(*KEY, limit=9999, count=3)
    assert store.current(*KEY) == 3
    store.close()
    boot.reboot()
    assert store.current(*KEY) == 12  # 3 handed out + 10 - 1 reserved ahead of them


def test_no_boot_id_means_every_commit_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stores_mod, "_boot_id", lambda: None)
    store = SQLiteCodeStore(tmp_path / "c.sqlite", reserve=32)
    trace = SyncTrace(store)
    for expected in range(1, 11):
        assert store.allocate(*KEY, limit=9999) == expected
    assert trace.commit_levels == ["FULL"] * 10
    assert store.stats()["reservations"] is False


def test_reserve_one_fsyncs_every_commit(tmp_path: Path, boot: BootId) -> None:
    store = SQLiteCodeStore(tmp_path / "c.sqlite", reserve=1, synchronous="EXTRA")
    trace = SyncTrace(store)
    for _ in range(5):
        store.allocate(*KEY, limit=9999)
    assert trace.commit_levels == ["EXTRA"] * 5


def test_real_boot_id_is_read_on_linux() -> None:
    value = stores_mod._boot_id()
    if not Path("/proc/sys/kernel/random/boot_id").exists():
        assert value is None
    else:
        assert value is not None and str(uuid.UUID(value)) == value


def test_reservation_is_capped_by_the_limit_and_exhaustion_consumes_nothing(
    tmp_path: Path, boot: BootId
) -> None:
    path = tmp_path / "c.sqlite"
    store = SQLiteCodeStore(path, reserve=32)
    issuer = DossierCodeIssuer(
        "H27.01",
        store,
        clock=lambda: dt.datetime(2025, 6, 30, 5, tzinfo=dt.UTC),
        max_sequence=5,
    )
    seqs = [issuer.issue().seq for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert _row(path) == (5, 5)
    with pytest.raises(SequenceExhaustedError):
        issuer.issue()
    assert _row(path) == (5, 5)
    # after a reboot the full day stays full
    store.close()
    boot.reboot()
    with pytest.raises(SequenceExhaustedError):
        issuer.issue()


def test_file_from_the_previous_schema_is_upgraded(tmp_path: Path, boot: BootId) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE onestop_code_counters ("
        " namespace TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL,"
        " value INTEGER NOT NULL CHECK (value >= 0), updated_at TEXT NOT NULL,"
        " PRIMARY KEY (namespace, scope, period)) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO onestop_code_counters VALUES (?, ?, ?, 41, 'x')", KEY)
    conn.commit()
    conn.close()
    store = SQLiteCodeStore(path)
    assert store.current(*KEY) == 41
    assert store.allocate(*KEY, limit=9999) == 42


def test_reserve_is_checked(tmp_path: Path) -> None:
    for bad in (0, 1001, -1, 2.5, True, "8"):
        with pytest.raises(InvalidArgumentError):
            SQLiteCodeStore(tmp_path / "c.sqlite", reserve=bad)  # type: ignore[arg-type]


def _issue_many(path: str, reserve: int, n: int, out: Any) -> None:
    store = SQLiteCodeStore(path, reserve=reserve)
    got = [store.allocate(*KEY, limit=9999) for _ in range(n)]
    out.put((got, store.stats()["durable_commits"]))


def test_processes_share_reservations_without_gaps_or_duplicates(tmp_path: Path) -> None:
    # Small reservations make the NORMAL -> FULL retry path race between processes all the
    # time; with no crash every number 1..N is handed out exactly once.
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_issue_many, args=(str(tmp_path / "c.sqlite"), 3, 400, queue))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    values = sorted(v for got, _ in results for v in got)
    assert values == list(range(1, 1601))
    for got, _ in results:
        assert got == sorted(got)  # each process sees the shared counter move forward
    durable = sum(d for _, d in results)
    assert 1600 // 3 <= durable <= 1600 // 3 + 4
