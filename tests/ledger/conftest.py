"""EVM chains for the mirror's tests: py-evm in process, and anvil as a real JSON-RPC node."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ledger.chain import RoyaltyMirror, Transactor, deploy, deploy_mirror
from server.clock import Clock
from server.keys import CLOCK
from server.localstack import free_port, wait_for_port

# Importing py-evm and py_ecc raises the recursion limit of the whole test process (to 100000),
# where deeply nested input in other packages' tests would then overflow the C stack: load them
# all now and put the limit back (the contracts here never nest calls deeply).
_recursion_limit = sys.getrecursionlimit()
try:
    from eth_account import Account
    from eth_tester.exceptions import TransactionFailed
    from web3 import AsyncHTTPProvider, AsyncWeb3
    from web3.exceptions import ContractCustomError
    from web3.providers.eth_tester import AsyncEthereumTesterProvider
finally:
    sys.setrecursionlimit(_recursion_limit)

ANVIL_VERSION = "1.7.1"
USDC = 10**6  # one token in minor units (6 decimals)
# How each node reports a revert to web3.
REVERT = (ContractCustomError, TransactionFailed)


def anvil_binary() -> Path:
    """The anvil binary of the pinned npm package, installed into a cache folder when missing.

    The package's own launcher is a node script that spawns the binary; stopping the script
    would leave the node running, so the binary is run directly."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    system = platform.system().lower()
    package = f"@foundry-rs/anvil-{system}-{arch[platform.machine().lower()]}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    prefix = cache / "mhc-live" / f"anvil-{ANVIL_VERSION}"
    binary = prefix / "node_modules" / package / "bin" / "anvil"
    if not binary.is_file():
        npm = shutil.which("npm")
        assert npm, "npm is required (Debian: apt-get install nodejs npm)"
        prefix.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"@foundry-rs/anvil@{ANVIL_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm install failed:\n{result.stdout}\n{result.stderr}"
    assert binary.is_file(), f"{package} brought no anvil binary"
    return binary


@pytest.fixture(scope="session")
def anvil_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private anvil node on loopback for the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(anvil_binary()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--hardfork",
                "prague",
                "--accounts",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, "anvil")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Chain:
    """A node, keys funded with ether for gas, and helpers the tests share."""

    name: str
    w3: AsyncWeb3[Any]
    owner: bytes
    artist: bytes
    stranger: bytes

    async def fund(self, key: bytes) -> None:
        """Give the address of `key` ether for gas from the node's own unlocked account."""
        rich = (await self.w3.eth.accounts)[0]
        address = Account.from_key(key).address
        tx_hash = await self.w3.eth.send_transaction({"from": rich, "to": address, "value": 10**19})
        await self.w3.eth.wait_for_transaction_receipt(tx_hash)

    async def mine(self, blocks: int) -> None:
        """Add `blocks` blocks: both nodes mine one block per transaction."""
        rich = (await self.w3.eth.accounts)[0]
        for _ in range(blocks):
            tx_hash = await self.w3.eth.send_transaction({"from": rich, "to": rich, "value": 0})
            await self.w3.eth.wait_for_transaction_receipt(tx_hash)

    async def call(
        self, key: bytes, address: str, abi: list[dict[str, Any]], fn: str, *args: Any
    ) -> Any:
        """Send `fn(*args)` to the contract at `address` from `key`; return the receipt."""
        contract = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(address), abi=abi)
        data = contract.encode_abi(fn, args=list(args))
        return await Transactor(self.w3, key).send({"to": contract.address, "data": data})

    async def view(self, address: str, abi: list[dict[str, Any]], fn: str, *args: Any) -> Any:
        """Call the view `fn(*args)` of the contract at `address`."""
        contract = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(address), abi=abi)
        return await contract.functions[fn](*args).call()


@pytest.fixture(params=["eth-tester", "anvil"])
async def chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    """Each test runs once on py-evm in process and once on the anvil node."""
    w3: AsyncWeb3[Any]
    if request.param == "anvil":
        w3 = AsyncWeb3(AsyncHTTPProvider(request.getfixturevalue("anvil_url")))
    else:
        w3 = AsyncWeb3(AsyncEthereumTesterProvider())
    keys = [Account.create().key for _ in range(3)]
    found = Chain(request.param, w3, *keys)
    for key in keys:
        await found.fund(key)
    yield found
    if request.param == "anvil":
        await w3.provider.disconnect()


@dataclass
class Deployed:
    """A mock USDC and a mirror paying in it, with the owner funded and approved."""

    chain: Chain
    token: str
    mirror: RoyaltyMirror


async def deploy_with(chain: Chain, token_name: str, poll: float = 0.05) -> Deployed:
    """Deploy the test token `token_name` and a mirror paying in it; mint the owner a million
    tokens and approve the mirror to pull them."""
    token = await deploy(chain.w3, chain.owner, f"test/{token_name}")
    address = await deploy_mirror(chain.w3, chain.owner, token)
    mirror = RoyaltyMirror(chain.w3, address, chain.owner, poll=poll)
    owner = Account.from_key(chain.owner).address
    abi = token_abi(token_name)
    await chain.call(chain.owner, token, abi, "mint", owner, 1_000_000 * USDC)
    await mirror.approve_funding(1_000_000 * USDC)
    return Deployed(chain, token, mirror)


def token_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of a test token."""
    from ledger.chain import artifact

    abi: list[dict[str, Any]] = artifact(f"test/{name}")["abi"]
    return abi


@pytest.fixture
async def deployed(chain: Chain) -> Deployed:
    """A fresh mock USDC and mirror on the chain under test."""
    return await deploy_with(chain, "MockUSDC")


# Ticketing's app processes, for the ledger's tests: the same as ticketing's fixtures, but on
# job queues of their own, so that a job is run by the process whose payment provider made it.
from tests.ticketing.conftest import (  # noqa: E402, F401
    STRIPE_KEY,
    TEST_LIMITS,
    WEBHOOK_SECRET,
    _start,
    dapi,
    localstripe,
    stripe_client,
    tapi,
)


@pytest.fixture(scope="session")
async def dev_app(
    app_server: tuple[web.Application, str],
) -> AsyncIterator[tuple[web.Application, str]]:
    """An app process with no Stripe key: the development provider."""
    runner, app, url = await _start(app_server, {"MHC_JOBS_QUEUE": "ledger_dev", **TEST_LIMITS})
    yield app, url
    await runner.cleanup()


@pytest.fixture(scope="session")
async def tapp(
    app_server: tuple[web.Application, str],
    localstripe: str,  # noqa: F811
) -> AsyncIterator[tuple[web.Application, str]]:
    """An app process whose ticketing uses Stripe (localstripe)."""
    runner, app, url = await _start(
        app_server,
        {
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": localstripe,
            "MHC_JOBS_QUEUE": "ledger_stripe",
            **TEST_LIMITS,
        },
    )
    yield app, url
    await runner.cleanup()


@pytest.fixture
def dclock(dapi: Any) -> Iterator[Clock]:  # noqa: F811
    """The dev-payments app's clock; advances are undone after the test."""
    clk = dapi.app[CLOCK]
    before = clk._offset
    yield clk
    clk._offset = before
