// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IMeowNFT} from "../src/IMeowNFT.sol";
import {Test} from "./utils/Test.sol";

/// @dev A contract that refuses ERC-721 tokens (no onERC721Received).
contract NotAReceiver {}

contract MeowNFTTest is Test {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event MetadataUpdate(uint256 _tokenId);
    event MeowMinted(
        uint256 indexed tokenId, address indexed to, bytes32 indexed sourceSoundId, uint256 voucherId, string tokenURI
    );
    event DefaultRoyaltySet(address receiver, uint96 feeBps);

    string internal constant URI = "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    bytes32 internal constant SOUND = keccak256("meow.wav bytes");

    IMeowNFT internal nft;
    IERC721Metadata internal erc721;
    IAccessControl internal roles;
    address internal admin = address(this);
    uint256 internal minterKey = 0xA11CE;
    address internal minter;
    address internal user = address(0x1234);
    address internal stranger = address(0x5742);

    function setUp() public {
        vm.warp(1_700_000_000);
        // deployed from forge's artifact, compiled via-IR exactly like contracts/artifacts/
        nft = IMeowNFT(vm.deployCode("MeowNFT.sol:MeowNFT"));
        erc721 = IERC721Metadata(address(nft));
        roles = IAccessControl(address(nft));
        minter = vm.addr(minterKey);
        roles.grantRole(nft.MINTER_ROLE(), minter);
        vm.label(minter, "minter");
        vm.label(user, "user");
        vm.label(stranger, "stranger");
    }

    function _voucher(address recipient, uint256 voucherId) internal view returns (IMeowNFT.Voucher memory) {
        return IMeowNFT.Voucher({
            recipient: recipient,
            tokenURI: URI,
            sourceSoundId: SOUND,
            voucherId: voucherId,
            deadline: block.timestamp + 1 days
        });
    }

    function _sign(uint256 key, IMeowNFT.Voucher memory voucher) internal view returns (bytes memory) {
        return signature(key, nft.hashVoucher(voucher));
    }

    function _expectedVoucherHash(IMeowNFT.Voucher memory v) internal view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("MeowNFT"),
                keccak256("1"),
                block.chainid,
                address(nft)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "MeowVoucher(address recipient,string tokenURI,bytes32 sourceSoundId,uint256 voucherId,uint256 deadline)"
                ),
                v.recipient,
                keccak256(bytes(v.tokenURI)),
                v.sourceSoundId,
                v.voucherId,
                v.deadline
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    // ---------------------------------------------------------------- deployment

    function test_metadataRolesAndRoyalty() public view {
        vm.assertEq(erc721.name(), "MIAO Meow", "name");
        vm.assertEq(erc721.symbol(), "MEOW", "symbol");
        vm.assertTrue(roles.hasRole(bytes32(0), admin), "admin");
        vm.assertTrue(roles.hasRole(nft.MINTER_ROLE(), admin), "deployer mints");
        (address receiver, uint256 amount) = IERC2981(address(nft)).royaltyInfo(1, 10_000);
        vm.assertEq(receiver, admin, "royalty receiver");
        vm.assertEq(amount, 500, "5% royalty");
        vm.assertEq(nft.totalSupply(), 0, "no tokens yet");
    }

    function test_supportsTheStandardInterfaces() public view {
        IERC165 introspection = IERC165(address(nft));
        vm.assertTrue(introspection.supportsInterface(type(IERC721).interfaceId), "ERC-721");
        vm.assertTrue(introspection.supportsInterface(type(IERC721Metadata).interfaceId), "metadata");
        vm.assertTrue(introspection.supportsInterface(bytes4(0x49064906)), "ERC-4906");
        vm.assertTrue(introspection.supportsInterface(type(IERC2981).interfaceId), "ERC-2981");
        vm.assertTrue(introspection.supportsInterface(type(IAccessControl).interfaceId), "AccessControl");
        vm.assertTrue(introspection.supportsInterface(type(IERC165).interfaceId), "ERC-165");
        vm.assertFalse(introspection.supportsInterface(0xdeadbeef), "unknown");
    }

    function test_eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            IERC5267(address(nft)).eip712Domain();
        vm.assertEq(name, "MeowNFT", "name");
        vm.assertEq(version, "1", "version");
        vm.assertEq(chainId, block.chainid, "chain id");
        vm.assertEq(verifying, address(nft), "verifying contract");
    }

    function test_hashVoucherMatchesTheSpecTypeString() public view {
        IMeowNFT.Voucher memory v = _voucher(user, 42);
        vm.assertEq(nft.hashVoucher(v), _expectedVoucherHash(v), "voucher hash");
    }

    // ---------------------------------------------------------------- mint

    function test_mint_createsTokenOneAndEmits() public {
        vm.expectEmit(true, true, true, true, address(nft));
        emit Transfer(address(0), user, 1);
        vm.expectEmit(true, true, true, true, address(nft));
        emit MetadataUpdate(1);
        vm.expectEmit(true, true, true, true, address(nft));
        emit MeowMinted(1, user, SOUND, 0, URI);
        vm.prank(minter);
        uint256 tokenId = nft.mint(user, URI, SOUND);
        vm.assertEq(tokenId, 1, "ids start at 1");
        vm.assertEq(erc721.ownerOf(1), user, "owner");
        vm.assertEq(erc721.tokenURI(1), URI, "uri");
        vm.assertEq(nft.sourceSound(1), SOUND, "source sound");
        vm.assertEq(nft.mintedCount(), 1, "minted");
        vm.assertEq(nft.totalSupply(), 1, "supply");
    }

    function test_mint_idsCountUp() public {
        for (uint256 i = 1; i <= 3; i++) {
            vm.assertEq(nft.mint(user, URI, SOUND), i, "sequential ids");
        }
        vm.assertEq(erc721.balanceOf(user), 3, "balance");
    }

    function test_mint_revertsWithoutMinterRole() public {
        bytes32 role = nft.MINTER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        nft.mint(stranger, URI, SOUND);
    }

    function test_mint_revertsForNonReceiverContract() public {
        address sink = address(new NotAReceiver());
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, sink));
        nft.mint(sink, URI, SOUND);
        vm.assertEq(nft.totalSupply(), 0, "nothing minted");
    }

    function test_mint_revertsToZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        nft.mint(address(0), URI, SOUND);
    }

    // ---------------------------------------------------------------- redeem

    function test_redeem_userPaysAndGetsTheToken() public {
        nft.mint(stranger, URI, SOUND); // token 1 already exists
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        vm.expectEmit(true, true, true, true, address(nft));
        emit MeowMinted(2, user, SOUND, 7, URI);
        vm.prank(user);
        uint256 tokenId = nft.redeem(v, sig);
        vm.assertEq(tokenId, 2, "next id");
        vm.assertEq(erc721.ownerOf(2), user, "owner");
        vm.assertEq(erc721.tokenURI(2), URI, "uri");
        vm.assertTrue(nft.voucherRedeemed(7), "voucher spent");
        vm.assertEq(nft.redeemedCount(), 1, "redeemed");
        vm.assertEq(nft.totalSupply(), 2, "supply");
    }

    function test_redeem_acceptsTheDeadlineItself() public {
        IMeowNFT.Voucher memory v = _voucher(user, 1);
        v.deadline = block.timestamp;
        bytes memory sig = _sign(minterKey, v);
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsWhenRedeemedTwice() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        vm.prank(user);
        nft.redeem(v, sig);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.VoucherAlreadyRedeemed.selector, uint256(7)));
        vm.prank(user);
        nft.redeem(v, sig);
        vm.assertEq(nft.totalSupply(), 1, "one token");
    }

    function test_redeem_revertsWhenExpired() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        vm.warp(v.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.VoucherExpired.selector, v.deadline));
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsOnWrongSigner() public {
        uint256 otherKey = 0xBAD;
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(otherKey, v);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.InvalidVoucherSigner.selector, vm.addr(otherKey)));
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsWhenTheSignerLostTheMinterRole() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        roles.revokeRole(nft.MINTER_ROLE(), minter);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.InvalidVoucherSigner.selector, minter));
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsForAnyoneButTheRecipient() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.NotVoucherRecipient.selector, user, stranger));
        vm.prank(stranger);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsWhenAFieldWasChanged() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        bytes memory sig = _sign(minterKey, v);
        v.tokenURI = "ipfs://somethingelse";
        vm.expectPartialRevert(IMeowNFT.InvalidVoucherSigner.selector);
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsOnVoucherIdZero() public {
        IMeowNFT.Voucher memory v = _voucher(user, 0);
        bytes memory sig = _sign(minterKey, v);
        vm.expectRevert(IMeowNFT.InvalidVoucherId.selector);
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function test_redeem_revertsOnMalformedSignature() public {
        IMeowNFT.Voucher memory v = _voucher(user, 7);
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, uint256(3)));
        vm.prank(user);
        nft.redeem(v, hex"010203");
    }

    // ---------------------------------------------------------------- token URI and royalty

    function test_setTokenURI_updatesAndEmitsMetadataUpdate() public {
        nft.mint(user, URI, SOUND);
        vm.expectEmit(true, true, true, true, address(nft));
        emit MetadataUpdate(1);
        nft.setTokenURI(1, "ipfs://bafynew");
        vm.assertEq(erc721.tokenURI(1), "ipfs://bafynew", "updated");
    }

    function test_setTokenURI_revertsWithoutMinterRole() public {
        nft.mint(user, URI, SOUND);
        bytes32 role = nft.MINTER_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, user, role));
        vm.prank(user);
        nft.setTokenURI(1, "ipfs://mine");
    }

    function test_nonexistentTokenReverts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(1)));
        nft.setTokenURI(1, "ipfs://x");
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(1)));
        nft.sourceSound(1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(1)));
        erc721.tokenURI(1);
    }

    function test_setDefaultRoyalty_adminOnly() public {
        vm.expectEmit(true, true, true, true, address(nft));
        emit DefaultRoyaltySet(stranger, 250);
        nft.setDefaultRoyalty(stranger, 250);
        (address receiver, uint256 amount) = IERC2981(address(nft)).royaltyInfo(1, 1 ether);
        vm.assertEq(receiver, stranger, "receiver");
        vm.assertEq(amount, 0.025 ether, "2.5%");
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, bytes32(0))
        );
        vm.prank(minter);
        nft.setDefaultRoyalty(minter, 1_000);
    }

    function test_setDefaultRoyalty_rejectsFeeAboveDenominator() public {
        vm.expectRevert(); // OpenZeppelin ERC2981InvalidDefaultRoyalty(10001, 10000)
        nft.setDefaultRoyalty(stranger, 10_001);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_redeem_roundTrips(
        uint256 recipientSeed,
        string calldata uri,
        bytes32 sourceSoundId,
        uint256 voucherId,
        uint256 deadline
    ) public {
        address recipient = vm.addr(boundKey(recipientSeed)); // an EOA, so it accepts tokens
        voucherId = bound(voucherId, 1, type(uint256).max);
        deadline = bound(deadline, block.timestamp, type(uint256).max);
        IMeowNFT.Voucher memory v = IMeowNFT.Voucher(recipient, uri, sourceSoundId, voucherId, deadline);
        vm.assertEq(nft.hashVoucher(v), _expectedVoucherHash(v), "voucher hash");
        bytes memory sig = _sign(minterKey, v);
        vm.prank(recipient);
        uint256 tokenId = nft.redeem(v, sig);
        vm.assertEq(erc721.ownerOf(tokenId), recipient, "owner");
        vm.assertEq(erc721.tokenURI(tokenId), uri, "uri");
        vm.assertEq(nft.sourceSound(tokenId), sourceSoundId, "source");
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.VoucherAlreadyRedeemed.selector, voucherId));
        vm.prank(recipient);
        nft.redeem(v, sig);
    }

    function testFuzz_redeem_rejectsNonMinterSigners(uint256 keySeed) public {
        uint256 key = boundKey(keySeed);
        vm.assume(key != minterKey);
        IMeowNFT.Voucher memory v = _voucher(user, 1);
        bytes memory sig = _sign(key, v);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.InvalidVoucherSigner.selector, vm.addr(key)));
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function testFuzz_redeem_rejectsEveryPastDeadline(uint256 deadline, uint256 nowTs) public {
        nowTs = bound(nowTs, 1, type(uint64).max);
        deadline = bound(deadline, 0, nowTs - 1);
        vm.warp(nowTs);
        IMeowNFT.Voucher memory v = _voucher(user, 1);
        v.deadline = deadline;
        bytes memory sig = _sign(minterKey, v);
        vm.expectRevert(abi.encodeWithSelector(IMeowNFT.VoucherExpired.selector, deadline));
        vm.prank(user);
        nft.redeem(v, sig);
    }

    function testFuzz_mint_rejectsEveryNonMinter(address caller) public {
        vm.assume(caller != admin && caller != minter);
        bytes32 role = nft.MINTER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
        );
        vm.prank(caller);
        nft.mint(user, URI, SOUND);
    }
}
