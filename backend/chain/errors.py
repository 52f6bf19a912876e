"""Typed chain exceptions: callers catch ``SoundAlreadyRegistered``, not a hex string.

A revert's data starts with the 4-byte selector of a Solidity custom error. ``decode_revert``
matches it against every error in both contracts' ABIs (OpenZeppelin's included) and raises the
subclass of ``ContractRevert`` named after it, with the error's arguments decoded to plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from eth_abi import decode as abi_decode
from eth_utils import abi_to_signature, function_signature_to_4byte_selector, get_abi_input_types

from backend.chain.artifacts import CONTRACT_NAMES, load_artifact
from backend.chain.values import hex0x, plain_args


class ChainError(Exception):
    """Anything that went wrong talking to the chain."""


class ChainUnavailable(ChainError):
    """The JSON-RPC node did not answer (refused, unreachable or timed out)."""


class NonceStoreUnavailable(ChainUnavailable):
    """The shared nonce counter (Redis) did not answer or its lock was not free in time: nothing
    was sent, as when the node is down."""


class TransactionTimeout(ChainError):
    """A sent transaction had no receipt within the timeout; it may still be mined later."""

    def __init__(self, tx_hash: str, timeout_s: float) -> None:
        super().__init__(f"no receipt for {tx_hash} after {timeout_s:g}s")
        self.tx_hash, self.timeout_s = tx_hash, timeout_s

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tx_hash, self.timeout_s))


class TransactionFailed(ChainError):
    """A mined transaction failed (status 0) and re-simulating it gave no revert reason."""

    def __init__(self, tx_hash: str, detail: str = "") -> None:
        super().__init__(f"transaction {tx_hash} failed on-chain{': ' + detail if detail else ''}")
        self.tx_hash, self.detail = tx_hash, detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tx_hash, self.detail))


class TransactionRejected(ChainError):
    """The node refused the signed transaction (funds, fee, nonce): nothing was sent."""


_REVERT_CLASSES: dict[str, type[ContractRevert]] = {}


class ContractRevert(ChainError):
    """A contract call reverted. ``error_name`` names the Solidity error; ``args`` are its values.

    ``named_args`` holds the same values by parameter name (bytes32 as ``0x`` hex, addresses
    checksummed); ``data`` is the raw revert data; ``context`` says which call reverted.
    """

    error_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.error_name = cls.__dict__.get("error_name") or cls.__name__
        _REVERT_CLASSES.setdefault(cls.error_name, cls)

    def __init__(
        self,
        named_args: dict[str, Any] | None = None,
        *,
        data: str = "0x",
        context: str = "",
        error_name: str | None = None,
    ) -> None:
        self.named_args = dict(named_args or {})
        self.data = data
        self.context = context
        self.tx_hash: str | None = None
        """Set when a mined transaction failed (rather than its gas estimate reverting)."""
        if error_name is not None:  # only the base class is built with a free-form name
            self.error_name = error_name  # type: ignore[misc]
        super().__init__(*self.named_args.values())

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.named_args.items())
        where = f" in {self.context}" if self.context else ""
        return f"{self.error_name}({inner}){where}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_revert, (self.error_name, self.named_args, self.data, self.context))


def _rebuild_revert(
    name: str, named_args: dict[str, Any], data: str, context: str
) -> ContractRevert:
    return make_revert(name, named_args, data=data, context=context)


def revert_class(error_name: str) -> type[ContractRevert]:
    """The exception class for a Solidity error name (declared below, or made on first use)."""
    cls = _REVERT_CLASSES.get(error_name)
    if cls is None:
        cls = type(error_name, (ContractRevert,), {"__module__": __name__})
    return cls


def make_revert(
    error_name: str, named_args: dict[str, Any], *, data: str = "0x", context: str = ""
) -> ContractRevert:
    return revert_class(error_name)(named_args, data=data, context=context)


# --- SoundRegistry -----------------------------------------------------------------------------
class InvalidDigest(ContractRevert):
    """The digest was zero."""


class InvalidKind(ContractRevert):
    """``kind`` is outside the ``Kind`` enum."""


class SoundAlreadyRegistered(ContractRevert):
    """``soundId``: that content digest is registered already."""


class SoundNotRegistered(ContractRevert):
    """``soundId``: no sound with that digest."""


class SignatureExpired(ContractRevert):
    """``deadline``: the contributor's signature is past its deadline."""


class InvalidSigner(ContractRevert):
    """``contributor``, ``recovered``: the signature is not the contributor's for this nonce."""


class ModelAlreadyRegistered(ContractRevert):
    """``modelId`` is registered already."""


class ModelNotRegistered(ContractRevert):
    """``modelId`` is not a registered model."""


class EmptyLabelSet(ContractRevert):
    """A model needs at least one label name."""


class TooManyLabels(ContractRevert):
    """``count``: a model has at most 65535 label names."""


class LabelIndexOutOfRange(ContractRevert):
    """``labelIndex`` >= the model's ``labelCount``."""


class ConfidenceOutOfRange(ContractRevert):
    """``confidenceBps`` > 10000."""


class AlreadyLabelled(ContractRevert):
    """``soundId``, ``modelId``: that model labelled that sound already."""


# --- MeowNFT -----------------------------------------------------------------------------------
class VoucherExpired(ContractRevert):
    """``deadline``: the voucher is past its deadline."""


class VoucherAlreadyRedeemed(ContractRevert):
    """``voucherId`` was redeemed already."""


class InvalidVoucherSigner(ContractRevert):
    """``recovered``: the voucher's signer does not hold ``MINTER_ROLE``."""


class NotVoucherRecipient(ContractRevert):
    """``recipient``, ``caller``: only the voucher's recipient may redeem it."""


class InvalidVoucherId(ContractRevert):
    """Voucher id 0 is reserved for direct mints."""


# --- OpenZeppelin ------------------------------------------------------------------------------
class AccessControlUnauthorizedAccount(ContractRevert):
    """``account`` lacks ``neededRole``."""


class AccessControlBadConfirmation(ContractRevert):
    """``renounceRole`` called for another account."""


class InvalidAccountNonce(ContractRevert):
    """``account``, ``currentNonce``: a nonce other than the current one was used."""


class ECDSAInvalidSignature(ContractRevert):
    """The signature does not recover to any address."""


class ECDSAInvalidSignatureLength(ContractRevert):
    """``length``: a signature must be 65 bytes."""


class ECDSAInvalidSignatureS(ContractRevert):
    """``s`` is in the upper half order (a malleable signature)."""


class InvalidShortString(ContractRevert):
    """EIP-712 name/version encoding failed."""


class StringTooLong(ContractRevert):
    """``str``: too long for a short string."""


class ERC721NonexistentToken(ContractRevert):
    """``tokenId`` does not exist."""


class ERC721InvalidReceiver(ContractRevert):
    """``receiver`` cannot hold the token (zero, or a contract that does not accept ERC-721)."""


class ERC721IncorrectOwner(ContractRevert):
    """``sender``, ``tokenId``, ``owner``: the sender does not own the token."""


class ERC721InsufficientApproval(ContractRevert):
    """``operator``, ``tokenId``: the operator may not move the token."""


class ERC721InvalidApprover(ContractRevert):
    """``approver`` may not approve."""


class ERC721InvalidOperator(ContractRevert):
    """``operator`` is not a valid operator."""


class ERC721InvalidOwner(ContractRevert):
    """``owner`` is not a valid owner (zero)."""


class ERC721InvalidSender(ContractRevert):
    """``sender`` is not a valid sender."""


class ERC2981InvalidDefaultRoyalty(ContractRevert):
    """``numerator``, ``denominator``: the royalty exceeds the sale price."""


class ERC2981InvalidDefaultRoyaltyReceiver(ContractRevert):
    """``receiver`` is zero."""


class ERC2981InvalidTokenRoyalty(ContractRevert):
    """``tokenId``, ``numerator``, ``denominator``: the royalty exceeds the sale price."""


class ERC2981InvalidTokenRoyaltyReceiver(ContractRevert):
    """``tokenId``, ``receiver``: the receiver is zero."""


class SolidityError(ContractRevert):
    """``Error(string reason)``: a ``require`` with a message."""

    error_name = "Error"


class SolidityPanic(ContractRevert):
    """``Panic(uint256 code)``: an assert, overflow or similar."""

    error_name = "Panic"


class UnknownRevert(ContractRevert):
    """Revert data matching no error in the ABIs (or none at all)."""


# --- decoding ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    types: list[str]
    inputs: list[dict[str, Any]]


_BUILTIN_ERRORS = (
    {"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)


@cache
def error_selectors() -> dict[bytes, _ErrorAbi]:
    """4-byte selector -> error ABI, over both contracts' ABIs and Solidity's built-ins."""
    table: dict[bytes, _ErrorAbi] = {}
    entries = list(_BUILTIN_ERRORS)
    for name in CONTRACT_NAMES:
        entries += load_artifact(name).items("error")
    for entry in entries:
        selector = function_signature_to_4byte_selector(abi_to_signature(entry))
        table[selector] = _ErrorAbi(entry["name"], get_abi_input_types(entry), entry["inputs"])
    return table


def decode_revert(data: str | bytes | None, context: str = "") -> ContractRevert:
    """The typed exception for raw revert data (``UnknownRevert`` when nothing matches)."""
    if isinstance(data, str):
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    else:
        raw = bytes(data or b"")
    entry = error_selectors().get(raw[:4]) if len(raw) >= 4 else None
    if entry is None:
        return UnknownRevert({"data": hex0x(raw)}, data=hex0x(raw), context=context)
    try:
        values = abi_decode(entry.types, raw[4:])
    except Exception:  # malformed payload for a known selector
        return UnknownRevert({"data": hex0x(raw)}, data=hex0x(raw), context=context)
    return make_revert(
        entry.name, plain_args(entry.inputs, values), data=hex0x(raw), context=context
    )
