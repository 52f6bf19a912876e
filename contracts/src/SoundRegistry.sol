// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title MIAO AI sound registry
/// @notice Records who contributed which sound (by content digest), the models that label sounds,
/// and the labels they give. A sound's id is its digest: `sha256(audio bytes)`.
/// @dev Storage is one slot per sound and one slot per label, so registration and labelling stay
/// cheap; names, CIDs and free-text labels live only in events, where indexers read them.
contract SoundRegistry is AccessControl, EIP712, Nonces {
    /// @notice What made the sound.
    enum Kind {
        Cat,
        Dog,
        Infant,
        Other
    }

    /// @notice A registered sound (one storage slot).
    /// @param contributor The account credited with the sound.
    /// @param kind What made the sound.
    /// @param synthetic True when a registered model generated it.
    /// @param registeredAt Block timestamp of registration; non-zero for every registered sound.
    struct Sound {
        address contributor;
        Kind kind;
        bool synthetic;
        uint64 registeredAt;
    }

    /// @notice A registered model; its name, task and label names are in `ModelRegistered`.
    /// @param registered True once registered.
    /// @param labelCount How many label names it has; a label index must be below this.
    struct Model {
        bool registered;
        uint16 labelCount;
    }

    /// @notice The label a model gave a sound (one storage slot).
    /// @param set True once written.
    /// @param labelIndex Index into the model's label names.
    /// @param confidenceBps Confidence in basis points, 0..10000.
    /// @param labelledAt Block timestamp of the label (uint40: one slot with the other fields).
    /// @param labeller The `LABELLER_ROLE` account that wrote it.
    struct Label {
        bool set;
        uint16 labelIndex;
        uint16 confidenceBps;
        uint40 labelledAt;
        address labeller;
    }

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

    /// @notice A sound was registered.
    /// @param soundId The content digest.
    /// @param contributor The account credited with the sound.
    /// @param modelId The generating model for a synthetic sound, zero for a recorded one.
    /// @param kind What made the sound (`Kind` as uint8).
    /// @param synthetic True when a model generated it.
    /// @param cid IPFS CID of the audio.
    /// @param contributorLabel Optional free-text label from the contributor.
    event SoundRegistered(
        bytes32 indexed soundId,
        address indexed contributor,
        bytes32 indexed modelId,
        uint8 kind,
        bool synthetic,
        string cid,
        string contributorLabel
    );

    /// @notice A model was registered.
    /// @param modelId sha256 of the weights file.
    /// @param name Human-readable model name.
    /// @param task What the model does, e.g. "classify-kind".
    /// @param labelNames The names that label indices refer to.
    event ModelRegistered(bytes32 indexed modelId, string name, string task, string[] labelNames);

    /// @notice A model's label for a sound was written.
    /// @param soundId The sound.
    /// @param modelId The model that produced the label.
    /// @param labeller The account that wrote it.
    /// @param labelIndex Index into the model's label names.
    /// @param confidenceBps Confidence in basis points.
    event LabelSet(
        bytes32 indexed soundId,
        bytes32 indexed modelId,
        address indexed labeller,
        uint16 labelIndex,
        uint16 confidenceBps
    );

    /// @notice The digest (or model id) is zero.
    error InvalidDigest();
    /// @notice The kind is not one of `Kind`.
    error InvalidKind(uint8 kind);
    /// @notice This digest is already registered.
    error SoundAlreadyRegistered(bytes32 soundId);
    /// @notice No sound has this id.
    error SoundNotRegistered(bytes32 soundId);
    /// @notice The relayed registration's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature was not made by the contributor (or was for another nonce).
    error InvalidSigner(address contributor, address recovered);
    /// @notice This model id is already registered.
    error ModelAlreadyRegistered(bytes32 modelId);
    /// @notice No model has this id.
    error ModelNotRegistered(bytes32 modelId);
    /// @notice A model needs at least one label name.
    error EmptyLabelSet();
    /// @notice A model may have at most 65535 label names.
    error TooManyLabels(uint256 count);
    /// @notice The label index is not below the model's label count.
    error LabelIndexOutOfRange(uint16 labelIndex, uint16 labelCount);
    /// @notice The confidence exceeds 10000 basis points.
    error ConfidenceOutOfRange(uint16 confidenceBps);
    /// @notice This model already labelled this sound.
    error AlreadyLabelled(bytes32 soundId, bytes32 modelId);

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
        _register(msg.sender, digest, kind, false, bytes32(0), cid, contributorLabel);
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
        bytes32 hash = _hashRegisterSoundUsingNonce(contributor, digest, kind, cid, contributorLabel, deadline);
        address recovered = ECDSA.recoverCalldata(hash, signature);
        if (recovered != contributor) revert InvalidSigner(contributor, recovered);
        _register(contributor, digest, kind, false, bytes32(0), cid, contributorLabel);
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
        _register(contributor, digest, kind, true, modelId, cid, "");
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
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    REGISTER_SOUND_TYPEHASH,
                    contributor,
                    digest,
                    kind,
                    keccak256(bytes(cid)),
                    keccak256(bytes(contributorLabel)),
                    nonce,
                    deadline
                )
            )
        );
    }

    /// @dev `hashRegisterSound` with the contributor's current nonce, which it consumes; a
    /// revert later in the transaction restores it.
    function _hashRegisterSoundUsingNonce(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 deadline
    ) private returns (bytes32) {
        uint256 nonce = _useNonce(contributor);
        return hashRegisterSound(contributor, digest, kind, cid, contributorLabel, nonce, deadline);
    }

    function _register(
        address contributor,
        bytes32 digest,
        uint8 kind,
        bool synthetic,
        bytes32 modelId,
        string calldata cid,
        string memory contributorLabel
    ) private {
        if (digest == bytes32(0)) revert InvalidDigest();
        if (kind >= _KIND_COUNT) revert InvalidKind(kind);
        if (sounds[digest].registeredAt != 0) revert SoundAlreadyRegistered(digest);
        sounds[digest] = Sound({
            contributor: contributor,
            kind: Kind(kind),
            synthetic: synthetic,
            registeredAt: uint64(block.timestamp)
        });
        emit SoundRegistered(digest, contributor, modelId, kind, synthetic, cid, contributorLabel);
    }
}
