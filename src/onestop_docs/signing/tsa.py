"""RFC 3161 time-stamping (dấu thời gian) from a configurable TSA URL.

A signature time-stamp turns a basic signature (PAdES/CAdES B-B) into B-T: an independent
authority attests that the signature existed at a given time, so it stays verifiable after the
signer's certificate expires.  The client uses only the standard library (``urllib``) with a
timeout and a response-size limit; it sends a nonce and asks for the TSA certificate.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, tsp
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from ..errors import InvalidArgumentError, SignatureError
from .certs import check_hash_name

__all__ = ["TimestampAuthority", "TimestampToken", "request_timestamp"]


@dataclass(frozen=True)
class TimestampAuthority:
    """Where and how to ask for RFC 3161 time-stamps.

    Attributes
    ----------
    url : str
        ``http://`` or ``https://`` URL of the TSA (e.g. a licensed CA's TSA service).
    timeout_s : float
        Network timeout per request, seconds (default 10: a kiosk must not hang).
    username, password : str, optional
        HTTP Basic credentials, when the TSA requires them.
    max_response_bytes : int
        Refuse larger replies (default 1 MiB; real replies are a few KiB).

    Examples
    --------
    >>> TimestampAuthority("http://127.0.0.1:3161/tsa").timeout_s
    10.0
    >>> TimestampAuthority("ftp://x")
    Traceback (most recent call last):
    ...
    onestop_docs.errors.InvalidArgumentError: ...
    """

    url: str
    timeout_s: float = 10.0
    username: str | None = None
    password: str | None = None
    max_response_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"TSA url must be http:// or https://, got {self.url!r}")
        if not self.timeout_s > 0:
            raise InvalidArgumentError(f"timeout_s must be > 0, got {self.timeout_s!r}")


@dataclass(frozen=True)
class TimestampToken:
    """A time-stamp token (DER ``ContentInfo``) with its time and TSA name."""

    der: bytes
    time: dt.datetime
    tsa_name: str | None


def as_authority(tsa: TimestampAuthority | str | None) -> TimestampAuthority | None:
    """Accept a URL string as shorthand for ``TimestampAuthority(url)``."""
    if tsa is None or isinstance(tsa, TimestampAuthority):
        return tsa
    if isinstance(tsa, str):
        return TimestampAuthority(tsa)
    raise InvalidArgumentError(f"expected a TimestampAuthority or URL, got {type(tsa).__name__}")


class UrllibTimeStamper(TimeStamper):  # type: ignore[misc]
    """pyHanko time-stamper speaking RFC 3161 over HTTP with ``urllib``."""

    def __init__(self, authority: TimestampAuthority) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.authority = authority

    def _post(self, body: bytes) -> bytes:
        auth = self.authority
        req = urllib.request.Request(
            auth.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/timestamp-query",
                "Accept": "application/timestamp-reply",
            },
        )
        if auth.username is not None:
            token = base64.b64encode(f"{auth.username}:{auth.password or ''}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=auth.timeout_s) as resp:
                ctype = resp.headers.get("Content-Type", "")
                data: bytes = resp.read(auth.max_response_bytes + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise TimestampRequestError(f"TSA {auth.url} unreachable: {exc}") from exc
        if len(data) > auth.max_response_bytes:
            raise TimestampRequestError(f"TSA reply larger than {auth.max_response_bytes} bytes")
        if ctype.split(";")[0].strip() != "application/timestamp-reply":
            raise TimestampRequestError(
                f"TSA reply has Content-Type {ctype!r}; expected application/timestamp-reply"
            )
        return data

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raw = await asyncio.to_thread(self._post, req.dump())
        return tsp.TimeStampResp.load(raw)


@functools.lru_cache(maxsize=16)
def timestamper_for(authority: TimestampAuthority) -> UrllibTimeStamper:
    """One time-stamper per TSA, so pyHanko's size-estimate token is fetched only once."""
    return UrllibTimeStamper(authority)


def token_info(token: cms.ContentInfo) -> tuple[dt.datetime, str | None]:
    """``(gen_time, tsa name)`` of a time-stamp token."""
    tst: Any = token["content"]["encap_content_info"]["content"].parsed
    tsa = tst["tsa"]
    name = None if tsa.native is None else str(tsa.chosen.human_friendly)
    return tst["gen_time"].native, name


def request_timestamp(
    data: bytes, tsa: TimestampAuthority | str, *, hash_name: str = "sha256"
) -> TimestampToken:
    """Ask ``tsa`` for an RFC 3161 time-stamp over ``data`` (hashed locally).

    The reply's status, nonce and message imprint are checked; the token's signature is
    checked by the verify functions against explicit trust roots.

    Raises
    ------
    SignatureError
        If the TSA is unreachable, refuses, or answers with a malformed or mismatched reply.
    WeakCryptoError
        If ``hash_name`` is weaker than SHA-256.
    """
    from ._analysis import run_sync

    name = check_hash_name(hash_name)
    digest = hashlib.new(name, data).digest()
    stamper = UrllibTimeStamper(as_authority(tsa))  # type: ignore[arg-type]
    try:
        token = run_sync(stamper.async_timestamp(digest, name))
    except (TimestampRequestError, SigningError, ValueError) as exc:
        raise SignatureError(f"time-stamp request failed: {exc}") from exc
    when, tsa_name = token_info(token)
    return TimestampToken(der=token.dump(), time=when, tsa_name=tsa_name)
