"""Document key, verifier, batch grouping and reuse check on generated form pages."""

from __future__ import annotations

import hashlib
import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import synth
import test_dedup_forms as forms
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from onestop_docs._morph import dilate3x3
from onestop_docs.dedup import (
    CANDIDATE_RADIUS,
    FINE_SHAPE,
    KEY_SHAPE,
    KEY_VERSION,
    DocumentKey,
    DuplicateIndex,
    Hash,
    MatchOptions,
    PageHash,
    PageHashOptions,
    document_key,
    file_sha256,
    find_duplicates,
    match_keys,
    page_hash,
    page_key,
    verify_pair,
)
from onestop_docs.errors import (
    BlankPageError,
    IndexFormatError,
    InvalidArgumentError,
    KeyFormatError,
)


def _scan(lines: list[str], seed: int, dpi: int | None = None) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    dpi = int(dpi or rng.choice([150, 200, 300]))
    return forms.rescan(lines, rng, dpi=dpi), dpi


def _key(lines: list[str], seed: int, dpi: int | None = None) -> PageHash:
    img, d = _scan(lines, seed, dpi)
    key = page_hash(img, dpi=d)
    assert key is not None
    return key


@pytest.fixture(scope="module")
def docs() -> list[list[str]]:
    rng = np.random.default_rng(2024)
    return [forms.form_lines(rng, 0) for _ in range(3)] + [forms.form_lines(rng, 1)]


def test_blank_and_near_blank_pages_have_no_key() -> None:
    blank = synth.add_noise(np.full((800, 560), 245, np.uint8), 3.0, np.random.default_rng(0))
    k = page_key(blank, dpi=100)
    assert k.hash is None and k.reason == "blank"
    mark = np.full((800, 560), 255, np.uint8)
    mark[400:404, 200:240] = 0  # a short rule: ink, but no document
    k = page_key(mark, dpi=100)
    assert k.hash is None and k.reason in ("blank", "near-blank")


def test_rescans_match_and_other_fillings_do_not(docs: list[list[str]]) -> None:
    keys = {(d, s): _key(docs[d], 100 * d + s) for d in range(4) for s in range(2)}
    for d in range(4):
        v = verify_pair(keys[(d, 0)], keys[(d, 1)])
        assert v.duplicate, (d, v)
    for (d1, s1), (d2, s2) in itertools.combinations(keys, 2):
        if d1 != d2:
            v = verify_pair(keys[(d1, s1)], keys[(d2, s2)])
            assert not v.duplicate, (d1, d2, v)


def test_upside_down_scan_matches(docs: list[list[str]]) -> None:
    img, dpi = _scan(docs[0], 7, dpi=200)
    turned = np.ascontiguousarray(img[::-1, ::-1])
    a, b = page_hash(img, dpi=dpi), page_hash(turned, dpi=dpi)
    assert a is not None and b is not None
    assert verify_pair(a, b).duplicate
    assert verify_pair(b, a).duplicate


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", dpi=(200, 200))
    return buf.getvalue()


def test_find_duplicates_groups(docs: list[list[str]]) -> None:
    a1, _ = _scan(docs[0], 1, dpi=200)
    a2, _ = _scan(docs[0], 2, dpi=200)
    b1, _ = _scan(docs[1], 3, dpi=200)
    blank = np.full((1654, 1165), 255, np.uint8)
    c = _png(_scan(docs[3], 4, dpi=200)[0])
    items = [a1, b1, a2, blank, blank.copy(), c, c]
    assert find_duplicates(items, dpi=200) == [[0, 2], [5, 6]]
    # a candidate radius of 0 keeps only the byte-identical files together
    assert find_duplicates(items, dpi=200, options=PageHashOptions(candidate_radius=0)) == [[5, 6]]


def test_file_sha256_of_bytes_and_path_agree_with_hashlib(tmp_path: Path) -> None:
    data = b"%PDF-1.7 to khai" * 100_000  # more than one 1 MiB read
    path = tmp_path / "Giấy khai sinh.pdf"
    path.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert (
        file_sha256(data) == file_sha256(bytearray(data)) == file_sha256(memoryview(data)) == want
    )
    assert file_sha256(path) == file_sha256(str(path)) == want
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing.pdf")


def test_duplicate_index_lookup(docs: list[list[str]], tmp_path: Path) -> None:
    index = DuplicateIndex()
    for d in range(4):
        img, dpi = _scan(docs[d], 10 + d)
        index.add(1000 + d, img, dpi=dpi)
    png = _png(_scan(docs[2], 99, dpi=200)[0])
    index.add(5000, np.full((300, 200), 255, np.uint8), file_sha256=file_sha256(png), dpi=100)
    assert len(index) == 5
    query, dpi = _scan(docs[1], 77)
    found = index.lookup(query, dpi=dpi)
    assert [m.id for m in found] == [1001]
    assert found[0].kind == "same-page" and found[0].candidate_distance is not None
    other = forms.form_lines(np.random.default_rng(5), 0)
    assert index.lookup(_scan(other, 78, dpi=200)[0], dpi=200) == []
    query2 = _scan(docs[2], 79, dpi=200)[0]
    hits = index.lookup(query2, dpi=200, file_sha256=file_sha256(png))
    assert [(m.id, m.kind) for m in hits] == [(5000, "identical-file"), (1002, "same-page")]
    # persisted and reopened: the same answers
    path = tmp_path / "dup.npz"
    index.save(path)
    back = DuplicateIndex.open(path)
    assert len(back) == 5
    assert back.lookup(query2, dpi=200, file_sha256=file_sha256(png)) == hits
    assert [m.id for m in back.lookup(query, dpi=dpi)] == [1001]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(IndexFormatError):
        DuplicateIndex.open(tmp_path / "bad.npz")


def test_bad_input() -> None:
    with pytest.raises(InvalidArgumentError):
        PageHashOptions(candidate_radius=300)
    with pytest.raises(InvalidArgumentError):
        PageHashOptions(ink_allowance=-0.1)
    with pytest.raises(InvalidArgumentError):
        verify_pair("a", "b")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        DuplicateIndex().lookup(np.zeros((10, 10), np.uint8), file_sha256="xyz")
    with pytest.raises(InvalidArgumentError):
        page_hash(np.zeros((10, 10), np.float32))
    with pytest.raises(InvalidArgumentError):
        find_duplicates([np.zeros((10, 10), np.uint8)], threshold=2.0)


# ------------------------------------------------------------------ robustness evaluation


def evaluate(n_docs_per_template: int, scans_per_doc: int, seed: int) -> dict[str, float]:
    """Recall on rescans and false-match rates on same-template and unrelated pairs, for
    the document key and, on the raw scans (and again with the true skew undone), for
    imagehash pHash-64 and PDQ-256 at the threshold that finds 95 % of rescans."""
    imagehash = pytest.importorskip("imagehash")
    from onestop_docs.dedup import pdq

    rng = np.random.default_rng(seed)
    rows = []
    for tpl in range(len(forms.TEMPLATES)):
        for d in range(n_docs_per_template):
            lines = forms.form_lines(rng, tpl)
            for _ in range(scans_per_doc):
                dpi = int(rng.choice([150, 200, 300]))
                angles: list[float] = []
                img = forms.rescan(lines, rng, dpi=dpi, angles=angles)
                key = page_hash(img, dpi=dpi)
                assert key is not None
                ph = imagehash.phash(Image.fromarray(img))
                # the baselines once more with the true skew undone (an oracle deskew)
                straight = synth.rotate(img, -angles[0], fill=255)
                ph_s = imagehash.phash(Image.fromarray(straight))
                rows.append(((tpl, d), tpl, key, ph, pdq(img).hash, ph_s, pdq(straight).hash))
    kinds: dict[str, list[tuple[bool, int, int]]] = {"pos": [], "tpl": [], "unrel": []}
    for a, b in itertools.combinations(rows, 2):
        kind = "pos" if a[0] == b[0] else ("tpl" if a[1] == b[1] else "unrel")
        kinds[kind].append(
            (
                verify_pair(a[2], b[2]).duplicate,
                a[3] - b[3],
                a[4] - b[4],
                a[5] - b[5],
                a[6] - b[6],
            )
        )
    out = {}
    pos = np.array(kinds["pos"])
    out["recall"] = float(pos[:, 0].mean())
    for kind in ("tpl", "unrel"):
        arr = np.array(kinds[kind])
        out[f"{kind}_false"] = float(arr[:, 0].mean())
        for col, name in (
            (1, "phash64"),
            (2, "rawpdq"),
            (3, "phash64_deskewed"),
            (4, "pdq_deskewed"),
        ):
            th = np.percentile(pos[:, col], 95)
            out[f"{kind}_false_{name}"] = float((arr[:, col] <= th).mean())
    out["pairs_pos"], out["pairs_tpl"], out["pairs_unrel"] = (
        len(kinds["pos"]),
        len(kinds["tpl"]),
        len(kinds["unrel"]),
    )
    return out


@pytest.mark.slow
def test_robustness_targets() -> None:
    res = evaluate(n_docs_per_template=6, scans_per_doc=4, seed=11)
    assert res["recall"] >= 0.99, res
    assert res["tpl_false"] <= 0.005, res
    assert res["unrel_false"] == 0.0, res
    # a single global hash is not enough: the baselines confuse filled copies of a form
    assert res["tpl_false_phash64"] > 0.5 and res["tpl_false_rawpdq"] > 0.5, res


# ------------------------------------------------------------------ the DocumentKey contract


def _dkey(lines: list[str], seed: int, dpi: int = 200) -> DocumentKey:
    img, d = _scan(lines, seed, dpi)
    return document_key(img, dpi=d)


def _random_key(rng: np.random.Generator) -> DocumentKey:
    ink = (rng.random(KEY_SHAPE) < 0.05).astype(np.uint8)
    tol = (rng.random(KEY_SHAPE) < 0.1).astype(np.uint8) | ink
    c = Hash(rng.bytes(32), 256)
    f = Hash(rng.bytes(32), 256)
    return DocumentKey(c, f, ink, tol, float(rng.uniform(0.5, 2.0)))


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_key_bytes_round_trip(seed: int) -> None:
    k = _random_key(np.random.default_rng(seed))
    back = DocumentKey.from_bytes(k.to_bytes())
    assert back.candidate == k.candidate and back.candidate_flip == k.candidate_flip
    assert np.array_equal(back.ink, k.ink) and np.array_equal(back.tolerance, k.tolerance)
    assert back.aspect == pytest.approx(k.aspect, rel=1e-6) and back.version == KEY_VERSION


def test_key_bytes_corrupt_or_newer_are_typed_errors() -> None:
    blob = _random_key(np.random.default_rng(1)).to_bytes()
    assert blob[:3] == b"ODK" and blob[3] == KEY_VERSION
    for bad in (
        b"",
        blob[:50],  # truncated
        blob[:-1],
        b"XYZ" + blob[3:],  # not a key
        blob[:3] + bytes([KEY_VERSION + 1]) + blob[4:],  # a newer version
        blob[:100] + bytes([blob[100] ^ 1]) + blob[101:],  # one bit flipped: CRC
    ):
        with pytest.raises(KeyFormatError):
            DocumentKey.from_bytes(bad)
    with pytest.raises(KeyFormatError):
        DocumentKey.from_bytes("ODK")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("Họ", "Trần Thị Bích Ngọc"),
        ("Số", "079301004512"),
        ("Ngày", "14/11/1987"),  # a date of the same length: a few digit shapes differ
    ],
)
def test_one_changed_field_is_not_a_duplicate(label: str, value: str) -> None:
    # The same filled form, once more with one field changed (a name, a number, a date),
    # scanned twice: the changed copy matches neither scan of the original.
    rng = np.random.default_rng(314)
    lines = forms.form_lines(rng, 0)
    base = [_dkey(lines, 500 + s) for s in range(2)]
    idx = next(i for i, ln in enumerate(lines) if ":" in ln and ln.split(":")[0].startswith(label))
    changed = list(lines)
    changed[idx] = lines[idx].split(":")[0] + ": " + value
    assert changed != lines
    other = _dkey(changed, 600)
    for b in base:
        for v in (match_keys(other, b), match_keys(b, other)):  # in either order
            assert not v.duplicate, v


# One-field twins that the verifier decided differently in the two orders of the keys
# (the fine stage counts on the first key's cell grid): (form, template of
# test_dedup_forms, label of the changed line, new value, scan seed of the original,
# scan seed of the twin).  Forms are ``form_lines(default_rng(9000 + form), template)``.
_ORDER_TWINS = [
    (19, 1, "Ngày cấp", "16/08/1981", 1900, 5190),  # 16/03/1987: one date
    (36, 0, "Ngày, tháng, năm sinh", "19/05/1963", 3600, 5360),  # 19/07/1956
    (7, 1, "Số lượng bản sao", "05 bản", 701, 5075),  # 04 bản: one digit
]


def _twin_keys(
    form: int, template: int, label: str, value: str, seed: int, twin_seed: int
) -> tuple[DocumentKey, DocumentKey]:
    lines = forms.form_lines(np.random.default_rng(9000 + form), template)
    idx = next(i for i, ln in enumerate(lines) if ln.startswith(label + ":"))
    changed = list(lines)
    changed[idx] = f"{label}: {value}"
    assert changed[idx] != lines[idx]
    return _key(lines, seed).key, _key(changed, twin_seed).key


def _same_verdict(v: object, w: object) -> bool:
    # Verdicts field by field, NaN equal to NaN (a stage that did not run)
    return all(
        x == y or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)
        for x, y in zip(vars(v).values(), vars(w).values(), strict=True)
    )


@pytest.mark.parametrize("twin", _ORDER_TWINS, ids=["date-19", "date-36", "digit-7"])
def test_one_field_twin_is_decided_alike_in_either_order(
    twin: tuple[int, int, str, str, int, int],
) -> None:
    original, changed = _twin_keys(*twin)
    one, other = match_keys(changed, original), match_keys(original, changed)
    assert _same_verdict(one, other), (one, other)
    assert not one.duplicate, one


@pytest.fixture(scope="module")
def order_pool() -> list[DocumentKey]:
    # Two scans of two originals and their one-field twins: rescans, twins and other pages
    pool = []
    for form, template, label, value, seed, twin_seed in _ORDER_TWINS[::2]:
        original, changed = _twin_keys(form, template, label, value, seed, twin_seed)
        lines = forms.form_lines(np.random.default_rng(9000 + form), template)
        pool += [original, _key(lines, seed + 1).key, changed]
    return pool


# One-field twins that matched both scans of their original until session 2026-12-08
# (tw18), as (form, template, label, new value, twin scan seed); the original is scanned
# with seeds 100 form and 100 form + 1.  The changed digits lie in one verifier cell, or in
# two cells two apart along the line, which the fine stage's capped cells and 2 x 2 windows
# did not add up (fine scores 0.83 and 0.69-1.06).  Form 25's digit matched until tw19:
# the other page's tolerance covers most of the changed strokes, leaving 28 cores (0.78),
# as many as the worst tuning rescan; the 3's upper arc is a whole stroke the 5 lacks,
# attached to the 3's other strokes (11-12 thick blocks, limit 8).
# Forms 94 and 109 matched until session 2026-12-08c: the new digit is the old one without
# the stroke that closes a loop (an 8 made a 6, a 6 made a 5), a gap that the other's
# tolerance nearly fills (5-15 cores, no thick block); the hole the old digit encloses is
# open on the new one (85-89 and 132-150 fine pixels, limit 68).  Form 271's year matched
# until the hole search also ran next to cells with cores: the 8 and the 6 swap places,
# and the cores they leave lie in the cells below their holes'.
_SMALL_TWINS = [
    (4, 1, "Số lượng bản sao", "06 bản", 5045),  # 03 bản: one digit
    (19, 1, "Ngày cấp", "16/08/1981", 5190),  # 16/03/1987: one date
    (25, 1, "Số lượng bản sao", "03 bản", 5255),  # 05 bản: one digit
    (94, 1, "Số lượng bản sao", "06 bản", 5945),  # 08 bản: an 8 made a 6
    (109, 1, "Số lượng bản sao", "05 bản", 6095),  # 06 bản: a 6 made a 5
    (271, 1, "Ngày cấp", "19/03/1968", 7710),  # 19/03/1986: the 8 and 6 swapped
]


@pytest.mark.parametrize(
    "twin",
    _SMALL_TWINS,
    ids=["digit-4", "date-19", "digit-25", "digit-94", "digit-109", "year-271"],
)
def test_one_digit_or_one_date_twin_is_not_a_duplicate(
    twin: tuple[int, int, str, str, int],
) -> None:
    form, template, label, value, twin_seed = twin
    lines = forms.form_lines(np.random.default_rng(9000 + form), template)
    idx = next(i for i, ln in enumerate(lines) if ln.startswith(label + ":"))
    changed = list(lines)
    changed[idx] = f"{label}: {value}"
    # the twin differs from the original in one digit, or in the digits of one date
    old, new = lines[idx].split(": ")[1], value
    assert len(old) == len(new) and old != new
    scans = [_key(lines, 100 * form + s).key for s in range(2)]
    other = _key(changed, twin_seed).key
    # the two scans of the original are one page ...
    assert match_keys(scans[0], scans[1]).duplicate
    # ... and the twin is neither of them, in either order
    for scan in scans:
        for v in (match_keys(other, scan), match_keys(scan, other)):
            assert not v.duplicate, v


def _fine_pair_cells(
    extra: tuple[slice, slice],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Two keys whose fine bitmaps hold the same L-shaped glyph, the second with ``extra``
    # inked too; the fine stage's cores, thick blocks and lost holes per cell (shift 0 for
    # every cell)
    from onestop_docs.dedup import FINE_SHAPE

    glyph = np.zeros(FINE_SHAPE, np.uint8)
    glyph[200:240, 100:105] = 1
    glyph[236:241, 100:141] = 1
    other = glyph.copy()
    other[extra] = 1
    return _fine_cells_of(glyph, other)


def _fine_cells_of(
    glyph: np.ndarray, other: np.ndarray, other_tol: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the fine stage's cores, thick blocks and lost holes per cell of two fine bitmaps
    # (coarse shift 0 for every cell); each tolerance is its ink dilated by one pixel,
    # unless ``other_tol`` is given
    from onestop_docs.dedup import KEY_SHAPE, Hash
    from onestop_docs.dedup._key import _fine_cells

    h = Hash(bytes(32), 256)
    coarse = np.zeros(KEY_SHAPE, np.uint8)
    keys = [
        DocumentKey(
            h,
            h,
            coarse,
            coarse,
            1.4,
            2,
            np.packbits(g, axis=1),
            np.packbits(dilate3x3(g.astype(bool)).astype(np.uint8) if t is None else t, axis=1),
        )
        for g, t in ((glyph, None), (other, other_tol))
    ]
    nb = (-(-KEY_SHAPE[0] // 24), -(-KEY_SHAPE[1] // 24))
    counts = np.zeros((*nb, 5), np.int32)
    counts[..., 2] = 100
    return _fine_cells(keys[0], keys[1], counts)


def test_fine_stage_counts_a_missing_stroke_not_a_speck() -> None:
    # A stroke one glyph has and the other lacks (4-5 fine pixels wide, joined to the
    # strokes both have) leaves thick blocks; a speck of the same width in blank paper
    # leaves cores but no thick block (it is joined to no ink the other page explains).
    cores, thick, _ = _fine_pair_cells((slice(205, 237), slice(130, 135)))
    assert thick.sum() >= 8 and cores.sum() > 0
    cores, thick, _ = _fine_pair_cells((slice(210, 215), slice(120, 125)))
    assert thick.sum() == 0 and cores.sum() > 0


def test_fine_stage_does_not_count_a_misplaced_glyph_as_thick() -> None:
    # A photo's keystone bends the shift within a cell: one glyph lies 5 fine pixels right
    # of where the rest of its cell (a grid of dots) registers.  Its strokes leave thick
    # blocks at the cell's shift (52 before the extra shift search), but the other page's
    # tolerance covers the glyph 4-5 pixels further on, so none count.
    from onestop_docs.dedup import FINE_SHAPE

    a = np.zeros(FINE_SHAPE, np.uint8)
    for r in range(193, 238, 6):
        for q in range(122, 142, 6):
            a[r : r + 3, q : q + 3] = 1
    b = a.copy()
    a[196:226, 98:103] = 1
    a[221:226, 98:116] = 1
    b[196:226, 103:108] = 1
    b[221:226, 103:121] = 1
    cores, thick, _ = _fine_cells_of(a, b)
    assert cores.sum() > 0 and thick.sum() == 0


def _ring(gap: int, speck: bool = False) -> np.ndarray:
    # a glyph's loop in fine pixels (strokes 4 wide, a counter of 18 x 10 = 180 pixels),
    # its right stroke cut by ``gap`` rows; with ``speck``, a 5 x 5 speck in its cell that
    # leaves cores whatever the loop does (the search runs in cells left with cores)
    from onestop_docs.dedup import FINE_SHAPE

    g = np.zeros(FINE_SHAPE, np.uint8)
    g[200:226, 100:118] = 1
    g[204:222, 104:114] = 0
    g[208 : 208 + gap, 114:118] = 0
    if speck:
        g[230:235, 130:135] = 1
    return g


def test_fine_stage_finds_a_hole_the_other_page_leaves_open() -> None:
    # An 8 against a 6: the loop closed on one page, open by 6 rows on the other.  The
    # other's tolerance (its ink dilated by one pixel) covers all but 4 rows of the
    # closing stroke; the hole (180 pixels) is lost, from either side.
    closed, open_ = _ring(0), _ring(6)
    for a, b in ((closed, open_), (open_, closed)):
        cores, _, holes = _fine_cells_of(a, b)
        assert cores.sum() > 0
        assert holes.max() == 180


def test_fine_stage_keeps_a_hole_broken_by_a_pixel_or_two() -> None:
    # A stroke broken in one scan (2 rows): the dilation closes the gap, no hole is lost;
    # nor is one whose counter the other page fills (a dark scan).
    for b in (_ring(2), _ring(0) | (_ring(0) == 0)):
        cores, _, holes = _fine_cells_of(_ring(0, speck=True), b.astype(np.uint8))
        assert cores.sum() > 0 and holes.max() == 0


def test_fine_stage_needs_a_bridge_outside_the_others_tolerance() -> None:
    # The same loop open by 6 rows, but the other page's tolerance covers the closing
    # stroke (faint ink there): no bridge pixel is unexplained, the hole does not count;
    # with the stroke outside that tolerance, it does.
    closed, open_ = _ring(0, speck=True), _ring(6)
    tol_open = dilate3x3(open_.astype(bool)).astype(np.uint8)
    tol_open[208:214, 114:118] = 1
    cores, _, holes = _fine_cells_of(closed, open_, tol_open)
    assert cores.sum() > 0 and holes.max() == 0
    assert _fine_cells_of(closed, open_)[2].max() == 180


def test_match_keys_does_not_depend_on_the_order(order_pool: list[DocumentKey]) -> None:
    # every pair of the pool, both orders: the same verdict, field by field
    for a, b in itertools.combinations(order_pool, 2):
        one, other = match_keys(a, b), match_keys(b, a)
        assert _same_verdict(one, other), (one, other)


def test_no_chaining_in_groups() -> None:
    # 0 ~ 1 and 1 ~ 2 but not 0 ~ 2: 2 must not join the group of 0 and 1.
    from onestop_docs.dedup._duplicates import _cliques

    def groups(n: int, edges: set[tuple[int, int]]) -> list[list[int]]:
        return [g for g in _cliques(n, edges) if len(g) > 1]

    assert groups(3, {(0, 1), (1, 2)}) == [[0, 1]]
    assert groups(4, {(0, 1), (1, 2), (0, 2), (2, 3)}) == [[0, 1, 2]]


def test_index_search_then_match_equals_pairwise_match(docs: list[list[str]]) -> None:
    keys = [_dkey(docs[d], 700 + 10 * d + s) for d in range(4) for s in range(2)]
    index = DuplicateIndex()
    for i, k in enumerate(keys):
        index.add_key(i, k)
    for i, k in enumerate(keys):
        via_index = sorted(m.id for m in index.lookup_key(k) if m.id != i)
        brute = [j for j, o in enumerate(keys) if j != i and match_keys(k, o).duplicate]
        assert via_index == brute
        assert all(k.candidate - keys[j].candidate <= CANDIDATE_RADIUS for j in brute)


def test_blank_page_raises_typed_error() -> None:
    with pytest.raises(BlankPageError) as exc:
        document_key(np.full((800, 560), 250, np.uint8), dpi=100)
    assert exc.value.reason == "blank"


def test_real_photos_of_other_pages_do_not_match() -> None:
    # Two pages of one book, photographed by the page_dewarp author (MIT, tests/data/page_dewarp).
    data = Path(__file__).parent / "data" / "page_dewarp"
    a, b = (
        document_key(np.asarray(Image.open(data / f"boston_cooking_{x}.jpg")), dpi=100)
        for x in "ab"
    )
    assert not match_keys(a, b).duplicate
    assert match_keys(a, a).duplicate


def _keystone(img: np.ndarray, top_scale: float, x_scale: float) -> np.ndarray:
    """``img`` seen with its top edge ``top_scale`` times as wide as its bottom (a photo's
    keystone) and stretched by ``x_scale`` across: PIL's perspective transform, independent
    of the code under test."""
    h, w = img.shape
    inset = (1 - top_scale) * w / 2
    dst = np.array([[inset, 0], [w - inset, 0], [w, h], [0, h]], float)
    dst[:, 0] = (dst[:, 0] - w / 2) * x_scale + w / 2
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    coeffs = synth.perspective_coeffs(dst, src)
    out = Image.fromarray(img).transform((w, h), Image.PERSPECTIVE, coeffs, fill=255)
    return np.asarray(out)


@pytest.mark.parametrize("register", [False, True])
@pytest.mark.parametrize(("top_scale", "x_scale"), [(0.96, 1.0), (1.0, 0.955), (0.95, 1.04)])
def test_keystone_and_scale_are_registered_but_fillings_still_differ(
    docs: list[list[str]], top_scale: float, x_scale: float, register: bool
) -> None:
    # A rescan or a photo whose ink frame differs by a few percent in scale, or whose lines
    # shrink towards the top (keystone), is the same page: the verifier fits a smooth shift
    # field.  The same distortion must not make another filling of the form match.
    img, dpi = _scan(docs[0], 7, dpi=150)
    seen = _keystone(img, top_scale, x_scale)
    a = page_hash(img, dpi=dpi)
    b = page_hash(seen, dpi=dpi)
    other = page_hash(_keystone(_scan(docs[1], 8, dpi=150)[0], top_scale, x_scale), dpi=dpi)
    assert a is not None and b is not None and other is not None
    opts = MatchOptions(register=register)  # the field fit is opt-in (MatchOptions docs)
    assert verify_pair(a, b, opts).duplicate, verify_pair(a, b, opts)
    assert not verify_pair(a, other, opts).duplicate
    assert not verify_pair(b, other, opts).duplicate


def test_capture_auto_leaves_a_scan_as_it_is(docs: list[list[str]]) -> None:
    # A scan (paper filling the frame) is not a photo: capture="auto" must key it exactly as
    # capture="off" does.
    img, dpi = _scan(docs[2], 5, dpi=150)
    auto = document_key(img, dpi=dpi)
    off = document_key(img, dpi=dpi, capture="off")
    assert np.array_equal(auto.ink, off.ink) and auto.candidate == off.candidate
    with pytest.raises(InvalidArgumentError):
        document_key(img, dpi=dpi, capture="yes")


def _shifted(m: np.ndarray, dy: int, dx: int) -> np.ndarray:
    # out[y, x] = m[y + dy, x + dx], 0 outside
    out = np.zeros_like(m)
    h, w = m.shape
    ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
    yb, xb = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
    out[ys, xs] = m[yb, xb]
    return out


@settings(max_examples=40, deadline=None)
@given(
    dy=st.integers(-30, 30),
    dx=st.integers(-30, 30),
    seed=st.integers(0, 2**31 - 1),
    density=st.floats(0.0, 1.0),
    outside_unknown=st.booleans(),
)
def test_verifier_kernel_counts_agree_with_numpy(
    dy: int, dx: int, seed: int, density: float, outside_unknown: bool
) -> None:
    # The block kernel at a fixed shift (a constant field, no search) against a numpy
    # reference: per cell, ink of a outside b's shifted tolerance and ink of b (shifted)
    # outside a's tolerance; b has neither ink nor tolerance outside the bitmap, or, with
    # outside_unknown, tolerance there (ink of a whose place lies beyond b is not counted).
    from onestop_docs._native import dedup_key as kernels

    rng = np.random.default_rng(seed)
    shape, block = (50, 37), 8
    ink_a, tol_a, ink_b, tol_b = (
        (rng.random(shape) < density).astype(np.uint8) * rng.integers(1, 3, shape, dtype=np.uint8)
        for _ in range(4)
    )
    nb = (-(-shape[0] // block), -(-shape[1] // block))
    counts = np.zeros((*nb, 5), np.int32)
    field = np.zeros(12)
    field[0], field[6] = dy, dx
    kernels.block_verify(
        ink_a, tol_a, ink_b, tol_b, block, 0, 10**6, field, False, counts, outside_unknown
    )
    beyond = _shifted(np.ones(shape, np.uint8), dy, dx) == 0
    ua = (ink_a != 0) & (_shifted(tol_b, dy, dx) == 0) & ~(beyond & outside_unknown)
    ub = (_shifted(ink_b, dy, dx) != 0) & (tol_a == 0)
    pad = (nb[0] * block - shape[0], nb[1] * block - shape[1])

    def cells(m: np.ndarray) -> np.ndarray:
        m = np.pad(m.astype(np.int64), ((0, pad[0]), (0, pad[1])))
        return m.reshape(nb[0], block, nb[1], block).sum(axis=(1, 3))

    assert np.array_equal(counts[..., 0], cells(ua))
    assert np.array_equal(counts[..., 1], cells(ub))
    assert (counts[..., 3] == dy).all() and (counts[..., 4] == dx).all()


def _ragged_key(stretch: float, aspect: float, words: dict[int, int] | None = None) -> DocumentKey:
    # Canonical bitmaps of a page of left-aligned lines with ragged right ends, the longest
    # running past the right edge of the canvas; ``stretch``: the page as a key whose ink
    # frame came out that much narrower (a scale along x about the left margin, and what
    # lies beyond the canvas is lost); ``words``: line -> word left out (another filling,
    # a shorter name or number).
    wide = np.zeros((KEY_SHAPE[0], 2 * KEY_SHAPE[1]), np.uint8)
    rng = np.random.default_rng(77)
    for i, y in enumerate(range(40, 700, 36)):
        end = 600 if i == 15 else int(rng.integers(200, 470))
        x, w = 32, 0
        while x < end:
            n = int(rng.integers(20, 60))
            if not (words and words.get(i) == w):
                wide[y : y + 10, x : x + n] = rng.random(n) < 0.45
                wide[y + 3 : y + 6, x : x + n] |= rng.random(n) < 0.6
            else:
                rng.random(2 * n)  # the same strokes elsewhere
            x, w = x + n + 8, w + 1
    xs = np.round(32 + (np.arange(KEY_SHAPE[1]) - 32) / stretch).astype(np.intp)
    ink = np.ascontiguousarray(wide[:, xs])
    tol = dilate3x3(ink.astype(bool)).astype(np.uint8)
    h = Hash(bytes(32), 256)
    return DocumentKey(h, h, ink, tol, aspect)


def test_registration_follows_a_frame_moved_along_one_axis() -> None:
    # Two keys of one page whose ink frames differ by 3.2 % across (the 99 % quantile of
    # ragged line ends moved): the registration must follow the scale the keys' aspects
    # show (17 px at the right edge, more than the 16 px any registration may move a page
    # by itself), and ink beyond the other key's canvas is unknown, not unexplained.  The
    # same page with one word of another filling changed still does not match.
    a = _ragged_key(1.0, 1.40)
    b = _ragged_key(1.032, 1.40 * 1.032)
    for x, y in ((a, b), (b, a)):
        v = match_keys(x, y)
        assert v.duplicate, v
    for changed in ({3: 1}, {15: 4}, {9: 0}):
        c = _ragged_key(1.032, 1.40 * 1.032, changed)
        for x, y in ((a, c), (c, a)):
            v = match_keys(x, y)
            assert not v.duplicate and v.reason == "ink", (changed, v)


def _profile_corr_reference(pa: np.ndarray, pb: np.ndarray, s: float, t: float) -> float:
    # Pearson correlation of pa[y] and pb interpolated at c + s (y - c) + t, over the y
    # whose image lies inside pb (np.interp and np.corrcoef: independent of the kernel).
    y = np.arange(pa.size, dtype=np.float64)
    c = (pa.size - 1) / 2
    q = c + s * (y - c) + t
    ok = (q >= 0) & (q <= pb.size - 1)
    if 2 * ok.sum() < pa.size:
        return 0.0
    u, v = pa[ok], np.interp(q[ok], np.arange(pb.size), pb)
    if u.std() == 0 or v.std() == 0:
        return 0.0
    return float(np.corrcoef(u, v)[0, 1])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 120), m=st.integers(8, 120))
def test_profile_alignment_kernel_agrees_with_numpy(seed: int, n: int, m: int) -> None:
    from onestop_docs._native import dedup_key as kernels

    rng = np.random.default_rng(seed)
    pa = rng.random(n) * rng.integers(0, 2, n)
    pb = rng.random(m) * rng.integers(0, 2, m)
    s0, ds, t0, dt = 0.9, 0.03, -6.0, 1.5
    out = np.empty((7, 9))
    kernels.profile_alignment(pa, pb, s0, ds, t0, dt, out)
    for i in range(7):
        for j in range(9):
            ref = _profile_corr_reference(pa, pb, s0 + i * ds, t0 + j * dt)
            assert out[i, j] == pytest.approx(ref, abs=1e-9)


def _text_profile(rng: np.random.Generator, n: int, period: int | None) -> np.ndarray:
    # Ink per canonical row: text lines of 7-9 rows and random ink at random gaps (a form),
    # or ruled rows of equal ink every ``period`` rows (an evenly spaced table).
    p = np.zeros(n)
    y = 30
    while y < n - 40:
        if period:
            p[y : y + 3] = 300.0
            y += period
        else:
            h = int(rng.integers(7, 10))
            p[y : y + h] = rng.uniform(40, 200)
            y += h + int(rng.integers(5, 30))
    return p


def _moved(p: np.ndarray, s: float, t: float) -> np.ndarray:
    # the profile of a copy whose rows map to c + s (y - c) + t of the original
    c = (p.size - 1) / 2
    y = np.arange(p.size, dtype=np.float64)
    return np.interp(c + (y - c) / s - t / s, y, p, left=0.0, right=0.0)


@pytest.mark.parametrize(("s", "t"), [(1.0, 0.0), (1.03, -7.0), (0.97, 11.0), (1.0, 18.0)])
def test_alignment_prior_finds_scale_and_offset(s: float, t: float) -> None:
    from onestop_docs.dedup._key import _axis_prior

    p = _text_profile(np.random.default_rng(11), KEY_SHAPE[0], None)
    found = _axis_prior(p, _moved(p, s, t))
    assert found is not None
    assert found[0] == pytest.approx(s, abs=0.004) and found[1] == pytest.approx(t, abs=1.5)


def test_alignment_prior_refuses_a_periodic_table() -> None:
    # Evenly spaced rows correlate as well one period away: the prior must not pick an
    # alignment (it keeps the identity), whatever the offset between the copies.
    from onestop_docs.dedup._key import _axis_prior, alignment_prior

    p = _text_profile(np.random.default_rng(5), KEY_SHAPE[0], 16)
    for t in (0.0, 5.0, 16.0):
        assert _axis_prior(p, _moved(p, 1.0, t)) is None
    ink = np.zeros(KEY_SHAPE, np.uint8)
    for y in range(40, 720, 16):
        ink[y : y + 8, 40:500] = 1
    moved = np.ascontiguousarray(np.roll(ink, 16, axis=0))
    a, b = (
        DocumentKey(Hash(bytes(32), 256), Hash(bytes(32), 256), m, m, 1.4) for m in (ink, moved)
    )
    assert not alignment_prior(a, b)[:6].any()


def _name_page(name: str, dpi: int, seed: int) -> np.ndarray:
    # An A4 page of text with one name line, "scanned": shifted, turned, noisy.
    lines = [*synth.VI_LINES[:8], f"Họ, chữ đệm, tên: NGUYỄN GIA {name}", *synth.VI_LINES[8:] * 2]
    img = synth.render_page(lines, dpi=dpi, paper="A4", font_pt=11, max_lines=len(lines)).gray
    rng = np.random.default_rng(seed)
    img = np.roll(img, tuple(int(v) for v in rng.integers(-15, 16, 2)), axis=(0, 1))
    img = synth.rotate(img, float(rng.uniform(-2, 2)), fill=255)
    return synth.add_noise(img, float(rng.uniform(2, 6)), rng)


def _same_width_names() -> tuple[str, str]:
    # Two given names whose rendered "NGUYỄN GIA <name>" has the same width in the page
    # font (Pillow's own text measurement): only the letters differ, not the line's extent.
    from PIL import ImageFont

    fnt = ImageFont.truetype(synth.font_path("serif"), round(11 * 300 / 72))
    a, b = "DŨNG", "KHOA"
    assert fnt.getlength(f"NGUYỄN GIA {a}") == fnt.getlength(f"NGUYỄN GIA {b}")
    return a, b


@pytest.mark.parametrize("dpi", [200, 300])
def test_same_width_name_rescans_match(dpi: int) -> None:
    for name in _same_width_names():
        a, b = (page_hash(_name_page(name, dpi, s), dpi=dpi, capture="off") for s in (10, 11))
        assert a is not None and b is not None
        assert verify_pair(a, b).duplicate, verify_pair(a, b)


@pytest.mark.parametrize("dpi", [200, 300])
def test_same_width_name_change_is_not_a_duplicate(dpi: int) -> None:
    # At the key's 70 dpi the tolerance mask covers each capital's box; the final stage on
    # the fine bitmaps sees the changed letters (issue 14 point 1).
    first, second = _same_width_names()
    a = [page_hash(_name_page(first, dpi, s), dpi=dpi, capture="off") for s in (10, 11)]
    b = [page_hash(_name_page(second, dpi, s), dpi=dpi, capture="off") for s in (20, 21)]
    for x in a:
        for y in b:
            assert x is not None and y is not None
            assert not verify_pair(x, y).duplicate
            assert not verify_pair(y, x).duplicate


def _text_bitmap(rng: np.random.Generator) -> np.ndarray:
    # A canonical ink bitmap of irregular lines of "words" (letters 4 px apart).
    ink = np.zeros(KEY_SHAPE, np.uint8)
    y = 40
    while y < KEY_SHAPE[0] - 40:
        x = 34 + int(rng.integers(0, 10))
        end = KEY_SHAPE[1] - 34 - int(rng.integers(0, 80))
        while x < end:
            w = int(rng.integers(8, 40))
            ink[y : y + 7, x : min(x + w, end)] = 1
            ink[y : y + 7, x + 4 : min(x + w, end) : 5] = 0
            x += w + int(rng.integers(5, 9))
        y += int(rng.integers(16, 26))
    return ink


def _bitmap_key(ink: np.ndarray) -> DocumentKey:
    h = Hash(bytes(32), 256)
    return DocumentKey(h, h, ink, dilate3x3(ink.astype(bool)).astype(np.uint8), 1.41)


def _scaled_columns(ink: np.ndarray, s: float, t: float) -> np.ndarray:
    # Columns scaled by s about the centre and moved by t (nearest neighbour).
    c = (KEY_SHAPE[1] - 1) / 2
    src = np.round((np.arange(KEY_SHAPE[1]) - t - c) / s + c).astype(int)
    ok = (src >= 0) & (src < KEY_SHAPE[1])
    out = np.zeros_like(ink)
    out[:, ok] = ink[:, src[ok]]
    return np.ascontiguousarray(out)


@pytest.mark.parametrize("seed", range(6))
def test_decision_does_not_depend_on_the_order_of_the_keys(seed: int) -> None:
    # A frame 1.4 % narrower and 8 px off across (as tuning hard s19's phone page p0061
    # against its scans): the first pass lost 8 % of the cells one way and 37 % the other,
    # and only the first order reached the aligned second attempt.
    rng = np.random.default_rng(seed)
    page = _text_bitmap(rng)
    a, b = _bitmap_key(page), _bitmap_key(_scaled_columns(page, 0.986, 7.8))
    assert match_keys(a, b).duplicate, match_keys(a, b)
    assert match_keys(b, a).duplicate, match_keys(b, a)
    other = _bitmap_key(_text_bitmap(np.random.default_rng(seed + 100)))
    assert not match_keys(a, other).duplicate and not match_keys(other, a).duplicate


@settings(max_examples=40, deadline=None)
@given(
    dy=st.integers(-6, 6),
    dx=st.integers(-6, 6),
    seed=st.integers(0, 2**31 - 1),
    density=st.floats(0.0, 1.0),
)
def test_fine_kernel_cores_agree_with_numpy(dy: int, dx: int, seed: int, density: float) -> None:
    # The fine stage at a fixed shift (no search) against a numpy reference: per cell, the
    # 2 x 2 blocks (inside the cell) of ink of a outside b's shifted tolerance, and of b's
    # shifted ink outside a's tolerance; outside its bitmap b has no ink and is tolerance.
    from onestop_docs._native import dedup_key as kernels

    rng = np.random.default_rng(seed)
    shape, block = (60, 44), 10  # fine pixels; coarse cells of 5, scale 2
    ink_a, tol_a, ink_b, tol_b = (
        (rng.random(shape) < density).astype(np.uint8) * rng.integers(1, 3, shape, dtype=np.uint8)
        for _ in range(4)
    )
    nb = (shape[0] // block, -(-shape[1] // block))
    counts = np.zeros((*nb, 5), np.int32)
    counts[..., 2] = 100
    counts[..., 3], counts[..., 4] = dy, dx
    out = np.zeros((*nb, 2), np.int32)
    kernels.fine_verify(ink_a, tol_a, ink_b, tol_b, counts, np.zeros(0), 2, 0, 1, -1, out)
    outside = _shifted(np.ones_like(tol_b), 2 * dy, 2 * dx) == 0
    ua = (ink_a != 0) & (_shifted(tol_b, 2 * dy, 2 * dx) == 0) & ~outside
    ub = (_shifted(ink_b, 2 * dy, 2 * dx) != 0) & (tol_a == 0)

    def cores(u: np.ndarray) -> np.ndarray:
        res = np.zeros(nb, np.int64)
        for i in range(nb[0]):
            for j in range(nb[1]):
                c = u[i * block : (i + 1) * block, j * block : (j + 1) * block]
                res[i, j] = (c[:-1, :-1] & c[1:, :-1] & c[:-1, 1:] & c[1:, 1:]).sum()
        return res

    assert np.array_equal(out[..., 0], cores(ua))
    assert np.array_equal(out[..., 1], cores(ub))


def test_dilate_kernel_agrees_with_numpy() -> None:
    from onestop_docs._native import dedup_key as kernels

    rng = np.random.default_rng(3)
    for shape in ((1, 1), (1, 7), (5, 1), (2, 2), (40, 33)):
        m = (rng.random(shape) < 0.1).astype(np.uint8) * 3
        out, tmp = np.empty(shape, np.uint8), np.empty(shape, np.uint8)
        kernels.dilate3x3_u8(m, out, tmp)
        assert np.array_equal(out, dilate3x3(m.astype(bool)).astype(np.uint8))


def test_edge_components_are_cleared_whatever_their_size() -> None:
    from onestop_docs._native import dedup_key as kernels

    rng = np.random.default_rng(8)
    for shape in ((1, 1), (1, 9), (9, 1), (2, 5), (37, 23)):
        m = (rng.random(shape) < 0.45).astype(np.uint8)
        ref = m.copy()
        lab, _ = __import__("scipy.ndimage", fromlist=["label"]).label(ref, np.ones((3, 3)))
        edge = set(lab[0]) | set(lab[-1]) | set(lab[:, 0]) | set(lab[:, -1])
        edge.discard(0)
        ref[np.isin(lab, list(edge))] = 0
        got = m.copy()
        assert kernels.clear_edge_components(got) == int(m.sum() - ref.sum())
        assert np.array_equal(got, ref)


def _v1_blob(k: DocumentKey) -> bytes:
    # A key as version 1 wrote it: the coarse bitmaps only, flags 0.
    import struct
    import zlib

    body = zlib.compress(np.packbits(k.ink).tobytes() + np.packbits(k.tolerance).tobytes())
    head = struct.pack(
        "<3sBHHfB32s32sI",
        b"ODK",
        1,
        *KEY_SHAPE,
        k.aspect,
        0,
        k.candidate.data,
        k.candidate_flip.data,
        len(body),
    )
    return head + body + struct.pack("<I", zlib.crc32(head + body))


def test_old_version_key_is_a_typed_error() -> None:
    # Keys of version 1 (before the fine bitmaps) are refused with the version named, not
    # read as keys without a final stage.
    blob = _v1_blob(_random_key(np.random.default_rng(4)))
    with pytest.raises(KeyFormatError, match="version 1"):
        DocumentKey.from_bytes(blob)


def test_fine_bitmaps_round_trip_and_turn() -> None:
    img, dpi = _scan(forms.form_lines(np.random.default_rng(6), 0), 31, dpi=200)
    k = document_key(img, dpi=dpi)
    assert k.has_fine
    ink, tol = k.fine_bitmaps()
    assert ink.shape == tol.shape == FINE_SHAPE and set(np.unique(tol)) == {0, 1}
    assert int(ink.sum()) > 0 and not (ink > tol).any()  # ink lies inside the tolerance
    back = DocumentKey.from_bytes(k.to_bytes())
    for x, y in zip(back.fine_bitmaps(), (ink, tol), strict=True):
        assert np.array_equal(x, y)
    # turned by 180 degrees: the unpacked bitmaps turned (the packed rows are bit-reversed)
    for x, y in zip(k.flipped().fine_bitmaps(), (ink, tol), strict=True):
        assert np.array_equal(x, y[::-1, ::-1])
    # a key without fine bitmaps still round-trips, and only the coarse stage runs for it
    bare = DocumentKey(k.candidate, k.candidate_flip, k.ink, k.tolerance, k.aspect)
    assert not DocumentKey.from_bytes(bare.to_bytes()).has_fine
    v = match_keys(bare, k)
    assert v.duplicate and np.isnan(v.fine_score)
    with pytest.raises(InvalidArgumentError):
        DocumentKey(k.candidate, k.candidate_flip, k.ink, k.tolerance, k.aspect, 2, k.fine_ink)


@pytest.mark.parametrize("dpi", [200, 300])
def test_rescans_pass_the_fine_stage(dpi: int) -> None:
    # The final stage runs on rescans (fine_score is a number) and accepts them, in both
    # orders; with it switched off the same-width name change is what still matches.
    first, second = _same_width_names()
    for name in (first, second):
        a, b = (document_key(_name_page(name, dpi, s), dpi=dpi, capture="off") for s in (10, 11))
        for x, y in ((a, b), (b, a)):
            v = match_keys(x, y)
            assert v.duplicate and v.reason == "match" and 0 <= v.fine_score < 1, v
    x = document_key(_name_page(first, dpi, 10), dpi=dpi, capture="off")
    y = document_key(_name_page(second, dpi, 21), dpi=dpi, capture="off")
    assert match_keys(x, y, options=MatchOptions(fine=False)).duplicate
    v = match_keys(x, y)
    assert not v.duplicate and v.reason == "fine-ink" and v.fine_score >= 1, v
