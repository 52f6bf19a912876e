"""MeowNFT through the Python client: direct mints, vouchers redeemed by users, metadata, royalty."""

from __future__ import annotations

import os
import secrets

import pytest

from backend.chain.client import ChainClient
from backend.chain.eip712 import Voucher, typed_data_hash
from backend.chain.errors import (
    AccessControlUnauthorizedAccount,
    ERC721NonexistentToken,
    InvalidVoucherSigner,
    NotVoucherRecipient,
    VoucherAlreadyRedeemed,
    VoucherExpired,
)
from backend.chain.meow_nft import MeowNFT
from backend.chain.roles import MINTER_ROLE
from backend.chain.values import hex0x
from tests.fixtures.chain import chain_time

pytestmark = pytest.mark.chain

URI = "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def _voucher(recipient: str, client: ChainClient, *, ttl: int = 3600) -> Voucher:
    return Voucher(
        recipient=recipient,
        token_uri=URI,
        source_sound_id=os.urandom(32),
        voucher_id=secrets.randbits(128) + 1,
        deadline=chain_time(client) + ttl,
    )


def test_mint_by_minter(meow_nft: MeowNFT, user_client: ChainClient) -> None:
    source = os.urandom(32)
    supply_before = meow_nft.total_supply()

    minted = meow_nft.mint(user_client.address, URI, source)

    assert minted.token_id == supply_before + 1
    assert meow_nft.owner_of(minted.token_id) == user_client.address
    assert meow_nft.token_uri(minted.token_id) == URI
    assert meow_nft.source_sound(minted.token_id) == hex0x(source)
    assert meow_nft.total_supply() == meow_nft.minted_count() + meow_nft.redeemed_count()


def test_redeem_voucher_from_users_own_wallet(
    meow_nft: MeowNFT, admin_client: ChainClient, other_user_client: ChainClient
) -> None:
    """A second wallet redeems a minter-signed voucher and pays the gas itself."""
    signed = meow_nft.sign_voucher(_voucher(other_user_client.address, admin_client))
    assert typed_data_hash(signed.typed_data) == meow_nft.hash_voucher(signed.voucher)
    admin_balance = admin_client.balance()
    user_balance = other_user_client.balance()
    redeemed_before = meow_nft.redeemed_count()

    minted = meow_nft.as_signer(other_user_client).redeem(signed.voucher, signed.signature)

    assert meow_nft.owner_of(minted.token_id) == other_user_client.address
    assert meow_nft.voucher_redeemed(signed.voucher.voucher_id)
    assert meow_nft.redeemed_count() == redeemed_before + 1
    receipt = minted.tx.receipt
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert other_user_client.balance() == user_balance - fee
    assert admin_client.balance() == admin_balance  # the minter paid nothing


def test_voucher_redeemed_twice_is_rejected(
    meow_nft: MeowNFT, admin_client: ChainClient, user_client: ChainClient
) -> None:
    signed = meow_nft.sign_voucher(_voucher(user_client.address, admin_client))
    as_user = meow_nft.as_signer(user_client)
    as_user.redeem(signed.voucher, signed.signature)
    supply = meow_nft.total_supply()

    with pytest.raises(VoucherAlreadyRedeemed) as exc:
        as_user.redeem(signed.voucher, signed.signature)
    assert exc.value.named_args == {"voucherId": signed.voucher.voucher_id}
    assert meow_nft.total_supply() == supply


def test_voucher_checks(
    meow_nft: MeowNFT,
    admin_client: ChainClient,
    user_client: ChainClient,
    other_user_client: ChainClient,
) -> None:
    as_user = meow_nft.as_signer(user_client)
    # someone else's voucher
    theirs = meow_nft.sign_voucher(_voucher(other_user_client.address, admin_client))
    with pytest.raises(NotVoucherRecipient) as wrong_caller:
        as_user.redeem(theirs.voucher, theirs.signature)
    assert wrong_caller.value.named_args == {
        "recipient": other_user_client.address,
        "caller": user_client.address,
    }
    # expired
    expired = meow_nft.sign_voucher(_voucher(user_client.address, admin_client, ttl=-1))
    with pytest.raises(VoucherExpired):
        as_user.redeem(expired.voucher, expired.signature)
    # signed by a wallet without MINTER_ROLE (the user signs their own voucher)
    forged_voucher = _voucher(user_client.address, admin_client)
    forged = meow_nft.as_signer(user_client).sign_voucher(forged_voucher)
    with pytest.raises(InvalidVoucherSigner) as bad_signer:
        as_user.redeem(forged.voucher, forged.signature)
    assert bad_signer.value.named_args == {"recovered": user_client.address}
    assert not meow_nft.voucher_redeemed(forged_voucher.voucher_id)


def test_only_minters_mint(meow_nft: MeowNFT, user_client: ChainClient) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as exc:
        meow_nft.as_signer(user_client).mint(user_client.address, URI, os.urandom(32))
    assert exc.value.named_args["neededRole"] == hex0x(MINTER_ROLE)


def test_set_token_uri_and_royalty(meow_nft: MeowNFT, user_client: ChainClient) -> None:
    minted = meow_nft.mint(user_client.address, URI, os.urandom(32))
    meow_nft.set_token_uri(minted.token_id, "ipfs://updated")
    assert meow_nft.token_uri(minted.token_id) == "ipfs://updated"
    meow_nft.set_default_royalty(user_client.address, 300)
    try:
        assert meow_nft.royalty_info(minted.token_id, 10_000) == (user_client.address, 300)
    finally:
        meow_nft.set_default_royalty(meow_nft.client.address, 500)  # the deployment's default
    with pytest.raises(ERC721NonexistentToken):
        meow_nft.set_token_uri(10**9, "ipfs://nothing")
