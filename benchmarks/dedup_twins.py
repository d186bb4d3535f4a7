"""One-field twins of the A5 test forms: a tuning tool for the document key's verifier.

Rebuilds the twin set of issue 14, point 1 ("pages that differ in one field are not
duplicates") from ``tests/test_dedup_forms.py``'s generator:

* ``twins``: forms 0-8 (``--forms`` of them from ``--first-form``)
  (``form_lines(default_rng(9000 + form), form % 3)``), each scanned
  twice (scan seeds ``100 form`` and ``100 form + 1``, as ``test_dedup_document._scan``);
  for each of the form's six labelled lines a twin with that one value drawn again
  (``_value`` with ``default_rng(7000 + 10 form + line)``; a number or a count keeps its
  length), scanned once (seed ``5000 + 10 form + line``); every twin against both scans of
  its original, both orders (216 ordered pairs), and the two scans of each original
  against each other (18 ordered pairs);
* ``dates``: forms 0-29 (``--date-forms`` of them from ``--first-form``), the date line
  with the same day and another month and year (``default_rng(8000 + form)``), scanned
  with seed ``5000 + 10 form``, against both scans of its original, both orders (120
  ordered pairs); with ``--first-form 0``, plus the tests' known twins
  (``test_dedup_document._ORDER_TWINS``, forms 19 and 36, and form 7's digit).

Forms 0-29 are the tuning set of the verifier's final stage (session 2026-12-08, tw19);
forms 30-149 were reported on in session 2026-12-08b and tuned on in 2026-12-08c (lost
holes); forms 150-329 were reported on once in 2026-12-08c.  A set from ``--first-form 330``
on has not been made yet.

Keys are cached (``--cache``, key bytes).  Prints one line per pair that matched or came
within ``--near`` of the fine limit, then the totals.

Usage::

    PYTHONPATH=src:tests python benchmarks/dedup_twins.py [twins|dates|all] [--near 0.6]
        [--forms 9] [--first-form 0] [--date-forms 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_dedup_forms as forms

from onestop_docs.dedup import DocumentKey, match_keys, page_hash

CACHE = Path(os.environ.get("TWIN_CACHE", "/tmp/dedup_twins_cache"))


def scan_key(lines: list[str], seed: int) -> DocumentKey:
    """The key of one simulated scan (as ``test_dedup_document._key``), cached."""
    tag = hashlib.sha1(("\n".join(lines) + f"|{seed}").encode()).hexdigest()[:20]
    path = CACHE / f"{tag}.odk"
    if path.exists():
        return DocumentKey.from_bytes(path.read_bytes())
    rng = np.random.default_rng(seed)
    dpi = int(rng.choice([150, 200, 300]))
    img = forms.rescan(lines, rng, dpi=dpi)
    h = page_hash(img, dpi=dpi)
    assert h is not None
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(h.key.to_bytes())
    return h.key


def original(form: int) -> list[str]:
    return forms.form_lines(np.random.default_rng(9000 + form), form % 3)


def labelled(lines: list[str]) -> list[int]:
    return [i for i, ln in enumerate(lines) if ":" in ln and not ln.startswith("Tôi")][:6]


def twin_value(label: str, old: str, rng: np.random.Generator) -> str:
    for _ in range(100):
        v = forms._value(label, rng)
        if v != old:
            return v
    raise RuntimeError("no other value")


def twin_set(nforms: int = 9, first: int = 0) -> list[tuple[str, list[str], list[str], int, int]]:
    """(name, original lines, twin lines, original scan seed, twin scan seed) per pair of
    keys (both scans of the original), forms ``first`` to ``first + nforms - 1``."""
    out = []
    for form in range(first, first + nforms):
        lines = original(form)
        for k, i in enumerate(labelled(lines)):
            label, old = lines[i].split(": ", 1)
            new = twin_value(label, old, np.random.default_rng(7000 + 10 * form + k))
            changed = list(lines)
            changed[i] = f"{label}: {new}"
            for s in (100 * form, 100 * form + 1):
                out.append(
                    (
                        f"f{form} {old!r}->{new!r} vs scan {s}",
                        lines,
                        changed,
                        s,
                        5000 + 10 * form + k,
                    )
                )
    return out


def date_set(nforms: int = 30, first: int = 0) -> list[tuple[str, list[str], list[str], int, int]]:
    out = []
    for form in range(first, first + nforms):
        lines = original(form)
        i = next(i for i in labelled(lines) if lines[i].split(":")[0].lower().startswith("ngày"))
        label, old = lines[i].split(": ", 1)
        rng = np.random.default_rng(8000 + form)
        while True:
            new = f"{old[:2]}/{rng.integers(1, 13):02d}/{rng.integers(1950, 2024)}"
            if new != old:
                break
        changed = list(lines)
        changed[i] = f"{label}: {new}"
        for s in (100 * form, 100 * form + 1):
            out.append(
                (f"f{form} {old!r}->{new!r} vs scan {s}", lines, changed, s, 5000 + 10 * form)
            )
    if first != 0:
        return out
    # the known twins of test_dedup_document._ORDER_TWINS (forms 19 and 36, dates; form 7,
    # one digit), against both scans of their originals
    for form, label, new, tseed in (
        (19, "Ngày cấp", "16/08/1981", 5190),
        (36, "Ngày, tháng, năm sinh", "19/05/1963", 5360),
        (7, "Số lượng bản sao", "05 bản", 5075),
    ):
        lines = original(form)
        i = next(i for i, ln in enumerate(lines) if ln.startswith(label + ":"))
        old = lines[i].split(": ", 1)[1]
        changed = list(lines)
        changed[i] = f"{label}: {new}"
        for s in (100 * form, 100 * form + 1):
            out.append((f"known f{form} {old!r}->{new!r} vs scan {s}", lines, changed, s, tseed))
    return out


def rescan_set(nforms: int = 9, first: int = 0) -> list[tuple[str, list[str], list[str], int, int]]:
    return [
        (f"f{form} rescan", original(form), original(form), 100 * form, 100 * form + 1)
        for form in range(first, first + nforms)
    ]


def run(name: str, pairs, near: float) -> dict[str, int]:
    matched = asym = n = 0
    worst = []
    cpu = 0.0
    for label, lines, changed, s, ts in pairs:
        a, b = scan_key(lines, s), scan_key(changed, ts)
        t = time.process_time()
        v1, v2 = match_keys(b, a), match_keys(a, b)
        cpu += time.process_time() - t
        n += 2
        matched += int(v1.duplicate) + int(v2.duplicate)
        if v1.duplicate != v2.duplicate:
            asym += 1
        f1, f2 = v1.fine_score, v2.fine_score
        if v1.duplicate or v2.duplicate or (f1 == f1 and f1 < near) or name == "rescans":
            print(
                f"  {name:7s} {label:60s} {v1.reason:9s}/{v2.reason:9s} "
                f"ink {v1.ink_score:.2f} fine {f1:.2f}/{f2:.2f}"
            )
        worst.append(f1 if f1 == f1 else np.inf)
    print(
        f"{name}: {matched}/{n} ordered pairs matched, {asym} asymmetric, "
        f"match_keys CPU {1000 * cpu / n:.2f} ms/pair"
    )
    return {"matched": matched, "pairs": n, "asym": asym}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", nargs="?", default="all", choices=["twins", "dates", "all"])
    p.add_argument("--near", type=float, default=0.6)
    p.add_argument("--forms", type=int, default=9, help="forms of the twin set (default 9)")
    p.add_argument(
        "--first-form",
        type=int,
        default=0,
        help="first form of the twin and date sets (default 0; 0-29 are tuning forms)",
    )
    p.add_argument("--date-forms", type=int, default=30, help="forms of the date set (default 30)")
    args = p.parse_args()
    if args.which in ("twins", "all"):
        run("rescans", rescan_set(args.forms, args.first_form), args.near)
        run("twins", twin_set(args.forms, args.first_form), args.near)
    if args.which in ("dates", "all"):
        run("dates", date_set(args.date_forms, args.first_form), args.near)


if __name__ == "__main__":
    main()
