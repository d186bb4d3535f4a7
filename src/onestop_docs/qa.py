"""The operator's QA report: one self-contained HTML page per batch.

For every record: before/after thumbnails of each page, orientation and skew found, blank
and duplicate flags, OCR confidence, compliance findings, warnings and timings.  Images are
embedded as ``data:`` URIs, so the file can be mailed or archived on its own; no script runs.
A batch signed with the throwaway DEMO identity carries a red banner on top, so a trial's
report is never mistaken for a real one.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ._fileutil import atomic_write_bytes
from .pipeline import VN_TZ, DigitizedRecord, JobOutcome

__all__ = ["render_qa_report", "write_qa_report"]

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;
font-size:.85em;vertical-align:top}th{background:#f2f2f2}
.ok{color:#1a7f37;font-weight:bold}.bad{color:#b42318;font-weight:bold}.warn{color:#9a6700}
.thumbs{white-space:nowrap}.thumbs img{max-width:170px;max-height:220px;border:1px solid #999;margin:2px}
.flag{display:inline-block;padding:0 5px;border-radius:3px;font-size:.8em;margin-right:3px}
.blank{background:#eee}.dup{background:#ffe2b8}.fixed{background:#d7f5dd}
.demo{background:#c00000;color:#fff;font-weight:bold;font-size:1.2em;padding:14px 18px;
margin:-1.5em -1.5em 1em -1.5em}
"""

#: Colour of the DEMO banner (the QA report test looks for it in a Chromium screenshot).
DEMO_BANNER_RGB = (0xC0, 0x00, 0x00)
_DEMO_TEXT = (
    "DEMO — KHÔNG CÓ GIÁ TRỊ PHÁP LÝ / NOT FOR PRODUCTION: signed with a throwaway demo "
    "identity (--demo-pki)"
)


def _img(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/jpeg;base64,{data}">'


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _field_text(v: Any) -> str:
    """A found field as "value (confidence)"; lists once per value with a count."""
    if isinstance(v, list):
        # OCR finds the same date or code on many lines: show each value once.
        seen: dict[str, tuple[int, Any]] = {}
        for x in v:
            key = str(x.get("value") if isinstance(x, dict) else x)
            n, first = seen.get(key, (0, x))
            seen[key] = (n + 1, first)
        return "; ".join(
            _field_text(first) + (f" <small>×{n}</small>" if n > 1 else "")
            for n, first in seen.values()
        )
    if isinstance(v, dict) and "value" in v:
        conf = v.get("confidence")
        tail = f" <small>({conf:.2f})</small>" if isinstance(conf, (int, float)) else ""
        return html.escape(str(v["value"]))[:300] + tail
    return html.escape(str(v))[:300]


def _duplicate_line(d: dict[str, Any]) -> str:
    """``≈ record pN (kind, PDQ distance, DCT distance)`` of one match of the reuse check."""
    e = html.escape
    parts = [str(d.get("kind") or "match")]
    for key, label in (("pdq_distance", "PDQ"), ("dct_distance", "DCT")):
        if d.get(key) is not None:
            parts.append(f"{label} {d[key]}")
    if d.get("region_diff") is not None:
        parts.append(f"region diff {d['region_diff']}")
    return (
        f"<div>≈ {e(str(d.get('record_id', '')))} p{e(str(d.get('page', '')))} "
        f"({e(', '.join(parts))})</div>"
    )


def _record_section(rec: DigitizedRecord) -> str:
    e = html.escape
    ok = rec.compliance.get("ok", False)
    out = [
        f"<h2>{e(rec.record_id)} — {len(rec.pages)} trang (pages) "
        f"<span class='{'ok' if ok else 'bad'}'>{'ĐẠT / compliant' if ok else 'CHƯA ĐẠT / findings'}</span></h2>"
    ]
    out.append(
        f"<p>Signatures: {e(', '.join(rec.signatures) or 'none')}; log index: {_fmt(rec.log_index)}; "
        f"created {e(rec.created)}</p>"
    )
    if rec.fields:
        rows = "".join(
            f"<tr><th>{e(str(k))}</th><td>{_field_text(v)}</td></tr>"
            for k, v in rec.fields.items()
            if v not in (None, [], {}, "")
        )
        if rows:
            out.append(f"<table><caption>Extracted fields</caption>{rows}</table>")
    out.append(
        "<table><tr><th>#</th><th>before / after</th><th>flags</th><th>orientation</th>"
        "<th>skew °</th><th>OCR conf.</th><th>warnings</th><th>time (s)</th></tr>"
    )
    qa = rec.directory / "data" / "qa"
    for p in rec.pages:
        flags = []
        if p.blank:
            flags.append("<span class='flag blank'>blank (kept)</span>")
        if p.duplicates:
            flags.append("<span class='flag dup'>duplicate</span>")
        if p.rotation_deg:
            flags.append(f"<span class='flag fixed'>turned {p.rotation_deg}°</span>")
        dups = "".join(_duplicate_line(d) for d in p.duplicates)
        thumbs = _img(qa / f"page-{p.number:03d}-before.jpg") + _img(
            qa / f"page-{p.number:03d}-after.jpg"
        )
        out.append(
            f"<tr><td>{p.number}</td><td class='thumbs'>{thumbs}</td><td>{''.join(flags)}{dups}</td>"
            f"<td>{_fmt(p.rotation_deg)} ({_fmt(p.rotation_confidence)})</td>"
            f"<td>{_fmt(p.skew_deg, 3)} ({_fmt(p.skew_confidence)})</td><td>{_fmt(p.ocr_confidence, 1)}</td>"
            f"<td class='warn'>{'<br>'.join(e(w) for w in p.warnings)}</td>"
            f"<td>{_fmt(sum(p.timings.values()), 3)}</td></tr>"
        )
    out.append("</table>")
    findings = rec.compliance.get("findings", [])
    if findings:
        items = "".join(
            f"<li>{e(str(f.get('rule', '')))}: {e(str(f.get('message', f)))}"
            f"{' (page ' + e(str(f.get('page'))) + ')' if f.get('page') else ''}</li>"
            for f in findings
        )
        out.append(f"<p>Compliance findings:</p><ul>{items}</ul>")
    if rec.timings:
        out.append(
            "<p>Timings: " + ", ".join(f"{e(k)} {v:.2f} s" for k, v in rec.timings.items()) + "</p>"
        )
    return "\n".join(out)


def render_qa_report(
    records: Sequence[DigitizedRecord],
    *,
    failures: Sequence[JobOutcome] = (),
    title: str = "Báo cáo kiểm tra số hóa — QA report",
    demo: bool = False,
) -> str:
    """Return the QA report as an HTML string.

    Parameters
    ----------
    records : sequence of DigitizedRecord
    failures : sequence of JobOutcome
        Documents of the batch that failed (listed first).
    title : str
    demo : bool
        The batch was signed with the DEMO identity: a red banner says so on top.

    Examples
    --------
    >>> "<html" in render_qa_report([])
    True
    >>> "NOT FOR PRODUCTION" in render_qa_report([], demo=True)
    True
    """
    e = html.escape
    body = [f"<div class='demo'>{e(_DEMO_TEXT)}</div>"] if demo else []
    body += [
        f"<h1>{e(title)}</h1>",
        f"<p>{len(records)} record(s), {sum(len(r.pages) for r in records)} page(s); "
        f"{len(failures)} failure(s). Generated {e(datetime.now(VN_TZ).isoformat(timespec='seconds'))}.</p>",
    ]
    if failures:
        body.append(
            "<h2 class='bad'>Failed documents</h2><ul>"
            + "".join(
                f"<li>{e(f.record_id)}: {e(f.error_type or '')} {e(f.error or '')}</li>"
                for f in failures
            )
            + "</ul>"
        )
    body.extend(_record_section(r) for r in records)
    return (
        "<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )


def write_qa_report(
    records: Sequence[DigitizedRecord],
    path: str | os.PathLike[str],
    *,
    failures: Sequence[JobOutcome] = (),
    title: str | None = None,
    demo: bool = False,
) -> Path:
    """Write the QA report atomically and return its path (see :func:`render_qa_report`)."""
    kwargs = {"title": title} if title else {}
    text = render_qa_report(records, failures=failures, demo=demo, **kwargs)
    atomic_write_bytes(path, text.encode("utf-8"))
    return Path(path)
