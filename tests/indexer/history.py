"""A chain history made of real transactions on the session anvil, for the indexer tests.

Fresh contracts (so other tests' transactions never show up here), then: two models, sounds
registered directly and relayed (EIP-712), labels, a synthetic sound, a direct mint, a voucher
redeemed by its recipient, an NFT transfer, a token URI change, a role grant. Each transaction is
its own block (anvil automines), so small batch sizes give many batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_contracts
from backend.chain.dev_accounts import dev_key
from backend.chain.eip712 import Voucher
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import Kind, SoundRegistry


def digest(name: str) -> str:
    return "0x" + hashlib.sha256(name.encode()).hexdigest()


def fake_cid(name: str) -> str:
    """A CID-shaped string; the indexer stores what the event carries and never fetches it."""
    return "bafkrei" + hashlib.sha256(b"cid:" + name.encode()).hexdigest()[:52]


@dataclass(frozen=True)
class History:
    deployment: Deployment
    deployment_file: Path
    end_block: int
    """The last block of the history; index up to here for a reproducible result."""
    direct_sounds: list[str]
    relayed_sounds: list[str]
    synthetic_sound: str
    source_model: str
    emotion_model: str
    contributor_a: str
    contributor_b: str
    relayer: str


SOURCE_LABELS = ["cat", "dog", "infant", "other"]
EMOTION_LABELS = ["brushing", "isolation", "food"]


def make_history(rpc_url: str, out_dir: Path) -> History:
    deployer = ChainClient(rpc_url, dev_key(0))
    alice = deployer.with_key(dev_key(1))
    bob = deployer.with_key(dev_key(2))
    deployment = deploy_contracts(deployer)
    registry = SoundRegistry(deployer, deployment.sound_registry)
    nft = MeowNFT(deployer, deployment.meow_nft)

    source_model, emotion_model = digest("weights:source"), digest("weights:cat-emotion")
    registry.register_model(source_model, "source-ast", "source", SOURCE_LABELS)

    # direct: the contributor pays the gas
    direct = [digest("alice-meow-1"), digest("alice-bark-1")]
    registry.as_signer(alice).register_sound(direct[0], Kind.CAT, fake_cid("a1"), "kitchen")
    registry.as_signer(alice).register_sound(direct[1], Kind.DOG, fake_cid("a2"))

    # relayed: bob signs, the deployer (relayer) sends
    relayed = [digest("bob-meow-1"), digest("bob-cry-1")]
    for sound, kind, label in ((relayed[0], Kind.CAT, "garden"), (relayed[1], Kind.INFANT, "")):
        cid = fake_cid(sound)
        typed = registry.register_sound_typed_data(
            bob.address, sound, kind, cid, label, deadline=2**40
        )
        signature = bob.sign_typed_data(typed)
        registry.register_sound_for(bob.address, sound, kind, cid, label, 2**40, signature)

    registry.register_model(emotion_model, "cat-emotion-ast", "cat-emotion", EMOTION_LABELS)
    registry.set_label(direct[0], source_model, 0, 9_100)
    registry.set_label(direct[1], source_model, 1, 8_800)
    registry.set_label(relayed[0], source_model, 0, 7_700)
    registry.set_label(relayed[0], emotion_model, 2, 6_100)
    registry.set_label(direct[0], emotion_model, 1, 5_500)

    synthetic = digest("wavenet-meow-happy-7")
    registry.register_synthetic(bob.address, synthetic, Kind.CAT, fake_cid("s1"), emotion_model)

    minted = nft.mint(alice.address, "ipfs://" + fake_cid("meta1"), synthetic)
    voucher = Voucher(
        recipient=bob.address,
        token_uri="ipfs://" + fake_cid("meta2"),
        source_sound_id=bytes.fromhex(synthetic[2:]),
        voucher_id=2**200 + 12345,  # beyond 64 bits: stored exactly as decimal text
        deadline=2**40,
    )
    signed = nft.sign_voucher(voucher)
    redeemed = nft.as_signer(bob).redeem(voucher, signed.signature)
    alice_nft = nft.as_signer(alice)
    alice.transact(
        alice_nft.contract.functions.transferFrom(alice.address, bob.address, minted.token_id)
    )
    nft.set_token_uri(redeemed.token_id, "ipfs://" + fake_cid("meta2-v2"))
    role = registry.contract.functions.LABELLER_ROLE().call()
    registry.grant_role(role, alice.address)
    # a label after the role grant, by the new labeller
    registry.as_signer(alice).set_label(relayed[1], source_model, 2, 9_900)

    end_block = deployer.block_number()
    deployment_file = out_dir / "deployment.json"
    deployment.save(deployment_file)
    return History(
        deployment=deployment,
        deployment_file=deployment_file,
        end_block=end_block,
        direct_sounds=direct,
        relayed_sounds=relayed,
        synthetic_sound=synthetic,
        source_model=source_model,
        emotion_model=emotion_model,
        contributor_a=alice.address,
        contributor_b=bob.address,
        relayer=deployer.address,
    )
