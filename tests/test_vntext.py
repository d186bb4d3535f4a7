"""Tests of onestop_docs.vntext: normalisation, folding, comparison key, edit distance, CER."""

from __future__ import annotations

import unicodedata

import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import InvalidArgumentError
from onestop_docs.vntext import cer, comparison_key, edit_distance, fold, normalize

VI_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ"
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]


def reference_levenshtein(a: str, b: str) -> int:
    """Textbook full-matrix Wagner-Fischer, independent of the kernel's one-row version."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
    return d[len(a)][len(b)]


vi_text = st.text(
    alphabet=st.sampled_from(list("ạấầẩẫậơờớởỡợưừứửữựđĐ aeiouAB.,-/0123456789")), max_size=40
)


@given(vi_text, vi_text)
def test_edit_distance_matches_reference(a: str, b: str) -> None:
    assert edit_distance(a, b) == reference_levenshtein(a, b)


@given(st.text(max_size=30), st.text(max_size=30))
def test_edit_distance_any_unicode_and_metric(a: str, b: str) -> None:
    d = edit_distance(a, b)
    assert d == reference_levenshtein(a, b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))


def test_edit_distance_astral_and_empty() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("", "abc") == 3
    assert edit_distance("a😀b", "ab") == 1  # one code point, not two UTF-16 units


@pytest.mark.parametrize("line", synth.VI_LINES)
def test_normalize_roundtrips_nfd_and_keeps_nfc(line: str) -> None:
    nfc = unicodedata.normalize("NFC", line)
    assert normalize(unicodedata.normalize("NFD", line)) == nfc
    assert normalize(nfc) == nfc


@given(st.sampled_from(list("aeoAEO")), st.sampled_from(TONES[1:]))
def test_normalize_repairs_tone_before_shape_mark(base: str, tone: str) -> None:
    shape = {"a": "\u0302", "e": "\u0302", "o": "\u031b"}[base.lower()]
    wrong = base + tone + shape
    right = unicodedata.normalize("NFC", base + shape + tone)
    assert len(right) == 1  # the reference is a single precomposed Vietnamese letter
    assert normalize(wrong) == right


def test_normalize_eth_lookalike() -> None:
    assert normalize("QÐ-TTg") == "QĐ-TTg"
    assert normalize("\u00f0") == "đ"


@given(st.text(max_size=40))
def test_fold_length_preserved_on_normalized_text(text: str) -> None:
    t = normalize(text)
    assert len(fold(t)) == len(t)


def test_fold_all_vietnamese_letters() -> None:
    for base in VI_LETTERS:
        for tone in TONES:
            ch = unicodedata.normalize("NFC", base + tone)
            if len(ch) != 1:
                continue
            expected = "d" if base in "đĐ" else unicodedata.normalize("NFD", base)[0].lower()
            assert fold(ch) == expected, ch


@given(
    st.lists(st.sampled_from(["Hà", "Tĩnh", "ĐỒNG", "Nai", "tháng", "năm"]), max_size=6),
    st.sampled_from([" ", "  ", "\t", "\n "]),
)
def test_comparison_key_ignores_diacritics_case_spacing(words: list[str], sep: str) -> None:
    text = sep.join(words)
    stripped = (
        "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
        .replace("Đ", "D")
        .replace("đ", "d")
    )
    assert (
        comparison_key(text)
        == comparison_key(stripped.upper())
        == " ".join(w.lower() for w in stripped.split())
    )


MARKS = "\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323"
mark_soup = st.text(alphabet=st.sampled_from(list("aeoAEOdĐÐð \t" + MARKS)), max_size=30)


@given(st.one_of(st.text(max_size=40), mark_soup))
def test_comparison_key_is_the_key_of_the_normalized_text(text: str) -> None:
    # Marks in any order, stray marks, eth look-alikes: the key does not depend on
    # whether the text was normalised first, and it keeps no mark.
    key = comparison_key(text)
    assert key == comparison_key(normalize(text))
    assert not set(key) & set(MARKS)


def test_comparison_key_distinguishes_letters() -> None:
    assert comparison_key("Hà Nội") != comparison_key("Hà Tĩnh")
    assert comparison_key("Đà Nẵng") == "da nang"


def test_cer_definition() -> None:
    assert cer("abcd", "abcd") == 0.0
    assert cer("abcd", "") == 1.0
    assert cer("ab", "abcdef") == 2.0
    assert cer("", "") == 0.0
    assert cer("", "x") == 1.0
    # NFC vs NFD are the same text; whitespace layout does not count by default.
    assert cer("Hòa", unicodedata.normalize("NFD", "Hòa")) == 0.0
    assert cer("a b\nc", "a  b c") == 0.0
    assert cer("a b\nc", "a  b c", collapse_whitespace=False) == pytest.approx(2 / 5)


@given(vi_text, vi_text)
def test_cer_equals_reference_ratio(ref: str, hyp: str) -> None:
    r = " ".join(normalize(ref).split())
    h = " ".join(normalize(hyp).split())
    expected = (reference_levenshtein(r, h) / len(r)) if r else (0.0 if not h else 1.0)
    assert cer(ref, hyp) == pytest.approx(expected)


@pytest.mark.parametrize("fn", [normalize, fold, comparison_key])
def test_rejects_non_str(fn: object) -> None:
    with pytest.raises(InvalidArgumentError):
        fn(b"bytes")  # type: ignore[operator]
    with pytest.raises(InvalidArgumentError):
        cer("a", None)  # type: ignore[arg-type]
