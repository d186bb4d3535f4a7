"""CER of the scan station's OCR path with and without red dropout, on evalkit pages.

Usage: ``python benchmarks/ocr_red_dropout.py EVALKIT_SET_DIR [FIRST COUNT]`` (e.g.
``~/.cache/onestop-evalkit/seeds/s24/hard``).  Each page with text ground truth goes through
the pipeline's page step (orientation, deskew, cleanup), then ``ocr.recognize`` as the
pipeline calls it, once with ``drop_red=False`` and once with the default; the CER is
evalkit's own ``metrics.cer`` against ``text_rowmajor``.  One line per page (id, capture,
has a stamp, hard cases, CER without / with), then the means.  It measures; it asserts
nothing (docs/benchmarks.md, "Red dropout").
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # bench_pipeline's synth
from bench_pipeline import EVALKIT

from onestop_docs import imageio, ocr
from onestop_docs.pipeline import DigitizeOptions
from onestop_docs.pipeline._page import _process_page


def main(folder: Path, first: int = 0, count: int = 1000) -> None:
    sys.path.insert(0, str(EVALKIT))
    from metrics import cer  # evalkit's own scoring: an independent judge

    opts = DigitizeOptions(ocr=True, assume_dpi=300.0)
    metas = [json.loads(m.read_text("utf-8")) for m in sorted((folder / "pages").glob("p*.json"))]
    metas = [
        m for m in metas if m.get("text_rowmajor", "").strip() and m["kind"] in ("document", "form")
    ][first : first + count]
    scores: dict[tuple[bool, bool], list[float]] = {}
    for meta in metas:
        src = folder / "pages" / meta["files"]["degraded"]
        page = _process_page(next(iter(imageio.load_pages(src, assume_dpi=300.0))), 1, opts).page
        row = []
        for drop in (False, True):
            prep = ocr.Preprocess(
                normalize_background=False, deskew=False, upscale_below_dpi=None, drop_red=drop
            )
            c = cer(meta["text_rowmajor"], ocr.recognize(page, lang="vie", preprocess=prep).text)
            scores.setdefault((bool(meta.get("has_stamp")), drop), []).append(c)
            row.append(f"{100 * c:.1f}")
        print(meta["page_id"], meta.get("capture"), meta.get("has_stamp"), meta.get("hard_cases"),
              row, flush=True)  # fmt: skip
    for stamped in (True, False):
        if (stamped, False) in scores:
            before, after = scores[(stamped, False)], scores[(stamped, True)]
            print(
                f"{'stamped' if stamped else 'no stamp'}: {len(before)} pages, mean CER "
                f"{100 * statistics.mean(before):.2f} % without, {100 * statistics.mean(after):.2f} "
                f"% with dropout; better on {sum(a < b for a, b in zip(after, before))}, worse on "
                f"{sum(a > b for a, b in zip(after, before))}"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]).expanduser(), *(int(a) for a in sys.argv[2:4]))
