"""The audio front end on every supported format, and on input it must refuse."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ml.audio import (
    SAMPLE_RATE,
    AudioDecodeError,
    UnsupportedFormatError,
    ffmpeg_available,
    load_audio,
    probe,
    resample,
    sniff_format,
)
from ml.preprocess import bandpass

needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is not installed")


def tone(freq: float, seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    wave = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def encode(wave: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, sr, format=fmt, subtype=subtype)
    return buffer.getvalue()


def ffmpeg_encode(tmp_path: Path, sr: int, seconds: float, codec: str, suffix: str) -> bytes:
    out = tmp_path / f"tone{suffix}"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"),
            f"sine=frequency=440:duration={seconds}:sample_rate={sr}",
            *("-ac", "2", "-c:a", codec, str(out)),
        ],
        check=True,
    )
    return out.read_bytes()


def dominant_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(wave))


SOUNDFILE_CASES = [
    ("wav", "WAV", "PCM_16", 8000),
    ("wav", "WAV", "FLOAT", 44100),
    ("flac", "FLAC", "PCM_16", 8000),
    ("flac", "FLAC", "PCM_24", 16000),
    ("ogg", "OGG", "VORBIS", 16000),
    ("ogg", "OGG", "OPUS", 48000),
    ("mp3", "MP3", "MPEG_LAYER_III", 22050),
]


@pytest.mark.parametrize(("fmt", "container", "subtype", "sr"), SOUNDFILE_CASES)
def test_soundfile_formats_decode_to_16k_mono(
    fmt: str, container: str, subtype: str, sr: int
) -> None:
    data = encode(tone(440, 1.0, sr, channels=2), sr, container, subtype)
    wave = load_audio(data)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - SAMPLE_RATE) <= 0.06 * SAMPLE_RATE  # codecs pad a little
    assert abs(dominant_hz(wave) - 440) < 5
    info = probe(data)
    assert (info.format, info.sample_rate, info.channels) == (fmt, sr, 2)
    assert info.duration_s == pytest.approx(1.0, abs=0.06)


def test_path_and_bytes_give_the_same_samples(tmp_path: Path) -> None:
    data = encode(tone(300, 0.5, 8000), 8000, "FLAC", "PCM_16")
    path = tmp_path / "misnamed.mp3"  # the extension is ignored: the bytes say FLAC
    path.write_bytes(data)
    assert np.array_equal(load_audio(path), load_audio(data))
    assert probe(path).format == "flac"


def test_8k_and_16k_sources_are_resampled_alike() -> None:
    low = load_audio(encode(tone(1000, 1.0, 8000), 8000, "WAV", "FLOAT"))
    native = tone(1000, 1.0, 16000)
    assert len(low) == len(native)
    # Same tone, same level after resampling (edges aside).
    assert np.abs(low[400:-400] - native[400:-400]).max() < 0.02
    assert np.array_equal(resample(native, 16000), native)


def test_max_seconds_keeps_the_start() -> None:
    data = encode(tone(440, 3.0, 16000), 16000, "WAV", "PCM_16")
    assert len(load_audio(data, max_seconds=1.25)) == 20000
    with pytest.raises(ValueError, match="max_seconds"):
        load_audio(data, max_seconds=0)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("codec", "suffix", "fmt"), [("libopus", ".webm", "webm"), ("aac", ".m4a", "m4a")]
)
def test_browser_formats_decode_with_ffmpeg(
    tmp_path: Path, codec: str, suffix: str, fmt: str
) -> None:
    data = ffmpeg_encode(tmp_path, 48000, 1.5, codec, suffix)
    assert sniff_format(data) == fmt
    wave = load_audio(data)
    assert abs(len(wave) - 1.5 * SAMPLE_RATE) <= 0.05 * SAMPLE_RATE
    assert abs(dominant_hz(wave) - 440) < 5
    info = probe(data)
    assert (info.format, info.sample_rate, info.channels) == (fmt, 48000, 2)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID",
        b"hello, this is a text file and not audio at all",
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        b"PK\x03\x04" + bytes(64),  # zip
        b"%PDF-1.7\n" + bytes(64),
    ],
    ids=["empty", "two-bytes", "text", "png", "zip", "pdf"],
)
def test_not_audio_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormatError, match="supported"):
        load_audio(data)
    with pytest.raises(UnsupportedFormatError):
        probe(data)


def test_truncated_wav_is_a_decode_error() -> None:
    data = encode(tone(440, 1.0, 16000), 16000, "WAV", "PCM_16")
    with pytest.raises(AudioDecodeError, match="truncated wav"):
        load_audio(data[: len(data) // 2])


@pytest.mark.parametrize(("container", "subtype"), [("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_truncated_or_corrupt_compressed_audio_is_a_decode_error(
    container: str, subtype: str
) -> None:
    rng = np.random.default_rng(0)
    noise = (0.2 * rng.standard_normal(32000)).astype(np.float32)
    data = encode(noise, 16000, container, subtype)
    with pytest.raises(AudioDecodeError):
        load_audio(data[: len(data) // 2])
    corrupt = bytearray(data)
    middle = len(corrupt) // 2
    corrupt[middle : middle + 256] = bytes(256)
    with pytest.raises(AudioDecodeError):
        load_audio(bytes(corrupt))


def test_header_only_files_are_decode_errors() -> None:
    with pytest.raises(AudioDecodeError):
        load_audio(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioDecodeError):
        load_audio(b"fLaC" + bytes(40))
    empty_wav = encode(np.zeros(0, dtype=np.float32), 16000, "WAV", "PCM_16")
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(empty_wav)


@needs_ffmpeg
def test_truncated_m4a_is_a_decode_error(tmp_path: Path) -> None:
    data = ffmpeg_encode(tmp_path, 44100, 1.0, "aac", ".m4a")
    with pytest.raises(AudioDecodeError, match="m4a"):
        load_audio(data[: len(data) // 2])


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_bandpass_keeps_the_band_and_drops_the_rest() -> None:
    sr = SAMPLE_RATE
    inside, below, above = tone(1000, 1.0, sr), tone(50, 1.0, sr), tone(6000, 1.0, sr)
    filtered = bandpass(inside + below + above, 300, 3000, sr=sr)
    spectrum = np.abs(np.fft.rfft(filtered)) / len(filtered)
    hz = np.fft.rfftfreq(len(filtered), 1 / sr)

    def level(f: float) -> float:
        return float(spectrum[np.argmin(np.abs(hz - f))])

    assert level(1000) > 0.9 * 0.2  # a sine of amplitude 0.4 has a 0.2 peak here
    assert level(50) < 0.01 * level(1000)
    assert level(6000) < 0.01 * level(1000)
    assert filtered.dtype == np.float32 and len(filtered) == len(inside)
    # A band touching Nyquist is a highpass; an inverted band is refused.
    assert np.abs(bandpass(below, 300, sr / 2)).max() < 0.02
    with pytest.raises(ValueError, match="above"):
        bandpass(inside, 3000, 300)
