"""Standard hashes of onestop_docs.dedup against their reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
import synth
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from onestop_docs.dedup import Hash, ahash, dhash, pdq, phash
from onestop_docs.errors import InvalidArgumentError

imagehash = pytest.importorskip("imagehash")
pdqhash = pytest.importorskip("pdqhash")

REFS = [
    (ahash, imagehash.average_hash),
    (dhash, imagehash.dhash),
    (phash, imagehash.phash),
]


def _random_pil(rng: np.random.Generator, mode: str) -> Image.Image:
    h, w = (int(v) for v in rng.integers(1, 400, 2))
    if rng.random() < 0.5:  # smooth content as well as noise
        y, x = np.mgrid[:h, :w]
        base = 128 + 100 * np.sin(x / rng.uniform(2, 40)) * np.cos(y / rng.uniform(2, 40))
        arr = np.dstack([base, base[::-1], base[:, ::-1], base.T[:h, :w] if h == w else base])
        arr = arr.astype(np.uint8)
    else:
        arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    img = Image.fromarray(arr, "RGBA")
    return img if mode == "RGBA" else img.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
@pytest.mark.parametrize("size", [8, 16])
def test_imagehash_identical_hex_random_images(mode: str, size: int) -> None:
    rng = np.random.default_rng(size * 10 + len(mode))
    for _ in range(12):
        img = _random_pil(rng, mode)
        for ours, ref in REFS:
            assert ours(img, size).hex() == str(ref(img, size)), (ours.__name__, img.size)


@pytest.mark.parametrize("size", [8, 16])
def test_imagehash_identical_hex_on_arrays_and_pages(size: int) -> None:
    page = synth.render_page(dpi=100, paper="A5")
    rgb = synth.to_color(page.gray)
    for arr in (page.gray, rgb):
        for ours, ref in REFS:
            assert ours(arr, size).hex() == str(ref(Image.fromarray(arr), size))


def test_imagehash_uniform_image_ties() -> None:
    # A blank page: every DCT coefficient ties; the comparison must still match.
    img = Image.new("L", (300, 200), 255)
    for ours, ref in REFS:
        assert ours(img).hex() == str(ref(img))


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_hash_hamming_and_hex_round_trip(a: int, b: int) -> None:
    ha = Hash.from_hex(f"{a:016x}")
    hb = Hash.from_hex(f"{b:016x}")
    assert ha - hb == bin(a ^ b).count("1") == hb.hamming(ha)
    assert Hash.from_hex(ha.hex()) == ha
    assert Hash.from_bits(ha.bits()) == ha
    assert imagehash.hex_to_hash(ha.hex()) - imagehash.hex_to_hash(hb.hex()) == ha - hb


@pytest.mark.parametrize(
    "text, nbits",
    [("xyz0", None), ("abc", None), ("", None), ("00" * 8, 256), ("0" * 63, 256), (b"00", None)],
)
def test_hash_bad_hex(text: object, nbits: int | None) -> None:
    with pytest.raises(InvalidArgumentError):
        Hash.from_hex(text, nbits)  # type: ignore[arg-type]


def test_hash_mixed_lengths_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match=r"64-bit.*256-bit"):
        Hash(bytes(8), 64) - Hash(bytes(32), 256)
    with pytest.raises(InvalidArgumentError):
        Hash(bytes(7), 64)
    with pytest.raises(InvalidArgumentError):
        ahash(np.zeros((8, 8), np.uint8), hash_size=12)
    with pytest.raises(InvalidArgumentError):
        phash(np.zeros((8, 8), np.uint8), compat="opencv")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        pdq(np.zeros((8, 8), np.float32))


# ---------------------------------------------------------------------------------------- PDQ


def _ref_pdq(gray_or_rgb: np.ndarray) -> tuple[str, int]:
    rgb = gray_or_rgb if gray_or_rgb.ndim == 3 else np.dstack([gray_or_rgb] * 3)
    vec, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    # pdqhash returns bit 255 first: packing it MSB-first gives the reference hex.
    return np.packbits(vec.astype(bool)).tobytes().hex(), int(quality)


@given(
    st.integers(5, 512),
    st.integers(5, 512),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_pdq_identical_to_pdqhash_small(h: int, w: int, color: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    base = 128 + 90 * np.sin(x / rng.uniform(2, 60) + y / rng.uniform(3, 80))
    base = base + rng.normal(0, 20, (h, w))
    img = np.clip(base, 0, 255).astype(np.uint8)
    if color:
        img = np.dstack([img, img[::-1], rng.integers(0, 256, (h, w), dtype=np.uint8)])
    ours, quality = pdq(img)
    ref_hex, ref_q = _ref_pdq(img)
    assert ours.hex() == ref_hex
    assert quality == ref_q


def test_pdq_identical_on_synthetic_page_and_64x64() -> None:
    page = synth.render_page(dpi=60, paper="A5")
    assert max(page.gray.shape) <= 512
    assert pdq(page.gray).hash.hex() == _ref_pdq(page.gray)[0]
    tile = np.ascontiguousarray(page.gray[100:164, 50:114])
    assert pdq(tile).hash.hex() == _ref_pdq(tile)[0]


def test_pdq_large_page_identical_and_shortcut_close() -> None:
    page = synth.render_page(dpi=200, paper="A4")
    ref_hex, ref_q = _ref_pdq(page.gray)
    ref = Hash.from_hex(ref_hex)
    exact = pdq(page.gray)
    assert exact.hash == ref and exact.quality == ref_q
    rgb = synth.to_color(page.gray)
    rgb[::7, ::5, 0] = 0  # not grey: exercises the RGB luma
    assert pdq(rgb).hash.hex() == _ref_pdq(rgb)[0]
    assert pdq(page.gray, max_side=1024).hash - ref <= 40


def test_pdq_tiny_image_is_zero_hash() -> None:
    h, q = pdq(np.full((4, 40), 7, np.uint8))
    assert h == Hash(bytes(32), 256) and q == 0


@pytest.mark.parametrize("size", [8, 16])
def test_fast_compat_is_block_mean(size: int) -> None:
    # With an integer reduction factor the area average is the plain block mean, an
    # independent reference for the "fast" path.
    rng = np.random.default_rng(size)
    k = 7
    for _ in range(5):
        img = rng.integers(0, 256, (4 * size * k, 4 * size * k), dtype=np.uint8)
        img[: size * k] //= 3  # structure, so that the hash is not noise only
        small = img.reshape(size, 4 * k, size, 4 * k).mean(axis=(1, 3))
        assert ahash(img, size, compat="fast") == Hash.from_bits(small > small.mean())
        big = img.reshape(4 * size, k, 4 * size, k).mean(axis=(1, 3))
        import scipy.fftpack as fp

        low = fp.dct(fp.dct(big, axis=0), axis=1)[:size, :size]
        assert phash(img, size, compat="fast") - Hash.from_bits(low > np.median(low)) <= 1
        wide = img[:, : (size + 1) * (4 * k * size // (size + 1))]
        fk = wide.shape[1] // (size + 1)
        cells = wide[:, : fk * (size + 1)].reshape(size, -1, size + 1, fk).mean(axis=(1, 3))
        assert dhash(wide[:, : fk * (size + 1)], size, compat="fast") == Hash.from_bits(
            cells[:, 1:] > cells[:, :-1]
        )


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_fast_compat_pil_input_is_its_grey_conversion(mode: str) -> None:
    # A PIL image of any mode is hashed as its convert("L") pixels.
    rng = np.random.default_rng(11)
    img = _random_pil(rng, mode)
    grey = np.array(img.convert("L"))
    for fn in (ahash, dhash, phash):
        assert fn(img, 8, compat="fast") == fn(grey, 8, compat="fast"), fn.__name__
