"""Rolling predictions over a live audio stream (``WS /v1/analyze/stream``).

The protocol, from the client's side:

1. Send one text message, JSON, that says what the audio is::

       {"format": "pcm_s16le", "sample_rate": 48000, "channels": 1}   # raw PCM, interleaved
       {"format": "pcm_f32le", "sample_rate": 44100}                  # e.g. an AudioWorklet
       {"format": "webm"}                                             # MediaRecorder chunks
       {"format": "ogg"}                                              # (Firefox: ogg/opus)

   Optional: ``window_s`` (seconds each prediction looks back, default 3, 0.5-10) and
   ``interval_s`` (seconds between predictions, default 1, 0.25-10). The server answers
   ``{"type": "ready", ...}`` once the models are loaded.
2. Send the audio as binary messages. PCM frames must hold whole samples of every channel
   (little-endian; s16 is scaled by 1/32768, f32 must be finite). Container chunks are what
   ``MediaRecorder`` hands out, in order, the first one carrying the header; the server decodes the
   growing buffer with ``ml.audio`` (ffmpeg), so a container stream is limited to
   ``MIAO_MAX_UPLOAD_MB`` bytes and :data:`MAX_CONTAINER_STREAM_S` seconds (PCM streams are
   unlimited: only the last window is kept).
3. Every ``interval_s`` of audio (PCM: by the audio's own clock; containers: of wall time while
   chunks arrive) the server sends ``{"type": "prediction", "seq", "stream_s", "window_s",
   "task", "label", "display_label", "confidence", "predictions": [...], "elapsed_ms"}`` for the last
   ``window_s`` seconds. A client that sends faster than the models run gets fewer predictions,
   each on the newest audio, never a backlog.
4. Send ``{"type": "stop"}`` for a last prediction on what is left, ``{"type": "done"}``, and a
   normal close (1000); or just close the socket.

Any problem is ``{"type": "error", "code", "message"}`` followed by a close with one of the codes
below (the reason repeats the error code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from backend.analysis.clips import Analysis, ModelUnavailable, label_wave, load_models
from backend.pipeline.uploads import MIN_DURATION_S

# Close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED = 1003
"""A format the server does not take, or audio before the start message."""
CLOSE_INVALID_DATA = 1007
"""Audio that does not decode: misaligned or non-finite PCM, a broken container."""
CLOSE_POLICY = 1008
"""The protocol broken: a bad start message, an unknown message, no start in time."""
CLOSE_TOO_BIG = 1009
"""A frame or a container stream over the limits."""
CLOSE_SERVER_ERROR = 1011
"""The models are not available on this server."""

PCM_FORMATS: dict[str, tuple[str, float]] = {
    "pcm_s16le": ("<i2", 32768.0),
    "pcm_f32le": ("<f4", 1.0),
}
CONTAINER_FORMATS = ("webm", "ogg")
STREAM_FORMATS = (*PCM_FORMATS, *CONTAINER_FORMATS)
MAX_FRAME_BYTES = 1 << 20
MAX_CONTAINER_STREAM_S = 120.0
START_TIMEOUT_S = 10.0
DEFAULT_WINDOW_S, DEFAULT_INTERVAL_S = 3.0, 1.0


class StreamError(Exception):
    """Ends the stream: ``code`` for the error message, ``close_code`` for the socket."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


@dataclass(frozen=True)
class StreamConfig:
    """What the start message declared."""

    format: str
    sample_rate: int = 0
    channels: int = 1
    window_s: float = DEFAULT_WINDOW_S
    interval_s: float = DEFAULT_INTERVAL_S

    @property
    def is_pcm(self) -> bool:
        return self.format in PCM_FORMATS

    @classmethod
    def parse(cls, text: str) -> StreamConfig:
        """The start message, or ``StreamError`` saying what is wrong with it."""
        try:
            body = json.loads(text)
        except ValueError:
            raise StreamError(
                CLOSE_UNSUPPORTED,
                "bad_start",
                "the first message must be JSON, e.g. "
                '{"format": "pcm_s16le", "sample_rate": 16000}',
            ) from None
        if not isinstance(body, dict):
            raise StreamError(CLOSE_POLICY, "bad_start", "the start message must be a JSON object")
        fmt = body.get("format")
        if fmt not in STREAM_FORMATS:
            raise StreamError(
                CLOSE_UNSUPPORTED,
                "unsupported_format",
                f"format {fmt!r} is not supported; use one of {', '.join(STREAM_FORMATS)}",
            )
        window_s = _number(body, "window_s", DEFAULT_WINDOW_S, 0.5, 10.0)
        interval_s = _number(body, "interval_s", DEFAULT_INTERVAL_S, 0.25, 10.0)
        if fmt in CONTAINER_FORMATS:
            return cls(fmt, window_s=window_s, interval_s=interval_s)
        if "sample_rate" not in body:
            raise StreamError(CLOSE_POLICY, "bad_start", f"{fmt} needs a sample_rate (Hz)")
        rate = _number(body, "sample_rate", 0, 8000, 192000)
        channels = _number(body, "channels", 1, 1, 8)
        if rate != int(rate) or channels != int(channels):
            raise StreamError(CLOSE_POLICY, "bad_start", "sample_rate and channels are integers")
        return cls(fmt, int(rate), int(channels), window_s, interval_s)


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise StreamError(
            CLOSE_POLICY,
            "bad_start",
            f"{key} must be a number from {low:g} to {high:g}, not {value!r}",
        )
    return float(value)


class PcmBuffer:
    """The last ``window_s`` of a raw PCM stream, at its own rate; the audio clock."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.dtype, self.scale = PCM_FORMATS[config.format]
        self.frame_bytes = np.dtype(self.dtype).itemsize * config.channels
        self.keep = round(config.window_s * config.sample_rate)
        self.samples = np.zeros(0, np.float32)
        self.received = 0  # samples per channel, since the start

    @property
    def received_s(self) -> float:
        return self.received / self.config.sample_rate

    def append(self, frame: bytes) -> None:
        if len(frame) % self.frame_bytes:
            raise StreamError(
                CLOSE_INVALID_DATA,
                "misaligned_pcm",
                f"a {self.config.format} frame of {self.config.channels} channel(s) must be a "
                f"multiple of {self.frame_bytes} bytes; got {len(frame)}",
            )
        values = np.frombuffer(frame, self.dtype).astype(np.float32) / self.scale
        if not np.isfinite(values).all():
            raise StreamError(CLOSE_INVALID_DATA, "non_finite_pcm", "the frame holds NaN or inf")
        mono = values.reshape(-1, self.config.channels).mean(axis=1, dtype=np.float32)
        self.samples = np.concatenate([self.samples, mono])[-self.keep :]
        self.received += len(mono)

    def window(self) -> np.ndarray:
        """The last ``window_s`` (or all so far) as mono float32 at 16 kHz."""
        from ml.audio import resample

        return resample(self.samples, self.config.sample_rate)


class ContainerBuffer:
    """A growing webm or ogg recording, decoded whole (the header is at its start)."""

    def __init__(self, config: StreamConfig, max_bytes: int) -> None:
        self.config = config
        self.max_bytes = max_bytes
        self.data = bytearray()
        self.decoded_s = 0.0

    def append(self, chunk: bytes) -> None:
        if not self.data:
            self._check_header(chunk)
        if len(self.data) + len(chunk) > self.max_bytes:
            raise StreamError(
                CLOSE_TOO_BIG,
                "stream_too_large",
                f"a {self.config.format} stream is decoded whole and is limited to "
                f"{self.max_bytes} bytes; start a new recording, or stream PCM",
            )
        self.data += chunk

    def _check_header(self, chunk: bytes) -> None:
        from ml.audio import UnsupportedFormatError, sniff_format

        try:
            found = sniff_format(chunk)
        except UnsupportedFormatError:
            found = None
        if found != self.config.format:
            raise StreamError(
                CLOSE_INVALID_DATA,
                "bad_container",
                f"the first chunk must start a {self.config.format} file (its header); "
                f"it looks like {found or 'no audio format'}",
            )

    def decode_window(self, data: bytes) -> np.ndarray:
        """Decode ``data`` (what was received, blocking) and return its last ``window_s``."""
        from ml.audio import SAMPLE_RATE, AudioError, ffmpeg_available, load_audio

        if not ffmpeg_available():
            raise StreamError(
                CLOSE_UNSUPPORTED,
                "unsupported_format",
                f"{self.config.format} streams need ffmpeg, which this server lacks; stream PCM",
            )
        if self.config.format == "ogg":
            data = complete_ogg_pages(data)
            if not data:
                return np.zeros(0, np.float32)
        try:
            wave = load_audio(data)
        except AudioError as exc:
            raise StreamError(CLOSE_INVALID_DATA, "undecodable_audio", str(exc)) from None
        self.decoded_s = len(wave) / SAMPLE_RATE
        if self.decoded_s > MAX_CONTAINER_STREAM_S:
            raise StreamError(
                CLOSE_TOO_BIG,
                "stream_too_long",
                f"a {self.config.format} stream is decoded whole and is limited to "
                f"{MAX_CONTAINER_STREAM_S:g} s; start a new recording, or stream PCM",
            )
        return wave[-round(self.config.window_s * SAMPLE_RATE) :]


def complete_ogg_pages(data: bytes) -> bytes:
    """The prefix of a growing Ogg stream that ends on a whole page (the rest is still coming)."""
    end = 0
    while end + 27 <= len(data) and data[end : end + 4] == b"OggS":
        segments = data[end + 26]
        table = data[end + 27 : end + 27 + segments]
        if len(table) < segments:
            break
        page_end = end + 27 + segments + sum(table)
        if page_end > len(data):
            break
        end = page_end
    return data[:end]


def prediction_message(analysis: Analysis, seq: int, stream_s: float) -> dict[str, Any]:
    main = analysis.main
    return {
        "type": "prediction",
        "seq": seq,
        "stream_s": round(stream_s, 3),
        "window_s": analysis.duration_s,
        "task": main.task,
        "label": main.label,
        "display_label": main.display_label,
        "confidence": main.confidence,
        "predictions": [v.as_dict() for v in analysis.verdicts],
        "elapsed_ms": analysis.elapsed_ms,
    }


class StreamSession:
    """One socket: a receiver task fills the buffer; this loop predicts when due and replies."""

    def __init__(self, websocket: WebSocket, max_bytes: int) -> None:
        self.ws = websocket
        self.max_bytes = max_bytes
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.buffer: PcmBuffer | ContainerBuffer | None = None
        self.config: StreamConfig | None = None
        self.seq = 0
        self.analysed_at = 0.0  # PCM: audio seconds; containers: monotonic wall time
        self.due_pending = False
        self.new_audio = False

    async def run(self) -> None:
        await self.ws.accept()
        receiver: asyncio.Task[None] | None = None
        try:
            self.config = await self._start()
            receiver = asyncio.create_task(self._receive())
            await self._serve()
        except StreamError as exc:
            await self._fail(exc)
        except WebSocketDisconnect:
            pass
        finally:
            if receiver is not None:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiver

    async def _start(self) -> StreamConfig:
        try:
            message = await asyncio.wait_for(self.ws.receive(), START_TIMEOUT_S)
        except TimeoutError:
            raise StreamError(
                CLOSE_POLICY, "no_start", f"no start message within {START_TIMEOUT_S:g} s"
            ) from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is None:
            raise StreamError(
                CLOSE_UNSUPPORTED,
                "audio_before_start",
                'send the start message first, e.g. {"format": "pcm_s16le", "sample_rate": 16000}',
            )
        config = StreamConfig.parse(message["text"])
        self.buffer = (
            PcmBuffer(config) if config.is_pcm else ContainerBuffer(config, self.max_bytes)
        )
        try:
            tasks = await asyncio.to_thread(load_models)
        except ModelUnavailable as exc:
            raise StreamError(CLOSE_SERVER_ERROR, "model_unavailable", str(exc)) from None
        self.analysed_at = 0.0 if config.is_pcm else time.monotonic()
        await self.ws.send_json(
            {
                "type": "ready",
                "format": config.format,
                "sample_rate": config.sample_rate or None,
                "channels": config.channels,
                "window_s": config.window_s,
                "interval_s": config.interval_s,
                "tasks": tasks,
            }
        )
        return config

    async def _receive(self) -> None:
        """Read the socket until it ends; everything the main loop must act on becomes an event."""
        assert self.buffer is not None and self.config is not None
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    await self.events.put(("disconnect", None))
                    return
                if message.get("bytes") is not None:
                    frame = message["bytes"]
                    if len(frame) > MAX_FRAME_BYTES:
                        raise StreamError(
                            CLOSE_TOO_BIG,
                            "frame_too_large",
                            f"a frame is at most {MAX_FRAME_BYTES} bytes; got {len(frame)}",
                        )
                    self.buffer.append(frame)
                    self.new_audio = True
                    if self._due() and not self.due_pending:
                        self.due_pending = True
                        await self.events.put(("due", None))
                    continue
                await self.events.put(("text", message.get("text") or ""))
        except StreamError as exc:
            await self.events.put(("error", exc))
        except WebSocketDisconnect:
            await self.events.put(("disconnect", None))

    def _due(self) -> bool:
        assert self.config is not None and self.buffer is not None
        if isinstance(self.buffer, PcmBuffer):
            return self.buffer.received_s - self.analysed_at >= self.config.interval_s
        return time.monotonic() - self.analysed_at >= self.config.interval_s

    async def _serve(self) -> None:
        while True:
            kind, value = await self.events.get()
            if kind == "due":
                self.due_pending = False
                if self._due():
                    await self._predict()
            elif kind == "text":
                if _is_stop(value):
                    if self.new_audio:
                        await self._predict()
                    await self.ws.send_json({"type": "done", "predictions": self.seq})
                    await self.ws.close(CLOSE_NORMAL)
                    return
                raise StreamError(
                    CLOSE_POLICY,
                    "unknown_message",
                    'after the start message send audio as binary messages, or {"type": "stop"}',
                )
            elif kind == "error":
                raise value
            else:  # disconnect
                return

    async def _predict(self) -> None:
        assert self.buffer is not None
        buffer = self.buffer
        self.new_audio = False
        if isinstance(buffer, PcmBuffer):
            self.analysed_at = buffer.received_s
            stream_s = buffer.received_s
            wave = buffer.window()
        else:
            self.analysed_at = time.monotonic()
            wave = await asyncio.to_thread(buffer.decode_window, bytes(buffer.data))
            stream_s = buffer.decoded_s
        from ml.audio import SAMPLE_RATE

        if len(wave) < MIN_DURATION_S * SAMPLE_RATE:
            return  # not enough audio yet for a prediction
        try:
            analysis = await asyncio.to_thread(label_wave, wave)
        except ModelUnavailable as exc:
            raise StreamError(CLOSE_SERVER_ERROR, "model_unavailable", str(exc)) from None
        self.seq += 1
        await self.ws.send_json(prediction_message(analysis, self.seq, stream_s))

    async def _fail(self, exc: StreamError) -> None:
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        with contextlib.suppress(Exception):
            await self.ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
            await self.ws.close(exc.close_code, reason=exc.code)


def _is_stop(text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("type") == "stop"


async def run_stream(websocket: WebSocket, max_bytes: int) -> None:
    """Serve one ``WS /v1/analyze/stream`` connection (see the module docstring)."""
    await StreamSession(websocket, max_bytes).run()
