"""Uploads and relayed registration through the real app on the real anvil, IPFS node, Redis and
database: the happy path, and every refusal leaving no row, no job and no pin behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis
import soundfile as sf
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.chain import client as client_module
from backend.chain.eip712 import recover_signer
from backend.chain.registry import Kind, SoundRegistry
from backend.db.models import Job, JobEvent, Sound
from backend.db.session import session_factory
from backend.ipfs.client import IpfsClient
from backend.ipfs.unixfs import cid_of_bytes
from backend.settings import Settings
from miao.samples import meow_wav_bytes
from miao.stack import free_port
from tests.pipeline.support import (
    bearer,
    register,
    session_token,
    sign_registration,
    signed_in,
    upload,
)

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]


@pytest.fixture
def client(pipeline_settings: Settings, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(pipeline_settings)


def _counts(settings: Settings) -> tuple[int, int, int]:
    with session_factory(settings.db_url)() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (Sound, Job, JobEvent)
        )


def _pinned(settings: Settings, data: bytes) -> bool:
    async def check() -> bool:
        async with IpfsClient.from_settings(settings) as ipfs:
            return await ipfs.is_pinned(cid_of_bytes(data))

    return asyncio.run(check())


def _wav(wave: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def test_upload_pins_records_and_returns_what_the_wallet_signs(
    client: TestClient,
    pipeline_settings: Settings,
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
) -> None:
    auth = signed_in(client, alice)
    data = meow_wav_bytes(seed=101)
    reply = upload(client, auth, data, kind="cat", label="Mochi at dinner")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    sound_id = "0x" + hashlib.sha256(data).hexdigest()
    assert body["sound_id"] == sound_id
    assert body["cid"] == str(cid_of_bytes(data))
    assert body["format"] == "wav" and body["duration_s"] == pytest.approx(1.2)
    assert _pinned(pipeline_settings, data)

    typed = body["typed_data"]
    assert typed["primaryType"] == "RegisterSound"
    assert typed["message"]["digest"] == sound_id
    assert typed["message"]["contributor"] == alice.address
    assert typed["message"]["kind"] == Kind.CAT
    assert typed["message"]["nonce"] == str(pipeline_registry.nonce(alice.address))
    assert typed["domain"]["verifyingContract"] == pipeline_registry.address

    sound = client.get(f"/v1/sounds/{sound_id}").json()
    assert sound["status"] == "pinned" and sound["contributor"] == alice.address
    assert sound["contributor_label"] == "Mochi at dinner" and sound["job_id"] == body["job_id"]
    job = client.get(f"/v1/jobs/{body['job_id']}").json()
    assert [e["stage"] for e in job["events"]] == ["received", "pinned"]
    assert job["events"][1]["data"]["cid"] == body["cid"]

    again = upload(client, auth, data, kind="dog")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_sound"
    assert again.json()["error"]["details"][0]["id"] == sound_id


def test_relayed_registration_by_the_uploader_only(
    client: TestClient,
    pipeline_settings: Settings,
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
    bob: LocalAccount,
) -> None:
    alice_auth, bob_auth = signed_in(client, alice), signed_in(client, bob)
    body = upload(client, alice_auth, meow_wav_bytes(seed=102)).json()
    sound_id, typed = body["sound_id"], body["typed_data"]

    # another signed-in user may neither register it nor ask for its typed data
    refused = register(client, bob_auth, sound_id, sign_registration(bob, typed))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_your_sound"
    assert client.get(f"/v1/sounds/{sound_id}/registration", headers=bob_auth).status_code == 403
    # a signature by anyone but the uploader is refused before any gas is spent
    forged = register(client, alice_auth, sound_id, sign_registration(bob, typed))
    assert forged.status_code == 422
    assert forged.json()["error"]["code"] == "bad_signature"
    assert pipeline_registry.sound(sound_id) is None

    signature = sign_registration(alice, typed)
    assert recover_signer(typed, signature) == alice.address
    done = register(client, alice_auth, sound_id, signature)
    assert done.status_code == 200, done.text
    on_chain = pipeline_registry.sound(sound_id)
    assert on_chain is not None and on_chain.contributor == alice.address
    assert on_chain.kind == Kind.CAT and not on_chain.synthetic
    receipt = pipeline_registry.client.w3.eth.get_transaction_receipt(done.json()["tx_hash"])
    relayer = Account.from_key(pipeline_settings.relayer_key).address
    assert receipt["status"] == 1 and receipt["from"] == relayer  # the relayer paid
    job = client.get(f"/v1/jobs/{body['job_id']}").json()
    assert job["stage"] == "registered"
    assert job["events"][-1]["data"]["tx_hash"] == done.json()["tx_hash"]

    again = register(client, alice_auth, sound_id, signature)
    assert again.status_code == 409


def test_a_nonce_store_out_of_reach_is_503_and_the_registration_can_be_sent_again(
    pipeline_settings: Settings,
    pipeline_registry: SoundRegistry,
    make_client: Callable[..., TestClient],
    alice: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nonces in Redis, a relayer lock held elsewhere (a sender that died holding it) makes
    the relay wait, then answer 503 ``nonce_store_unavailable``: nothing was sent, the sound stays
    unregistered, and the same signature goes through once the lock is free."""
    shared = pipeline_settings.model_copy(update={"nonce_store": "redis"})
    client = make_client(shared)
    auth = signed_in(client, alice)
    body = upload(client, auth, meow_wav_bytes(seed=107)).json()
    signature = sign_registration(alice, body["typed_data"])
    relayer = Account.from_key(shared.relayer_key).address
    counter = client_module._nonce_counter(shared.chain_rpc_url, relayer, shared.redis_url)
    assert isinstance(counter, client_module._RedisNonceCounter)
    monkeypatch.setattr(client_module._RedisNonceCounter, "LOCK_TTL_S", 0.5)
    held = redis.Redis.from_url(shared.redis_url).lock(f"{counter.key}:lock", timeout=30)
    assert held.acquire(blocking=False)
    try:
        refused = register(client, auth, body["sound_id"], signature)
    finally:
        held.release()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "nonce_store_unavailable"
    assert pipeline_registry.sound(body["sound_id"]) is None

    done = register(client, auth, body["sound_id"], signature)
    assert done.status_code == 200, done.text
    assert pipeline_registry.sound(body["sound_id"]) is not None


def test_not_signed_in_is_401_and_stores_nothing(
    client: TestClient, pipeline_settings: Settings
) -> None:
    before = _counts(pipeline_settings)
    data = meow_wav_bytes(seed=103)
    reply = upload(client, {}, data)
    assert reply.status_code == 401
    assert _counts(pipeline_settings) == before
    assert not _pinned(pipeline_settings, data)


def _refusals() -> list[Any]:
    rate = 16000
    good = meow_wav_bytes(seed=104)
    truncated = good[: len(good) // 2]  # the header still declares the whole clip
    too_long = _wav(np.zeros(61 * 8000, np.float32) + 0.01, rate=8000)
    too_short = _wav(np.full(int(0.1 * rate), 0.1, np.float32))
    return [
        pytest.param(
            b"hello, this is not audio at all", "cat", 415, "unsupported_format", id="not-audio"
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(500), "cat", 415, "unsupported_format", id="png"),
        pytest.param(truncated, "cat", 422, "undecodable_audio", id="truncated"),
        pytest.param(too_long, "cat", 422, "too_long", id="too-long"),
        pytest.param(too_short, "cat", 422, "too_short", id="too-short"),
        pytest.param(good, "hamster", 422, "validation_error", id="wrong-kind"),
    ]


@pytest.mark.parametrize(("data", "kind", "status", "code"), _refusals())
def test_bad_input_is_refused_with_a_reason_and_leaves_nothing(
    client: TestClient,
    pipeline_settings: Settings,
    alice: LocalAccount,
    data: bytes,
    kind: str,
    status: int,
    code: str,
) -> None:
    auth = signed_in(client, alice)
    before = _counts(pipeline_settings)
    reply = upload(client, auth, data, kind=kind)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert reply.json()["error"]["message"]
    assert _counts(pipeline_settings) == before
    assert not _pinned(pipeline_settings, data)


def test_ipfs_node_down_is_503_and_no_row(
    pipeline_settings: Settings, make_client: Callable[..., TestClient], alice: LocalAccount
) -> None:
    down = pipeline_settings.model_copy(
        update={"ipfs_api_url": f"http://127.0.0.1:{free_port()}", "ipfs_timeout_s": 2.0}
    )
    client = make_client(down)
    auth = signed_in(client, alice)
    before = _counts(pipeline_settings)
    reply = upload(client, auth, meow_wav_bytes(seed=105))
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "ipfs_unavailable"
    assert _counts(pipeline_settings) == before


def test_redis_down_is_503_for_new_work_and_no_row(
    pipeline_settings: Settings, make_client: Callable[..., TestClient], alice: LocalAccount
) -> None:
    down = pipeline_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = make_client(down)
    auth = bearer(session_token(alice.address, down.session_secret))
    data = meow_wav_bytes(seed=106)
    before = _counts(pipeline_settings)
    reply = upload(client, auth, data)
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "redis_unavailable"
    assert _counts(pipeline_settings) == before
    assert not _pinned(pipeline_settings, data)


def test_unknown_ids_are_404_and_malformed_ids_422(client: TestClient) -> None:
    assert client.get("/v1/sounds/0x" + "ab" * 32).status_code == 404
    assert client.get("/v1/sounds/not-a-digest").json()["error"]["code"] == "invalid_sound_id"
    assert client.get("/v1/jobs/no-such-job").status_code == 404
    assert client.get("/v1/jobs/no-such-job/events").status_code == 404
