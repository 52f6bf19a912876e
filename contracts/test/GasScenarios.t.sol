// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMeowNFT} from "../src/IMeowNFT.sol";
import {ISoundRegistry} from "../src/ISoundRegistry.sol";
import {Test} from "./utils/Test.sol";

/// @notice The gas scenarios of the issue, with realistic inputs (a 59-character CIDv1, a short
/// label, a deadline an hour ahead), one transaction each, for a clean gas report:
///   bash scripts/forge.sh test --match-contract GasScenarios --gas-report
/// The report's figures include the 21k base and calldata, like a receipt's gasUsed. For
/// registerSoundFor, max = the contributor's first relayed registration (fresh nonce slot),
/// min = a later one. `miao bench gas` measures the same on anvil.
contract GasScenarios is Test {
    string internal constant CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    string internal constant URI = "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    uint256 internal constant CONTRIBUTOR_KEY = 0xC0FFEE;

    ISoundRegistry internal registry;
    IMeowNFT internal nft;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = ISoundRegistry(vm.deployCode("SoundRegistry.sol:SoundRegistry"));
        nft = IMeowNFT(vm.deployCode("MeowNFT.sol:MeowNFT"));
    }

    function _relay(bytes32 digest) internal {
        address contributor = vm.addr(CONTRIBUTOR_KEY);
        uint256 deadline = block.timestamp + 1 hours;
        uint256 nonce = registry.nonces(contributor);
        bytes memory sig = signature(
            CONTRIBUTOR_KEY, registry.hashRegisterSound(contributor, digest, 0, CID, "purr", nonce, deadline)
        );
        registry.registerSoundFor(contributor, digest, 0, CID, "purr", deadline, sig);
    }

    function test_gas_registerDirect() public {
        registry.registerSound(keccak256("a"), 0, CID, "purr");
    }

    function test_gas_registerRelayed_firstAndSteady() public {
        _relay(keccak256("first")); // fresh nonce slot
        _relay(keccak256("second")); // nonce slot already non-zero
    }

    function test_gas_setLabel() public {
        bytes32 soundId = keccak256("a");
        bytes32 modelId = keccak256("weights");
        registry.registerSound(soundId, 0, CID, "purr");
        string[] memory names = new string[](4);
        (names[0], names[1], names[2], names[3]) = ("cat", "dog", "infant", "other");
        registry.registerModel(modelId, "kind-v1", "classify-kind", names);
        registry.setLabel(soundId, modelId, 0, 9_250);
    }

    function test_gas_mintAndRedeem() public {
        nft.mint(address(0xCA7), URI, keccak256("a"));
        uint256 userKey = 0xCA7CA7;
        address user = vm.addr(userKey);
        IMeowNFT.Voucher memory v = IMeowNFT.Voucher(user, URI, keccak256("a"), 1, block.timestamp + 1 days);
        bytes memory sig = signature(0xA11CE, nft.hashVoucher(v));
        (bool ok,) = address(nft).call(
            abi.encodeWithSignature("grantRole(bytes32,address)", nft.MINTER_ROLE(), vm.addr(0xA11CE))
        );
        vm.assertTrue(ok, "grant minter");
        vm.prank(user);
        nft.redeem(v, sig);
    }
}
