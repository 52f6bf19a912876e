"""Helpers of the pipeline tests: test labellers, a signed-in wallet over HTTP, SSE reading.

The labellers made here are real ``ml`` models (MFCC-CNN, the project's own architecture and
inference path), tiny and untrained with fixed seeds: the pipeline must put on-chain exactly what
``ml.registry`` says for the same file, whatever the weights are, and these run in milliseconds.
``make_labellers(..., source_bias="dog")`` builds a source model whose head always hears a dog
(a real model with a strong bias, for the "cat upload the model disagrees with" case).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import torch
from eth_account.signers.local import LocalAccount
from safetensors.torch import save_file

from backend.auth.sessions import Session, issue_token
from backend.chain.eip712 import sign_typed_data
from ml.models.baselines import MfccCNN
from ml.tasks import TASKS
from tests.fixtures.api import sign_in

TEST_LABELLER_TASKS = ("source", "cat-emotion", "dog-bark", "infant-cry")


def make_labellers(
    root: Path, tasks: tuple[str, ...] = TEST_LABELLER_TASKS, *, source_bias: str | None = None
) -> Path:
    """A weights folder (``MIAO_WEIGHTS_DIR`` layout) of small untrained MFCC-CNNs."""
    for i, task in enumerate(tasks):
        labels = list(TASKS[task].labels)
        torch.manual_seed(1000 + i)
        model = MfccCNN(labels, window_frames=100, channels=(4, 8))
        if task == "source" and source_bias is not None:
            with torch.no_grad():
                model.head[1].bias[labels.index(source_bias)] += 50.0
        folder = root / task
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()},
            str(folder / "model.safetensors"),
        )
        config = {
            "task": task,
            "labels": labels,
            "model": model.config_dict(),
            "front_end": {"kind": "mfcc", "band_limit_hz": None, "bandpass_hz": None},
            "input": {
                "kind": "mfcc",
                "window_frames": 100,
                "hop_frames": 50,
                "mean": [],
                "std": [],
            },
        }
        (folder / "config.json").write_text(json.dumps(config))
    return root


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_token(address: str, secret: str) -> str:
    """A session token made directly (for an API whose Redis, hence sign-in, is down)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return issue_token(Session(address, now, now + timedelta(hours=1)), secret)


def signed_in(client: Any, account: LocalAccount) -> dict[str, str]:
    """Sign in with EIP-4361 as the DApp does; returns the bearer header."""
    return bearer(sign_in(client, account)["token"])


def upload(
    client: Any, auth: dict[str, str], data: bytes, kind: str = "cat", label: str = ""
) -> Any:
    return client.post(
        "/v1/sounds",
        files={"file": ("clip.wav", data, "application/octet-stream")},
        data={"kind": kind, "contributor_label": label},
        headers=auth,
    )


def sign_registration(account: LocalAccount, typed_data: dict[str, Any]) -> str:
    return "0x" + sign_typed_data(account.key.to_0x_hex(), typed_data).hex()


def register(client: Any, auth: dict[str, str], sound_id: str, signature: str) -> Any:
    return client.post(
        f"/v1/sounds/{sound_id}/register", json={"signature": signature}, headers=auth
    )


def sse_events(base_url: str, job_id: str, timeout_s: float = 60.0) -> Iterator[dict[str, Any]]:
    """Each server-sent event of a job as ``{"event", "id", "data"}``, until the stream ends."""
    with (
        httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s)) as client,
        client.stream("GET", f"/v1/jobs/{job_id}/events") as reply,
    ):
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for line in reply.iter_lines():
            if not line:
                if "data" in event:
                    yield event
                event = {}
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
