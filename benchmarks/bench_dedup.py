"""Duplicate detection: hashes vs pdqhash / imagehash, HashIndex vs faiss and a numpy scan.

The 1M / 10M index cases are ``@pytest.mark.slow`` (CI smoke skips them); the 10M case
writes a 400 MB index file to the temp directory and removes it.
"""

from __future__ import annotations

import lzma
import os
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image

from onestop_docs.capture import rectify
from onestop_docs.dedup import DocumentKey, HashIndex, document_key, match_keys, pdq, phash
from onestop_docs.dedup._key import alignment_prior

RADIUS = 31


@pytest.fixture(scope="module")
def a4_gray() -> np.ndarray:
    return synth.render_page(dpi=300, paper="A4").gray


@pytest.fixture(scope="module")
def a4_rgb(a4_gray: np.ndarray) -> np.ndarray:
    return synth.to_color(a4_gray)


# ------------------------------------------------------------------ hashes


@pytest.mark.benchmark(group="dedup-pdq-a4-300dpi-grey")
def test_pdq_a4_ours(benchmark, a4_gray):
    benchmark(pdq, a4_gray)


@pytest.mark.benchmark(group="dedup-pdq-a4-300dpi-grey")
def test_pdq_a4_pdqhash(benchmark, a4_gray):
    # pdqhash takes only 3-channel input: the grey page as R = G = B (identical luma).
    pdqhash = pytest.importorskip("pdqhash")
    benchmark(pdqhash.compute, np.dstack([a4_gray] * 3))


@pytest.mark.benchmark(group="dedup-pdq-a4-300dpi-colour")
def test_pdq_a4_colour_ours(benchmark, a4_rgb):
    benchmark(pdq, a4_rgb)


@pytest.mark.benchmark(group="dedup-pdq-a4-300dpi-colour")
def test_pdq_a4_colour_pdqhash(benchmark, a4_rgb):
    pdqhash = pytest.importorskip("pdqhash")
    benchmark(pdqhash.compute, a4_rgb)


@pytest.mark.benchmark(group="dedup-phash-a4-300dpi")
def test_phash_a4_ours(benchmark, a4_gray):
    benchmark(phash, a4_gray, 8, compat="fast")


@pytest.mark.benchmark(group="dedup-phash-a4-300dpi")
def test_phash_a4_imagehash(benchmark, a4_gray):
    imagehash = pytest.importorskip("imagehash")
    img = Image.fromarray(a4_gray)
    benchmark(imagehash.phash, img)


@pytest.mark.benchmark(group="dedup-phash-a4-300dpi-compat")
def test_phash_compat_a4_ours(benchmark, a4_gray):
    img = Image.fromarray(a4_gray)
    benchmark(phash, img, 8, compat="imagehash")


@pytest.mark.benchmark(group="dedup-phash-a4-300dpi-compat")
def test_phash_compat_a4_imagehash(benchmark, a4_gray):
    imagehash = pytest.importorskip("imagehash")
    img = Image.fromarray(a4_gray)
    benchmark(imagehash.phash, img)


@pytest.mark.benchmark(group="dedup-document-key-a4-300dpi")
def test_document_key_ours(benchmark, a4_gray):
    # the whole key: photo check (find_page), reduce, paper level, borders, skew, ink
    # frame, canonical warp, hashes
    benchmark(document_key, a4_gray, dpi=300)


@pytest.mark.benchmark(group="dedup-document-key-a4-300dpi")
def test_document_key_scan_ours(benchmark, a4_gray):
    # the key of a page known to be a scan (capture="off": no photo check)
    benchmark(document_key, a4_gray, dpi=300, capture="off")


@pytest.mark.benchmark(group="dedup-document-key-a4-300dpi")
def test_document_key_anchor_pdqhash(benchmark, a4_gray):
    pdqhash = pytest.importorskip("pdqhash")
    rgb = np.dstack([a4_gray] * 3)
    benchmark(pdqhash.compute, rgb)


@pytest.fixture(scope="module")
def a4_key(a4_gray: np.ndarray):
    return document_key(a4_gray, dpi=300)


def _zlib_planes(key, level: int) -> bytes:
    planes = np.packbits(key.ink).tobytes() + np.packbits(key.tolerance).tobytes()
    return zlib.compress(planes + key.fine_ink.tobytes() + key.fine_tolerance.tobytes(), level)


@pytest.mark.benchmark(group="dedup-key-bytes-a4")
def test_key_to_bytes_ours(benchmark, a4_key):
    # the context coder of the four bitmaps (about 2.5-2.9 times smaller than zlib)
    benchmark(a4_key.to_bytes)


@pytest.mark.benchmark(group="dedup-key-bytes-a4")
def test_key_from_bytes_ours(benchmark, a4_key):
    blob = a4_key.to_bytes()
    benchmark(DocumentKey.from_bytes, blob)


@pytest.mark.parametrize("level", [1, 9])
@pytest.mark.benchmark(group="dedup-key-bytes-a4")
def test_key_bytes_anchor_zlib(benchmark, a4_key, level):
    # the body written before the context coder (level 1), and zlib at its best
    benchmark(_zlib_planes, a4_key, level)


@pytest.mark.benchmark(group="dedup-key-bytes-a4")
def test_key_bytes_anchor_lzma(benchmark, a4_key):
    # a general-purpose coder at its default preset (smaller than zlib, slower)
    raw = np.packbits(a4_key.ink).tobytes() + np.packbits(a4_key.tolerance).tobytes()
    raw += a4_key.fine_ink.tobytes() + a4_key.fine_tolerance.tobytes()
    benchmark(lzma.compress, raw)


@pytest.fixture(scope="module")
def two_keys(a4_gray: np.ndarray):
    turned = np.asarray(
        Image.fromarray(a4_gray).rotate(1.5, fillcolor=255, resample=Image.BILINEAR)
    )
    return document_key(a4_gray, dpi=300), document_key(turned, dpi=300)


@pytest.mark.benchmark(group="dedup-match-keys-pair")
def test_match_keys_ours(benchmark, two_keys):
    # a true duplicate: every verifier cell is compared (the slowest case)
    benchmark(match_keys, *two_keys)


@pytest.fixture(scope="module")
def stretched_keys(a4_gray: np.ndarray):
    h, w = a4_gray.shape
    wide = np.asarray(Image.fromarray(a4_gray).resize((int(w * 1.04), h), Image.BILINEAR))
    return document_key(a4_gray, dpi=300), document_key(wide, dpi=300)


@pytest.mark.benchmark(group="dedup-match-keys-pair")
def test_match_keys_registered_ours(benchmark, stretched_keys):
    # a true duplicate stretched by 4 % across: the tracked pass rejects a cell, the
    # registered second pass accepts (two passes, the slowest case)
    v = benchmark(match_keys, *stretched_keys)
    assert v.duplicate


@pytest.fixture(scope="module")
def one_name_keys():
    # two fillings of one page that differ in one name line: the first attempt rejects in a
    # few cells, so the second attempt around the alignment prior runs too
    def page(name: str) -> np.ndarray:
        lines = [*synth.VI_LINES[:8], f"Họ, chữ đệm, tên: {name}", *synth.VI_LINES[8:] * 2]
        return synth.render_page(lines, dpi=300, paper="A4", font_pt=11, max_lines=len(lines)).gray

    return (
        document_key(page("TRẦN THỊ BÍCH NGỌC"), dpi=300, capture="off"),
        document_key(page("LÊ VĂN PHÚC"), dpi=300, capture="off"),
    )


@pytest.mark.benchmark(group="dedup-match-keys-pair")
def test_match_keys_second_attempt_ours(benchmark, one_name_keys):
    # a different filling that the first attempt rejects in a few cells: first attempt,
    # registration, alignment prior, second attempt (the slowest path)
    benchmark(match_keys, *one_name_keys)


@pytest.mark.benchmark(group="dedup-match-keys-pair")
def test_alignment_prior_ours(benchmark, one_name_keys):
    # the prior alone: two ink profiles and the coarse-to-fine correlation search per axis
    benchmark(alignment_prior, *one_name_keys)


@pytest.mark.benchmark(group="dedup-match-keys-pair")
def test_match_keys_anchor_numpy_xor(benchmark, two_keys):
    # anchor: one numpy XOR + count over the two ink bitmaps (no shift search)
    a, b = two_keys
    benchmark(lambda: int(np.count_nonzero(a.ink ^ b.ink)))


@pytest.fixture(scope="module")
def photo12mp(a4_gray: np.ndarray) -> np.ndarray:
    # a 4000 x 3000 grey "photo": the A4 page under a mild perspective on a dark table
    page = Image.fromarray(a4_gray).resize((2100, 2970))
    h, w = 4000, 3000
    corners = np.array([[480, 420], [2560, 520], [2640, 3560], [380, 3480]], float)
    src = np.array([[0, 0], [2100, 0], [2100, 2970], [0, 2970]], float)
    rows, rhs = [], []
    for (x, y), (u, v) in zip(corners, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    coeffs = tuple(np.linalg.solve(np.array(rows), np.array(rhs)))
    sheet = np.asarray(page.transform((w, h), Image.PERSPECTIVE, coeffs, fill=1))
    return np.where(sheet == 1, np.uint8(70), sheet).astype(np.uint8)


@pytest.mark.benchmark(group="capture-rectify-12mp")
def test_rectify_ours(benchmark, photo12mp):
    res = benchmark(rectify, photo12mp)
    assert res.status == "ok"


@pytest.mark.benchmark(group="capture-rectify-12mp")
def test_rectify_anchor_opencv(benchmark, photo12mp):
    cv2 = pytest.importorskip("cv2")
    cv2.setNumThreads(1)

    def run():
        small = cv2.resize(photo12mp, (750, 1000), interpolation=cv2.INTER_AREA)
        _, bw = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        cs, _ = cv2.findContours(bw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        quad = cv2.approxPolyDP(max(cs, key=cv2.contourArea), 20, True).reshape(-1, 2)[:4] * 4
        dst = np.float32([[0, 0], [0, 2970], [2100, 2970], [2100, 0]])
        m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
        return cv2.warpPerspective(photo12mp, m, (2100, 2970))

    benchmark(run)


# ------------------------------------------------------------------ index


def _numpy_radius(db64: np.ndarray, q64: np.ndarray, r: int) -> list[np.ndarray]:
    out = []
    for q in q64:
        d = np.bitwise_count(np.bitwise_xor(db64, q)).sum(axis=1, dtype=np.uint16)
        out.append(np.nonzero(d <= r)[0])
    return out


@pytest.fixture(scope="module")
def db1m():
    rng = np.random.default_rng(0)
    db = rng.integers(0, 256, (1_000_000, 32), dtype=np.uint8)
    queries = db[rng.integers(0, len(db), 1000)].copy()
    flips = rng.integers(0, 32, (1000, 3))
    for j in range(3):
        queries[np.arange(1000), flips[:, j]] ^= np.uint8(1 << j)
    index = HashIndex(256)
    index.add(np.arange(len(db)), db)
    index.radius(queries[0], 8)  # builds the multi-index tables outside the timing
    return db, queries, index


def _faiss(db: np.ndarray):
    faiss = pytest.importorskip("faiss")
    faiss.omp_set_num_threads(1)
    idx = faiss.IndexBinaryFlat(256)
    idx.add(db)
    return idx


@pytest.fixture(scope="module")
def faiss1m(db1m):
    return _faiss(db1m[0])


def _once(benchmark, fn, *args, rounds=3):
    return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=0)


# faiss range_search keeps distances < radius, ours <= r: radius r + 1 is the same set.


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-single")
def test_radius_1m_single_ours(benchmark, db1m):
    _, q, index = db1m
    benchmark(index.radius, q[0], RADIUS)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-single")
def test_radius_1m_single_brute(benchmark, db1m):
    # not an anchor from another tool: our kernel with multi-index hashing switched off
    _, q, index = db1m
    benchmark(index.radius, q[0], RADIUS, method="brute")


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-single")
def test_radius_1m_single_faiss(benchmark, db1m, faiss1m):
    _, q, _ = db1m
    benchmark(faiss1m.range_search, q[:1], RADIUS + 1)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-single")
def test_radius_1m_single_numpy(benchmark, db1m):
    db, q, _ = db1m
    benchmark(_numpy_radius, db.view(np.uint64), q[:1].view(np.uint64), RADIUS)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-batch1000")
def test_radius_1m_batch_ours(benchmark, db1m):
    _, q, index = db1m
    _once(benchmark, index.radius_batch, q, RADIUS)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-batch1000")
def test_radius_1m_batch_brute(benchmark, db1m):
    _, q, index = db1m
    _once(benchmark, lambda: index.radius_batch(q, RADIUS, method="brute"))


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-batch1000")
def test_radius_1m_batch_faiss(benchmark, db1m, faiss1m):
    _, q, _ = db1m
    _once(benchmark, faiss1m.range_search, q, RADIUS + 1)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r31-batch1000")
def test_radius_1m_batch_numpy(benchmark, db1m):
    db, q, _ = db1m
    _once(benchmark, _numpy_radius, db.view(np.uint64), q.view(np.uint64), RADIUS, rounds=1)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r8-single")
def test_radius_1m_r8_ours(benchmark, db1m):
    _, q, index = db1m
    benchmark(index.radius, q[0], 8, method="mih")


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r8-single")
def test_radius_1m_r8_brute(benchmark, db1m):
    _, q, index = db1m
    benchmark(index.radius, q[0], 8, method="brute")


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-1M-r8-single")
def test_radius_1m_r8_faiss(benchmark, db1m, faiss1m):
    _, q, _ = db1m
    benchmark(faiss1m.range_search, q[:1], 9)


@pytest.mark.slow
@pytest.mark.benchmark(group="dedup-radius-10M-mmap-r31")
def test_radius_10m_mmap_ours(benchmark):
    """10M x 256-bit index saved and reopened memory-mapped; prints open time and q/s."""
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "10m.idx"
        index = HashIndex(256)
        for a in range(0, 10_000_000, 1_000_000):
            index.add(np.arange(a, a + 1_000_000), rng.integers(0, 256, (1_000_000, 32), np.uint8))
        queries = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
        index.save(path)
        del index
        t = time.perf_counter()
        mapped = HashIndex.open(path)
        opened = time.perf_counter() - t
        t = time.perf_counter()
        mapped.radius(queries[0], RADIUS, method="brute")
        first = time.perf_counter() - t
        t = time.perf_counter()
        mapped.radius_batch(queries, RADIUS, method="brute")
        batch = time.perf_counter() - t
        benchmark.extra_info.update(
            open_s=opened,
            first_query_s=first,
            batch1000_qps=1000 / batch,
            file_mb=os.path.getsize(path) / 1e6,
        )
        print(
            f"\n10M: open {opened * 1e3:.1f} ms, first query {first * 1e3:.0f} ms, "
            f"batch of 1000: {1000 / batch:.0f} q/s"
        )
        benchmark.pedantic(
            mapped.radius,
            args=(queries[1], RADIUS),
            kwargs={"method": "brute"},
            rounds=3,
            iterations=1,
        )
        del mapped
