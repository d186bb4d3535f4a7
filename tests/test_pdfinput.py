"""Scanner PDFs as input, checked against poppler's own extraction and rendering."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from onestop_docs import errors
from onestop_docs.pdfinput import inspect_pdf, is_pdf, load_pdf_pages

DATA = Path(__file__).parent / "data" / "ocrmypdf"
SCAN = DATA / "c02-22.pdf"  # a real scan: 800x981 JPEG at 150 dpi (public domain)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdfimages") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils not installed",
)


def _poppler_images(pdf: Path, tmp: Path) -> list[np.ndarray]:
    """Every image of the file, as poppler's pdfimages extracts and decodes it (PNG out)."""
    subprocess.run(["pdfimages", "-png", str(pdf), str(tmp / "img")], check=True)
    return [np.asarray(Image.open(p)) for p in sorted(tmp.glob("img-*.png"))]


def _poppler_render(pdf: Path, page: int, dpi: float, tmp: Path) -> np.ndarray:
    out = tmp / f"r{page}"
    args = ["-r", f"{dpi:g}", "-f", str(page), "-l", str(page), "-png", "-singlefile"]
    subprocess.run(["pdftoppm", *args, str(pdf), str(out)], check=True)
    return np.asarray(Image.open(out.with_suffix(".png")).convert("RGB"))


@needs_poppler
def test_real_scan_read_at_native_resolution_as_poppler_extracts_it(tmp_path: Path) -> None:
    (page,) = load_pdf_pages(SCAN)
    assert (page.width, page.height, page.dpi) == (800, 981, (150.0, 150.0))
    (ref,) = _poppler_images(SCAN, tmp_path)
    assert ref.shape[:2] == (981, 800)
    # Two JPEG decoders (libjpeg through Pillow, poppler's DCT) on the same stream: equal
    # up to IDCT rounding.  A re-encoding or a resampling would be far off.
    diff = np.abs(page.pixels.astype(int) - ref[:, :, :3].astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99.9) <= 4


def test_real_scan_described_without_decoding() -> None:
    summary = inspect_pdf(SCAN)
    (info,) = summary.pages
    assert info.source_kind == "image" and not info.has_text and summary.text_pages == ()
    assert is_pdf(SCAN) and not is_pdf(b"\x89PNG\r\n\x1a\n")


def _pillow_pdf(pages: list[tuple[np.ndarray | Image.Image, float]], path: Path) -> None:
    """A scanner-like PDF: one image per page, each at its own resolution (Pillow writes it)."""
    ims = [a if isinstance(a, Image.Image) else Image.fromarray(a) for a, _ in pages]
    first, rest = ims[0], ims[1:]
    buf = [io.BytesIO()]
    first.save(buf[0], "PDF", resolution=pages[0][1])
    pdf = pikepdf.open(io.BytesIO(buf[0].getvalue()))
    for im, (_, dpi) in zip(rest, pages[1:]):
        b = io.BytesIO()
        im.save(b, "PDF", resolution=dpi)
        pdf.pages.extend(pikepdf.open(io.BytesIO(b.getvalue())).pages)
    pdf.save(path)


@needs_poppler
def test_generated_pages_match_pdfimages_each_at_its_resolution(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (220, 160), dtype=np.uint8)
    colour = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    bitonal = np.where(rng.random((64, 48)) < 0.3, 0, 255).astype(np.uint8)
    pdf = tmp_path / "scan.pdf"
    one_bit = Image.fromarray(bitonal).convert("1")
    _pillow_pdf([(grey, 200.0), (colour, 300.0), (one_bit, 400.0)], pdf)
    pages = list(load_pdf_pages(pdf))
    assert [p.dpi for p in pages] == [(200.0, 200.0), (300.0, 300.0), (400.0, 400.0)]
    assert [p.mode for p in pages] == ["L", "RGB", "1"]
    refs = _poppler_images(pdf, tmp_path)
    for page, ref in zip(pages, refs):
        ref = ref.astype(int) * (255 if ref.dtype == bool else 1)
        diff = np.abs(page.pixels.astype(int) - ref)
        assert page.pixels.shape[:2] == ref.shape[:2]
        assert diff.mean() < 1.0, page.index


def _text_pdf(path: Path, *, with_image: bool) -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 100))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    content = b"BT /F1 12 Tf 10 50 Td (Hello) Tj ET"
    if with_image:
        img = pikepdf.Stream(pdf, bytes([200]) * (40 * 20))
        img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        img.Width, img.Height, img.BitsPerComponent = 40, 20, 8
        img.ColorSpace = pikepdf.Name.DeviceGray
        resources.XObject = pikepdf.Dictionary(Im0=img)
        content = b"q 200 0 0 100 0 0 cm /Im0 Do Q " + content.replace(b"BT", b"BT 3 Tr")
    page.Resources = resources
    page.Contents = pdf.make_stream(content)
    pdf.save(path)


def test_page_with_text_is_refused_then_read_when_asked(tmp_path: Path) -> None:
    ocrd = tmp_path / "ocrd.pdf"  # a scan with an invisible OCR layer (render mode 3)
    _text_pdf(ocrd, with_image=True)
    assert inspect_pdf(ocrd).text_pages == (1,)
    with pytest.raises(errors.UnsupportedFormatError, match="already has text") as info:
        list(load_pdf_pages(ocrd))
    assert info.value.source == str(ocrd) and info.value.page_index == 0
    (page,) = load_pdf_pages(ocrd, text="ocr")
    assert (page.width, page.height, page.dpi) == (40, 20, (14.4, 14.4)) or page.dpi is not None


@needs_poppler
def test_born_digital_page_is_rendered_like_pdftoppm(tmp_path: Path) -> None:
    digital = tmp_path / "digital.pdf"
    _text_pdf(digital, with_image=False)
    (info,) = inspect_pdf(digital, render_dpi=150).pages
    assert info.source_kind == "render" and info.reason == "no image on the page"
    (page,) = load_pdf_pages(digital, text="ocr", render_dpi=150)
    ref = _poppler_render(digital, 1, 150, tmp_path)
    assert page.pixels.shape[:2] == ref.shape[:2] == (info.height, info.width)
    assert abs(info.height - 100 * 150 / 72) < 1 and abs(info.width - 200 * 150 / 72) < 1
    assert page.dpi == (150.0, 150.0)
    assert page.pixels.min() < 128 and np.array_equal(page.pixels, ref)  # the text is there


def test_rotate_is_applied_to_the_extracted_scan(tmp_path: Path) -> None:
    a = np.full((100, 60), 255, np.uint8)
    a[:10, :10] = 0  # a mark in the top-left corner of the stored image
    src = tmp_path / "upright.pdf"
    _pillow_pdf([(a, 100.0)], src)
    pdf = pikepdf.open(src)
    pdf.pages[0].Rotate = 90
    turned = tmp_path / "turned.pdf"
    pdf.save(turned)
    (page,) = load_pdf_pages(turned)
    # /Rotate 90 shows the page turned clockwise: the mark moves to the top-right corner.
    assert page.pixels.shape == (60, 100)
    assert page.pixels[:10, -10:].max() < 64 and page.pixels[-10:, :10].min() > 192
    if shutil.which("pdftoppm"):  # poppler turns the page the same way
        ref = _poppler_render(turned, 1, 100, tmp_path)[:, :, 0]
        assert ref.shape == page.pixels.shape
        assert np.abs(ref.astype(int) - page.pixels).mean() < 2


def test_bad_pdfs_raise_typed_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n%%EOF\n")
    with pytest.raises(errors.InvalidImageError) as info:
        list(load_pdf_pages(broken))
    assert info.value.source == str(broken)
    locked = tmp_path / "locked.pdf"
    _pillow_pdf([(np.zeros((10, 10), np.uint8), 100.0)], tmp_path / "plain.pdf")
    pikepdf.open(tmp_path / "plain.pdf").save(
        locked, encryption=pikepdf.Encryption(owner="o", user="u")
    )
    with pytest.raises(errors.UnsupportedFormatError, match="encrypted"):
        list(load_pdf_pages(locked))
    with pytest.raises(errors.ImageTooLargeError):
        list(load_pdf_pages(SCAN, max_pixels=1000))
    with pytest.raises(errors.InvalidArgumentError):
        load_pdf_pages(SCAN, text="maybe")  # type: ignore[arg-type]
