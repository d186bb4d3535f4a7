"""A corpus of hostile and malformed PDFs, each made with pikepdf from one small valid page.

Every case is one mutation of :func:`base_pdf` (an A4 page with one full-page RGB image) and
the finding rule :func:`onestop_docs.compliance.check_record` must report for it: the shape
of an attacker's probe (a name where a number belongs, a box of zeros, a cycle, an action
hidden at the end of a ``/Next`` chain) without needing files from elsewhere.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream, String

A4_PT = (595.28, 841.89)
Mutation = Callable[[pikepdf.Pdf], None]


def base_pdf(path: Path, *, pdfa_claim: bool = False) -> None:
    """Write an A4 page with one 8 x 11 RGB image drawn over the whole page."""
    pdf = pikepdf.new()
    w, h = A4_PT
    pixels = bytes((x * 30) % 256 for x in range(8 * 11 * 3))
    image = Stream(pdf, zlib.compress(pixels))
    image.Type, image.Subtype = Name.XObject, Name.Image
    image.Width, image.Height, image.BitsPerComponent = 8, 11, 8
    image.ColorSpace, image.Filter = Name.DeviceRGB, Name.FlateDecode
    content = Stream(pdf, f"q {w} 0 0 {h} 0 0 cm /Im0 Do Q".encode())
    page = Dictionary(
        Type=Name.Page,
        MediaBox=[0, 0, Decimal(str(w)), Decimal(str(h))],
        Resources=Dictionary(XObject=Dictionary(Im0=pdf.make_indirect(image))),
        Contents=pdf.make_indirect(content),
    )
    pdf.pages.append(pikepdf.Page(page))
    if pdfa_claim:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
    pdf.save(path, min_version="1.7")


def _page(pdf: pikepdf.Pdf) -> Dictionary:
    return pdf.pages[0].obj


def _image(pdf: pikepdf.Pdf) -> Stream:
    return _page(pdf).Resources.XObject.Im0


def _set(key: str, value: object) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        _page(pdf)[key] = value

    return mutate


def _set_image(key: str, value: object) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        _image(pdf)[key] = value

    return mutate


def _content(data: bytes) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        _page(pdf).Contents = pdf.make_indirect(Stream(pdf, data))

    return mutate


def _annotation(**entries: object) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        annot = Dictionary(Type=Name.Annot, **entries)
        annot.P = _page(pdf)
        _page(pdf).Annots = Array([pdf.make_indirect(annot)])

    return mutate


def _no_mediabox(pdf: pikepdf.Pdf) -> None:
    del _page(pdf)["/MediaBox"]


def _parent_cycle(pdf: pikepdf.Pdf) -> None:
    # A /Pages node that is its own parent, the page box to be inherited from it.
    page = _page(pdf)
    del page["/MediaBox"]
    parent = page.Parent
    parent.Parent = parent


def _form_loop(pdf: pikepdf.Pdf) -> None:
    form = pdf.make_indirect(Stream(pdf, b"/Fm0 Do"))
    form.Type, form.Subtype, form.BBox = Name.XObject, Name.Form, [0, 0, 10, 10]
    form.Resources = Dictionary(XObject=Dictionary(Fm0=form))
    _page(pdf).Resources.XObject.Fm0 = form
    _page(pdf).Contents = pdf.make_indirect(Stream(pdf, b"/Fm0 Do"))


def _form_matrix_name(pdf: pikepdf.Pdf) -> None:
    form = pdf.make_indirect(Stream(pdf, b"/Im0 Do"))
    form.Type, form.Subtype, form.BBox = Name.XObject, Name.Form, [0, 0, 10, 10]
    form.Matrix = Name.Identity
    _page(pdf).Resources.XObject.Fm0 = form
    _page(pdf).Contents = pdf.make_indirect(Stream(pdf, b"/Fm0 Do"))


def _fields(value: object) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        pdf.Root.AcroForm = Dictionary(Fields=value)

    return mutate


def _field_cycle(pdf: pikepdf.Pdf) -> None:
    node = pdf.make_indirect(Dictionary(T=String("a")))
    node.Kids = Array([node])
    pdf.Root.AcroForm = Dictionary(Fields=Array([node]))


def _signature_rect(pdf: pikepdf.Pdf) -> None:
    widget = pdf.make_indirect(
        Dictionary(Type=Name.Annot, Subtype=Name.Widget, FT=Name.Sig, T=String("S"), Rect=[20, 30])
    )
    _page(pdf).Annots = Array([widget])
    pdf.Root.AcroForm = Dictionary(Fields=Array([widget]))


def _js(code: str = "app.alert(1)") -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))


def _open_action(action: Dictionary) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = action

    return mutate


def _next_chain(depth: int) -> Mutation:
    """A GoTo open action whose JavaScript hides ``depth`` direct ``/Next`` links down."""

    def mutate(pdf: pikepdf.Pdf) -> None:
        action: Dictionary = _js()
        for _ in range(depth):
            action = Dictionary(S=Name.GoTo, D=[_page(pdf), Name.Fit], Next=action)
        pdf.Root.OpenAction = action

    return mutate


def _next_cycle(pdf: pikepdf.Pdf) -> None:
    first = pdf.make_indirect(Dictionary(S=Name.GoTo, D=[_page(pdf), Name.Fit]))
    second = pdf.make_indirect(Dictionary(S=Name.GoTo, D=[_page(pdf), Name.Fit], Next=first))
    third = pdf.make_indirect(_js())
    first.Next = Array([second, third])
    pdf.Root.OpenAction = first


def _embedded_exe(pdf: pikepdf.Pdf) -> None:
    data = Stream(pdf, b"MZ\x90\x00" + bytes(60))
    data.Type = Name.EmbeddedFile
    spec = Dictionary(
        Type=Name.Filespec, F=String("setup.exe"), EF=Dictionary(F=pdf.make_indirect(data))
    )
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=[String("setup.exe"), spec]))


def _names_js(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=[String("a"), _js()]))


def _document_aa(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AA = Dictionary(WC=_js())


def _xfa(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AcroForm = Dictionary(Fields=Array([]), XFA=pdf.make_indirect(Stream(pdf, b"<x/>")))


def _flate_bomb(pdf: pikepdf.Pdf) -> None:
    bomb = Stream(pdf, zlib.compress(b" " * (8 * 1024 * 1024), 9))
    bomb.Filter = Name.FlateDecode
    _page(pdf).Contents = pdf.make_indirect(bomb)


def _image_bomb(pdf: pikepdf.Pdf) -> None:
    # 8 x 11 pixels declared, 64 MiB of data once inflated (65 KB stored).
    _image(pdf).write(zlib.compress(bytes(64 * 1024 * 1024), 9), filter=Name.FlateDecode)


def _catalog_version_number(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Version = 17


#: (case id, mutation, PDF/A claim, rule that must be among the error findings).  qpdf
#: replaces a page's unusable or missing /MediaBox by US Letter when it reads the page tree,
#: so those cases are measured on a Letter page: the A4 image is then not at 100 % ("scale").
#: A 300-digit box number breaks qpdf's page tree: the file then has no readable page.
CASES: list[tuple[str, Mutation, bool, str]] = [
    ("rotate-name", _set("/Rotate", Name("/Ninety")), False, "malformed"),
    ("rotate-45", _set("/Rotate", 45), False, "malformed"),
    ("rotate-real", _set("/Rotate", Decimal("90.5")), False, "malformed"),
    ("mediabox-zero", _set("/MediaBox", [0, 0, 0, 0]), False, "malformed"),
    ("cropbox-name", _set("/CropBox", [0, 0, Name.Wide, 842]), False, "malformed"),
    ("mediabox-3", _set("/MediaBox", [0, 0, 595]), False, "scale"),
    ("mediabox-string", _set("/MediaBox", String("A4")), False, "scale"),
    ("mediabox-missing", _no_mediabox, False, "scale"),
    ("mediabox-huge", _set("/MediaBox", [0, 0, Decimal("1e300"), 842]), False, "format"),
    ("userunit-string", _set("/UserUnit", String("big")), False, "malformed"),
    ("userunit-zero", _set("/UserUnit", 0), False, "malformed"),
    ("userunit-huge", _set("/UserUnit", 10**9), False, "malformed"),
    ("parent-cycle", _parent_cycle, False, "scale"),
    ("width-name", _set_image("/Width", Name.Wide), False, "malformed"),
    ("height-negative", _set_image("/Height", -11), False, "malformed"),
    ("bpc-name", _set_image("/BitsPerComponent", Name.Eight), False, "malformed"),
    ("colorspace-icc-int", _set_image("/ColorSpace", [Name.ICCBased, 5]), False, "resolution"),
    ("colorspace-indexed-short", _set_image("/ColorSpace", [Name.Indexed]), False, "resolution"),
    ("cm-name", _content(b"q /A 0 0 842 0 0 cm /Im0 Do Q"), False, "malformed"),
    ("cm-five", _content(b"q 595 0 0 842 0 cm /Im0 Do Q"), False, "malformed"),
    ("cm-huge", _content(b"q 1e300 0 0 842 0 0 cm /Im0 Do Q"), False, "malformed"),
    ("do-string", _content(b"q 595 0 0 842 0 0 cm (Im0) Do Q"), False, "page-image"),
    ("unbalanced-Q", _content(b"Q Q Q 595 0 0 842 0 0 cm /Im0 Do"), False, "resolution"),
    ("contents-integer", _set("/Contents", 7), False, "malformed"),
    ("contents-array-name", _set("/Contents", Array([Name.X])), False, "malformed"),
    ("xobject-array", _set("/Resources", Dictionary(XObject=Array([1]))), False, "malformed"),
    ("form-matrix-name", _form_matrix_name, False, "malformed"),
    ("form-self-loop", _form_loop, False, "limit"),
    ("flate-bomb", _flate_bomb, False, "limit"),
    ("image-zip-bomb", _image_bomb, False, "resolution"),
    ("annots-dict", _set("/Annots", Dictionary(A=1)), False, "resolution"),
    ("fields-name", _fields(Name.All), False, "resolution"),
    ("field-kids-cycle", _field_cycle, False, "resolution"),
    ("signature-rect-2", _signature_rect, False, "malformed"),
    ("catalog-version-int", _catalog_version_number, False, "resolution"),
    ("annotation-flags-name", _annotation(Subtype=Name.Text, F=Name.Print), True, "malformed"),
    ("annotation-rect-2", _annotation(Subtype=Name.Square, F=4, Rect=[0, 0]), True, "malformed"),
    ("openaction-js", _open_action(_js()), False, "active-content"),
    (
        "openaction-launch",
        _open_action(Dictionary(S=Name.Launch, F=String("cmd"))),
        False,
        "active-content",
    ),
    ("page-aa", _set("/AA", Dictionary(O=_js())), False, "active-content"),
    ("document-aa", _document_aa, False, "active-content"),
    ("names-javascript", _names_js, False, "active-content"),
    ("embedded-exe", _embedded_exe, False, "active-content"),
    ("next-chain-10", _next_chain(10), False, "active-content"),
    ("next-chain-10-pdfa", _next_chain(10), True, "active-content"),
    ("next-cycle", _next_cycle, False, "active-content"),
    ("next-chain-deeper-than-limit", _next_chain(200), False, "limit"),
    (
        "launch-link",
        _annotation(
            Subtype=Name.Link, Rect=[0, 0, 9, 9], A=Dictionary(S=Name.Launch, F=String("x.exe"))
        ),
        False,
        "active-content",
    ),
    ("richmedia", _annotation(Subtype=Name.RichMedia, Rect=[0, 0, 9, 9]), False, "active-content"),
    ("xfa", _xfa, False, "active-content"),
]


def write_case(directory: Path, case_id: str, mutate: Mutation, pdfa_claim: bool) -> Path:
    """Write the base page, apply ``mutate`` and save it as ``<case_id>.pdf``."""
    base = directory / f"base-{int(pdfa_claim)}.pdf"
    if not base.exists():
        base_pdf(base, pdfa_claim=pdfa_claim)
    out = directory / f"{case_id}.pdf"
    with pikepdf.open(base) as pdf:
        mutate(pdf)
        pdf.save(out)
    return out
