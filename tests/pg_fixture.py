"""A throwaway PostgreSQL 15 cluster for tests (no mocks).

``pg_dsn`` (session scope) runs ``initdb`` into a fresh temporary directory and starts the
server with ``pg_ctl``, listening only on a unix socket inside that directory.  When the tests
run as root (CI does), the server binaries run as the ``postgres`` user through ``runuser``
and the directory is handed to that user, because PostgreSQL refuses to run as root.  The
cluster is stopped and deleted at the end of the session.  If the binaries are absent the
tests that need it are skipped with the reason (CI installs Debian ``postgresql``).

Use it from a test module with ``from pg_fixture import pg_dsn  # noqa: F401``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("ONESTOP_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    # The port number also names the unix socket file (.s.PGSQL.<port>); pick one nobody uses.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """libpq DSN of a fresh PostgreSQL cluster, or skip when the server is not installed."""
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    if not (initdb.exists() and pg_ctl.exists()):
        pytest.skip(
            f"PostgreSQL server binaries not found in {PG_BIN} "
            "(apt-get install postgresql; CI installs it)"
        )
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="onestop-pg-"))  # short path: sockets have a 107-byte limit
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            runuser = None
        if runuser is None:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("running as root but runuser or the 'postgres' user is missing")
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o700)
    data, log = base / "data", base / "server.log"
    port = _free_port()

    def run(args: list[str]) -> None:
        proc = subprocess.run(prefix + args, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}"
            )

    started = False
    try:
        run([str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--locale=C", "--no-sync"])  # fmt: skip
        # Throwaway cluster: fsync off for speed (the tests kill clients, never the server).
        opts = (
            f"-k {base} -p {port} -c listen_addresses='' -c fsync=off "
            "-c max_connections=60 -c shared_buffers=16MB"
        )
        run([str(pg_ctl), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts, "start"])
        started = True
        yield f"host={base} port={port} user=postgres dbname=postgres"
    finally:
        if started:
            subprocess.run(
                [*prefix, str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)
