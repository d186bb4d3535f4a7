"""Candidate-hash distances of true duplicates and of other pairs on an evalkit corpus set.

Decides what Hamming radius the reuse store's candidate search must guarantee: for every
pair of non-blank pages, the candidate distance (closer orientation) by class (rescan by
scanner, rescan with a phone capture, same form filled differently, other) and the
verifier's verdict.  Phone captures are keyed twice: as a scan (as evalkit does) and
through ``capture.rectify`` (as ``ReuseStore.lookup(photo=True)`` does).

Usage: python benchmarks/reuse_radius.py DIR/SET [DIR/SET ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from typing import Any

import numpy as np
from PIL import Image

from onestop_docs.dedup import match_keys
from onestop_docs.reuse import keys as rk

_RECTIFY_DPI: float | None = rk.PHOTO_DPI


def _keys(root: str) -> tuple[list[dict], dict[str, object], dict[str, object]]:
    gts = []
    for f in sorted(glob.glob(os.path.join(root, "pages", "p*.json"))):
        with open(f, encoding="utf-8") as fh:
            gts.append(json.load(fh))
    gts = [g for g in gts if g["kind"] != "blank"]
    scan, photo = {}, {}
    for g in gts:
        arr = np.asarray(
            Image.open(os.path.join(root, "pages", g["files"]["degraded"])).convert("L")
        )
        dpi = g.get("dpi", 300)
        scan[g["page_id"]] = rk.key_of_page(arr, dpi=dpi)[0]
        if g.get("capture") == "phone":
            photo[g["page_id"]] = rk.key_of_photo(arr, dpi=dpi, rectify_dpi=_RECTIFY_DPI)[0]
    return gts, scan, photo


def _dist(a: Any, b: Any) -> int:
    return int(min(a.candidate - b.candidate, a.candidate_flip - b.candidate))


def run(root: str) -> dict[str, object]:
    gts, scan, photo = _keys(root)
    out: dict[str, list[tuple[int, bool]]] = {
        "scanner": [],
        "phone": [],
        "phone-rectified": [],
        "same-form": [],
        "other": [],
    }
    for i in range(len(gts)):
        for j in range(i + 1, len(gts)):
            a, b = gts[i], gts[j]
            ka, kb = scan[a["page_id"]], scan[b["page_id"]]
            if ka is None or kb is None:
                continue
            pos = a["source_id"] == b["source_id"]
            is_phone = "phone" in (a.get("capture"), b.get("capture"))
            if pos:
                cls = "phone" if is_phone else "scanner"
            elif a["template_id"] and a["template_id"] == b["template_id"]:
                cls = "same-form"
            else:
                cls = "other"
            out[cls].append((_dist(ka, kb), match_keys(ka, kb).duplicate))
            if pos and is_phone:
                pa = photo.get(a["page_id"], ka)
                pb = photo.get(b["page_id"], kb)
                if pa is not None and pb is not None:
                    out["phone-rectified"].append((_dist(pa, pb), match_keys(pa, pb).duplicate))
    res: dict[str, object] = {"set": root}
    for cls, v in out.items():
        d = np.array([x for x, _ in v], int)
        ok = np.array([y for _, y in v], bool)
        res[cls] = {
            "pairs": len(v),
            "verified": int(ok.sum()),
            "max_distance_verified": int(d[ok].max()) if ok.any() else None,
            "distances_verified": sorted(d[ok].tolist()) if cls not in ("other",) else None,
            "min_distance": int(d.min()) if len(d) else None,
            "distances_all": sorted(d.tolist())
            if cls in ("scanner", "phone", "phone-rectified")
            else None,
            "quantiles_all": np.percentile(d, [0, 1, 5, 50]).tolist() if len(d) else None,
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--json")
    ap.add_argument("--rectify-dpi", type=float, default=rk.PHOTO_DPI, help="0: the photo's own")
    a = ap.parse_args()
    global _RECTIFY_DPI
    _RECTIFY_DPI = a.rectify_dpi or None
    res = [run(s) for s in a.sets]
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
