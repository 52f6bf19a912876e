"""Generated meows end to end, on the real stack: the API, a Celery worker running the shipped
WaveNet and voice-to-cat models, the indexer, anvil and the IPFS node.

Generate with a mood and watch the SSE progress; the metadata, audio and spectrogram are pinned;
the sound is registered on-chain as synthetic with the generating model's id; the server mints it;
a voucher is redeemed by a second wallet that pays its own gas, and the replayed voucher reverts;
``tokenURI`` resolves through the IPFS node to metadata whose ``animation_url`` bytes match their
CID. Then what must be refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.eip712 import Voucher
from backend.chain.errors import VoucherAlreadyRedeemed
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import SoundRegistry
from backend.ipfs.cid import Cid
from backend.ipfs.client import IpfsClient
from backend.settings import Settings
from ml.registry import sha256_file
from tests.pipeline.stack import PipelineStack
from tests.pipeline.support import signed_in, sse_events, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.ipfs, pytest.mark.slow]

FIRST_JOB_TIMEOUT_S = 240.0  # the first generation loads the models and may compile the generator


def _model_id(name: str, stack: PipelineStack) -> str:
    return "0x" + sha256_file(stack.weights_dir / name / "model.safetensors")


def _generate(
    http: httpx.Client, stack: PipelineStack, auth: dict[str, str], **body: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reply = http.post("/v1/meows", json=body, headers=auth)
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job_id"]
    assert reply.json()["events_url"] == f"/v1/jobs/{job_id}/events"
    events = list(sse_events(stack.base_url, job_id, timeout_s=FIRST_JOB_TIMEOUT_S))
    assert events[-1]["event"] == "registered", events[-1]
    return events[-1]["data"]["data"], events


def _ipfs_cat(settings: Settings, uri_or_cid: str) -> bytes:
    async def cat() -> bytes:
        async with IpfsClient.from_settings(settings) as ipfs:
            return await ipfs.cat(Cid.parse(uri_or_cid.removeprefix("ipfs://")))

    return asyncio.run(cat())


@pytest.fixture(scope="module")
def nft(admin_client: ChainClient, pipeline_deployment: tuple[Deployment, Path]) -> MeowNFT:
    return MeowNFT(admin_client, pipeline_deployment[0].meow_nft)


def test_meow_is_generated_pinned_registered_and_server_minted(
    stack: PipelineStack,
    http: httpx.Client,
    pipeline_settings: Settings,
    pipeline_registry: SoundRegistry,
    nft: MeowNFT,
    alice: LocalAccount,
) -> None:
    auth = signed_in(http, alice)
    result, events = _generate(http, stack, auth, mood="happy", seconds=0.5, seed=7)

    stages = [e["event"] for e in events]
    first_generating = stages.index("generating")
    assert stages[: first_generating + 1] == ["received", "generating"]
    assert stages[-2:] == ["pinned", "registered"]
    progress = [e["data"]["data"]["progress"] for e in events if e["event"] == "generating"]
    assert len(progress) >= 4, progress  # 0.0 and a report every tenth of the audio
    assert progress == sorted(progress) and progress[0] == 0.0 and progress[-1] < 1.0
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))

    # pinned: the audio is the registered sound, the metadata points at audio and spectrogram
    audio = http.get(f"/v1/ipfs/{result['audio_cid']}")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert "0x" + hashlib.sha256(audio.content).hexdigest() == result["sound_id"]
    image = http.get(f"/v1/ipfs/{result['image_cid']}")
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    metadata = http.get(f"/v1/ipfs/{result['metadata_cid']}").json()
    assert metadata["animation_url"] == f"ipfs://{result['audio_cid']}"
    assert metadata["image"] == f"ipfs://{result['image_cid']}"
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    wavenet_id = _model_id("wavenet", stack)
    assert traits["mood"] == "happy" and traits["seed"] == 7
    assert traits["model id"] == wavenet_id and traits["source sound"] == "none"

    # registered on-chain: synthetic, the requester as contributor, the generating model's id
    on_chain = pipeline_registry.sound(result["sound_id"])
    assert on_chain is not None and on_chain.synthetic
    assert on_chain.contributor == alice.address
    assert result["model_id"] == wavenet_id and pipeline_registry.model(wavenet_id) is not None
    meow = http.get(f"/v1/meows/{result['meow_id']}").json()
    assert meow["registered"] and meow["creator"] == alice.address
    assert meow["token_uri"] == f"ipfs://{result['metadata_cid']}" and meow["tokens"] == []

    # the same request again is the same meow (same seed, same bytes), said so
    again, _ = _generate(http, stack, auth, mood="happy", seconds=0.5, seed=7)
    assert again["meow_id"] == result["meow_id"] and again["existing"] is True

    # server mint, followed over SSE
    reply = http.post(f"/v1/meows/{result['meow_id']}/mint", json={"mode": "server"}, headers=auth)
    assert reply.status_code == 202, reply.text
    mint_events = list(sse_events(stack.base_url, reply.json()["job_id"]))
    assert [e["event"] for e in mint_events] == ["received", "minted"]
    minted = mint_events[-1]["data"]["data"]
    token_id = minted["token_id"]
    assert nft.owner_of(token_id) == alice.address
    assert nft.token_uri(token_id) == f"ipfs://{result['metadata_cid']}"
    assert nft.source_sound(token_id) == result["sound_id"]

    # tokenURI resolves through the IPFS node; animation_url's bytes match their CID
    metadata = json.loads(_ipfs_cat(pipeline_settings, nft.token_uri(token_id)))
    animation = metadata["animation_url"]
    audio_bytes = _ipfs_cat(pipeline_settings, animation)  # the client verifies bytes vs CID
    assert "0x" + hashlib.sha256(audio_bytes).hexdigest() == result["sound_id"]

    token = http.get(f"/v1/nfts/{token_id}").json()
    assert token["owner"] == alice.address and token["meow_id"] == result["meow_id"]
    assert token["voucher_id"] == "0"
    mine = http.get("/v1/nfts", params={"owner": alice.address}).json()["items"]
    assert token_id in [t["token_id"] for t in mine]

    # one meow, one token: a second mint, by either way, is refused
    twice = http.post(f"/v1/meows/{result['meow_id']}/mint", json={"mode": "server"}, headers=auth)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_minted"
    voucher = http.post(
        f"/v1/meows/{result['meow_id']}/mint", json={"mode": "voucher"}, headers=auth
    )
    assert voucher.status_code == 409


def test_voucher_is_redeemed_by_a_second_wallet_once(
    stack: PipelineStack,
    http: httpx.Client,
    anvil_url: str,
    nft: MeowNFT,
    alice: LocalAccount,
    bob: LocalAccount,
) -> None:
    auth = signed_in(http, alice)
    result, _ = _generate(http, stack, auth, mood="sleepy", seconds=0.4, seed=8)
    meow_url = f"/v1/meows/{result['meow_id']}/mint"

    bob_auth = signed_in(http, bob)
    not_his = http.post(meow_url, json={"mode": "voucher"}, headers=bob_auth)
    assert not_his.status_code == 403 and not_his.json()["error"]["code"] == "not_creator"

    reply = http.post(meow_url, json={"mode": "voucher", "to": bob.address}, headers=auth)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    v = body["voucher"]
    assert v["recipient"] == bob.address and v["tokenURI"] == f"ipfs://{result['metadata_cid']}"
    assert body["contract"] == nft.address
    voucher = Voucher(
        recipient=v["recipient"],
        token_uri=v["tokenURI"],
        source_sound_id=bytes.fromhex(v["sourceSoundId"][2:]),
        voucher_id=int(v["voucherId"]),
        deadline=v["deadline"],
    )
    signature = bytes.fromhex(body["signature"][2:])

    # the server cannot mint it as well once the voucher way is taken
    server = http.post(meow_url, json={"mode": "server"}, headers=auth)
    assert server.status_code == 409 and server.json()["error"]["code"] == "mint_mode_taken"

    bob_client = ChainClient(anvil_url, bob.key.to_0x_hex())
    before = bob_client.balance()
    minted = nft.as_signer(bob_client).redeem(voucher, signature)
    assert nft.owner_of(minted.token_id) == bob.address
    assert bob_client.balance() < before  # bob paid the gas himself
    assert nft.token_uri(minted.token_id) == f"ipfs://{result['metadata_cid']}"

    with pytest.raises(VoucherAlreadyRedeemed):
        nft.as_signer(bob_client).redeem(voucher, signature)
    # a fresh voucher for the same meow carries the same id: it cannot mint a second token
    reissued = http.post(meow_url, json={"mode": "voucher", "to": bob.address}, headers=auth)
    assert reissued.status_code == 409

    def bobs_tokens() -> list[int]:
        items = http.get("/v1/nfts", params={"owner": bob.address}).json()["items"]
        return [t["token_id"] for t in items]

    wait_for(lambda: minted.token_id in bobs_tokens(), 20, "the indexer to see bob's token")
    meow = http.get(f"/v1/meows/{result['meow_id']}").json()
    assert [t["owner"] for t in meow["tokens"]] == [bob.address]


def test_style_transfer_of_a_voice_is_registered_with_the_gan_model(
    stack: PipelineStack,
    http: httpx.Client,
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
) -> None:
    from miao.samples import voice_wav_bytes

    auth = signed_in(http, alice)
    voice = voice_wav_bytes(seconds=0.8, seed=3)
    reply = http.post(
        "/v1/style-transfer",
        files={"file": ("voice.wav", voice, "audio/wav")},
        data={"mood": "angry", "seed": "5"},
        headers=auth,
    )
    assert reply.status_code == 202, reply.text
    events = list(sse_events(stack.base_url, reply.json()["job_id"], timeout_s=120))
    assert events[-1]["event"] == "registered", events[-1]
    result = events[-1]["data"]["data"]
    assert result["method"] == "style_transfer" and result["mood"] == "angry"
    assert result["model_id"] == _model_id("style-gan", stack)
    assert result["source_sound_id"] == "0x" + hashlib.sha256(voice).hexdigest()
    on_chain = pipeline_registry.sound(result["sound_id"])
    assert on_chain is not None and on_chain.synthetic
    audio = http.get(f"/v1/ipfs/{result['audio_cid']}").content
    metadata = http.get(f"/v1/ipfs/{result['metadata_cid']}").json()
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    assert traits["source sound"] == result["source_sound_id"]
    assert traits["duration (s)"] == pytest.approx(0.8, abs=0.01)
    assert len(audio) > 0.8 * 16000 * 2  # 16-bit samples of the voice's length


def test_bad_requests_are_refused_and_leave_nothing(
    stack: PipelineStack, http: httpx.Client, alice: LocalAccount
) -> None:
    moods = http.get("/v1/meows/moods").json()["moods"]
    assert {"happy", "curious", "sleepy"} <= set(moods)
    assert http.post("/v1/meows", json={"mood": "happy"}).status_code == 401
    auth = signed_in(http, alice)
    before = http.get("/v1/meows", params={"creator": alice.address}).json()["items"]

    unknown = http.post("/v1/meows", json={"mood": "grumpy-ish"}, headers=auth)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_mood"
    too_long = http.post("/v1/meows", json={"mood": "happy", "seconds": 60}, headers=auth)
    assert too_long.status_code == 422
    not_audio = http.post(
        "/v1/style-transfer",
        files={"file": ("voice.wav", b"this is not audio at all", "audio/wav")},
        headers=auth,
    )
    assert not_audio.status_code == 415, not_audio.text
    assert http.get("/v1/meows/no-such-meow").status_code == 404
    missing = http.post("/v1/meows/no-such-meow/mint", json={"mode": "server"}, headers=auth)
    assert missing.status_code == 404
    assert http.get("/v1/nfts/999999").status_code == 404
    assert http.get(f"/v1/ipfs/{'bafkrei' + 'a' * 52}").status_code in (404, 422)

    after = http.get("/v1/meows", params={"creator": alice.address}).json()["items"]
    assert [m["id"] for m in after] == [m["id"] for m in before]
