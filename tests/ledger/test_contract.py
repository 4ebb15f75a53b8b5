"""RoyaltyMirror.sol and its client, on py-evm (eth-tester) and on an anvil JSON-RPC node."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain import ChainError, RoyaltyMirror, artifact, load, reference, revert_reason
from server.config import load_config
from tests.ledger.conftest import REVERT, USDC, Chain, Deployed, deploy_with, token_abi

MIRROR_ABI: list[dict[str, Any]] = artifact("RoyaltyMirror")["abi"]


def address(key: bytes) -> str:
    return str(Account.from_key(key).address)


async def token_balance(d: Deployed, who: str) -> int:
    return int(await d.chain.view(d.token, token_abi("MockUSDC"), "balanceOf", who))


async def reverts(d: Deployed, key: bytes, fn: str, *args: Any) -> str | None:
    """Send `fn(*args)` to the mirror from `key`, expect a revert, and return its error name."""
    with pytest.raises(REVERT) as caught:
        await d.chain.call(key, d.mirror.address, MIRROR_ABI, fn, *args)
    return revert_reason(caught.value)


async def test_credit_then_withdraw_moves_exact_amounts_once(deployed: Deployed) -> None:
    d, chain = deployed, deployed.chain
    artist, owner = address(chain.artist), address(chain.owner)
    ref = uuid.uuid4()
    amount = 12_345_678  # 12.345678 tokens: the smallest unit must survive the round trip

    result = await d.mirror.credit_royalty(artist, amount, ref)

    assert not result.already_credited and result.tx_hash
    assert await d.mirror.balance_of(artist) == amount
    assert await d.mirror.total_credited(artist) == amount
    assert await d.mirror.credit_of(ref) == (artist, amount)
    assert await token_balance(d, d.mirror.address) == amount
    assert await token_balance(d, owner) == 1_000_000 * USDC - amount
    [event] = await d.mirror.recent_credits(artist)
    assert (event.ref, event.artist, event.amount, event.tx_hash) == (
        reference(ref),
        artist,
        amount,
        result.tx_hash,
    )

    receipt = await chain.call(chain.artist, d.mirror.address, MIRROR_ABI, "withdraw")
    assert receipt["status"] == 1
    assert await token_balance(d, artist) == amount
    assert await token_balance(d, d.mirror.address) == 0
    assert await d.mirror.balance_of(artist) == 0
    assert await d.mirror.total_credited(artist) == amount  # history stays

    assert await reverts(d, chain.artist, "withdraw") == "NothingToWithdraw"
    assert await token_balance(d, artist) == amount


async def test_only_the_owner_credits(deployed: Deployed) -> None:
    d, chain = deployed, deployed.chain
    artist = address(chain.artist)
    for key in (chain.stranger, chain.artist):
        name = await reverts(d, key, "creditRoyalty", artist, USDC, reference(uuid.uuid4()))
        assert name == "OwnableUnauthorizedAccount"
    assert await d.mirror.balance_of(artist) == 0
    assert await d.mirror.recent_credits() == []


async def test_duplicate_reference_is_refused_and_a_resend_is_already_done(
    deployed: Deployed,
) -> None:
    d, chain = deployed, deployed.chain
    artist = address(chain.artist)
    ref = uuid.uuid4()
    first = await d.mirror.credit_royalty(artist, 5 * USDC, ref)

    # The contract itself refuses the reference, whatever the client checks beforehand.
    name = await reverts(d, chain.owner, "creditRoyalty", artist, 5 * USDC, reference(ref))
    assert name == "ReferenceAlreadyUsed"
    # A resend after a crash is success already done, pointing at the first transaction.
    again = await d.mirror.credit_royalty(artist, 5 * USDC, ref)
    assert again.already_credited and again.tx_hash == first.tx_hash
    # The same reference for another amount or artist is a conflict, not a success.
    with pytest.raises(ChainError, match="was credited to"):
        await d.mirror.credit_royalty(artist, 6 * USDC, ref)
    with pytest.raises(ChainError, match="was credited to"):
        await d.mirror.credit_royalty(address(chain.stranger), 5 * USDC, ref)

    assert await d.mirror.balance_of(artist) == 5 * USDC
    assert await token_balance(d, d.mirror.address) == 5 * USDC
    assert len(await d.mirror.recent_credits()) == 1


async def test_concurrent_resends_credit_once(deployed: Deployed) -> None:
    d, chain = deployed, deployed.chain
    artist = address(chain.artist)
    ref = uuid.uuid4()
    others = [uuid.uuid4() for _ in range(4)]

    results = await asyncio.gather(
        *(d.mirror.credit_royalty(artist, 7 * USDC, ref) for _ in range(5)),
        *(d.mirror.credit_royalty(artist, USDC, other) for other in others),
    )

    resends = results[:5]
    assert sum(not r.already_credited for r in resends) == 1
    assert len({r.tx_hash for r in resends}) == 1
    assert all(not r.already_credited for r in results[5:])
    assert await d.mirror.total_credited(artist) == 7 * USDC + 4 * USDC
    assert await token_balance(d, d.mirror.address) == 11 * USDC
    assert len(await d.mirror.recent_credits(artist)) == 5


async def test_bad_credits_are_refused(deployed: Deployed) -> None:
    d, chain = deployed, deployed.chain
    artist = address(chain.artist)
    with pytest.raises(ChainError, match="InvalidAmount"):
        await d.mirror.credit_royalty(artist, 0, uuid.uuid4())
    with pytest.raises(ChainError, match="InvalidAmount"):
        await d.mirror.credit_royalty(artist, 2**96, uuid.uuid4())
    with pytest.raises(ChainError, match="InvalidArtist"):
        await d.mirror.credit_royalty("0x" + "00" * 20, USDC, uuid.uuid4())
    with pytest.raises(ChainError, match="InvalidReference"):
        await d.mirror.credit_royalty(artist, USDC, bytes(32))
    # More than the owner holds: the token refuses to move it, so nothing is credited.
    with pytest.raises(ChainError, match="creditRoyalty refused"):
        await d.mirror.credit_royalty(artist, 2_000_000 * USDC, uuid.uuid4())
    assert await d.mirror.total_credited(artist) == 0


async def test_reentrant_token_cannot_withdraw_twice(chain: Chain) -> None:
    d = await deploy_with(chain, "ReentrantToken")
    evil = d.token
    abi = token_abi("ReentrantToken")
    await chain.call(chain.stranger, evil, abi, "setMirror", d.mirror.address)
    await d.mirror.credit_royalty(evil, 3 * USDC, uuid.uuid4())
    await d.mirror.credit_royalty(address(chain.artist), 3 * USDC, uuid.uuid4())

    # The token, credited as an artist, withdraws and calls withdraw again from inside the
    # mirror's payment to it: the guard stops the inner call and the whole attack unwinds.
    with pytest.raises(REVERT) as caught:
        await chain.call(chain.stranger, evil, abi, "attack")
    assert revert_reason(caught.value) == "ReentrancyGuardReentrantCall"

    assert await d.mirror.balance_of(evil) == 3 * USDC
    assert await chain.view(evil, abi, "balanceOf", d.mirror.address) == 6 * USDC
    assert await chain.view(evil, abi, "balanceOf", evil) == 0


async def test_credit_waits_for_confirmations(chain: Chain) -> None:
    d = await deploy_with(chain, "MockUSDC")
    mirror = RoyaltyMirror(chain.w3, d.mirror.address, chain.owner, confirmations=3, poll=0.02)
    artist = address(chain.artist)
    ref = uuid.uuid4()

    task = asyncio.create_task(mirror.credit_royalty(artist, USDC, ref))
    while await mirror.credit_of(ref) is None:  # mined in a block of its own
        await asyncio.sleep(0.02)
    await chain.mine(1)
    await asyncio.sleep(0.2)  # ten polls: the client saw two confirmations and kept waiting
    assert not task.done()
    await chain.mine(1)
    result = await asyncio.wait_for(task, 10)
    assert not result.already_credited
    receipt = await chain.w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    assert await chain.w3.eth.block_number >= receipt["blockNumber"] + 2


async def test_chain_id_and_owner(deployed: Deployed) -> None:
    d, chain = deployed, deployed.chain
    assert await d.mirror.chain_id() == await chain.w3.eth.chain_id
    assert await chain.view(d.mirror.address, MIRROR_ABI, "owner") == address(chain.owner)
    assert await d.mirror.token() == d.token


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)  # configuration names a JSON-RPC node
async def test_configured_client_credits_over_json_rpc(chain: Chain, tmp_path: Path) -> None:
    d = await deploy_with(chain, "MockUSDC")
    key_file = tmp_path / "owner.key"
    key_file.write_text(chain.owner.hex() + "\n")
    cfg = load(
        load_config(
            {
                "MHC_JWT_SECRET": "j" * 32,
                "MHC_PLAYBACK_SECRET": "p" * 32,
                "MHC_HOOK_SECRET": "h" * 32,
                "MHC_STATE_DIR": str(tmp_path / "state"),
                "MHC_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
                "MHC_CHAIN_CONTRACT": d.mirror.address.lower(),
                "MHC_CHAIN_KEY_FILE": str(key_file),
                "MHC_CHAIN_CONFIRMATIONS": "1",
            }
        )
    )
    assert cfg is not None and cfg.owner == address(chain.owner)
    client = RoyaltyMirror.from_config(cfg)
    try:
        result = await client.credit_royalty(address(chain.artist), 2 * USDC, uuid.uuid4())
        assert not result.already_credited
        assert await client.balance_of(address(chain.artist)) == 2 * USDC
        assert await client.chain_id() == 31337  # anvil's default chain id
    finally:
        await client.close()
