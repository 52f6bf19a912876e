"""SoundRegistry through the Python client against a real anvil: every call and every revert."""

from __future__ import annotations

import os

import pytest
from web3 import Web3

from backend.chain.client import ChainClient
from backend.chain.eip712 import recover_signer, typed_data_hash
from backend.chain.errors import (
    AccessControlUnauthorizedAccount,
    ContractRevert,
    InvalidSigner,
    LabelIndexOutOfRange,
    ModelNotRegistered,
    SignatureExpired,
    SoundAlreadyRegistered,
)
from backend.chain.registry import Kind, SoundRegistry
from backend.chain.roles import LABELLER_ROLE
from backend.chain.values import hex0x
from tests.fixtures.chain import chain_time

pytestmark = pytest.mark.chain

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def _signed_registration(
    registry: SoundRegistry,
    signer: ChainClient,
    contributor: str,
    digest: bytes,
    *,
    deadline: int,
    label: str = "purr",
) -> bytes:
    typed = registry.register_sound_typed_data(contributor, digest, Kind.CAT, CID, label, deadline)
    return signer.sign_typed_data(typed)


def test_register_sound_directly(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    tx = registry.as_signer(user_client).register_sound(new_digest, Kind.DOG, CID, "woof")

    sound = registry.sound(new_digest)
    assert sound is not None
    assert sound.contributor == user_client.address
    assert sound.kind is Kind.DOG
    assert not sound.synthetic
    assert sound.registered_at == user_client.w3.eth.get_block(tx.block_number)["timestamp"]
    assert tx.gas_used > 21_000
    sender = user_client.w3.eth.get_transaction(tx.tx_hash)["from"]
    assert sender == user_client.address


def test_register_sound_relayed(
    registry: SoundRegistry,
    user_client: ChainClient,
    relayer_client: ChainClient,
    new_digest: bytes,
) -> None:
    contributor = user_client.address
    nonce_before = registry.nonce(contributor)
    deadline = chain_time(user_client) + 3600
    typed = registry.register_sound_typed_data(
        contributor, new_digest, Kind.CAT, CID, "hungry", deadline
    )
    signature = user_client.sign_typed_data(typed)

    tx = registry.as_signer(relayer_client).register_sound_for(
        contributor, new_digest, Kind.CAT, CID, "hungry", deadline, signature
    )

    sound = registry.sound(new_digest)
    assert sound is not None and sound.contributor == contributor  # credited, not the relayer
    assert registry.nonce(contributor) == nonce_before + 1
    assert user_client.w3.eth.get_transaction(tx.tx_hash)["from"] == relayer_client.address


def test_typed_data_hash_equals_the_contracts(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    """The dict a wallet signs hashes to exactly what the contract verifies."""
    typed = registry.register_sound_typed_data(
        user_client.address, new_digest, Kind.INFANT, CID, "", 12345, nonce=7
    )
    on_chain = registry.hash_register_sound(
        user_client.address, new_digest, Kind.INFANT, CID, "", 7, 12345
    )
    assert typed_data_hash(typed) == on_chain
    assert typed["domain"]["name"] == "MiaoSoundRegistry"
    assert typed["domain"]["verifyingContract"] == registry.address
    signature = user_client.sign_typed_data(typed)
    assert recover_signer(typed, signature) == user_client.address


def test_register_model_and_label_a_sound(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    model_id = os.urandom(32)
    registry.register_model(model_id, "ast-kind-v1", "classify-kind", ["cat", "dog", "infant"])
    registry.as_signer(user_client).register_sound(new_digest, Kind.CAT, CID)

    tx = registry.set_label(new_digest, model_id, 2, 8_750)

    model = registry.model(model_id)
    assert model is not None and model.label_count == 3
    label = registry.label(new_digest, model_id)
    assert label is not None
    assert (label.label_index, label.confidence_bps) == (2, 8_750)
    assert label.labeller == registry.client.address
    assert label.labelled_at == registry.client.w3.eth.get_block(tx.block_number)["timestamp"]
    assert registry.label(new_digest, os.urandom(32)) is None
    with pytest.raises(LabelIndexOutOfRange) as exc:
        registry.set_label(new_digest, model_id, 3, 100)
    assert exc.value.named_args == {"labelIndex": 3, "labelCount": 3}


def test_register_synthetic_sound(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    model_id = os.urandom(32)
    registry.register_model(model_id, "meow-wavenet", "generate-meow", ["angry", "happy"])
    registry.register_synthetic(user_client.address, new_digest, Kind.CAT, CID, model_id)
    sound = registry.sound(new_digest)
    assert sound is not None and sound.synthetic and sound.contributor == user_client.address


def test_unregistered_sound_and_model_read_as_none(registry: SoundRegistry) -> None:
    assert registry.sound(os.urandom(32)) is None
    assert registry.model(os.urandom(32)) is None


# --- reverts, each with its custom error ---------------------------------------------------------
def test_replayed_signature_is_rejected(
    registry: SoundRegistry,
    user_client: ChainClient,
    relayer_client: ChainClient,
    new_digest: bytes,
) -> None:
    contributor = user_client.address
    deadline = chain_time(user_client) + 3600
    signature = _signed_registration(
        registry, user_client, contributor, new_digest, deadline=deadline
    )
    relayer = registry.as_signer(relayer_client)
    relayer.register_sound_for(contributor, new_digest, Kind.CAT, CID, "purr", deadline, signature)
    nonce_after_first = registry.nonce(contributor)

    with pytest.raises(InvalidSigner) as exc:
        relayer.register_sound_for(
            contributor, new_digest, Kind.CAT, CID, "purr", deadline, signature
        )
    assert exc.value.named_args["contributor"] == contributor
    assert exc.value.named_args["recovered"] != contributor
    assert exc.value.error_name == "InvalidSigner"
    assert registry.nonce(contributor) == nonce_after_first  # the failed replay used nothing


def test_expired_signature_is_rejected(
    registry: SoundRegistry,
    user_client: ChainClient,
    relayer_client: ChainClient,
    new_digest: bytes,
) -> None:
    deadline = chain_time(user_client) - 1
    signature = _signed_registration(
        registry, user_client, user_client.address, new_digest, deadline=deadline
    )
    with pytest.raises(SignatureExpired) as exc:
        registry.as_signer(relayer_client).register_sound_for(
            user_client.address, new_digest, Kind.CAT, CID, "purr", deadline, signature
        )
    assert exc.value.args == (deadline,)
    assert registry.sound(new_digest) is None


def test_wrong_signer_is_rejected(
    registry: SoundRegistry,
    user_client: ChainClient,
    other_user_client: ChainClient,
    relayer_client: ChainClient,
    new_digest: bytes,
) -> None:
    """The user signs a registration that credits someone else."""
    victim = other_user_client.address
    deadline = chain_time(user_client) + 3600
    signature = _signed_registration(registry, user_client, victim, new_digest, deadline=deadline)
    with pytest.raises(InvalidSigner) as exc:
        registry.as_signer(relayer_client).register_sound_for(
            victim, new_digest, Kind.CAT, CID, "purr", deadline, signature
        )
    assert exc.value.named_args == {"contributor": victim, "recovered": user_client.address}


def test_label_with_unregistered_model_is_rejected(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    registry.as_signer(user_client).register_sound(new_digest, Kind.CAT, CID)
    missing = os.urandom(32)
    with pytest.raises(ModelNotRegistered) as exc:
        registry.set_label(new_digest, missing, 0, 5_000)
    assert exc.value.named_args == {"modelId": hex0x(missing)}
    assert exc.value.context == "SoundRegistry.setLabel"


def test_label_by_non_labeller_is_rejected(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    model_id = os.urandom(32)
    registry.register_model(model_id, "m", "t", ["a"])
    registry.as_signer(user_client).register_sound(new_digest, Kind.CAT, CID)
    assert not registry.has_role(LABELLER_ROLE, user_client.address)

    with pytest.raises(AccessControlUnauthorizedAccount) as exc:
        registry.as_signer(user_client).set_label(new_digest, model_id, 0, 5_000)
    assert exc.value.named_args == {
        "account": user_client.address,
        "neededRole": hex0x(LABELLER_ROLE),
    }
    assert registry.label(new_digest, model_id) is None


def test_duplicate_digest_is_rejected(
    registry: SoundRegistry,
    user_client: ChainClient,
    other_user_client: ChainClient,
    new_digest: bytes,
) -> None:
    registry.as_signer(user_client).register_sound(new_digest, Kind.CAT, CID)
    with pytest.raises(SoundAlreadyRegistered) as exc:
        registry.as_signer(other_user_client).register_sound(new_digest, Kind.DOG, CID)
    assert exc.value.named_args == {"soundId": hex0x(new_digest)}
    assert isinstance(exc.value, ContractRevert)
    sound = registry.sound(new_digest)
    assert sound is not None and sound.contributor == user_client.address  # first one stands


def test_role_ids_match_the_contract(registry: SoundRegistry) -> None:
    assert registry.client.call(registry.contract.functions.LABELLER_ROLE()) == LABELLER_ROLE
    assert Web3.keccak(text="LABELLER_ROLE") == LABELLER_ROLE
