// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title On-chain mirror of the royalties the platform's ledger owes each artist.
/// @notice The owner (the platform) credits an artist under the ledger transfer id and pays the
/// tokens in at the same time, so every balance is always fully backed; artists pull their
/// balance whenever they like.
contract RoyaltyMirror is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev One slot per reference: who was credited and how much (zero artist = unseen).
    struct Credit {
        address artist;
        uint96 amount;
    }

    /// @notice The stable token credits and payouts are made in (USDC-like, 6 decimals).
    IERC20 public immutable token;

    /// @notice Sum of every artist's balance: what the contract owes in total.
    uint256 public totalOwed;

    mapping(address artist => uint256) private _balances;
    mapping(address artist => uint256) private _credited;
    mapping(bytes32 ref => Credit) private _credits;

    event RoyaltyCredited(bytes32 indexed ref, address indexed artist, uint256 amount);
    event RoyaltyWithdrawn(address indexed artist, uint256 amount);

    error InvalidToken();
    error InvalidArtist();
    error InvalidAmount();
    error InvalidReference();
    error ReferenceAlreadyUsed(bytes32 ref);
    error NothingToWithdraw();

    constructor(IERC20 token_, address owner_) Ownable(owner_) {
        if (address(token_) == address(0)) revert InvalidToken();
        token = token_;
    }

    /// @notice Credit `amount` to `artist` under the ledger transfer id `ref`, pulling the
    /// tokens from the owner (who must have approved this contract). A `ref` is credited at
    /// most once, so resending after a crash cannot pay twice.
    function creditRoyalty(address artist, uint256 amount, bytes32 ref)
        external
        onlyOwner
        nonReentrant
    {
        if (artist == address(0) || artist == address(this)) revert InvalidArtist();
        if (amount == 0 || amount > type(uint96).max) revert InvalidAmount();
        if (ref == bytes32(0)) revert InvalidReference();
        if (_credits[ref].artist != address(0)) revert ReferenceAlreadyUsed(ref);

        _credits[ref] = Credit(artist, uint96(amount));
        _balances[artist] += amount;
        _credited[artist] += amount;
        totalOwed += amount;
        emit RoyaltyCredited(ref, artist, amount);

        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Pay the caller's whole balance out in tokens.
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();

        // Effects before the token call: a reentrant call finds nothing left to take.
        _balances[msg.sender] = 0;
        totalOwed -= amount;
        emit RoyaltyWithdrawn(msg.sender, amount);

        token.safeTransfer(msg.sender, amount);
    }

    /// @notice What `artist` can withdraw now.
    function balanceOf(address artist) external view returns (uint256) {
        return _balances[artist];
    }

    /// @notice Everything ever credited to `artist`, withdrawn or not.
    function totalCredited(address artist) external view returns (uint256) {
        return _credited[artist];
    }

    /// @notice The credit recorded under `ref` (artist zero when `ref` was never used).
    function creditOf(bytes32 ref) external view returns (address artist, uint256 amount) {
        Credit memory credit = _credits[ref];
        return (credit.artist, credit.amount);
    }
}
