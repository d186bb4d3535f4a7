"""The ``onestop-docs`` command: digitize, watch, check, verify, hash, dedup, reuse, code, qr.

Exit codes (stable):

====  ==========================================================================
0     success, nothing to report
1     findings: a compliance problem, a failed verification, duplicates found,
      an invalid code, a failed document in a batch, an input file not used
2     usage or input error (bad arguments, unreadable file, malformed config)
3     a required optional dependency or system tool is missing
4     unexpected internal error
====  ==========================================================================

``--json`` prints one JSON document on stdout (schema version in ``"schema"``); human text
goes to stderr, so the two can be separated in scripts.  Python warnings (deprecations in
dependencies, an unknown agency level-1 code) never reach the terminal raw: they go to
``onestop-docs.log`` in the station's data directory, and ours also as one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InvalidArgumentError, InvalidImageError, MissingDependencyError, OnestopError

__all__ = ["main"]

JSON_SCHEMA = 1
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_MISSING, EXIT_INTERNAL = 0, 1, 2, 3, 4

_EPILOG_DIGITIZE = """examples:
  onestop-docs digitize scans/ --out records/ --agency 000.00.00.H27 --demo-pki
  onestop-docs digitize scans/ --out records/ --config station.toml --dossier-code H27.01-210630-0001
  onestop-docs digitize dossiers/ --out records/ --config station.toml --per-folder --json

INPUT is a folder of page images (one document, pages in file-name order), a multi-page
TIFF, or with --per-folder a folder whose sub-folders are the documents of one dossier.
"""

_EPILOG_CONFIG = """station config (TOML, --config):
  [station]
  agency = "000.00.00.H27"          # receiving agency identifier
  agency_name = "UBND tỉnh Hà Tĩnh"
  code_store = "/var/lib/onestop-docs/codes.sqlite"  # or postgresql://...; default:
                                    # the station data dir (docs/scan-station.md)
  transparency_log = "/var/lib/onestop-docs/records.log"
  reuse_store = "/var/lib/onestop-docs/reuse.sqlite"  # or a PostgreSQL DSN: host=... dbname=...
  tsa_url = "http://tsa.example.vn/tsr"
  allow_unsigned_drafts = false     # true: unsigned records pass compliance as drafts
  pades_level = "B-LTA"             # B-B, B-T, B-LT (DSS with OCSP/CRL), B-LTA (+ doc time-stamp)
  tsa_unreachable = "fail"          # or "sign-b-b": sign without a time-stamp, with a warning
  tsa_trust_roots = ["/etc/onestop/tsa-root.pem"]  # the TSA's root, for B-LTA
  [officer]
  p12 = "/etc/onestop/officer.p12"
  password_env = "ONESTOP_OFFICER_PASSWORD"
  name = "Nguyễn Văn Ạnh"
  [organisation]
  p12 = "/etc/onestop/org.p12"
  password_env = "ONESTOP_ORG_PASSWORD"
  [options]
  ocr = true
  jpeg_quality = 85
  max_angle_deg = 45.0
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors exit with EXIT_USAGE; descriptions and epilogs (examples) print as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # argparse's own exit code is 2 as well
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="onestop-docs",
        description="Digitize one-stop-shop dossiers into signed, verifiable records "
        "(số hóa hồ sơ, giấy tờ, kết quả giải quyết TTHC).",
        epilog=__doc__.split("Exit codes (stable):")[1] if __doc__ else None,
    )
    p.add_argument("--version", action="version", version=f"onestop-docs {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser(
        "digitize",
        help="scanned pages → signed PDF/A records, XML, bag, QA report",
        epilog=_EPILOG_DIGITIZE + "\n" + _EPILOG_CONFIG,
    )
    d.add_argument("input", type=Path, help="folder of page images, or an image file")
    d.add_argument("--out", type=Path, required=True, help="output folder for the records")
    d.add_argument("--agency", help="receiving agency identifier (overrides the config)")
    d.add_argument("--agency-name", help="agency name shown in the organisation stamp")
    d.add_argument("--dossier-code", help="mã số hồ sơ; issued from the code store when omitted")
    d.add_argument(
        "--component", type=int, default=1, help="document number in the dossier (default 1)"
    )
    d.add_argument(
        "--per-folder", action="store_true", help="each sub-folder of INPUT is one document"
    )
    d.add_argument("--config", type=Path, help="station settings (TOML)")
    d.add_argument(
        "--store",
        help="code store for issuing the dossier code: SQLite file or postgresql:// DSN "
        "(default: [station] code_store, else the station data directory)",
    )
    d.add_argument(
        "--demo-pki",
        action="store_true",
        help="sign with a throwaway DEMO identity (clearly labelled; for trials only)",
    )
    d.add_argument("--no-ocr", action="store_true", help="skip OCR and field extraction")
    d.add_argument("--assume-dpi", type=float, help="resolution for pages whose file has none")
    d.add_argument(
        "--capture",
        choices=("off", "auto"),
        default=None,
        help="rectify phone photos of a sheet before cleanup (auto), or not (off, the "
        "default: flatbed scans)",
    )
    d.add_argument(
        "--workers", type=int, default=None, help="parallel documents (default: CPU count)"
    )
    d.add_argument("--qa-report", type=Path, help="QA report path (default OUT/qa-report.html)")
    d.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_reuse_digitize_args(d)
    d.set_defaults(func=_cmd_digitize)

    c = sub.add_parser(
        "check",
        help="check PDF records against the digitization rules",
        epilog="example:\n  onestop-docs check records/*/data/*.pdf --json",
    )
    c.add_argument("pdf", nargs="+", type=Path)
    c.add_argument("--pages", type=int, help="declared physical page count")
    c.add_argument("--no-signature-required", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_cmd_check)

    v = sub.add_parser(
        "verify",
        help="verify records written by digitize (bag, signatures, metadata, log)",
        epilog="examples:\n  onestop-docs verify records/ --trust-root records/demo-pki/demo-root.pem\n"
        "  onestop-docs verify upload.pdf --log records/transparency.log --trust-root root.pem",
    )
    v.add_argument(
        "path",
        type=Path,
        help="an output folder of digitize, one record folder, or one record PDF",
    )
    v.add_argument(
        "--log",
        type=Path,
        help="the station's transparency log (default: transparency.log in/beside PATH)",
    )
    v.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="a log checkpoint seen earlier; the log must extend it (repeatable)",
    )
    v.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept unsigned draft records with a note instead of a finding",
    )
    v.add_argument(
        "--trust-root",
        action="append",
        default=[],
        type=Path,
        help="trusted root certificate (PEM/DER); repeatable",
    )
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_verify)

    h = sub.add_parser(
        "hash",
        help="SHA-256 and document hashes of page images",
        epilog="example:\n  onestop-docs hash scan.jpg --json",
    )
    h.add_argument("files", nargs="+", type=Path)
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=_cmd_hash)

    u = sub.add_parser(
        "dedup",
        help="find duplicate pages in a folder (or against an index)",
        epilog="examples:\n  onestop-docs dedup scans/ --json\n"
        "  onestop-docs dedup uploads/ --index reuse.idx --add",
    )
    u.add_argument("folder", type=Path)
    u.add_argument(
        "--index",
        type=Path,
        help="look every page up in this reuse index (DuplicateIndex file) instead",
    )
    u.add_argument(
        "--add",
        action="store_true",
        help="with --index: add the folder's pages to the index afterwards",
    )
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=_cmd_dedup)

    _add_reuse_parser(sub)

    k = sub.add_parser(
        "code",
        help="issue or validate codes",
        epilog="examples:\n  onestop-docs code validate 000.00.00.H27-210630-0001\n"
        "  onestop-docs code issue --agency H27.01 --store codes.sqlite",
    )
    ksub = k.add_subparsers(dest="code_command", metavar="ACTION", parser_class=_Parser)
    ksub.required = True
    ki = ksub.add_parser("issue", help="issue the next dossier code for today (Vietnam time)")
    ki.add_argument("--agency", required=True)
    ki.add_argument(
        "--store",
        help="SQLite file or postgresql:// DSN (default: the station data directory)",
    )
    ki.add_argument("--json", action="store_true")
    ki.set_defaults(func=_cmd_code_issue)
    kv = ksub.add_parser("validate", help="validate dossier codes, agency ids or notations")
    kv.add_argument("codes", nargs="+")
    kv.add_argument("--json", action="store_true")
    kv.set_defaults(func=_cmd_code_validate)

    q = sub.add_parser(
        "qr",
        help="make the QR code of a dossier receipt",
        epilog="example:\n  onestop-docs qr --dossier-code H27.01-210630-0001 "
        "--procedure 1.001193 --name 'Giấy tiếp nhận hồ sơ' --out receipt.svg",
    )
    q.add_argument("--kind", choices=["receipt", "result"], default="receipt")
    q.add_argument("--dossier-code", required=True)
    q.add_argument("--procedure", required=True, help="mã TTHC, e.g. 1.001193")
    q.add_argument("--owner", default="", help="owner identifier (may be empty)")
    q.add_argument("--name", required=True, help="document name (tên giấy tờ)")
    q.add_argument("--system", default="onestop_docs", help="issuing system name")
    q.add_argument("--due", help="receipt: due date YYYY-MM-DD (ngày hẹn trả)")
    q.add_argument("--out", type=Path, required=True, help=".png or .svg")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_qr)

    w = sub.add_parser(
        "watch",
        help="digitize each dossier folder that appears in IN (the scan-station service)",
        epilog="examples:\n  onestop-docs watch /srv/scans --out /srv/records --config station.toml\n"
        "  onestop-docs watch /srv/scans --out /srv/records --config station.toml --once\n"
        "settings: [watch] settle_s, marker, require_marker, poll_s, done_dir, failed_dir",
    )
    w.add_argument("input", type=Path, help="the watched folder: one sub-folder per dossier")
    w.add_argument("--out", type=Path, required=True, help="output folder for the records")
    w.add_argument("--config", type=Path, help="station settings (TOML)")
    w.add_argument("--agency", help="receiving agency identifier (overrides the config)")
    w.add_argument("--once", action="store_true", help="one pass, then exit (for cron or tests)")
    w.add_argument("--settle", type=float, help="seconds a folder must stay unchanged")
    w.add_argument("--no-ocr", action="store_true", help="skip OCR and field extraction")
    w.add_argument("--assume-dpi", type=float, help="resolution for pages whose file has none")
    w.add_argument(
        "--capture",
        choices=("off", "auto"),
        default=None,
        help="rectify phone photos of a sheet before cleanup (auto), or not (off, the "
        "default: flatbed scans)",
    )
    w.add_argument("--json", action="store_true", help="one JSON line per dossier on stdout")
    w.set_defaults(func=_cmd_watch)
    return p


# --- helpers ------------------------------------------------------------------------------------


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: str) -> None:
    if getattr(args, "json", False):
        payload = {"schema": JSON_SCHEMA, "command": args.command, **payload}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1, default=str) + "\n")
    else:
        sys.stdout.write(human.rstrip("\n") + "\n")


def _load_config(path: Path | None) -> dict[str, Any]:
    from .station import load_station_config

    return load_station_config(path)


class _QuietLogHandler(logging.FileHandler):
    """A log file made on its first line, that never complains on the terminal."""

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _route_warnings(echo: bool = True) -> None:
    """Send Python warnings to the station log; with ``echo`` ours also as one line on stderr
    (workers only log: the main process has said it already)."""
    from .station import station_data_dir

    log = logging.getLogger("onestop_docs.warnings")
    if not log.handlers:
        log.propagate = False
        log.setLevel(logging.INFO)
        path = station_data_dir() / "onestop-docs.log"
        handler = _QuietLogHandler(path, delay=True, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(message)s"))
        log.addHandler(handler)

    echoed: set[str] = set()

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        log.warning("%s: %s (%s:%d)", category.__name__, message, filename, lineno)
        if echo and category.__module__.startswith("onestop_docs") and str(message) not in echoed:
            echoed.add(str(message))  # one agency code is parsed at several places
            print(f"onestop-docs: warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def _signer_from_config(section: dict[str, Any] | None, what: str) -> Any:
    if not section:
        return None
    from .pipeline import SignerSpec

    password = None
    env = section.get("password_env")
    if env:
        password = os.environ.get(env)
        if password is None:
            raise InvalidArgumentError(f"[{what}] password_env names {env}, which is not set")
    if "p12" in section:
        return SignerSpec.pkcs12(section["p12"], password, display_name=section.get("name"))
    if "key" in section and "cert" in section:
        return SignerSpec.pem(
            section["key"], section["cert"], password, display_name=section.get("name")
        )
    raise InvalidArgumentError(f"[{what}] needs p12 = ... or key = ... and cert = ...")


def _progress(total: int, enabled: bool, desc: str, unit: str = "doc") -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)


# --- commands -----------------------------------------------------------------------------------


def _cmd_digitize(args: argparse.Namespace) -> int:
    from .codes import AgencyId
    from .pipeline import DigitizeJob, DigitizeOptions, digitize_batch, load_record
    from .qa import write_qa_report
    from .station import check_dossier_code

    cfg = _load_config(args.config)
    station = cfg.get("station", {})
    agency = args.agency or station.get("agency")
    if not agency:
        raise InvalidArgumentError("no agency: pass --agency or set [station] agency in --config")
    agency = str(AgencyId.parse(agency))
    if args.dossier_code is not None:
        check_dossier_code(args.dossier_code, agency)
    agency_name = args.agency_name or station.get("agency_name")
    if not args.input.exists():
        raise InvalidArgumentError(f"input {args.input} does not exist")
    if args.per_folder:
        docs = sorted(p for p in args.input.iterdir() if p.is_dir())
        if not docs:
            raise InvalidArgumentError(f"--per-folder: {args.input} has no sub-folders")
    else:
        docs = [args.input]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    opt_cfg = dict(cfg.get("options", {}))
    if args.no_ocr:
        opt_cfg["ocr"] = False
    if args.assume_dpi is not None:
        opt_cfg["assume_dpi"] = args.assume_dpi
    if args.capture is not None:
        opt_cfg["capture"] = args.capture
    if station.get("tsa_url"):
        opt_cfg.setdefault("tsa_url", station["tsa_url"])
    if "allow_unsigned_drafts" in station:
        opt_cfg.setdefault("allow_unsigned_drafts", bool(station["allow_unsigned_drafts"]))
    for key in ("pades_level", "tsa_unreachable"):
        if key in station:
            opt_cfg.setdefault(key, station[key])
    if "tsa_trust_roots" in station:
        opt_cfg.setdefault("tsa_trust_roots", tuple(str(p) for p in station["tsa_trust_roots"]))
    reuse_store = args.reuse_store or station.get("reuse_store")
    if reuse_store:
        opt_cfg["reuse_store"] = str(reuse_store)
    try:
        options = DigitizeOptions(**opt_cfg)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"[options] in config: {exc}") from None
    record_meta = _reuse_metadata(args)

    if options.ocr:  # missing tools are exit 3 before any page work, not a failed document
        from ._deps import require_tool

        require_tool("tesseract", "tesseract-ocr")
    officer = _signer_from_config(cfg.get("officer"), "officer")
    organisation = _signer_from_config(cfg.get("organisation"), "organisation")
    # Secrets first, before a code is issued or a file written: a wrong password must not be
    # found after minutes of page work (digitize_batch checks again for library callers).
    for spec in (officer, organisation):
        if spec is not None:
            spec.check()
    notes: list[str] = []
    if args.demo_pki:
        from .pipeline import SignerSpec
        from .signing import demo_pki

        pki = demo_pki(out / "demo-pki", reuse=True)  # earlier records keep verifying
        officer = SignerSpec.pkcs12(
            pki.officer_p12_path, pki.password, display_name="Cán bộ DEMO (không dùng thật)"
        )
        organisation = SignerSpec.pkcs12(pki.organisation_p12_path, pki.password)
        agency_name = agency_name or "CƠ QUAN DEMO — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ"
        notes.append(f"DEMO signing identity (NOT FOR PRODUCTION): trust root {pki.root_cert_path}")

    dossier_code = args.dossier_code
    if dossier_code is None and options.tsa_url and options.tsa_unreachable == "fail":
        # A dossier code is issued for good; do not spend one on a run whose every signature
        # would fail for want of a time-stamp.
        from .signing import request_timestamp

        try:
            request_timestamp(b"onestop-docs TSA probe", options.tsa_url)
        except OnestopError as exc:
            print(
                f"onestop-docs: the time-stamping authority does not answer ({exc}); "
                "no dossier code was issued and nothing was signed (station policy "
                'tsa_unreachable = "fail")',
                file=sys.stderr,
            )
            return EXIT_FINDINGS
    if dossier_code is None:
        dossier_code = _dossier_code_for_inputs(args, cfg, agency, docs, notes)

    log_path = station.get("transparency_log") or str(out / "transparency.log")
    jobs = [
        DigitizeJob(
            inputs=(str(d),),
            out_dir=str(out),
            dossier_code=dossier_code,
            agency=agency,
            component=args.component + i,
            officer=officer,
            organisation=organisation,
            agency_name=agency_name,
            metadata=record_meta,
            options=options,
        )
        for i, d in enumerate(docs)
    ]
    from concurrent.futures import ProcessPoolExecutor

    from .integrity import TransparencyLog
    from .pipeline import count_input_pages

    show = not args.no_progress and not args.json and sys.stderr.isatty()
    bar = _progress(
        sum(count_input_pages(j.inputs) for j in jobs) if show else 0, show, "digitize", unit="page"
    )
    workers = max(1, min(args.workers or (os.cpu_count() or 1), len(jobs)))
    if "page_workers" not in opt_cfg:  # documents x pages in parallel = the CPUs, no more
        page_workers = max(1, (os.cpu_count() or 1) // workers)
        jobs = [
            dataclasses.replace(
                j, options=dataclasses.replace(j.options, page_workers=page_workers)
            )
            for j in jobs
        ]
    log = TransparencyLog(log_path)
    # forkserver, not fork: a forked worker would inherit the log's lock, and one left
    # running after this process is killed would keep the next run from opening the log.
    context = multiprocessing.get_context("forkserver")
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_route_warnings,
            initargs=(False,),
        ) as pool:
            report = digitize_batch(
                jobs,
                executor=pool,
                log=log,
                on_page=(lambda record_id, number: bar.update(1)) if bar else None,
            )
        checkpoint_signer = organisation or officer
        if checkpoint_signer is not None:
            notes.append(_sign_checkpoint(log, checkpoint_signer, options.tsa_url))
    finally:
        log.close()
    if bar:
        bar.close()
    records = [
        dataclasses.replace(load_record(o.directory), log_index=o.log_index)
        for o in report.outcomes
        if o.directory
    ]
    failures = [o for o in report.outcomes if o.status == "failed"]
    qa_path = args.qa_report or out / "qa-report.html"
    write_qa_report(records, qa_path, failures=failures, demo=args.demo_pki)
    lines = [*notes]
    for r in records:
        lines.append(
            f"{r.record_id}: {len(r.pages)} pages, blank {list(r.blank_pages)}, "
            f"signatures {', '.join(r.signatures) or 'none'}, "
            f"compliance {'OK' if r.compliance.get('ok') else 'FINDINGS'}"
        )
        lines.append(f"  PDF/A:  {r.pdf_path}")
        lines.append(f"  XML:    {r.xml_path}")
        lines.append(f"  bag:    {r.directory}")
        for p in r.pages:
            if p.duplicates:
                d = p.duplicates[0]
                lines.append(
                    f"  page {p.number} duplicates {d.get('record_id')} page {d.get('page')}"
                )
        for found in r.input_findings:
            at = "" if found["page_index"] is None else f" page {int(found['page_index']) + 1}"
            lines.append(f"  NOT USED {found['source']}{at}: {found['message']}")
    for dup in report.duplicates:
        lines.append(
            f"{dup['record_id']} page {dup['page']} is the same paper as "
            f"{dup['duplicates_record_id']} page {dup['duplicates_page']}"
        )
    for f in failures:
        lines.append(f"FAILED {f.record_id}: {f.error_type}: {f.error}")
    lines.append(f"QA report: {qa_path}")
    lines.append(f"transparency log: {log_path}")
    payload = {
        "ok": report.ok,
        "qa_report": str(qa_path),
        "transparency_log": log_path,
        "notes": notes,
        "outcomes": [o.__dict__ | {"record": None} for o in report.outcomes],
        "records": [r.to_json() for r in records],
        "batch_duplicates": list(report.duplicates),
    }
    _emit(args, payload, "\n".join(lines))
    # Duplicates are information for the reuse check, not a failure of the run.
    if failures or any(not r.compliance.get("ok") or r.input_findings for r in records):
        return EXIT_FINDINGS
    return EXIT_OK


def _sign_checkpoint(log: Any, spec: Any, tsa: str | None) -> str:
    """Sign the log's new state with the station identity (docs/integrity.md)."""
    from .pipeline import SignerSpec
    from .signing.logsig import checkpoint_paths, sign_log_checkpoint

    signer = spec.load() if isinstance(spec, SignerSpec) else spec
    note = ""
    try:
        try:
            cp = sign_log_checkpoint(log, signer, tsa=tsa)
        except OnestopError as exc:
            if tsa is None:
                raise
            # The records are made and logged: their checkpoint is signed in any case, and
            # the time-stamp it lacks is said.
            cp = sign_log_checkpoint(log, signer)
            note = f" (without a time-stamp: {exc})"
    finally:
        if signer is not spec:
            signer.close()
    path = checkpoint_paths(log.path)[0]
    return f"signed checkpoint of {cp.tree_size} log entries: {path}{note}"


def _dossier_code_for_inputs(
    args: argparse.Namespace, cfg: dict[str, Any], agency: str, docs: list[Path], notes: list[str]
) -> str:
    """The code these scans got before (a re-run, or a killed run), else a new one.

    The inputs' fingerprint is kept in the station's data directory, so the same scans are
    never digitized twice under two codes, and a killed run resumes its code (its
    ``.partial-…`` folder is then cleaned by ``digitize``).
    """
    from .codes import DossierCodeIssuer
    from .station import (
        InputFingerprints,
        default_code_store,
        input_fingerprint,
        is_postgres_dsn,
        open_code_store,
        station_data_dir,
    )

    store_spec = args.store or default_code_store(cfg)
    context = f"{agency}|per_folder={bool(args.per_folder)}|component={args.component}"
    fingerprint = input_fingerprint(docs, context=context)

    def issue() -> str:
        store = open_code_store(store_spec, out_dir=args.out)
        try:
            return str(DossierCodeIssuer(agency, store).issue())
        finally:
            store.close()

    code, resumed = InputFingerprints(station_data_dir(cfg)).code_for(
        fingerprint, issue, source=str(args.input.resolve())
    )
    if resumed:
        notes.append(f"same inputs as dossier {code} (fingerprint {fingerprint[:12]}…): resumed")
    else:
        shown = "PostgreSQL" if is_postgres_dsn(store_spec) else store_spec  # no password shown
        notes.append(f"issued dossier code {code} (store {shown})")
    return code


def _cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .integrity import TransparencyLog
    from .pipeline import DigitizeOptions, DossierWatcher, WatchSettings

    cfg = _load_config(args.config)
    station = cfg.get("station", {})
    agency = args.agency or station.get("agency")
    if not agency:
        raise InvalidArgumentError("no agency: pass --agency or set [station] agency in --config")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    opt_cfg = dict(cfg.get("options", {}))
    if args.no_ocr:
        opt_cfg["ocr"] = False
    if args.assume_dpi:
        opt_cfg["assume_dpi"] = args.assume_dpi
    if args.capture is not None:
        opt_cfg["capture"] = args.capture
    if station.get("tsa_url"):
        opt_cfg.setdefault("tsa_url", station["tsa_url"])
    watch_cfg = dict(cfg.get("watch", {}))
    if args.settle is not None:
        watch_cfg["settle_s"] = args.settle
    for key in ("done_dir", "failed_dir"):
        if watch_cfg.get(key):
            watch_cfg[key] = Path(watch_cfg[key])
    try:
        options = DigitizeOptions(**opt_cfg)
        settings = WatchSettings(**watch_cfg)
    except TypeError as exc:
        raise InvalidArgumentError(f"config: {exc}") from None
    from .codes import DossierCodeIssuer
    from .station import default_code_store, open_code_store

    # The same code store as `digitize`: the station's, never one inside OUT.
    issuer = DossierCodeIssuer(agency, open_code_store(default_code_store(cfg), out_dir=out))
    log = TransparencyLog(station.get("transparency_log") or str(out / "transparency.log"))

    def report(o: Any) -> None:
        if args.json:
            sys.stdout.write(json.dumps(dataclasses.asdict(o), ensure_ascii=False) + "\n")
        else:
            what = o.record_id if o.status != "failed" else o.reason
            sys.stdout.write(f"{o.status.upper()} {o.name}: {what} → {o.moved_to}\n")
        sys.stdout.flush()

    watcher = DossierWatcher(
        args.input,
        out,
        agency=agency,
        issue_code=lambda: str(issuer.issue()),
        settings=settings,
        officer=_signer_from_config(cfg.get("officer"), "officer"),
        organisation=_signer_from_config(cfg.get("organisation"), "organisation"),
        agency_name=station.get("agency_name"),
        options=options,
        log=log,
        on_event=report,
    )
    stop = threading.Event()
    try:
        if args.once:
            outcomes = watcher.poll()
            return EXIT_FINDINGS if any(o.status == "failed" for o in outcomes) else EXIT_OK
        # systemd stops a service with SIGTERM: finish the dossier in hand, then exit.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        watcher.run(stop)
        return EXIT_OK
    finally:
        watcher.close()
        log.close()


def _cmd_check(args: argparse.Namespace) -> int:
    import dataclasses

    from .compliance import Rules, check_record

    rules = Rules.default()
    if args.no_signature_required:
        rules = dataclasses.replace(rules, require_officer_signature=False)
    results = []
    lines = []
    for pdf in args.pdf:
        rep = check_record(pdf, rules=rules, declared_pages=args.pages)
        findings = [dataclasses.asdict(f) for f in rep.findings]
        results.append({"file": str(pdf), "ok": bool(rep.ok), "findings": findings})
        lines.append(f"{pdf}: {'OK' if rep.ok else 'FINDINGS'}")
        lines.extend(f"  - {f.get('rule', '')}: {f.get('message', '')}" for f in findings)
    _emit(args, {"results": results}, "\n".join(lines))
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FINDINGS


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify_path, verify_record_pdf

    if not args.path.exists():
        raise InvalidArgumentError(f"{args.path} does not exist")
    kwargs: dict[str, Any] = {
        "trust_roots": args.trust_root,
        "checkpoints": args.checkpoint,
        "allow_unsigned": args.allow_unsigned,
    }
    if args.path.is_file():
        pdf_report = verify_record_pdf(args.path, log_path=args.log, **kwargs)
        _emit(args, pdf_report.to_json(), pdf_report.summary())
        return EXIT_OK if pdf_report.ok else EXIT_FINDINGS
    report = verify_path(args.path, log_path=args.log, **kwargs)
    _emit(args, report.to_json(), report.summary())
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _cmd_hash(args: argparse.Namespace) -> int:
    from .dedup import page_hash
    from .imageio import load_pages
    from .integrity import sha256_file

    items = []
    lines = []
    errors: list[dict[str, Any]] = []
    files: list[Path] = []
    for f in args.files:  # a folder stands for its files
        files += sorted(p for p in f.iterdir() if p.is_file()) if f.is_dir() else [f]
    for f in files:
        try:
            digest = sha256_file(f)
            pages = list(_readable_pages(load_pages(f), f, errors))
        except OnestopError as exc:  # one bad file is reported, the others still hashed
            errors.append({"file": str(f), "page": None, "error": str(exc)})
            lines.append(f"{f}: error {exc}")
            continue
        for page in pages:
            h = page_hash(page)
            entry = {
                "file": str(f),
                "page": page.index + 1,
                "sha256": digest,
                "page_hash": None if h is None else h.hex_digests(),
                "reason": None if h is not None else "blank or near-blank page",
            }
            items.append(entry)
            desc = "blank" if h is None else f"pdq {h.pdq.hex()[:16]}… dct {h.dct.hex()[:16]}…"
            lines.append(f"{f} p{page.index + 1}: sha256 {digest[:16]}… {desc}")
    lines += [f"{e['file']} p{e['page']}: error {e['error']}" for e in errors if e["page"]]
    _emit(args, {"items": items, "errors": errors}, "\n".join(lines))
    return EXIT_FINDINGS if errors else EXIT_OK


def _readable_pages(pages: Any, f: Path, errors: list[dict[str, Any]]) -> Any:
    """The pages of one file up to a broken one, which is recorded in ``errors``."""
    try:
        yield from pages
    except InvalidImageError as exc:
        if exc.page_index is None:
            raise
        errors.append({"file": str(f), "page": exc.page_index + 1, "error": str(exc)})


def _cmd_dedup(args: argparse.Namespace) -> int:
    from .dedup import find_duplicates
    from .imageio import load_pages

    if not args.folder.is_dir():
        raise InvalidArgumentError(f"{args.folder} is not a folder")
    if args.add and args.index is None:
        raise InvalidArgumentError("--add needs --index")
    labels: list[str] = []
    pages: list[Any] = []
    shas: list[str] = []
    skipped: list[str] = []
    from .integrity import sha256_file

    for f in sorted(p for p in args.folder.iterdir() if p.is_file()):
        try:
            digest = sha256_file(f)
            for page in load_pages(f):
                labels.append(f"{f.name}#{page.index + 1}")
                pages.append(page)
                shas.append(digest)
        except OnestopError as exc:
            skipped.append(f"{f.name}: {exc}")
    if args.index is not None:
        return _dedup_against_index(args, labels, pages, shas, skipped)
    groups = [[labels[i] for i in g] for g in find_duplicates(pages)] if pages else []
    lines = [" = ".join(g) for g in groups] or ["no duplicates"]
    lines += [f"skipped {s}" for s in skipped]
    _emit(args, {"groups": groups, "pages": len(pages), "skipped": skipped}, "\n".join(lines))
    return EXIT_FINDINGS if groups else EXIT_OK


def _dedup_against_index(
    args: argparse.Namespace,
    labels: list[str],
    pages: list[Any],
    shas: list[str],
    skipped: list[str],
) -> int:
    from ._fileutil import atomic_write_bytes
    from .dedup import DuplicateIndex

    sidecar = args.index.with_name(args.index.name + ".labels.json")
    if args.index.exists():
        index = DuplicateIndex.open(args.index)
        names: list[str] = (
            json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else []
        )
    else:
        index, names = DuplicateIndex(), []
    matches = []
    for label, page, sha in zip(labels, pages, shas):
        for m in index.lookup(page, file_sha256=sha):
            earlier = names[m.id] if 0 <= m.id < len(names) else str(m.id)
            matches.append(
                {
                    "page": label,
                    "matches": earlier,
                    "kind": m.kind,
                    "pdq_distance": m.pdq_distance,
                    "region_diff": m.region_diff,
                }
            )
    if args.add:
        for label, page, sha in zip(labels, pages, shas):
            index.add(len(names), page, file_sha256=sha)
            names.append(f"{args.folder.name}/{label}")
        index.save(args.index)
        atomic_write_bytes(sidecar, json.dumps(names, ensure_ascii=False).encode("utf-8"))
    lines = [f"{m['page']} ≈ {m['matches']} ({m['kind']})" for m in matches] or [
        "no earlier copies"
    ]
    lines += [f"skipped {s}" for s in skipped]
    if args.add:
        lines.append(f"index now holds {len(names)} pages: {args.index}")
    _emit(
        args,
        {"matches": matches, "pages": len(pages), "skipped": skipped, "index": str(args.index)},
        "\n".join(lines),
    )
    return EXIT_FINDINGS if matches else EXIT_OK


# --- reuse store ---------------------------------------------------------------------------------


def _add_reuse_digitize_args(d: argparse.ArgumentParser) -> None:
    g = d.add_argument_group("reuse (kho tái sử dụng)")
    g.add_argument("--owner", help="owner id: CCCD (12 digits) or MST (10 or 10-3 digits)")
    g.add_argument("--procedure", help="mã TTHC of the procedure, e.g. 1.001193")
    g.add_argument("--component-code", help="mã thành phần hồ sơ of the document")
    g.add_argument("--document-type", help="document type (loại giấy tờ), e.g. 'Giấy khai sinh'")
    g.add_argument(
        "--reuse-store",
        help="reuse store (SQLite path or PostgreSQL DSN) to look pages up in and add records "
        "to (overrides [station] reuse_store)",
    )


def _reuse_metadata(args: argparse.Namespace) -> dict[str, Any]:
    from .reuse import parse_owner_id

    meta = {
        "owner_id": None if args.owner is None else parse_owner_id(args.owner),
        "procedure_code": args.procedure,
        "component_code": args.component_code,
        "type_name": args.document_type,
    }
    return {k: v for k, v in meta.items() if v is not None}


def _add_reuse_parser(sub: Any) -> None:
    r = sub.add_parser(
        "reuse",
        help="the reuse store: add records, find earlier copies of a paper",
        epilog="examples:\n  onestop-docs reuse add records/ --store reuse.sqlite "
        "--trust-root root.pem\n"
        "  onestop-docs reuse find photo.jpg --store reuse.sqlite --photo --json\n"
        "  onestop-docs reuse records 042203004567 --store 'host=db dbname=motcua' --json",
    )
    rsub = r.add_subparsers(dest="reuse_command", metavar="ACTION", parser_class=_Parser)
    rsub.required = True

    def store_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", help="SQLite path or PostgreSQL DSN ([station] reuse_store)")
        p.add_argument("--config", type=Path, help="station settings (TOML)")
        p.add_argument("--json", action="store_true")

    ra = rsub.add_parser("add", help="verify record folders and add their pages to the store")
    ra.add_argument("records", nargs="+", type=Path, help="record folders or output folders")
    ra.add_argument("--trust-root", action="append", default=[], type=Path)
    ra.add_argument(
        "--no-verify", action="store_true", help="skip the bag and signature check (not advised)"
    )
    store_arg(ra)
    ra.set_defaults(func=_cmd_reuse_add)
    rf = rsub.add_parser("find", help="find the earlier digitized copies of a page image")
    rf.add_argument("image", type=Path, help="a scan or (with --photo) a phone photo")
    rf.add_argument("--photo", action="store_true", help="a phone photo: find the page first")
    rf.add_argument("--dpi", type=float, help="resolution of an image without one")
    store_arg(rf)
    rf.set_defaults(func=_cmd_reuse_find)
    rr = rsub.add_parser("records", help="list an owner's records (CCCD or MST)")
    rr.add_argument("owner")
    store_arg(rr)
    rr.set_defaults(func=_cmd_reuse_records)


def _open_reuse_store(args: argparse.Namespace) -> Any:
    from .reuse import ReuseStore

    location = args.store or _load_config(args.config).get("station", {}).get("reuse_store")
    if not location:
        raise InvalidArgumentError("no store: pass --store or set [station] reuse_store")
    return ReuseStore(str(location), refresh_interval_s=0)


def _record_folders(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if (p / "bagit.txt").is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(
                sorted(
                    d
                    for d in p.iterdir()
                    if (d / "bagit.txt").is_file() and not d.name.startswith(".")
                )
            )
        else:
            raise InvalidArgumentError(f"{p} is not a record folder or a folder of records")
    return out


def _cmd_reuse_add(args: argparse.Namespace) -> int:
    from .reuse import add_record_folder

    folders = _record_folders(args.records)
    results = []
    lines = []
    with _open_reuse_store(args) as store:
        for folder in folders:
            try:
                added, entry = add_record_folder(
                    store, folder, trust_roots=args.trust_root, verify=not args.no_verify
                )
                status = "added" if added else "already stored"
                results.append(
                    {"folder": str(folder), "record_id": entry.record_id, "status": status,
                     "pages": len(entry.pages), "notes": list(entry.notes)}
                )  # fmt: skip
                lines.append(f"{entry.record_id}: {status} ({len(entry.pages)} pages)")
            except OnestopError as exc:
                if isinstance(exc, MissingDependencyError):
                    raise
                results.append({"folder": str(folder), "status": "refused", "error": str(exc)})
                lines.append(f"{folder}: REFUSED — {exc}")
        records, pages = store.counts()
    lines.append(f"store {store.location}: {records} records, {pages} pages")
    _emit(
        args, {"records": results, "store": {"records": records, "pages": pages}}, "\n".join(lines)
    )
    return (
        EXIT_FINDINGS if any(r["status"] == "refused" for r in results) or not folders else EXIT_OK
    )


def _cmd_reuse_find(args: argparse.Namespace) -> int:
    if not args.image.is_file():
        raise InvalidArgumentError(f"{args.image} is not a file")
    with _open_reuse_store(args) as store:
        res = store.lookup(args.image, photo=args.photo, dpi=args.dpi)
    lines = [f"{args.image}: {res.status}" + (f" ({res.reason})" if res.reason else "")]
    for m in res.matches:
        owner = f", owner {m.owner_id}" if m.owner_id else ""
        lines.append(f"  = {m.record_id} page {m.page} ({m.kind}{owner})")
    _emit(args, {"image": str(args.image), **res.to_json()}, "\n".join(lines))
    return EXIT_FINDINGS if res.found else EXIT_OK


def _cmd_reuse_records(args: argparse.Namespace) -> int:
    import dataclasses

    with _open_reuse_store(args) as store:
        recs = store.records_of(args.owner)
    lines = [f"{r.record_id}: {r.page_count} pages, {r.document_type or '-'}, added {r.added_at}"
             for r in recs] or [f"no records of {args.owner}"]  # fmt: skip
    _emit(args, {"owner_id": args.owner, "records": [dataclasses.asdict(r) for r in recs]},
          "\n".join(lines))  # fmt: skip
    return EXIT_OK


def _cmd_code_issue(args: argparse.Namespace) -> int:
    from .codes import DossierCodeIssuer
    from .station import default_code_store, open_code_store

    store = open_code_store(args.store or default_code_store())
    try:
        code = DossierCodeIssuer(args.agency, store).issue()
    finally:
        store.close()
    _emit(args, {"dossier_code": str(code)}, str(code))
    return EXIT_OK


def _cmd_code_validate(args: argparse.Namespace) -> int:
    from .codes import AgencyId, DocumentNotation, DossierCode
    from .errors import InvalidCodeError

    results = []
    for text in args.codes:
        kind = None
        error: InvalidCodeError | None = None
        for name, parser in (
            ("dossier_code", DossierCode.parse),
            ("agency_id", AgencyId.parse),
            ("notation", DocumentNotation.parse),
        ):
            try:
                parser(text)
                kind = name
                break
            except InvalidCodeError as exc:
                error = error or exc
        results.append(
            {
                "code": text,
                "valid": kind is not None,
                "kind": kind,
                "error": None if kind else str(error),
                "position": None if kind or error is None else error.position,
            }
        )
    lines = [
        f"{r['code']}: {'valid ' + str(r['kind']) if r['valid'] else 'INVALID — ' + str(r['error'])}"
        for r in results
    ]
    _emit(args, {"results": results}, "\n".join(lines))
    return EXIT_OK if all(r["valid"] for r in results) else EXIT_FINDINGS


def _cmd_qr(args: argparse.Namespace) -> int:
    from datetime import date

    from ._fileutil import atomic_write_bytes
    from .codes import QrPayload, render_qr, vietnam_now

    due = None
    if args.due:
        try:
            due = date.fromisoformat(args.due)
        except ValueError:
            raise InvalidArgumentError(f"--due must be YYYY-MM-DD, got {args.due!r}") from None
    payload = QrPayload(
        args.kind,
        args.dossier_code,
        args.procedure,
        args.owner,
        args.name,
        args.system,
        vietnam_now(),
        due_date=due,
    )
    svg = args.out.suffix.lower() == ".svg"
    atomic_write_bytes(args.out, render_qr(payload, format="svg" if svg else "png"))
    _emit(args, {"file": str(args.out), "payload": payload.encode()}, f"wrote {args.out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring).

    Examples
    --------
    >>> main(["code", "validate", "000.00.00.H27-210630-0001"])
    000.00.00.H27-210630-0001: valid dossier_code
    0
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    _route_warnings()
    try:
        return int(args.func(args))
    except MissingDependencyError as exc:
        print(f"onestop-docs: missing dependency: {exc}", file=sys.stderr)
        return EXIT_MISSING
    except (OnestopError, OSError) as exc:
        print(f"onestop-docs: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("onestop-docs: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # pragma: no cover - a bug: say so, with the type
        print(f"onestop-docs: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
