"""``POST /v1/analyze`` on the real app: the verdicts are ``ml.registry``'s for the same bytes,
bad input gets the upload's error codes, and one slow analysis does not hold up other requests."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from backend.settings import Settings
from miao.samples import meow_wav_bytes
from ml.registry import label_file, load_labeller
from tests.pipeline.support import make_labellers


def _wav(wave: np.ndarray, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _analyze(client: TestClient, data: bytes, name: str = "clip.wav") -> Any:
    return client.post("/v1/analyze", files={"file": (name, data, "application/octet-stream")})


def test_a_clip_gets_the_registry_s_verdicts(client: TestClient) -> None:
    data = meow_wav_bytes(seconds=2.0, seed=11)
    reply = _analyze(client, data)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = label_file(data)
    assert [p["task"] for p in body["predictions"]] == [p.task for p in expected]
    for got, want in zip(body["predictions"], expected, strict=True):
        assert got["label"] == want.label
        assert got["probabilities"] == want.probabilities
        assert got["model_id"] == "0x" + want.model_id
        assert got["confidence"] == want.probabilities[want.label]
    assert (body["task"], body["label"]) == (expected[-1].task, expected[-1].label)
    assert body["format"] == "wav" and body["duration_s"] == pytest.approx(2.0)


def test_the_source_verdict_picks_the_second_model(
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(make_labellers(tmp_path, source_bias="dog")))
    client = make_client(api_settings)
    body = _analyze(client, meow_wav_bytes(seed=12)).json()
    source = body["predictions"][0]
    assert (source["task"], source["label"]) == ("source", "dog")
    assert body["predictions"][1]["task"] == "dog-bark" and body["task"] == "dog-bark"
    assert set(body["predictions"][1]["probabilities"]) == {"bark", "non_bark"}


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"just some text, not audio at all", 415, "unsupported_format"),
        (b"", 422, "empty_file"),
        (meow_wav_bytes(seconds=1.0, seed=13)[:-4000], 422, "undecodable_audio"),
        (_wav(np.zeros(1600, np.float32)), 422, "too_short"),
        (_wav(np.zeros(16000 * 61, np.float32)), 422, "too_long"),
    ],
    ids=["not-audio", "empty", "truncated", "too-short", "too-long"],
)
def test_bad_clips_get_the_upload_error_codes(
    client: TestClient, data: bytes, status: int, code: str
) -> None:
    reply = _analyze(client, data)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert reply.json()["error"]["message"]


def test_oversize_and_missing_file_are_refused(client: TestClient) -> None:
    big = _analyze(client, b"RIFF" + bytes(3 * 1024 * 1024))
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    missing = client.post("/v1/analyze", data={"x": "1"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "validation_error"


def test_no_source_model_is_a_503(
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(tmp_path))  # an empty weights folder
    reply = _analyze(make_client(api_settings), meow_wav_bytes(seed=14))
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "model_unavailable"
    assert "source" in reply.json()["error"]["message"]


class _HangingModel:
    """A fake, named so: a model call that hangs until released (a slow model on demand cannot
    be produced for real). Everything but ``probabilities`` is the real model's."""

    def __init__(self, real: Any, release: threading.Event) -> None:
        self._real, self._release = real, release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def probabilities(self, features: Any) -> Any:
        self._release.wait(30)
        return self._real.probabilities(features)


def test_an_analysis_waiting_on_the_model_does_not_hold_up_other_requests(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = meow_wav_bytes(seed=15)
    assert _analyze(client, data).status_code == 200  # models loaded
    labeller = load_labeller("source")
    release = threading.Event()
    monkeypatch.setattr(labeller, "loaded", _HangingModel(labeller.loaded, release))
    slow: dict[str, Any] = {}
    try:  # the next analysis blocks inside the model call
        waiting = threading.Thread(target=lambda: slow.update(reply=_analyze(client, data)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive(), "the analysis should be waiting on the model"
        answered: dict[str, Any] = {}
        other = threading.Thread(
            target=lambda: answered.update(reply=_analyze(client, b"not audio at all, text"))
        )
        other.start()
        other.join(20)
        assert "reply" in answered, "a second request waited for the first one's model call"
        assert answered["reply"].status_code == 415
        assert "reply" not in slow
    finally:
        release.set()
    waiting.join(20)
    assert slow["reply"].status_code == 200


def test_openapi_documents_the_route(client: TestClient) -> None:
    spec = client.get("/v1/openapi.json").json()
    post = spec["paths"]["/v1/analyze"]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AnalyzeResponse"
    )
    assert {"413", "415", "422", "503"} <= set(post["responses"])
