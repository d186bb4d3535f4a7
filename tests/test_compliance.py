"""Tests of onestop_docs.compliance on purpose-built good and bad records.

Bad files are made from a good one with pikepdf (independent of our writer's code paths):
150-dpi and grey pages, a scaled page, a missing page, PDF 1.3, unsigned copies, an unsigned
signature field, metadata whose dossier code differs from the XMP, broken PDF/A claims.
Signed files are made with pyHanko directly (signing module independent).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hostile_pdfs
import numpy as np
import pikepdf
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st
from test_pdf import CREATED, colour_page, record

from onestop_docs.compliance import ComplianceReport, Rules, check_pdfa, check_record
from onestop_docs.errors import ComplianceError, InvalidArgumentError, MetadataError
from onestop_docs.imageio import Page
from onestop_docs.metadata import to_xml
from onestop_docs.pdf import build_pdf

pytest.importorskip("pyhanko")


def sign_pdf_with_pyhanko(
    src: Path, dst: Path, *, corner: str = "top-left", name: str = "Sig1", kind: str = "rsa"
) -> None:
    """Sign ``src`` with a throwaway test-PKI key, visible field in ``corner`` of page 1."""
    from pki import TestPki
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    # RSA-2048 (TT 15/2025 allows it); with ECDSA pyHanko raises the catalog /Version to 2.0.
    size = 2048 if kind == "rsa" else 256
    signer = (
        TestPki.create("Compliance").issue("Nguyễn Văn A", kind=kind, size=size).pyhanko_signer()
    )
    with pikepdf.open(src) as pdf:
        box = pdf.pages[0].mediabox
        w, h = float(box[2]), float(box[3])
    rect = (20, h - 80, 200, h - 20) if corner == "top-left" else (w - 200, h - 80, w - 20, h - 20)
    with open(src, "rb") as inf:
        writer = IncrementalPdfFileWriter(inf)
        fields.append_signature_field(writer, fields.SigFieldSpec(name, on_page=0, box=rect))
        with open(dst, "wb") as out:
            signers.PdfSigner(signers.PdfSignatureMetadata(field_name=name), signer).sign_pdf(
                writer, output=out
            )


def rules_of(report: ComplianceReport) -> set[tuple[str, int | None]]:
    return {(f.rule, f.page) for f in report.errors}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Page]]:
    d = tmp_path_factory.mktemp("compliance")
    p1, t1 = colour_page("A5", 200, max_lines=8)
    p2, t2 = colour_page("A5", 200, max_lines=8, landscape=True)
    unsigned = d / "unsigned.pdf"
    build_pdf(
        [p1, p2], output=unsigned, text=[t1, t2], metadata=record(page_amount=2), created=CREATED
    )
    signed = d / "signed.pdf"
    sign_pdf_with_pyhanko(unsigned, signed)
    return unsigned, signed, [p1, p2]


def test_good_signed_record_passes(good: tuple) -> None:
    _, signed, pages = good
    report = check_record(signed, metadata=to_xml(record(page_amount=2)))
    assert report.ok, [str(f) for f in report.findings]
    # pikepdf's allowlist validator does not cover forms: the signature field is "unsupported".
    assert all("AcroForm" in f.message for f in report.warnings)
    assert report.page_count == 2 and report.pdf_version == "1.7"
    assert [p.paper for p in report.pages] == ["A5", "A5"]
    for pr, page in zip(report.pages, pages):
        assert pr.dpi == pytest.approx((200.0, 200.0), abs=0.01)
        assert pr.colour is True
        assert pr.size_mm == pytest.approx(page.size_mm(), abs=0.01)
    assert report.signatures == (("Sig1", 1, "top-left", True),)
    report.raise_if_failed()


def test_ecdsa_signature_raising_the_version_is_a_pdfa_warning(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    out = tmp_path / "ec.pdf"
    sign_pdf_with_pyhanko(unsigned, out, kind="ec")
    report = check_record(out)
    assert report.pdf_version == "2.0"
    assert report.ok, [str(f) for f in report.errors]
    assert any("/Version is /2.0" in f.message for f in report.warnings)
    # pikepdf's allowlist validator rejects it too; in strict mode both become errors.
    strict = check_record(out, rules=Rules(strict_pdfa=True))
    messages = [f.message for f in strict.errors]
    assert rules_of(strict) == {("pdfa", None)} and len(messages) == 2
    assert any("pikepdf.pdfa ISO_19005_2:6.1.2" in m for m in messages)


def test_unsigned_copy_is_caught(good: tuple) -> None:
    unsigned, _, _ = good
    report = check_record(unsigned)
    assert rules_of(report) == {("signature-officer", 1)}
    with pytest.raises(ComplianceError, match="signature-officer"):
        report.raise_if_failed()


def test_organisation_signature_is_required_top_right(good: tuple, tmp_path: Path) -> None:
    _, signed, _ = good
    rules = Rules(require_organisation_signature=True)
    assert rules_of(check_record(signed, rules=rules)) == {("signature-org", 1)}
    both = tmp_path / "both.pdf"
    sign_pdf_with_pyhanko(signed, both, corner="top-right", name="Org")
    report = check_record(both, rules=rules)
    assert report.ok, [str(f) for f in report.findings]
    assert {s[2] for s in report.signatures} == {"top-left", "top-right"}


def test_empty_signature_field_is_not_a_signature(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    out = tmp_path / "field.pdf"
    with pikepdf.open(unsigned) as pdf:
        page = pdf.pages[0]
        h = float(page.mediabox[3])
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Sig,
                T=pikepdf.String("Officer"),
                Rect=[20, h - 80, 200, h - 20],
                F=4,
                P=page.obj,
            )
        )
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([widget]))
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget], SigFlags=3)
        pdf.save(out)
    report = check_record(out)
    assert report.signatures == (("Officer", 1, "top-left", False),)
    errors = [f for f in report.errors if f.rule == "signature-officer"]
    assert len(errors) == 1 and "not signed" in errors[0].message


def _plain_rules() -> Rules:
    return Rules(require_officer_signature=False)


def test_150_dpi_pages_are_caught(tmp_path: Path) -> None:
    page, text = colour_page("A5", 150, max_lines=3)
    out = tmp_path / "low.pdf"
    build_pdf([page], output=out, text=[text], metadata=record())
    report = check_record(out, rules=_plain_rules())
    assert rules_of(report) == {("resolution", 1)}
    assert report.pages[0].dpi == pytest.approx((150.0, 150.0), abs=0.01)


def test_grey_pages_are_caught(tmp_path: Path) -> None:
    colour, _ = colour_page("A5", 200, max_lines=3)
    sp = synth.render_page(dpi=200, paper="A5", max_lines=3)
    grey = Page(sp.gray, mode="L", dpi=(200.0, 200.0))
    out = tmp_path / "grey.pdf"
    build_pdf([colour, grey], output=out, metadata=record())
    assert rules_of(check_record(out, rules=_plain_rules())) == {("colour", 2)}
    assert check_record(out, rules=Rules(require_officer_signature=False, require_colour=False)).ok


def test_scaled_page_is_caught(tmp_path: Path) -> None:
    # An A4 scan placed at 90 % on a Letter page (the mistake of "fit to page" printing).
    sp = synth.render_page(dpi=200, paper="A4", max_lines=3)
    page = Page(synth.to_color(sp.gray), mode="RGB", dpi=(200.0, 200.0))
    src, out = tmp_path / "a4.pdf", tmp_path / "scaled.pdf"
    build_pdf([page], output=src, metadata=record())
    assert check_record(src, rules=_plain_rules()).ok
    letter_w, letter_h = 8.5 * 72, 11 * 72
    a4_w, a4_h = page.width * 72 / 200, page.height * 72 / 200
    with pikepdf.open(src) as pdf:
        pg = pdf.pages[0]
        pg.obj.MediaBox = [0, 0, letter_w, letter_h]
        sw, sh = 0.9 * a4_w, 0.9 * a4_h
        pg.obj.Contents = pikepdf.Stream(
            pdf,
            f"q {sw:.3f} 0 0 {sh:.3f} {(letter_w - sw) / 2:.3f} {(letter_h - sh) / 2:.3f} cm /Im0 Do Q".encode(),
        )
        pdf.save(out)
    report = check_record(out, rules=_plain_rules())
    assert rules_of(report) == {("scale", 1)}
    assert report.pages[0].paper == "Letter"
    assert report.pages[0].dpi == pytest.approx((200 / 0.9, 200 / 0.9), rel=1e-3)


def test_rotated_page_keeps_full_scale(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    out = tmp_path / "rotated.pdf"
    with pikepdf.open(unsigned) as pdf:
        pdf.pages[0].obj.Rotate = 90
        pdf.save(out)
    report = check_record(out, rules=_plain_rules())
    assert report.ok, [str(f) for f in report.errors]
    w, h = report.pages[0].size_mm
    assert w > h  # the portrait A5 page is displayed landscape


def test_odd_page_size_is_caught_unless_declared(tmp_path: Path) -> None:
    page, _ = colour_page((100.0, 160.0), 200, max_lines=2)
    out = tmp_path / "odd.pdf"
    build_pdf([page], output=out, metadata=record())
    assert rules_of(check_record(out, rules=_plain_rules())) == {("scale", 1)}
    rules = Rules(require_officer_signature=False, declared_size_mm=(160.0, 100.0))
    report = check_record(out, rules=rules)
    assert report.ok and report.pages[0].paper == "declared"


def test_missing_page_vs_declared_count(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    out = tmp_path / "missing.pdf"
    with pikepdf.open(unsigned) as pdf:
        del pdf.pages[1]
        pdf.save(out)
    report = check_record(out, rules=_plain_rules())  # XMP PageCount says 2
    assert rules_of(report) == {("page-count", None)}
    assert (
        check_record(unsigned, rules=_plain_rules(), declared_pages=3).errors[0].rule
        == "page-count"
    )
    assert check_record(out, rules=_plain_rules(), declared_pages=1).ok


def test_pdf_13_is_caught(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    out = tmp_path / "v13.pdf"
    with pikepdf.open(unsigned) as pdf:
        pdf.save(out, force_version="1.3", object_stream_mode=pikepdf.ObjectStreamMode.disable)
    assert out.read_bytes().startswith(b"%PDF-1.3")
    report = check_record(out, rules=_plain_rules())
    assert ("pdf-version", None) in rules_of(report)
    assert report.pdf_version == "1.3"


def test_metadata_dossier_code_must_match_xmp(good: tuple) -> None:
    _, signed, _ = good
    other = record(dossier_code="H42.01.02-260105-0002", page_amount=2)
    report = check_record(signed, metadata=other)
    assert rules_of(report) == {("metadata", None)}
    assert "DossierCode" in report.errors[0].message
    assert check_record(signed, metadata=record(page_amount=2)).ok


def test_metadata_file_path_and_bad_xml(good: tuple, tmp_path: Path) -> None:
    _, signed, _ = good
    xml = tmp_path / "record.xml"
    xml.write_bytes(to_xml(record(page_amount=3)))
    report = check_record(signed, metadata=xml)
    assert rules_of(report) == {("page-count", None)}
    xml.write_bytes(b"<DigitizedRecord/>")
    with pytest.raises(MetadataError):
        check_record(signed, metadata=xml)
    with pytest.raises(InvalidArgumentError):
        check_record(signed, metadata=42)  # type: ignore[arg-type]


def test_missing_xmp_metadata_is_caught(tmp_path: Path) -> None:
    page, _ = colour_page("A5", 200, max_lines=2)
    out = tmp_path / "nometa.pdf"
    build_pdf([page], output=out)  # no RecordMetadata: no dossier code in XMP
    report = check_record(out, rules=_plain_rules())
    assert rules_of(report) == {("metadata", None)}


def test_blank_page_is_flagged_not_failed(tmp_path: Path) -> None:
    page, _ = colour_page("A5", 200, max_lines=3)
    rng = np.random.default_rng(1)
    blank_px = np.clip(rng.normal(245, 3, page.pixels.shape), 0, 255).astype(np.uint8)
    blank = Page(blank_px, mode="RGB", dpi=(200.0, 200.0))
    out = tmp_path / "blank.pdf"
    build_pdf([page, blank], output=out, metadata=record())
    report = check_record(out, rules=_plain_rules())
    assert report.ok
    assert [(f.rule, f.page, f.severity) for f in report.warnings] == [("blank-page", 2, "warning")]
    assert report.pages[0].ink_fraction is not None and report.pages[0].ink_fraction > 0.005


def test_portal_limits_are_parameters(good: tuple, tmp_path: Path) -> None:
    _, signed, _ = good
    size = signed.stat().st_size
    assert rules_of(check_record(signed, rules=Rules(max_bytes=size - 1))) == {("file-size", None)}
    assert check_record(signed, rules=Rules(max_bytes=size)).ok
    assert ("format", None) in rules_of(
        check_record(signed, rules=Rules(accepted_formats=("jpg",)))
    )
    junk = tmp_path / "x.pdf"
    junk.write_bytes(b"GIF89a not a pdf")
    assert rules_of(check_record(junk)) == {("format", None)}


def test_rules_validation() -> None:
    with pytest.raises(InvalidArgumentError, match="min_dpi"):
        Rules(min_dpi=0)
    with pytest.raises(InvalidArgumentError, match="max_bytes"):
        Rules(max_bytes=-1)
    with pytest.raises(InvalidArgumentError, match="max_bytes"):
        Rules(max_bytes=True)
    with pytest.raises(InvalidArgumentError, match="blank_ink_fraction"):
        Rules(blank_ink_fraction=1.5)


# ----------------------------------------------------------------------------- PDF/A subset


def _pdfa_messages(path: Path) -> str:
    return " | ".join(f.message for f in check_pdfa(path))


def _add_unembedded_font(pdf: pikepdf.Pdf) -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type1,
        BaseFont=pikepdf.Name.Helvetica,
        FontDescriptor=pikepdf.Dictionary(FontName=pikepdf.Name.Helvetica),
    )
    pdf.pages[0].obj.Resources.Font = pikepdf.Dictionary(F9=pdf.make_indirect(font))


def test_pdfa_checks_catch_broken_files(good: tuple, tmp_path: Path) -> None:
    unsigned, _, _ = good
    assert check_pdfa(unsigned) == ()
    cases = {
        "no-intent": ("6.2.3", lambda pdf: delattr(pdf.Root, "OutputIntents")),
        "title": (
            "differs from XMP",
            lambda pdf: setattr(pdf.docinfo, "Title", pikepdf.String("Khác")),
        ),
        "font": ("not embedded", _add_unembedded_font),
        "js": (
            "forbidden action",
            lambda pdf: setattr(
                pdf.Root,
                "OpenAction",
                pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")),
            ),
        ),
    }
    for name, (expected, mutate) in cases.items():
        out = tmp_path / f"{name}.pdf"
        with pikepdf.open(unsigned) as pdf:
            mutate(pdf)
            pdf.save(out)
        assert expected in _pdfa_messages(out), name
    report = check_record(tmp_path / "no-intent.pdf", rules=_plain_rules())
    assert ("pdfa", None) in rules_of(report)


def test_require_pdfa_flags_files_without_the_claim(tmp_path: Path) -> None:
    page, _ = colour_page("A5", 200, max_lines=2)
    out = tmp_path / "plain.pdf"
    build_pdf([page], output=out, metadata=record(), profile="pdf")
    assert check_record(out, rules=_plain_rules()).ok
    report = check_record(out, rules=Rules(require_officer_signature=False, require_pdfa=True))
    assert rules_of(report) == {("pdfa", None)}


# ----------------------------------------------------------------------------- other modules


def test_records_signed_by_the_signing_module_are_recognised(good: tuple, tmp_path: Path) -> None:
    signing = pytest.importorskip("onestop_docs.signing")
    unsigned, _, _ = good
    pki = signing.demo_pki(tmp_path / "pki")
    officer, both = tmp_path / "officer.pdf", tmp_path / "both.pdf"
    signing.sign_pdf(unsigned, officer, pki.officer_signer, role="officer")
    organisation = getattr(pki, "organisation_signer", pki.officer_signer)
    signing.sign_pdf(
        officer, both, organisation, role="organisation", agency_name="UBND xã Thạch Hà"
    )
    rules = Rules(require_organisation_signature=True)
    first = check_record(officer, rules=rules)
    assert ("signature-org", 1) in rules_of(first)
    assert ("signature-officer", 1) not in rules_of(first)
    report = check_record(both, rules=rules)
    assert sorted((s[1], s[2], s[3]) for s in report.signatures) == [
        (1, "top-left", True),
        (1, "top-right", True),
    ]
    assert report.ok, [str(f) for f in report.errors]


def test_xmp_codes_are_validated_with_the_codes_module(tmp_path: Path) -> None:
    codes = pytest.importorskip("onestop_docs.codes")
    if not hasattr(codes, "DossierCode"):
        pytest.skip("onestop_docs.codes has no DossierCode yet")
    page, _ = colour_page("A5", 200, max_lines=2)
    out = tmp_path / "badcode.pdf"
    build_pdf([page], output=out, metadata=record(dossier_code="H42.01.02-261340-0001"))  # no 40th
    report = check_record(out, rules=_plain_rules())
    assert rules_of(report) == {("metadata", None)}
    assert "DossierCode" in report.errors[0].message


@given(
    dpi=st.integers(100, 400),
    colour=st.booleans(),
    size_mm=st.tuples(st.integers(20, 60), st.integers(20, 60)),
)
def test_measured_resolution_and_colour_match_the_generated_page(
    dpi: int, colour: bool, size_mm: tuple[int, int]
) -> None:
    w, h = round(size_mm[0] / 25.4 * dpi), round(size_mm[1] / 25.4 * dpi)
    rng = np.random.default_rng(dpi)
    gray = rng.integers(0, 256, (h, w), dtype=np.uint8)
    page = (
        Page(np.stack([gray, gray // 2, 255 - gray], axis=2), mode="RGB", dpi=(dpi, dpi))
        if colour
        else Page(gray, mode="L", dpi=(dpi, dpi))
    )
    data = build_pdf([page], metadata=record(), created=CREATED)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.pdf"
        path.write_bytes(data)
        rules = Rules(
            require_officer_signature=False,
            paper_sizes_mm=(),
            declared_size_mm=(w * 25.4 / dpi, h * 25.4 / dpi),
            size_tolerance_mm=0.1,
        )
        report = check_record(path, rules=rules)
    assert report.pages[0].dpi == pytest.approx((dpi, dpi), abs=0.01)
    assert report.pages[0].colour is colour
    expected = set()
    if dpi < 200:
        expected.add(("resolution", 1))
    if not colour:
        expected.add(("colour", 1))
    assert rules_of(report) == expected


# ----------------------------------------------------------------------------- hostile files

# A small stream limit makes the 8 MiB Flate "bomb" of the corpus a bomb.
HOSTILE_RULES = Rules(
    require_officer_signature=False, require_metadata=False, max_stream_bytes=4 * 1024 * 1024
)


@pytest.mark.parametrize(
    ("case_id", "mutate", "pdfa_claim", "rule"),
    hostile_pdfs.CASES,
    ids=[c[0] for c in hostile_pdfs.CASES],
)
def test_hostile_pdf_is_a_finding_not_an_exception(
    tmp_path: Path, case_id: str, mutate: object, pdfa_claim: bool, rule: str
) -> None:
    path = hostile_pdfs.write_case(tmp_path, case_id, mutate, pdfa_claim)  # type: ignore[arg-type]
    report = check_record(path, rules=HOSTILE_RULES)
    assert rule in {f.rule for f in report.errors}, [str(f) for f in report.findings]
    assert not report.ok


def test_the_unmutated_base_page_is_only_low_resolution(tmp_path: Path) -> None:
    # The corpus is meaningful only if its base passes everything but the 1-dpi image.
    path = tmp_path / "base.pdf"
    hostile_pdfs.base_pdf(path)
    report = check_record(path, rules=HOSTILE_RULES)
    assert rules_of(report) == {("resolution", 1)}
    assert report.pages[0].paper == "A4" and report.pages[0].colour is True


def test_goto_open_action_is_not_active_content(tmp_path: Path) -> None:
    path = tmp_path / "base.pdf"
    hostile_pdfs.base_pdf(path)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(
            S=pikepdf.Name.GoTo, D=[pdf.pages[0].obj, pikepdf.Name.Fit]
        )
        pdf.save(path)
    assert "active-content" not in {
        f.rule for f in check_record(path, rules=HOSTILE_RULES).findings
    }


def test_malformed_finding_names_the_object(tmp_path: Path) -> None:
    path = hostile_pdfs.write_case(
        tmp_path, "rotate", hostile_pdfs._set("/Rotate", pikepdf.Name("/Ninety")), False
    )
    (finding,) = [
        f for f in check_record(path, rules=HOSTILE_RULES).errors if f.rule == "malformed"
    ]
    assert finding.page == 1 and "/Rotate must be an integer, found name /Ninety" in finding.message


def test_two_million_q_operators_stop_early(tmp_path: Path) -> None:
    import time

    path = hostile_pdfs.write_case(
        tmp_path, "q2m", hostile_pdfs._content(b"q\n" * 2_000_000), False
    )
    start = time.perf_counter()
    report = check_record(path, rules=HOSTILE_RULES)
    elapsed = time.perf_counter() - start
    (limit,) = [f for f in report.errors if f.rule == "limit"]
    assert "Rules.max_operators" in limit.message
    assert elapsed < 5.0  # parsed, it took 14 s; counted and refused it takes milliseconds


def test_active_content_in_the_cli_exits_with_findings(tmp_path: Path) -> None:
    from onestop_docs.cli import main

    path = hostile_pdfs.write_case(
        tmp_path, "js", hostile_pdfs._open_action(hostile_pdfs._js()), False
    )
    assert main(["check", str(path), "--no-signature"]) in (1,)


def test_image_zip_bomb_is_not_inflated(tmp_path: Path) -> None:
    base = tmp_path / "base.pdf"
    hostile_pdfs.base_pdf(base)
    assert check_record(base, rules=HOSTILE_RULES).pages[0].ink_fraction is not None
    bomb = hostile_pdfs.write_case(tmp_path, "bomb", hostile_pdfs._image_bomb, False)
    # 64 MiB behind 8 x 11 pixels: the blank check is skipped, not run on the bomb.
    assert check_record(bomb, rules=HOSTILE_RULES).pages[0].ink_fraction is None
