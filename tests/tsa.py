"""A local RFC 3161 time-stamping authority for tests: ``openssl ts -reply`` behind http.server.

The server binds 127.0.0.1 on a free port, answers ``POST`` requests of at most 64 KiB with
``application/timestamp-reply``, runs each ``openssl`` call with a timeout and shuts itself down
after ``lifetime_s`` seconds even if the test forgets to stop it.

Examples
--------
>>> import tempfile, pathlib
>>> from pki import TestPki
>>> with LocalTsa(TestPki.create("Doc"), pathlib.Path(tempfile.mkdtemp())) as tsa:
...     tsa.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.serialization import Encoding
from pki import Credential, TestPki

__all__ = ["LocalTsa"]

MAX_REQUEST_BYTES = 64 * 1024

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key.pem
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class LocalTsa:
    """Context manager running a local TSA; ``url``, ``credential``, ``root_path`` are public."""

    def __init__(self, pki: TestPki, directory: Path, *, lifetime_s: float = 300.0) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tsa-", dir=directory))
        self.credential: Credential = pki.issue(
            "Test Time-Stamping Unit",
            key_usage=("digital_signature", "content_commitment"),
            time_stamping=True,
        )
        self.credential.write_pem(self.directory, "tsa")
        (self.directory / "chain.pem").write_bytes(
            pki.intermediate.cert_pem() + pki.root.cert_pem()
        )
        (self.directory / "serial").write_text("01\n")
        self.config = self.directory / "openssl-tsa.cnf"
        self.config.write_text(_CONFIG.format(dir=self.directory))
        self.root_path = pki.write_root(self.directory)
        self.requests = 0
        self._stopped = False
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.timeout = 1.0
        self._lifetime = threading.Timer(lifetime_s, self.stop)
        self._lifetime.daemon = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def reply(self, query: bytes) -> bytes:
        """Run ``openssl ts -reply`` on one DER TimeStampReq; serialised because of the serial file."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.config),
                 "-queryfile", str(q), "-out", str(r)],
                check=True, capture_output=True, timeout=20,
            )  # fmt: skip
            self.requests += 1
            return r.read_bytes()

    def verify_token(
        self, token_der: bytes, imprint_source: bytes
    ) -> subprocess.CompletedProcess[str]:
        """Run ``openssl ts -verify`` on a DER time-stamp token (``-token_in``) whose message
        imprint should be SHA-256 of ``imprint_source`` (for a CMS signature time-stamp: the
        SignerInfo's signature value).  Success: return code 0 and "OK" in stdout."""
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            tok = Path(tmp) / "token.der"
            tok.write_bytes(token_der)
            untrusted = Path(tmp) / "tsa-chain.pem"
            untrusted.write_bytes(
                self.credential.cert_pem()
                + b"".join(c.public_bytes(Encoding.PEM) for c in self.credential.chain)
            )
            return subprocess.run(
                ["openssl", "ts", "-verify", "-token_in", "-in", str(tok),
                 "-digest", hashlib.sha256(imprint_source).hexdigest(), "-sha256",
                 "-CAfile", str(self.root_path), "-untrusted", str(untrusted)],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if not 0 < length <= MAX_REQUEST_BYTES:
                    self.send_error(413, "request too large or empty")
                    return
                try:
                    body = tsa.reply(self.rfile.read(length))
                except (subprocess.SubprocessError, OSError):
                    self.send_error(400, "openssl ts -reply failed")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> LocalTsa:
        self._thread.start()
        self._lifetime.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._lifetime.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalTsa:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
