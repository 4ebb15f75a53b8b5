"""Client of the on-chain royalty mirror (contracts/RoyaltyMirror.sol) over web3's async API.

The mirror is optional: `load` returns None unless the operator sets MHC_CHAIN_RPC_URL,
MHC_CHAIN_CONTRACT and MHC_CHAIN_KEY_FILE. Credits are keyed by the ledger transfer id, and the
contract refuses a reference it has seen, so resending a credit after a crash is harmless:
`credit_royalty` reports such a resend as already done instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from server.config import Config, ConfigError, env_number, env_value

# py_ecc, which web3 and eth_account import, raises the interpreter's recursion limit to 100000
# for the whole process. At that depth deeply nested input (JSON, for one) overflows the C stack
# and kills the process instead of raising RecursionError, so the limit is put back.
_recursion_limit = sys.getrecursionlimit()
try:
    from eth_account import Account
    from eth_account.signers.local import LocalAccount
    from eth_typing import ChecksumAddress
    from hexbytes import HexBytes
    from web3 import AsyncHTTPProvider, AsyncWeb3
    from web3.contract import AsyncContract
    from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception
    from web3.types import TxReceipt
finally:
    sys.setrecursionlimit(_recursion_limit)

ARTIFACT_DIR = Path(__file__).parent / "contracts" / "build"
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# The settings without which the mirror stays off.
_REQUIRED = ("MHC_CHAIN_RPC_URL", "MHC_CHAIN_CONTRACT", "MHC_CHAIN_KEY_FILE")


class ChainError(Exception):
    """The chain refused or lost a transaction; the message says which and why."""


class CreditConflict(ChainError):
    """The reference was credited before with another artist or amount: no resend can succeed."""


@dataclass(frozen=True)
class ChainConfig:
    """Where the mirror lives and the key that owns it; the URL (it may embed an API key) and
    the private key stay out of repr."""

    rpc_url: str = field(repr=False)
    contract: ChecksumAddress
    key_file: Path
    private_key: bytes = field(repr=False)
    confirmations: int = 2

    @property
    def owner(self) -> ChecksumAddress:
        """The address the key signs for (the contract's owner)."""
        return AsyncWeb3.to_checksum_address(Account.from_key(self.private_key).address)


def checksum_address(value: str, name: str) -> ChecksumAddress:
    """`value` as a checksummed address; a mixed-case value must already carry a valid
    checksum, since a typo in it would otherwise go unnoticed."""
    if not _ADDRESS.fullmatch(value):
        raise ConfigError(f"{name} must be a 0x-prefixed 20-byte hex address")
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and not (
        AsyncWeb3.is_checksum_address(value)
    ):
        raise ConfigError(f"{name} has a bad checksum: {value}")
    return AsyncWeb3.to_checksum_address(value)


def _private_key(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"MHC_CHAIN_KEY_FILE cannot be read: {exc.strerror}") from None
    if not _HEX_KEY.fullmatch(text):
        raise ConfigError("MHC_CHAIN_KEY_FILE must hold one 32-byte hex private key")
    key = bytes.fromhex(text.removeprefix("0x"))
    try:
        Account.from_key(key)
    except (ValueError, TypeError):
        # Zero, or not below the curve order: hex of the right length, but no key.
        raise ConfigError("MHC_CHAIN_KEY_FILE holds no valid secp256k1 private key") from None
    return key


def load(core: Config, env: Mapping[str, str] | None = None) -> ChainConfig | None:
    """The mirror's settings from the core's merged environment (or `env`); None when the
    mirror is not configured. A partial setup is a ConfigError naming what is missing."""
    e = dict(core.env if env is None else env)
    rpc_url = env_value(e, "MHC_CHAIN_RPC_URL")
    contract = e.get("MHC_CHAIN_CONTRACT", "").strip()
    key_file = e.get("MHC_CHAIN_KEY_FILE", "").strip()
    given = dict(zip(_REQUIRED, (rpc_url, contract, key_file), strict=True))
    if not any(given.values()) and not e.get("MHC_CHAIN_CONFIRMATIONS"):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(f"the chain mirror needs {', '.join(missing)} as well")
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigError("MHC_CHAIN_RPC_URL must start with http:// or https://")
    return ChainConfig(
        rpc_url=rpc_url,
        contract=checksum_address(contract, "MHC_CHAIN_CONTRACT"),
        key_file=Path(key_file),
        private_key=_private_key(Path(key_file)),
        confirmations=env_number(e, "MHC_CHAIN_CONFIRMATIONS", 2, 1, 1000, int),
    )


@cache
def artifact(name: str) -> dict[str, Any]:
    """A compiled contract (abi, bytecode) from contracts/build, e.g. "RoyaltyMirror"."""
    data: dict[str, Any] = json.loads((ARTIFACT_DIR / f"{name}.json").read_text())
    return data


def reference(ref: uuid.UUID | bytes) -> bytes:
    """The bytes32 reference of a ledger transfer id: a UUID is its 128-bit value,
    left-padded (bytes32(uint256(id)) in Solidity)."""
    raw = ref.bytes if isinstance(ref, uuid.UUID) else bytes(ref)
    if len(raw) > 32:
        raise ValueError("a reference is at most 32 bytes")
    return raw.rjust(32, b"\0")


@dataclass(frozen=True)
class CreditResult:
    """The outcome of `credit_royalty`; a resend of a known reference is `already_credited`,
    with the first transaction's hash when the node still finds its event."""

    tx_hash: str | None
    already_credited: bool


@dataclass(frozen=True)
class RoyaltyCredit:
    """One RoyaltyCredited event."""

    ref: bytes
    artist: ChecksumAddress
    amount: int
    tx_hash: str
    block_number: int


class Transactor:
    """Signs and sends transactions from one key, one at a time, and waits for confirmations."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        private_key: bytes,
        *,
        confirmations: int = 1,
        timeout: float = 300.0,
        poll: float = 0.2,
    ) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(private_key)
        self.confirmations = confirmations
        self.timeout = timeout
        self.poll = poll
        # One nonce sequence per key: concurrent sends would otherwise reuse a nonce.
        self._lock = asyncio.Lock()

    async def send(self, tx: dict[str, Any]) -> TxReceipt:
        """Sign and send `tx` (to, data, value), then return its receipt once it has the
        configured confirmations; a reverted transaction's receipt is returned as well."""
        async with self._lock:
            tx = {
                **tx,
                "from": self.account.address,
                "chainId": await self.w3.eth.chain_id,
                "nonce": await self.w3.eth.get_transaction_count(self.account.address, "pending"),
            }
            filled = await self._fill(tx)
            signed = self.account.sign_transaction(filled)
            tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return await self.confirmed(tx_hash)

    async def _fill(self, tx: dict[str, Any]) -> dict[str, Any]:
        if "gas" not in tx:
            tx["gas"] = await self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        latest = await self.w3.eth.get_block("latest")
        tip = await self.w3.eth.max_priority_fee
        base = int(latest.get("baseFeePerGas", 0))
        # Twice the base fee leaves room for several full blocks before the fee falls short.
        tx.update(maxPriorityFeePerGas=tip, maxFeePerGas=2 * base + tip, type=2)
        return tx

    async def confirmed(self, tx_hash: HexBytes) -> TxReceipt:
        """The receipt of `tx_hash` once its block has `confirmations` blocks on top of it
        (counting its own) and is still on the canonical chain."""
        deadline = time.monotonic() + self.timeout
        while True:
            receipt = await self._receipt(tx_hash, deadline)
            target = receipt["blockNumber"] + self.confirmations - 1
            while await self.w3.eth.block_number < target:
                self._check(deadline, tx_hash)
                await asyncio.sleep(self.poll)
            try:
                again = await self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                again = None
            # A reorganisation may move the transaction to another block, or drop it: count
            # the confirmations again from wherever it now is.
            if again is not None and again["blockHash"] == receipt["blockHash"]:
                return receipt

    async def _receipt(self, tx_hash: HexBytes, deadline: float) -> TxReceipt:
        while True:
            try:
                return await self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                self._check(deadline, tx_hash)
                await asyncio.sleep(self.poll)

    def _check(self, deadline: float, tx_hash: HexBytes) -> None:
        if time.monotonic() > deadline:
            raise ChainError(f"transaction {tx_hash.to_0x_hex()} not confirmed in time")


async def deploy(
    w3: AsyncWeb3[Any], private_key: bytes, name: str, *args: Any, confirmations: int = 1
) -> ChecksumAddress:
    """Deploy the built contract `name` with constructor `args`; return its address."""
    built = artifact(name)
    factory = w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])
    sender = Transactor(w3, private_key, confirmations=confirmations)
    data = factory.constructor(*args).data_in_transaction
    receipt = await sender.send({"data": data, "value": 0})
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError(f"deploying {name} failed")
    return receipt["contractAddress"]


async def deploy_mirror(
    w3: AsyncWeb3[Any], private_key: bytes, token: str, confirmations: int = 1
) -> ChecksumAddress:
    """Deploy a RoyaltyMirror paying in `token`, owned by the deploying key."""
    owner = Account.from_key(private_key).address
    return await deploy(
        w3,
        private_key,
        "RoyaltyMirror",
        AsyncWeb3.to_checksum_address(token),
        owner,
        confirmations=confirmations,
    )


def revert_data(exc: BaseException) -> bytes | None:
    """The revert data behind `exc`: a node's ContractLogicError carries it as hex, py-evm's
    Revert (under eth-tester's TransactionFailed) as bytes; None when `exc` is no revert."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ContractLogicError) and isinstance(seen.data, str):
            return bytes.fromhex(seen.data.removeprefix("0x"))
        if seen.args and isinstance(seen.args[0], bytes):
            return seen.args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def error_name(abi: Sequence[Mapping[str, Any]], data: bytes) -> str | None:
    """The name of the ABI's custom error whose selector starts `data`."""
    for item in abi:
        if item.get("type") == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if data[:4] == AsyncWeb3.keccak(text=signature)[:4]:
                return str(item["name"])
    return None


def revert_reason(exc: BaseException) -> str | None:
    """The mirror's custom error (or an inherited one) that `exc` reverted with."""
    data = revert_data(exc)
    return None if data is None else error_name(artifact("RoyaltyMirror")["abi"], data)


class RoyaltyMirror:
    """The deployed mirror, seen through the owner's key."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        address: str,
        private_key: bytes,
        *,
        confirmations: int = 1,
        timeout: float = 300.0,
        poll: float = 0.2,
    ) -> None:
        self.w3 = w3
        self.address = AsyncWeb3.to_checksum_address(address)
        self.contract: AsyncContract = w3.eth.contract(
            address=self.address, abi=artifact("RoyaltyMirror")["abi"]
        )
        self.sender = Transactor(
            w3, private_key, confirmations=confirmations, timeout=timeout, poll=poll
        )

    @classmethod
    def from_config(cls, cfg: ChainConfig) -> RoyaltyMirror:
        """A client of the configured node and contract."""
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(cfg.rpc_url))
        return cls(w3, cfg.contract, cfg.private_key, confirmations=cfg.confirmations)

    async def close(self) -> None:
        """Close the provider's HTTP session."""
        disconnect = getattr(self.w3.provider, "disconnect", None)
        if disconnect is not None:
            await disconnect()

    async def chain_id(self) -> int:
        """The chain the node serves."""
        return int(await self.w3.eth.chain_id)

    async def balance_of(self, artist: str) -> int:
        """What `artist` can withdraw now, in token minor units."""
        fn = self.contract.functions.balanceOf(AsyncWeb3.to_checksum_address(artist))
        return int(await fn.call())

    async def total_credited(self, artist: str) -> int:
        """Everything ever credited to `artist`, in token minor units."""
        fn = self.contract.functions.totalCredited(AsyncWeb3.to_checksum_address(artist))
        return int(await fn.call())

    async def credit_of(self, ref: uuid.UUID | bytes) -> tuple[ChecksumAddress, int] | None:
        """The (artist, amount) credited under `ref`, or None when `ref` is unused."""
        artist, amount = await self.contract.functions.creditOf(reference(ref)).call()
        if int(artist, 16) == 0:
            return None
        return AsyncWeb3.to_checksum_address(artist), int(amount)

    async def token(self) -> ChecksumAddress:
        """The ERC-20 token the mirror pays in."""
        return AsyncWeb3.to_checksum_address(await self.contract.functions.token().call())

    async def credit_royalty(
        self, artist: str, amount: int, ref: uuid.UUID | bytes
    ) -> CreditResult:
        """Credit `amount` to `artist` under `ref`, wait for the confirmations and return the
        transaction hash. A reference credited before with the same artist and amount is
        success already done; with different ones it is a CreditConflict."""
        artist = AsyncWeb3.to_checksum_address(artist)
        ref32 = reference(ref)
        if (done := await self._already(artist, amount, ref32)) is not None:
            return done
        data = self.contract.encode_abi("creditRoyalty", args=[artist, amount, ref32])
        try:
            receipt = await self.sender.send({"to": self.address, "data": data, "value": 0})
        except Exception as exc:
            if revert_data(exc) is None:
                raise
            # Refused before sending (gas estimation): maybe another sender credited it.
            if (done := await self._already(artist, amount, ref32)) is not None:
                return done
            raise ChainError(f"creditRoyalty refused: {revert_reason(exc)}") from exc
        if receipt["status"] != 1:
            if (done := await self._already(artist, amount, ref32)) is not None:
                return done
            raise ChainError(f"creditRoyalty reverted in {receipt['transactionHash'].to_0x_hex()}")
        return CreditResult(tx_hash=receipt["transactionHash"].to_0x_hex(), already_credited=False)

    async def _already(
        self, artist: ChecksumAddress, amount: int, ref32: bytes
    ) -> CreditResult | None:
        seen = await self.credit_of(ref32)
        if seen is None:
            return None
        if seen != (artist, amount):
            raise CreditConflict(
                f"reference 0x{ref32.hex()} was credited to {seen[0]} for {seen[1]}, "
                f"not to {artist} for {amount}"
            )
        return CreditResult(tx_hash=await self._credit_tx(ref32), already_credited=True)

    async def _credit_tx(self, ref32: bytes) -> str | None:
        try:
            logs = await self.contract.events.RoyaltyCredited.get_logs(
                argument_filters={"ref": ref32}, from_block=0, to_block="latest"
            )
        except (Web3Exception, ValueError):
            # Some providers cap eth_getLogs ranges; the first hash is only informative, the
            # credit itself is proven by creditOf.
            return None
        for log in logs:
            return str(log["transactionHash"].to_0x_hex())
        return None

    async def recent_credits(
        self, artist: str | None = None, blocks: int = 10_000
    ) -> list[RoyaltyCredit]:
        """RoyaltyCredited events of the last `blocks` blocks (of `artist` only, if given),
        newest first."""
        latest = await self.w3.eth.block_number
        filters = {} if artist is None else {"artist": AsyncWeb3.to_checksum_address(artist)}
        logs = await self.contract.events.RoyaltyCredited.get_logs(
            argument_filters=filters, from_block=max(0, latest - blocks + 1), to_block=latest
        )
        credits = [
            RoyaltyCredit(
                ref=bytes(log["args"]["ref"]),
                artist=AsyncWeb3.to_checksum_address(log["args"]["artist"]),
                amount=int(log["args"]["amount"]),
                tx_hash=log["transactionHash"].to_0x_hex(),
                block_number=int(log["blockNumber"]),
            )
            for log in logs
        ]
        credits.sort(key=lambda c: c.block_number, reverse=True)
        return credits

    async def approve_funding(self, amount: int) -> str:
        """Let the mirror pull up to `amount` tokens from the owner for coming credits."""
        token = self.w3.eth.contract(address=await self.token(), abi=ERC20_ABI)
        data = token.encode_abi("approve", args=[self.address, amount])
        receipt = await self.sender.send({"to": token.address, "data": data, "value": 0})
        if receipt["status"] != 1:
            raise ChainError("approve reverted")
        return receipt["transactionHash"].to_0x_hex()


def _fn(
    name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str
) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "stateMutability": mutability,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
    }


# The slice of ERC-20 the owner needs to fund the mirror.
ERC20_ABI = [
    _fn("approve", [("spender", "address"), ("value", "uint256")], ["bool"], "nonpayable"),
    _fn("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], "view"),
    _fn("balanceOf", [("account", "address")], ["uint256"], "view"),
]
