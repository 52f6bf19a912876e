// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ISoundRegistry} from "../src/ISoundRegistry.sol";
import {Test} from "./utils/Test.sol";

contract SoundRegistryTest is Test {
    // events, redeclared for vm.expectEmit
    event SoundRegistered(
        bytes32 indexed soundId,
        address indexed contributor,
        bytes32 indexed modelId,
        uint8 kind,
        bool synthetic,
        string cid,
        string contributorLabel
    );
    event ModelRegistered(bytes32 indexed modelId, string name, string task, string[] labelNames);
    event LabelSet(
        bytes32 indexed soundId,
        bytes32 indexed modelId,
        address indexed labeller,
        uint16 labelIndex,
        uint16 confidenceBps
    );

    string internal constant CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"; // 59 chars
    // keccak256, not sha256: a sha256 constant is a precompile call, which would take a pending
    // vm.prank / vm.expectRevert meant for the registry call.
    bytes32 internal constant DIGEST = keccak256("meow.wav bytes");
    bytes32 internal constant MODEL = keccak256("kind-classifier weights");

    ISoundRegistry internal registry;
    IAccessControl internal roles;
    address internal admin = address(this);
    uint256 internal contributorKey = 0xC0FFEE;
    address internal contributor;
    address internal relayer = address(0xBEEF);
    address internal stranger = address(0x5742);

    function setUp() public {
        vm.warp(1_700_000_000);
        // deployed from forge's artifact, compiled via-IR exactly like contracts/artifacts/
        registry = ISoundRegistry(vm.deployCode("SoundRegistry.sol:SoundRegistry"));
        roles = IAccessControl(address(registry));
        contributor = vm.addr(contributorKey);
        vm.label(contributor, "contributor");
        vm.label(relayer, "relayer");
        vm.label(stranger, "stranger");
    }

    // ---------------------------------------------------------------- helpers

    function _labelNames() internal pure returns (string[] memory names) {
        names = new string[](4);
        names[0] = "cat";
        names[1] = "dog";
        names[2] = "infant";
        names[3] = "other";
    }

    function _registerModel() internal {
        registry.registerModel(MODEL, "kind-v1", "classify-kind", _labelNames());
    }

    function _relayedSignature(
        uint256 key,
        address who,
        bytes32 digest,
        uint8 kind,
        string memory cid,
        string memory contributorLabel,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return signature(key, registry.hashRegisterSound(who, digest, kind, cid, contributorLabel, nonce, deadline));
    }

    /// @dev The EIP-712 digest computed independently of the contract, from the spec's type string.
    function _expectedTypedHash(
        address who,
        bytes32 digest,
        uint8 kind,
        string memory cid,
        string memory contributorLabel,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("MiaoSoundRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "RegisterSound(address contributor,bytes32 digest,uint8 kind,string cid,string contributorLabel,uint256 nonce,uint256 deadline)"
                ),
                who,
                digest,
                kind,
                keccak256(bytes(cid)),
                keccak256(bytes(contributorLabel)),
                nonce,
                deadline
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    function _assertSound(bytes32 id, address who, uint8 kind, bool synthetic) internal view {
        (address c, ISoundRegistry.Kind k, bool s, uint64 registeredAt) = registry.sounds(id);
        vm.assertEq(c, who, "contributor");
        vm.assertEq(uint256(uint8(k)), kind, "kind");
        vm.assertEq(s, synthetic, "synthetic");
        vm.assertEq(uint256(registeredAt), block.timestamp, "registeredAt");
    }

    // ---------------------------------------------------------------- deployment

    function test_deployerHoldsEveryRole() public view {
        vm.assertTrue(roles.hasRole(bytes32(0), admin), "admin");
        vm.assertTrue(roles.hasRole(registry.MODEL_ADMIN_ROLE(), admin), "model admin");
        vm.assertTrue(roles.hasRole(registry.LABELLER_ROLE(), admin), "labeller");
        vm.assertTrue(roles.hasRole(registry.GENERATOR_ROLE(), admin), "generator");
        vm.assertFalse(roles.hasRole(registry.LABELLER_ROLE(), stranger), "stranger");
    }

    function test_eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = IERC5267(address(registry)).eip712Domain();
        vm.assertEq(name, "MiaoSoundRegistry", "name");
        vm.assertEq(version, "1", "version");
        vm.assertEq(chainId, block.chainid, "chain id");
        vm.assertEq(verifying, address(registry), "verifying contract");
    }

    function test_hashRegisterSoundMatchesTheSpecTypeString() public view {
        bytes32 expected = _expectedTypedHash(contributor, DIGEST, 2, CID, "purr", 7, 1234);
        vm.assertEq(registry.hashRegisterSound(contributor, DIGEST, 2, CID, "purr", 7, 1234), expected, "hash");
    }

    // ---------------------------------------------------------------- direct registration

    function test_registerSound_storesTheSoundAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit SoundRegistered(DIGEST, contributor, bytes32(0), 0, false, CID, "tabby purring");
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "tabby purring");
        _assertSound(DIGEST, contributor, 0, false);
    }

    function test_registerSound_everyKind() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            bytes32 digest = keccak256(abi.encode(kind));
            vm.prank(contributor);
            registry.registerSound(digest, kind, CID, "");
            _assertSound(digest, contributor, kind, false);
        }
    }

    function test_registerSound_revertsOnDuplicateDigest() public {
        vm.prank(contributor);
        registry.registerSound(DIGEST, 1, CID, "");
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SoundAlreadyRegistered.selector, DIGEST));
        vm.prank(stranger);
        registry.registerSound(DIGEST, 2, "another cid", "");
        _assertSound(DIGEST, contributor, 1, false); // the first registration stands
    }

    function test_registerSound_revertsOnZeroDigest() public {
        vm.expectRevert(ISoundRegistry.InvalidDigest.selector);
        registry.registerSound(bytes32(0), 0, CID, "");
    }

    function test_registerSound_revertsOnInvalidKind() public {
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.InvalidKind.selector, uint8(4)));
        registry.registerSound(DIGEST, 4, CID, "");
    }

    // ---------------------------------------------------------------- relayed registration

    function test_registerSoundFor_relayedBySomeoneElse() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 3, CID, "bark?", 0, deadline);
        vm.expectEmit(true, true, true, true, address(registry));
        emit SoundRegistered(DIGEST, contributor, bytes32(0), 3, false, CID, "bark?");
        vm.prank(relayer);
        registry.registerSoundFor(contributor, DIGEST, 3, CID, "bark?", deadline, sig);
        _assertSound(DIGEST, contributor, 3, false);
        vm.assertEq(registry.nonces(contributor), 1, "nonce consumed");
    }

    function test_registerSoundFor_acceptsTheDeadlineItself() public {
        uint256 deadline = block.timestamp;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
        _assertSound(DIGEST, contributor, 0, false);
    }

    function test_registerSoundFor_revertsWhenReplayed() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        vm.prank(relayer);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
        // The nonce moved on, so the same signature now recovers to some other address.
        bytes32 replayHash = registry.hashRegisterSound(contributor, DIGEST, 0, CID, "", 1, deadline);
        address recovered = ECDSA.recover(replayHash, sig);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.InvalidSigner.selector, contributor, recovered));
        vm.prank(relayer);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
        vm.assertEq(registry.nonces(contributor), 1, "nonce unchanged by the failed replay");
    }

    function test_registerSoundFor_revertsWhenExpired() public {
        uint256 deadline = block.timestamp + 10;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SignatureExpired.selector, deadline));
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
        vm.assertEq(registry.nonces(contributor), 0, "nonce untouched");
    }

    function test_registerSoundFor_revertsOnWrongSigner() public {
        uint256 otherKey = 0xBAD;
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(otherKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(ISoundRegistry.InvalidSigner.selector, contributor, vm.addr(otherKey))
        );
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
        vm.assertEq(registry.nonces(contributor), 0, "nonce untouched");
    }

    function test_registerSoundFor_revertsWhenAnyFieldWasChanged() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "purr", 0, deadline);
        // a relayer that changes any signed field gets InvalidSigner, whatever it recovers to
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "hiss", deadline, sig);
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(contributor, DIGEST, 1, CID, "purr", deadline, sig);
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(contributor, DIGEST, 0, "bafkother", "purr", deadline, sig);
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(contributor, keccak256("other"), 0, CID, "purr", deadline, sig);
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "purr", deadline + 1, sig);
        vm.expectPartialRevert(ISoundRegistry.InvalidSigner.selector);
        registry.registerSoundFor(relayer, DIGEST, 0, CID, "purr", deadline, sig);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "purr", deadline, sig);
    }

    function test_registerSoundFor_revertsOnMalformedSignature() public {
        uint256 deadline = block.timestamp + 1 hours;
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, uint256(64)));
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, new bytes(64));
        vm.expectRevert(ECDSA.ECDSAInvalidSignature.selector);
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, new bytes(65));
    }

    function test_registerSoundFor_checksTheSignatureBeforeTheDigest() public {
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        // a valid signature for an already-registered digest: the digest check fires
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SoundAlreadyRegistered.selector, DIGEST));
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
    }

    function test_registerSoundFor_revertsOnInvalidKindAndDigest() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 9, CID, "", 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.InvalidKind.selector, uint8(9)));
        registry.registerSoundFor(contributor, DIGEST, 9, CID, "", deadline, sig);
        sig = _relayedSignature(contributorKey, contributor, bytes32(0), 0, CID, "", 0, deadline);
        vm.expectRevert(ISoundRegistry.InvalidDigest.selector);
        registry.registerSoundFor(contributor, bytes32(0), 0, CID, "", deadline, sig);
    }

    function test_registerSoundFor_noncesAdvancePerContributor() public {
        uint256 deadline = block.timestamp + 1 hours;
        for (uint256 i = 0; i < 3; i++) {
            bytes32 digest = keccak256(abi.encode("sound", i));
            bytes memory sig = _relayedSignature(contributorKey, contributor, digest, 0, CID, "", i, deadline);
            registry.registerSoundFor(contributor, digest, 0, CID, "", deadline, sig);
        }
        vm.assertEq(registry.nonces(contributor), 3, "three registrations, three nonces");
        vm.assertEq(registry.nonces(relayer), 0, "other accounts untouched");
    }

    // ---------------------------------------------------------------- synthetic sounds

    function test_registerSynthetic_recordsTheModel() public {
        _registerModel();
        vm.expectEmit(true, true, true, true, address(registry));
        emit SoundRegistered(DIGEST, contributor, MODEL, 0, true, CID, "");
        registry.registerSynthetic(contributor, DIGEST, 0, CID, MODEL);
        _assertSound(DIGEST, contributor, 0, true);
    }

    function test_registerSynthetic_revertsWithoutGeneratorRole() public {
        _registerModel();
        bytes32 role = registry.GENERATOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        registry.registerSynthetic(contributor, DIGEST, 0, CID, MODEL);
    }

    function test_registerSynthetic_revertsForUnregisteredModel() public {
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.ModelNotRegistered.selector, MODEL));
        registry.registerSynthetic(contributor, DIGEST, 0, CID, MODEL);
    }

    function test_registerSynthetic_revertsOnDuplicateDigest() public {
        _registerModel();
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "");
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SoundAlreadyRegistered.selector, DIGEST));
        registry.registerSynthetic(contributor, DIGEST, 0, CID, MODEL);
    }

    function test_generatorRoleCanBeGrantedAndRevoked() public {
        _registerModel();
        bytes32 role = registry.GENERATOR_ROLE();
        roles.grantRole(role, stranger);
        vm.prank(stranger);
        registry.registerSynthetic(contributor, DIGEST, 1, CID, MODEL);
        roles.revokeRole(role, stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        registry.registerSynthetic(contributor, keccak256("other"), 1, CID, MODEL);
    }

    // ---------------------------------------------------------------- models

    function test_registerModel_storesAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit ModelRegistered(MODEL, "kind-v1", "classify-kind", _labelNames());
        _registerModel();
        (bool registered, uint16 labelCount) = registry.models(MODEL);
        vm.assertTrue(registered, "registered");
        vm.assertEq(uint256(labelCount), 4, "label count");
    }

    function test_registerModel_revertsWithoutModelAdminRole() public {
        bytes32 role = registry.MODEL_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        registry.registerModel(MODEL, "kind-v1", "classify-kind", _labelNames());
    }

    function test_registerModel_revertsWhenRegisteredTwice() public {
        _registerModel();
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.ModelAlreadyRegistered.selector, MODEL));
        _registerModel();
    }

    function test_registerModel_revertsOnEmptyLabelSet() public {
        vm.expectRevert(ISoundRegistry.EmptyLabelSet.selector);
        registry.registerModel(MODEL, "kind-v1", "classify-kind", new string[](0));
    }

    function test_registerModel_revertsOnTooManyLabels() public {
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.TooManyLabels.selector, uint256(65_536)));
        registry.registerModel(MODEL, "huge", "t", new string[](65_536));
    }

    function test_registerModel_acceptsTheLargestLabelSet() public {
        registry.registerModel(MODEL, "large", "t", new string[](65_535));
        (, uint16 labelCount) = registry.models(MODEL);
        vm.assertEq(uint256(labelCount), 65_535, "label count");
    }

    function test_registerModel_revertsOnZeroId() public {
        vm.expectRevert(ISoundRegistry.InvalidDigest.selector);
        registry.registerModel(bytes32(0), "kind-v1", "classify-kind", _labelNames());
    }

    // ---------------------------------------------------------------- labels

    function _soundAndModel() internal {
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "");
        _registerModel();
    }

    function test_setLabel_storesAndEmits() public {
        _soundAndModel();
        vm.expectEmit(true, true, true, true, address(registry));
        emit LabelSet(DIGEST, MODEL, admin, 2, 9_250);
        registry.setLabel(DIGEST, MODEL, 2, 9_250);
        (bool set, uint16 index, uint16 confidence, uint40 labelledAt, address labeller) = registry.labels(DIGEST, MODEL);
        vm.assertTrue(set, "set");
        vm.assertEq(uint256(index), 2, "index");
        vm.assertEq(uint256(confidence), 9_250, "confidence");
        vm.assertEq(uint256(labelledAt), block.timestamp, "labelledAt");
        vm.assertEq(labeller, admin, "labeller");
    }

    function test_setLabel_acceptsTheBounds() public {
        _soundAndModel();
        registry.setLabel(DIGEST, MODEL, 3, 10_000);
        bytes32 model2 = keccak256("model 2");
        registry.registerModel(model2, "m2", "t", _labelNames());
        registry.setLabel(DIGEST, model2, 0, 0);
    }

    function test_setLabel_onePerSoundAndModel_butManyModels() public {
        _soundAndModel();
        registry.setLabel(DIGEST, MODEL, 0, 5_000);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.AlreadyLabelled.selector, DIGEST, MODEL));
        registry.setLabel(DIGEST, MODEL, 1, 6_000);
        bytes32 model2 = keccak256("model 2");
        registry.registerModel(model2, "m2", "t", _labelNames());
        registry.setLabel(DIGEST, model2, 1, 6_000);
        (, uint16 index,,,) = registry.labels(DIGEST, MODEL);
        vm.assertEq(uint256(index), 0, "first label kept");
    }

    function test_setLabel_revertsWithoutLabellerRole() public {
        _soundAndModel();
        bytes32 role = registry.LABELLER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        registry.setLabel(DIGEST, MODEL, 0, 5_000);
    }

    function test_setLabel_revertsForUnregisteredModel() public {
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "");
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.ModelNotRegistered.selector, MODEL));
        registry.setLabel(DIGEST, MODEL, 0, 5_000);
    }

    function test_setLabel_revertsForUnregisteredSound() public {
        _registerModel();
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SoundNotRegistered.selector, DIGEST));
        registry.setLabel(DIGEST, MODEL, 0, 5_000);
    }

    function test_setLabel_revertsOnIndexOutOfRange() public {
        _soundAndModel();
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.LabelIndexOutOfRange.selector, uint16(4), uint16(4)));
        registry.setLabel(DIGEST, MODEL, 4, 5_000);
    }

    function test_setLabel_revertsOnConfidenceOutOfRange() public {
        _soundAndModel();
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.ConfidenceOutOfRange.selector, uint16(10_001)));
        registry.setLabel(DIGEST, MODEL, 0, 10_001);
    }

    function test_labellerRoleCanBeGranted() public {
        _soundAndModel();
        roles.grantRole(registry.LABELLER_ROLE(), stranger);
        vm.prank(stranger);
        registry.setLabel(DIGEST, MODEL, 1, 7_000);
        (,,,, address labeller) = registry.labels(DIGEST, MODEL);
        vm.assertEq(labeller, stranger, "labeller recorded");
    }

    function test_roleAdministrationIsAdminOnly() public {
        bytes32 role = registry.LABELLER_ROLE();
        bytes32 adminRole = bytes32(0);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, adminRole)
        );
        vm.prank(stranger);
        roles.grantRole(role, stranger);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_registerSound_anyCallerDigestKindAndText(
        address caller,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel
    ) public {
        vm.assume(digest != bytes32(0));
        kind = uint8(bound(kind, 0, 3));
        vm.expectEmit(true, true, true, true, address(registry));
        emit SoundRegistered(digest, caller, bytes32(0), kind, false, cid, contributorLabel);
        vm.prank(caller);
        registry.registerSound(digest, kind, cid, contributorLabel);
        _assertSound(digest, caller, kind, false);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SoundAlreadyRegistered.selector, digest));
        vm.prank(caller);
        registry.registerSound(digest, kind, cid, contributorLabel);
    }

    function testFuzz_registerSound_rejectsEveryKindAbove3(uint8 kind) public {
        kind = uint8(bound(kind, 4, 255));
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.InvalidKind.selector, kind));
        registry.registerSound(DIGEST, kind, CID, "");
    }

    function testFuzz_registerSoundFor_anySignerRoundTrips(
        uint256 keySeed,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 deadline
    ) public {
        vm.assume(digest != bytes32(0));
        uint256 key = boundKey(keySeed);
        kind = uint8(bound(kind, 0, 3));
        deadline = bound(deadline, block.timestamp, type(uint256).max);
        bytes memory sig = _relayedSignature(key, vm.addr(key), digest, kind, cid, contributorLabel, 0, deadline);
        vm.assertEq(
            registry.hashRegisterSound(vm.addr(key), digest, kind, cid, contributorLabel, 0, deadline),
            _expectedTypedHash(vm.addr(key), digest, kind, cid, contributorLabel, 0, deadline),
            "typed hash"
        );
        // the hand-encoded event must equal Solidity's encoding, byte for byte
        vm.expectEmit(true, true, true, true, address(registry));
        emit SoundRegistered(digest, vm.addr(key), bytes32(0), kind, false, cid, contributorLabel);
        vm.prank(relayer);
        registry.registerSoundFor(vm.addr(key), digest, kind, cid, contributorLabel, deadline, sig);
        _assertSound(digest, vm.addr(key), kind, false);
        vm.assertEq(registry.nonces(vm.addr(key)), 1, "nonce");
    }

    function testFuzz_registerSoundFor_rejectsOtherSigners(uint256 keySeed, uint256 otherSeed) public {
        uint256 key = boundKey(keySeed);
        uint256 otherKey = boundKey(otherSeed);
        vm.assume(key != otherKey);
        address who = vm.addr(key);
        uint256 deadline = block.timestamp + 1;
        bytes memory sig = _relayedSignature(otherKey, who, DIGEST, 0, CID, "", 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.InvalidSigner.selector, who, vm.addr(otherKey)));
        registry.registerSoundFor(who, DIGEST, 0, CID, "", deadline, sig);
    }

    function testFuzz_registerSoundFor_rejectsEveryPastDeadline(uint256 deadline, uint256 nowTs) public {
        nowTs = bound(nowTs, 1, type(uint64).max);
        deadline = bound(deadline, 0, nowTs - 1);
        vm.warp(nowTs);
        bytes memory sig = _relayedSignature(contributorKey, contributor, DIGEST, 0, CID, "", 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.SignatureExpired.selector, deadline));
        registry.registerSoundFor(contributor, DIGEST, 0, CID, "", deadline, sig);
    }

    function testFuzz_setLabel_boundsAreEnforced(uint16 labelIndex, uint16 confidenceBps, uint8 labelCount) public {
        labelCount = uint8(bound(labelCount, 1, 40));
        string[] memory names = new string[](labelCount);
        for (uint256 i = 0; i < labelCount; i++) {
            names[i] = "label";
        }
        registry.registerModel(MODEL, "m", "t", names);
        vm.prank(contributor);
        registry.registerSound(DIGEST, 0, CID, "");
        if (labelIndex >= labelCount) {
            vm.expectRevert(
                abi.encodeWithSelector(ISoundRegistry.LabelIndexOutOfRange.selector, labelIndex, uint16(labelCount))
            );
        } else if (confidenceBps > 10_000) {
            vm.expectRevert(abi.encodeWithSelector(ISoundRegistry.ConfidenceOutOfRange.selector, confidenceBps));
        }
        registry.setLabel(DIGEST, MODEL, labelIndex, confidenceBps);
        (bool set,,,,) = registry.labels(DIGEST, MODEL);
        vm.assertEq(set, labelIndex < labelCount && confidenceBps <= 10_000, "label written iff in range");
    }

    function testFuzz_setLabel_rejectsEveryNonLabeller(address caller) public {
        vm.assume(caller != admin);
        _soundAndModel();
        bytes32 role = registry.LABELLER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
        );
        vm.prank(caller);
        registry.setLabel(DIGEST, MODEL, 0, 1);
    }
}
