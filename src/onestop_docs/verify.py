"""Verify what ``digitize`` wrote: bags, signatures, metadata and the transparency log.

:func:`verify_path` takes an output folder of :func:`onestop_docs.pipeline.digitize_batch`
(or a single record folder) and checks, for every record:

* the BagIt bag validates (no missing, extra or altered file);
* every PDF signature is intact and chains to one of the given trust roots (there is no
  default trust store: a signed record checked without trust roots is reported as a problem);
* the metadata XML parses safely, validates against the shipped XSD and names the same
  dossier code as the record;
* the record's digest is in the station's transparency log, whose hash chain is intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OnestopError

__all__ = ["RecordCheck", "VerifyReport", "verify_path", "verify_record"]


@dataclass(frozen=True)
class RecordCheck:
    """Verification of one record folder; ``problems`` empty means it verified."""

    record_id: str
    directory: str
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    signatures: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


@dataclass(frozen=True)
class VerifyReport:
    """All records under a path, plus log-level problems."""

    records: tuple[RecordCheck, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every record verified and the log is intact."""
        return not self.problems and all(r.ok for r in self.records) and bool(self.records)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "records": [
                {
                    "record_id": r.record_id,
                    "directory": r.directory,
                    "ok": r.ok,
                    "problems": list(r.problems),
                    "notes": list(r.notes),
                    "signatures": list(r.signatures),
                }
                for r in self.records
            ],
        }

    def summary(self) -> str:
        """Human-readable lines."""
        lines = [
            f"{r.record_id}: {'OK' if r.ok else 'FAILED'}"
            + "".join(f"\n  - {p}" for p in r.problems)
            + "".join(f"\n  · {n}" for n in r.notes)
            for r in self.records
        ]
        lines += [f"PROBLEM: {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        if not self.records:
            lines.append("no records found")
        return "\n".join(lines)


def _record_dirs(path: Path) -> list[Path]:
    if (path / "bagit.txt").is_file():
        return [path]
    return sorted(
        p
        for p in path.iterdir()
        if p.is_dir() and (p / "bagit.txt").is_file() and not p.name.startswith(".")
    )


def verify_record(
    directory: str | os.PathLike[str], *, trust_roots: Sequence[Any] = ()
) -> RecordCheck:
    """Verify one record folder (see the module docstring for what is checked).

    Never raises for a bad record: every problem is listed in the result.
    """
    from .integrity import Manifest
    from .pipeline import REPORT_NAME

    d = Path(directory)
    problems: list[str] = []
    notes: list[str] = []
    sigs: list[dict[str, Any]] = []
    record_id = d.name
    try:
        bag = Manifest.validate(d)
        if not bag.valid:
            for kind, names in (
                ("missing", bag.missing),
                ("extra", bag.extra),
                ("altered", bag.altered),
            ):
                problems.extend(f"bag: {kind} file {name}" for name in names)
            problems.extend(f"bag: {p}" for p in bag.problems)  # sentences, not file names
            if not problems:
                problems.append("bag: does not validate")
    except OnestopError as exc:
        problems.append(f"bag: {exc}")
    report_path = d / "data" / REPORT_NAME
    dossier_code = None
    try:
        rep = json.loads(report_path.read_text(encoding="utf-8"))
        record_id = rep.get("record_id", record_id)
        dossier_code = rep.get("dossier_code")
        expected_sigs = rep.get("signatures", [])
    except (OSError, ValueError) as exc:
        problems.append(f"report.json unreadable: {exc}")
        expected_sigs = []
    pdfs = sorted((d / "data").glob("*.pdf"))
    if not pdfs:
        problems.append("no PDF in data/")
    for pdf in pdfs:
        if not expected_sigs:
            notes.append(f"{pdf.name}: unsigned record")
            continue
        if not trust_roots:
            problems.append(
                f"{pdf.name}: signatures not verified: no trust roots given (--trust-root); "
                "there is no default trust store"
            )
            continue
        try:
            from .signing import verify_pdf

            report = verify_pdf(pdf, trust_roots=list(trust_roots))
            parts = report.signatures or (report,)
            if len(parts) < len(expected_sigs):
                problems.append(
                    f"{pdf.name}: {len(parts)} signature(s), expected {len(expected_sigs)}"
                )
            for r in parts:
                sigs.append(
                    {
                        "signer": r.signer_subject,
                        "intact": r.intact,
                        "trusted": r.trusted,
                        "valid": r.valid,
                        # JSON null when absent, never the string "None".
                        "signing_time": _iso(r.signing_time),
                        "timestamp_time": _iso(r.timestamp_time),
                    }
                )
            if not report.valid:
                problems.extend(f"{pdf.name}: {p}" for p in report.problems)
                if not report.problems:
                    problems.append(f"{pdf.name}: signature verification failed")
        except OnestopError as exc:
            problems.append(f"{pdf.name}: {exc}")
    for xml in sorted((d / "data").glob("*.xml")):
        try:
            from .metadata import from_xml

            meta = from_xml(xml.read_bytes())
            if dossier_code and meta.dossier_code != dossier_code:
                problems.append(
                    f"{xml.name}: dossier code {meta.dossier_code} != record's {dossier_code}"
                )
        except OnestopError as exc:
            problems.append(f"{xml.name}: {exc}")
    return RecordCheck(record_id, str(d), tuple(problems), tuple(notes), tuple(sigs))


def verify_path(path: str | os.PathLike[str], *, trust_roots: Sequence[Any] = ()) -> VerifyReport:
    """Verify every record under ``path`` and the transparency log beside them.

    Examples
    --------
    >>> import tempfile
    >>> verify_path(tempfile.mkdtemp()).ok
    False
    """
    p = Path(path)
    dirs = _record_dirs(p) if p.is_dir() else []
    checks = [verify_record(d, trust_roots=trust_roots) for d in dirs]
    problems: list[str] = []
    notes: list[str] = []
    log_file = p / "transparency.log"
    if log_file.exists():
        try:
            from .integrity import TransparencyLog
            from .pipeline import load_record
            from .pipeline._record import _log_entry

            log = TransparencyLog(log_file, create=False, read_only=True)
            try:
                for d in dirs:
                    try:
                        rec = load_record(d)
                    except OnestopError:
                        continue
                    if log.find(_log_entry(rec)) is None:
                        problems.append(
                            f"{rec.record_id}: not in the transparency log (or altered since)"
                        )
                notes.append(f"transparency log: {len(log)} entries, hash chain intact")
            finally:
                log.close()
        except OnestopError as exc:
            problems.append(f"transparency log: {exc}")
    return VerifyReport(tuple(checks), tuple(problems), tuple(notes))


def _iso(moment: Any) -> str | None:
    """The text of a datetime as before (``str``), None when there is none."""
    return None if moment is None else str(moment)
