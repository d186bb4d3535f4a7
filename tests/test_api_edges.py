"""Regression tests: public entry points given hostile arguments raise the documented typed
error (issue 18, "API edges"), never TypeError, OverflowError or a huge allocation."""

from __future__ import annotations

import numpy as np
import pytest

from onestop_docs import errors

# --------------------------------------------------------------------------- dedup index


def test_hash_index_add_refuses_a_non_hash() -> None:
    from onestop_docs.dedup import HashIndex

    index = HashIndex(64)
    with pytest.raises(errors.InvalidArgumentError, match="got int"):
        index.add([1], 5)
    assert len(index) == 0


def test_nearest_with_a_huge_k_returns_every_row() -> None:
    from onestop_docs.dedup import HashIndex

    index = HashIndex(64)
    index.add([1, 2], ["00" * 8, "ff" * 8])
    got = index.nearest("00" * 8, k=2**63)
    assert got.ids.tolist() == [1, 2] and got.distances.tolist() == [0, 64]
    with pytest.raises(errors.InvalidArgumentError):
        index.nearest("00" * 8, k=0)


# --------------------------------------------------------------------------- dedup hashes


@pytest.mark.parametrize("size", [16.0, 8.0, "8", None, True])
def test_phash_size_must_be_an_int(size: object) -> None:
    from onestop_docs.dedup._hash import phash

    with pytest.raises(errors.InvalidArgumentError, match="hash_size"):
        phash(np.zeros((64, 64), np.uint8), size)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- duplicate index


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    page = np.full((400, 300), 245, np.uint8)
    for _ in range(60):
        y, x = rng.integers(10, 380), rng.integers(10, 250)
        page[y : y + 6, x : x + int(rng.integers(10, 40))] = 20
    return page


@pytest.fixture(scope="module")
def dup_arrays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    from onestop_docs.dedup import DuplicateIndex

    index = DuplicateIndex()
    index.add(7, _texture(1), dpi=100, file_sha256="ab" * 32)
    index.add(8, _texture(2), dpi=100)
    path = tmp_path_factory.mktemp("dup") / "dup.npz"
    index.save(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _crafted(arrays: dict[str, np.ndarray], **changes: object) -> dict[str, np.ndarray]:
    out = dict(arrays)
    for k, v in changes.items():
        if v is None:
            del out[k]
        else:
            out[k] = np.asarray(v)
    return out


CRAFTED: dict[str, object] = {
    "count-empty": {"count": np.zeros(0, np.int64)},
    "count-negative": {"count": np.array([-1])},
    "count-float": {"count": np.array([2.0])},
    "format-text": {"format": np.array(["1"])},
    "ids-2d": {"ids": np.zeros((2, 2), np.int64)},
    "ids-float": {"ids": np.array([7.0, 8.0])},
    "keys-float": {"keys": np.zeros(8, np.float64)},
    "keys-2d": {"keys": np.zeros((2, 4), np.uint8)},
    "keys-missing": {"keys": None},
    "key-lengths-negative": {"key_lengths": np.array([-1, 1])},
    "key-lengths-float": {"key_lengths": np.array([1.5, 2.5])},
    "key-lengths-short": {"key_lengths": np.array([3])},
    "keys-truncated": "truncate",
    "keys-corrupt": "flip",
    "sha-int": {"sha": np.array([1], np.int64)},
    "sha-2d": {"sha": np.zeros((1, 1), "S32")},
    "sha-ids-missing": {"sha_ids": None},
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_duplicate_index_files_are_index_format_errors(
    dup_arrays: dict[str, np.ndarray], tmp_path, case: str
) -> None:
    from onestop_docs.dedup import DuplicateIndex

    changes = CRAFTED[case]
    if changes == "truncate":  # lengths that no longer add up to the blob
        changes = {"keys": dup_arrays["keys"][:-5]}
    elif changes == "flip":  # every byte of both keys inverted: corrupt key bytes
        changes = {"keys": dup_arrays["keys"] ^ np.uint8(0xFF)}
    path = tmp_path / "crafted.npz"
    np.savez(path, **_crafted(dup_arrays, **changes))
    with pytest.raises(errors.IndexFormatError):
        DuplicateIndex.open(path)


def test_the_uncrafted_arrays_open(dup_arrays: dict[str, np.ndarray], tmp_path) -> None:
    from onestop_docs.dedup import DuplicateIndex

    path = tmp_path / "plain.npz"
    np.savez(path, **dup_arrays)
    assert len(DuplicateIndex.open(path)) == 2


# --------------------------------------------------------------------------- cleanup


@pytest.mark.parametrize("dpi", [float("nan"), float("inf"), -5, 0, -0.5, "300", None, True])
def test_default_window_refuses_a_bad_dpi(dpi: object) -> None:
    from onestop_docs.cleanup import default_window

    with pytest.raises(errors.InvalidArgumentError, match="dpi"):
        default_window(dpi)  # type: ignore[arg-type]


def test_default_window_formula_still_holds() -> None:
    from onestop_docs.cleanup import default_window

    # 2 * floor(dpi / 8) + 1, by hand
    assert [default_window(d) for d in (300, 200, 7.9, np.float32(8.0))] == [75, 51, 1, 3]


# --------------------------------------------------------------------------- deskew rotate


def test_rotate_expand_of_a_long_strip_is_refused_before_allocating() -> None:
    from onestop_docs.deskew import rotate

    strip = np.zeros((1, 700_000), np.uint8)  # 45 degrees, expanded: ~495,000^2 pixels
    with pytest.raises(errors.ImageTooLargeError, match="DEFAULT_MAX_PIXELS"):
        rotate(strip, 45.0, expand=True)
    assert rotate(np.zeros((1, 1000), np.uint8), 45.0, expand=True).shape == (708, 708)
    assert rotate(strip, 45.0).shape == strip.shape  # without expand the shape is kept


# --------------------------------------------------------------------------- signing


def test_verify_pdf_refuses_a_naive_time(tmp_path) -> None:
    import datetime as dt

    pytest.importorskip("pyhanko")
    from PIL import Image

    from onestop_docs.signing import demo_pki, verify_pdf

    Image.new("RGB", (42, 59), "white").save(tmp_path / "scan.pdf", "PDF", resolution=72)
    roots = [demo_pki(tmp_path).root_cert_path]
    with pytest.raises(errors.InvalidArgumentError, match="timezone-aware"):
        verify_pdf(tmp_path / "scan.pdf", trust_roots=roots, at=dt.datetime(2026, 1, 5, 8, 30))
    aware = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC)
    assert verify_pdf(tmp_path / "scan.pdf", trust_roots=roots, at=aware).codes == ("no-signature",)


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize("codes", [None, 5, 3.5, object()])
def test_validate_dossier_codes_refuses_a_non_sequence(codes: object) -> None:
    from onestop_docs.codes.dossier import validate_dossier_codes

    with pytest.raises(errors.InvalidArgumentError, match="sequence of codes"):
        validate_dossier_codes(codes)  # type: ignore[arg-type]
    assert validate_dossier_codes(iter(["H56.14-240823-0001"])).tolist() == [True]


# --------------------------------------------------------------------------- verify


def test_verify_reports_a_missing_timestamp_as_null(tmp_path, monkeypatch) -> None:
    import datetime as dt
    import json
    from types import SimpleNamespace

    import onestop_docs.signing
    from onestop_docs.verify import verify_record

    rec = tmp_path / "rec"
    (rec / "data").mkdir(parents=True)
    (rec / "data" / "report.json").write_text(json.dumps({"signatures": [{"role": "officer"}]}))
    (rec / "data" / "rec.pdf").write_bytes(b"%PDF-1.7\n")  # data/<record id>.pdf
    signed = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC)
    fake = SimpleNamespace(
        signatures=(),
        signer_subject="CN=A",
        intact=True,
        trusted=True,
        valid=True,
        signing_time=signed,
        timestamp_time=None,
        problems=(),
        has=lambda code: False,
    )
    monkeypatch.setattr(onestop_docs.signing, "verify_pdf", lambda *a, **k: fake)
    (sig,) = verify_record(rec, trust_roots=["root.pem"]).signatures
    assert sig["timestamp_time"] is None  # was the string "None"
    assert sig["signing_time"] == str(signed)
    assert json.loads(json.dumps(sig))["timestamp_time"] is None


# --------------------------------------------------------------------------- XML screen

_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]><lolz>&lol9;</lolz>"
).replace("&lol0;", "&lol;")


@pytest.mark.parametrize(
    "encoded",
    [
        _LAUGHS.replace('<?xml version="1.0"?>', "").encode("utf-16-le"),  # no BOM
        _LAUGHS.replace("1.0", '1.0" encoding="UTF-16').encode("utf-16-le"),
        _LAUGHS.encode("utf-16-be"),
        _LAUGHS.encode("utf-16"),  # with a BOM
        _LAUGHS.encode("utf-32-le"),
        _LAUGHS.replace("1.0", '1.0" encoding="cp037').encode("cp037"),  # EBCDIC
        (" " * 40 + _LAUGHS.replace('<?xml version="1.0"?>', "")).encode("utf-16-le"),
    ],
    ids=["utf16le-no-bom", "utf16le-declared", "utf16be", "utf16-bom", "utf32le", "ebcdic", "pad"],
)
def test_xml_in_another_encoding_is_a_forbidden_construct(encoded: bytes, tmp_path) -> None:
    pytest.importorskip("signxml")
    from onestop_docs.signing import demo_pki
    from onestop_docs.signing.xml import verify_xml

    root = demo_pki(tmp_path).root_cert_path
    assert verify_xml(encoded, trust_roots=[root]).codes == ("xml-forbidden-construct",)


def test_xml_screen_keeps_utf8_documents(tmp_path) -> None:
    pytest.importorskip("signxml")
    from onestop_docs.signing import demo_pki
    from onestop_docs.signing.xml import verify_xml

    root = demo_pki(tmp_path).root_cert_path
    plain = '\ufeff <?xml version="1.0" encoding="utf-8"?><a>hồ sơ</a>'.encode()
    # Parsed (no signature in it), not refused before parsing.
    assert verify_xml(plain, trust_roots=[root]).codes != ("xml-forbidden-construct",)
    assert verify_xml(_LAUGHS.encode(), trust_roots=[root]).codes == ("xml-forbidden-construct",)
