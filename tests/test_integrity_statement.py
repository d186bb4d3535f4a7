"""Record statements in the transparency log and CMS-signed checkpoints (issue 16)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onestop_docs.errors import IntegrityError
from onestop_docs.integrity import Checkpoint, TransparencyLog, merkle_root
from onestop_docs.integrity.statement import (
    RecordStatement,
    append_statement,
    find_statement,
    read_statements,
    statement_for_record,
)

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)


def _statement(record_id: str = "H27.01-210630-0001.001", **changes: object) -> RecordStatement:
    fields = {
        "record_id": record_id,
        "dossier_code": record_id.rsplit(".", 1)[0],
        "page_count": 3,
        "pdf_sha256": "a" * 64,
        "xml_sha256": "b" * 64,
        "manifest_sha256": "c" * 64,
        "tagmanifest_sha256": "d" * 64,
        "signatures": ("officer", "organisation"),
    }
    fields.update(changes)
    return RecordStatement(**fields)  # type: ignore[arg-type]


@given(
    pages=st.integers(0, 10_000),
    digests=st.lists(HEX, min_size=4, max_size=4),
    roles=st.lists(st.sampled_from(["officer", "organisation"]), max_size=2),
    code=st.text(min_size=1, max_size=30),
)
def test_statement_round_trip(pages: int, digests: list[str], roles: list[str], code: str) -> None:
    st_ = _statement(page_count=pages, dossier_code=code, signatures=tuple(roles))
    st_ = RecordStatement(
        st_.record_id,
        code,
        pages,
        *digests,
        tuple(roles),  # type: ignore[arg-type]
    )
    data = st_.to_bytes()
    assert RecordStatement.from_bytes(data) == st_
    # The entry is plain canonical JSON that any tool can read.
    assert json.loads(data)["pdf_sha256"] == digests[0]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace(b'"page_count":3', b'"page_count":-1'),
        lambda d: d.replace(b'"pdf_sha256":"' + b"a" * 64, b'"pdf_sha256":"' + b"A" * 64),
        lambda d: d.replace(b'"type":"onestop-record/2"', b'"type":"other"'),
        lambda d: d.replace(b"{", b"{ ", 1),  # not canonical
        lambda d: b'{"record_id":"x","pdf_sha256":"aa"}',  # the 0.1.0 entry format
        lambda d: b"\xff\xfe",
    ],
)
def test_malformed_statements_are_refused(mutate) -> None:
    with pytest.raises(IntegrityError):
        RecordStatement.from_bytes(mutate(_statement().to_bytes()))


def test_log_refuses_a_second_different_statement(tmp_path: Path) -> None:
    a, b = _statement(), _statement("H27.01-210630-0001.002")
    with TransparencyLog(tmp_path / "t.log") as log:
        assert append_statement(log, a) == 0
        assert append_statement(log, b) == 1
        assert append_statement(log, a) == 0  # the same statement again: no new entry
        log.append(b"not a statement")  # foreign entries are skipped, not fatal
        with pytest.raises(IntegrityError, match="pdf_sha256"):
            append_statement(log, _statement(pdf_sha256="e" * 64))
        assert len(log) == 3
        by_id, foreign = read_statements(log)
        assert set(by_id) == {a.record_id, b.record_id} and foreign == [2]
        assert find_statement(log, b.record_id) == (1, b)
        # The log's root is the RFC 9162 root of the statements as entries.
        assert log.root() == merkle_root([a.to_bytes(), b.to_bytes(), b"not a statement"])


def test_statement_of_a_record_folder_hashes_its_files(tmp_path: Path) -> None:
    rid = "H27.01-210630-0001.001"
    (tmp_path / "data").mkdir()
    files = {
        f"data/{rid}.pdf": b"%PDF",
        f"data/{rid}.xml": b"<x/>",
        "manifest-sha256.txt": b"m",
        "tagmanifest-sha256.txt": b"t",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    st_ = statement_for_record(tmp_path, rid, "H27.01-210630-0001", 1, ("officer",))
    assert st_.file_digests() == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    assert st_.mismatches(tmp_path) == []
    (tmp_path / f"data/{rid}.xml").write_bytes(b"<y/>")
    (tmp_path / "manifest-sha256.txt").unlink()
    problems = st_.mismatches(tmp_path)
    assert len(problems) == 2
    assert any("xml is not the logged version" in p for p in problems)
    assert any("manifest-sha256.txt is missing" in p for p in problems)


def test_checkpoint_body_round_trip_and_strictness() -> None:
    from datetime import UTC, datetime

    cp = Checkpoint("UBND xã Tân Phú", 7, bytes(range(32)), datetime.now(UTC), b"", b"")
    assert Checkpoint.from_body(cp.body()) == cp
    for bad in (cp.body()[:-1], cp.body() + b"x\n", cp.body().replace(b"\n7\n", b"\n07\n")):
        with pytest.raises(IntegrityError):
            Checkpoint.from_body(bad)


def test_cms_signed_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("pyhanko")
    from onestop_docs.signing import demo_pki
    from onestop_docs.signing.logsig import (
        checkpoint_paths,
        read_signed_checkpoint,
        sign_log_checkpoint,
    )

    pki = demo_pki(tmp_path / "pki")
    other = demo_pki(tmp_path / "other")
    with TransparencyLog(tmp_path / "t.log") as log:
        append_statement(log, _statement())
        cp = sign_log_checkpoint(log, pki.organisation_signer)
        root = log.root()
    got = read_signed_checkpoint(tmp_path / "t.log", trust_roots=[pki.root_cert_path])
    assert (got.tree_size, got.root_hash, got.origin) == (1, root, cp.origin)
    with pytest.raises(IntegrityError, match="untrusted-root"):
        read_signed_checkpoint(tmp_path / "t.log", trust_roots=[other.root_cert_path])
    body, sig = checkpoint_paths(tmp_path / "t.log")
    body.write_bytes(body.read_bytes().replace(b"\n1\n", b"\n2\n"))
    with pytest.raises(IntegrityError, match="digest-mismatch"):
        read_signed_checkpoint(tmp_path / "t.log", trust_roots=[pki.root_cert_path])
    sig.unlink()
    with pytest.raises(IntegrityError, match="no signed checkpoint"):
        read_signed_checkpoint(tmp_path / "t.log", trust_roots=[pki.root_cert_path])
