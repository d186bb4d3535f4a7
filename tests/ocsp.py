"""A local OCSP responder and CRL server for tests: ``openssl ocsp`` and ``http.server``.

:class:`LocalOcsp` makes a root CA (EC P-256) whose leaves carry an Authority Information
Access extension pointing at the responder (or, with ``via="crl"``, a CRL distribution point
served by an ``http.server`` thread on 127.0.0.1, the CRL signed with ``cryptography``), writes the OpenSSL ``index.txt`` database, and
runs ``openssl ocsp -index ... -port 127.0.0.1:PORT`` (the root signs the responses).
:meth:`LocalOcsp.issue` and :meth:`LocalOcsp.revoke` rewrite the index and restart the
responder on the same port (OpenSSL 3.0 does not reliably re-read it), so the next request
sees the change.  The responder stops with the context manager
(and after ``lifetime_s`` in any case).

Examples
--------
>>> import tempfile, pathlib
>>> with LocalOcsp(pathlib.Path(tempfile.mkdtemp())) as ocsp:
...     leaf = ocsp.issue("Signer")
...     ocsp.status(leaf.cert)
'good'
"""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from pki import Credential

__all__ = ["LocalOcsp"]

UTC = dt.UTC


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onestop_docs OCSP test CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _openssl_time(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%y%m%d%H%M%SZ")


class LocalOcsp:
    """Context manager: a root CA, its leaves, and a live OCSP responder for them."""

    def __init__(self, directory: Path, *, lifetime_s: float = 300.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.lifetime_s = lifetime_s
        now = dt.datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name("OCSP Test Root CA")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=10))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        self.root = Credential(key, cert)
        self.root_path = self.directory / "ocsp-root.pem"
        self.root_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._key_path = self.directory / "ocsp-root.key"
        self._key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.index = self.directory / "index.txt"
        self.index.write_text("", encoding="utf-8")
        self._rows: dict[int, list[str]] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.directory / "responder.log"
        self._revoked: dict[int, dt.datetime] = {}
        self._crl = self._make_crl()
        crl_bytes = self

        class _CrlHandler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = crl_bytes._crl
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._crl_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CrlHandler)
        self._crl_thread = threading.Thread(target=self._crl_server.serve_forever, daemon=True)

    @property
    def crl_url(self) -> str:
        """Where the CRL is served (named in the CRL distribution point of ``via="crl"``)."""
        host, port = self._crl_server.server_address[:2]
        return f"http://{host!s}:{port}/root.crl"

    def _make_crl(self) -> bytes:
        now = dt.datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.cert.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + dt.timedelta(hours=1))
            .add_extension(x509.CRLNumber(len(self._revoked) + 1), critical=False)
        )
        for serial, when in self._revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    @property
    def url(self) -> str:
        """The responder's address, as written into every leaf's AIA extension."""
        return f"http://127.0.0.1:{self.port}"

    def issue(self, common_name: str, *, via: str = "ocsp") -> Credential:
        """A signing leaf (EC P-256, digitalSignature) whose AIA names this responder, or
        with ``via="crl"`` whose CRL distribution point names the CRL server."""
        now = dt.datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()),
                critical=False,
            )
        )
        if via == "crl":
            point = x509.DistributionPoint(
                [x509.UniformResourceIdentifier(self.crl_url)], None, None, None
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        else:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.url)
            )
            builder = builder.add_extension(
                x509.AuthorityInformationAccess([access]), critical=False
            )
        cert = builder.sign(self.root.key, hashes.SHA256())
        self._rows[cert.serial_number] = [
            "V",
            _openssl_time(cert.not_valid_after_utc),
            "",
            f"{cert.serial_number:X}",
            "unknown",
            f"/CN=leaf-{cert.serial_number:X}",  # informational; ASCII keeps openssl happy
        ]
        self._write_index()
        return Credential(key, cert, [self.root.cert])

    def revoke(self, cert: x509.Certificate) -> None:
        """Mark ``cert`` revoked (keyCompromise, now) in the responder's database."""
        self._revoked[cert.serial_number] = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
        self._crl = self._make_crl()
        row = self._rows[cert.serial_number]
        row[0] = "R"
        row[2] = _openssl_time(dt.datetime.now(UTC) - dt.timedelta(seconds=5)) + ",keyCompromise"
        self._write_index()

    def _write_index(self) -> None:
        text = "".join("\t".join(r) + "\n" for r in self._rows.values())
        tmp = self.index.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.index)
        if self._proc is not None:  # the responder may not re-read its index: restart it
            self.stop()
            self.start()

    def status(self, cert: x509.Certificate) -> str:
        """What the responder says of ``cert`` (``good``/``revoked``), via ``openssl ocsp``."""
        leaf = self.directory / "query.pem"
        leaf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out = subprocess.run(
            ["openssl", "ocsp", "-issuer", str(self.root_path), "-cert", str(leaf),
             "-url", self.url, "-CAfile", str(self.root_path), "-timeout", "10"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        line = next((x for x in out.stdout.splitlines() if x.startswith(str(leaf))), "")
        return line.split(":", 1)[1].strip() if ":" in line else out.stdout + out.stderr

    def start(self) -> LocalOcsp:
        if not self._crl_thread.is_alive():
            self._crl_thread.start()
        self._proc = subprocess.Popen(
            ["timeout", str(int(self.lifetime_s)), "openssl", "ocsp",
             "-index", str(self.index), "-port", str(self.port),
             "-rsigner", str(self.root_path), "-rkey", str(self._key_path),
             "-CA", str(self.root_path), "-nmin", "5", "-ignore_err"],
            stdout=subprocess.DEVNULL, stderr=self._log.open("wb"),
        )  # fmt: skip
        # Not a probing connect: the responder serves one connection at a time and would
        # wait for a request on it.  It says in its log when it listens.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._proc.poll() is None:
            if b"waiting for OCSP client connections" in self._log.read_bytes():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"openssl ocsp did not start: {self._log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None

    def __enter__(self) -> LocalOcsp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._crl_server.shutdown()
        self._crl_server.server_close()
