"""Tests of onestop_docs.pdf: independent tools (poppler, Ghostscript, fontTools, pyHanko,
pikepdf) read what build_pdf writes and must see the pages, resolution, colour, text and
metadata we intended."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
import warnings
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pikepdf
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from PIL import Image

from onestop_docs.compliance import check_pdfa
from onestop_docs.errors import InvalidArgumentError
from onestop_docs.imageio import Page
from onestop_docs.metadata import RecordMetadata
from onestop_docs.pdf import build_pdf, glyphless_font, srgb_icc_profile
from onestop_docs.types import Box, OcrLine, OcrResult, OcrWord

HAVE_POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdfimages") is not None
needs_poppler = pytest.mark.skipif(not HAVE_POPPLER, reason="poppler-utils not installed")
ICT = timezone(timedelta(hours=7))
CREATED = datetime(2026, 1, 5, 8, 30, tzinfo=ICT)


def ocr_from_synth(sp: synth.SynthPage) -> OcrResult:
    """Ground-truth OcrResult of a synthetic page (words grouped into their rendered lines)."""
    lines = []
    for idx, (lb, text) in enumerate(zip(sp.line_boxes, sp.lines)):
        words = [
            OcrWord(t, Box(*b), 96.0, idx)
            for t, b in sp.word_boxes
            if b[1] >= lb[1] - 1 and b[3] <= lb[3] + 1 and lb[0] - 1 <= b[0] <= lb[2]
        ]
        assert " ".join(w.text for w in words) == text
        lines.append(OcrLine(tuple(words), Box(*lb)))
    h, w = sp.gray.shape
    return OcrResult(sp.text, tuple(lines), 96.0, w, h, float(sp.dpi))


def colour_page(paper: str = "A5", dpi: int = 200, **kw: object) -> tuple[Page, OcrResult]:
    sp = synth.render_page(dpi=dpi, paper=paper, **kw)  # type: ignore[arg-type]
    rgb = synth.add_stamp(synth.to_color(sp.gray), (sp.gray.shape[1] // 2, 300), 80)
    return Page(rgb, mode="RGB", dpi=(float(dpi), float(dpi))), ocr_from_synth(sp)


def record(**kw: object) -> RecordMetadata:
    base: dict[str, object] = dict(
        dossier_code="H42.01.02-260105-0001",
        code_number="15",
        code_notation="QĐ-UBND",
        issued_date=date(2026, 1, 5),
        organ_id="H42.01.02",
        organ_name="Ủy ban nhân dân xã Thạch Hà",
        subject="Giấy khai sinh bản chính",
        result_code="KQ.G15.000031",
        owner_id="042099001234",
        scan_time=CREATED,
    )
    base.update(kw)
    return RecordMetadata(**base)  # type: ignore[arg-type]


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def a5_record(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Page], list[OcrResult]]:
    p1, t1 = colour_page("A5", 200)
    p2, t2 = colour_page("A5", 200, landscape=True, font="sans")
    path = tmp_path_factory.mktemp("pdf") / "record.pdf"
    build_pdf([p1, p2], output=path, text=[t1, t2], metadata=record(page_amount=2), created=CREATED)
    return path, [p1, p2], [t1, t2]


# ----------------------------------------------------------------------------- geometry, images


@needs_poppler
def test_pdfinfo_reports_version_and_true_page_size(tmp_path: Path) -> None:
    sp = synth.render_page(dpi=300, paper="A4", max_lines=3)
    page = Page(synth.to_color(sp.gray), mode="RGB", dpi=(300.0, 300.0))
    out = tmp_path / "a4.pdf"
    assert build_pdf([page], output=out) is None
    info = run("pdfinfo", str(out))
    version = re.search(r"PDF version:\s+(\d+)\.(\d+)", info)
    assert version and (int(version[1]), int(version[2])) >= (1, 4)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size is not None
    w_mm, h_mm = float(size[1]) * 25.4 / 72, float(size[2]) * 25.4 / 72
    assert abs(w_mm - 210) < 0.2 and abs(h_mm - 297) < 0.2  # 2480 x 3508 px at 300 dpi


@needs_poppler
def test_pdfimages_shows_dpi_and_colour(tmp_path: Path) -> None:
    colour, _ = colour_page("A6", 250)
    gray = Page(
        synth.render_page(dpi=220, paper="A6", max_lines=2).gray, mode="L", dpi=(220.0, 220.0)
    )
    out = tmp_path / "mixed.pdf"
    build_pdf([colour, gray], output=out)
    rows = [r.split() for r in run("pdfimages", "-list", str(out)).splitlines()[2:]]
    assert [(r[0], r[5], r[8], r[12], r[13]) for r in rows] == [
        ("1", "rgb", "jpeg", "250", "250"),
        ("2", "gray", "jpeg", "220", "220"),
    ]
    assert [(int(r[3]), int(r[4])) for r in rows] == [
        (colour.width, colour.height),
        (gray.width, gray.height),
    ]


@needs_poppler
def test_bitonal_pages_are_lossless(tmp_path: Path) -> None:
    sp = synth.render_page(dpi=200, paper="A6", max_lines=4)
    bits = np.where(sp.ink, 0, 255).astype(np.uint8)
    bits[0, :7] = 0  # a row edge that is not a multiple of 8 wide
    page = Page(bits, mode="1", dpi=(200.0, 200.0))
    out = tmp_path / "bitonal.pdf"
    build_pdf([page], output=out)
    row = run("pdfimages", "-list", str(out)).splitlines()[2].split()
    assert row[5] == "gray" and row[7] == "1"  # colour, bits per component
    run("pdfimages", "-png", str(out), str(tmp_path / "img"))
    extracted = np.asarray(Image.open(tmp_path / "img-000.png").convert("L"))
    np.testing.assert_array_equal(extracted, bits)


def test_jpeg_quality_matches_pillow_reference(tmp_path: Path) -> None:
    page, _ = colour_page("A6", 200)
    data = build_pdf([page], jpeg_quality=70)
    assert data is not None
    with pikepdf.open(io.BytesIO(data)) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        embedded = image.read_raw_bytes()
    ref = io.BytesIO()
    Image.fromarray(page.pixels, "RGB").save(ref, format="JPEG", quality=70, subsampling="4:2:0")
    assert embedded == ref.getvalue()


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed")
def test_rendered_page_matches_the_scan(tmp_path: Path) -> None:
    page, text = colour_page("A6", 150)
    with_text, without = tmp_path / "t.pdf", tmp_path / "n.pdf"
    build_pdf([page], output=with_text, text=[text], jpeg_quality=95)
    build_pdf([page], output=without, jpeg_quality=95)

    def render(path: Path, stem: str) -> np.ndarray:
        run("pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / stem))
        im = Image.open(next(tmp_path.glob(f"{stem}*.png"))).convert("RGB")
        return np.asarray(im, dtype=np.int16)

    rendered = render(with_text, "t")
    assert rendered.shape == page.pixels.shape  # 100 % scale: the same pixel grid
    # The invisible text layer paints nothing.
    np.testing.assert_array_equal(rendered, render(without, "n"))
    # Aligned: the render matches the scan better than the scan moved by 2 pixels.
    err = np.abs(rendered - page.pixels).mean()
    shifted = np.abs(rendered[:, 2:] - page.pixels[:, :-2]).mean()
    assert err < 8.0 and err < 0.5 * shifted


# ----------------------------------------------------------------------------- text layer


def _words(text: str) -> list[str]:
    return unicodedata.normalize("NFC", text).split()


@needs_poppler
def test_pdftotext_finds_the_ocr_words_in_reading_order(a5_record: tuple) -> None:
    path, _, texts = a5_record
    for number, ocr in enumerate(texts, start=1):
        got = run("pdftotext", "-f", str(number), "-l", str(number), str(path), "-")
        assert unicodedata.is_normalized("NFC", got)
        truth = [w.text for w in ocr.words]
        found = sum((Counter(truth) & Counter(_words(got))).values())
        assert found / len(truth) >= 0.98
        got_lines = [ln.strip() for ln in got.splitlines() if ln.strip()]
        assert got_lines == [line.text for line in ocr.lines]


@needs_poppler
def test_word_boxes_line_up_with_the_ocr_boxes(a5_record: tuple) -> None:
    path, pages, texts = a5_record
    html = run("pdftotext", "-f", "1", "-l", "1", "-bbox", str(path), "-")
    pattern = (
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    )
    boxes = [
        (float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(pattern, html)
    ]
    truth = texts[0].words
    assert len(boxes) == len(truth)
    scale = 72.0 / pages[0].dpi[0]
    for (x0, y0, x1, y1, text), word in zip(boxes, truth):
        assert text == word.text
        assert abs(x0 - word.box.x0 * scale) < 0.5
        assert abs(x1 - word.box.x1 * scale) < 0.5
        line = texts[0].lines[word.line_index].box  # words share their line's baseline and size
        assert abs(y0 - line.y0 * scale) < 0.5  # top = baseline - ascent (1 em)
        # poppler adds its default descent below the baseline (our font declares none)
        assert line.y1 * scale - 0.5 < y1 < (line.y1 + 0.4 * line.height) * scale


VI_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
)


@needs_poppler
@given(
    st.lists(
        st.text(
            alphabet=VI_LETTERS + VI_LETTERS.upper() + "0123456789/-.,", min_size=1, max_size=12
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_vietnamese_words_survive_pdftotext(words: list[str]) -> None:
    words = [unicodedata.normalize("NFC", w) for w in words]
    h, w = 400, 1200
    x, boxes = 20, []
    for word in words:
        width = 14 * len(word)
        boxes.append(OcrWord(word, Box(x, 100, x + width, 130), 90.0))
        x += width + 12
    w = max(w, x + 20)
    ocr = OcrResult(
        " ".join(words), (OcrLine(tuple(boxes), Box(20, 100, x - 12, 130)),), 90.0, w, h
    )
    page = Page(np.full((h, w), 255, np.uint8), mode="L", dpi=(200.0, 200.0))
    data = build_pdf([page], text=[ocr], profile="pdf")
    assert data is not None
    got = subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout
    assert _words(got.decode("utf-8")) == words


@needs_poppler
def test_text_layer_and_title_get_the_library_normal_form() -> None:
    """Regression: plain NFC cannot compose a tone mark typed before the circumflex (both
    have combining class 230); the text layer and the title go through vntext.normalize."""
    typed = "Nguye\u0303\u0302n"
    assert unicodedata.normalize("NFC", typed) != "Nguyễn"
    word = OcrWord(typed, Box(20, 100, 120, 130), 90.0)
    ocr = OcrResult(typed, (OcrLine((word,), word.box),), 90.0, 400, 200)
    page = Page(np.full((200, 400), 255, np.uint8), mode="L", dpi=(200.0, 200.0))
    data = build_pdf([page], text=[ocr], title=f"Hồ sơ {typed}", profile="pdf")
    assert data is not None
    got = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    assert _words(got.stdout.decode("utf-8")) == ["Nguyễn"]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.trailer.Info.Title) == "Hồ sơ Nguyễn"


def test_ocr_frame_is_scaled_onto_the_page() -> None:
    # OCR ran on a half-size copy: its boxes must be doubled onto the page.
    page = Page(np.full((400, 600), 255, np.uint8), mode="L", dpi=(200.0, 200.0))
    ocr = OcrResult(
        "Hà",
        (OcrLine((OcrWord("Hà", Box(50, 50, 100, 70), 90.0),), Box(50, 50, 100, 70)),),
        90.0,
        300,
        200,
    )
    data = build_pdf([page], text=[ocr], profile="pdf")
    assert data is not None
    with pikepdf.open(io.BytesIO(data)) as pdf:
        ops = [(str(op), list(args)) for args, op in pikepdf.parse_content_stream(pdf.pages[0])]
    tm = next(args for op, args in ops if op == "Tm")
    assert float(tm[4]) == pytest.approx(100 * 72 / 200)  # x0 50 px in OCR frame -> 100 px


# ----------------------------------------------------------------------------- fonts, metadata, PDF/A


def test_glyphless_font_is_a_valid_truetype_font() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    font = ttlib.TTFont(io.BytesIO(glyphless_font()))
    assert font["maxp"].numGlyphs == 2
    assert font["hmtx"].metrics["space"][0] == 500  # equals /DW 500 of the CIDFont
    assert font["head"].unitsPerEm == 1000
    assert font["OS/2"].fsType == 0  # installable embedding (PDF/A-2 6.2.11.4 legal use)
    data = glyphless_font()
    words = np.frombuffer(data + b"\0" * (-len(data) % 4), dtype=">u4")
    assert int(words.sum(dtype=np.uint64)) & 0xFFFFFFFF == 0xB1B0AFBA  # checkSumAdjustment


def test_srgb_profile_is_an_rgb_display_profile() -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(srgb_icc_profile()))
    assert profile.profile.xcolor_space.strip() == "RGB"
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_xmp_carries_the_record_codes(a5_record: tuple) -> None:
    path, _, _ = a5_record
    with pikepdf.open(path) as pdf:
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "2B"
        assert meta["dc:title"] == "Giấy khai sinh bản chính"
        assert meta["xmp:CreatorTool"].startswith("onestop_docs ")
        assert meta["xmp:CreateDate"] == CREATED.isoformat()
        xml = pdf.Root.Metadata.read_bytes().decode("utf-8")
        assert "/Filter" not in pdf.Root.Metadata
        info = pdf.docinfo
        assert str(info.Title) == "Giấy khai sinh bản chính"
        assert str(info.CreationDate) == "D:20260105083000+07'00'"
        intent = pdf.Root.OutputIntents[0]
        assert intent.S == "/GTS_PDFA1"
        assert intent.DestOutputProfile.read_bytes() == srgb_icc_profile()
    tree = etree.fromstring(xml.encode("utf-8"))
    dc = "{http://purl.org/dc/elements/1.1/}"
    li = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"
    assert tree.findtext(f".//{dc}identifier") == "H42.01.02-260105-0001"
    assert tree.findtext(f".//{dc}source") == "15/QĐ-UBND"
    assert [e.text for e in tree.iterfind(f".//{dc}date/*/{li}")] == ["2026-01-05"]
    assert [e.text for e in tree.iterfind(f".//{dc}publisher/*/{li}")] == [
        "Ủy ban nhân dân xã Thạch Hà"
    ]
    assert sorted(e.text for e in tree.iterfind(f".//{dc}relation/*/{li}")) == [
        "onestop:AgencyId=H42.01.02",
        "onestop:DocumentCode=15/QĐ-UBND",
        "onestop:DossierCode=H42.01.02-260105-0001",
        "onestop:PageCount=2",
        "onestop:ResultCode=KQ.G15.000031",
    ]
    assert "042099001234" not in xml  # the owner's identifier is personal data: XML only


def test_pikepdf_and_ghostscript_open_without_warnings(a5_record: tuple) -> None:
    path, _, _ = a5_record
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pikepdf.open(path) as pdf:
            assert pdf.check_pdf_syntax() == []
            assert len(pdf.pages) == 2
            assert pdf.get_warnings() == []
    if shutil.which("gs"):
        res = subprocess.run(
            ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=nullpage", str(path)],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0 and "rror" not in res.stderr + res.stdout


def test_pdfa_checks_pass_and_plain_profile_fails(a5_record: tuple, tmp_path: Path) -> None:
    path, pages, texts = a5_record
    assert check_pdfa(path) == ()
    plain = tmp_path / "plain.pdf"
    build_pdf(pages, output=plain, text=texts, profile="pdf")
    assert any("PDF/A-2" in f.message for f in check_pdfa(plain))


def test_pikepdf_pdfa_validator_approves(a5_record: tuple, tmp_path: Path) -> None:
    try:
        import pikepdf.pdfa as pdfa
    except ImportError:
        pytest.skip("pikepdf[pdfa] not installed")
    path, _, _ = a5_record
    report = pdfa.validate_written(str(path), "2b")
    assert report.passed, report.findings
    # Grey and bitonal pages under the sRGB output intent, and a record without metadata.
    sp = synth.render_page(dpi=200, paper="A6", max_lines=3)
    grey = Page(sp.gray, mode="L", dpi=(200.0, 200.0))
    bits = Page(np.where(sp.ink, 0, 255).astype(np.uint8), mode="1", dpi=(200.0, 200.0))
    mixed = tmp_path / "mixed.pdf"
    build_pdf([grey, bits], output=mixed, text=[ocr_from_synth(sp), None])
    assert pdfa.validate_written(str(mixed), "2b").passed
    plain = tmp_path / "plain.pdf"
    build_pdf([grey], output=plain, profile="pdf")
    assert not pdfa.validate_written(str(plain), "2b").passed


def test_same_input_same_bytes(tmp_path: Path) -> None:
    page, text = colour_page("A6", 150)
    a = build_pdf([page], text=[text], metadata=record(), created=CREATED)
    build_pdf([page], text=[text], metadata=record(), created=CREATED, output=tmp_path / "b.pdf")
    assert a == (tmp_path / "b.pdf").read_bytes()


def test_build_pdf_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    page, text = colour_page("A6", 150, max_lines=4)
    expected = build_pdf([page], text=[text], metadata=record(), created=CREATED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda _: build_pdf([page], text=[text], metadata=record(), created=CREATED),
                range(8),
            )
        )
    assert all(r == expected for r in results)


@pytest.mark.tools
def test_pdfa_claims_survive_a_pyhanko_signature(a5_record: tuple, tmp_path: Path) -> None:
    pytest.importorskip("pyhanko")
    from test_compliance import sign_pdf_with_pyhanko

    path, _, _ = a5_record
    signed = tmp_path / "signed.pdf"
    sign_pdf_with_pyhanko(path, signed, corner="top-left")
    assert signed.read_bytes().startswith(path.read_bytes())  # incremental update
    findings = check_pdfa(signed)
    assert [f for f in findings if f.severity == "error"] == []
    # pikepdf's allowlist validator does not cover forms: the signature field is "unsupported".
    assert all("AcroForm" in f.message for f in findings)
    if shutil.which("pdfsig"):
        out = run("pdfsig", str(signed))
        assert "Total document signed" in out


# ----------------------------------------------------------------------------- errors


def test_errors_name_the_problem() -> None:
    ok = Page(np.full((50, 50), 255, np.uint8), mode="L", dpi=(200.0, 200.0))
    no_dpi = Page(np.full((50, 50), 255, np.uint8), mode="L")
    with pytest.raises(InvalidArgumentError, match="at least one page"):
        build_pdf([])
    with pytest.raises(InvalidArgumentError, match=r"page 1 .*resolution unknown"):
        build_pdf([ok, no_dpi])
    with pytest.raises(InvalidArgumentError, match="text has 2 entries for 1 pages"):
        build_pdf([ok], text=[None, None])
    with pytest.raises(InvalidArgumentError, match="profile"):
        build_pdf([ok], profile="pdfa-1b")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="jpeg_quality"):
        build_pdf([ok], jpeg_quality=100)
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        build_pdf([ok], created=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgumentError, match=r"expected onestop_docs\.imageio\.Page"):
        build_pdf([np.zeros((5, 5), np.uint8)])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="expected OcrResult"):
        build_pdf([ok], text=["Hà Nội"])  # type: ignore[list-item]


def test_spooled_writer_equals_in_memory_writer(tmp_path: Path) -> None:
    """More pages than one spool chunk: the spooled record has the same pages and images."""
    import pikepdf

    from onestop_docs.pdf import PdfWriter

    rng = np.random.default_rng(7)
    pages = [
        Page(rng.integers(0, 256, (60, 40, 3), dtype=np.uint8), mode="RGB", dpi=(200.0, 200.0))
        for _ in range(37)
    ]
    spool = tmp_path / "spool"
    spool.mkdir()
    a, b = PdfWriter(), PdfWriter(spool_dir=spool)
    for p in pages:
        a.add_page(p)
        b.add_page(p)
    a.save(tmp_path / "a.pdf")
    b.save(tmp_path / "b.pdf")
    with pikepdf.open(tmp_path / "a.pdf") as pa, pikepdf.open(tmp_path / "b.pdf") as pb:
        assert len(pa.pages) == len(pb.pages) == 37
        for x, y in zip(pa.pages, pb.pages):
            ix = next(iter(x.Resources.XObject.values()))
            iy = next(iter(y.Resources.XObject.values()))
            assert ix.read_raw_bytes() == iy.read_raw_bytes()
            assert list(x.MediaBox) == list(y.MediaBox)
    assert len(list(spool.iterdir())) == 1  # one spool file, earlier ones removed
