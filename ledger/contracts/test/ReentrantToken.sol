// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface IRoyaltyWithdraw {
    function withdraw() external returns (uint256);
}

/// @notice Test-only hostile token: credited as an artist itself, it withdraws from the mirror
/// and, when the mirror pays it with `transfer`, calls `withdraw` again before the first call
/// has finished.
contract ReentrantToken is ERC20 {
    IRoyaltyWithdraw public mirror;
    bool private _armed;

    constructor() ERC20("Reentrant Token", "EVIL") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setMirror(IRoyaltyWithdraw mirror_) external {
        mirror = mirror_;
    }

    function attack() external {
        _armed = true;
        mirror.withdraw();
        _armed = false;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (_armed && msg.sender == address(mirror)) {
            _armed = false;
            mirror.withdraw();
        }
        return super.transfer(to, value);
    }
}
