"""PAdES signing and verification, checked with pdfsig (poppler) and pyHanko's own validator.

The stamp is checked from the PDF bytes with pikepdf and fontTools: its rectangle on page 1,
font size 10, black, Liberation Serif 2 embedded, and — through the embedded ToUnicode map and
the font's own cmap — that every character of the Vietnamese text is drawn with its glyph.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pikepdf
import pytest
import synth
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pki import BROKEN_CERT_PROBLEMS, Credential, TestPki
from tsa import LocalTsa

from onestop_docs.errors import InvalidArgumentError, SignatureError, WeakCryptoError
from onestop_docs.signing import PdfSignOptions, Signer, sign_pdf, verify_pdf
from onestop_docs.signing.pdf import LIBERATION_SERIF

pytestmark = pytest.mark.skipif(
    shutil.which("pdfsig") is None or not LIBERATION_SERIF.exists(),
    reason="needs pdfsig (poppler-utils) and fonts-liberation2",
)
UTC = dt.UTC
AGENCY = "Ủy ban nhân dân xã Hòa Bình, tỉnh Hà Tĩnh"
OFFICER = "Nguyễn Thị Ánh Tuyết"
ISO_VN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00")


@pytest.fixture(scope="module")
def scan(work: Path) -> Path:
    """A two-page scanned A5 record at 100 dpi (colour, as NĐ 30 wants)."""
    pages = [
        Image.fromarray(synth.to_color(synth.render_page(dpi=100, paper="A5", max_lines=8).gray))
        for _ in range(2)
    ]
    path = work / "scan.pdf"
    pages[0].save(path, "PDF", resolution=100, save_all=True, append_images=pages[1:])
    return path


@pytest.fixture(scope="module")
def officer(pki: TestPki) -> Credential:
    return pki.issue(OFFICER, kind="ec")


@pytest.fixture(scope="module")
def agency(pki: TestPki) -> Credential:
    return pki.issue("UBND xã Hòa Bình", kind="rsa", size=2048)


@pytest.fixture(scope="module")
def signed_twice(scan: Path, work: Path, officer: Credential, agency: Credential):
    s1 = sign_pdf(
        scan, work / "officer.pdf", Signer.from_key(officer.key, officer.cert, officer.chain)
    )
    s2 = sign_pdf(
        work / "officer.pdf",
        work / "both.pdf",
        Signer.from_key(agency.key, agency.cert, agency.chain),
        role="organisation",
        agency_name=AGENCY,
    )
    return s1, s2


def pdfsig(path: Path) -> list[dict[str, str]]:
    """Parse ``pdfsig -nocert`` output into one dict per signature (it exits 0 on mismatch)."""
    out = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    sigs: list[dict[str, str]] = []
    for line in out.splitlines():
        if re.match(r"^Signature #\d+:", line):
            sigs.append({})
        elif sigs and line.strip().startswith("- "):
            body = line.strip()[2:]
            key, _, value = body.partition(": ")
            sigs[-1][key] = value if value else key
    return sigs


def pyhanko_validate(path: Path, root) -> list:
    from asn1crypto import x509 as ax
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    vc = ValidationContext(
        trust_roots=[ax.Certificate.load(root.public_bytes(Encoding.DER))], allow_fetching=False
    )
    reader = PdfFileReader(io.BytesIO(path.read_bytes()), strict=False)
    return [validate_pdf_signature(s, vc) for s in reader.embedded_signatures]


# -- independent tools accept ours ----------------------------------------------------------


def test_two_signatures_pdfsig_and_pyhanko(
    signed_twice, work: Path, pki: TestPki, officer: Credential, agency: Credential
) -> None:
    s1, s2 = signed_twice
    sigs = pdfsig(work / "both.pdf")
    assert len(sigs) == 2
    assert [s["Signature Field Name"] for s in sigs] == ["Officer", "Organisation"]
    for s in sigs:
        assert s["Signature Validation"] == "Signature is Valid.", s
        assert s["Signature Type"] == "ETSI.CAdES.detached"
        assert s["Signing Hash Algorithm"] == "SHA-256"
    assert "Total document signed" in sigs[1]
    assert sigs[0]["Signer Certificate Common Name"] == OFFICER
    for status in pyhanko_validate(work / "both.pdf", pki.root.cert):
        assert status.bottom_line, status.pretty_print_details()
    report = verify_pdf(work / "both.pdf", trust_roots=[pki.root.cert])
    assert report.valid, report.problems
    assert [r.signer_subject for r in report.signatures] == [
        officer.cert.subject.rfc4514_string(),
        agency.cert.subject.rfc4514_string(),
    ]
    assert report.signer_subject == report.signatures[-1].signer_subject
    assert report.signatures[0].valid and report.signatures[1].valid
    assert report.signing_time == s2.signing_time
    assert report.signatures[0].signing_time == s1.signing_time
    assert report.chain[-1] == pki.root.cert.subject.rfc4514_string()


def test_first_signature_still_valid_after_second(signed_twice, work: Path, pki: TestPki) -> None:
    one = verify_pdf(work / "officer.pdf", trust_roots=[pki.root.cert])
    both = verify_pdf(work / "both.pdf", trust_roots=[pki.root.cert])
    assert one.valid and both.signatures[0].valid
    assert both.signatures[0].signer_subject == one.signer_subject
    # The officer's signed bytes are a prefix of the final file (incremental update).
    assert (work / "both.pdf").read_bytes().startswith((work / "officer.pdf").read_bytes())


# -- the visible stamp ----------------------------------------------------------------------


def _parse_tounicode(data: bytes) -> dict[int, str]:
    text = data.decode("latin-1")
    out: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(src, 16)] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(
            r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", block
        ):
            codes = range(int(lo, 16), int(hi, 16) + 1)
            if dst.startswith("["):
                targets = [
                    bytes.fromhex(t).decode("utf-16-be")
                    for t in re.findall(r"<([0-9A-Fa-f]+)>", dst)
                ]
            else:
                base = int(dst[1:-1], 16)
                targets = [chr(base + i) for i in range(len(codes))]
            out.update(zip(codes, targets, strict=True))
    return out


def stamp_content(annot: pikepdf.Dictionary) -> dict:
    """Walk the appearance stream: text lines (decoded), font sizes, colours, fonts, glyph ids."""
    result: dict = {"lines": [], "sizes": set(), "fills": set(), "fonts": [], "cids": []}

    def walk(xobj: pikepdf.Stream) -> None:
        res = xobj.get("/Resources", pikepdf.Dictionary())
        fonts = res.get("/Font", pikepdf.Dictionary())
        cmap: dict[int, str] = {}
        line = ""
        for operands, op in pikepdf.parse_content_stream(xobj):
            name = str(op)
            if name == "Tf":
                font = fonts[operands[0]]
                result["sizes"].add(float(operands[1]))
                result["fonts"].append(font)
                cmap = _parse_tounicode(font.ToUnicode.read_bytes())
            elif name in ("rg", "g"):
                result["fills"].add(tuple(float(x) for x in operands))
            elif name == "TJ":
                for item in operands[0]:
                    if isinstance(item, pikepdf.String):
                        raw = bytes(item)
                        cids = [
                            int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)
                        ]
                        result["cids"].extend(cids)
                        line += "".join(cmap[c] for c in cids)
            elif name in ("Td", "TD", "T*", "ET") and line:
                if name != "Td" or float(operands[1]) != 0:
                    result["lines"].append(line)
                    line = ""
            elif name == "Do":
                walk(res.XObject[operands[0]])
        if line:
            result["lines"].append(line)

    walk(annot.AP.N)
    return result


def test_stamp_positions_and_typography(signed_twice, work: Path) -> None:
    s1, s2 = signed_twice
    with pikepdf.open(work / "both.pdf") as pdf:
        page = pdf.pages[0]
        x1, _y1, x2, y2 = (float(v) for v in page.MediaBox)
        annots = {str(a.T): a for a in page.Annots if a.get("/FT") == "/Sig"}
        margin = PdfSignOptions().margin_pt
        officer_rect = [float(v) for v in annots["Officer"].Rect]
        org_rect = [float(v) for v in annots["Organisation"].Rect]
        # Officer: top-left of page 1 (TT 01/2023 Điều 8); organisation: top-right (NĐ 30).
        assert officer_rect[0] == pytest.approx(x1 + margin, abs=0.01)
        assert officer_rect[3] == pytest.approx(y2 - margin, abs=0.01)
        assert org_rect[2] == pytest.approx(x2 - margin, abs=0.01)
        assert org_rect[3] == pytest.approx(y2 - margin, abs=0.01)
        assert officer_rect[2] < (x1 + x2) / 2 < org_rect[0] + (org_rect[2] - org_rect[0])
        assert all(str(a.T) in ("Officer", "Organisation") for a in annots.values())
        assert len(pdf.pages[1].get("/Annots", [])) == 0
        for annot, sig in ((annots["Officer"], s1), (annots["Organisation"], s2)):
            content = stamp_content(annot)
            assert content["lines"] == sig.stamp_text.split("\n")
            assert content["sizes"] == {10.0}
            assert content["fills"] <= {(0.0, 0.0, 0.0), (0.0,)}
            for font in content["fonts"]:
                desc = font.DescendantFonts[0].FontDescriptor
                assert "LiberationSerif" in str(font.BaseFont)
                assert "/FontFile2" in desc
    lines1 = s1.stamp_text.split("\n")
    assert lines1 == [f"Người số hóa: {OFFICER}", f"Thời gian: {s1.signing_time.isoformat()}"]
    org_lines = s2.stamp_text.split("\n")
    assert org_lines[0] == "SAO Y" and org_lines[-1] == s2.signing_time.isoformat()
    # On A5 the agency name is wider than half the page: it wraps at spaces.
    assert len(org_lines) > 3 and " ".join(org_lines[1:-1]) == AGENCY
    assert ISO_VN.fullmatch(org_lines[-1])
    # The two stamps never overlap.
    assert s1.box[2] < s2.box[0]


def test_every_vietnamese_glyph_is_drawn(signed_twice, work: Path) -> None:
    """Each CID maps (Identity CIDToGIDMap, retained gids) to the glyph Liberation Serif 2's
    own cmap gives that character, and the embedded subset really contains its outline."""
    original = TTFont(str(LIBERATION_SERIF))
    best = original.getBestCmap()
    with pikepdf.open(work / "both.pdf") as pdf:
        for annot in pdf.pages[0].Annots:
            if annot.get("/FT") != "/Sig":
                continue
            content = stamp_content(annot)
            font = content["fonts"][0]
            cmap = _parse_tounicode(font.ToUnicode.read_bytes())
            embedded = TTFont(
                io.BytesIO(font.DescendantFonts[0].FontDescriptor.FontFile2.read_bytes())
            )
            glyf = embedded["glyf"]
            text = "".join(content["lines"])
            assert any(ch in text for ch in "ễĩỷọắờẩ")  # the text exercises stacked diacritics
            for cid in content["cids"]:
                ch = cmap[cid]
                assert original.getGlyphName(cid) == best[ord(ch)], ch
                if not ch.isspace():
                    assert glyf[embedded.getGlyphName(cid)].numberOfContours != 0, ch


def test_stamp_text_gets_the_library_normal_form() -> None:
    """Regression: plain NFC cannot compose a tone mark typed before the circumflex (both
    have combining class 230), so the stamp showed "ẽ" with a loose circumflex."""
    from onestop_docs.signing import VN_TZ
    from onestop_docs.signing.stamp import stamp_text

    typed = "Nguye\u0303\u0302n Thị Ánh"
    assert unicodedata.normalize("NFC", typed) != "Nguyễn Thị Ánh"
    t = dt.datetime(2025, 6, 30, 14, 5, 9, tzinfo=VN_TZ)
    text = stamp_text("officer", signing_time=t, signer_name=typed)
    assert text.splitlines()[0] == "Người số hóa: Nguyễn Thị Ánh"
    org = stamp_text("organisation", signing_time=t, agency_name="UBND xã \u00d0ông Hòa")
    assert org.splitlines()[1] == "UBND xã Đông Hòa"  # OCR look-alike eth read as Đ


_WORDS = sorted({w for line in synth.VI_LINES for w in unicodedata.normalize("NFC", line).split()})


@given(
    words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=30),
    width=st.floats(min_value=20, max_value=400),
)
def test_wrap_lines_round_trip(words: list[str], width: float) -> None:
    from onestop_docs.signing.stamp import text_width_pt, wrap_lines

    line = " ".join(words)
    wrapped = wrap_lines([line], LIBERATION_SERIF, 10, width)
    assert " ".join(wrapped) == line
    for out in wrapped:
        # Every line fits, unless it is a single word that cannot be broken.
        assert text_width_pt(out, LIBERATION_SERIF, 10) <= width or " " not in out
    # Greedy: the next word would not have fitted on the previous line.
    for a, b in itertools.pairwise(wrapped):
        assert text_width_pt(f"{a} {b.split(' ')[0]}", LIBERATION_SERIF, 10) > width


def test_rendered_stamp_ink_in_the_right_corner(
    work: Path, pki: TestPki, officer: Credential
) -> None:
    blank = work / "blank.pdf"
    Image.new("RGB", (420, 595), "white").save(blank, "PDF", resolution=72)
    out = work / "blank-signed.pdf"
    sig = sign_pdf(blank, out, Signer.from_key(officer.key, officer.cert, officer.chain))
    png = work / "render"
    subprocess.run(
        ["pdftoppm", "-r", "72", "-gray", "-png", str(out), str(png)], check=True, timeout=60
    )
    pixels = np.asarray(Image.open(next(work.glob("render*.png"))).convert("L"))
    h, w = pixels.shape
    x1, y1, x2, y2 = sig.box
    ys, xs = np.nonzero(pixels[: h // 3] < 128)
    assert xs.size, "nothing drawn"
    # Every dark pixel lies inside the stamp box (PDF y axis points up).
    assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1
    assert ys.min() >= h - y2 - 1 and ys.max() <= h - y1 + 1
    assert xs.max() < w / 2


# -- time-stamps ----------------------------------------------------------------------------


def test_pades_b_t_openssl_ts_verify(
    scan: Path, work: Path, pki: TestPki, officer: Credential
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with LocalTsa(pki, work) as tsa:
        out = work / "bt.pdf"
        sig = sign_pdf(
            scan, out, Signer.from_key(officer.key, officer.cert, officer.chain), tsa=tsa.url
        )
        assert sig.timestamped and tsa.requests >= 1
        reader = PdfFileReader(io.BytesIO(out.read_bytes()), strict=False)
        si = reader.embedded_signatures[0].signer_info
        token = next(
            a["values"][0]
            for a in si["unsigned_attrs"]
            if a["type"].native == "signature_time_stamp_token"
        )
        assert isinstance(token, cms.ContentInfo)
        res = tsa.verify_token(token.dump(), si["signature"].native)
        assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
    report = verify_pdf(out, trust_roots=[pki.root.cert])
    assert report.valid, report.problems
    assert report.timestamp_time is not None
    assert abs(report.timestamp_time - sig.signing_time) < dt.timedelta(seconds=30)
    assert pdfsig(out)[0]["Signature Validation"] == "Signature is Valid."


# -- tampering and exact problems -----------------------------------------------------------


def _image_stream_offset(data: bytes) -> int:
    start = data.index(
        b"stream", data.index(b"/Subtype /Image") if b"/Subtype /Image" in data else 0
    )
    return start + 200


def test_flipped_byte_in_image_is_digest_mismatch(signed_twice, work: Path, pki: TestPki) -> None:
    data = bytearray((work / "both.pdf").read_bytes())
    data[_image_stream_offset(bytes(data))] ^= 0x01
    bad = work / "tampered.pdf"
    bad.write_bytes(data)
    sigs = pdfsig(bad)
    assert [s["Signature Validation"] for s in sigs] == ["Digest Mismatch."] * 2
    report = verify_pdf(bad, trust_roots=[pki.root.cert])
    assert not report.valid and not report.intact
    assert report.codes == ("digest-mismatch",)
    assert len(report.problems) == 2


@settings(max_examples=25)
@given(frac=st.floats(min_value=0.0, max_value=1.0, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_byte_is_reported_never_raises(
    frac: float, bit: int, signed_twice, work: Path, pki: TestPki
) -> None:
    data = bytearray((work / "both.pdf").read_bytes())
    pos = int(frac * len(data))
    data[pos] ^= 1 << bit
    path = work / "fuzz.pdf"
    path.write_bytes(data)
    report = verify_pdf(path, trust_roots=[pki.root.cert])
    # Bytes covered by the last signature's /ByteRange are all signed; a flip there must
    # invalidate the document.  (Flips in the /Contents hex padding may be harmless.)
    m = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", bytes(data)))
    if m:
        a, b, c, d = (int(x) for x in m[-1].groups())
        covered = a <= pos < a + b or c <= pos < c + d
    else:
        covered = True
    if covered:
        assert not report.valid, (pos, report)


def test_damaged_last_signature_dictionary_is_reported(
    signed_twice, work: Path, pki: TestPki
) -> None:
    """Regression: flipping a byte of the last signature's ``/Type /Sig`` hid that signature
    from pyHanko's list, and the first one alone still validated (found by the fuzz test)."""
    data = bytearray((work / "both.pdf").read_bytes())
    pos = data.rindex(b"/Type /Sig") + len(b"/Type /Si")
    data[pos] ^= 0x01  # "/Type /Sig" -> "/Type /Sif"
    bad = work / "damaged-dict.pdf"
    bad.write_bytes(bytes(data))
    report = verify_pdf(bad, trust_roots=[pki.root.cert])
    assert not report.valid
    assert "signature-damaged" in report.codes or "unsigned-changes" in report.codes
    appended = work / "appended.pdf"
    appended.write_bytes((work / "both.pdf").read_bytes() + b"\n% unsigned trailing bytes\n")
    report = verify_pdf(appended, trust_roots=[pki.root.cert])
    assert not report.valid and "unsigned-changes" in report.codes and report.intact


def test_later_revision_changing_the_page_is_reported(
    signed_twice, work: Path, pki: TestPki
) -> None:
    """An incremental update that draws on page 1 keeps every byte range intact (pdfsig
    still says "Signature is Valid"), but the signed document has changed."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO((work / "both.pdf").read_bytes()), strict=False)
    box = generic.StreamObject(stream_data=b"1 1 1 rg 50 50 200 80 re f")
    w.add_stream_to_page(0, w.add_object(box))
    out = io.BytesIO()
    w.write(out)
    path = work / "modified.pdf"
    path.write_bytes(out.getvalue())
    sigs = pdfsig(path)
    assert [s["Signature Validation"] for s in sigs] == ["Signature is Valid."] * 2
    assert "Not total document signed" in sigs[1]
    report = verify_pdf(path, trust_roots=[pki.root.cert])
    assert report.intact and report.trusted and not report.valid
    assert report.codes == ("modified-after-signing",)


def test_untrusted_root(signed_twice, work: Path) -> None:
    other = TestPki.create("Stranger")
    report = verify_pdf(work / "both.pdf", trust_roots=[other.root.cert])
    assert report.intact and not report.trusted and not report.valid
    assert report.codes == ("untrusted-root",)


def _pyhanko_sign(cred: Credential, src: Path, dst: Path, md: str = "sha256") -> None:
    """Sign with pyHanko directly, bypassing our own refusals, to test the verifier."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    with src.open("rb") as fh:
        w = IncrementalPdfFileWriter(fh, strict=False)
        meta = signers.PdfSignatureMetadata(field_name="Sig", md_algorithm=md)
        out = signers.sign_pdf(w, meta, signer=cred.pyhanko_signer())
    dst.write_bytes(out.getvalue())


@pytest.mark.parametrize(("case", "code"), [*BROKEN_CERT_PROBLEMS, ("sha1", "weak-hash")])
def test_exact_problem(case: str, code: str, pki: TestPki, scan: Path, tmp_path: Path) -> None:
    if case == "sha1":
        cred, md = pki.issue("Sha1", kind="rsa", size=2048), "sha1"
    else:
        cred, md = pki.issue_broken(case), "sha256"
    out = tmp_path / f"{case}.pdf"
    _pyhanko_sign(cred, scan, out, md)
    report = verify_pdf(out, trust_roots=[pki.root.cert])
    assert not report.valid
    assert report.codes == (code,), report.problems


def test_sign_refusals(scan: Path, work: Path, pki: TestPki, officer: Credential) -> None:
    signer = Signer.from_key(officer.key, officer.cert, officer.chain)
    with pytest.raises(WeakCryptoError):
        PdfSignOptions(hash_name="sha1")
    with pytest.raises(InvalidArgumentError, match="agency_name"):
        sign_pdf(scan, work / "x.pdf", signer, role="organisation")
    with pytest.raises(InvalidArgumentError, match="role"):
        sign_pdf(scan, work / "x.pdf", signer, role="clerk")  # type: ignore[arg-type]
    not_pdf = work / "not.pdf"
    not_pdf.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(InvalidArgumentError, match="not a readable PDF"):
        sign_pdf(not_pdf, work / "x.pdf", signer)
    rotated = work / "rotated.pdf"
    with pikepdf.open(scan) as pdf:
        pdf.pages[0].Rotate = 90
        pdf.save(rotated)
    with pytest.raises(InvalidArgumentError, match="/Rotate 90"):
        sign_pdf(rotated, work / "x.pdf", signer)
    now = dt.datetime.now(UTC)
    old = pki.issue(
        "Old", not_before=now - dt.timedelta(days=40), not_after=now - dt.timedelta(days=1)
    )
    with pytest.raises(SignatureError, match="expired"):
        sign_pdf(scan, work / "x.pdf", Signer.from_key(old.key, old.cert, old.chain))
    for name in ("Nguyễn 😀", "Иван"):  # emoji: not in the font; Cyrillic: not embedded
        with pytest.raises(InvalidArgumentError, match="no glyph"):
            sign_pdf(scan, work / "x.pdf", signer, signer_name=name)
    assert not (work / "x.pdf").exists()


def test_sign_in_place_and_unique_field_names(
    scan: Path, work: Path, pki: TestPki, officer: Credential
) -> None:
    path = work / "inplace.pdf"
    shutil.copy(scan, path)
    signer = Signer.from_key(officer.key, officer.cert, officer.chain)
    a = sign_pdf(path, path, signer)
    b = sign_pdf(path, path, signer)
    assert (a.field_name, b.field_name) == ("Officer", "Officer2")
    report = verify_pdf(path, trust_roots=[pki.root.cert])
    assert report.valid and len(report.signatures) == 2


def test_verify_garbage_and_unsigned(work: Path, scan: Path, pki: TestPki) -> None:
    garbage = work / "garbage.pdf"
    garbage.write_bytes(b"\x00\x01garbage" * 100)
    assert verify_pdf(garbage, trust_roots=[pki.root.cert]).codes == ("unreadable",)
    assert verify_pdf(work / "missing.pdf", trust_roots=[pki.root.cert]).codes == ("unreadable",)
    assert verify_pdf(scan, trust_roots=[pki.root.cert]).codes == ("no-signature",)


def test_sign_pdf_from_threads(
    scan: Path, tmp_path: Path, pki: TestPki, officer: Credential
) -> None:
    """A kiosk server shares one Signer between request threads."""
    import threading

    signer = Signer.from_key(officer.key, officer.cert, officer.chain)
    results: dict[int, object] = {}

    def work(i: int) -> None:
        try:
            role = "organisation" if i % 2 else "officer"
            sign_pdf(scan, tmp_path / f"t{i}.pdf", signer, role=role, agency_name=AGENCY)
            results[i] = verify_pdf(tmp_path / f"t{i}.pdf", trust_roots=[pki.root.cert]).valid
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == dict.fromkeys(range(6), True)
