// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ISoundRegistry} from "./ISoundRegistry.sol";

/// @title MIAO AI sound registry
/// @notice Records who contributed which sound (by content digest), the models that label sounds,
/// and the labels they give. A sound's id is its digest: `sha256(audio bytes)`.
/// @dev Storage is one slot per sound and one slot per label, so registration and labelling stay
/// cheap; names, CIDs and free-text labels live only in events, where indexers read them.
contract SoundRegistry is ISoundRegistry, AccessControl, EIP712, Nonces {
    /// @notice Role that registers models.
    bytes32 public constant MODEL_ADMIN_ROLE = keccak256("MODEL_ADMIN_ROLE");
    /// @notice Role that writes labels.
    bytes32 public constant LABELLER_ROLE = keccak256("LABELLER_ROLE");
    /// @notice Role that registers synthetic (model-generated) sounds.
    bytes32 public constant GENERATOR_ROLE = keccak256("GENERATOR_ROLE");

    /// @notice EIP-712 type hash of a relayed registration.
    bytes32 public constant REGISTER_SOUND_TYPEHASH = keccak256(
        "RegisterSound(address contributor,bytes32 digest,uint8 kind,string cid,string contributorLabel,uint256 nonce,uint256 deadline)"
    );

    /// @notice Largest confidence, in basis points (100%).
    uint16 public constant MAX_CONFIDENCE_BPS = 10_000;

    uint8 private constant _KIND_COUNT = 4;

    /// @notice Sounds by id (= content digest).
    mapping(bytes32 soundId => Sound) public sounds;
    /// @notice Models by id (= sha256 of the weights file).
    mapping(bytes32 modelId => Model) public models;
    /// @notice Labels by sound and model.
    mapping(bytes32 soundId => mapping(bytes32 modelId => Label)) public labels;

    /// @notice The deployer receives every role.
    constructor() EIP712("MiaoSoundRegistry", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(MODEL_ADMIN_ROLE, msg.sender);
        _grantRole(LABELLER_ROLE, msg.sender);
        _grantRole(GENERATOR_ROLE, msg.sender);
    }

    /// @notice Register a recorded sound; the caller is the contributor and pays the gas.
    /// @param digest sha256 of the audio bytes; becomes the sound id.
    /// @param kind What made the sound (`Kind` as uint8, 0..3).
    /// @param cid IPFS CID of the audio (event only).
    /// @param contributorLabel Optional free-text label (event only; may be empty).
    function registerSound(bytes32 digest, uint8 kind, string calldata cid, string calldata contributorLabel)
        external
    {
        _store(msg.sender, digest, kind, false);
        _emitRecordedSound(digest, msg.sender, kind, cid, contributorLabel);
    }

    /// @notice Register a recorded sound on a contributor's behalf with their EIP-712 signature;
    /// anyone may submit it and pays the gas.
    /// @dev The signature is checked before the digest, so a replay fails with `InvalidSigner`
    /// (its nonce is spent). A successful call consumes `nonces(contributor)`.
    /// @param contributor The account that signed and is credited.
    /// @param digest sha256 of the audio bytes.
    /// @param kind What made the sound (0..3).
    /// @param cid IPFS CID of the audio.
    /// @param contributorLabel Optional free-text label.
    /// @param deadline Last valid block timestamp.
    /// @param signature 65-byte signature of `hashRegisterSound(...)` with the current nonce.
    function registerSoundFor(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 nonce = _useNonce(contributor);
        bytes32 hash = _registerSoundHash(contributor, digest, kind, cid, contributorLabel, nonce, deadline);
        address recovered = _recover(hash, signature);
        if (recovered != contributor) revert InvalidSigner(contributor, recovered);
        _store(contributor, digest, kind, false);
        _emitRecordedSound(digest, contributor, kind, cid, contributorLabel);
    }

    /// @notice Register a sound that a registered model generated (`GENERATOR_ROLE`).
    /// @param contributor The account credited with the sound (e.g. who asked for it).
    /// @param digest sha256 of the audio bytes.
    /// @param kind What the sound imitates (0..3).
    /// @param cid IPFS CID of the audio.
    /// @param modelId The generating model; must be registered.
    function registerSynthetic(address contributor, bytes32 digest, uint8 kind, string calldata cid, bytes32 modelId)
        external
        onlyRole(GENERATOR_ROLE)
    {
        if (!models[modelId].registered) revert ModelNotRegistered(modelId);
        _store(contributor, digest, kind, true);
        emit SoundRegistered(digest, contributor, modelId, kind, true, cid, "");
    }

    /// @notice Register a model (`MODEL_ADMIN_ROLE`).
    /// @param modelId sha256 of the weights file.
    /// @param name Human-readable model name.
    /// @param task What the model does.
    /// @param labelNames The names label indices refer to; at least one, at most 65535.
    function registerModel(bytes32 modelId, string calldata name, string calldata task, string[] calldata labelNames)
        external
        onlyRole(MODEL_ADMIN_ROLE)
    {
        if (modelId == bytes32(0)) revert InvalidDigest();
        if (models[modelId].registered) revert ModelAlreadyRegistered(modelId);
        uint256 count = labelNames.length;
        if (count == 0) revert EmptyLabelSet();
        if (count > type(uint16).max) revert TooManyLabels(count);
        // forge-lint: disable-next-line(unsafe-typecast) -- count <= type(uint16).max, checked above
        models[modelId] = Model({registered: true, labelCount: uint16(count)});
        emit ModelRegistered(modelId, name, task, labelNames);
    }

    /// @notice Write a model's label for a sound, once per (sound, model) (`LABELLER_ROLE`).
    /// @param soundId The registered sound.
    /// @param modelId The registered model that produced the label.
    /// @param labelIndex Index into the model's label names.
    /// @param confidenceBps Confidence in basis points, at most 10000.
    function setLabel(bytes32 soundId, bytes32 modelId, uint16 labelIndex, uint16 confidenceBps)
        external
        onlyRole(LABELLER_ROLE)
    {
        if (sounds[soundId].registeredAt == 0) revert SoundNotRegistered(soundId);
        Model memory model = models[modelId];
        if (!model.registered) revert ModelNotRegistered(modelId);
        if (labelIndex >= model.labelCount) revert LabelIndexOutOfRange(labelIndex, model.labelCount);
        if (confidenceBps > MAX_CONFIDENCE_BPS) revert ConfidenceOutOfRange(confidenceBps);
        if (labels[soundId][modelId].set) revert AlreadyLabelled(soundId, modelId);
        labels[soundId][modelId] = Label({
            set: true,
            labelIndex: labelIndex,
            confidenceBps: confidenceBps,
            labelledAt: uint40(block.timestamp),
            labeller: msg.sender
        });
        emit LabelSet(soundId, modelId, msg.sender, labelIndex, confidenceBps);
    }

    /// @inheritdoc ISoundRegistry
    function nonces(address owner) public view override(ISoundRegistry, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @notice The EIP-712 digest a contributor signs for `registerSoundFor`.
    /// @param contributor The signing contributor.
    /// @param digest sha256 of the audio bytes.
    /// @param kind What made the sound (0..3).
    /// @param cid IPFS CID of the audio.
    /// @param contributorLabel Optional free-text label.
    /// @param nonce The contributor's current `nonces(contributor)`.
    /// @param deadline Last valid block timestamp.
    /// @return The typed-data hash to sign.
    function hashRegisterSound(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 nonce,
        uint256 deadline
    ) public view returns (bytes32) {
        return _registerSoundHash(contributor, digest, kind, cid, contributorLabel, nonce, deadline);
    }

    /// @dev `hashRegisterSound`, in assembly over calldata: the relayed path pays for every opcode
    /// here, and it must stay under the 80k-gas registration target.
    function _registerSoundHash(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32 hash) {
        bytes32 cidHash = _keccakCalldata(cid);
        bytes32 labelHash = _keccakCalldata(contributorLabel);
        bytes32 typeHash = REGISTER_SOUND_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        assembly ("memory-safe") {
            // abi.encode(typeHash, contributor, digest, kind, cidHash, labelHash, nonce, deadline),
            // written past the free-memory pointer (scratch, not allocated)
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), contributor)
            mstore(add(m, 0x40), digest)
            mstore(add(m, 0x60), kind)
            mstore(add(m, 0x80), cidHash)
            mstore(add(m, 0xa0), labelHash)
            mstore(add(m, 0xc0), nonce)
            mstore(add(m, 0xe0), deadline)
            let structHash := keccak256(m, 0x100)
            // EIP-712: keccak256("\x19\x01" || domainSeparator || structHash)
            mstore(m, 0x1901)
            mstore(add(m, 0x20), domainSeparator)
            mstore(add(m, 0x40), structHash)
            hash := keccak256(add(m, 0x1e), 0x42)
        }
    }

    /// @dev `ECDSA.recoverCalldata` (same checks, same errors), inlined for the relayed path's gas.
    function _recover(bytes32 hash, bytes calldata signature) private view returns (address recovered) {
        if (signature.length != 65) revert ECDSA.ECDSAInvalidSignatureLength(signature.length);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        // reject malleable signatures (upper-half s), as OpenZeppelin does
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) {
            revert ECDSA.ECDSAInvalidSignatureS(s);
        }
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, hash)
            mstore(add(m, 0x20), v)
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            // ecrecover precompile; on failure or a bad v it returns no data and leaves 0 here
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
            recovered := mload(0x00)
        }
        if (recovered == address(0)) revert ECDSA.ECDSAInvalidSignature();
    }

    /// @dev keccak256 of a calldata string, without allocating memory.
    function _keccakCalldata(string calldata text) private pure returns (bytes32 result) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, text.offset, text.length)
            result := keccak256(m, text.length)
        }
    }

    /// @dev `emit SoundRegistered(soundId, contributor, 0, kind, false, cid, contributorLabel)`,
    /// ABI-encoded in assembly straight from calldata (the registration paths pay for it). The
    /// fuzz tests compare it byte for byte with Solidity's own encoding of the event.
    function _emitRecordedSound(
        bytes32 soundId,
        address contributor,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel
    ) private {
        bytes32 topic0 = SoundRegistered.selector;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, kind)
            mstore(add(m, 0x20), 0) // synthetic = false
            mstore(add(m, 0x40), 0x80) // offset of cid
            let cidPadded := and(add(cid.length, 31), not(31))
            mstore(add(m, 0x60), add(0xa0, cidPadded)) // offset of contributorLabel
            mstore(add(m, 0x80), cid.length)
            let p := add(m, 0xa0)
            calldatacopy(p, cid.offset, cid.length)
            mstore(add(p, cid.length), 0) // zero the padding
            p := add(p, cidPadded)
            mstore(p, contributorLabel.length)
            p := add(p, 0x20)
            calldatacopy(p, contributorLabel.offset, contributorLabel.length)
            mstore(add(p, contributorLabel.length), 0)
            p := add(p, and(add(contributorLabel.length, 31), not(31)))
            log4(m, sub(p, m), topic0, soundId, contributor, 0)
        }
    }

    /// @dev Check and write a new sound's slot: one SSTORE of the packed struct.
    function _store(address contributor, bytes32 digest, uint8 kind, bool synthetic) private {
        if (digest == bytes32(0)) revert InvalidDigest();
        if (kind >= _KIND_COUNT) revert InvalidKind(kind);
        Sound storage sound = sounds[digest];
        if (sound.registeredAt != 0) revert SoundAlreadyRegistered(digest);
        // Sound's layout: contributor (bits 0-159), kind (160-167), synthetic (168-175),
        // registeredAt (176-239).
        uint256 packed = uint256(uint160(contributor)) | (uint256(kind) << 160)
            | (synthetic ? uint256(1) << 168 : 0) | (block.timestamp << 176);
        assembly ("memory-safe") {
            sstore(sound.slot, packed)
        }
    }
}
