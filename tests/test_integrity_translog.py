"""TransparencyLog: durability, torn tails, tamper detection, proofs and signed checkpoints."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from test_integrity_merkle import CT_LEAVES, CT_ROOTS  # the published CT vectors

from onestop_docs.errors import (
    IndexFormatError,
    IntegrityError,
    InvalidArgumentError,
    WeakCryptoError,
)
from onestop_docs.integrity import (
    Checkpoint,
    TransparencyLog,
    leaf_hash,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)


def entries(n: int) -> list[bytes]:
    return [hashlib.sha256(f"hồ sơ {i}".encode()).digest() for i in range(n)]


def make_log(path: Path, items: list[bytes], **kw) -> None:
    with TransparencyLog(path, **kw) as log:
        for e in items:
            log.append(e)


@pytest.fixture
def logpath(tmp_path: Path) -> Path:
    return tmp_path / "station.tlog"


def test_ct_vectors_through_the_log(logpath: Path) -> None:
    with TransparencyLog(logpath) as log:
        assert log.root() == hashlib.sha256(b"").digest()
        for i, e in enumerate(CT_LEAVES):
            assert log.append(e) == i
        assert log.root(1) == CT_ROOTS[0]
        assert log.root() == CT_ROOTS[7]
    with TransparencyLog(logpath) as log:  # reopened from disk
        assert log.size == 8
        assert log.root() == CT_ROOTS[7]
        assert [log.entry(i) for i in range(8)] == CT_LEAVES
        assert log.find(CT_LEAVES[5]) == 5
        assert log.find(b"not there") is None


def test_proofs_every_size_1_to_200_reopened(logpath: Path) -> None:
    items = entries(200)
    make_log(logpath, items)
    roots = [merkle_root(items[:n]) for n in range(201)]  # recomputed from the entries
    with TransparencyLog(logpath, read_only=True) as log:
        for n in range(1, 201):
            assert log.root(n) == roots[n]
            for m in range(n):
                p = log.inclusion_proof(m, n)
                assert verify_inclusion(leaf_hash(items[m]), m, n, p.path, roots[n])
            for m in range(1, n + 1):
                c = log.consistency_proof(m, n)
                assert c.verify(roots[m], roots[n])
                assert verify_consistency(m, n, c.path, roots[m], roots[n])


def test_append_rejects_bad_entries(logpath: Path) -> None:
    with TransparencyLog(logpath) as log:
        with pytest.raises(InvalidArgumentError):
            log.append("text")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            log.append(bytes((1 << 20) + 1))
        assert log.size == 0
    with TransparencyLog(logpath, read_only=True) as log, pytest.raises(InvalidArgumentError):
        log.append(b"x")


def test_concurrent_appends_from_threads(logpath: Path) -> None:
    items = entries(64)
    with TransparencyLog(logpath) as log:
        threads = [
            threading.Thread(target=lambda k=k: [log.append(e) for e in items[k::4]])
            for k in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = [log.entry(i) for i in range(log.size)]
    assert sorted(stored) == sorted(items)
    with TransparencyLog(logpath) as log:
        assert log.root() == merkle_root(stored)


def test_second_writer_is_refused(logpath: Path) -> None:
    with TransparencyLog(logpath), pytest.raises(BlockingIOError):
        TransparencyLog(logpath)


def test_origin_is_kept_and_checked(logpath: Path) -> None:
    make_log(logpath, entries(1), origin="UBND phường Bến Nghé / quầy 2")
    with TransparencyLog(logpath) as log:
        assert log.origin == "UBND phường Bến Nghé / quầy 2"
    with pytest.raises(InvalidArgumentError):
        TransparencyLog(logpath, origin="another station")
    with pytest.raises(InvalidArgumentError):
        TransparencyLog(logpath.with_name("x.tlog"), origin="two\nlines")


def test_missing_log_without_create(logpath: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TransparencyLog(logpath, create=False)
    with pytest.raises(FileNotFoundError):
        TransparencyLog(logpath, read_only=True)


# --------------------------------------------------------------------------- crash safety


def record_offsets(path: Path) -> list[int]:
    """Parse the documented file layout independently of the library."""
    data = path.read_bytes()
    (olen,) = struct.unpack_from(">H", data, 8)
    pos = 8 + 2 + olen + 32
    offsets = []
    while pos < len(data):
        offsets.append(pos)
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4 + n + 32
    return offsets


@pytest.mark.parametrize("cut", [1, 3, 4, 20, 40, 67])
def test_torn_last_record_is_truncated_and_saved(logpath: Path, cut: int) -> None:
    items = entries(5)
    make_log(logpath, items[:4])
    good = logpath.read_bytes()
    head = logpath.with_name(logpath.name + ".head").read_bytes()
    make_log(logpath, items[4:])
    full = logpath.read_bytes()
    # Simulate a crash during the 5th append: partial record written, head not updated.
    logpath.write_bytes(full[: len(good) + cut])
    logpath.with_name(logpath.name + ".head").write_bytes(head)
    with TransparencyLog(logpath) as log:
        assert log.size == 4
        assert log.root() == merkle_root(items[:4])
        rec = log.recovery
        assert rec is not None and rec.torn_offset == len(good) and rec.torn_bytes == cut
        assert rec.saved_to is not None and rec.saved_to.read_bytes() == full[len(good) :][:cut]
        log.append(items[4])
    assert logpath.read_bytes() == full
    with TransparencyLog(logpath) as log:
        assert log.recovery is None and log.root() == merkle_root(items)


def test_torn_tail_raise_mode_and_read_only(logpath: Path) -> None:
    make_log(logpath, entries(3))
    with logpath.open("ab") as fh:
        fh.write(b"\x00\x00\x00\x20partial")
    with pytest.raises(IntegrityError, match="torn"):
        TransparencyLog(logpath, torn_tail="raise")
    size_before = logpath.stat().st_size
    with TransparencyLog(logpath, read_only=True) as log:
        assert log.size == 3 and log.recovery is not None and log.recovery.saved_to is None
    assert logpath.stat().st_size == size_before  # read-only never writes


def test_garbled_complete_tail_record_is_torn(logpath: Path) -> None:
    items = entries(3)
    make_log(logpath, items[:2])
    head = logpath.with_name(logpath.name + ".head").read_bytes()
    make_log(logpath, items[2:])
    data = bytearray(logpath.read_bytes())
    data[-1] ^= 0xFF  # checksum of the uncommitted record garbled (e.g. zero-filled block)
    logpath.write_bytes(bytes(data))
    logpath.with_name(logpath.name + ".head").write_bytes(head)
    with TransparencyLog(logpath) as log:
        assert log.size == 2
        assert log.recovery is not None and log.recovery.torn_offset is not None


def test_complete_record_past_head_is_rolled_forward(logpath: Path) -> None:
    items = entries(4)
    make_log(logpath, items[:3])
    head = logpath.with_name(logpath.name + ".head").read_bytes()
    make_log(logpath, items[3:])
    logpath.with_name(logpath.name + ".head").write_bytes(head)  # crash before head update
    with TransparencyLog(logpath) as log:
        assert log.size == 4 and log.root() == merkle_root(items)
        assert log.recovery is not None and log.recovery.rolled_forward == 1
    with TransparencyLog(logpath) as log:
        assert log.recovery is None


# --------------------------------------------------------------------------- tamper detection


def test_truncation_at_record_boundary_is_detected(logpath: Path) -> None:
    make_log(logpath, entries(6))
    offs = record_offsets(logpath)
    with logpath.open("r+b") as fh:
        fh.truncate(offs[4])  # two whole records removed
    with pytest.raises(IntegrityError, match="truncated"):
        TransparencyLog(logpath)


def test_truncation_inside_committed_record_is_detected(logpath: Path) -> None:
    make_log(logpath, entries(6))
    with logpath.open("r+b") as fh:
        fh.truncate(logpath.stat().st_size - 5)
    with pytest.raises(IntegrityError, match="record 5"):
        TransparencyLog(logpath)


@pytest.mark.parametrize("where", ["entry", "length", "checksum"])
def test_edited_byte_is_detected(logpath: Path, where: str) -> None:
    make_log(logpath, entries(6))
    offs = record_offsets(logpath)
    data = bytearray(logpath.read_bytes())
    pos = {"entry": offs[2] + 4 + 7, "length": offs[2] + 3, "checksum": offs[3] - 1}[where]
    data[pos] ^= 0x01
    logpath.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"record 2 at byte offset {offs[2]}"):
        TransparencyLog(logpath)


def test_every_single_byte_flip_is_detected(logpath: Path) -> None:
    make_log(logpath, entries(3))
    original = logpath.read_bytes()
    for pos in range(len(original)):
        data = bytearray(original)
        data[pos] ^= 0x80
        logpath.write_bytes(bytes(data))
        with pytest.raises((IntegrityError, IndexFormatError)):
            TransparencyLog(logpath, torn_tail="raise")


def test_replaced_log_and_missing_head(logpath: Path, tmp_path: Path) -> None:
    make_log(logpath, entries(4))
    other = tmp_path / "other.tlog"
    make_log(other, entries(5)[1:])  # same size, different content
    os.replace(other, logpath)
    with pytest.raises(IntegrityError, match="do not match the head"):
        TransparencyLog(logpath)
    logpath.with_name(logpath.name + ".head").unlink()
    with pytest.raises(IntegrityError, match="head file"):
        TransparencyLog(logpath)


def test_not_a_log(logpath: Path) -> None:
    logpath.write_bytes(b"%PDF-1.7\n")
    with pytest.raises(IndexFormatError, match="magic"):
        TransparencyLog(logpath)


# --------------------------------------------------------------------------- checkpoints

KEYS = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_checkpoint_sign_verify_roundtrip(logpath: Path, kind: str) -> None:
    key = KEYS[kind]()
    items = entries(10)
    make_log(logpath, items, origin="Sở Tư pháp TP.HCM")
    when = datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    with TransparencyLog(logpath) as log:
        cp = log.checkpoint(key, now=when)
    assert cp.tree_size == 10 and cp.root_hash == merkle_root(items)
    assert cp.timestamp == when and cp.timestamp.tzinfo == UTC
    assert b"time 2026-03-01T01:30:00.000000Z\n" in cp.body()
    assert cp.verify(key.public_key()) and cp.verify(key)
    parsed = Checkpoint.from_bytes(cp.to_bytes())
    assert parsed == cp and parsed.verify(key.public_key())
    assert not cp.verify(KEYS[kind]().public_key())  # another station's key


def test_checkpoint_signature_is_checked_by_cryptography_directly(logpath: Path) -> None:
    # Independent check of the documented signed bytes: verify with cryptography itself.
    from cryptography.hazmat.primitives import hashes

    key = ec.generate_private_key(ec.SECP256R1())
    make_log(logpath, entries(3), origin="quầy 1")
    with TransparencyLog(logpath) as log:
        cp = log.checkpoint(key)
    expected_body = (
        "quầy 1\n3\n"
        + base64.b64encode(merkle_root(entries(3))).decode()
        + "\ntime "
        + cp.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        + "\n"
    ).encode()
    assert cp.body() == expected_body
    key.public_key().verify(cp.signature, expected_body, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("field", ["size", "root", "time", "origin", "signature"])
def test_tampered_checkpoint_fails(logpath: Path, field: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    make_log(logpath, entries(5))
    with TransparencyLog(logpath) as log:
        cp = log.checkpoint(key)
    text = cp.to_bytes().decode()
    lines = text.split("\n")
    if field == "size":
        lines[1] = "6"
    elif field == "root":
        lines[2] = base64.b64encode(bytes(32)).decode()
    elif field == "time":
        last_digit = lines[3][-2]
        lines[3] = lines[3][:-2] + ("1" if last_digit != "1" else "2") + "Z"  # +/- 1 µs
    elif field == "origin":
        lines[0] = "forged station"
        lines[-2] = lines[-2].replace(cp.origin, "forged station")
    else:
        sig = lines[-2].rsplit(" ", 1)
        raw = bytearray(base64.b64decode(sig[1]))
        raw[-1] ^= 1
        lines[-2] = sig[0] + " " + base64.b64encode(bytes(raw)).decode()
    forged = Checkpoint.from_bytes("\n".join(lines).encode())
    assert not forged.verify(key.public_key())


def test_malformed_checkpoints_raise() -> None:
    for bad in (
        b"",
        b"x\n1\n",
        b"\xff\xfe",
        b"o\n01\nAAAA\ntime 2026\n\n\xe2\x80\x94 o AAAAAA==\n",
    ):
        with pytest.raises(IntegrityError):
            Checkpoint.from_bytes(bad)


def test_checkpoint_key_policy() -> None:
    with pytest.raises(InvalidArgumentError):
        Checkpoint.sign("o", 0, bytes(32), rsa.generate_private_key(65537, 2048))  # type: ignore[arg-type]
    with pytest.raises(WeakCryptoError):
        Checkpoint.sign("o", 0, bytes(32), ec.generate_private_key(ec.SECP192R1()))
    with pytest.raises(InvalidArgumentError):
        Checkpoint.sign("o", 0, bytes(32), ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(InvalidArgumentError):
        Checkpoint.sign("o", 0, bytes(31), ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(InvalidArgumentError):
        Checkpoint.sign(
            "o", 0, bytes(32), ed25519.Ed25519PrivateKey.generate(), now=datetime(2026, 1, 1)
        )


def test_open_against_checkpoint_detects_rewritten_history(logpath: Path, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    items = entries(8)
    make_log(logpath, items[:5])
    with TransparencyLog(logpath) as log:
        cp = log.checkpoint(key)
    make_log(logpath, items[5:])
    # A consistent extension is accepted.
    with TransparencyLog(logpath, checkpoint=cp, public_key=key.public_key()) as log:
        assert log.size == 8
        proof = log.consistency_proof(cp.tree_size)
        assert proof.verify(cp.root_hash, log.root())
    # A wholesale rewrite (log and head rebuilt with a changed record 2) passes the file
    # checks but not the checkpoint.
    forged = list(items)
    forged[2] = hashlib.sha256(b"forged").digest()
    logpath.unlink()
    logpath.with_name(logpath.name + ".head").unlink()
    make_log(logpath, forged)
    with TransparencyLog(logpath) as log:
        assert not log.consistency_proof(5).verify(cp.root_hash, log.root())
    with pytest.raises(IntegrityError, match="rewritten"):
        TransparencyLog(logpath, checkpoint=cp, public_key=key.public_key())
    with pytest.raises(IntegrityError, match="signature"):
        TransparencyLog(
            logpath, checkpoint=cp, public_key=ed25519.Ed25519PrivateKey.generate().public_key()
        )
    with pytest.raises(InvalidArgumentError):
        TransparencyLog(logpath, checkpoint=cp)


def test_deleted_log_with_head_is_detected(logpath: Path) -> None:
    make_log(logpath, entries(2))
    logpath.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        TransparencyLog(logpath)
    assert not logpath.exists()  # not silently recreated


CHILD = """
import hashlib, sys
from onestop_docs.integrity import TransparencyLog
log = TransparencyLog(sys.argv[1])
i = 0
while True:
    e = hashlib.sha256(str(i).encode()).digest()
    n = log.append(e)
    print(n, flush=True)
    i += 1
"""


@pytest.mark.parametrize("kill_after", [3, 17, 40])
def test_sigkill_during_appends_loses_nothing_acknowledged(logpath: Path, kill_after: int) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(logpath)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    with TransparencyLog(logpath) as log:
        assert log.size >= len(acknowledged)
        expected = [hashlib.sha256(str(i).encode()).digest() for i in range(log.size)]
        assert [log.entry(i) for i in range(log.size)] == expected
        assert log.root() == merkle_root(expected)


@pytest.mark.parametrize("n", [0, 4])
@pytest.mark.parametrize("field", ["end", "size", "chain", "root", "garbage"])
def test_edited_head_file_is_detected(logpath: Path, field: str, n: int) -> None:
    make_log(logpath, entries(n))
    hp = logpath.with_name(logpath.name + ".head")
    lines = hp.read_text().splitlines()
    if field == "garbage":
        hp.write_text("not a head\n")
    else:
        k = next(i for i, ln in enumerate(lines) if ln.startswith(field + " "))
        value = lines[k].split(" ", 1)[1]
        lines[k] = f"{field} " + (str(int(value) - 1) if value.isdigit() else "00" * 32)
        hp.write_text("\n".join(lines) + "\n")
    with pytest.raises(IntegrityError):
        TransparencyLog(logpath)


def test_entry_changed_on_disk_after_open_is_detected(logpath: Path) -> None:
    items = entries(3)
    with TransparencyLog(logpath) as log:
        for e in items:
            log.append(e)
        off = os.path.getsize(logpath) - 32 - 32  # first byte of the last entry
        with open(logpath, "r+b") as fh:
            fh.seek(off)
            fh.write(b"\xff")
        assert log.entry(1) == items[1]
        with pytest.raises(IntegrityError, match="entry 2 changed on disk"):
            log.entry(2)


def test_readers_open_while_a_writer_appends(logpath: Path) -> None:
    items = entries(40)
    with TransparencyLog(logpath) as writer:
        for e in items[:5]:
            writer.append(e)
        with TransparencyLog(logpath, read_only=True) as reader:
            assert reader.size == 5 and reader.root() == merkle_root(items[:5])
        stop = threading.Event()
        seen: list[int] = []

        wrong: list[object] = []

        def read_loop() -> None:
            while not stop.is_set():
                try:
                    with TransparencyLog(logpath, read_only=True) as r:
                        n = r.size
                        if r.root() != merkle_root(items[:n]):  # must be a committed prefix
                            wrong.append(n)
                        seen.append(n)
                except Exception as exc:
                    wrong.append(exc)

        t = threading.Thread(target=read_loop)
        t.start()
        for e in items[5:]:
            writer.append(e)
        stop.set()
        t.join()
        assert not wrong
        assert seen and all(5 <= n <= 40 for n in seen)
        with pytest.raises(BlockingIOError):
            TransparencyLog(logpath)
