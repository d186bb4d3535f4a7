"""Regenerate the bundled demo dossier in examples/sample/ (run from the repository root).

Five A5 pages at 200 dpi, colour JPEG, generated from Vietnamese text with tests/synth.py:
01 a plan's first page with a red seal, 02 the next page skewed by 4 degrees, 03 a page
scanned upside down, 04 a blank back side (paper texture and noise only), 05 a rescan of
page 01 (shifted, rotated by 1 degree, different JPEG quality): the duplicate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import synth  # noqa: E402

OUT = Path(__file__).resolve().parent / "sample"
DPI = 200


def save(rgb: np.ndarray, name: str, quality: int = 55) -> None:
    Image.fromarray(rgb, "RGB").save(OUT / name, format="JPEG", quality=quality, dpi=(DPI, DPI))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(2021)
    lines = synth.VI_LINES
    p1 = synth.render_page(lines[:16], dpi=DPI, paper="A5", font_pt=11, margin_mm=15, max_lines=16)
    rgb1 = synth.add_stamp(synth.to_color(p1.gray), (900, 1350), 110)
    rgb1 = synth.add_signature(rgb1, (780, 1420), size=260)
    save(rgb1, "01-ke-hoach-trang-1.jpg")
    p2 = synth.render_page(lines[6:] + lines[:6], dpi=DPI, paper="A5", font_pt=11, margin_mm=15)
    save(synth.to_color(synth.rotate(p2.gray, 4.0)), "02-trang-2-nghieng.jpg")
    p3 = synth.render_page(lines[10:] + lines[:10], dpi=DPI, paper="A5", font_pt=11, margin_mm=15)
    save(synth.to_color(np.ascontiguousarray(p3.gray[::-1, ::-1])), "03-trang-3-lon-nguoc.jpg")
    blank = synth.add_noise(np.full(p1.gray.shape, 250, np.uint8), 1.5, rng)
    save(synth.to_color(blank), "04-trang-trang.jpg")
    rescan = np.roll(synth.rotate(rgb1, 1.0, fill=250), (12, -9), axis=(0, 1))
    save(rescan, "05-quet-lai-trang-1.jpg", quality=45)


if __name__ == "__main__":
    main()
