"""A real RFC 3161 Time Stamping Authority on loopback: OpenSSL's `ts -reply` behind a tiny
aiohttp handler, with a test CA made by `cryptography`."""

from __future__ import annotations

import asyncio
import datetime
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.localstack import free_port


@dataclass(frozen=True)
class Tsa:
    """A running TSA: where to ask, and the CA certificate its answers chain to."""

    url: str
    ca_pem: Path
    requests: list[int]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(folder: Path, cn: str = "MHC Test TSA Root") -> tuple[Path, Path, Path]:
    """Write a root CA and a TSA certificate (critical timeStamping EKU) it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name("MHC Test TSA"))
        .issuer_name(ca.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "ca.pem", folder / "tsa.pem", folder / "tsa.key"


CONFIG = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@asynccontextmanager
async def running_tsa() -> AsyncIterator[Tsa]:
    """Start a TSA on a loopback port for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="mhc-tsa-") as tmp:
        folder = Path(tmp)
        ca_pem, _, _ = make_ca(folder)
        (folder / "serial").write_text("01\n")
        (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))
        served: list[int] = []
        lock = asyncio.Lock()

        async def reply(request: web.Request) -> web.Response:
            query = await request.read()
            async with lock:  # openssl bumps one serial file
                (folder / "query.tsq").write_bytes(query)
                proc = await asyncio.create_subprocess_exec(
                    "openssl", "ts", "-reply", "-config", str(folder / "tsa.cnf"),
                    "-queryfile", str(folder / "query.tsq"), "-out", str(folder / "reply.tsr"),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                _, err = await proc.communicate()
                if proc.returncode != 0:
                    return web.Response(status=400, text=err.decode())
                served.append(len(query))
                body = (folder / "reply.tsr").read_bytes()
            return web.Response(body=body, content_type="application/timestamp-reply")

        app = web.Application()
        app.router.add_post("/tsa", reply)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield Tsa(f"http://127.0.0.1:{port}/tsa", ca_pem, served)
        finally:
            await runner.cleanup()
