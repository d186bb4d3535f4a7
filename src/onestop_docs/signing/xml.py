"""Enveloped XMLDSig for metadata and edXML documents, hardened against XML attacks.

Signing uses signxml in the form the national document-exchange platforms (edXML, QCVN
102:2016/BTTTT) use: a ``ds:``-prefixed Signature appended as the last child of the root,
RSA-SHA256 (or ECDSA-SHA256), SHA-256 digests, one Reference with ``URI=""`` (the whole
document minus the signature: enveloped-signature transform, then inclusive C14N 1.0) and the
signer certificate with its chain in ``ds:KeyInfo/ds:X509Data``.  Verification is deliberately
narrow:

* DTDs, entity declarations and entity references are refused before anything else
  (XXE, billion laughs);
* exactly one ``ds:Signature``, a direct child of the root, with exactly one Reference whose
  URI is ``""`` or ``#<Id of the root>``; duplicate Id attributes anywhere are refused
  (signature wrapping);
* algorithms are pinned (RSA/ECDSA with SHA-256/384/512; SHA-1 reported as ``weak-hash``);
* the signer certificate must chain to the caller's explicit trust roots;
* only the signed content is returned (``report.signed_content``), never the input.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from lxml import etree
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature, SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from ..errors import InvalidArgumentError, MetadataError, SignatureError
from ._analysis import (
    UNTRUSTING_CODES,
    certificate_problems,
    chain_subjects,
    contexts,
    run_sync,
    to_asn1,
    untrusted_root,
    weak_mechanism,
)
from .certs import CertificateInput, check_hash_name
from .report import Problem, VerificationReport, failed
from .signer import Signer

__all__ = ["sign_xml", "signer_certificate", "verify_xml"]

DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_XML_BYTES = 64 << 20

_SIGN_METHODS = {
    ("rsa", "sha256"): SignatureMethod.RSA_SHA256,
    ("rsa", "sha384"): SignatureMethod.RSA_SHA384,
    ("rsa", "sha512"): SignatureMethod.RSA_SHA512,
    ("ecdsa", "sha256"): SignatureMethod.ECDSA_SHA256,
    ("ecdsa", "sha384"): SignatureMethod.ECDSA_SHA384,
    ("ecdsa", "sha512"): SignatureMethod.ECDSA_SHA512,
}
_DIGESTS = {
    "sha256": DigestAlgorithm.SHA256,
    "sha384": DigestAlgorithm.SHA384,
    "sha512": DigestAlgorithm.SHA512,
}
PINNED_SIGNATURE_METHODS = frozenset(_SIGN_METHODS.values())
PINNED_DIGESTS = frozenset(_DIGESTS.values())


def _hostile(data: bytes) -> str | None:
    """A reason to refuse the document before parsing, or None.

    The marker search below only works on UTF-8 (or ASCII) bytes, so every other encoding
    is refused first: a NUL byte (UTF-16/32 with or without a BOM; XML 1.0 has no NUL
    character), a first byte other than ``<`` after an optional UTF-8 BOM and white space
    (EBCDIC, UTF-7, ...), or a declaration naming another encoding.
    """
    head = data.lstrip()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        return "UTF-16/UTF-32 XML is refused (declare and send UTF-8)"
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body and not body.startswith(b"<"):
        return "XML must be UTF-8 and start with '<' (another encoding is refused)"
    declared = re.match(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']", body)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return f"XML declares encoding {declared.group(1).decode('ascii', 'replace')!r}; only UTF-8 is accepted"
    for marker in (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST"):
        if marker in data:
            return f"XML contains {marker.decode()} (DTDs and entities are refused)"
    return None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def _parse(data: bytes) -> Any:
    reason = _hostile(data)
    if reason is not None:
        raise MetadataError(reason)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"XML is not well-formed: {exc}") from exc
    tree: Any = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MetadataError("XML has a document type declaration (refused)")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise MetadataError("XML has entity references (refused)")
    return root


def sign_xml(xml: bytes, signer: Signer, *, hash_name: str = "sha256") -> bytes:
    """Add an enveloped XMLDSig signature (last child of the root) to ``xml``.

    Parameters
    ----------
    xml : bytes
        UTF-8 XML document (metadata, edXML envelope); no DTD, no entities.
    signer : Signer
        RSA or ECDSA key with its certificate; the chain goes into ``ds:KeyInfo``.
    hash_name : {"sha256", "sha384", "sha512"}

    Returns
    -------
    bytes
        The signed document, UTF-8 with an XML declaration.

    Raises
    ------
    MetadataError
        Malformed XML, a DTD or entities, or a root that already holds a signature.
    WeakCryptoError
        ``hash_name`` weaker than SHA-256.
    SignatureError
        Certificate not usable for signing, token failure.

    Examples
    --------
    >>> import tempfile
    >>> from onestop_docs.signing import demo_pki
    >>> pki = demo_pki(tempfile.mkdtemp())
    >>> signed = sign_xml("<HoSo><Ma>H27.01-250630-0001</Ma></HoSo>".encode(), pki.organisation_signer)
    >>> report = verify_xml(signed, trust_roots=[pki.root_cert_path])
    >>> report.valid, report.signed_content
    (True, b'<HoSo><Ma>H27.01-250630-0001</Ma></HoSo>')
    """
    name = check_hash_name(hash_name)
    if name not in _DIGESTS:
        raise InvalidArgumentError(f"XML signing supports sha256/384/512, got {hash_name!r}")
    signer.check_usable()
    root = _parse(bytes(xml))
    if root.find(f"{{{DS}}}Signature") is not None:
        raise MetadataError("the document root already has a ds:Signature")
    # Inclusive C14N 1.0, not signxml's default 1.1: .NET's SignedXml, behind many of the
    # exchange platforms' signing tools, implements only 1.0 and exclusive C14N.
    xml_signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=_SIGN_METHODS[(signer.key_algorithm, name)],
        digest_algorithm=_DIGESTS[name],
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    try:
        signed = xml_signer.sign(
            root,
            key=signer.signxml_key(),
            cert=[signer.certificate, *signer.chain],
        )
    except (SignXMLException, ValueError) as exc:
        raise SignatureError(f"XML signing failed: {exc}") from exc
    out: bytes = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return out


def _all_namespaced(nodes: Any) -> bool:
    """Whether every element under ``nodes`` has a namespace (then no ``xmlns=""`` is due)."""
    items = nodes if isinstance(nodes, list) else [nodes]
    return all(
        etree.QName(el).namespace is not None
        for node in items
        if isinstance(node, etree._Element)
        for el in node.iter()
        if isinstance(el.tag, str)
    )


class _Verifier(XMLVerifier):  # type: ignore[misc]
    """signxml's verifier with canonical XML that does not carry a stray ``xmlns=""``.

    libxml2 2.14 (lxml 6), canonicalising a subtree that sits under a default namespace
    (``<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">``, the unprefixed form most
    signing tools emit), writes ``xmlns=""`` on some descendants.  C14N (inclusive and
    exclusive) emits ``xmlns=""`` only to undeclare the default namespace for an element that
    has none; when every element of the subtree has a namespace, the declaration cannot be
    part of the canonical form and is removed.  Removing it can only make a wrong digest of
    a document whose text contains that string, never make a forgery verify.
    """

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> bytes:
        out: bytes = super()._c14n(nodes, algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)
        if b' xmlns=""' in out and _all_namespaced(nodes):
            out = out.replace(b' xmlns=""', b"")
        return out


def _structure_problems(root: Any) -> tuple[list[Problem], Any]:
    """Wrapping and algorithm checks; returns (problems, the Signature element)."""
    sigs = root.findall(f".//{{{DS}}}Signature")
    if len(sigs) != 1:
        return [Problem("xml-wrapping" if sigs else "no-signature",
                        f"expected exactly one ds:Signature, found {len(sigs)}")], None  # fmt: skip
    sig = sigs[0]
    problems: list[Problem] = []
    if sig.getparent() is not root:
        problems.append(Problem("xml-wrapping", "ds:Signature is not a direct child of the root"))
    ids = Counter(
        value
        for el in root.iter()
        if isinstance(el.tag, str)
        for attr, value in el.attrib.items()
        if etree.QName(attr).localname.lower() == "id"
    )
    dup = sorted(i for i, n in ids.items() if n > 1)
    if dup:
        problems.append(Problem("xml-wrapping", f"duplicate Id values {dup}"))
    refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    root_ids = {v for k, v in root.attrib.items() if etree.QName(k).localname.lower() == "id"}
    if len(refs) != 1:
        problems.append(Problem("xml-wrapping", f"expected one ds:Reference, found {len(refs)}"))
    else:
        uri = refs[0].get("URI")
        if not (uri == "" or (uri is not None and uri.startswith("#") and uri[1:] in root_ids)):
            problems.append(
                Problem("xml-wrapping", f"ds:Reference URI {uri!r} is not the whole document")
            )
    method = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    digests = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestMethod")
    algos = [el.get("Algorithm", "") for el in ([method] if method is not None else []) + digests]
    pinned = {m.value for m in PINNED_SIGNATURE_METHODS} | {d.value for d in PINNED_DIGESTS}
    for algo in algos:
        if algo in pinned:
            continue
        code = "weak-hash" if weak_mechanism(algo) else "xml-algorithm"
        problems.append(Problem(code, f"algorithm {algo!r} is not allowed"))
    return problems, sig


def _signature_certs(sig: Any) -> list[x509.Certificate]:
    import base64

    out = []
    for el in sig.iterfind(f".//{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
        out.append(
            x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split())))
        )
    return out


def signer_certificate(xml: bytes) -> x509.Certificate | None:
    """The signer certificate of an enveloped signature (the first ``ds:X509Certificate``).

    This is the certificate :func:`verify_xml` verifies the signature with; read it only
    after ``verify_xml`` reported the document valid, e.g. to compare the signer with the
    signer of another object.  ``None`` when the document has no readable one.

    Examples
    --------
    >>> import tempfile
    >>> from onestop_docs.signing import demo_pki
    >>> signer = demo_pki(tempfile.mkdtemp()).organisation_signer
    >>> signer_certificate(sign_xml(b"<HoSo/>", signer)) == signer.certificate
    True
    >>> signer_certificate(b"<HoSo/>") is None
    True
    """
    try:
        root = _parse(bytes(xml))
        sig = root.find(f"{{{DS}}}Signature")
        certs = _signature_certs(sig) if sig is not None else []
    except Exception:  # hostile or damaged input: verify_xml reports why
        return None
    return certs[0] if certs else None


def _chain(
    leaf: x509.Certificate, others: list[x509.Certificate], vc: Any, at: dt.datetime
) -> tuple[bool, tuple[str, ...], list[Problem]]:
    problems = certificate_problems(leaf, at)
    validator = CertificateValidator(
        to_asn1(leaf), intermediate_certs=[to_asn1(c) for c in others], validation_context=vc
    )
    try:
        path = run_sync(validator.async_validate_usage(set()))  # type: ignore[no-untyped-call]
    except PathBuildingError:
        problems.append(untrusted_root(leaf.subject.rfc4514_string()))
        return False, (), problems
    except (PathValidationError, ValueError, TypeError) as exc:
        if not problems:
            problems.append(Problem("untrusted", f"certificate path rejected: {exc}"))
        return False, (), problems
    trusted = not any(p.code in UNTRUSTING_CODES for p in problems)
    return trusted, chain_subjects(path), problems


def verify_xml(
    xml: bytes,
    *,
    trust_roots: Sequence[CertificateInput] | CertificateInput,
    at: dt.datetime | None = None,
    intermediates: Sequence[CertificateInput] = (),
) -> VerificationReport:
    """Verify an enveloped XMLDSig signature and return only what it signs.

    Parameters
    ----------
    xml : bytes
        The signed document.
    trust_roots : paths, bytes or certificates
        Explicit roots (no default trust store).
    at : datetime, optional
        Validation time for the certificate (default: now).
    intermediates : paths, bytes or certificates, optional
        Extra untrusted CA certificates for building the path when the signature does not
        embed its chain (they are never used as trust anchors).

    Returns
    -------
    VerificationReport
        ``signed_content`` holds the canonical signed XML (without the signature) when
        ``valid``; never raises for hostile input — see ``problems``.

    Raises
    ------
    InvalidArgumentError
        For bad arguments only (no trust roots, unreadable trust root file).

    Examples
    --------
    >>> import tempfile
    >>> from onestop_docs.signing import demo_pki
    >>> root = demo_pki(tempfile.mkdtemp()).root_cert_path
    >>> xxe = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    >>> verify_xml(xxe, trust_roots=[root]).codes
    ('xml-forbidden-construct',)
    """
    moment = at or dt.datetime.now(dt.UTC)
    vc, _ = contexts(trust_roots, None, moment, intermediates)
    data = bytes(xml)
    if len(data) > MAX_XML_BYTES:
        return failed("unreadable", f"XML larger than {MAX_XML_BYTES} bytes")
    try:
        root = _parse(data)
    except MetadataError as exc:
        code = "unreadable" if "well-formed" in str(exc) else "xml-forbidden-construct"
        return failed(code, str(exc))
    problems, sig = _structure_problems(root)
    if sig is None:
        return failed(problems[0].code, problems[0].message)
    try:
        certs = _signature_certs(sig)
        if not certs:
            return failed("unreadable", "ds:KeyInfo has no X509Certificate")
        leaf = certs[0]
        subject = leaf.subject.rfc4514_string()
    except Exception as exc:  # cryptography parses certificates lazily
        return failed("unreadable", f"bad ds:X509Certificate: {type(exc).__name__}: {exc}")
    intact = False
    signed_content = None
    if not problems:
        config = SignatureConfiguration(
            require_x509=True,
            location="./",
            expect_references=1,
            signature_methods=PINNED_SIGNATURE_METHODS,
            digest_algorithms=PINNED_DIGESTS,
            ignore_ambiguous_key_info=True,
            # signxml would refuse an expired certificate before checking the signature;
            # dates are judged below (exact problem codes), so let it check at a time
            # inside the certificate's validity and report integrity on its own.
            verification_time=min(max(moment, leaf.not_valid_before_utc), leaf.not_valid_after_utc),
        )
        try:
            result: Any = _Verifier().verify(root, x509_cert=leaf, expect_config=config)
            intact = True
            signed_content = bytes(result.signed_data)
        except InvalidDigest as exc:
            problems.append(Problem("digest-mismatch", f"the signed XML changed: {exc}"))
        except InvalidSignature as exc:
            problems.append(Problem("signature-invalid", f"signature value: {exc}"))
        except (InvalidInput, SignXMLException, ValueError, etree.LxmlError) as exc:
            problems.append(Problem("unreadable", f"signature structure: {exc}"))
        except Exception as exc:  # hostile input must not escape as a crash
            problems.append(Problem("unreadable", f"{type(exc).__name__}: {exc}"))
    try:
        trusted, chain, chain_problems = _chain(leaf, certs[1:], vc, moment)
    except Exception as exc:  # e.g. a certificate asn1crypto cannot parse
        trusted, chain = False, ()
        chain_problems = [Problem("unreadable", f"certificate: {type(exc).__name__}: {exc}")]
    problems.extend(chain_problems)
    valid = intact and trusted and not problems
    return VerificationReport(
        valid=valid,
        intact=intact,
        trusted=trusted,
        signer_subject=subject,
        signing_time=None,
        timestamp_time=None,
        chain=chain,
        problems=tuple(problems),
        signed_content=signed_content if valid else None,
    )
