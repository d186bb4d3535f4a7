"""Verify what ``digitize`` wrote, trusting only signed and logged facts (docs/integrity.md).

:func:`verify_path` takes an output folder of :func:`onestop_docs.pipeline.digitize_batch`
(or one record folder) and checks:

* the transparency log beside the records: present, its hash chain intact, its state signed
  by a certificate chaining to the trust roots (``transparency.log.checkpoint`` + ``.p7s``)
  and consistent with every earlier checkpoint the caller has seen;
* the log both ways: every logged record is present, every record is logged;
* for every record, against its **logged statement** (never against ``report.json``): the
  SHA-256 of the PDF, the XML and both bag manifests, the page count and the signature
  roles; the bag validates; every PDF signature is intact and chains to a trust root (an
  unsigned record fails unless ``allow_unsigned``); the PDF's signed XMP names this record
  id and dossier code, and so does the metadata XML, whose enveloped XMLDSig signature is
  intact, chains to a trust root and was made by the certificate that signed the PDF as the
  organisation (or the officer, for a record without an organisation signature).

:func:`verify_record_pdf` checks one record PDF on its own (a kiosk upload).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OnestopError

__all__ = [
    "PdfRecordCheck",
    "RecordCheck",
    "VerifyReport",
    "pdf_record_facts",
    "verify_path",
    "verify_record",
    "verify_record_pdf",
]

LOG_NAME = "transparency.log"
_UNSIGNED = (
    "unsigned record: the scanning officer's signature is required (TT 01/2023/TT-VPCP Điều 8); "
    "pass --allow-unsigned to accept drafts"
)


@dataclass(frozen=True)
class RecordCheck:
    """Verification of one record folder; ``problems`` empty means it verified."""

    record_id: str
    directory: str
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    signatures: tuple[dict[str, Any], ...] = ()
    log_index: int | None = None

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
                    "log_index": r.log_index,
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


# --------------------------------------------------------------------------- PDF facts


def pdf_record_facts(pdf: str | os.PathLike[str]) -> dict[str, str]:
    """The record facts a record PDF carries in its XMP ``dc:relation`` (``RecordId``, ...).

    Keys are those of :data:`onestop_docs.pdf.XMP_RELATION_KEYS`; a PDF that is not a record
    gives ``{}``.  In a signed PDF the XMP is read from the revision the last signature covers,
    never from a later incremental update: PAdES lets a later revision replace the XMP stream
    (pyHanko's difference analysis counts it a long-term update), so a record id written
    after signing would not be signed.

    Examples
    --------
    >>> pdf_record_facts("/nonexistent.pdf")
    {}
    """
    import io

    try:
        import pikepdf
        from lxml import etree
    except ImportError:  # pragma: no cover - both are core dependencies of the pdf extra
        return {}
    try:
        data = Path(pdf).read_bytes()
    except OSError:
        return {}
    signed = _signed_prefix(data)
    try:
        with pikepdf.open(io.BytesIO(signed if signed is not None else data)) as doc:
            md = doc.Root.get("/Metadata")
            if md is None:
                return {}
            raw = md.read_bytes()
    except Exception:  # not a PDF: the signature check reports it
        return {}
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(raw.strip(), parser)
    except etree.XMLSyntaxError:
        return {}
    if root.getroottree().docinfo.internalDTD is not None:
        return {}
    out: dict[str, str] = {}
    rel = "{http://purl.org/dc/elements/1.1/}relation"
    li = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"
    for el in root.iter(rel):
        for item in el.iter(li):
            text = (item.text or "").strip()
            if text.startswith("onestop:") and "=" in text:
                key, _, value = text[len("onestop:") :].partition("=")
                out.setdefault(key, value)
    return out


def _signed_prefix(data: bytes) -> bytes | None:
    """The bytes of the revision the last signature covers, or None for an unsigned PDF."""
    try:
        import io

        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = [s for s in reader.embedded_signatures if s.sig_object_type == "/Sig"]
        if not sigs:
            return None
        start, _, second_start, second_len = (int(x) for x in sigs[-1].sig_object["/ByteRange"])
        end = second_start + second_len
        if start != 0 or not 0 < end <= len(data):
            return None
        return data[:end]
    except Exception:  # unreadable: the signature check reports it
        return None


def _signature_problems(
    pdf: Path,
    *,
    trust_roots: Sequence[Any],
    required: Sequence[str] | None,
    allow_unsigned: bool,
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(problems, notes, signature summaries) of a record PDF's signatures."""
    from .signing import verify_pdf

    problems: list[str] = []
    notes: list[str] = []
    sigs: list[dict[str, Any]] = []
    if not trust_roots:
        probe = _count_signatures(pdf)
        if probe == 0:
            if allow_unsigned and not required:
                notes.append(f"{pdf.name}: unsigned record (allowed)")
            else:
                problems.append(f"{pdf.name}: {_UNSIGNED}")
        else:
            problems.append(
                f"{pdf.name}: signatures not verified: no trust roots given (--trust-root); "
                "there is no default trust store"
            )
        return problems, notes, sigs
    report = verify_pdf(pdf, trust_roots=list(trust_roots))
    if report.has("no-signature"):
        if required:
            problems.append(
                f"{pdf.name}: unsigned, but the record was logged with signatures "
                f"{', '.join(required)} (stripped?)"
            )
        elif not allow_unsigned:
            problems.append(f"{pdf.name}: {_UNSIGNED}")
        else:
            notes.append(f"{pdf.name}: unsigned record (allowed)")
        return problems, notes, sigs
    parts = report.signatures or (report,)
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
                "problems": [str(p) for p in r.problems],
            }
        )
    if required is not None and len(parts) < len(required):
        problems.append(
            f"{pdf.name}: {len(parts)} signature(s), the logged record has {len(required)} "
            f"({', '.join(required)})"
        )
    if not report.valid:
        problems.extend(f"{pdf.name}: {p}" for p in report.problems)
        if not report.problems:
            problems.append(f"{pdf.name}: signature verification failed")
    return problems, notes, sigs


def _count_signatures(pdf: Path) -> int:
    try:
        import io

        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
        return len(list(reader.embedded_regular_signatures))
    except Exception:
        return 0


# --------------------------------------------------------------------------- one record


def verify_record(
    directory: str | os.PathLike[str],
    *,
    trust_roots: Sequence[Any] = (),
    statement: Any | None = None,
    allow_unsigned: bool = False,
    log_index: int | None = None,
) -> RecordCheck:
    """Verify one record folder (see the module docstring for what is checked).

    Parameters
    ----------
    directory : path
        The record folder (a BagIt bag named after the record id).
    trust_roots : sequence
        Roots for the PDF signatures (no default trust store).
    statement : RecordStatement, optional
        The record's logged statement (:mod:`onestop_docs.integrity.statement`).  Without it
        only what the signed PDF itself says can be checked; :func:`verify_path` passes it.
    allow_unsigned : bool
        Accept an unsigned record (a draft) with a note instead of a problem.

    Never raises for a bad record: every problem is listed in the result.

    Examples
    --------
    >>> import tempfile
    >>> verify_record(tempfile.mkdtemp()).ok
    False
    """
    from .integrity import Manifest

    d = Path(directory)
    problems: list[str] = []
    notes: list[str] = []
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
    if statement is not None:
        problems.extend(statement.mismatches(d))
    pdf = d / "data" / f"{record_id}.pdf"
    sigs: list[dict[str, Any]] = []
    if not pdf.is_file():
        problems.append(f"data/{pdf.name} is missing")
    else:
        p, n, sigs = _signature_problems(
            pdf,
            trust_roots=trust_roots,
            required=statement.signatures if statement is not None else None,
            allow_unsigned=allow_unsigned,
        )
        problems += p
        notes += n
        facts = pdf_record_facts(pdf)
        problems.extend(_facts_problems(pdf.name, facts, record_id, statement))
    xml = d / "data" / f"{record_id}.xml"
    if not xml.is_file():
        problems.append(f"data/{xml.name} is missing")
    else:
        try:
            from .metadata import from_xml

            xml_data = xml.read_bytes()
            p, n = _xml_signature_problems(
                xml.name,
                xml_data,
                pdf,
                trust_roots=trust_roots,
                required=statement.signatures if statement is not None else None,
                allow_unsigned=allow_unsigned,
            )
            problems += p
            notes += n
            meta = from_xml(xml_data)
            want = statement.dossier_code if statement is not None else None
            want = want or (facts.get("DossierCode") if pdf.is_file() else None)
            if want and meta.dossier_code != want:
                problems.append(
                    f"{xml.name}: dossier code {meta.dossier_code} differs from the record's {want}"
                )
            if statement is not None and meta.page_amount not in (None, statement.page_count):
                problems.append(
                    f"{xml.name}: page amount {meta.page_amount} differs from the logged "
                    f"{statement.page_count}"
                )
        except OnestopError as exc:
            problems.append(f"{xml.name}: {exc}")
    return RecordCheck(record_id, str(d), tuple(problems), tuple(notes), tuple(sigs), log_index)


def _xml_signature_problems(
    name: str,
    data: bytes,
    pdf: Path,
    *,
    trust_roots: Sequence[Any],
    required: Sequence[str] | None,
    allow_unsigned: bool,
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the metadata XML's enveloped XMLDSig signature.

    The XML must be signed by the organisation (the officer when the record has no
    organisation signature) with the very certificate that signed the PDF in that role; a
    signature by any other key, even one chaining to a trust root, is a problem.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    from .signing.xml import signer_certificate, verify_xml

    pdf_certs = _pdf_signer_certificates(pdf)
    roles = tuple(required) if required is not None else None
    if not trust_roots:
        if signer_certificate(data) is None and not pdf_certs and not roles:
            return _xml_unsigned(name, roles, allow_unsigned)
        return [
            f"{name}: XML signature not verified: no trust roots given (--trust-root); "
            "there is no default trust store"
        ], []
    report = verify_xml(data, trust_roots=list(trust_roots))
    if report.has("no-signature"):
        if pdf_certs and not roles:
            return [f"{name}: not signed, but the record's PDF is (signature stripped?)"], []
        return _xml_unsigned(name, roles, allow_unsigned)
    if not report.valid:
        out = [f"{name}: XML signature: {p}" for p in report.problems]
        return out or [f"{name}: XML signature verification failed"], []
    leaf = signer_certificate(data)
    der = leaf.public_bytes(Encoding.DER) if leaf is not None else b""
    if roles:
        role = "organisation" if "organisation" in roles else roles[0]
        i = roles.index(role)
        expected = pdf_certs[i : i + 1]
        who = f"the {role} that signed the PDF"
    else:
        expected, who = pdf_certs, "a signer of the PDF"
    if der not in expected:
        return [
            f"{name}: signed by {report.signer_subject}, not by {who} (another key; "
            "the metadata was replaced or re-signed?)"
        ], []
    return [], []


def _xml_unsigned(
    name: str, roles: tuple[str, ...] | None, allow_unsigned: bool
) -> tuple[list[str], list[str]]:
    if roles:
        return [
            f"{name}: not signed, but the record was logged with signatures "
            f"{', '.join(roles)} (signature stripped?)"
        ], []
    if allow_unsigned:
        return [], [f"{name}: unsigned metadata (allowed)"]
    return [f"{name}: not signed; pass --allow-unsigned to accept drafts"], []


def _pdf_signer_certificates(pdf: Path) -> list[bytes]:
    """DER certificates of the PDF's signatures, in signing order (``[]`` if unreadable)."""
    try:
        import io

        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
        sigs = sorted(reader.embedded_regular_signatures, key=lambda s: s.signed_revision)
        return [bytes(s.signer_cert.dump()) for s in sigs]
    except Exception:  # unreadable or missing: the PDF checks report it
        return []


def _facts_problems(
    name: str, facts: dict[str, str], record_id: str | None, statement: Any | None
) -> list[str]:
    out = []
    got = facts.get("RecordId")
    if got is None:
        out.append(
            f"{name}: its metadata (XMP) names no record id; not a record PDF of this version"
        )
    elif record_id is not None and got != record_id:
        out.append(f"{name}: the PDF belongs to record {got}, not {record_id} (swapped?)")
    if statement is not None:
        code = facts.get("DossierCode")
        if code != statement.dossier_code:
            out.append(
                f"{name}: dossier code {code} in the PDF differs from the logged "
                f"{statement.dossier_code}"
            )
        pages = facts.get("PageCount")
        if pages is not None and pages != str(statement.page_count):
            out.append(f"{name}: {pages} pages in the PDF, {statement.page_count} logged")
    return out


# --------------------------------------------------------------------------- the log


def _open_log(
    log_path: Path,
    *,
    trust_roots: Sequence[Any],
    checkpoints: Sequence[str | os.PathLike[str]],
    allow_unsigned: bool,
    problems: list[str],
    notes: list[str],
) -> tuple[Any, dict[str, Any]] | None:
    """Open the log read-only and check it against its signed checkpoint and ``checkpoints``.

    Returns ``(log, {record_id: (index, statement)})`` or None when it cannot be used.
    """
    from .integrity import TransparencyLog
    from .integrity.checkpoint import Checkpoint
    from .integrity.statement import read_statements

    if not log_path.exists():
        problems.append(
            f"transparency log {log_path} is missing: the records cannot be checked against "
            "what the station logged (deleted or replaced?)"
        )
        return None
    try:
        log = TransparencyLog(log_path, create=False, read_only=True)
    except (OnestopError, OSError) as exc:
        problems.append(f"transparency log: {exc}")
        return None
    size = len(log)
    notes.append(f"transparency log {log_path.name}: {size} entries, hash chain intact")
    signed_size = 0
    unsigned_ok = False  # drafts (--allow-unsigned) may have a log nobody signed
    if trust_roots:
        from .signing.logsig import checkpoint_paths, read_signed_checkpoint

        if allow_unsigned and not any(p.exists() for p in checkpoint_paths(log_path)):
            unsigned_ok = True
            notes.append("the log's state is not signed (no checkpoint): accepted for drafts")
        else:
            try:
                cp = read_signed_checkpoint(log_path, trust_roots=list(trust_roots))
            except OnestopError as exc:
                problems.append(f"transparency log: {exc}")
            else:
                if (
                    cp.origin != log.origin
                    or cp.tree_size > size
                    or log.root(cp.tree_size) != cp.root_hash
                ):
                    problems.append(
                        f"transparency log: the signed checkpoint ({cp.tree_size} entries) does "
                        "not match the log (log rewritten, forked or truncated)"
                    )
                else:
                    signed_size = cp.tree_size
                    notes.append(f"signed checkpoint covers {cp.tree_size} entries")
    elif allow_unsigned:
        unsigned_ok = True
    else:
        problems.append(
            "transparency log: its signed checkpoint was not verified: no trust roots given"
        )
    if signed_size < size and not unsigned_ok:
        problems.append(
            f"transparency log: entries {signed_size}..{size - 1} are not covered by a valid "
            "signed checkpoint"
        )
    for path in checkpoints:
        try:
            seen = Checkpoint.from_body(Path(path).read_bytes())
        except (OnestopError, OSError) as exc:
            problems.append(f"checkpoint {path}: {exc}")
            continue
        if seen.origin != log.origin:
            problems.append(f"checkpoint {path}: for log {seen.origin!r}, not {log.origin!r}")
        elif seen.tree_size > size or log.root(seen.tree_size) != seen.root_hash:
            problems.append(
                f"checkpoint {path} ({seen.tree_size} entries) is not consistent with the log "
                f"({size} entries): the log was rolled back or forked since it was seen"
            )
        else:
            notes.append(
                f"consistent with the checkpoint {Path(path).name} ({seen.tree_size} entries)"
            )
    by_id, foreign = read_statements(log)
    if foreign:
        notes.append(f"{len(foreign)} log entries are not record statements (older format)")
    return log, by_id


def verify_path(
    path: str | os.PathLike[str],
    *,
    trust_roots: Sequence[Any] = (),
    log_path: str | os.PathLike[str] | None = None,
    checkpoints: Sequence[str | os.PathLike[str]] = (),
    allow_unsigned: bool = False,
) -> VerifyReport:
    """Verify every record under ``path`` and the transparency log beside them.

    Parameters
    ----------
    path : path
        An output folder of ``digitize`` or one record folder.
    trust_roots : sequence
        Roots for the PDF signatures and the log's signed checkpoint.
    log_path : path, optional
        The station's log (default: ``transparency.log`` in ``path``, or beside a record
        folder).
    checkpoints : sequence of paths
        Checkpoint bodies seen earlier (e.g. kept by an auditor); the log must extend each.
    allow_unsigned : bool
        Accept unsigned drafts (records and log) with a note.

    Examples
    --------
    >>> import tempfile
    >>> verify_path(tempfile.mkdtemp()).ok
    False
    """
    p = Path(path)
    dirs = _record_dirs(p) if p.is_dir() else []
    single = p.is_dir() and (p / "bagit.txt").is_file()
    problems: list[str] = []
    notes: list[str] = []
    lp = Path(log_path) if log_path is not None else (p.parent if single else p) / LOG_NAME
    opened = _open_log(
        lp,
        trust_roots=trust_roots,
        checkpoints=checkpoints,
        allow_unsigned=allow_unsigned,
        problems=problems,
        notes=notes,
    )
    by_id: dict[str, Any] = opened[1] if opened is not None else {}
    checks = []
    for d in dirs:
        found = by_id.get(d.name)
        check = verify_record(
            d,
            trust_roots=trust_roots,
            statement=found[1] if found else None,
            allow_unsigned=allow_unsigned,
            log_index=found[0] if found else None,
        )
        if opened is not None and found is None:
            check = RecordCheck(
                check.record_id,
                check.directory,
                (f"{d.name} is not in the transparency log", *check.problems),
                check.notes,
                check.signatures,
            )
        checks.append(check)
    if opened is not None:
        present = {d.name for d in dirs}
        in_folder = not single and lp.parent.resolve() == p.resolve()
        absent = sorted(set(by_id) - present)
        if in_folder:
            problems.extend(f"{rid}: logged record is missing from {p}" for rid in absent)
        elif absent and not single:
            notes.append(f"{len(absent)} logged records are kept elsewhere")
        opened[0].close()
    return VerifyReport(tuple(checks), tuple(problems), tuple(notes))


# --------------------------------------------------------------------------- one PDF


@dataclass(frozen=True)
class PdfRecordCheck:
    """Verification of one record PDF on its own (an upload, without its folder).

    Attributes
    ----------
    path : str
    record_id, dossier_code : str or None
        What the PDF's signed metadata says it is.
    logged : bool or None
        Whether it is byte for byte the version the log holds for that record (None: no
        log was given).
    problems, notes : tuple of str
    signatures : tuple of dict
    """

    path: str
    record_id: str | None
    dossier_code: str | None
    logged: bool | None
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    signatures: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "ok": self.ok,
            "path": self.path,
            "record_id": self.record_id,
            "dossier_code": self.dossier_code,
            "logged": self.logged,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "signatures": list(self.signatures),
        }

    def summary(self) -> str:
        """Human-readable lines."""
        lines = [
            f"{self.path}: {'OK' if self.ok else 'FAILED'}",
            f"  record {self.record_id or '?'} · dossier code {self.dossier_code or '?'}",
        ]
        if self.logged is not None:
            lines.append(f"  logged version: {'yes' if self.logged else 'NO'}")
        for s in self.signatures:
            lines.append(f"  signature: {s['signer']} ({'valid' if s['valid'] else 'INVALID'})")
        lines += [f"  - {p}" for p in self.problems] + [f"  · {n}" for n in self.notes]
        return "\n".join(lines)


def verify_record_pdf(
    pdf: str | os.PathLike[str],
    *,
    trust_roots: Sequence[Any] = (),
    log_path: str | os.PathLike[str] | None = None,
    checkpoints: Sequence[str | os.PathLike[str]] = (),
    allow_unsigned: bool = False,
) -> PdfRecordCheck:
    """Verify one record PDF: its signatures, the record it names and, with the log, whether
    it is the logged version of that record.

    Examples
    --------
    >>> verify_record_pdf("/nonexistent.pdf").ok
    False
    """
    from .integrity import sha256_file

    path = Path(pdf)
    problems: list[str] = []
    notes: list[str] = []
    if not path.is_file():
        return PdfRecordCheck(str(path), None, None, None, (f"{path} does not exist",))
    facts = pdf_record_facts(path)
    record_id = facts.get("RecordId")
    statement = None
    logged: bool | None = None
    if log_path is not None:
        opened = _open_log(
            Path(log_path),
            trust_roots=trust_roots,
            checkpoints=checkpoints,
            allow_unsigned=allow_unsigned,
            problems=problems,
            notes=notes,
        )
        if opened is not None:
            found = opened[1].get(record_id) if record_id else None
            opened[0].close()
            if found is None:
                logged = False
                problems.append(f"record {record_id} is not in the transparency log")
            else:
                statement = found[1]
                logged = sha256_file(path) == statement.pdf_sha256
                if not logged:
                    problems.append(
                        f"this is not the logged version of record {record_id} "
                        f"(log entry {found[0]})"
                    )
    p, n, sigs = _signature_problems(
        path,
        trust_roots=trust_roots,
        required=statement.signatures if statement is not None else None,
        allow_unsigned=allow_unsigned,
    )
    problems += p
    notes += n
    problems += _facts_problems(path.name, facts, None, statement)
    return PdfRecordCheck(
        str(path),
        record_id,
        facts.get("DossierCode"),
        logged,
        tuple(problems),
        tuple(notes),
        tuple(sigs),
    )


def _iso(moment: Any) -> str | None:
    """The text of a datetime as before (``str``), None when there is none."""
    return None if moment is None else str(moment)
