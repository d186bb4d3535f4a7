"""Persistent counters behind the code issuers: SQLite (embedded) and PostgreSQL (shared).

A store keeps one integer per ``(namespace, scope, period)``, e.g. ``("dossier", "H27.01",
"2025-06-30")``, and offers a single atomic operation, :meth:`CodeStore.allocate`: add ``count``
to the counter unless that would pass ``limit``, and return the new value.

**No duplicates, gaps allowed.**  The increment and the read of the new value happen in one
database transaction; the caller only learns the value after the COMMIT returned.  A crash
before the commit rolls the increment back (nothing was handed out); a crash after the commit
but before the caller used the value loses that value (a gap).  No interleaving of processes,
threads or crashes can hand out the same value twice, provided the database itself keeps
committed transactions.

On SQLite one fsync per value would bound issuing by the disk's sync latency, so the SQLite
store fsyncs per *reservation* instead (see :class:`SQLiteCodeStore`): a commit that moves a
counter past its durable reservation is made with ``synchronous=FULL`` and reserves ``reserve``
values ahead; commits inside the reservation are ordinary WAL commits, which survive a crash
of any process but may be lost with the page cache on power loss.  The reservation, the
values and the Linux boot id are stored together, so after a reboot every counter resumes above
its reservation: gaps of at most ``reserve`` values, never a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

try:  # POSIX: writers queue on a lock file instead of SQLite's sleep-and-retry busy handler
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

from .._deps import require_module
from .._validate import check_int
from ..errors import CodeStoreError, InvalidArgumentError, SequenceExhaustedError

__all__ = ["CodeStore", "PostgresCodeStore", "SQLiteCodeStore"]

_TABLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@runtime_checkable
class CodeStore(Protocol):
    """What an issuer needs from a store (thread-safe, process-safe, crash-safe)."""

    def allocate(
        self, namespace: str, scope: str, period: str, *, limit: int, count: int = 1
    ) -> int:
        """Atomically add ``count``; return the new value (the last of the block).

        Raises :class:`~onestop_docs.errors.SequenceExhaustedError` (consuming nothing) when
        the new value would exceed ``limit``.
        """
        ...

    def current(self, namespace: str, scope: str, period: str) -> int:
        """Last value handed out (0 when none)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _check_args(namespace: str, scope: str, period: str, limit: int, count: int) -> None:
    for name, value in (("namespace", namespace), ("scope", scope), ("period", period)):
        if not isinstance(value, str):
            raise InvalidArgumentError(f"{name} must be str, got {type(value).__name__}")
    check_int(limit, "limit", 1)
    check_int(count, "count", 1)
    if count > limit:
        raise SequenceExhaustedError(
            f"cannot reserve {count} values of {namespace}/{scope}/{period}: limit is {limit}"
        )


def _exhausted(
    namespace: str, scope: str, period: str, limit: int, count: int, cur: int
) -> SequenceExhaustedError:
    return SequenceExhaustedError(
        f"counter {namespace}/{scope}/{period} is at {cur}; reserving {count} more would pass "
        f"the limit {limit}"
    )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def _boot_id() -> str | None:
    """This kernel's boot id (Linux), or None where the OS does not expose one.

    It changes at every boot, and a power loss or kernel crash -- the only events that lose
    written-but-unsynced pages -- always ends in a boot.  Processes of one machine, containers
    included, share it, as they share the page cache.
    """
    try:
        with open(_BOOT_ID_PATH, encoding="ascii") as fh:
            value = fh.read().strip()
    except OSError:
        return None
    return value or None


class _ReservationNeeded(Exception):
    """Internal: this allocation passes the durable reservation and must be fsynced."""


class SQLiteCodeStore:
    """Counters in one SQLite file (WAL, ``BEGIN IMMEDIATE``): the embedded default.

    Safe for many threads (one connection per process, serialised by a lock) and many
    processes on one machine (SQLite file locks; a process that dies mid-transaction is rolled
    back by the next opener).  Not for network file systems: use :class:`PostgresCodeStore`
    when several servers issue codes.

    **Durable reservations.**  Each counter row also holds ``reserved``, a value up to which
    numbers may be handed out, and the boot id of the machine that wrote it.  A commit that
    needs a number above ``reserved`` is made with ``synchronous`` (``FULL``: the WAL is
    fsynced before COMMIT returns) and raises ``reserved`` to ``value + reserve - 1``.  Commits
    inside the reservation use ``synchronous=NORMAL``: no fsync, but in WAL mode the database
    stays consistent and only a *suffix* of those commits can be lost, and only with the page
    cache (power loss, kernel crash), never when a process dies.  When a store sees a row
    written under another boot id, it continues above that row's durable ``reserved``, so
    every number that might have been handed out before the crash is skipped.  Cost: after a
    power loss each counter of the day skips at most ``reserve - 1`` numbers.  Codes stay in
    strict commit order across all processes (one shared counter, unlike the issuer's
    ``prefetch``).  Where the boot id is unknown (not Linux) or the file cannot use WAL,
    every commit is made with ``synchronous``, as with ``reserve=1``.

    Parameters
    ----------
    path : str or os.PathLike
        Database file; created with its table when missing.  SQLite adds ``-wal`` and ``-shm``
        files beside it, and the store a ``.lock`` file.
    timeout_s : float, default 30.0
        How long to wait for another process's transaction before raising.
    synchronous : {"FULL", "EXTRA"}, default "FULL"
        SQLite durability of the commits that extend a reservation.  ``NORMAL`` is refused
        here: a reservation lost on power loss could be handed out twice.
    reserve : int, default 32
        Values reserved by one fsynced commit (1-1000).  ``1`` fsyncs every commit (the rate is
        then bounded by the disk's sync latency).

    Raises
    ------
    CodeStoreError
        The database cannot be opened or is not a code store.

    Examples
    --------
    >>> import tempfile, os
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = SQLiteCodeStore(os.path.join(tmp.name, "codes.sqlite"))
    >>> store.allocate("dossier", "H27.01", "2025-06-30", limit=9999)
    1
    >>> store.allocate("dossier", "H27.01", "2025-06-30", limit=9999, count=5)
    6
    >>> store.current("dossier", "H27.01", "2025-06-30")
    6
    >>> store.close(); tmp.cleanup()
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS onestop_code_counters ("
        " namespace TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL,"
        " value INTEGER NOT NULL CHECK (value >= 0), updated_at TEXT NOT NULL,"
        " reserved INTEGER NOT NULL DEFAULT 0, boot TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (namespace, scope, period)) WITHOUT ROWID"
    )
    _SELECT = (
        "SELECT value, reserved, boot FROM onestop_code_counters"
        " WHERE namespace = ? AND scope = ? AND period = ?"
    )
    _UPSERT = (
        "INSERT INTO onestop_code_counters"
        " (namespace, scope, period, value, updated_at, reserved, boot)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (namespace, scope, period) DO UPDATE"
        " SET value = excluded.value, updated_at = excluded.updated_at,"
        " reserved = excluded.reserved, boot = excluded.boot"
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float = 30.0,
        synchronous: str = "FULL",
        reserve: int = 32,
    ) -> None:
        if not isinstance(synchronous, str) or synchronous.upper() not in {"FULL", "EXTRA"}:
            raise InvalidArgumentError(
                f"synchronous must be 'FULL' or 'EXTRA' (never lose a commit), got {synchronous!r}"
            )
        if not timeout_s > 0:
            raise InvalidArgumentError(f"timeout_s must be > 0, got {timeout_s!r}")
        check_int(reserve, "reserve", 1, 1000)
        self.path = os.fspath(path)
        self.timeout_s = float(timeout_s)
        self.synchronous = synchronous.upper()
        self.reserve = reserve
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._lock_fd = -1
        self._pid = -1
        self._boot = ""
        self._fast = False  # commits inside a reservation skip the fsync
        self._sync_level = ""
        self._commits = 0
        self._durable_commits = 0
        with self._lock:
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        # One connection per process: a connection inherited through fork() must not be used.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            mode = self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._retry_locked(lambda: conn.execute(self._SCHEMA))
            columns = {row[1] for row in conn.execute("PRAGMA table_info(onestop_code_counters)")}
            if "value" not in columns:
                raise sqlite3.DatabaseError("onestop_code_counters has no 'value' column")
            for column, decl in (("reserved", "INTEGER"), ("boot", "TEXT")):
                if column not in columns:  # a file from onestop_docs < 0.2: rows are durable
                    default = "0" if decl == "INTEGER" else "''"
                    self._retry_locked(
                        lambda c=column, d=decl, v=default: conn.execute(
                            f"ALTER TABLE onestop_code_counters ADD COLUMN {c} {d}"
                            f" NOT NULL DEFAULT {v}"
                        )
                    )
        except sqlite3.Error as exc:
            raise CodeStoreError(f"cannot open SQLite code store {self.path!r}: {exc}") from exc
        if _fcntl is not None:
            try:
                self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                conn.close()
                raise CodeStoreError(f"cannot open lock file {self.path}.lock: {exc}") from exc
        boot = _boot_id()
        self._boot = boot or ""
        self._fast = (
            boot is not None and self.reserve > 1 and str(mode[0] if mode else "").lower() == "wal"
        )
        self._sync_level = self.synchronous
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _set_sync(self, conn: sqlite3.Connection, level: str) -> None:
        if self._sync_level != level:
            conn.execute(f"PRAGMA synchronous = {level}")  # only allowed between transactions
            self._sync_level = level

    @contextlib.contextmanager
    def _writer_queue(self) -> Iterator[None]:
        # SQLite's busy handler sleeps 1, 2, 5, ... 100 ms between retries, so under contention
        # the write lock sits idle while everybody sleeps.  An exclusive flock() on a side file
        # makes writers wait in the kernel and wake as soon as the previous one is done; the
        # kernel drops it when a holder dies, so a killed process cannot wedge the queue.  It
        # is only a scheduling aid: correctness rests on BEGIN IMMEDIATE (foreign writers that
        # ignore the lock file are still serialised by SQLite).
        if _fcntl is None or self._lock_fd < 0:
            yield
            return
        _fcntl.flock(self._lock_fd, _fcntl.LOCK_EX)
        try:
            yield
        finally:
            _fcntl.flock(self._lock_fd, _fcntl.LOCK_UN)

    def _retry_locked(self, fn: Any) -> Any:
        # Schema and journal-mode changes can hit SQLITE_BUSY without the busy handler being
        # consulted (e.g. while another process is switching to WAL); retry until the timeout.
        deadline = time.monotonic() + self.timeout_s
        delay = 0.001
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def allocate(
        self, namespace: str, scope: str, period: str, *, limit: int, count: int = 1
    ) -> int:
        """Atomically add ``count`` to the counter and return the new value.

        Raises
        ------
        SequenceExhaustedError
            The new value would exceed ``limit``; the counter is unchanged.
        CodeStoreError
            The database failed (locked past ``timeout_s``, disk full, corrupt, ...).
        """
        _check_args(namespace, scope, period, limit, count)
        key = (namespace, scope, period)
        with self._lock:
            conn = self._connection()
            try:
                with self._writer_queue():
                    durable = not self._fast
                    try:
                        new = self._transaction(conn, key, limit, count, durable=durable)
                    except _ReservationNeeded:
                        durable = True
                        new = self._transaction(conn, key, limit, count, durable=True)
            except sqlite3.Error as exc:
                raise CodeStoreError(f"SQLite code store {self.path!r}: {exc}") from exc
            self._commits += 1
            self._durable_commits += durable
        return new

    def _state(self, row: tuple[int, int, str] | None) -> tuple[int, int]:
        """``(value, reserved)`` of a counter row, as this boot must see it."""
        if row is None:
            return 0, 0
        value, reserved, boot = int(row[0]), int(row[1]), row[2]
        if boot != self._boot:
            # Written before a reboot: anything up to the durable reservation may have been
            # handed out, and the commits that recorded it lost with the page cache.
            value = reserved = max(value, reserved)
        return value, reserved

    def _transaction(
        self,
        conn: sqlite3.Connection,
        key: tuple[str, str, str],
        limit: int,
        count: int,
        *,
        durable: bool,
    ) -> int:
        """One ``BEGIN IMMEDIATE ... COMMIT``; raises _ReservationNeeded when not ``durable``
        and the counter must pass its reservation (the safety level is fixed per transaction)."""
        self._set_sync(conn, self.synchronous if durable else "NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            value, reserved = self._state(conn.execute(self._SELECT, key).fetchone())
            new = value + count
            if new > limit:
                raise _exhausted(*key, limit, count, value)
            if new > reserved:
                if not durable:
                    raise _ReservationNeeded
                reserved = min(limit, new + self.reserve - 1)
            conn.execute(self._UPSERT, (*key, new, _now(), reserved, self._boot))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return new

    def current(self, namespace: str, scope: str, period: str) -> int:
        """Last value handed out for the key (0 when none).

        For a row written before the machine's last reboot this is the durable reservation:
        the highest value that may have been handed out.
        """
        with self._lock:
            conn = self._connection()
            try:
                row = conn.execute(self._SELECT, (namespace, scope, period)).fetchone()
            except sqlite3.Error as exc:
                raise CodeStoreError(f"SQLite code store {self.path!r}: {exc}") from exc
            return self._state(row)[0]

    def stats(self) -> dict[str, int | bool]:
        """This process's commit counts, for monitoring the fsync rate.

        Returns
        -------
        dict
            ``commits`` (allocations), ``durable_commits`` (made with ``synchronous``, one
            fsync each) and ``reservations`` (whether commits inside a reservation skip the
            fsync on this machine).

        Examples
        --------
        >>> import tempfile, os
        >>> tmp = tempfile.TemporaryDirectory()
        >>> store = SQLiteCodeStore(os.path.join(tmp.name, "c.sqlite"), reserve=1)
        >>> _ = [store.allocate("dossier", "H27.01", "2025-06-30", limit=9999) for _ in range(3)]
        >>> store.stats()["durable_commits"]
        3
        >>> store.close(); tmp.cleanup()
        """
        with self._lock:
            return {
                "commits": self._commits,
                "durable_commits": self._durable_commits,
                "reservations": self._fast,
            }

    def check_integrity(self) -> bool:
        """Run ``PRAGMA integrity_check``; True when the file is sound."""
        with self._lock:
            conn = self._connection()
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return rows == [("ok",)]

    def close(self) -> None:
        """Close this process's connection (the store reopens on next use)."""
        with self._lock:
            if self._pid == os.getpid():
                if self._conn is not None:
                    self._conn.close()
                if self._lock_fd >= 0:
                    os.close(self._lock_fd)
            self._conn = None
            self._lock_fd = -1

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for multiprocessing: the child opens its own connection.
        return {
            "path": self.path,
            "timeout_s": self.timeout_s,
            "synchronous": self.synchronous,
            "reserve": self.reserve,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"],
            timeout_s=state["timeout_s"],
            synchronous=state["synchronous"],
            reserve=state.get("reserve", 32),
        )

    def __enter__(self) -> SQLiteCodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteCodeStore({self.path!r}, reserve={self.reserve})"


class PostgresCodeStore:
    """Counters in a PostgreSQL table: for many servers issuing codes for one province.

    Uses psycopg 3 (extra ``postgres``).  Each allocation is one ``INSERT ... ON CONFLICT DO
    UPDATE ... RETURNING`` transaction; the row lock serialises concurrent issuers, and a client
    killed mid-transaction is rolled back by the server.  A connection lost during COMMIT is
    retried once with a new transaction: that can only create a gap, never a duplicate.

    Parameters
    ----------
    dsn : str
        libpq connection string or URI.
    table : str, default "onestop_code_counters"
        Table name (lowercase identifier); created when missing.
    connect_timeout_s : float, default 10.0

    Raises
    ------
    MissingDependencyError
        psycopg is not installed (``pip install 'onestop_docs[postgres]'``).
    CodeStoreError
        The server cannot be reached or the table cannot be created.

    Examples
    --------
    >>> from onestop_docs.codes import DossierCodeIssuer
    >>> store = PostgresCodeStore("host=db.tinh.gov.vn dbname=motcua user=onestop")  # doctest: +SKIP
    >>> DossierCodeIssuer("H27.01", store).issue()  # doctest: +SKIP
    DossierCode('H27.01-250630-0001')
    """

    def __init__(
        self, dsn: str, *, table: str = "onestop_code_counters", connect_timeout_s: float = 10.0
    ) -> None:
        self._psycopg = require_module("psycopg", "postgres")
        if not isinstance(dsn, str):
            raise InvalidArgumentError(f"dsn must be str, got {type(dsn).__name__}")
        if _TABLE_RE.fullmatch(table) is None:
            raise InvalidArgumentError(
                f"table must be a lowercase SQL identifier [a-z_][a-z0-9_]*, got {table!r}"
            )
        self.dsn = dsn
        self.table = table
        self.connect_timeout_s = float(connect_timeout_s)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._pid = -1
        self._sql_allocate = (
            f"INSERT INTO {table} AS t (namespace, scope, period, value, updated_at)"
            " VALUES (%s, %s, %s, %s, now())"
            " ON CONFLICT (namespace, scope, period) DO UPDATE"
            " SET value = t.value + excluded.value, updated_at = excluded.updated_at"
            " WHERE t.value + excluded.value <= %s"
            " RETURNING value"
        )
        with self._lock:
            self._connection()

    def _connection(self) -> Any:
        if self._conn is not None and self._pid == os.getpid() and not self._conn.closed:
            return self._conn
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(
                self.dsn, autocommit=False, connect_timeout=max(1, int(self.connect_timeout_s))
            )
            with conn.transaction():
                # CREATE TABLE IF NOT EXISTS races between sessions; serialise it.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} ("
                    " namespace text NOT NULL, scope text NOT NULL, period text NOT NULL,"
                    " value bigint NOT NULL CHECK (value >= 0),"
                    " updated_at timestamptz NOT NULL,"
                    " PRIMARY KEY (namespace, scope, period))"
                )
        except psycopg.Error as exc:
            raise CodeStoreError(f"cannot open PostgreSQL code store: {exc}") from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def allocate(
        self, namespace: str, scope: str, period: str, *, limit: int, count: int = 1
    ) -> int:
        """Atomically add ``count`` to the counter and return the new value.

        Raises
        ------
        SequenceExhaustedError
            The new value would exceed ``limit``; the counter is unchanged.
        CodeStoreError
            The server failed twice in a row.
        """
        _check_args(namespace, scope, period, limit, count)
        psycopg = self._psycopg
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                    with conn.transaction():
                        row = conn.execute(
                            self._sql_allocate, (namespace, scope, period, count, limit)
                        ).fetchone()
                    break
                except psycopg.OperationalError as exc:
                    # Connection lost: the transaction either committed (gap) or not (no-op).
                    self._discard()
                    if attempt == 2:
                        raise CodeStoreError(f"PostgreSQL code store: {exc}") from exc
                except psycopg.Error as exc:
                    raise CodeStoreError(f"PostgreSQL code store: {exc}") from exc
        if row is None:
            cur = self.current(namespace, scope, period)
            raise _exhausted(namespace, scope, period, limit, count, cur)
        return int(row[0])

    def _discard(self) -> None:
        try:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
        except Exception:  # pragma: no cover - already broken
            pass
        self._conn = None

    def current(self, namespace: str, scope: str, period: str) -> int:
        """Last value handed out for the key (0 when none)."""
        psycopg = self._psycopg
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    row = conn.execute(
                        f"SELECT value FROM {self.table}"
                        " WHERE namespace = %s AND scope = %s AND period = %s",
                        (namespace, scope, period),
                    ).fetchone()
            except psycopg.Error as exc:
                raise CodeStoreError(f"PostgreSQL code store: {exc}") from exc
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Close this process's connection (the store reconnects on next use)."""
        with self._lock:
            self._discard()

    def __getstate__(self) -> dict[str, Any]:
        return {"dsn": self.dsn, "table": self.table, "connect_timeout_s": self.connect_timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["dsn"], table=state["table"], connect_timeout_s=state["connect_timeout_s"]
        )

    def __enter__(self) -> PostgresCodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresCodeStore(table={self.table!r})"
