// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice A minimal stand-in for forge-std's `Test`: the cheatcode handle, `bound`, signing
/// helpers, and the invariant-target hooks forge discovers by name (`targetContracts`,
/// `targetSelectors`). Assertions are the `vm.assert*` cheatcodes, which revert on failure.
abstract contract Test {
    /// @dev Foundry's cheatcode address, `address(uint160(uint256(keccak256("hevm cheat code"))))`.
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @dev The shape forge expects from `targetSelectors()`.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    FuzzSelector[] private _targetedSelectors;

    /// @notice Contracts the invariant fuzzer calls (read by forge).
    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    /// @notice Functions the invariant fuzzer calls (read by forge).
    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetedSelectors.push(selector);
    }

    /// @dev Map `x` into `[min, max]` uniformly enough for fuzzing; keeps in-range values as-is.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    /// @dev A 65-byte `r || s || v` signature of `digest` by `privateKey`.
    function signature(uint256 privateKey, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(privateKey, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev A valid secp256k1 private key derived from a fuzzed seed.
    function boundKey(uint256 seed) internal pure returns (uint256) {
        // secp256k1 group order
        return bound(seed, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
    }
}
