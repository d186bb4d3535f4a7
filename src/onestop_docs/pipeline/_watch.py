"""A watched input folder: one sub-folder per dossier, digitized once, unattended.

Layout (``IN`` is the folder the scanners or clerks write to)::

    IN/<dossier>/           pages of one dossier (any page format, scanner PDFs)
    IN/<dossier>/READY      optional marker: take the folder now, without waiting to settle
    IN/_done/<dossier>/     originals of a digitized dossier, with result.json
    IN/_failed/<dossier>/   originals of a dossier that failed, with result.json and REASON.txt
    IN/.onestop-watch/      the watcher's journal, lock and the dossier being worked on

Folders whose names start with ``.`` or ``_`` are never taken.  A dossier is taken when its
marker file appears, or when nothing in it has changed (names, sizes, times) for
``settle_s`` seconds.  Taking it is an atomic rename into ``.onestop-watch/claimed/``, so a
scanner still writing never sees its folder half-processed and two watchers never take the
same folder (one watcher per ``IN`` is enforced with a lock file).

Every step is written to an append-only journal (``journal.jsonl``, fsync'd line by line)
before the next one starts: claimed → started (with the dossier code issued for it) →
digitized (the record) → moved.  A watcher killed at any point finds the claimed folder and
its journal on restart and finishes it with the **same** dossier code: :func:`digitize`
returns a complete record as it is and redoes an incomplete one, so nothing is lost and
nothing is digitized twice.  A code issued just before a kill and not yet journaled is
skipped (a gap in the sequence), never issued twice.

The input fingerprint of a dossier is the SHA-256 over its files' SHA-256 digests, sorted
(names, order and the marker file do not count).  A dossier whose fingerprint was digitized
before is moved to ``_done`` with a note naming the earlier record, not digitized again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._fileutil import atomic_write_bytes, fsync_dir
from ..errors import InvalidArgumentError, MissingDependencyError, OnestopError
from ..types import VN_TZ
from ._record import digitize
from ._types import DigitizeOptions

__all__ = ["DossierWatcher", "WatchOutcome", "WatchSettings", "input_fingerprint"]

STATE_DIR = ".onestop-watch"
RESULT_NAME = "result.json"
REASON_NAME = "REASON.txt"


@dataclass(frozen=True)
class WatchSettings:
    """How the watcher decides a dossier folder is complete, and where originals go.

    Attributes
    ----------
    settle_s : float
        A folder unchanged for this long is complete (default 30 s).
    marker : str or None
        Name of the file that marks a folder complete at once (default ``READY``).
    require_marker : bool
        Take folders only when their marker is there (never by settle time).
    poll_s : float
        Seconds between two looks at ``IN``.
    done_dir, failed_dir : path or None
        Where originals go (default ``IN/_done`` and ``IN/_failed``).  They must be on the
        file system of ``IN``: moves are renames.
    """

    settle_s: float = 30.0
    marker: str | None = "READY"
    require_marker: bool = False
    poll_s: float = 5.0
    done_dir: Path | None = None
    failed_dir: Path | None = None

    def __post_init__(self) -> None:
        for name in ("settle_s", "poll_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 86400:
                raise InvalidArgumentError(f"{name} must be 0..86400 seconds, got {v!r}")
        if self.marker is not None and (not self.marker or "/" in self.marker):
            raise InvalidArgumentError(f"marker must be a plain file name, got {self.marker!r}")
        if self.require_marker and self.marker is None:
            raise InvalidArgumentError("require_marker needs a marker name")


@dataclass(frozen=True)
class WatchOutcome:
    """What became of one dossier folder.

    ``status``: "done" (digitized), "duplicate" (the same inputs were digitized before, as
    ``record_id``) or "failed" (``reason`` says why).
    """

    name: str
    status: Literal["done", "duplicate", "failed"]
    fingerprint: str | None
    record_id: str | None
    moved_to: str
    reason: str | None = None


def input_fingerprint(folder: str | os.PathLike[str], *, ignore: tuple[str, ...] = ()) -> str:
    """SHA-256 over the sorted SHA-256 digests of every file in ``folder`` (recursively).

    File names and order do not count, so the same scans submitted again under another
    folder name are recognised.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> a, b = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
    >>> _ = (a / "1.png").write_bytes(b"x"), (a / "2.png").write_bytes(b"y")
    >>> _ = (b / "p2.png").write_bytes(b"x"), (b / "p1.png").write_bytes(b"y")
    >>> input_fingerprint(a) == input_fingerprint(b)
    True
    """
    digests = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.name not in ignore:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digests.append(h.hexdigest())
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(VN_TZ).replace(microsecond=0).isoformat()


class _Journal:
    """Append-only JSON lines, fsync'd one by one; a torn last line (a kill) is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict):
                        self.events.append(event)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends

    def append(self, **event: Any) -> None:
        event = {"time": _now(), **event}
        self._fh.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.events.append(event)

    def last(self, claim: str) -> dict[str, Any]:
        """Everything known about one claim (later events override earlier fields)."""
        merged: dict[str, Any] = {}
        for e in self.events:
            if e.get("claim") == claim:
                merged.update(e)
        return merged

    def digitized(self) -> dict[str, str]:
        """Fingerprint → record id of every dossier digitized so far."""
        return {
            e["fingerprint"]: e["record_id"]
            for e in self.events
            if e.get("event") == "digitized" and e.get("status") == "done"
        }

    def close(self) -> None:
        self._fh.close()


class DossierWatcher:
    """Digitize each dossier folder that appears in ``in_dir`` exactly once.

    Parameters
    ----------
    in_dir, out_dir : path
        The watched folder and the records folder (as for :func:`digitize`).
    agency : str
        Receiving agency identifier.
    issue_code : callable
        ``issue_code()`` returns the next dossier code (mã số hồ sơ) from the station's store.
    settings : WatchSettings, optional
    officer, organisation, officer_name, agency_name, options, log
        As for :func:`digitize`.
    on_event : callable, optional
        ``on_event(outcome)`` after each dossier.

    Raises
    ------
    InvalidArgumentError
        ``in_dir`` missing, or the done/failed folders on another file system.
    PipelineError
        Another watcher holds ``in_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> w = DossierWatcher(root / "in", root / "out", agency="000.00.00.H27",
    ...                    issue_code=lambda: "000.00.00.H27-210630-0001")
    >>> w.poll()
    []
    >>> w.close()
    """

    def __init__(
        self,
        in_dir: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        *,
        agency: str,
        issue_code: Callable[[], str],
        settings: WatchSettings | None = None,
        officer: Any = None,
        organisation: Any = None,
        officer_name: str | None = None,
        agency_name: str | None = None,
        options: DigitizeOptions | None = None,
        log: Any = None,
        on_event: Callable[[WatchOutcome], None] | None = None,
    ) -> None:
        from ..errors import PipelineError

        self.in_dir = Path(in_dir)
        self.in_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = Path(out_dir)
        self.settings = settings or WatchSettings()
        self.done_dir = self.settings.done_dir or self.in_dir / "_done"
        self.failed_dir = self.settings.failed_dir or self.in_dir / "_failed"
        self.state = self.in_dir / STATE_DIR
        self.claimed = self.state / "claimed"
        for d in (self.done_dir, self.failed_dir, self.claimed, self.out_dir):
            d.mkdir(parents=True, exist_ok=True)
        dev = self.in_dir.stat().st_dev
        for d in (self.done_dir, self.failed_dir):
            if d.stat().st_dev != dev:
                raise InvalidArgumentError(
                    f"{d} is on another file system than {self.in_dir}; moves must be renames"
                )
        self._lock_fh = open(self.state / "lock", "w")  # noqa: SIM115 - held while watching
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            raise PipelineError(f"another watcher is running on {self.in_dir}") from None
        self.journal = _Journal(self.state / "journal.jsonl")
        self._digitized = self.journal.digitized()
        self._seen: dict[str, tuple[tuple[Any, ...], float]] = {}
        self.agency = agency
        self.issue_code = issue_code
        self.kwargs: dict[str, Any] = {
            "officer": officer,
            "organisation": organisation,
            "officer_name": officer_name,
            "agency_name": agency_name,
            "options": options,
            "log": log,
        }
        self.on_event = on_event

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll until ``stop`` is set (a dossier being worked on is finished first)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            self.poll(stop)
            stop.wait(self.settings.poll_s)

    def poll(self, stop: threading.Event | None = None) -> list[WatchOutcome]:
        """One pass: finish interrupted dossiers, then take every complete folder."""
        outcomes = [self._finish(c) for c in sorted(self.claimed.iterdir()) if c.is_dir()]
        for folder in self._ready():
            if stop is not None and stop.is_set():
                break
            claim = self._claim(folder)
            if claim is not None:
                outcomes.append(self._finish(claim))
        return outcomes

    def close(self) -> None:
        """Release the journal and the lock."""
        self.journal.close()
        self._lock_fh.close()

    # --- steps ------------------------------------------------------------------------------

    def _ready(self) -> list[Path]:
        now = time.monotonic()
        ready = []
        present = set()
        for folder in sorted(self.in_dir.iterdir()):
            if not folder.is_dir() or folder.name[:1] in (".", "_"):
                continue
            if folder.resolve() in (self.done_dir.resolve(), self.failed_dir.resolve()):
                continue
            present.add(folder.name)
            marker = self.settings.marker
            if marker is not None and (folder / marker).is_file():
                ready.append(folder)
                continue
            if self.settings.require_marker:
                continue
            snap = _snapshot(folder)
            prev = self._seen.get(folder.name)
            if prev is None or prev[0] != snap:
                self._seen[folder.name] = (snap, now)
            elif snap and now - prev[1] >= self.settings.settle_s:
                ready.append(folder)
        self._seen = {k: v for k, v in self._seen.items() if k in present}
        return ready

    def _claim(self, folder: Path) -> Path | None:
        stamp = dt.datetime.now(VN_TZ).strftime("%Y%m%dT%H%M%S")
        claim = self.claimed / f"{stamp}-{os.getpid()}-{folder.name}"
        self.journal.append(event="claimed", claim=claim.name, name=folder.name)
        try:
            os.rename(folder, claim)  # atomic: the folder is ours, whole
        except OSError as exc:  # gone or renamed meanwhile: look again next time
            self.journal.append(event="unclaimed", claim=claim.name, reason=str(exc))
            return None
        fsync_dir(self.in_dir)
        fsync_dir(self.claimed)
        self._seen.pop(folder.name, None)
        return claim

    def _finish(self, claim: Path) -> WatchOutcome:
        info = self.journal.last(claim.name)
        name = info.get("name") or claim.name
        fingerprint = info.get("fingerprint")
        try:
            # Killed after a decision was journaled but before the move: just move.
            if info.get("event") == "digitized":
                return self._move(claim, name, info["status"], fingerprint, info["record_id"])
            if info.get("event") == "failed":
                return self._move(claim, name, "failed", fingerprint, None, info.get("reason"))
            marker = self.settings.marker
            if marker is not None and (claim / marker).is_file():
                (claim / marker).unlink()  # a signal to us, not a page of the dossier
            problems = self._check_inputs(claim)
            if problems:
                return self._fail(claim, name, fingerprint, "; ".join(problems))
            if fingerprint is None:
                fingerprint = input_fingerprint(claim, ignore=self._ignored())
                self.journal.append(event="fingerprint", claim=claim.name, fingerprint=fingerprint)
            earlier = self._digitized.get(fingerprint)
            if earlier is not None and info.get("code") is None:
                self.journal.append(
                    event="digitized", claim=claim.name, record_id=earlier, status="duplicate"
                )
                return self._move(claim, name, "duplicate", fingerprint, earlier)
            code = info.get("code")
            if code is None:
                code = str(self.issue_code())
                self.journal.append(event="started", claim=claim.name, code=code)
            rec = digitize(
                claim,
                out_dir=self.out_dir,
                dossier_code=code,
                agency=self.agency,
                **self.kwargs,
            )
            if rec.input_findings:
                detail = "; ".join(f"{f['source']}: {f['message']}" for f in rec.input_findings)
                return self._fail(
                    claim, name, fingerprint, f"inputs not used in {rec.record_id}: {detail}"
                )
            self._digitized[fingerprint] = rec.record_id
            self.journal.append(
                event="digitized",
                claim=claim.name,
                fingerprint=fingerprint,
                record_id=rec.record_id,
                status="done",
            )
            return self._move(claim, name, "done", fingerprint, rec.record_id)
        except MissingDependencyError:
            raise  # the station is broken, not the dossier: stop and say so
        except (OnestopError, OSError) as exc:
            return self._fail(claim, name, fingerprint, f"{type(exc).__name__}: {exc}")

    def _ignored(self) -> tuple[str, ...]:
        names = [RESULT_NAME, REASON_NAME]
        if self.settings.marker:
            names.append(self.settings.marker)
        return tuple(names)

    def _check_inputs(self, claim: Path) -> list[str]:
        """Files that cannot be pages: the dossier fails before any code is issued."""
        from ..imageio import count_pages
        from ..pdfinput import inspect_pdf, is_pdf

        options = self.kwargs["options"] or DigitizeOptions()
        problems = []
        files = []
        for path in sorted(claim.iterdir()):
            if path.name in self._ignored():
                continue
            if not path.is_file():
                problems.append(f"{path.name}: a folder inside the dossier (pages go at the top)")
                continue
            files.append(path)
            try:
                if is_pdf(path):
                    summary = inspect_pdf(path)
                    if summary.text_pages and options.pdf_text == "refuse":
                        problems.append(
                            f"{path.name}: pages {list(summary.text_pages)} already have text"
                        )
                else:
                    count_pages(path)
            except OnestopError as exc:
                problems.append(f"{path.name}: {exc}")
        if not files:
            problems.append("no page files in the dossier folder")
        return problems

    def _fail(self, claim: Path, name: str, fingerprint: str | None, reason: str) -> WatchOutcome:
        self.journal.append(event="failed", claim=claim.name, status="failed", reason=reason)
        atomic_write_bytes(claim / REASON_NAME, (reason + "\n").encode("utf-8"))
        return self._move(claim, name, "failed", fingerprint, None, reason)

    def _move(
        self,
        claim: Path,
        name: str,
        status: Literal["done", "duplicate", "failed"],
        fingerprint: str | None,
        record_id: str | None,
        reason: str | None = None,
    ) -> WatchOutcome:
        if status == "duplicate" and reason is None:
            reason = f"the same inputs were digitized before as {record_id}; not digitized again"
        result = {
            "name": name,
            "status": status,
            "fingerprint": fingerprint,
            "record_id": record_id,
            "record": None if record_id is None else str(self.out_dir / record_id),
            "reason": reason,
            "time": _now(),
        }
        atomic_write_bytes(
            claim / RESULT_NAME, json.dumps(result, ensure_ascii=False, indent=1).encode()
        )
        target_root = self.failed_dir if status == "failed" else self.done_dir
        target = target_root / name
        n = 1
        while target.exists():
            n += 1
            target = target_root / f"{name}.{n}"
        os.rename(claim, target)
        fsync_dir(target_root)
        fsync_dir(self.claimed)
        self.journal.append(event="moved", claim=claim.name, to=str(target), status=status)
        outcome = WatchOutcome(name, status, fingerprint, record_id, str(target), reason)
        if self.on_event is not None:
            self.on_event(outcome)
        return outcome


def _snapshot(folder: Path) -> tuple[Any, ...]:
    """Names, sizes and modification times of everything in ``folder`` (for settling)."""
    items = []
    for path in sorted(folder.rglob("*")):
        with contextlib.suppress(OSError):
            st = path.stat()
            items.append((str(path.relative_to(folder)), st.st_size, st.st_mtime_ns))
    return tuple(items)
