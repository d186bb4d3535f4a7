"""The scan station's settings: the strict ``station.toml`` schema, per-machine defaults.

A station is one desk PC (or one server for several desks).  Everything that must be unique
per station lives in its data directory, never in an output folder: the dossier-code store
(two output folders of one station must not both issue ``H27.01-261207-0001``) and the
input fingerprints that stop the same scans being digitized twice under two codes.

The data directory is, in order: ``$ONESTOP_DATA_DIR``; ``/var/lib/onestop-docs`` when running
as root (a system service); ``$XDG_DATA_HOME/onestop-docs`` (default
``~/.local/share/onestop-docs``).  See ``docs/scan-station.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._fileutil import atomic_write_bytes
from .errors import InvalidArgumentError

__all__ = [
    "CONFIG_SCHEMA",
    "InputFingerprints",
    "check_dossier_code",
    "default_code_store",
    "input_fingerprint",
    "is_postgres_dsn",
    "load_station_config",
    "open_code_store",
    "station_data_dir",
]

_SIGNER_KEYS = frozenset({"p12", "key", "cert", "password_env", "name"})


def _option_keys() -> frozenset[str]:
    from .pipeline import DigitizeOptions

    return frozenset(f.name for f in dataclasses.fields(DigitizeOptions))


#: Known sections and their keys; ``[options]`` takes the fields of ``DigitizeOptions``.
CONFIG_SCHEMA: dict[str, frozenset[str] | None] = {
    "station": frozenset(
        {
            "agency",
            "agency_name",
            "code_store",
            "transparency_log",
            "tsa_url",
            "data_dir",
            "reuse_store",
            "allow_unsigned_drafts",
            "pades_level",
            "tsa_unreachable",
            "tsa_trust_roots",
        }
    ),
    "officer": _SIGNER_KEYS,
    "organisation": _SIGNER_KEYS,
    "options": None,  # filled from DigitizeOptions on first use (avoids an import cycle)
    "watch": None,  # filled from pipeline.WatchSettings
}

_TYPE_NAMES = {str: "string", bool: "boolean", list: "list"}

#: Keys of the string-valued sections whose value is not a string.
_TYPED_KEYS: dict[tuple[str, str], type] = {
    ("station", "allow_unsigned_drafts"): bool,
    ("station", "tsa_trust_roots"): list,
}


def _watch_keys() -> frozenset[str]:
    from .pipeline import WatchSettings

    return frozenset(f.name for f in dataclasses.fields(WatchSettings))


def load_station_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read a station config (TOML) and refuse anything it does not know.

    A typo in a key (``code_stor``) would otherwise silently fall back to a default (a code
    store in the wrong place), so unknown sections and keys are errors naming them.

    Parameters
    ----------
    path : path or None
        The TOML file; ``None`` gives an empty config.

    Returns
    -------
    dict
        ``{section: {key: value}}``.

    Raises
    ------
    InvalidArgumentError
        The file cannot be read or parsed, a section or key is unknown, or a value has the
        wrong type (the message names the file, section and key).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "station.toml"
    >>> _ = p.write_text('[station]\\ncode_stor = "/tmp/x.sqlite"\\n')
    >>> load_station_config(p)
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: ...unknown key 'code_stor' in [station]...
    """
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgumentError(f"cannot read config {path}: {exc}") from None
    for section, body in cfg.items():
        if section not in CONFIG_SCHEMA:
            raise InvalidArgumentError(
                f"config {path}: unknown section [{section}] "
                f"(known: {', '.join(f'[{s}]' for s in CONFIG_SCHEMA)})"
            )
        if not isinstance(body, dict):
            raise InvalidArgumentError(f"config {path}: {section} must be a [{section}] table")
        known = CONFIG_SCHEMA[section]
        if known is None:
            known = _option_keys() if section == "options" else _watch_keys()
        for key, value in body.items():
            if key not in known:
                raise InvalidArgumentError(
                    f"config {path}: unknown key {key!r} in [{section}] "
                    f"(known: {', '.join(sorted(known))})"
                )
            want = _TYPED_KEYS.get((section, key), str)
            if CONFIG_SCHEMA[section] is not None and not isinstance(value, want):
                raise InvalidArgumentError(
                    f"config {path}: [{section}] {key} must be a {_TYPE_NAMES[want]}, "
                    f"got {type(value).__name__}"
                )
    return cfg


def station_data_dir(config: dict[str, Any] | None = None) -> Path:
    """The per-machine data directory (code store, input fingerprints); not created here.

    Examples
    --------
    >>> station_data_dir({"station": {"data_dir": "/srv/onestop"}})
    PosixPath('/srv/onestop')
    """
    configured = (config or {}).get("station", {}).get("data_dir")
    if configured:
        return Path(configured)
    env = os.environ.get("ONESTOP_DATA_DIR")
    if env:
        return Path(env)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/onestop-docs")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "onestop-docs"


def default_code_store(config: dict[str, Any] | None = None) -> str:
    """``[station] code_store`` of the config, else ``codes.sqlite`` in the data directory.

    Examples
    --------
    >>> default_code_store({"station": {"code_store": "postgresql://db/motcua"}})
    'postgresql://db/motcua'
    """
    configured = (config or {}).get("station", {}).get("code_store")
    if configured:
        return str(configured)
    return str(station_data_dir(config) / "codes.sqlite")


def is_postgres_dsn(spec: str) -> bool:
    """True for a PostgreSQL URI or libpq ``key=value`` connection string.

    Examples
    --------
    >>> is_postgres_dsn("postgresql://onestop@db.tinh.gov.vn/motcua")
    True
    >>> is_postgres_dsn("host=db dbname=motcua"), is_postgres_dsn("/var/lib/codes.sqlite")
    (True, False)
    """
    s = spec.strip()
    if s.startswith(("postgresql://", "postgres://")):
        return True
    words = s.split()
    return bool(words) and all("=" in w for w in words) and not s.startswith(("/", "."))


def open_code_store(spec: str, *, out_dir: str | os.PathLike[str] | None = None) -> Any:
    """Open the code store ``spec`` names: a PostgreSQL DSN or an SQLite file path.

    Parameters
    ----------
    spec : str
        ``postgresql://...`` / ``host=... dbname=...``, or a file path (its folder is
        created).
    out_dir : path, optional
        The output folder of the run: an SQLite store inside it is refused, because each
        output folder would then count its own codes from 0001.

    Raises
    ------
    InvalidArgumentError
        The SQLite file lies inside ``out_dir``, or its folder cannot be created.
    CodeStoreError, MissingDependencyError
        From the store itself (unreachable server, psycopg missing).
    """
    from .codes import PostgresCodeStore, SQLiteCodeStore

    if is_postgres_dsn(spec):
        return PostgresCodeStore(spec)
    path = Path(spec).expanduser()
    if out_dir is not None:
        out = Path(out_dir).resolve()
        resolved = path.resolve()
        if resolved == out or out in resolved.parents:
            raise InvalidArgumentError(
                f"code store {path} is inside the output folder {out_dir}: every output "
                "folder would issue the same codes; use the station's data directory "
                f"(default {default_code_store()}) or [station] code_store"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot create the code store folder: {exc}") from None
    return SQLiteCodeStore(str(path))


def check_dossier_code(code: str, agency: str, *, today: _dt.date | None = None) -> Any:
    """Parse a dossier code given by the operator and check it belongs to this desk and day.

    The code's agency part must be the receiving ``agency`` (TT 01/2018/TT-VPCP Điều 19:
    the code is issued by the agency that receives the dossier) and its date must not lie
    in the future (Vietnam time).  Earlier dates are accepted: back-catalogue dossiers.

    Raises
    ------
    InvalidCodeError
        Malformed code or agency identifier.
    InvalidArgumentError
        Another agency's code, or a date after ``today``.

    Examples
    --------
    >>> import datetime
    >>> str(check_dossier_code("H27.01-210630-0001", "H27.01", today=datetime.date(2026, 1, 1)))
    'H27.01-210630-0001'
    >>> check_dossier_code("H27.01-270101-0001", "H27.01", today=datetime.date(2026, 1, 1))
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: ...in the future...
    """
    from .codes import AgencyId, DossierCode, vietnam_now

    parsed = DossierCode.parse(code)
    expected = AgencyId.parse(agency)
    if str(parsed.agency) != str(expected):
        raise InvalidArgumentError(
            f"dossier code {code} belongs to agency {parsed.agency}, "
            f"but this station receives for {expected}"
        )
    day = today or vietnam_now().date()
    if parsed.date > day:
        raise InvalidArgumentError(
            f"dossier code {code} is dated {parsed.date.isoformat()}, in the future "
            f"(today is {day.isoformat()}, Vietnam time)"
        )
    return parsed


def input_fingerprint(inputs: Sequence[str | os.PathLike[str]], *, context: str = "") -> str:
    """SHA-256 over the names and contents of the input files (folders walked in name order).

    Two runs over the same scans give the same fingerprint whatever their modification
    times; ``context`` separates runs that would lay the pages out differently (agency,
    ``--per-folder``, first component).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p1.png").write_bytes(b"page")
    >>> input_fingerprint([d]) == input_fingerprint([d]), len(input_fingerprint([d]))
    (True, 64)
    """
    h = hashlib.sha256(b"onestop-inputs-v1\0" + context.encode() + b"\0")
    for top in inputs:
        root = Path(top)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            rel = f.name if f == root else f.relative_to(root).as_posix()
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            with open(f, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()


class InputFingerprints:
    """Input fingerprint → dossier code, kept in the station's data directory.

    Written before any page work, so a run killed half-way resumes the same dossier code
    (and its ``.partial-…`` folder is cleaned) instead of issuing a new one.

    Examples
    --------
    >>> import tempfile
    >>> fp = InputFingerprints(tempfile.mkdtemp())
    >>> fp.lookup("ab" * 32) is None
    True
    >>> fp.remember("ab" * 32, "H27.01-210630-0001", source="scans/0001")
    >>> fp.lookup("ab" * 32)
    'H27.01-210630-0001'
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / "input-fingerprints.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"cannot read {self.path}: {exc}") from None
        return data if isinstance(data, dict) else {}

    def lookup(self, fingerprint: str) -> str | None:
        """The dossier code these inputs were given before, or None."""
        entry = self._read().get(fingerprint)
        return str(entry["dossier_code"]) if isinstance(entry, dict) else None

    def remember(self, fingerprint: str, dossier_code: str, *, source: str) -> None:
        """Record that these inputs are dossier ``dossier_code`` (atomic, process-safe)."""
        with self._locked() as data:
            self._store(data, fingerprint, dossier_code, source)

    def code_for(
        self, fingerprint: str, issue: Callable[[], str], *, source: str
    ) -> tuple[str, bool]:
        """The code these inputs had before (``(code, True)``), else ``issue()`` it and keep it.

        The lookup, the issue and the write happen under one file lock, so two runs started
        together on the same scans get one code.
        """
        with self._locked() as data:
            entry = data.get(fingerprint)
            if isinstance(entry, dict) and entry.get("dossier_code"):
                return str(entry["dossier_code"]), True
            code = issue()
            self._store(data, fingerprint, code, source)
            return code, False

    def _store(self, data: dict[str, Any], fingerprint: str, code: str, source: str) -> None:
        data[fingerprint] = {
            "dossier_code": code,
            "source": source,
            "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        atomic_write_bytes(
            self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        )
