"""RFC 3161 trusted timestamps of signed checkpoints, from an operator-configured TSA.

The message timestamped is the signed checkpoint note, byte for byte; its SHA-256 is the
message imprint. A response is kept only after it verifies against the configured TSA
certificates (signature, certificate chain, timeStamping usage, nonce, imprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509


class TimestampError(ValueError):
    """A timestamp could not be obtained, or does not verify."""


@dataclass(frozen=True)
class Timestamp:
    """A verified TimeStampResp (DER) and the time the TSA vouched for."""

    response: bytes
    gen_time: datetime


def load_certs(pem: bytes) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Split PEM certificates into roots (self-signed) and intermediates."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise TimestampError(f"cannot read the TSA certificates: {e}") from None
    roots = [c for c in certs if c.issuer == c.subject]
    if not roots:
        raise TimestampError("the TSA certificates hold no self-signed root")
    return roots, [c for c in certs if c.issuer != c.subject]


def build_request(message: bytes) -> tuple[bytes, int | None]:
    """Return a DER TimeStampReq over SHA-256(message), asking for certificates, and its nonce."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    req = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    return req.as_bytes(), req.nonce


def verify(
    response: bytes, message: bytes, certs_pem: bytes, nonce: int | None = None
) -> Timestamp:
    """Check a TimeStampResp over message against the TSA's certificates; return it."""
    try:
        from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response
    except ImportError:
        raise TimestampError("checking timestamps needs the rfc3161-client package") from None
    roots, intermediates = load_certs(certs_pem)
    try:
        tsr = decode_timestamp_response(response)
    except ValueError as e:
        raise TimestampError(f"not a timestamp response: {e}") from None
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    for cert in intermediates:
        builder = builder.add_intermediate_certificate(cert)
    if nonce is not None:
        builder = builder.nonce(nonce)
    try:
        builder.build().verify_message(tsr, message)
    except (VerificationError, ValueError) as e:
        raise TimestampError(f"timestamp does not verify: {e}") from None
    return Timestamp(response, tsr.tst_info.gen_time)


async def obtain(url: str, certs_pem: bytes, message: bytes, seconds: float) -> Timestamp:
    """Ask the TSA at url to timestamp message, and verify what it answers."""
    import aiohttp

    request, nonce = build_request(message)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as http,
            http.post(
                url, data=request, headers={"Content-Type": "application/timestamp-query"}
            ) as resp,
        ):
            body = await resp.read()
            if resp.status != 200:
                raise TimestampError(f"TSA answered HTTP {resp.status}")
    except (aiohttp.ClientError, TimeoutError) as e:
        raise TimestampError(f"TSA unreachable: {e}") from None
    return verify(body, message, certs_pem, nonce)
