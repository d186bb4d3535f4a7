"""The reuse store at province scale: lookup latency, memory, refresh, adding.

Run as a script (figures are printed, nothing is asserted)::

    python benchmarks/bench_reuse.py --sizes 1000000,10000000

or through pytest (``make bench``): ``test_reuse_scale`` runs the same measurement at 100 000
keys, or at the sizes in ``ONESTOP_BENCH_REUSE_SIZES`` when set; it is ``slow``-marked.

What is stored: ``N`` generated pages (10 per record) whose candidate hashes are uniformly
random 256-bit strings and whose key blobs are 16-byte placeholders (they are never read:
no random candidate is within the radius of a real key), plus real pages from generated
form scans: one earlier scan of the looked-up paper and 60 other fillings of the same form
template (the hard case: same layout, different names and numbers).  A lookup with the key
given = candidate search in the in-memory index + reading the candidates' key blobs from
SQLite + the verifier on each; a whole-image lookup adds decoding a 300-dpi A4 PNG and
computing its key (its stages are timed one by one as well).  Lookups run on one core (one
thread, BLAS limited to one thread); the index's search tables are built on a background
thread after the cold load, which is waited for before lookups are timed.  The candidate
search runs at the store's search radius (``reuse.keys.SEARCH_RADIUS``, multi-index tables)
and, for comparison, at the verifier's limit ``CANDIDATE_RADIUS`` (a scan).  The anchor is a
plain numpy scan of the same candidate matrix (``np.bitwise_count``).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402  (after the thread limits)
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

_PER_RECORD = 10


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, q))


def _real_keys(n_others: int) -> tuple[Any, Any, list[Any], bytes]:
    """(stored scan key, query scan key, same-template other fillings, query page PNG)."""
    import synth
    import test_dedup_forms as forms

    from onestop_docs.reuse import keys as K

    rng = np.random.default_rng(2026)
    lines = forms.form_lines(rng, 0)
    stored = None
    seed = 0
    while stored is None:  # two scans of one paper that the key itself says are the same
        a = forms.rescan(lines, np.random.default_rng(seed), dpi=300)
        b = forms.rescan(lines, np.random.default_rng(seed + 1), dpi=300)
        ka, kb = K.key_of_page(a, dpi=300)[0], K.key_of_page(b, dpi=300)[0]
        if ka is not None and kb is not None and K.verify_keys(kb, ka).duplicate:
            stored, query, png = ka, kb, synth.png_bytes(b, dpi=300)
        seed += 2
    others = []
    for i in range(n_others):
        other = forms.form_lines(np.random.default_rng(10_000 + i), 0)
        img = forms.rescan(other, np.random.default_rng(20_000 + i), dpi=150)
        k = K.key_of_page(img, dpi=150)[0]
        if k is not None:
            others.append(k)
    return stored, query, others, png


def _generated_key(rng: np.random.Generator) -> Any:
    """A key with random candidate hashes, like the generated stored pages."""
    from onestop_docs.dedup import KEY_SHAPE, DocumentKey, Hash

    z = np.zeros(KEY_SHAPE, np.uint8)
    h = [Hash(rng.integers(0, 256, 32, np.uint8).tobytes(), 256) for _ in range(2)]
    return DocumentKey(h[0], h[1], z, z, 1.4)


def _photo_jpeg(scan_png: bytes) -> bytes:
    """The scanned page pasted on a dark table in a 4000 x 3000 frame, as a phone would see
    it (no perspective: the rectification cost is the same), saved as a JPEG (quality 90)
    as phones do."""
    import io

    from PIL import Image

    page = Image.open(io.BytesIO(scan_png)).convert("L")
    h = 2600
    page = page.resize((round(page.width * h / page.height), h))
    frame = Image.new("L", (3000, 4000), 55)
    frame.paste(page, ((3000 - page.width) // 2, (4000 - h) // 2))
    buf = io.BytesIO()
    frame.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _fill(path: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Write ``n`` generated pages straight into a new store file (bulk, not one
    transaction per record: this is set-up, not what is measured)."""
    from onestop_docs.reuse import ReuseStore

    ReuseStore(path).close()  # the schema
    cands = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    n_rec = -(-n // _PER_RECORD)
    conn.executemany(
        "INSERT INTO reuse_records VALUES (?, NULL, NULL, NULL, NULL, NULL, ?, '2026-01-01')",
        ((f"G{r:08d}", min(_PER_RECORD, n - r * _PER_RECORD)) for r in range(n_rec)),
    )
    blob = bytes(16)
    conn.executemany(
        "INSERT INTO reuse_pages (record_id, page, key_version, key, candidate, candidate_flip)"
        " VALUES (?, ?, 1, ?, ?, ?)",
        (
            (f"G{i // _PER_RECORD:08d}", i % _PER_RECORD + 1, blob, c, c[::-1])
            for i, c in ((i, cands[i].tobytes()) for i in range(n))
        ),
    )
    conn.execute("COMMIT")
    conn.close()
    return cands


def measure(n: int, *, queries: int = 200, workdir: str | None = None) -> dict[str, float]:
    """All figures for a store of ``n`` generated pages; prints them and returns them."""
    from onestop_docs.dedup import CANDIDATE_RADIUS
    from onestop_docs.reuse import ReuseStore
    from onestop_docs.reuse import keys as K

    out: dict[str, float] = {"n": float(n)}
    tmp = tempfile.mkdtemp(prefix="bench-reuse-", dir=workdir)
    path = os.path.join(tmp, "reuse.sqlite")
    rng = np.random.default_rng(n)
    stored, query, others, png = _real_keys(60)
    fresh = _generated_key(np.random.default_rng(n + 1))
    t = time.perf_counter()
    cands = _fill(path, n, rng)
    out["fill_s"] = time.perf_counter() - t
    with ReuseStore(path, refresh_interval_s=3600) as station:
        station.add_record("REAL.001", [stored])
        for i, k in enumerate(others):
            station.add_record(f"TEMPLATE.{i:03d}", [k])
    kiosk = ReuseStore(path, refresh_interval_s=3600)
    rss0 = _rss_bytes()
    t = time.perf_counter()
    kiosk.refresh()
    out["cold_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    kiosk.wait_index()
    out["tables_s"] = time.perf_counter() - t
    out["mem_per_million_MB"] = (_rss_bytes() - rss0) / len(kiosk) * 1e6 / 2**20
    out["index_rows"] = float(len(kiosk))
    # a restart with an index cache: map the file, load nothing from the store
    cache = os.path.join(tmp, "kiosk.idx")
    with ReuseStore(path, index_cache=cache) as warm:
        warm.refresh()
    t = time.perf_counter()
    with ReuseStore(path, index_cache=cache, refresh_interval_s=3600) as warm:
        warm.refresh()
        warm.lookup(_generated_key(rng))
        out["warm_start_s"] = time.perf_counter() - t
        warm.wait_index()
        out["warm_tables_s"] = time.perf_counter() - t

    res = kiosk.lookup(query)
    out["found"] = float(any(m.record_id == "REAL.001" for m in res.matches))
    out["candidates"] = float(res.candidates)

    cpu: dict[str, float] = {}

    def timed(fn: Any, reps: int, name: str = "") -> list[float]:
        # wall-clock latencies; the thread's CPU time beside them shows what waiting for a
        # core on a shared machine added
        lat, used = [], []
        for _ in range(reps):
            c, t = time.thread_time(), time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)
            used.append(time.thread_time() - c)
        if name:
            cpu[name] = _pct(used, 50)
        return lat

    # a generated key: no candidate, the index and the store's own overhead
    lat = timed(lambda: kiosk.lookup(fresh), queries, "gen")
    out["gen_p50_ms"], out["gen_p95_ms"] = _pct(lat, 50), _pct(lat, 95)
    # the stored paper among 60 fillings of its form: every filling is verified
    lat = timed(lambda: kiosk.lookup(query), max(10, queries // 4), "key")
    out["key_p50_ms"], out["key_p95_ms"] = _pct(lat, 50), _pct(lat, 95)
    lat = timed(lambda: kiosk.lookup(query, limit=1), queries, "first")
    out["first_p50_ms"], out["first_p95_ms"] = _pct(lat, 50), _pct(lat, 95)
    out.update({f"{k}_cpu_p50_ms": v for k, v in cpu.items()})
    out["load_average"] = os.getloadavg()[0]
    out["index_bytes_per_key"] = kiosk._index.nbytes() / len(kiosk)
    # the candidate search alone, and its anchor: a numpy scan of the same matrix
    for name, radius in (("search", K.SEARCH_RADIUS), ("scan72", CANDIDATE_RADIUS)):
        search, search_cpu = [], []
        for _ in range(min(queries, 50)):
            c, t = time.thread_time(), time.perf_counter()
            kiosk._index.radius(K.query_candidates(fresh), radius)
            search.append(time.perf_counter() - t)
            search_cpu.append(time.thread_time() - c)
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = _pct(search, 50), _pct(search, 95)
        out[f"{name}_cpu_p50_ms"] = _pct(search_cpu, 50)
    anchor = []
    for _ in range(5):
        t = time.perf_counter()
        for qq in K.query_candidates(fresh):
            d = np.bitwise_count(cands ^ np.frombuffer(qq, np.uint8)).sum(axis=1)
            np.nonzero(d <= K.SEARCH_RADIUS)
        anchor.append(time.perf_counter() - t)
    out["numpy_scan_p50_ms"] = _pct(anchor, 50)

    img_path = os.path.join(tmp, "scan.png")
    Path(img_path).write_bytes(png)
    photo = timed(lambda: kiosk.lookup(img_path), max(5, queries // 20), "image")
    out["image_p50_ms"], out["image_p95_ms"] = _pct(photo, 50), _pct(photo, 95)
    out["image_cpu_p50_ms"] = cpu["image"]
    out.update(_stages(kiosk, img_path, max(5, queries // 20)))
    # a 12-megapixel phone photo of the paper on a dark table (found and rectified first)
    photo_path = os.path.join(tmp, "photo.jpg")
    Path(photo_path).write_bytes(_photo_jpeg(png))
    res = kiosk.lookup(photo_path, photo=True)
    out["photo_status_found"] = float(res.found)
    lat = timed(lambda: kiosk.lookup(photo_path, photo=True), max(5, queries // 20), "photo")
    out["photo_p50_ms"], out["photo_p95_ms"] = _pct(lat, 50), _pct(lat, 95)
    out["photo_cpu_p50_ms"] = cpu["photo"]
    out.update(_stages(kiosk, photo_path, max(5, queries // 20), photo=True))

    # a station adds 1,000 records of 5 pages (real key blobs, random candidates) ...
    version, blob = K.key_to_blob(stored)
    with ReuseStore(path) as station:
        t = time.perf_counter()
        for r in range(1000):
            station._db.add_record(  # the key blob is real, the candidate random
                *_generated_record(f"NEW{r:05d}", 5, version, blob, rng)
            )
        out["add_records_per_s"] = 1000 / (time.perf_counter() - t)
    # ... and the kiosk's next refresh picks them up
    t = time.perf_counter()
    loaded = kiosk.refresh()
    out["refresh_1000_records_ms"] = (time.perf_counter() - t) * 1000
    out["refresh_rows"] = float(loaded)
    kiosk.close()
    for f in Path(tmp).iterdir():
        f.unlink()
    os.rmdir(tmp)
    _print(out)
    return out


def _stages(kiosk: Any, img_path: str, reps: int, photo: bool = False) -> dict[str, float]:
    """Wall p50 of each stage of a file lookup, run one by one: the SHA-256 match, decoding,
    the key (for a photo: finding and rectifying the sheet, then the key), the candidate
    search, reading the candidates' rows and verifying them."""
    from onestop_docs.dedup import file_sha256
    from onestop_docs.imageio import load_page
    from onestop_docs.reuse import keys as K

    times: dict[str, list[float]] = {}
    for _ in range(reps):
        clock = [time.perf_counter()]

        def lap(name: str, clock: list[float] = clock) -> None:
            now = time.perf_counter()
            times.setdefault(name, []).append(now - clock[0])
            clock[0] = now

        kiosk._db.pages_by_file(file_sha256(img_path))
        lap("sha")
        page = load_page(Path(img_path))
        lap("decode")
        key = (K.key_of_photo(page) if photo else K.key_of_page(page))[0]
        lap("key")
        best = kiosk._index.radius(K.query_candidates(key), kiosk._radius)
        lap("candidates")
        rows = kiosk._db.pages_by_seq(sorted(best))
        lap("db")
        for p, _ in rows:
            K.verify_keys(key, K.key_from_blob(p.key_version, p.key))
        lap("verify")
        times.setdefault("verified", []).append(len(rows) / 1000.0)
    pre = "photo_stage" if photo else "stage"
    return {f"{pre}_{k}_ms": _pct(v, 50) for k, v in times.items()}


def _generated_record(
    rid: str, pages: int, version: int, blob: bytes, rng: np.random.Generator
) -> tuple[Any, list[Any]]:
    from onestop_docs.reuse._backend import PageRow, StoredRecord

    rec = StoredRecord(rid, None, None, None, None, None, pages, "2026-01-01T00:00:00Z")
    rows = [
        PageRow(rid, p + 1, None, None, version, blob, c, c[::-1])
        for p, c in enumerate(
            rng.integers(0, 256, (pages, 32), np.uint8).tobytes()[i * 32 : i * 32 + 32]
            for i in range(pages)
        )
    ]
    return rec, rows


def _print(out: dict[str, float]) -> None:
    n = int(out["n"])
    print(f"\n== reuse store, {n:,} generated pages + {int(out['index_rows']) - n} real ==")
    print(f"  fill (bulk, set-up)            {out['fill_s']:8.1f} s")
    print(f"  cold load of the index         {out['cold_load_s']:8.2f} s")
    print(
        f"  restart with index_cache       {out['warm_start_s']:8.2f} s (open + refresh + 1 lookup)"
    )
    print(f"  search tables built in         {out['tables_s']:8.2f} s (background, after the load;"
          f" {out['warm_tables_s']:.2f} s after a restart)")  # fmt: skip
    print(f"  memory per million keys        {out['mem_per_million_MB']:8.1f} MB")
    print(f"  (load average {out['load_average']:.1f}; CPU p50 of the lookup thread: generated "
          f"{out['gen_cpu_p50_ms']:.2f}, 61 candidates {out['key_cpu_p50_ms']:.2f}, limit=1 "
          f"{out['first_cpu_p50_ms']:.2f}, image {out['image_cpu_p50_ms']:.1f} ms)")  # fmt: skip
    print(f"  index arrays                   {out['index_bytes_per_key']:8.1f} bytes per key")
    print(f"  lookup, generated key given p50 / p95       {out['gen_p50_ms']:8.2f} / "
          f"{out['gen_p95_ms']:.2f} ms")  # fmt: skip
    print(f"  lookup, key given, 61 same-form candidates  {out['key_p50_ms']:8.2f} / "
          f"{out['key_p95_ms']:.2f} ms  ({int(out['candidates'])} verified, "
          f"found={bool(out['found'])})")  # fmt: skip
    print(f"  lookup, key given, limit=1 (first copy)     {out['first_p50_ms']:8.2f} / "
          f"{out['first_p95_ms']:.2f} ms")  # fmt: skip
    print(f"  candidate search p50 / p95     {out['search_p50_ms']:8.2f} / "
          f"{out['search_p95_ms']:.2f} ms (CPU {out['search_cpu_p50_ms']:.2f} ms)"
          f"  (numpy scan {out['numpy_scan_p50_ms']:.2f} ms,"
          f" x{out['numpy_scan_p50_ms'] / out['search_p50_ms']:.1f})")  # fmt: skip
    print(f"  scan at radius 72 p50 / p95    {out['scan72_p50_ms']:8.2f} / "
          f"{out['scan72_p95_ms']:.2f} ms (CPU {out['scan72_cpu_p50_ms']:.2f} ms)")  # fmt: skip
    print("  file lookup stages p50 (ms): " + ", ".join(
        f"{k[6:-3]} {v:.1f}" for k, v in out.items() if k.startswith("stage_")))  # fmt: skip
    print("  photo lookup stages p50 (ms): " + ", ".join(
        f"{k[12:-3]} {v:.1f}" for k, v in out.items() if k.startswith("photo_stage_")))  # fmt: skip
    print(f"  lookup, 300-dpi A4 PNG file p50 / p95       {out['image_p50_ms']:8.1f} / "
          f"{out['image_p95_ms']:.1f} ms  (decode + key + all candidates)")  # fmt: skip
    print(f"  lookup, 12 MP phone photo p50 / p95         {out['photo_p50_ms']:8.1f} / "
          f"{out['photo_p95_ms']:.1f} ms  (CPU {out['photo_cpu_p50_ms']:.1f} ms, "
          f"found={bool(out['photo_status_found'])})")  # fmt: skip
    print(f"  add_record (5 pages)           {out['add_records_per_s']:8.0f} records/s")
    print(f"  refresh after 1,000 records    {out['refresh_1000_records_ms']:8.1f} ms"
          f"  ({int(out['refresh_rows'])} pages)")  # fmt: skip


@pytest.mark.slow
def test_reuse_scale(tmp_path: Path) -> None:
    sizes = os.environ.get("ONESTOP_BENCH_REUSE_SIZES", "100000")
    for n in (int(float(s)) for s in sizes.split(",")):
        measure(n, queries=100, workdir=str(tmp_path))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000000,10000000", help="comma-separated store sizes")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--workdir", default=None, help="where the temporary store goes")
    args = p.parse_args(argv)
    for n in (int(float(s)) for s in args.sizes.split(",")):
        measure(n, queries=args.queries, workdir=args.workdir)


if __name__ == "__main__":
    main()
