"""Revert data -> typed exceptions, without a chain: selectors, argument decoding, pickling."""

from __future__ import annotations

import pickle

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

import backend.chain.errors as errors
from backend.chain.artifacts import CONTRACT_NAMES, load_artifact
from backend.chain.errors import (
    ContractRevert,
    InvalidSigner,
    SolidityError,
    SoundAlreadyRegistered,
    TransactionTimeout,
    UnknownRevert,
    decode_revert,
    revert_class,
)

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _revert_data(signature: str, types: list[str], values: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


@pytest.mark.parametrize("contract", CONTRACT_NAMES)
def test_every_abi_error_has_a_declared_class(contract: str) -> None:
    """A new custom error in Solidity must get its Python class (so `except X` is greppable)."""
    for entry in load_artifact(contract).items("error"):
        cls = getattr(errors, entry["name"], None)
        assert isinstance(cls, type) and issubclass(cls, ContractRevert), entry["name"]
        assert cls.error_name == entry["name"]


def test_custom_error_decodes_to_its_class_with_plain_args() -> None:
    digest = bytes(range(32))
    exc = decode_revert(
        _revert_data("SoundAlreadyRegistered(bytes32)", ["bytes32"], [digest]), "ctx"
    )
    assert type(exc) is SoundAlreadyRegistered
    assert exc.named_args == {"soundId": "0x" + digest.hex()}
    assert exc.args == ("0x" + digest.hex(),)
    assert "SoundAlreadyRegistered(soundId='0x0001" in str(exc) and "in ctx" in str(exc)

    signer = decode_revert(
        "0x"
        + _revert_data(
            "InvalidSigner(address,address)", ["address", "address"], [ALICE, BOB.lower()]
        ).hex()
    )
    assert isinstance(signer, InvalidSigner)
    assert signer.named_args == {"contributor": ALICE, "recovered": BOB}  # checksummed


def test_require_message_and_unknown_data() -> None:
    reason = decode_revert(_revert_data("Error(string)", ["string"], ["nope"]))
    assert isinstance(reason, SolidityError) and reason.named_args == {"reason": "nope"}
    unknown = decode_revert("0xdeadbeef00")
    assert isinstance(unknown, UnknownRevert) and unknown.data == "0xdeadbeef00"
    assert isinstance(decode_revert(None), UnknownRevert)
    truncated = decode_revert(
        function_signature_to_4byte_selector("SoundAlreadyRegistered(bytes32)")
    )
    assert isinstance(truncated, UnknownRevert)


def test_reverts_survive_pickling() -> None:
    """Celery ships exceptions between processes."""
    exc = decode_revert(_revert_data("SignatureExpired(uint256)", ["uint256"], [5]), "ctx")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and back.named_args == {"deadline": 5}
    assert back.context == "ctx"
    timeout = pickle.loads(pickle.dumps(TransactionTimeout("0xab", 1.5)))
    assert (timeout.tx_hash, timeout.timeout_s) == ("0xab", 1.5)


def test_revert_class_for_an_undeclared_name() -> None:
    cls = revert_class("SomethingNew")
    assert issubclass(cls, ContractRevert) and cls is revert_class("SomethingNew")
    assert revert_class("SoundAlreadyRegistered") is SoundAlreadyRegistered
