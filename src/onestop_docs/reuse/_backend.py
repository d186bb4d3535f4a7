"""Where the reuse store keeps its rows: one SQLite file, or a PostgreSQL database.

Both backends hold the same three tables (schema version :data:`SCHEMA_VERSION`):

* ``reuse_meta(name, value)``: ``schema_version`` and the time the store was created;
* ``reuse_records``: one row per record (record id, owner, document type, procedure,
  component, dossier code, page count, time added);
* ``reuse_pages``: one row per page, with ``seq`` (increasing in commit order), the record id,
  the page number, the page's pixel SHA-256 and source-file SHA-256, the key version, the key
  blob and its 256-bit candidate hashes (as scanned and turned by 180 degrees).

A record and its pages are written in one transaction, so a reader sees all of a record or
none of it.  Writers are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction
advisory lock), so ``seq`` grows in commit order and a reader that has seen ``seq = n`` can
ask for ``seq > n`` and never miss a row.  Readers never block writers (SQLite in WAL mode,
PostgreSQL MVCC).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._deps import require_module
from ..errors import InvalidArgumentError, ReuseStoreError

__all__ = ["SCHEMA_VERSION", "PageRow", "StoredRecord", "open_backend"]

#: Version of the tables this library writes; a store with a higher version is refused.
SCHEMA_VERSION = 1

_RECORD_COLS = (
    "record_id",
    "owner_id",
    "document_type",
    "procedure_code",
    "component_code",
    "dossier_code",
    "page_count",
    "added_at",
)
_PAGE_COLS = (
    "record_id",
    "page",
    "page_sha256",
    "file_sha256",
    "key_version",
    "key",
    "candidate",
    "candidate_flip",
)


@dataclass(frozen=True)
class StoredRecord:
    """A record in the reuse store (one row of ``reuse_records``).

    Attributes
    ----------
    record_id : str
        The archive name of the record, e.g. ``"H27.01-210630-0001.002"``.
    owner_id : str or None
        Số định danh cá nhân (CCCD) or mã số thuế of the owner, when known.
    document_type, procedure_code, component_code, dossier_code : str or None
        Loại giấy tờ, mã TTHC, mã thành phần hồ sơ and mã số hồ sơ, when known.
    page_count : int
    added_at : str
        UTC time the record was added (ISO 8601).
    """

    record_id: str
    owner_id: str | None
    document_type: str | None
    procedure_code: str | None
    component_code: str | None
    dossier_code: str | None
    page_count: int
    added_at: str


@dataclass(frozen=True)
class PageRow:
    """One row of ``reuse_pages`` (``seq`` is 0 before it is stored)."""

    record_id: str
    page: int
    page_sha256: str | None
    file_sha256: str | None
    key_version: int | None
    key: bytes | None
    candidate: bytes | None
    candidate_flip: bytes | None = None
    seq: int = 0

    def same_content(self, other: PageRow) -> bool:
        return (self.page, self.page_sha256, self.file_sha256, self.key_version, self.key) == (
            other.page,
            other.page_sha256,
            other.file_sha256,
            other.key_version,
            other.key,
        )


def _page_row(v: Sequence[Any], seq: int) -> PageRow:
    # key and candidate come back as memoryview on PostgreSQL
    return PageRow(
        str(v[0]),
        int(v[1]),
        v[2],
        v[3],
        None if v[4] is None else int(v[4]),
        None if v[5] is None else bytes(v[5]),
        None if v[6] is None else bytes(v[6]),
        None if v[7] is None else bytes(v[7]),
        seq,
    )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _redact(dsn: str) -> str:
    # Never put a password into an error message.
    dsn = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn, flags=re.I)
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


class _Sql:
    """The SQL both backends share; ``P`` is the parameter placeholder."""

    P = "?"
    location = ""

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.P)

    def _corrupt(self, what: str) -> ReuseStoreError:
        return ReuseStoreError(
            f"reuse store lacks {what}: corrupt", reason="corrupt", store=self.location
        )

    # -- implemented by each backend
    def _read(self) -> Any:  # a connection for reading (per thread)
        raise NotImplementedError

    def _error(self, exc: Exception, what: str) -> ReuseStoreError:
        raise NotImplementedError

    def _errors(self) -> tuple[type[Exception], ...]:
        raise NotImplementedError

    def add_record(self, rec: StoredRecord, pages: Sequence[PageRow]) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- shared readers
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            cur = self._read().execute(self._q(sql), tuple(params))
            return list(cur.fetchall())
        except self._errors() as exc:
            raise self._error(exc, "read") from exc

    def pages_after(self, seq: int, limit: int) -> list[tuple[int, bytes]]:
        """``(seq, candidate)`` of keyed pages with ``seq`` above ``seq``, in order."""
        rows = self._fetch(
            "SELECT seq, candidate FROM reuse_pages WHERE seq > ? AND candidate IS NOT NULL"
            " ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [(int(s), bytes(c)) for s, c in rows]

    def candidates_all(self) -> list[tuple[int, bytes, bytes]]:
        """``(seq, candidate, candidate_flip)`` of every keyed page, in order."""
        rows = self._fetch(
            "SELECT seq, candidate, candidate_flip FROM reuse_pages"
            " WHERE candidate IS NOT NULL ORDER BY seq"
        )
        return [(int(s), bytes(c), bytes(f)) for s, c, f in rows]

    def max_seq(self) -> int:
        rows = self._fetch("SELECT COALESCE(MAX(seq), 0) FROM reuse_pages")
        return int(rows[0][0])

    def pages_by_seq(self, seqs: Sequence[int]) -> list[tuple[PageRow, StoredRecord]]:
        out: list[tuple[PageRow, StoredRecord]] = []
        for a in range(0, len(seqs), 500):
            part = list(seqs[a : a + 500])
            marks = ", ".join("?" * len(part))
            out.extend(self._joined(f"p.seq IN ({marks})", part))
        return out

    def pages_by_file(self, file_sha256: str) -> list[tuple[PageRow, StoredRecord]]:
        return self._joined("p.file_sha256 = ?", [file_sha256])

    def pages_of(self, record_id: str) -> list[PageRow]:
        return [p for p, _ in self._joined("p.record_id = ?", [record_id])]

    def _joined(self, where: str, params: Sequence[Any]) -> list[tuple[PageRow, StoredRecord]]:
        pcols = ", ".join(f"p.{c}" for c in _PAGE_COLS)
        rcols = ", ".join(f"r.{c}" for c in _RECORD_COLS)
        rows = self._fetch(
            f"SELECT p.seq, {pcols}, {rcols} FROM reuse_pages p"
            f" JOIN reuse_records r ON r.record_id = p.record_id WHERE {where}"
            " ORDER BY p.seq",
            params,
        )
        n = len(_PAGE_COLS)
        out = []
        for row in rows:
            page = _page_row(row[1 : 1 + n], int(row[0]))
            out.append((page, StoredRecord(*row[1 + n :])))
        return out

    def records_where(self, where: str, params: Sequence[Any]) -> list[StoredRecord]:
        cols = ", ".join(_RECORD_COLS)
        rows = self._fetch(
            f"SELECT {cols} FROM reuse_records WHERE {where} ORDER BY added_at, record_id", params
        )
        return [StoredRecord(*r) for r in rows]

    def counts(self) -> tuple[int, int]:
        rows = self._fetch(
            "SELECT (SELECT COUNT(*) FROM reuse_records), (SELECT COUNT(*) FROM reuse_pages)"
        )
        return int(rows[0][0]), int(rows[0][1])

    # -- shared writer body (inside the backend's transaction)
    def _write_record(self, cur: Any, rec: StoredRecord, pages: Sequence[PageRow]) -> bool:
        q = self._q
        got = cur.execute(
            q("SELECT page_count FROM reuse_records WHERE record_id = ?"), (rec.record_id,)
        ).fetchone()
        if got is not None:
            cols = ", ".join(_PAGE_COLS)
            rows = cur.execute(
                q(f"SELECT {cols} FROM reuse_pages WHERE record_id = ? ORDER BY page"),
                (rec.record_id,),
            ).fetchall()
            old = [_page_row(r, 0) for r in rows]
            if len(old) == len(pages) and all(a.same_content(b) for a, b in zip(old, pages)):
                return False
            raise ReuseStoreError(
                f"record {rec.record_id!r} is already in the reuse store with other pages "
                f"({len(old)} stored, {len(pages)} given)",
                reason="conflict",
                store=self.location,
            )
        marks = ", ".join("?" * len(_RECORD_COLS))
        cur.execute(
            q(f"INSERT INTO reuse_records ({', '.join(_RECORD_COLS)}) VALUES ({marks})"),
            tuple(getattr(rec, c) for c in _RECORD_COLS),
        )
        marks = ", ".join("?" * len(_PAGE_COLS))
        cur.executemany(
            q(f"INSERT INTO reuse_pages ({', '.join(_PAGE_COLS)}) VALUES ({marks})"),
            [tuple(getattr(p, c) for c in _PAGE_COLS) for p in pages],
        )
        return True

    store_id: str | None = None

    def _check_meta(self, rows: list[Any]) -> None:
        meta = {str(k): str(v) for k, v in rows}
        self.store_id = meta.get("store_id")
        version = meta.get("schema_version")
        if version is None or not version.isdigit():
            raise ReuseStoreError(
                f"reuse store has no valid schema_version (found {version!r}): corrupt",
                reason="corrupt",
                store=self.location,
            )
        if int(version) > SCHEMA_VERSION:
            raise ReuseStoreError(
                f"reuse store has schema version {version}, newer than this library's "
                f"{SCHEMA_VERSION}: upgrade onestop_docs",
                reason="newer-version",
                store=self.location,
            )
        if int(version) < 1:
            raise ReuseStoreError(
                f"reuse store has schema version {version}: corrupt",
                reason="corrupt",
                store=self.location,
            )


_SQLITE_SCHEMA = (
    "CREATE TABLE reuse_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE reuse_records (record_id TEXT PRIMARY KEY, owner_id TEXT,"
    " document_type TEXT, procedure_code TEXT, component_code TEXT, dossier_code TEXT,"
    " page_count INTEGER NOT NULL, added_at TEXT NOT NULL)",
    "CREATE INDEX reuse_records_owner ON reuse_records (owner_id)",
    "CREATE TABLE reuse_pages (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " record_id TEXT NOT NULL REFERENCES reuse_records (record_id), page INTEGER NOT NULL,"
    " page_sha256 TEXT, file_sha256 TEXT, key_version INTEGER, key BLOB, candidate BLOB,"
    " candidate_flip BLOB,"
    " UNIQUE (record_id, page))",
    "CREATE INDEX reuse_pages_file ON reuse_pages (file_sha256)",
)


class SQLiteBackend(_Sql):
    """One SQLite file in WAL mode; a writer connection and one reader per thread."""

    P = "?"

    def __init__(self, path: str, *, create: bool, timeout_s: float) -> None:
        self.path = path
        self.location = path
        self.timeout_s = float(timeout_s)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._wlock = threading.Lock()
        if not create and not os.path.exists(path):
            raise ReuseStoreError(
                "reuse store is unreachable: the file does not exist",
                reason="unreachable",
                store=path,
            )
        self._writer = self._connect()
        self._init_schema()

    def _errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def _error(self, exc: Exception, what: str) -> ReuseStoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return ReuseStoreError(
                f"reuse store is locked ({what}: {text}) after {self.timeout_s:g} s",
                reason="locked",
                store=self.location,
            )
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
            return ReuseStoreError(
                f"reuse store is unreachable: cannot open it ({text})",
                reason="unreachable",
                store=self.location,
            )
        return ReuseStoreError(
            f"reuse store is corrupt or not a reuse store ({what}: {type(exc).__name__}: {text})",
            reason="corrupt",
            store=self.location,
        )

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _read(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _init_schema(self) -> None:
        conn = self._writer
        with self._wlock:
            try:
                names = {
                    r[0]
                    for r in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    ).fetchall()
                }
                if "reuse_meta" not in names:
                    if names - {"sqlite_sequence"}:
                        raise ReuseStoreError(
                            f"file holds other tables ({', '.join(sorted(names)[:5])}) and no "
                            "reuse_meta: not a reuse store",
                            reason="corrupt",
                            store=self.location,
                        )
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        again = conn.execute(
                            "SELECT 1 FROM sqlite_master WHERE name = 'reuse_meta'"
                        ).fetchone()
                        if again is None:
                            for stmt in _SQLITE_SCHEMA:
                                conn.execute(stmt)
                            conn.executemany(
                                "INSERT INTO reuse_meta (name, value) VALUES (?, ?)",
                                _new_meta(),
                            )
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    names |= {"reuse_meta", "reuse_records", "reuse_pages"}
                self._check_meta(conn.execute("SELECT name, value FROM reuse_meta").fetchall())
                missing = {"reuse_records", "reuse_pages"} - names
                if missing:
                    raise self._corrupt(f"tables {sorted(missing)}")
            except sqlite3.Error as exc:
                raise self._error(exc, "open") from exc

    def add_record(self, rec: StoredRecord, pages: Sequence[PageRow]) -> bool:
        conn = self._writer
        with self._wlock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    added = self._write_record(conn, rec, pages)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(exc, "add") from exc
        return added

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for c in conns:
            c.close()
        self._local = threading.local()


_PG_SCHEMA = (
    "CREATE TABLE reuse_meta (name text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE reuse_records (record_id text PRIMARY KEY, owner_id text,"
    " document_type text, procedure_code text, component_code text, dossier_code text,"
    " page_count integer NOT NULL, added_at text NOT NULL)",
    "CREATE INDEX reuse_records_owner ON reuse_records (owner_id)",
    "CREATE TABLE reuse_pages (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " record_id text NOT NULL REFERENCES reuse_records (record_id), page integer NOT NULL,"
    " page_sha256 text, file_sha256 text, key_version integer, key bytea, candidate bytea,"
    " candidate_flip bytea,"
    " UNIQUE (record_id, page))",
    "CREATE INDEX reuse_pages_file ON reuse_pages (file_sha256)",
)
# Serialises writers so that seq order is commit order (see the module docstring).
_PG_LOCK = 0x6F6E6573_72657573  # "onesreus"


class PostgresBackend(_Sql):
    """The tables in a PostgreSQL database (psycopg 3); one connection per thread."""

    P = "%s"

    def __init__(self, dsn: str, *, create: bool, timeout_s: float) -> None:
        self._psycopg = require_module("psycopg", "postgres")
        self.dsn = dsn
        self.location = _redact(dsn)
        self.timeout_s = float(timeout_s)
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._wlock = threading.Lock()
        self._writer = self._connect()
        self._init_schema(create)

    def _errors(self) -> tuple[type[Exception], ...]:
        return (self._psycopg.Error,)

    def _error(self, exc: Exception, what: str) -> ReuseStoreError:
        errors = self._psycopg.errors
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled):
            return ReuseStoreError(
                f"reuse store is locked ({what}: {text}) after {self.timeout_s:g} s",
                reason="locked",
                store=self.location,
            )
        if isinstance(exc, self._psycopg.OperationalError):
            return ReuseStoreError(
                f"reuse store is unreachable ({what}: {text})",
                reason="unreachable",
                store=self.location,
            )
        return ReuseStoreError(
            f"reuse store is corrupt or not a reuse store ({what}: {type(exc).__name__}: {text})",
            reason="corrupt",
            store=self.location,
        )

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, round(self.timeout_s))
            )
            ms = max(1, int(self.timeout_s * 1000))
            conn.execute(f"SET lock_timeout = {ms}")
        except psycopg.Error as exc:
            raise self._error(exc, "connect") from exc
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _read(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._connect()
        return conn

    def _init_schema(self, create: bool) -> None:
        psycopg = self._psycopg
        conn = self._writer
        with self._wlock:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
                    exists = conn.execute("SELECT to_regclass('reuse_meta')").fetchone()[0]
                    if exists is None:
                        if not create:
                            raise ReuseStoreError(
                                "database holds no reuse store", reason="unreachable",
                                store=self.location,
                            )  # fmt: skip
                        for stmt in _PG_SCHEMA:
                            conn.execute(stmt)
                        with conn.cursor() as cur:
                            cur.executemany(
                                "INSERT INTO reuse_meta (name, value) VALUES (%s, %s)",
                                _new_meta(),
                            )
                    self._check_meta(conn.execute("SELECT name, value FROM reuse_meta").fetchall())
                    for table in ("reuse_records", "reuse_pages"):
                        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                            raise self._corrupt(f"table {table}")
            except psycopg.Error as exc:
                raise self._error(exc, "open") from exc

    def add_record(self, rec: StoredRecord, pages: Sequence[PageRow]) -> bool:
        psycopg = self._psycopg
        with self._wlock:
            try:
                if self._writer.closed:
                    self._writer = self._connect()
                conn = self._writer
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
                    with conn.cursor() as cur:
                        added = self._write_record(cur, rec, pages)
            except psycopg.Error as exc:
                raise self._error(exc, "add") from exc
        return added

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(Exception):  # already broken
                c.close()
        self._local = threading.local()


def _new_meta() -> list[tuple[str, str]]:
    """The ``reuse_meta`` rows of a new store."""
    return [
        ("schema_version", str(SCHEMA_VERSION)),
        ("created", _now()),
        ("store_id", uuid.uuid4().hex),
    ]


def _is_dsn(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://")) or (
        "=" in location and ("host=" in location or "dbname=" in location)
    )


def open_backend(
    location: str, *, create: bool, timeout_s: float
) -> SQLiteBackend | PostgresBackend:
    """A backend for ``location``: a PostgreSQL DSN/URI, else a SQLite file path."""
    if not isinstance(location, str) or not location:
        raise InvalidArgumentError(
            f"reuse store location must be a non-empty str, got {location!r}"
        )
    if _is_dsn(location):
        return PostgresBackend(location, create=create, timeout_s=timeout_s)
    return SQLiteBackend(location, create=create, timeout_s=timeout_s)
