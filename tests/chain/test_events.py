"""Every event the system's calls emit, read back with ``fetch_events`` and decoded to plain values."""

from __future__ import annotations

import os

import pytest

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.eip712 import Voucher
from backend.chain.events import ChainEvent, fetch_events
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import Kind, SoundRegistry
from backend.chain.roles import GENERATOR_ROLE, LABELLER_ROLE
from backend.chain.values import hex0x
from tests.fixtures.chain import chain_time

pytestmark = pytest.mark.chain

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
ZERO32 = "0x" + "00" * 32


def _one(events: list[ChainEvent], name: str, **match: object) -> ChainEvent:
    found = [
        e for e in events if e.name == name and all(e.args.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"{name} {match}: {found}"
    return found[0]


def test_deployment_events(admin_client: ChainClient, deployment: Deployment) -> None:
    events = fetch_events(
        admin_client.w3, deployment, deployment.block_number, deployment.block_number + 1
    )
    granted = [(e.contract, e.args["role"]) for e in events if e.name == "RoleGranted"]
    assert ("SoundRegistry", hex0x(LABELLER_ROLE)) in granted
    assert sum(1 for contract, _ in granted if contract == "SoundRegistry") == 4
    assert sum(1 for contract, _ in granted if contract == "MeowNFT") == 2
    royalty = _one(events, "DefaultRoyaltySet")
    assert royalty.args == {"receiver": deployment.deployer, "feeBps": 500}


def test_every_operation_reads_back(
    deployment: Deployment,
    registry: SoundRegistry,
    meow_nft: MeowNFT,
    user_client: ChainClient,
    relayer_client: ChainClient,
    other_user_client: ChainClient,
) -> None:
    w3 = user_client.w3
    start = w3.eth.block_number + 1
    model_id, direct, relayed, synthetic = (os.urandom(32) for _ in range(4))
    user = user_client.address

    registry.register_model(model_id, "ast-v1", "classify-kind", ["cat", "dog"])
    registry.as_signer(user_client).register_sound(direct, Kind.DOG, CID, "woof")
    deadline = chain_time(user_client) + 600
    typed = registry.register_sound_typed_data(user, relayed, Kind.CAT, CID, "", deadline)
    registry.as_signer(relayer_client).register_sound_for(
        user, relayed, Kind.CAT, CID, "", deadline, user_client.sign_typed_data(typed)
    )
    registry.register_synthetic(user, synthetic, Kind.CAT, CID, model_id)
    label_tx = registry.set_label(direct, model_id, 1, 9_999)
    registry.grant_role(GENERATOR_ROLE, other_user_client.address)
    registry.revoke_role(GENERATOR_ROLE, other_user_client.address)
    minted = meow_nft.mint(user, "ipfs://a", direct)
    voucher = Voucher(user, "ipfs://b", relayed, 424242, deadline)
    signed = meow_nft.sign_voucher(voucher)
    redeemed = meow_nft.as_signer(user_client).redeem(voucher, signed.signature)
    meow_nft.set_token_uri(minted.token_id, "ipfs://c")
    meow_nft.set_default_royalty(other_user_client.address, 250)
    user_client.transact(
        meow_nft.contract.functions.approve(other_user_client.address, redeemed.token_id)
    )
    meow_nft.set_default_royalty(meow_nft.client.address, 500)  # back to the deployment's
    end = w3.eth.block_number

    events = fetch_events(w3, deployment, start, end)

    assert [(e.block_number, e.log_index) for e in events] == sorted(
        (e.block_number, e.log_index) for e in events
    )
    assert _one(events, "ModelRegistered").args == {
        "modelId": hex0x(model_id),
        "name": "ast-v1",
        "task": "classify-kind",
        "labelNames": ["cat", "dog"],
    }
    assert _one(events, "SoundRegistered", soundId=hex0x(direct)).args == {
        "soundId": hex0x(direct),
        "contributor": user,
        "modelId": ZERO32,
        "kind": int(Kind.DOG),
        "synthetic": False,
        "cid": CID,
        "contributorLabel": "woof",
    }
    assert _one(events, "SoundRegistered", soundId=hex0x(relayed)).args["contributor"] == user
    synth = _one(events, "SoundRegistered", soundId=hex0x(synthetic))
    assert synth.args["synthetic"] is True and synth.args["modelId"] == hex0x(model_id)
    label = _one(events, "LabelSet")
    assert label.args == {
        "soundId": hex0x(direct),
        "modelId": hex0x(model_id),
        "labeller": registry.client.address,
        "labelIndex": 1,
        "confidenceBps": 9_999,
    }
    assert label.tx_hash == label_tx.tx_hash and label.block_number == label_tx.block_number
    assert label.contract == "SoundRegistry"
    assert label.block_hash == w3.eth.get_block(label_tx.block_number)["hash"].to_0x_hex()
    _one(events, "RoleGranted", role=hex0x(GENERATOR_ROLE), account=other_user_client.address)
    _one(events, "RoleRevoked", role=hex0x(GENERATOR_ROLE), account=other_user_client.address)
    assert _one(events, "MeowMinted", tokenId=minted.token_id).args["voucherId"] == 0
    meow = _one(events, "MeowMinted", tokenId=redeemed.token_id)
    assert meow.contract == "MeowNFT"
    assert meow.args == {
        "tokenId": redeemed.token_id,
        "to": user,
        "sourceSoundId": hex0x(relayed),
        "voucherId": 424242,
        "tokenURI": "ipfs://b",
    }
    _one(events, "Transfer", tokenId=redeemed.token_id, to=user)
    assert len([e for e in events if e.name == "MetadataUpdate"]) == 3  # 2 creations + setTokenURI
    _one(events, "DefaultRoyaltySet", receiver=other_user_client.address, feeBps=250)
    _one(events, "Approval", approved=other_user_client.address, tokenId=redeemed.token_id)


def test_chunking_does_not_change_the_result(
    admin_client: ChainClient, deployment: Deployment
) -> None:
    head = admin_client.block_number()
    whole = fetch_events(admin_client.w3, deployment, deployment.block_number, head)
    chunked = fetch_events(
        admin_client.w3, deployment, deployment.block_number, head, chunk_blocks=3
    )
    assert whole == chunked and len(whole) > 0
    assert fetch_events(admin_client.w3, deployment, head + 5, head) == []
    with pytest.raises(ValueError):
        fetch_events(admin_client.w3, deployment, -1, head)
