"""Typed calls to ``MeowNFT``: direct mints, voucher signing and redemption, metadata, royalties."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from backend.chain.client import ChainClient, TxResult
from backend.chain.eip712 import Eip712Domain, Voucher, voucher_typed_data
from backend.chain.values import hex0x, to_bytes32


@dataclass(frozen=True)
class Minted:
    """A new token and the transaction that created it."""

    token_id: int
    tx: TxResult


@dataclass(frozen=True)
class SignedVoucher:
    """A voucher, the typed data the minter signed, and the signature: what the API hands out."""

    voucher: Voucher
    typed_data: dict[str, Any]
    signature: bytes


class MeowNFT:
    """``MeowNFT`` at ``address``, sending as ``client``'s account."""

    name = "MeowNFT"

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.contract(self.name, self.address)

    def as_signer(self, client: ChainClient) -> MeowNFT:
        """The same contract, sending from another account."""
        return MeowNFT(client, self.address)

    # --- writes ------------------------------------------------------------------------------
    def mint(self, to: str, token_uri: str, source_sound_id: bytes | str) -> Minted:
        """Mint directly to ``to`` (``MINTER_ROLE``)."""
        fn = self.contract.functions.mint(
            Web3.to_checksum_address(to), token_uri, to_bytes32(source_sound_id)
        )
        return self._minted(self.client.transact(fn))

    def redeem(self, voucher: Voucher, signature: bytes) -> Minted:
        """Redeem a voucher; this client's account must be its recipient and pays the gas."""
        fn = self.contract.functions.redeem(voucher.as_tuple(), bytes(signature))
        return self._minted(self.client.transact(fn))

    def set_token_uri(self, token_id: int, token_uri: str) -> TxResult:
        """Replace a token's URI (``MINTER_ROLE``; emits ERC-4906 ``MetadataUpdate``)."""
        return self.client.transact(self.contract.functions.setTokenURI(token_id, token_uri))

    def set_default_royalty(self, receiver: str, fee_bps: int) -> TxResult:
        fn = self.contract.functions.setDefaultRoyalty(Web3.to_checksum_address(receiver), fee_bps)
        return self.client.transact(fn)

    def grant_role(self, role: bytes, account: str) -> TxResult:
        """Give ``account`` a role (the role's admin only: ``DEFAULT_ADMIN_ROLE`` here)."""
        fn = self.contract.functions.grantRole(role, Web3.to_checksum_address(account))
        return self.client.transact(fn)

    def revoke_role(self, role: bytes, account: str) -> TxResult:
        fn = self.contract.functions.revokeRole(role, Web3.to_checksum_address(account))
        return self.client.transact(fn)

    def _minted(self, tx: TxResult) -> Minted:
        events = self.contract.events.MeowMinted().process_receipt(tx.receipt, errors=DISCARD)
        return Minted(token_id=int(events[0]["args"]["tokenId"]), tx=tx)

    # --- vouchers ----------------------------------------------------------------------------
    @cached_property
    def domain(self) -> Eip712Domain:
        return Eip712Domain.read(self.contract)

    def voucher_typed_data(self, voucher: Voucher) -> dict[str, Any]:
        return voucher_typed_data(self.domain, voucher)

    def sign_voucher(self, voucher: Voucher) -> SignedVoucher:
        """Sign ``voucher`` with this client's key (which must hold ``MINTER_ROLE`` to redeem)."""
        typed = self.voucher_typed_data(voucher)
        return SignedVoucher(voucher, typed, self.client.sign_typed_data(typed))

    # --- views -------------------------------------------------------------------------------
    def total_supply(self) -> int:
        return self.client.call(self.contract.functions.totalSupply())

    def minted_count(self) -> int:
        return self.client.call(self.contract.functions.mintedCount())

    def redeemed_count(self) -> int:
        return self.client.call(self.contract.functions.redeemedCount())

    def voucher_redeemed(self, voucher_id: int) -> bool:
        return self.client.call(self.contract.functions.voucherRedeemed(voucher_id))

    def owner_of(self, token_id: int) -> str:
        return self.client.call(self.contract.functions.ownerOf(token_id))

    def token_uri(self, token_id: int) -> str:
        return self.client.call(self.contract.functions.tokenURI(token_id))

    def source_sound(self, token_id: int) -> str:
        """The source sound id of a token, ``0x`` hex."""
        return hex0x(self.client.call(self.contract.functions.sourceSound(token_id)))

    def royalty_info(self, token_id: int, sale_price: int) -> tuple[str, int]:
        """(receiver, amount) for a sale of ``token_id`` at ``sale_price`` (ERC-2981)."""
        receiver, amount = self.client.call(
            self.contract.functions.royaltyInfo(token_id, sale_price)
        )
        return receiver, amount

    def has_role(self, role: bytes, account: str) -> bool:
        return self.client.call(
            self.contract.functions.hasRole(role, Web3.to_checksum_address(account))
        )

    def hash_voucher(self, voucher: Voucher) -> bytes:
        """The contract's own EIP-712 digest of a voucher (to cross-check signers)."""
        return bytes(self.client.call(self.contract.functions.hashVoucher(voucher.as_tuple())))
