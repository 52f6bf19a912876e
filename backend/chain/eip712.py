"""EIP-712 typed data for the two signatures the system uses, in ``eth_signTypedData_v4`` shape.

``RegisterSound`` is signed by a contributor's wallet so a relayer can register for them;
``MeowVoucher`` is signed by the backend's minter so a user can redeem an NFT from their own
wallet. The dicts built here are what the API hands to a browser wallet, and what
``sign_typed_data`` signs locally: the same bytes either way. uint256 values are decimal strings
(JSON numbers lose precision past 2**53 in JavaScript); bytes32 values are ``0x`` hex.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from backend.chain.values import hex0x, to_bytes32

_DOMAIN_FIELDS = (  # ERC-5267 field bits, in order
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)

REGISTER_SOUND_TYPE = [
    {"name": "contributor", "type": "address"},
    {"name": "digest", "type": "bytes32"},
    {"name": "kind", "type": "uint8"},
    {"name": "cid", "type": "string"},
    {"name": "contributorLabel", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

MEOW_VOUCHER_TYPE = [
    {"name": "recipient", "type": "address"},
    {"name": "tokenURI", "type": "string"},
    {"name": "sourceSoundId", "type": "bytes32"},
    {"name": "voucherId", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


@dataclass(frozen=True)
class Eip712Domain:
    """A contract's signing domain, as its ``eip712Domain()`` (ERC-5267) reports it."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str
    salt: str | None = None

    @classmethod
    def read(cls, contract: Any) -> Eip712Domain:
        """Ask the contract, so the domain can never drift from what it verifies."""
        fields, name, version, chain_id, verifying, salt, _ext = (
            contract.functions.eip712Domain().call()
        )
        bits = fields[0] if isinstance(fields, bytes | bytearray) else int(fields)
        return cls(
            name=name,
            version=version,
            chain_id=int(chain_id),
            verifying_contract=to_checksum_address(verifying),
            salt=hex0x(salt) if bits & 0x10 else None,
        )

    def typed(self) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The ``EIP712Domain`` type list and the domain values for a typed-data message."""
        values: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }
        if self.salt is not None:
            values["salt"] = self.salt
        types = [{"name": n, "type": t} for n, t in _DOMAIN_FIELDS if n in values]
        return types, values


@dataclass(frozen=True)
class Voucher:
    """A lazy-mint voucher: ``recipient`` may redeem it once, before ``deadline``."""

    recipient: str
    token_uri: str
    source_sound_id: bytes
    voucher_id: int
    deadline: int

    def as_tuple(self) -> tuple[str, str, bytes, int, int]:
        """The Solidity ``Voucher`` struct argument."""
        return (
            to_checksum_address(self.recipient),
            self.token_uri,
            to_bytes32(self.source_sound_id),
            self.voucher_id,
            self.deadline,
        )


def _typed_data(
    domain: Eip712Domain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> dict[str, Any]:
    domain_types, domain_values = domain.typed()
    return {
        "types": {"EIP712Domain": domain_types, primary: fields},
        "primaryType": primary,
        "domain": domain_values,
        "message": message,
    }


def register_sound_typed_data(
    domain: Eip712Domain,
    *,
    contributor: str,
    digest: bytes | str,
    kind: int,
    cid: str,
    contributor_label: str,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """What a contributor signs so that anyone may register the sound for them."""
    return _typed_data(
        domain,
        "RegisterSound",
        REGISTER_SOUND_TYPE,
        {
            "contributor": to_checksum_address(contributor),
            "digest": hex0x(to_bytes32(digest)),
            "kind": int(kind),
            "cid": cid,
            "contributorLabel": contributor_label,
            "nonce": str(nonce),
            "deadline": str(deadline),
        },
    )


def voucher_typed_data(domain: Eip712Domain, voucher: Voucher) -> dict[str, Any]:
    """What a minter signs so that ``voucher.recipient`` can redeem the NFT."""
    return _typed_data(
        domain,
        "MeowVoucher",
        MEOW_VOUCHER_TYPE,
        {
            "recipient": to_checksum_address(voucher.recipient),
            "tokenURI": voucher.token_uri,
            "sourceSoundId": hex0x(to_bytes32(voucher.source_sound_id)),
            "voucherId": str(voucher.voucher_id),
            "deadline": str(voucher.deadline),
        },
    )


def typed_data_hash(typed_data: dict[str, Any]) -> bytes:
    """The 32-byte digest a wallet signs (``keccak(0x1901 || domainSeparator || structHash)``)."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed_data(private_key: str, typed_data: dict[str, Any]) -> bytes:
    """A 65-byte ``r || s || v`` signature, the same a wallet's ``eth_signTypedData_v4`` gives."""
    return bytes(Account.sign_typed_data(private_key, full_message=typed_data).signature)


def recover_signer(typed_data: dict[str, Any], signature: bytes | str) -> str:
    """The address that signed ``typed_data`` (checksummed)."""
    return Account.recover_message(encode_typed_data(full_message=typed_data), signature=signature)
