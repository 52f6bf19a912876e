"""The whole pipeline as separate processes: the API (uvicorn), the indexer (``miao index --follow
--queue-labelling``), a Celery worker, Redis, on the session's anvil and IPFS node.

Sign in, upload, register relayed, wait on SSE for ``labelled``: the on-chain labels equal what
``ml.registry`` says for the same file and the export lists them with their transactions. Then the
failures: a worker SIGKILLed mid-task, Redis down, a body over the limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from backend.chain.registry import SoundRegistry
from backend.pipeline.labelling import LabellingContext
from backend.settings import Settings
from miao.samples import meow_wav_bytes
from ml.registry import label_file
from tests.pipeline.stack import PipelineStack
from tests.pipeline.support import (
    register,
    sign_registration,
    signed_in,
    sse_events,
    upload,
)

pytestmark = [pytest.mark.chain, pytest.mark.ipfs, pytest.mark.slow]

STAGES = ["received", "pinned", "registered", "labelling", "labelled"]


@pytest.fixture
def ctx(stack: PipelineStack, pipeline_settings: Settings) -> LabellingContext:
    """For reading the chain as the worker does (LabelSet logs)."""
    return LabellingContext.from_settings(pipeline_settings)


def _upload_and_register(
    http: httpx.Client, account: LocalAccount, data: bytes, kind: str = "cat"
) -> dict[str, str]:
    auth = signed_in(http, account)
    reply = upload(http, auth, data, kind=kind)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    done = register(http, auth, body["sound_id"], sign_registration(account, body["typed_data"]))
    assert done.status_code == 200, done.text
    return {**body, "register_tx": done.json()["tx_hash"]}


def test_upload_to_on_chain_label_over_sse(
    stack: PipelineStack,
    http: httpx.Client,
    pipeline_registry: SoundRegistry,
    monkeypatch: pytest.MonkeyPatch,
    alice: LocalAccount,
) -> None:
    data = meow_wav_bytes(seed=301)
    body = _upload_and_register(http, alice, data)
    events = list(sse_events(stack.base_url, body["job_id"]))
    assert [e["event"] for e in events] == STAGES
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5]
    assert events[1]["data"]["data"]["cid"] == body["cid"]
    assert events[2]["data"]["data"]["tx_hash"] == body["register_tx"]
    labelled = events[-1]["data"]["data"]

    # what `miao label` says for the same file, with the worker's weights
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(stack.weights_dir))
    expected = [label_file(data)[0], label_file(data, task="cat-emotion")[0]]
    assert [(row["task"], row["label"]) for row in labelled["labels"]] == [
        (p.task, p.label) for p in expected
    ]
    for row, prediction in zip(labelled["labels"], expected, strict=True):
        on_chain = pipeline_registry.label(body["sound_id"], "0x" + prediction.model_id)
        assert on_chain is not None
        assert on_chain.label_index == list(prediction.probabilities).index(prediction.label)
        assert row["tx_hash"].startswith("0x") and len(row["tx_hash"]) == 66
    assert (
        labelled["label"] == expected[1].label
        and labelled["tx_hash"] == labelled["labels"][1]["tx_hash"]
    )

    export = [json.loads(line) for line in http.get("/v1/dataset/export").text.splitlines()]
    (record,) = [r for r in export if r["digest"] == body["sound_id"]]
    assert record["cid"] == body["cid"] and record["kind"] == "cat"
    assert record["contributor"] == alice.address and record["license"] == "CC-BY-4.0"
    assert record["registered_tx_hash"] == body["register_tx"]
    assert {(lbl["model_id"], lbl["tx_hash"]) for lbl in record["labels"]} == {
        (row["model_id"], row["tx_hash"]) for row in labelled["labels"]
    }
    page = http.get("/v1/dataset", params={"label": expected[1].label, "kind": "cat"}).json()
    assert body["sound_id"] in [item["id"] for item in page["items"]]
    none = http.get("/v1/dataset", params={"kind": "dog", "contributor": alice.address}).json()
    assert body["sound_id"] not in [item["id"] for item in none["items"]]


def _read_reply(sock: socket.socket) -> str:
    """One HTTP response: its head, then ``Content-Length`` bytes of body."""
    sock.settimeout(10)
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    stack: PipelineStack, http: httpx.Client, alice: LocalAccount
) -> None:
    auth = signed_in(http, alice)["Authorization"]
    limit = stack.settings.max_upload_mb * 1024 * 1024
    # declared too large: the answer comes with no body byte sent
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as sock:
        head = (
            f"POST /v1/sounds HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {100 * limit}\r\n\r\n"
        )
        sock.sendall(head.encode())
        reply = _read_reply(sock)
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"too_large"' in reply
    # chunked (no length): cut off once the limit is passed, long before the 10x on offer
    sent = 0
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as sock:
        head = (
            f"POST /v1/sounds HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        part = (
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        sock.sendall(head.encode() + b"%x\r\n" % len(part) + part + b"\r\n")
        chunk = b"%x\r\n" % 65536 + b"\0" * 65536 + b"\r\n"
        while sent < 10 * limit and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 65536
        reply = _read_reply(sock)
    assert reply.startswith("HTTP/1.1 413"), reply
    # the socket buffers of both ends hold a few MB on loopback; the refusal came long before
    # the 10x on offer was sent
    assert sent < 5 * limit, f"{sent} bytes were taken before the refusal"


def test_a_worker_killed_mid_task_is_redelivered_and_labels_once(
    stack: PipelineStack,
    http: httpx.Client,
    ctx: LabellingContext,
    alice: LocalAccount,
) -> None:
    assert stack.worker is not None
    stack.worker.stop()
    paused = stack.start_worker(paused_at="label_set:source")
    body = _upload_and_register(http, alice, meow_wav_bytes(seed=302))
    stack.wait_for_log(paused, "PAUSED label_set:source", 60)
    # one label is on-chain, the message is unacknowledged: kill the worker there
    stack.kill_worker()
    replacement = stack.start_worker()
    events = list(sse_events(stack.base_url, body["job_id"], timeout_s=90))
    assert [e["event"] for e in events] == STAGES
    labels = events[-1]["data"]["data"]["labels"]
    assert [row["task"] for row in labels] == ["source", "cat-emotion"]
    assert labels[0]["written_now"] is False  # set before the kill, found on-chain after
    for row in labels:
        assert len(ctx.recorder.registry_events("LabelSet", body["sound_id"], row["model_id"])) == 1
    assert body["sound_id"] in replacement.log_path.read_text()


def test_redis_down_refuses_new_work_and_loses_no_accepted_work(
    stack: PipelineStack, http: httpx.Client, alice: LocalAccount, bob: LocalAccount
) -> None:
    alice_auth, bob_auth = signed_in(http, alice), signed_in(http, bob)  # sign-in needs Redis
    accepted = upload(http, alice_auth, meow_wav_bytes(seed=303)).json()
    new_work = meow_wav_bytes(seed=304)
    stack.stop_redis()
    try:
        refused = upload(http, bob_auth, new_work)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "redis_unavailable"
        digest = "0x" + hashlib.sha256(new_work).hexdigest()
        assert http.get(f"/v1/sounds/{digest}").status_code == 404
        # the accepted upload is registered while the queue is down: nobody can queue its label
        signature = sign_registration(alice, accepted["typed_data"])
        done = register(http, alice_auth, accepted["sound_id"], signature)
        assert done.status_code == 200, done.text
        time.sleep(1.0)  # the indexer sees the registration and fails to queue the label
    finally:
        stack.start_redis()  # a fresh, empty Redis: any message it held is gone
    events = list(sse_events(stack.base_url, accepted["job_id"], timeout_s=120))
    assert [e["event"] for e in events] == STAGES


def test_miao_demo_follows_its_upload_to_the_on_chain_label_and_mints_a_meow(
    stack: PipelineStack,
) -> None:
    from backend.chain.dev_accounts import dev_key

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "miao",
            "demo",
            "--api-url",
            stack.base_url,
            "--wallet-key",
            dev_key(8),
            "--timeout",
            "90",
        ],
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    steps = ("signed in", "CID", "registered on-chain (relayed)", "labelled", "generating")
    for step in (*steps, "registered synthetic sound", "minted", "MeowNFT #"):
        assert step in run.stdout, step
    # registration (twice shown), both labels, the synthetic registration, the mint
    assert run.stdout.count(" tx 0x") >= 6


def test_miao_demo_without_a_stack_exits_2() -> None:
    from miao.stack import free_port

    run = subprocess.run(
        [sys.executable, "-m", "miao", "demo", "--api-url", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "miao dev" in run.stdout
