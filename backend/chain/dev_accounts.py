"""anvil's well-known development accounts (public keys of a public mnemonic: local use only)."""

from __future__ import annotations

from functools import cache

from eth_account import Account

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
"""anvil funds the first ten accounts of the mnemonic with 10,000 ether each."""


@cache
def dev_key(index: int) -> str:
    """The private key (``0x`` hex) of dev account ``index`` (path m/44'/60'/0'/0/index)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account.key.to_0x_hex()
