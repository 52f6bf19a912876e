// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The MIAO "Meow" NFT's interface
/// @notice Types, events, errors and functions of `MeowNFT` beyond the standard ones (ERC-721,
/// ERC-4906, ERC-2981, AccessControl, ERC-5267 come from OpenZeppelin's interfaces).
interface IMeowNFT {
    /// @notice A minter's signed promise of one token to `recipient`.
    /// @param recipient The only account that may redeem it.
    /// @param tokenURI The token URI, `ipfs://<metadata CID>`.
    /// @param sourceSoundId The SoundRegistry id of the sound the token comes from.
    /// @param voucherId Unique, non-zero; a voucher id redeems once.
    /// @param deadline Last valid block timestamp.
    struct Voucher {
        address recipient;
        string tokenURI;
        bytes32 sourceSoundId;
        uint256 voucherId;
        uint256 deadline;
    }

    /// @notice A token was created, by a direct mint (`voucherId == 0`) or a redeemed voucher.
    /// @param tokenId The new token.
    /// @param to Its owner.
    /// @param sourceSoundId The sound it comes from.
    /// @param voucherId The redeemed voucher, or 0 for a direct mint.
    /// @param tokenURI Its token URI.
    event MeowMinted(
        uint256 indexed tokenId, address indexed to, bytes32 indexed sourceSoundId, uint256 voucherId, string tokenURI
    );

    /// @notice The default royalty changed.
    /// @param receiver Who receives royalties.
    /// @param feeBps The royalty in basis points of the sale price.
    event DefaultRoyaltySet(address receiver, uint96 feeBps);

    /// @notice The voucher's deadline has passed.
    error VoucherExpired(uint256 deadline);
    /// @notice This voucher id was already redeemed.
    error VoucherAlreadyRedeemed(uint256 voucherId);
    /// @notice The voucher was not signed by a `MINTER_ROLE` holder.
    error InvalidVoucherSigner(address recovered);
    /// @notice Only the voucher's recipient may redeem it.
    error NotVoucherRecipient(address recipient, address caller);
    /// @notice Voucher ids must be non-zero (0 marks a direct mint).
    error InvalidVoucherId();

    /// @notice Mint a token directly (`MINTER_ROLE`).
    function mint(address to, string calldata uri, bytes32 sourceSoundId) external returns (uint256 tokenId);

    /// @notice Redeem a minter-signed voucher; the caller must be its recipient and pays the gas.
    function redeem(Voucher calldata voucher, bytes calldata signature) external returns (uint256 tokenId);

    /// @notice Replace a token's URI (`MINTER_ROLE`).
    function setTokenURI(uint256 tokenId, string calldata uri) external;

    /// @notice Set the default royalty (`DEFAULT_ADMIN_ROLE`).
    function setDefaultRoyalty(address receiver, uint96 feeBps) external;

    /// @notice How many tokens exist.
    function totalSupply() external view returns (uint256);

    /// @notice How many tokens were minted directly.
    function mintedCount() external view returns (uint256);

    /// @notice How many tokens were created by redeeming vouchers.
    function redeemedCount() external view returns (uint256);

    /// @notice Whether a voucher id has been redeemed.
    function voucherRedeemed(uint256 voucherId) external view returns (bool);

    /// @notice The SoundRegistry id of the sound a token comes from.
    function sourceSound(uint256 tokenId) external view returns (bytes32);

    /// @notice The EIP-712 digest a minter signs for a voucher.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);

    /// @notice Role that mints, signs vouchers and updates token URIs.
    function MINTER_ROLE() external view returns (bytes32);
}
