"""sha256_file and hash_files against hashlib over whole buffers and coreutils sha256sum."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import InvalidArgumentError
from onestop_docs.integrity import FileHash, hash_files, sha256_file
from onestop_docs.integrity.fixity import CHUNK_BYTES

SIZES = [
    0,
    1,
    63,
    64,
    2047,
    2048,
    CHUNK_BYTES - 1,
    CHUNK_BYTES,
    CHUNK_BYTES + 1,
    3 * CHUNK_BYTES + 5,
]


@pytest.fixture(scope="module")
def sized_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, bytes]]:
    d = tmp_path_factory.mktemp("fixity")
    rng = random.Random(8)
    out = []
    for size in SIZES:
        data = rng.randbytes(size)
        p = d / f"tệp {size}.bin"
        p.write_bytes(data)
        out.append((p, data))
    return out


def test_matches_hashlib_at_chunk_boundaries(sized_files) -> None:
    for path, data in sized_files:
        assert sha256_file(path) == hashlib.sha256(data).hexdigest(), path.name


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum missing")
def test_matches_sha256sum(sized_files) -> None:
    paths = [str(p) for p, _ in sized_files]
    out = subprocess.run(["sha256sum", "--", *paths], check=True, capture_output=True).stdout
    # sha256sum escapes names with backslashes/newlines only; ours have neither
    theirs = {line[66:].decode(): line[:64].decode() for line in out.splitlines()}
    assert {p: sha256_file(p) for p in paths} == theirs


@given(st.binary(max_size=5000))
def test_property_any_content(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    p = tmp_path_factory.mktemp("h") / "x"
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()


def test_fifo_is_streamed(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = os.urandom(3 * CHUNK_BYTES // 2)

    def feed() -> None:
        with fifo.open("wb") as fh:
            fh.write(payload)

    t = threading.Thread(target=feed)
    t.start()
    try:
        assert sha256_file(fifo) == hashlib.sha256(payload).hexdigest()
    finally:
        t.join()


@pytest.mark.parametrize("workers", [None, 1, 2, 4, 64])
def test_hash_files_order_and_values(sized_files, workers) -> None:
    paths = [p for p, _ in sized_files] * 3  # duplicates included
    expected = [hashlib.sha256(d).hexdigest() for _, d in sized_files] * 3
    sizes = [len(d) for _, d in sized_files] * 3
    result = hash_files(paths, workers=workers)
    assert [r.sha256 for r in result] == expected
    assert [r.size for r in result] == sizes
    assert [r.path for r in result] == paths
    assert all(isinstance(r, FileHash) for r in result)


def test_hash_files_accepts_generators_and_strings(sized_files) -> None:
    res = hash_files((str(p) for p, _ in sized_files[:3]), workers=2)
    assert [r.sha256 for r in res] == [hashlib.sha256(d).hexdigest() for _, d in sized_files[:3]]
    assert hash_files([], workers=3) == []


def test_hash_files_errors(tmp_path: Path, sized_files) -> None:
    paths = [p for p, _ in sized_files] + [tmp_path / "missing.pdf"]
    with pytest.raises(FileNotFoundError):
        hash_files(paths, workers=2)
    with pytest.raises(FileNotFoundError):
        hash_files(paths, workers=1)
    with pytest.raises(IsADirectoryError):
        sha256_file(tmp_path)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidArgumentError):
            hash_files([], workers=bad)  # type: ignore[arg-type]
