"""Bridge from :class:`~onestop_docs.signing.Signer` to pyHanko's signer abstraction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asn1crypto import algos
from pyhanko.sign.signers import Signer as PyhankoSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ._analysis import to_asn1

if TYPE_CHECKING:
    from .signer import Signer

__all__ = ["make_pyhanko_signer"]


class _BridgeSigner(PyhankoSigner):  # type: ignore[misc]
    """pyHanko signer whose raw signatures come from our key backend (file or token)."""

    def __init__(self, signer: Signer, hash_name: str) -> None:
        mech = f"{hash_name}_{'rsa' if signer.key_algorithm == 'rsa' else 'ecdsa'}"
        super().__init__(
            signing_cert=to_asn1(signer.certificate),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [to_asn1(c) for c in signer.chain]
            ),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mech}),
            embed_roots=True,
        )
        self._ours = signer
        self._hash_name = hash_name
        # Upper bound of the signature size, for pyHanko's size estimate (dry run).
        n = (signer.key_size + 7) // 8
        self._max_len = n if signer.key_algorithm == "rsa" else 2 * (n + 3) + 3

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self._max_len)
        return self._ours.sign_bytes(data, digest_algorithm)


def make_pyhanko_signer(signer: Signer, hash_name: str) -> PyhankoSigner:
    """A pyHanko signer for ``signer`` using ``hash_name`` (already policy-checked)."""
    return _BridgeSigner(signer, hash_name)
