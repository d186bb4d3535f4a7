"""Prepare the working folder in which every example of README.md and docs/ runs.

    python examples/docs_workspace.py DIR

The examples use relative paths; run them from ``DIR`` after this script has filled it with:

* ``scans/`` — the bundled sample dossier (``examples/sample``: five A5 pages at 200 dpi);
* ``scan.tif`` — the same pages as one multi-page TIFF, ``scan.png`` — its first page;
* ``pki/`` — a throwaway DEMO PKI ("DEMO — NOT FOR PRODUCTION"): ``demo-root.pem``,
  ``demo-officer.p12``, ``demo-organisation.p12`` (password ``demo``);
* ``scan.pdf`` — the same pages as an image-only PDF, as a networked scanner writes it;
* ``photo.jpg`` — a real phone photo of a book page (``tests/data/page_dewarp``, MIT licence);
* ``inbox/`` — an empty folder for the watched-folder examples;
* ``upload.pdf`` — a one-page PDF of the first page signed by the demo officer (what a
  kiosk receives);
* ``station.toml`` — a station configuration that uses the demo PKI.

and export the PKCS#12 passwords the examples read::

    export ONESTOP_OFFICER_PASSWORD=demo ONESTOP_ORG_PASSWORD=demo

``tests/test_docs.py`` builds this folder the same way and runs every example in a copy of it,
so what the pages show is what a user gets.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image

SAMPLE = Path(__file__).resolve().parent / "sample"
PHOTO = Path(__file__).resolve().parent.parent / "tests" / "data" / "page_dewarp" / "boston_cooking_a.jpg"
PASSWORD = "demo"

STATION_TOML = """\
[station]
agency = "000.00.00.H27"
agency_name = "UBND tỉnh Hà Tĩnh"

[officer]
p12 = "pki/demo-officer.p12"
password_env = "ONESTOP_OFFICER_PASSWORD"
name = "Nguyễn Văn Ạnh"

[organisation]
p12 = "pki/demo-organisation.p12"
password_env = "ONESTOP_ORG_PASSWORD"

[options]
ocr = false
"""


def prepare(directory: str | Path) -> Path:
    """Fill ``directory`` with the example inputs listed in the module docstring."""
    from onestop_docs.signing import demo_pki, sign_pdf

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    scans = out / "scans"
    scans.mkdir(exist_ok=True)
    pages = sorted(SAMPLE.glob("*.jpg"))
    for p in pages:
        shutil.copy2(p, scans / p.name)
    images = [Image.open(p) for p in pages]
    dpi = images[0].info.get("dpi", (200, 200))
    images[0].save(
        out / "scan.tif",
        save_all=True,
        append_images=images[1:],
        compression="tiff_deflate",
        dpi=dpi,
    )
    images[0].save(out / "scan.png", dpi=dpi)
    images[0].save(out / "scan.pdf", "PDF", save_all=True, append_images=images[1:],
                   resolution=float(dpi[0]))
    if PHOTO.is_file():
        shutil.copy2(PHOTO, out / "photo.jpg")
    (out / "inbox").mkdir(exist_ok=True)
    pki = demo_pki(out / "pki", password=PASSWORD)
    unsigned = out / "pki" / "upload-unsigned.pdf"
    images[0].save(unsigned, "PDF", resolution=float(dpi[0]))
    sign_pdf(unsigned, out / "upload.pdf", pki.officer_signer, signer_name="Nguyễn Văn Ạnh")
    unsigned.unlink()
    (out / "station.toml").write_text(STATION_TOML, encoding="utf-8")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/docs_workspace.py DIR")
    print(prepare(sys.argv[1]))
