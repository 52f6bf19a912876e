// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The MIAO AI sound registry's interface
/// @notice Types, events, errors and functions of `SoundRegistry` (roles come from OpenZeppelin
/// `AccessControl`, nonces from `Nonces`, the EIP-712 domain from `EIP712`). Tests and other
/// contracts use this instead of importing the implementation.
interface ISoundRegistry {
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

    /// @notice Register a recorded sound; the caller is the contributor and pays the gas.
    function registerSound(bytes32 digest, uint8 kind, string calldata cid, string calldata contributorLabel)
        external;

    /// @notice Register a recorded sound on a contributor's behalf with their EIP-712 signature.
    function registerSoundFor(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Register a sound that a registered model generated (`GENERATOR_ROLE`).
    function registerSynthetic(address contributor, bytes32 digest, uint8 kind, string calldata cid, bytes32 modelId)
        external;

    /// @notice Register a model (`MODEL_ADMIN_ROLE`).
    function registerModel(bytes32 modelId, string calldata name, string calldata task, string[] calldata labelNames)
        external;

    /// @notice Write a model's label for a sound, once per (sound, model) (`LABELLER_ROLE`).
    function setLabel(bytes32 soundId, bytes32 modelId, uint16 labelIndex, uint16 confidenceBps) external;

    /// @notice The EIP-712 digest a contributor signs for `registerSoundFor`.
    function hashRegisterSound(
        address contributor,
        bytes32 digest,
        uint8 kind,
        string calldata cid,
        string calldata contributorLabel,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32);

    /// @notice A sound by id: contributor, kind, synthetic, registeredAt.
    function sounds(bytes32 soundId)
        external
        view
        returns (address contributor, Kind kind, bool synthetic, uint64 registeredAt);

    /// @notice A model by id: registered, labelCount.
    function models(bytes32 modelId) external view returns (bool registered, uint16 labelCount);

    /// @notice A model's label for a sound.
    function labels(bytes32 soundId, bytes32 modelId)
        external
        view
        returns (bool set, uint16 labelIndex, uint16 confidenceBps, uint40 labelledAt, address labeller);

    /// @notice The next nonce `registerSoundFor` expects from `owner`.
    function nonces(address owner) external view returns (uint256);

    /// @notice Role that registers models.
    function MODEL_ADMIN_ROLE() external view returns (bytes32);

    /// @notice Role that writes labels.
    function LABELLER_ROLE() external view returns (bytes32);

    /// @notice Role that registers synthetic sounds.
    function GENERATOR_ROLE() external view returns (bytes32);
}
