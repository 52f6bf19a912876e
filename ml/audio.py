"""Audio front end: any supported file in, mono float32 at 16 kHz out.

Every model in the project sees audio through :func:`load_audio`, so training data, uploads and
the CLI are decoded and resampled the same way. The container is sniffed from its magic bytes
(file names and extensions are never trusted); wav, flac, ogg (Vorbis/Opus) and mp3 are decoded
by libsndfile through ``soundfile``, webm/opus and m4a/mp4 by the ``ffmpeg`` program when it is
installed. Resampling always uses soxr (``HQ``), so 8 kHz and 16 kHz sources go through one
identical path; an 8 kHz source still has nothing above 4 kHz afterwards.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
"""The sample rate every model and feature in ``ml`` works at."""

RESAMPLE_QUALITY = "HQ"
"""soxr quality preset used for every resampling (one fixed method for all sources)."""

# Formats decoded by libsndfile (soundfile) and those that need the ffmpeg program.
SOUNDFILE_FORMATS = ("wav", "flac", "ogg", "mp3")
FFMPEG_FORMATS = ("webm", "m4a")
SUPPORTED_FORMATS = SOUNDFILE_FORMATS + FFMPEG_FORMATS

_FFMPEG_TIMEOUT_S = 120


class AudioError(ValueError):
    """Base class of the front end's errors: the input cannot become model audio."""


class UnsupportedFormatError(AudioError):
    """The bytes are not one of the supported audio formats (or need a decoder that is missing)."""


class AudioDecodeError(AudioError):
    """The bytes look like a supported format but cannot be decoded: corrupt, truncated or empty."""


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, as decoded (``duration_s`` is exact, from the decoded samples)."""

    format: str
    duration_s: float
    sample_rate: int
    channels: int


def sniff_format(data: bytes) -> str:
    """Name the container from its first bytes: one of :data:`SUPPORTED_FORMATS`.

    Raises :class:`UnsupportedFormatError` for anything else (text, images, zip files, …).
    """
    head = bytes(data[:64])
    if len(head) < 4:
        raise UnsupportedFormatError(
            f"not audio: only {len(data)} byte(s); supported formats: {', '.join(SUPPORTED_FORMATS)}"
        )
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return "mp3"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska / WebM
        return "webm"
    if head[4:8] == b"ftyp":  # ISO base media: m4a, mp4, 3gp …
        return "m4a"
    raise UnsupportedFormatError(
        f"not a supported audio format (first bytes {head[:8].hex(' ')}); "
        f"supported: {', '.join(SUPPORTED_FORMATS)}"
    )


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2 Layer III frame header (what an mp3 without ID3 tag starts with)."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0x3
    return version != 1 and layer == 1 and bitrate_index not in (0, 15) and rate_index != 3


def ffmpeg_available() -> bool:
    """Whether the ``ffmpeg`` program (needed for webm and m4a) is installed."""
    return shutil.which("ffmpeg") is not None


def _read_bytes(path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview) -> bytes:
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return bytes(path_or_bytes)
    path = Path(path_or_bytes)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"audio file not found: {path}") from None


def _decode_soundfile(data: bytes, fmt: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode with libsndfile; returns (frames x channels float32, native sample rate)."""
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate = int(f.samplerate)
            declared = int(f.frames)
            wanted = -1 if max_seconds is None else max(1, round(max_seconds * rate))
            samples = f.read(frames=wanted, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        raise AudioDecodeError(f"cannot decode {fmt}: {_libsndfile_message(exc)}") from None
    # libsndfile returns what it could read from a truncated PCM file without complaint;
    # a short read against the header's frame count is a truncated file. (mp3/ogg frame counts
    # are estimates, so only the exact-length containers are checked.)
    expected = declared if wanted < 0 else min(declared, wanted)
    if fmt in ("wav", "flac") and declared > 0 and samples.shape[0] < expected:
        raise AudioDecodeError(
            f"truncated {fmt}: header declares {declared} frames, only {samples.shape[0]} decoded"
        )
    if fmt == "wav":
        _check_wav_complete(data)
    return samples, rate


_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (poly 0x04C11DB7, MSB first, init 0, no final xor), via zlib's C code.

    zlib computes the bit-reflected CRC with init/xor 0xFFFFFFFF; feeding it bit-reversed bytes,
    cancelling the init/xor (CRCs are linear) and bit-reversing the result gives Ogg's CRC.
    """
    reflected = zlib.crc32(data.translate(_BIT_REVERSED)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{reflected:032b}"[::-1], 2)


def check_ogg_pages(data: bytes) -> None:
    """Walk every Ogg page: each must start where the last ended, pass its CRC, and be complete.

    libsndfile skips damaged Ogg pages silently (the clip just gets a hole), so corruption and
    truncation are caught here instead.
    """
    offset = 0
    while offset < len(data):
        header = data[offset : offset + 27]
        if len(header) < 27 or header[:4] != b"OggS":
            raise AudioDecodeError(f"corrupt or truncated ogg: no page header at byte {offset}")
        segments = header[26]
        table = data[offset + 27 : offset + 27 + segments]
        end = offset + 27 + segments + sum(table)
        if len(table) < segments or end > len(data):
            raise AudioDecodeError(f"truncated ogg: the page at byte {offset} is cut off")
        page = bytearray(data[offset:end])
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = bytes(4)
        if _ogg_crc(bytes(page)) != stored:
            raise AudioDecodeError(f"corrupt ogg: checksum mismatch in the page at byte {offset}")
        offset = end


def _libsndfile_message(exc: Exception) -> str:
    """libsndfile's reason without soundfile's "Error opening <_io.BytesIO …>:" prefix."""
    return re.sub(r"^Error opening <[^>]*>: ", "", str(exc)).strip()


def _check_wav_complete(data: bytes) -> None:
    """Raise if a RIFF WAV's ``data`` chunk declares more bytes than the file holds.

    libsndfile sizes a WAV by the bytes present, so a cut-off upload would otherwise decode
    silently as a shorter clip. Streaming writers that leave the size at 0 or 0xFFFFFFFF and
    RF64 files (sizes live elsewhere) are not checked.
    """
    if data[:4] != b"RIFF":
        return
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if chunk_id == b"data":
            available = len(data) - offset - 8
            if 0 < size < 0xFFFFFFFF and size > available:
                raise AudioDecodeError(
                    f"truncated wav: data chunk declares {size} bytes, only {available} present"
                )
            return
        offset += 8 + size + (size & 1)


def _decode_ffmpeg(data: bytes, fmt: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode with the ffmpeg program to a temporary float WAV at the native rate."""
    if not ffmpeg_available():
        raise UnsupportedFormatError(
            f"{fmt} audio needs the ffmpeg program, which is not installed on this machine"
        )
    with tempfile.TemporaryDirectory(prefix="miao-audio-") as tmp:
        src = Path(tmp) / f"input.{fmt}"
        dst = Path(tmp) / "decoded.wav"
        src.write_bytes(data)
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(src)]
        if max_seconds is not None:
            cmd += ["-t", f"{max_seconds:.6f}"]
        cmd += ["-vn", "-map", "0:a:0", "-c:a", "pcm_f32le", str(dst)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise AudioDecodeError(f"ffmpeg took over {_FFMPEG_TIMEOUT_S} s to decode") from None
        if proc.returncode != 0 or not dst.exists():
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = message[-1].replace(f"{src}: ", "") if message else f"exit {proc.returncode}"
            raise AudioDecodeError(f"cannot decode {fmt} with ffmpeg: {tail}")
        try:
            samples, rate = sf.read(dst, dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:
            raise AudioDecodeError(f"cannot read ffmpeg's output for {fmt}: {exc}") from None
    return samples, int(rate)


def _decode(data: bytes, max_seconds: float | None) -> tuple[str, np.ndarray, int]:
    fmt = sniff_format(data)
    if fmt == "ogg":
        check_ogg_pages(data)  # before any decoder: both skip damaged pages silently
    if fmt in SOUNDFILE_FORMATS:
        try:
            samples, rate = _decode_soundfile(data, fmt, max_seconds)
        except AudioDecodeError:
            # Ogg Opus and some mp3 variants are outside older libsndfile builds: let ffmpeg try.
            if fmt not in ("ogg", "mp3") or not ffmpeg_available():
                raise
            samples, rate = _decode_ffmpeg(data, fmt, max_seconds)
    else:
        samples, rate = _decode_ffmpeg(data, fmt, max_seconds)
    if samples.size == 0:
        raise AudioDecodeError(f"{fmt} file holds no audio samples")
    if not np.isfinite(samples).all():
        raise AudioDecodeError(f"{fmt} file holds NaN or infinite samples")
    return fmt, samples, rate


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames x channels) array into one float32 channel."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return samples.mean(axis=1, dtype=np.float32)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono signal with the project's one fixed method (soxr ``HQ``)."""
    if orig_sr <= 0:
        raise ValueError(f"sample rate must be positive, got {orig_sr}")
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if orig_sr == target_sr:
        return wave
    return soxr.resample(wave, orig_sr, target_sr, quality=RESAMPLE_QUALITY).astype(
        np.float32, copy=False
    )


def load_audio(
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    max_seconds: float | None = None,
) -> np.ndarray:
    """Decode a file (path or bytes) to mono float32 at :data:`SAMPLE_RATE`.

    ``max_seconds`` keeps only the start of long inputs (decoding stops early where it can).
    Raises :class:`UnsupportedFormatError` for non-audio or unsupported formats and
    :class:`AudioDecodeError` for corrupt, truncated or empty files.
    """
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    _, samples, rate = _decode(_read_bytes(path_or_bytes), max_seconds)
    wave = resample(to_mono(samples), rate, SAMPLE_RATE)
    if max_seconds is not None:
        wave = wave[: round(max_seconds * SAMPLE_RATE)]
    return np.ascontiguousarray(wave, dtype=np.float32)


def probe(path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview) -> AudioInfo:
    """Check that the input decodes and say what it holds (format, exact duration, rate, channels).

    It decodes the whole file, so a file that passes :func:`probe` also passes
    :func:`load_audio`. Raises the same errors as :func:`load_audio`.
    """
    fmt, samples, rate = _decode(_read_bytes(path_or_bytes), None)
    return AudioInfo(
        format=fmt,
        duration_s=samples.shape[0] / rate,
        sample_rate=rate,
        channels=int(samples.shape[1]),
    )


def encode_wav(wave: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples as a 16-bit PCM WAV file (clipped to [-1, 1]; same samples, same
    bytes, hence the same content digest)."""
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    clipped = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    sf.write(buffer, clipped, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
