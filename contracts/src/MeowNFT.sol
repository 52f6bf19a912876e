// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IMeowNFT} from "./IMeowNFT.sol";

/// @title MIAO "Meow" NFTs
/// @notice ERC-721 tokens minted from MIAO sounds, with per-token URIs (ERC-4906 metadata events)
/// and ERC-2981 royalties. A minter mints directly, or signs an EIP-712 voucher that its recipient
/// redeems (lazy mint: the recipient pays the gas).
/// @dev Token ids count up from 1 and no token is ever burned, so `totalSupply()` is simply
/// `mintedCount() + redeemedCount()`.
contract MeowNFT is IMeowNFT, ERC721URIStorage, ERC2981, AccessControl, EIP712 {
    /// @notice Role that mints, signs vouchers and updates token URIs.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice EIP-712 type hash of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "MeowVoucher(address recipient,string tokenURI,bytes32 sourceSoundId,uint256 voucherId,uint256 deadline)"
    );

    /// @notice Royalty the constructor sets, paid to the deployer: 5%.
    uint96 public constant INITIAL_ROYALTY_BPS = 500;

    uint128 private _mintedCount;
    uint128 private _redeemedCount;

    mapping(uint256 voucherId => bool) private _voucherRedeemed;
    mapping(uint256 tokenId => bytes32) private _sourceSound;

    /// @notice The deployer becomes admin and minter, and receives a 5% default royalty.
    constructor() ERC721("MIAO Meow", "MEOW") EIP712("MeowNFT", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(MINTER_ROLE, msg.sender);
        _setDefaultRoyalty(msg.sender, INITIAL_ROYALTY_BPS);
        emit DefaultRoyaltySet(msg.sender, INITIAL_ROYALTY_BPS);
    }

    /// @notice Mint a token directly (`MINTER_ROLE`).
    /// @param to The owner; a contract must accept ERC-721 tokens.
    /// @param uri The token URI, `ipfs://<metadata CID>`.
    /// @param sourceSoundId The sound the token comes from.
    /// @return tokenId The new token's id.
    function mint(address to, string calldata uri, bytes32 sourceSoundId)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 tokenId)
    {
        tokenId = _nextTokenId();
        ++_mintedCount;
        _create(to, tokenId, uri, sourceSoundId, 0);
    }

    /// @notice Redeem a minter-signed voucher; the caller must be its recipient and pays the gas.
    /// @param voucher The voucher.
    /// @param signature The minter's 65-byte signature of `hashVoucher(voucher)`.
    /// @return tokenId The new token's id.
    function redeem(Voucher calldata voucher, bytes calldata signature) external returns (uint256 tokenId) {
        if (msg.sender != voucher.recipient) revert NotVoucherRecipient(voucher.recipient, msg.sender);
        if (block.timestamp > voucher.deadline) revert VoucherExpired(voucher.deadline);
        uint256 voucherId = voucher.voucherId;
        if (voucherId == 0) revert InvalidVoucherId();
        if (_voucherRedeemed[voucherId]) revert VoucherAlreadyRedeemed(voucherId);
        address signer = ECDSA.recoverCalldata(hashVoucher(voucher), signature);
        if (!hasRole(MINTER_ROLE, signer)) revert InvalidVoucherSigner(signer);
        _voucherRedeemed[voucherId] = true;
        tokenId = _nextTokenId();
        ++_redeemedCount;
        _create(msg.sender, tokenId, voucher.tokenURI, voucher.sourceSoundId, voucherId);
    }

    /// @notice Replace a token's URI (`MINTER_ROLE`); emits ERC-4906 `MetadataUpdate`.
    /// @param tokenId An existing token.
    /// @param uri The new token URI.
    function setTokenURI(uint256 tokenId, string calldata uri) external onlyRole(MINTER_ROLE) {
        _requireOwned(tokenId);
        _setTokenURI(tokenId, uri);
    }

    /// @notice Set the default royalty (`DEFAULT_ADMIN_ROLE`).
    /// @param receiver Who receives royalties; non-zero.
    /// @param feeBps Basis points of the sale price, at most 10000.
    function setDefaultRoyalty(address receiver, uint96 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, feeBps);
        emit DefaultRoyaltySet(receiver, feeBps);
    }

    /// @notice How many tokens exist (none is ever burned).
    /// @return The number of tokens.
    function totalSupply() external view returns (uint256) {
        return uint256(_mintedCount) + _redeemedCount;
    }

    /// @notice How many tokens were minted directly by a minter.
    /// @return The count.
    function mintedCount() external view returns (uint256) {
        return _mintedCount;
    }

    /// @notice How many tokens were created by redeeming vouchers.
    /// @return The count.
    function redeemedCount() external view returns (uint256) {
        return _redeemedCount;
    }

    /// @notice Whether a voucher id has been redeemed.
    /// @param voucherId The voucher id.
    /// @return True once redeemed.
    function voucherRedeemed(uint256 voucherId) external view returns (bool) {
        return _voucherRedeemed[voucherId];
    }

    /// @notice The SoundRegistry id of the sound a token comes from.
    /// @param tokenId An existing token.
    /// @return The source sound id.
    function sourceSound(uint256 tokenId) external view returns (bytes32) {
        _requireOwned(tokenId);
        return _sourceSound[tokenId];
    }

    /// @notice The EIP-712 digest a minter signs for a voucher.
    /// @param voucher The voucher.
    /// @return The typed-data hash to sign.
    function hashVoucher(Voucher calldata voucher) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    VOUCHER_TYPEHASH,
                    voucher.recipient,
                    keccak256(bytes(voucher.tokenURI)),
                    voucher.sourceSoundId,
                    voucher.voucherId,
                    voucher.deadline
                )
            )
        );
    }

    /// @inheritdoc ERC721URIStorage
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721URIStorage, ERC2981, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _nextTokenId() private view returns (uint256) {
        return uint256(_mintedCount) + _redeemedCount + 1;
    }

    /// @dev Effects first (owner, URI, source, events), then the ERC-721 receiver check.
    function _create(address to, uint256 tokenId, string calldata uri, bytes32 sourceSoundId, uint256 voucherId)
        private
    {
        _sourceSound[tokenId] = sourceSoundId;
        _mint(to, tokenId);
        _setTokenURI(tokenId, uri);
        emit MeowMinted(tokenId, to, sourceSoundId, voucherId, uri);
        ERC721Utils.checkOnERC721Received(msg.sender, address(0), to, tokenId, "");
    }
}
