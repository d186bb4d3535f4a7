"""Checkpoints of the transparency log signed with the organisation's X.509 identity (CAdES).

A station signs the state of its log (origin, tree size, Merkle root, time: the
:meth:`~onestop_docs.integrity.Checkpoint.body`) with a detached CMS signature made by the same
certificate that signs the records, so ``verify`` checks it against the same trust roots
and an attacker who rewrites the log cannot sign a matching checkpoint.

Files beside the log ``L``: ``L.checkpoint`` (the body) and ``L.checkpoint.p7s`` (DER CMS).

Examples
--------
>>> import pathlib, tempfile
>>> from onestop_docs.integrity import TransparencyLog
>>> from onestop_docs.signing import demo_pki
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> pki = demo_pki(d / "pki")
>>> with TransparencyLog(d / "t.log") as log:
...     _ = log.append(b"entry")
...     cp = sign_log_checkpoint(log, pki.organisation_signer)
>>> read_signed_checkpoint(d / "t.log", trust_roots=[pki.root_cert_path]).tree_size
1
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._fileutil import atomic_write_bytes
from ..errors import IntegrityError
from ..integrity.checkpoint import Checkpoint
from .certs import CertificateInput
from .cms import sign_cms, verify_cms
from .signer import Signer

__all__ = ["checkpoint_paths", "read_signed_checkpoint", "sign_log_checkpoint"]


def checkpoint_paths(log_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(body file, signature file)`` of the signed checkpoint of the log at ``log_path``."""
    p = Path(log_path)
    return p.with_name(p.name + ".checkpoint"), p.with_name(p.name + ".checkpoint.p7s")


def sign_log_checkpoint(log: Any, signer: Signer, *, tsa: Any = None) -> Checkpoint:
    """Sign the current state of ``log`` with ``signer`` and write it beside the log.

    The signature is written first and the body last (both atomically): a crash in between
    leaves the previous body with a signature that does not match it, which ``verify``
    reports, never a silently unsigned state.

    Raises
    ------
    SignatureError
        The signer cannot sign (expired certificate, token error).
    """
    now = dt.datetime.now(dt.UTC)
    cp = Checkpoint(log.origin, log.size, log.root(), now, b"", b"")
    body = cp.body()
    body_path, sig_path = checkpoint_paths(log.path)
    atomic_write_bytes(sig_path, sign_cms(body, signer, tsa=tsa))
    atomic_write_bytes(body_path, body)
    return cp


def read_signed_checkpoint(
    log_path: str | os.PathLike[str],
    *,
    trust_roots: Sequence[CertificateInput] | CertificateInput,
    at: dt.datetime | None = None,
) -> Checkpoint:
    """The checkpoint beside the log at ``log_path`` once its CMS signature verified.

    Raises
    ------
    IntegrityError
        A file is missing, malformed, or the signature does not verify with ``trust_roots``
        (the message names the problem codes).
    """
    body_path, sig_path = checkpoint_paths(log_path)
    try:
        body = body_path.read_bytes()
        sig = sig_path.read_bytes()
    except OSError as exc:
        raise IntegrityError(
            f"no signed checkpoint of the log ({exc.strerror}: {exc.filename})"
        ) from None
    cp = Checkpoint.from_body(body)
    report = verify_cms(body, sig, trust_roots=trust_roots, at=at)
    if not report.valid:
        raise IntegrityError(
            f"the signed checkpoint {body_path.name} does not verify: "
            + "; ".join(str(p) for p in report.problems)
        )
    return cp
