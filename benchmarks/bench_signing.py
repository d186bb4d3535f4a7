"""Signing benchmarks: PAdES on a 20-page scanned PDF, with and without an RFC 3161 TSA.

* ``sign_pdf`` (B-B, officer stamp, ECDSA P-256 file key) on a **20-page A4 colour scan at
  200 dpi** (JPEG, ~0.4 MB a page) against plain pyHanko (``_pyhanko``: same key, no visible
  stamp, the floor for a pyHanko-based signer) and ``hashlib.sha256`` of the file
  (``_sha256``: the bytes every PAdES signer must hash).  Target: ≤ 100 ms.
* ``sign_pdf`` B-T against a local TSA (``openssl ts -reply`` behind http.server, as in the
  tests) against the TSA round trip alone (``_tsa_roundtrip``): the B-T overhead is the
  difference.
* ``sign_cms`` over 4 MiB against pyHanko's ``sign_general_data`` (``_pyhanko``).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
import synth
from PIL import Image
from pki import TestPki
from tsa import LocalTsa

from onestop_docs.signing import Signer, request_timestamp, sign_cms, sign_pdf

PAGES = 20


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-signing")


@pytest.fixture(scope="module")
def scan20(work: Path) -> Path:
    rng = np.random.default_rng(8)
    page = synth.render_page(dpi=200, paper="A4", font_pt=11)
    gray = synth.add_noise(page.gray, 6.0, rng)
    img = Image.fromarray(synth.to_color(gray))
    path = work / "scan20.pdf"
    img.save(path, "PDF", resolution=200, save_all=True, append_images=[img] * (PAGES - 1))
    return path


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create("Bench")


@pytest.fixture(scope="module")
def signer(pki: TestPki, work: Path) -> Signer:
    key, cert = pki.issue("Cán bộ một cửa").write_pem(work, "bench")
    s = Signer.from_pem(key, cert)
    # Warm-up: the 1000-upem font copy is built once per process.
    Image.new("RGB", (300, 400), "white").save(work / "warm.pdf", "PDF")
    sign_pdf(work / "warm.pdf", work / "warm-signed.pdf", s)
    return s


@pytest.mark.benchmark(group="pades-20-pages")
def test_pades_20p_ours(benchmark, signer: Signer, scan20: Path, work: Path) -> None:
    benchmark(sign_pdf, scan20, work / "out-ours.pdf", signer)


@pytest.mark.benchmark(group="pades-20-pages")
def test_pades_20p_pyhanko(benchmark, signer: Signer, scan20: Path, work: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    ph = signer.pyhanko_signer()
    meta = signers.PdfSignatureMetadata(
        field_name="Sig", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )

    def run() -> None:
        with scan20.open("rb") as fh:
            w = IncrementalPdfFileWriter(io.BytesIO(fh.read()), strict=False)
            with (work / "out-pyhanko.pdf").open("wb") as out:
                signers.PdfSigner(meta, signer=ph).sign_pdf(w, output=out)

    benchmark(run)


@pytest.mark.benchmark(group="pades-20-pages")
def test_pades_20p_sha256(benchmark, scan20: Path) -> None:
    benchmark(lambda: hashlib.sha256(scan20.read_bytes()).digest())


@pytest.fixture(scope="module")
def tsa(pki: TestPki, work: Path):
    with LocalTsa(pki, work) as server:
        yield server


@pytest.mark.benchmark(group="pades-b-t-20-pages")
def test_pades_bt_20p_ours(benchmark, signer: Signer, scan20: Path, work: Path, tsa) -> None:
    benchmark(sign_pdf, scan20, work / "out-bt.pdf", signer, tsa=tsa.url)


@pytest.mark.benchmark(group="pades-b-t-20-pages")
def test_pades_bt_20p_tsa_roundtrip(benchmark, tsa) -> None:
    benchmark(request_timestamp, b"x" * 64, tsa.url)


@pytest.fixture(scope="module")
def blob() -> bytes:
    return os.urandom(4 << 20)


@pytest.mark.benchmark(group="cms-4mib")
def test_cms_4mib_ours(benchmark, signer: Signer, blob: bytes) -> None:
    benchmark(sign_cms, blob, signer)


@pytest.mark.benchmark(group="cms-4mib")
def test_cms_4mib_pyhanko(benchmark, signer: Signer, blob: bytes) -> None:
    import asyncio

    ph = signer.pyhanko_signer()
    benchmark(lambda: asyncio.run(ph.async_sign_general_data(blob, "sha256", detached=True)))
