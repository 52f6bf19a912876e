// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IMeowNFT} from "../src/IMeowNFT.sol";
import {ISoundRegistry} from "../src/ISoundRegistry.sol";
import {Test} from "./utils/Test.sol";

/// @dev Drives the registry from a few actors: registrations (direct and relayed, over a small
/// pool of digests so duplicates and replays happen), labels from holders and non-holders of
/// LABELLER_ROLE, and the admin granting and revoking that role. Records what succeeded.
contract RegistryHandler is Test {
    ISoundRegistry public immutable registry;
    address public immutable admin;
    bytes32 internal immutable labellerRole;

    uint256 internal constant ACTORS = 5;
    uint256 internal constant DIGESTS = 12;
    uint256 internal constant MODELS = 2;
    string internal constant CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    // ghost state
    mapping(bytes32 digest => address) public firstContributor;
    bytes32[] public registeredDigests;
    uint256 public successfulRegistrations;
    uint256 public labelsWritten;
    uint256 public labelsWrittenWithoutRole; // must stay 0
    uint256 public labelsOverwritten; // must stay 0
    mapping(bytes32 soundId => mapping(bytes32 modelId => address)) public writerOf;
    uint256 public labelAttemptsWithoutRole; // shows the fuzzer really tried

    constructor(ISoundRegistry registry_, address admin_) {
        registry = registry_;
        admin = admin_;
        labellerRole = registry_.LABELLER_ROLE();
    }

    function actorKey(uint256 seed) public pure returns (uint256) {
        return 0xA000 + (seed % ACTORS);
    }

    function actor(uint256 seed) public pure returns (address) {
        return vm.addr(actorKey(seed));
    }

    function digest(uint256 seed) public pure returns (bytes32) {
        return keccak256(abi.encode("digest", seed % DIGESTS));
    }

    function model(uint256 seed) public pure returns (bytes32) {
        return keccak256(abi.encode("model", seed % MODELS));
    }

    function registeredCount() external view returns (uint256) {
        return registeredDigests.length;
    }

    function _recordRegistration(bytes32 d, address contributor) internal {
        successfulRegistrations++;
        if (firstContributor[d] == address(0)) {
            firstContributor[d] = contributor;
            registeredDigests.push(d);
        }
    }

    function registerSound(uint256 actorSeed, uint256 digestSeed, uint8 kind) external {
        address who = actor(actorSeed);
        bytes32 d = digest(digestSeed);
        kind = uint8(bound(kind, 0, 3));
        vm.prank(who);
        try registry.registerSound(d, kind, CID, "fuzz") {
            _recordRegistration(d, who);
        } catch {}
    }

    function registerSoundFor(uint256 actorSeed, uint256 signerSeed, uint256 digestSeed, uint256 nonceSkew)
        external
    {
        address who = actor(actorSeed);
        bytes32 d = digest(digestSeed);
        // usually the right nonce, sometimes a stale one (a replay) or a future one
        uint256 nonce = registry.nonces(who);
        nonceSkew = bound(nonceSkew, 0, 5);
        if (nonceSkew == 1 && nonce > 0) nonce -= 1;
        else if (nonceSkew == 2) nonce += 1;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 hash = registry.hashRegisterSound(who, d, 0, CID, "", nonce, deadline);
        bytes memory sig = signature(actorKey(signerSeed), hash);
        try registry.registerSoundFor(who, d, 0, CID, "", deadline, sig) {
            _recordRegistration(d, who);
        } catch {}
    }

    function setLabel(uint256 callerSeed, uint256 digestSeed, uint256 modelSeed, uint16 index, uint16 confidence)
        external
    {
        // callers: the actors (some hold the role) and the admin
        address caller = callerSeed % (ACTORS + 1) == ACTORS ? admin : actor(callerSeed);
        bytes32 soundId = digest(digestSeed);
        bytes32 modelId = model(modelSeed);
        index = uint16(bound(index, 0, 4)); // 4 is out of range for 4-label models
        confidence = uint16(bound(confidence, 0, 10_001));
        bool holder = IAccessControl(address(registry)).hasRole(labellerRole, caller);
        if (!holder) labelAttemptsWithoutRole++;
        address before = writerOf[soundId][modelId];
        vm.prank(caller);
        try registry.setLabel(soundId, modelId, index, confidence) {
            labelsWritten++;
            if (!holder) labelsWrittenWithoutRole++;
            if (before != address(0)) labelsOverwritten++;
            writerOf[soundId][modelId] = caller;
        } catch {}
    }

    function grantLabeller(uint256 actorSeed) external {
        vm.prank(admin);
        IAccessControl(address(registry)).grantRole(labellerRole, actor(actorSeed));
    }

    function revokeLabeller(uint256 actorSeed) external {
        vm.prank(admin);
        IAccessControl(address(registry)).revokeRole(labellerRole, actor(actorSeed));
    }
}

contract RegistryInvariants is Test {
    ISoundRegistry internal registry;
    RegistryHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = ISoundRegistry(vm.deployCode("SoundRegistry.sol:SoundRegistry"));
        handler = new RegistryHandler(registry, address(this));
        string[] memory names = new string[](4);
        (names[0], names[1], names[2], names[3]) = ("cat", "dog", "infant", "other");
        registry.registerModel(handler.model(0), "m0", "classify-kind", names);
        registry.registerModel(handler.model(1), "m1", "classify-kind", names);
        IAccessControl(address(registry)).grantRole(registry.LABELLER_ROLE(), handler.actor(0));
        targetContract(address(handler));
    }

    /// A label is only ever written by a LABELLER_ROLE holder, and is never overwritten.
    function invariant_labelsOnlyFromLabellers() public view {
        vm.assertEq(handler.labelsWrittenWithoutRole(), 0, "label written without LABELLER_ROLE");
        vm.assertEq(handler.labelsOverwritten(), 0, "label overwritten");
        uint256 n = handler.registeredCount();
        for (uint256 i = 0; i < n; i++) {
            bytes32 soundId = handler.registeredDigests(i);
            for (uint256 m = 0; m < 2; m++) {
                bytes32 modelId = handler.model(m);
                (bool set,,,, address labeller) = registry.labels(soundId, modelId);
                vm.assertEq(labeller, handler.writerOf(soundId, modelId), "stored labeller is the recorded writer");
                vm.assertEq(set, labeller != address(0), "set iff written");
            }
        }
    }

    /// A digest maps to at most one sound: each registered once, to its first contributor.
    function invariant_digestRegistersOnce() public view {
        uint256 n = handler.registeredCount();
        vm.assertEq(handler.successfulRegistrations(), n, "a digest registered twice");
        for (uint256 i = 0; i < n; i++) {
            bytes32 d = handler.registeredDigests(i);
            (address contributor,,, uint64 registeredAt) = registry.sounds(d);
            vm.assertEq(contributor, handler.firstContributor(d), "contributor changed");
            vm.assertTrue(registeredAt != 0, "registered");
        }
    }

    /// Nonces only ever count successful relayed registrations (checked via the ghost sum).
    function invariant_noncesNeverExceedRegistrations() public view {
        uint256 total;
        for (uint256 i = 0; i < 5; i++) {
            total += registry.nonces(handler.actor(i));
        }
        vm.assertLe(total, handler.successfulRegistrations(), "nonce without a registration");
    }
}

/// @dev Drives the NFT: mints from minters and non-minters, vouchers signed by minters and by
/// others, redeemed by their recipient or someone else, from a small pool of voucher ids.
contract MeowHandler is Test {
    IMeowNFT public immutable nft;
    uint256 public immutable minterKey;
    bytes32 internal immutable minterRole;

    uint256 internal constant ACTORS = 4;
    uint256 internal constant VOUCHER_IDS = 10;

    uint256 public mints;
    uint256 public redemptions;
    uint256 public doubleRedemptions; // must stay 0
    uint256 public unauthorizedCreations; // must stay 0
    mapping(uint256 voucherId => bool) public seen;

    constructor(IMeowNFT nft_, uint256 minterKey_) {
        nft = nft_;
        minterKey = minterKey_;
        minterRole = nft_.MINTER_ROLE();
    }

    function actorKey(uint256 seed) public pure returns (uint256) {
        return 0xB000 + (seed % ACTORS);
    }

    function actor(uint256 seed) public pure returns (address) {
        return vm.addr(actorKey(seed));
    }

    function mint(uint256 callerSeed, uint256 toSeed, bool asMinter) external {
        address caller = asMinter ? vm.addr(minterKey) : actor(callerSeed);
        bool holder = IAccessControl(address(nft)).hasRole(minterRole, caller);
        vm.prank(caller);
        try nft.mint(actor(toSeed), "ipfs://bafy", keccak256("sound")) {
            mints++;
            if (!holder) unauthorizedCreations++;
        } catch {}
    }

    function redeem(uint256 recipientSeed, uint256 callerSeed, uint256 voucherSeed, bool minterSigns, uint256 signerSeed)
        external
    {
        address recipient = actor(recipientSeed);
        // mostly the recipient redeems; sometimes another actor tries
        address caller = callerSeed % 4 == 0 ? actor(callerSeed / 4) : recipient;
        uint256 voucherId = 1 + (voucherSeed % VOUCHER_IDS);
        IMeowNFT.Voucher memory v =
            IMeowNFT.Voucher(recipient, "ipfs://bafyvoucher", keccak256("sound"), voucherId, block.timestamp + 1 days);
        uint256 key = minterSigns ? minterKey : actorKey(signerSeed);
        bool signerIsMinter = IAccessControl(address(nft)).hasRole(minterRole, vm.addr(key));
        bytes memory sig = signature(key, nft.hashVoucher(v));
        vm.prank(caller);
        try nft.redeem(v, sig) {
            redemptions++;
            if (seen[voucherId]) doubleRedemptions++;
            if (!signerIsMinter || caller != recipient) unauthorizedCreations++;
            seen[voucherId] = true;
        } catch {}
    }

    /// @dev Tokens move between actors, so balances are only conserved in sum.
    function transfer(uint256 toSeed, uint256 tokenSeed) external {
        uint256 supply = nft.totalSupply();
        if (supply == 0) return;
        uint256 tokenId = 1 + (tokenSeed % supply);
        address owner = IERC721(address(nft)).ownerOf(tokenId);
        vm.prank(owner);
        IERC721(address(nft)).transferFrom(owner, actor(toSeed), tokenId);
    }
}

contract MeowInvariants is Test {
    IMeowNFT internal nft;
    MeowHandler internal handler;
    uint256 internal constant MINTER_KEY = 0xA11CE;

    function setUp() public {
        vm.warp(1_700_000_000);
        nft = IMeowNFT(vm.deployCode("MeowNFT.sol:MeowNFT"));
        IAccessControl(address(nft)).grantRole(nft.MINTER_ROLE(), vm.addr(MINTER_KEY));
        handler = new MeowHandler(nft, MINTER_KEY);
        targetContract(address(handler));
    }

    /// NFT supply equals direct mints plus redemptions, and matches what the handler saw succeed.
    function invariant_supplyIsMintsPlusRedemptions() public view {
        vm.assertEq(nft.totalSupply(), nft.mintedCount() + nft.redeemedCount(), "supply != minted + redeemed");
        vm.assertEq(nft.mintedCount(), handler.mints(), "minted count");
        vm.assertEq(nft.redeemedCount(), handler.redemptions(), "redeemed count");
        uint256 balances;
        for (uint256 i = 0; i < 4; i++) {
            balances += IERC721(address(nft)).balanceOf(handler.actor(i));
        }
        vm.assertEq(balances, nft.totalSupply(), "balances sum to supply");
    }

    /// A voucher id redeems at most once, and only minter-signed vouchers by their recipient create tokens.
    function invariant_vouchersRedeemOnceAndOnlyWhenAuthorized() public view {
        vm.assertEq(handler.doubleRedemptions(), 0, "voucher redeemed twice");
        vm.assertEq(handler.unauthorizedCreations(), 0, "token created without authority");
        for (uint256 id = 1; id <= 10; id++) {
            vm.assertEq(nft.voucherRedeemed(id), handler.seen(id), "voucherRedeemed matches");
        }
    }
}
