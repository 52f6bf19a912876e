"""``WS /v1/analyze/stream`` on the real app (Starlette's test client): rolling predictions over
the last window of raw PCM and of MediaRecorder-style container chunks, each equal to what
``ml.registry`` says for the same samples, and every bad stream closed with its reason."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from backend.analysis.stream import complete_ogg_pages
from backend.settings import Settings
from miao.samples import meow_wave
from ml.audio import ffmpeg_available, load_audio, resample
from ml.registry import label_wave

URL = "/v1/analyze/stream"
needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is not installed")


def _expected(wave_16k: np.ndarray) -> list[tuple[str, str, dict[str, float]]]:
    return [(p.task, p.label, p.probabilities) for p in label_wave(wave_16k)]


def _got(message: dict[str, Any]) -> list[tuple[str, str, dict[str, float]]]:
    return [(p["task"], p["label"], p["probabilities"]) for p in message["predictions"]]


def _closed(ws: WebSocketTestSession) -> tuple[int, str]:
    """The error message and the close that follows it: (close code, error code)."""
    error = ws.receive_json()
    assert error["type"] == "error" and error["message"], error
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.reason == error["code"]
    return closed.value.code, error["code"]


def _stream_audio(rate: int, seconds: float, seed: int) -> np.ndarray:
    """A few meows end to end at ``rate``, so each window holds different sound."""
    parts = [meow_wave(1.0, seed=seed + i, rate=rate) for i in range(int(np.ceil(seconds)))]
    return np.concatenate(parts)[: int(seconds * rate)]


def test_pcm_s16_gets_a_prediction_per_second_over_the_last_three(client: TestClient) -> None:
    rate = 48000
    wave = _stream_audio(rate, 5.0, seed=40)
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2")
    with client.websocket_connect(URL) as ws:
        ws.send_json({"format": "pcm_s16le", "sample_rate": rate, "channels": 1})
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["window_s"] == 3.0 and ready["interval_s"] == 1.0
        assert "source" in ready["tasks"]
        for second in range(1, 6):
            chunk = pcm[(second - 1) * rate : second * rate]
            for half in np.array_split(chunk, 2):  # frames need not be one second long
                ws.send_bytes(half.tobytes())
            message = ws.receive_json()
            assert message["type"] == "prediction" and message["seq"] == second
            assert message["stream_s"] == pytest.approx(second)
            sent = pcm[: second * rate].astype(np.float32) / 32768.0
            window = sent[-3 * rate :]
            assert message["window_s"] == pytest.approx(min(second, 3), abs=1e-3)
            assert _got(message) == _expected(resample(window, rate))
            assert message["label"] == message["predictions"][-1]["label"]
        ws.send_json({"type": "stop"})
        assert ws.receive_json() == {"type": "done", "predictions": 5}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000


def test_f32_stereo_is_mixed_down_and_stop_predicts_what_is_left(client: TestClient) -> None:
    rate = 16000
    left, right = _stream_audio(rate, 1.5, seed=50), _stream_audio(rate, 1.5, seed=60)
    frames = np.stack([left, right], axis=1).astype("<f4")  # interleaved L R L R …
    with client.websocket_connect(URL) as ws:
        ws.send_json({"format": "pcm_f32le", "sample_rate": rate, "channels": 2, "window_s": 2})
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(frames[:rate].tobytes())
        first = ws.receive_json()
        assert first["seq"] == 1
        ws.send_bytes(frames[rate:].tobytes())  # half a second: not yet due
        ws.send_json({"type": "stop"})
        last = ws.receive_json()
        assert last["seq"] == 2 and last["stream_s"] == pytest.approx(1.5)
        mono = frames.mean(axis=1, dtype=np.float32)
        assert _got(last) == _expected(mono[-2 * rate :])
        assert ws.receive_json()["type"] == "done"


def _encode(wave: np.ndarray, fmt: str, tmp_path: Path) -> bytes:
    """What a browser's MediaRecorder makes: opus in webm (Chrome) or ogg (Firefox), 48 kHz."""
    import soundfile as sf

    src, dst = tmp_path / "in.wav", tmp_path / f"out.{fmt}"
    sf.write(src, wave, 16000)
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(src)),
            *("-ar", "48000", "-c:a", "libopus", "-b:a", "48k", str(dst)),
        ],
        check=True,
    )
    return dst.read_bytes()


@needs_ffmpeg
@pytest.mark.parametrize("fmt", ["webm", "ogg"])
def test_media_recorder_chunks_are_decoded_as_they_grow(
    client: TestClient, tmp_path: Path, fmt: str
) -> None:
    data = _encode(_stream_audio(16000, 4.0, seed=70), fmt, tmp_path)
    chunks = [data[i : i + 3000] for i in range(0, len(data), 3000)]  # cut anywhere, like Chrome
    predictions: list[dict[str, Any]] = []
    with client.websocket_connect(URL) as ws:
        ws.send_json({"format": fmt, "interval_s": 0.25})
        assert ws.receive_json()["format"] == fmt
        for chunk in chunks:
            ws.send_bytes(chunk)
        ws.send_json({"type": "stop"})
        while (message := ws.receive_json())["type"] == "prediction":
            predictions.append(message)
        assert message == {"type": "done", "predictions": len(predictions)}
    assert predictions, "stop always predicts on the audio received"
    assert [m["seq"] for m in predictions] == list(range(1, len(predictions) + 1))
    whole = load_audio(data)
    last = predictions[-1]
    assert last["stream_s"] == pytest.approx(len(whole) / 16000, abs=1e-3)
    assert _got(last) == _expected(whole[-3 * 16000 :])


def test_complete_ogg_pages_cuts_at_the_last_whole_page() -> None:
    page = b"OggS" + bytes(22) + bytes([2]) + bytes([255, 10]) + bytes(265)
    assert complete_ogg_pages(page + page[:100]) == page
    assert complete_ogg_pages(page[:30]) == b""
    assert complete_ogg_pages(page * 3) == page * 3


@pytest.mark.parametrize(
    ("start", "frames", "close_code", "code"),
    [
        ({"format": "mp3"}, [], 1003, "unsupported_format"),
        ("not json", [], 1003, "bad_start"),
        ({"format": "pcm_s16le"}, [], 1008, "bad_start"),  # no sample rate
        ({"format": "pcm_s16le", "sample_rate": 100}, [], 1008, "bad_start"),
        ({"format": "pcm_f32le", "sample_rate": 16000, "window_s": 60}, [], 1008, "bad_start"),
        (None, [b"\x00\x01" * 100], 1003, "audio_before_start"),
        ({"format": "pcm_s16le", "sample_rate": 16000}, [b"\x00" * 1001], 1007, "misaligned_pcm"),
        (
            {"format": "pcm_s16le", "sample_rate": 16000, "channels": 2},
            [b"\x00" * 1002],
            1007,
            "misaligned_pcm",
        ),
        (
            {"format": "pcm_f32le", "sample_rate": 16000},
            [np.array([0.1, np.nan], "<f4").tobytes()],
            1007,
            "non_finite_pcm",
        ),
        ({"format": "webm"}, [b"RIFF" + bytes(40)], 1007, "bad_container"),
        (
            {"format": "pcm_s16le", "sample_rate": 16000},
            [bytes(2 * 1024 * 1024)],
            1009,
            "frame_too_large",
        ),
        ({"format": "pcm_s16le", "sample_rate": 16000}, ["hello"], 1008, "unknown_message"),
    ],
    ids=[
        "mp3",
        "not-json",
        "no-rate",
        "rate-too-low",
        "window-too-long",
        "audio-first",
        "odd-bytes",
        "half-a-stereo-sample",
        "nan",
        "wav-as-webm",
        "frame-too-large",
        "unknown-text",
    ],
)
def test_bad_streams_are_closed_with_the_reason(
    client: TestClient,
    start: Any,
    frames: list[bytes | str],
    close_code: int,
    code: str,
) -> None:
    with client.websocket_connect(URL) as ws:
        if isinstance(start, dict):
            ws.send_text(json.dumps(start))
            ready = ws.receive_json()
            if ready["type"] == "error":  # refused at the start
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
                assert (closed.value.code, ready["code"]) == (close_code, code)
                return
        elif isinstance(start, str):
            ws.send_text(start)
        for frame in frames:
            ws.send_text(frame) if isinstance(frame, str) else ws.send_bytes(frame)
        assert _closed(ws) == (close_code, code)


def test_a_container_stream_over_the_upload_limit_is_closed(
    api_settings: Settings, make_client: Callable[..., TestClient], weights: Path
) -> None:
    client = make_client(api_settings.model_copy(update={"max_upload_mb": 1}))
    header = b"\x1a\x45\xdf\xa3" + bytes(60)
    with client.websocket_connect(URL) as ws:
        ws.send_json({"format": "webm", "interval_s": 10})
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(header)
        ws.send_bytes(bytes(700_000))
        ws.send_bytes(bytes(700_000))
        assert _closed(ws) == (1009, "stream_too_large")


def test_no_source_model_closes_at_the_start(
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(tmp_path))
    with make_client(api_settings).websocket_connect(URL) as ws:
        ws.send_json({"format": "pcm_s16le", "sample_rate": 16000})
        assert _closed(ws) == (1011, "model_unavailable")
