"""BagIt 1.0 bags: interoperability with bagit-python both ways, tamper reports, names."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import InvalidArgumentError
from onestop_docs.integrity import Manifest
from onestop_docs.integrity.bag import decode_path, encode_path

if os.environ.get("CI"):
    # CI installs requirements/constraints.txt (setuptools < 81, which bagit-python 1.8 needs
    # for pkg_resources): there the reference must run, a missing bagit fails the suite.
    import bagit
else:
    bagit = pytest.importorskip("bagit")

# Names bagit-python can also read back: it decodes only %0A/%0D (and at most two of each,
# re.sub's count slot receives re.IGNORECASE), and does not percent-encode "%"
# (LibraryOfCongress/bagit-python#157).  Names with "%" are tested separately below.
NAMES = [
    "Giấy khai sinh - bản sao.pdf",
    "hồ sơ/Đơn đề nghị cấp phép xây dựng.pdf",
    "hồ sơ/phụ lục/ảnh chụp 01.jpg",
    "tên có  hai khoảng trắng.txt",
    "dòng\nmới.txt",
    "plain.txt",
    "sâu/hơn/nữa/tệp.bin",
]


def write_tree(root: Path, names: list[str]) -> dict[str, bytes]:
    content = {}
    for i, name in enumerate(names):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        data = f"nội dung {i} {name}".encode() * (i + 1)
        p.write_bytes(data)
        content[name] = data
    return content


def bagit_valid(path: Path) -> tuple[bool, str]:
    try:
        bagit.Bag(str(path)).validate()
    except bagit.BagError as exc:
        details = getattr(exc, "details", None) or []
        return False, f"{exc}: {[str(d) for d in details]}"
    return True, ""


def read_manifest(path: Path) -> dict[str, str]:
    """Independent parse of manifest-sha256.txt following RFC 8493 §2.1.3."""
    out = {}
    for line in path.read_text("utf-8").splitlines():
        digest, name = line.split(" ", 1)
        name = name.lstrip(" ")
        name = name.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        out[name] = digest
    return out


# --------------------------------------------------------------------------- ours -> bagit


def test_our_bag_validates_with_bagit_python(tmp_path: Path) -> None:
    src = tmp_path / "scan"
    content = write_tree(src, NAMES)
    bag = Manifest.create(
        tmp_path / "bag", source=src, bag_info={"Source-Organization": "UBND xã Tân Phú"}
    )
    ok, why = bagit_valid(bag.path)
    assert ok, why
    b = bagit.Bag(str(bag.path))
    assert b.version_info == (1, 0)
    assert b.info["Source-Organization"] == "UBND xã Tân Phú"
    assert b.info["Payload-Oxum"] == f"{sum(map(len, content.values()))}.{len(content)}"
    # digests compared with hashlib over the original files
    listed = read_manifest(bag.path / "manifest-sha256.txt")
    assert listed == {f"data/{n}": hashlib.sha256(d).hexdigest() for n, d in content.items()}
    assert dict(bag.entries) == listed
    # the user's files were copied, not moved
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()) == sorted(NAMES)


def test_bagit_python_detects_our_tampering_targets(tmp_path: Path) -> None:
    src = tmp_path / "scan"
    write_tree(src, NAMES[:3])
    bag = Manifest.create(tmp_path / "bag", source=src)
    (bag.path / "data" / NAMES[0]).write_bytes(b"changed")
    assert not bagit_valid(bag.path)[0]
    assert Manifest.validate(bag.path).altered == (f"data/{NAMES[0]}",)


# --------------------------------------------------------------------------- bagit -> ours


def test_bagit_python_bag_validates_with_ours(tmp_path: Path) -> None:
    d = tmp_path / "made_by_bagit"
    # ("a%0Ab.txt" is left out: bagit-python cannot validate it in its own bags)
    content = write_tree(d, [*NAMES, "100% hoàn thành.pdf"])
    bagit.make_bag(str(d), {"Contact-Name": "Nguyễn Văn A"})
    assert bagit_valid(d)[0]
    report = Manifest.validate(d)
    assert report.valid, report
    assert report.version == "0.97"
    assert report.files_checked == len(content) + 4  # + bagit.txt, bag-info, 2 manifests
    loaded = Manifest.load(d)
    assert loaded.algorithm == "sha256"
    assert (
        loaded.entries["data/100% hoàn thành.pdf"]
        == hashlib.sha256(content["100% hoàn thành.pdf"]).hexdigest()
    )
    assert ("Contact-Name", "Nguyễn Văn A") in loaded.bag_info


def test_bagit_python_bag_tampering_is_reported(tmp_path: Path) -> None:
    d = tmp_path / "b"
    write_tree(d, NAMES)
    bagit.make_bag(str(d))
    (d / "data" / NAMES[0]).write_bytes(b"altered")
    (d / "data" / NAMES[1]).unlink()
    (d / "data" / "thêm.txt").write_bytes(b"extra")
    report = Manifest.validate(d)
    assert not report.valid
    assert report.altered == (f"data/{NAMES[0]}",)
    assert report.missing == (f"data/{NAMES[1]}",)
    assert report.extra == ("data/thêm.txt",)
    assert any("Payload-Oxum" in p for p in report.problems)
    assert not bagit_valid(d)[0]  # the reference agrees the bag is broken


# --------------------------------------------------------------------------- RFC 8493 details


def test_percent_and_newline_encoding_follows_rfc(tmp_path: Path) -> None:
    names = ["100% xong.pdf", "a%0Ab.txt", "ba\ndòng\rkhác\n.txt", "%25.txt"]
    (tmp_path / "b" / "data").mkdir(parents=True)
    for n in names:
        (tmp_path / "b" / "data" / n).write_bytes(n.encode())
    Manifest.create(tmp_path / "b")
    lines = (tmp_path / "b" / "manifest-sha256.txt").read_text("utf-8").splitlines()
    # Expected lines written by hand from RFC 8493 §2.1.3 (CR, LF and % only).
    expected = {
        "data/100%25 xong.pdf",
        "data/a%250Ab.txt",
        "data/ba%0Adòng%0Dkhác%0A.txt",
        "data/%2525.txt",
    }
    assert {line.split("  ", 1)[1] for line in lines} == expected
    for line in lines:
        digest, enc = line.split("  ", 1)
        raw = enc.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        assert digest == hashlib.sha256(raw.removeprefix("data/").encode()).hexdigest()
    assert Manifest.validate(tmp_path / "b").valid


@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30))
def test_path_encoding_roundtrip(name: str) -> None:
    enc = encode_path(name)
    assert "\n" not in enc and "\r" not in enc
    assert decode_path(enc) == name
    # only %, CR and LF change
    assert enc.replace("%25", "%").replace("%0A", "\n").replace("%0D", "\r") == name


def test_nfd_names_match_nfc_manifest(tmp_path: Path) -> None:
    nfc = "Quyết định.pdf"
    bag = tmp_path / "b"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / nfc).write_bytes(b"x")
    Manifest.create(bag)
    os.rename(bag / "data" / nfc, bag / "data" / unicodedata.normalize("NFD", nfc))
    report = Manifest.validate(bag)
    assert report.valid, report


def test_tag_file_tampering_and_missing_tag_file(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, NAMES[:2])
    bag = Manifest.create(tmp_path / "b", source=src, bag_info={"Note": "gốc"}).path
    info = bag / "bag-info.txt"
    info.write_text(info.read_text("utf-8").replace("gốc", "sửa"), "utf-8")
    report = Manifest.validate(bag)
    assert report.altered == ("bag-info.txt",) and not report.valid
    info.unlink()
    assert Manifest.validate(bag).missing == ("bag-info.txt",)


def test_manifest_edit_is_caught_by_tag_manifest(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, NAMES[:2])
    bag = Manifest.create(tmp_path / "b", source=src).path
    # Forge: change a payload file and rewrite its manifest line consistently.
    (bag / "data" / NAMES[0]).write_bytes(b"forged")
    m = bag / "manifest-sha256.txt"
    lines = m.read_text("utf-8").splitlines()
    lines = [
        (hashlib.sha256(b"forged").hexdigest() + "  " + ln.split("  ", 1)[1])
        if ln.endswith(NAMES[0])
        else ln
        for ln in lines
    ]
    m.write_text("\n".join(lines) + "\n", "utf-8")
    report = Manifest.validate(bag)
    assert report.altered == ("manifest-sha256.txt",)


def test_unsafe_paths_and_weak_only_bags(tmp_path: Path) -> None:
    bag = tmp_path / "b"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "a").write_bytes(b"a")
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag / "manifest-md5.txt").write_text(
        f"{hashlib.md5(b'a').hexdigest()}  data/a\n{'0' * 32}  ../../etc/passwd\n"
    )
    report = Manifest.validate(bag)
    assert not report.valid
    assert any("unsafe path" in p for p in report.problems)
    assert any("SHA-256" in p for p in report.problems)
    assert report.altered == () and report.missing == ()


def test_misplaced_entries_and_unknown_algorithms_are_problems(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, NAMES[:1])
    bag = Manifest.create(tmp_path / "b", source=src).path
    a_hash = "0" * 64
    with (bag / "manifest-sha256.txt").open("a", encoding="utf-8") as fh:
        fh.write(f"{a_hash}  bagit.txt\n")  # a tag file in the payload manifest
    (bag / "tagmanifest-sha256.txt").write_text(
        f"{a_hash}  data/{NAMES[0]}\n", "utf-8"
    )  # a payload file in the tag manifest
    (bag / "manifest-blake2b.txt").write_text(f"{a_hash}  data/{NAMES[0]}\n", "utf-8")
    (bag / "tagmanifest-blake2b.txt").write_text(f"{a_hash}  bagit.txt\n", "utf-8")
    report = Manifest.validate(bag)
    assert not report.valid
    assert report.problems == (
        "manifest-blake2b.txt: unsupported algorithm, not checked",
        "manifest-sha256.txt lists 'bagit.txt' outside data/",
        "tagmanifest-blake2b.txt: unsupported algorithm, not checked",
        f"tagmanifest-sha256.txt lists payload file 'data/{NAMES[0]}'",
    )


def test_not_a_bag(tmp_path: Path) -> None:
    report = Manifest.validate(tmp_path)
    assert not report.valid and report.problems == ("bagit.txt is missing",)
    with pytest.raises(InvalidArgumentError):
        Manifest.validate(tmp_path / "nope")
    with pytest.raises(InvalidArgumentError):
        Manifest.load(tmp_path)


def test_symlinks_refused_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "s"
    src.mkdir()
    (src / "real.txt").write_bytes(b"r")
    (src / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(InvalidArgumentError, match="symbolic"):
        Manifest.create(tmp_path / "b", source=src)
    (src / "link.txt").unlink()
    bag = Manifest.create(tmp_path / "b2", source=src).path
    (bag / "data" / "link.txt").symlink_to(src / "real.txt")
    report = Manifest.validate(bag)
    assert not report.valid and any("symbolic link" in p for p in report.problems)


# --------------------------------------------------------------------------- moving files


def test_no_move_without_permission(tmp_path: Path) -> None:
    d = tmp_path / "desk"
    write_tree(d, NAMES[:3])
    before = sorted(p for p in d.rglob("*"))
    with pytest.raises(InvalidArgumentError, match="move=True"):
        Manifest.create(d)
    assert sorted(p for p in d.rglob("*")) == before  # nothing moved or written


def test_move_when_asked(tmp_path: Path) -> None:
    d = tmp_path / "desk"
    content = write_tree(d, NAMES)
    bag = Manifest.create(d, move=True)
    assert sorted(bag.entries) == sorted(f"data/{n}" for n in content)
    assert all((d / "data" / n).read_bytes() == c for n, c in content.items())
    assert bagit_valid(d)[0]
    assert Manifest.validate(d).valid


def test_rebag_in_place_replaces_stale_manifests(tmp_path: Path) -> None:
    d = tmp_path / "b"
    write_tree(d / "data", NAMES[:2])
    Manifest.create(d, algorithms=("sha256", "sha512"))
    assert (d / "manifest-sha512.txt").exists()
    (d / "data" / "new.txt").write_bytes(b"new")
    Manifest.create(d)
    assert not (d / "manifest-sha512.txt").exists()
    assert not (d / "tagmanifest-sha512.txt").exists()
    assert Manifest.validate(d).valid and bagit_valid(d)[0]


def test_bad_arguments(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, ["a.txt"])
    with pytest.raises(InvalidArgumentError):
        Manifest.create(tmp_path / "b", source=src, algorithms=("md5",))
    with pytest.raises(InvalidArgumentError):
        Manifest.create(tmp_path / "b", source=src, bag_info={"Bad: label": "x"})
    with pytest.raises(InvalidArgumentError):
        Manifest.create(tmp_path / "b", source=src, bag_info={"Note": "two\nlines"})
    with pytest.raises(InvalidArgumentError):
        Manifest.create(tmp_path / "b", source=src, move=True)
    with pytest.raises(InvalidArgumentError):
        Manifest.create(src / "inner", source=src)
    (src / "trailing space ").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="white space"):
        Manifest.create(tmp_path / "b3", source=src)
    with pytest.raises(InvalidArgumentError):
        Manifest.validate(src, workers=0)


def test_completeness_only_skips_hashing(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, NAMES[:2])
    bag = Manifest.create(tmp_path / "b", source=src).path
    p = bag / "data" / NAMES[0]
    p.write_bytes(bytes(len(p.read_bytes())))  # same size, other content
    assert Manifest.validate(bag, completeness_only=True).valid
    assert not Manifest.validate(bag).valid


NAME_CHARS = st.characters(
    codec="utf-8", exclude_characters="/\x00", exclude_categories=("Cs",)
) | st.sampled_from(list("%\n\r ăâđêôơưạảấầẩẫậ"))


@given(
    st.lists(
        st.text(NAME_CHARS, min_size=1, max_size=12).filter(
            lambda s: s not in (".", "..") and s == s.rstrip()
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda s: unicodedata.normalize("NFC", s),
    )
)
def test_property_arbitrary_names_roundtrip(names: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for i, n in enumerate(names):
            (src / n).write_bytes(str(i).encode())
        bag = Manifest.create(Path(tmp) / "bag", source=src)
        assert sorted(bag.entries) == sorted(f"data/{n}" for n in names)
        assert Manifest.validate(bag.path).valid
        # bagit-python (reference) reads manifests with str.splitlines (which also breaks
        # at \v, \f, \x1c-\x1e, \x85, U+2028/9), does not encode "%" and decodes at most
        # two %0A/%0D: compare with it only on names it can represent.
        if all(
            "%" not in n
            and n.count("\n") <= 2
            and n.count("\r") <= 2
            and not any(c in n for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029")
            for n in names
        ):
            ok, why = bagit_valid(bag.path)
            assert ok, why
        (bag.path / "data" / names[0]).write_bytes(b"tampered")
        assert Manifest.validate(bag.path).altered == (f"data/{names[0]}",)


def test_rebag_keeps_descriptive_bag_info(tmp_path: Path) -> None:
    d = tmp_path / "b"
    write_tree(d / "data", NAMES[:2])
    Manifest.create(d, bag_info={"Source-Organization": "Sở Tư pháp", "Contact-Name": "A"})
    bag = Manifest.create(d, bag_info={"Contact-Name": "B"})
    info = dict(bag.bag_info)
    assert info["Source-Organization"] == "Sở Tư pháp" and info["Contact-Name"] == "B"
    assert [k for k, _ in bag.bag_info].count("Payload-Oxum") == 1
    assert bagit.Bag(str(d)).info["Contact-Name"] == "B"


def test_manifest_lines_sorted_by_path(tmp_path: Path) -> None:
    src = tmp_path / "s"
    write_tree(src, NAMES)
    bag = Manifest.create(tmp_path / "b", source=src).path
    paths = [ln.split("  ", 1)[1] for ln in (bag / "manifest-sha256.txt").read_text().splitlines()]
    assert paths == sorted(paths)


# --------------------------------------------------------------------------- conformance suite

SUITE = Path(__file__).parent / "data" / "bagit-conformance-suite"

# Deliberate differences from the suite's verdicts (docs/integrity.md, BagIt section):
DIFFERENCES = {
    # Only UTF-8 tag files are read (RFC 8493 §2.1.1 lets a bag declare another encoding).
    "v0.97/valid/ISO-8859-1-encoded-tag-files": "only UTF-8",
    "v0.97/valid/UTF-16-encoded-tag-files": "only UTF-8",
    # fetch.txt is not supported: a holey bag is reported, never fetched.
    "v0.97/valid/holey-bag": "fetch.txt",
    # RFC 8493 §2.1.3 lists a file once; the v1.0 suite puts the same bag under invalid/.
    "v0.97/warning/same-filename-listed-twice-with-the-same-hash": "twice",
    # Both need files a git checkout on Linux does not hold (data/HELLO.txt beside
    # data/hello.txt, data/.DS_Store): the bags are incomplete here; bagit-python agrees.
    "v0.97/warning/duplicate-file-with-different-case": "",
    "v0.97/warning/special-system-files": "",
}


def _suite_bags() -> list[Path]:
    return sorted(d for d in SUITE.glob("v*/*/*") if d.is_dir())


@pytest.mark.parametrize("bag", _suite_bags(), ids=lambda d: str(d.relative_to(SUITE)))
def test_bagit_conformance_suite_verdicts(bag: Path) -> None:
    key = str(bag.relative_to(SUITE))
    expected = bag.parent.name in ("valid", "warning")  # invalid/, linux-only/, windows-only/
    report = Manifest.validate(bag, require_sha2=False)
    if key in DIFFERENCES:
        assert report.valid is (not expected)
        words = " ".join(report.problems + report.missing)
        assert DIFFERENCES[key] in words, words
    else:
        assert report.valid is expected, report


def test_conformance_suite_is_all_there() -> None:
    # 46 bags of v0.97 and v1.0 (the versions RFC 8493 describes); a lost copy fails here.
    assert len(_suite_bags()) == 46
    assert (SUITE / "LICENSE.md").read_text().count("CC0") >= 1


def test_suite_bags_without_sha2_are_invalid_by_default() -> None:
    report = Manifest.validate(SUITE / "v0.97" / "valid" / "basic-bag")
    assert not report.valid and any("SHA-256" in p for p in report.problems)


# --------------------------------------------------------------------------- hostile bags


@pytest.fixture
def good_bag(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write_tree(src, ["a.txt", "d/b.txt"])
    return Manifest.create(tmp_path / "bag", source=src).path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "byte-order"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nX: y\n", "two lines"),
        (b"BagIt-Version: 1.0\n", "two lines"),
        (b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n", "not supported"),
        (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", "line 1"),
        (b"BagIt-Version: 1" + b"0" * 5000 + b".0\nTag-File-Character-Encoding: UTF-8\n", "line 1"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n\n", "two lines"),
    ],
)
def test_bagit_txt_is_read_strictly(good_bag: Path, content: bytes, words: str) -> None:
    (good_bag / "bagit.txt").write_bytes(content)
    report = Manifest.validate(good_bag)
    assert not report.valid and words in report.problems[0], report.problems
    assert not bagit_valid(good_bag)[0] or words == "line 1"  # bagit-python agrees on the rest


def test_bagit_txt_line_endings_and_trailing_blanks_are_accepted(good_bag: Path) -> None:
    for content in (
        b"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n",
        b"BagIt-Version: 1.0\rTag-File-Character-Encoding: UTF-8",
        b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\t\n",
    ):
        (good_bag / "bagit.txt").write_bytes(content)
        # The tag manifest still lists the old bagit.txt: only that may be wrong.
        report = Manifest.validate(good_bag)
        assert report.problems == () and report.altered == ("bagit.txt",), report


def test_oxum_with_5000_digits_is_a_problem_not_a_valueerror(good_bag: Path) -> None:
    info = good_bag / "bag-info.txt"
    text = info.read_text().replace("Payload-Oxum:", "X-Old:")
    info.write_text(text + "Payload-Oxum: " + "9" * 5000 + ".2\n")
    report = Manifest.validate(good_bag)
    assert not report.valid
    assert any("malformed Payload-Oxum" in p for p in report.problems)


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir(exist_ok=True)
    for i in range(5):
        (out / f"foreign{i}.txt").write_text("not in the bag")
    return out


@pytest.mark.parametrize("target", ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "data"])
def test_symlinks_anywhere_are_problems_and_never_followed(
    good_bag: Path, tmp_path: Path, target: str
) -> None:
    outside = _outside(tmp_path)
    original = good_bag / target
    moved = outside / ("copy-" + target)
    os.rename(original, moved)  # the link points at the genuine content, outside the bag
    os.symlink(moved, original)
    report = Manifest.validate(good_bag)
    assert not report.valid
    words = " ".join(report.problems)
    assert "symbolic link" in words, report
    listed = report.missing + report.extra + report.altered
    assert not any("foreign" in p for p in listed)
    if target == "data":
        assert report.extra == () and "data/ payload directory is missing" in words


def test_fifo_and_link_inside_the_payload_are_reported(good_bag: Path, tmp_path: Path) -> None:
    os.mkfifo(good_bag / "data" / "pipe")
    os.symlink(_outside(tmp_path), good_bag / "data" / "d" / "elsewhere")
    report = Manifest.validate(good_bag)  # returns: the FIFO is never opened
    words = " ".join(report.problems)
    assert not report.valid
    assert "data/pipe: not a regular file" in words
    assert "data/d/elsewhere: symbolic link" in words
    with pytest.raises(InvalidArgumentError, match="FIFOs"):
        Manifest.create(tmp_path / "again", source=good_bag / "data")


def test_fifo_as_a_tag_file_is_not_opened(good_bag: Path) -> None:
    (good_bag / "bag-info.txt").unlink()
    os.mkfifo(good_bag / "bag-info.txt")
    report = Manifest.validate(good_bag)
    assert not report.valid and any("bag-info.txt" in p for p in report.problems)
