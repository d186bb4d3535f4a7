"""Page input/output: every format, streaming, EXIF, alpha, palette, bit depths, dpi, bad files."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from onestop_docs import errors
from onestop_docs.imageio import Page, count_pages, load_page, load_pages, save_page, to_gray


def _encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rng_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "BMP", "WEBP"])
def test_lossless_formats_round_trip_rgb_and_gray(fmt: str) -> None:
    rgb = _rng_rgb(37, 53)
    kw = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(Image.fromarray(rgb, "RGB"), fmt, dpi=(300, 300), **kw)
    (page,) = list(load_pages(data))
    assert page.mode == "RGB" and page.pixels.flags.c_contiguous
    np.testing.assert_array_equal(page.pixels, rgb)
    gray = rgb[:, :, 1].copy()
    (gpage,) = list(load_pages(_encode(Image.fromarray(gray, "L"), fmt, **kw)))
    if fmt == "WEBP":  # WebP has no grey mode: it decodes as RGB with equal channels
        assert gpage.mode == "RGB"
        np.testing.assert_array_equal(gpage.pixels, np.stack([gray] * 3, axis=2))
    else:
        assert gpage.mode == "L"
        np.testing.assert_array_equal(gpage.pixels, gray)


def test_jpeg_decodes_close_to_source_with_dpi() -> None:
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, 32:] = (200, 40, 40)
    page = load_page(_encode(Image.fromarray(rgb), "JPEG", quality=95, dpi=(200, 200)))
    assert page.mode == "RGB" and page.dpi == (200.0, 200.0) and page.dpi_status == "ok"
    assert np.abs(page.pixels.astype(int) - rgb).mean() < 3


def test_multipage_tiff_every_frame_in_order(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8)) for v in (10, 120, 250)]
    path = tmp_path / "dossier.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(300, 300))
    pages = list(load_pages(path))
    assert [p.index for p in pages] == [0, 1, 2]
    assert [int(p.pixels[0, 0]) for p in pages] == [10, 120, 250]
    assert all(p.source == str(path) for p in pages)
    assert count_pages(path) == 3
    assert int(load_page(path, 2).pixels[5, 5]) == 250
    with pytest.raises(errors.InvalidArgumentError):
        load_page(path, 3)


def test_bitonal_g4_tiff_expands_to_0_255() -> None:
    bits = np.random.default_rng(1).random((40, 70)) < 0.3
    im = Image.fromarray(np.where(bits, 0, 255).astype(np.uint8)).convert("1")
    page = load_page(_encode(im, "TIFF", compression="group4", dpi=(300, 300)))
    assert page.mode == "1"
    np.testing.assert_array_equal(page.pixels, np.where(bits, 0, 255))


def test_palette_image_is_expanded_like_pillow() -> None:
    im = Image.fromarray(_rng_rgb(30, 30)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    page = load_page(_encode(im, "PNG"))
    np.testing.assert_array_equal(page.pixels, np.asarray(im.convert("RGB")))


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red channel
    rgba[0, :, 3] = 0  # transparent row -> white
    rgba[1, :, 3] = 255  # opaque row -> the colour
    rgba[2, :, 3] = 128  # half
    rgba[3, :, 3] = 64
    page = load_page(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    px = page.pixels.astype(float)
    a = rgba[..., 3:4] / 255.0
    expected = rgba[..., :3] * a + 255 * (1 - a)  # independent float reference
    assert np.abs(px - expected).max() <= 0.5 + 1e-9
    np.testing.assert_array_equal(page.pixels[0], 255)


def test_16_bit_is_rounded_to_8_bit() -> None:
    v16 = np.random.default_rng(2).integers(0, 65536, (9, 11), dtype=np.uint16)
    data = _encode(Image.fromarray(v16), "PNG")
    page = load_page(data)
    assert page.mode == "L"
    np.testing.assert_array_equal(page.pixels, np.round(v16 / 257.0).astype(np.uint8))


@pytest.mark.parametrize(("orientation", "k"), [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(orientation: int, k: int) -> None:
    raw = _rng_rgb(12, 20, seed=orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    page = load_page(_encode(Image.fromarray(raw), "PNG", exif=exif))
    np.testing.assert_array_equal(page.pixels, np.rot90(raw, k=k))


# --- dpi -----------------------------------------------------------------------------------


def test_missing_dpi_is_reported_not_guessed() -> None:
    data = _encode(Image.new("L", (10, 10), 255), "PNG")
    page = load_page(data)
    assert page.dpi is None and page.dpi_status == "missing"
    assumed = load_page(data, assume_dpi=300)
    assert assumed.dpi == (300.0, 300.0) and assumed.dpi_status == "assumed"


def test_absurd_dpi_is_reported() -> None:
    page = load_page(_encode(Image.new("L", (10, 10), 255), "PNG", dpi=(1, 1)))
    assert page.dpi is None and page.dpi_status == "absurd"
    assert page.reported_dpi is not None and round(page.reported_dpi[0]) == 1


def test_jpeg_aspect_only_density_is_missing() -> None:
    data = _encode(Image.new("RGB", (8, 8)), "JPEG")  # Pillow writes JFIF unit 0, density 1:1
    page = load_page(data)
    assert page.dpi is None and page.dpi_status == "missing"


# --- bad input -----------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(errors.InvalidImageError, match=r"empty\.png"):
        list(load_pages(p))
    with pytest.raises(errors.InvalidImageError):
        list(load_pages(b""))


def test_text_file_renamed_png(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("Đây không phải là ảnh\n", encoding="utf-8")
    with pytest.raises(errors.InvalidImageError, match=r"notes\.png"):
        list(load_pages(p))


def test_truncated_file(tmp_path: Path) -> None:
    data = _encode(Image.fromarray(_rng_rgb(200, 200)), "PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.InvalidImageError) as info:
        list(load_pages(p))
    assert type(info.value) is errors.InvalidImageError
    assert info.value.source == str(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidImageError):
        list(load_pages(tmp_path / "nope.tif"))


def test_unsupported_format_ico() -> None:
    with pytest.raises(errors.UnsupportedFormatError):
        list(load_pages(_encode(Image.new("RGB", (16, 16)), "ICO")))


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(errors.ImageTooLargeError):
        list(load_pages(_png_header_only(100_000, 100_000)))  # 10 Gpx claimed
    with pytest.raises(errors.ImageTooLargeError):
        list(load_pages(_png_header_only(12_000, 12_000)))  # 144 Mpx > default limit
    small = _encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(errors.ImageTooLargeError):
        list(load_pages(small, max_pixels=9_999))
    assert load_page(small, max_pixels=10_000).width == 100


def test_bad_arguments() -> None:
    data = _encode(Image.new("L", (4, 4)), "PNG")
    for kw in ({"max_pixels": 0}, {"start": -1}, {"assume_dpi": 1}, {"assume_dpi": "x"}):
        with pytest.raises(errors.InvalidArgumentError):
            list(load_pages(data, **kw))  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgumentError):
        list(load_pages(12345))  # type: ignore[arg-type]


def test_page_validates_its_fields() -> None:
    with pytest.raises(errors.InvalidArgumentError):
        Page(np.zeros((4, 4), np.float32))
    with pytest.raises(errors.InvalidArgumentError):
        Page(np.zeros((4, 4), np.uint8), mode="RGB")
    with pytest.raises(errors.InvalidArgumentError):
        Page(np.zeros((4, 4), np.uint8), dpi=(0.0, 300.0))
    with pytest.raises(errors.InvalidImageError):
        Page(np.zeros((0, 4), np.uint8))
    p = Page(np.zeros((4, 6), np.uint8), dpi=(254.0, 254.0))
    assert p.size_mm() == pytest.approx((0.6, 0.4))


# --- streaming -----------------------------------------------------------------------------

# VmHWM (peak RSS of this process image), not ru_maxrss, which Linux carries over from the
# forked parent (pytest) across exec and would hide any growth below the parent's size.
_STREAM_SCRIPT = r"""
import re, sys
from onestop_docs.imageio import load_pages
def hwm():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
path, mode = sys.argv[1], sys.argv[2]
base = hwm()
if mode == "first":
    last = next(iter(load_pages(path))).index
else:
    for page in load_pages(path, start=0 if mode == "all" else 299):
        last = page.index
        checksum = int(page.pixels[::97, ::89].sum())
print(last, hwm() - base)
"""


@pytest.mark.slow
def test_300_page_tiff_streams_one_page_at_a_time(tmp_path: Path) -> None:
    h, w = 1200, 1000  # 1.2 MB per decoded page; 360 MB if all were held
    rng = np.random.default_rng(3)
    base = np.full((h, w), 255, np.uint8)
    base[rng.random((h, w)) < 0.02] = 0
    frames = [Image.fromarray(np.roll(base, i, axis=0)) for i in range(300)]
    path = tmp_path / "big.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    del frames
    grew = {}
    for mode in ("first", "all", "last"):
        out = subprocess.run(
            [sys.executable, "-c", _STREAM_SCRIPT, str(path), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        last, grew[mode] = (int(v) for v in out.stdout.split())
        assert last == (0 if mode == "first" else 299)
    # Reading all 300 pages (or jumping to page 300) peaks about 13 MB above reading one page
    # (Pillow's per-frame IFD parsing and decoder buffers); holding the pages would cost 360 MB.
    # The bound is 20 pages' worth: any per-page leak of pixels breaks it.
    limit_kb = 20 * h * w // 1024
    assert grew["all"] - grew["first"] < limit_kb, grew
    assert grew["last"] - grew["first"] < limit_kb, grew


# --- output ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "tiff", "jpeg", "bmp", "webp"])
def test_save_page_keeps_dpi(tmp_path: Path, fmt: str) -> None:
    page = Page(_rng_rgb(16, 24), mode="RGB", dpi=(300.0, 300.0))
    path = tmp_path / f"p.{fmt}"
    save_page(page, path)
    back = load_page(path)
    if fmt == "webp":
        assert back.dpi is None  # WebP has no resolution field: reported, not invented
    else:
        assert back.dpi == (300.0, 300.0)
    assert (back.width, back.height) == (24, 16)
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_page_bitonal_g4(tmp_path: Path) -> None:
    arr = np.where(np.random.default_rng(4).random((30, 30)) < 0.5, 0, 255).astype(np.uint8)
    save_page(arr, tmp_path / "b.tif", bitonal=True, dpi=(300, 300))
    with Image.open(tmp_path / "b.tif") as im:
        assert im.info.get("compression") == "group4"
    np.testing.assert_array_equal(load_page(tmp_path / "b.tif").pixels, arr)


def test_save_page_bad_arguments(tmp_path: Path) -> None:
    arr = np.zeros((4, 4), np.uint8)
    with pytest.raises(errors.InvalidArgumentError):
        save_page(arr, tmp_path / "x.gif")
    with pytest.raises(errors.InvalidArgumentError):
        save_page(arr, tmp_path / "x.jpg", jpeg_quality=0)
    with pytest.raises(errors.InvalidArgumentError):
        save_page(arr, tmp_path / "x.jpg", bitonal=True)
    assert not list(tmp_path.iterdir())


_modes = st.sampled_from(["L", "RGB", "1"])
_formats = st.sampled_from(["png", "tiff", "bmp", "webp"])


@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    mode=_modes,
    fmt=_formats,
    dpi=st.integers(72, 1200),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_save_load_round_trip(
    h: int, w: int, mode: str, fmt: str, dpi: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    if mode == "RGB":
        px = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif mode == "L":
        px = rng.integers(0, 256, (h, w), dtype=np.uint8)
    else:
        px = np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8)
    page = Page(px, mode="RGB" if mode == "RGB" else "L", dpi=(float(dpi), float(dpi)))
    buf = io.BytesIO()
    save_page(page, buf, format=fmt, bitonal=(mode == "1" and fmt != "webp"))
    (back,) = list(load_pages(buf.getvalue()))
    if fmt == "webp" and px.ndim == 2:  # no grey mode in WebP
        px = np.stack([px] * 3, axis=2)
    np.testing.assert_array_equal(back.pixels, px)
    if fmt != "webp":
        assert back.dpi is not None and back.dpi == pytest.approx((dpi, dpi), abs=0.01)


# --- gray conversion -------------------------------------------------------------------------


@given(h=st.integers(1, 30), w=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_to_gray_equals_pillow_convert_L(h: int, w: int, seed: int) -> None:
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_gray(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_to_gray_rejects_bad_input() -> None:
    with pytest.raises(errors.InvalidArgumentError):
        to_gray(np.zeros((4, 4), np.float64))
    with pytest.raises(errors.InvalidArgumentError):
        to_gray(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(errors.InvalidImageError):
        to_gray(np.zeros((0, 3, 3), np.uint8))
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_gray(gray) is gray
    view = np.zeros((10, 10, 3), np.uint8)[::2, ::3]
    assert to_gray(view).shape == (5, 4)


def test_histogram_kernel_matches_bincount() -> None:
    from onestop_docs._native import gray as k

    img = np.random.default_rng(5).integers(0, 256, (33, 47), dtype=np.uint8)
    hist = np.zeros(256, np.int64)
    k.histogram(img, hist)
    np.testing.assert_array_equal(hist, np.bincount(img.ravel(), minlength=256))


# --- damaged and unusual files (issue 18) ------------------------------------------------


def _round_16_to_8(v: int) -> int:
    """The documented rounding, computed independently: nearest of v * 255 / 65535."""
    from fractions import Fraction

    exact = Fraction(v * 255, 65535)
    return int(exact + Fraction(1, 2))  # never a tie: 65535 is odd


def test_16_bit_rounding_reference_values() -> None:
    assert [_round_16_to_8(v) for v in (0x00FF, 0x0080, 0x7FFF, 0x8000, 0x0100, 0xFFFF)] == [
        1,
        0,
        127,
        128,
        1,
        255,
    ]


@pytest.mark.parametrize(
    "options",
    [{}, {"compression": "zlib"}, {"byteorder": ">"}, {"rowsperstrip": 3}, {"tile": (16, 16)}],
    ids=["raw", "deflate", "big-endian", "strips", "tiles"],
)
def test_16_bit_rgb_tiff_is_rounded_not_truncated(options: dict) -> None:
    tifffile = pytest.importorskip("tifffile")  # an independent TIFF writer
    rng = np.random.default_rng(7)
    v16 = rng.integers(0, 65536, (19, 23, 3), dtype=np.uint16)
    v16[0, 0] = (0x00FF, 0x7FFF, 0x8000)
    buf = io.BytesIO()
    tifffile.imwrite(buf, v16, photometric="rgb", **options)
    page = load_page(buf.getvalue())
    expected = np.vectorize(_round_16_to_8)(v16.astype(np.int64)).astype(np.uint8)
    assert page.mode == "RGB"
    np.testing.assert_array_equal(page.pixels, expected)
    assert page.pixels[0, 0].tolist() == [1, 127, 128]


def test_32_bit_integer_tiff_uses_the_scale_of_its_values() -> None:
    tifffile = pytest.importorskip("tifffile")
    eight = np.arange(256, dtype=np.uint32).reshape(16, 16)
    for dtype in (np.uint32, np.int32):
        buf = io.BytesIO()
        tifffile.imwrite(buf, eight.astype(dtype))
        np.testing.assert_array_equal(load_page(buf.getvalue()).pixels, eight.astype(np.uint8))
    sixteen = np.array([[0, 0x00FF, 0x7FFF, 0xFFFF]], np.uint32)
    buf = io.BytesIO()
    tifffile.imwrite(buf, sixteen)
    assert load_page(buf.getvalue()).pixels.tolist() == [[0, 1, 127, 255]]
    wide = np.array([[0, 2**31, 2**32 - 1, 2**24]], np.uint32)
    buf = io.BytesIO()
    tifffile.imwrite(buf, wide)
    # (v * 255 + 2^31 - 1) // (2^32 - 1), from the module docstring, by hand:
    assert load_page(buf.getvalue()).pixels.tolist() == [[0, 128, 255, 1]]
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.array([[-1, 5]], np.int32))
    with pytest.raises(errors.UnsupportedFormatError, match="negative"):
        load_page(buf.getvalue())


def _three_page_tiff_with_lost_last_directory() -> bytes:
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8)) for v in (10, 100, 200)]
    data = bytearray(_encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    offset, offsets = struct.unpack("<I", data[4:8])[0], []
    while offset:  # walk the IFD chain (TIFF 6.0 §2)
        offsets.append(offset)
        count = struct.unpack("<H", data[offset : offset + 2])[0]
        offset = struct.unpack("<I", data[offset + 2 + 12 * count : offset + 6 + 12 * count])[0]
    last = offsets[-1]
    count = struct.unpack("<H", data[last : last + 2])[0]
    data[last + 2 : last + 2 + 12 * count] = bytes(12 * count)  # its entries are lost
    assert len(offsets) == 3
    return bytes(data)


def test_lost_last_directory_keeps_the_pages_before_it() -> None:
    data = _three_page_tiff_with_lost_last_directory()
    got = []
    with pytest.raises(errors.InvalidImageError) as info:
        for page in load_pages(data):
            got.append(int(page.pixels[0, 0]))
    assert got == [10, 100]
    assert info.value.page_index == 2 and "2 page(s) before it are readable" in str(info.value)
    with pytest.raises(errors.InvalidImageError) as counted:
        count_pages(data)
    assert counted.value.page_index == 2
    assert load_page(data, 1).pixels[0, 0] == 100


def test_cli_hash_of_a_folder_reports_a_bad_file_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from onestop_docs.cli import main

    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a-broken.tif").write_bytes(_three_page_tiff_with_lost_last_directory())
    (folder / "b-not-an-image.png").write_bytes(b"hello")
    save_page(Page(_rng_rgb(64, 64), mode="RGB"), folder / "c-good.png")
    code = main(["hash", str(folder), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(Path(i["file"]).name, i["page"]) for i in report["items"]] == [
        ("a-broken.tif", 1),
        ("a-broken.tif", 2),
        ("c-good.png", 1),
    ]
    assert [(Path(e["file"]).name, e["page"]) for e in report["errors"]] == [
        ("a-broken.tif", 3),
        ("b-not-an-image.png", None),
    ]


def test_cli_dedup_of_a_folder_keeps_the_good_pages_of_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from onestop_docs.cli import main

    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a-broken.tif").write_bytes(_three_page_tiff_with_lost_last_directory())
    (folder / "b-not-an-image.png").write_bytes(b"hello")
    main(["dedup", str(folder), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["pages"] == 2  # the two readable pages of a-broken.tif
    assert [s.split(":")[0] for s in report["skipped"]] == ["a-broken.tif", "b-not-an-image.png"]


# --- more page formats: GIF, JPEG 2000, PNM -------------------------------------------------------


def test_gif_every_frame_read_and_matches_its_palette() -> None:
    rng = np.random.default_rng(5)
    frames = [
        Image.fromarray(rng.integers(0, 256, (30, 20), dtype=np.uint8)).convert("P")
        for _ in range(3)
    ]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    pages = list(load_pages(data, assume_dpi=200))
    assert [p.index for p in pages] == [0, 1, 2]
    assert all(p.dpi_status == "assumed" for p in pages)  # GIF records no resolution
    for page, frame in zip(pages, frames):
        ref = np.asarray(frame.convert("RGB"))  # Pillow's palette lookup as the reference
        got = page.pixels if page.pixels.ndim == 3 else np.repeat(page.pixels[..., None], 3, 2)
        assert np.array_equal(got, ref)


def test_jpeg2000_lossless_round_trip_keeps_pixels_and_resolution() -> None:
    from PIL import features

    if not features.check("jpg_2000"):
        pytest.skip("Pillow built without OpenJPEG")
    rgb = _rng_rgb(40, 28, seed=9)
    data = _encode(Image.fromarray(rgb), "JPEG2000", irreversible=False, dpi=(300, 300))
    (page,) = load_pages(data, assume_dpi=300)
    assert np.array_equal(page.pixels, rgb)  # reversible 5/3 wavelet: lossless


def test_pnm_read() -> None:
    gray = np.arange(48, dtype=np.uint8).reshape(8, 6)
    (page,) = load_pages(_encode(Image.fromarray(gray), "PPM"), assume_dpi=150)
    assert page.mode == "L" and np.array_equal(page.pixels, gray)


# --- reduced JPEG decoding (reduce_to_side) -------------------------------------------------


def _jpeg_bytes(h: int, w: int, dpi: float = 200.0) -> bytes:
    rng = np.random.default_rng(5)
    img = np.clip(rng.normal(128, 60, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    save_page(Page(img, mode="RGB", dpi=(dpi, dpi)), buf, format="jpeg")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("side", "shape", "dpi"),
    [
        (None, (1600, 1200), 200.0),  # off: full size
        (700, (1600, 1200), 200.0),  # half would give 600 < 700: full size
        (600, (800, 600), 100.0),  # half
        (300, (400, 300), 50.0),  # quarter
        (1, (400, 300), 50.0),  # a quarter: an eighth would fall below 50 dpi
    ],
)
def test_reduce_to_side_picks_the_smallest_dct_scale_that_keeps_the_side(side, shape, dpi):
    data = _jpeg_bytes(1600, 1200)
    page = load_page(data, reduce_to_side=side)
    assert page.pixels.shape[:2] == shape
    assert page.dpi == pytest.approx((dpi, dpi))
    if shape != (1600, 1200):  # the pixels are the file's, reduced (Pillow's own box filter)
        ref = np.asarray(Image.open(io.BytesIO(data)).reduce(1600 // shape[0]), np.float64)
        assert np.abs(page.pixels.astype(np.float64) - ref).mean() < 8.0


def test_reduce_to_side_stops_at_an_eighth() -> None:
    assert load_page(_jpeg_bytes(1600, 1200, dpi=600.0), reduce_to_side=1).pixels.shape[:2] == (
        200,
        150,
    )


def test_reduce_to_side_leaves_other_formats_whole_and_checks_its_argument(tmp_path):
    img = np.zeros((400, 300), np.uint8)
    save_page(Page(img, dpi=(300.0, 300.0)), tmp_path / "p.png")
    assert load_page(tmp_path / "p.png", reduce_to_side=50).pixels.shape == (400, 300)
    for bad in (0, -3, 2.5, True, "100"):
        with pytest.raises(errors.InvalidArgumentError):
            load_page(tmp_path / "p.png", reduce_to_side=bad)
