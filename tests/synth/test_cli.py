"""``miao synth`` and ``miao catify`` end to end, on tiny models written to a weights folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from miao.cli import app
from miao.commands.bench_synth import voice_like
from ml.synth.mel import loudness_envelope, pearson

pytestmark = pytest.mark.usefixtures("one_torch_thread")

runner = CliRunner()


def test_synth_writes_wav_and_png(tiny_synth_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "meow.wav"
    args = ["synth", "--mood", "happy", "--seconds", "0.5", "--seed", "7", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    wave, rate = sf.read(out)
    assert rate == 16000 and len(wave) == 8000
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = tmp_path / "again.wav"
    assert runner.invoke(app, [*args[:-1], str(again)]).exit_code == 0
    assert np.array_equal(sf.read(again)[0], wave)  # same seed, same weights: same audio
    other = tmp_path / "other.wav"
    assert runner.invoke(app, [*args[:6], "8", "-o", str(other)]).exit_code == 0
    assert not np.array_equal(sf.read(other)[0], wave)


def test_synth_bad_input_writes_nothing(tiny_synth_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "meow.wav"
    result = runner.invoke(app, ["synth", "--mood", "grumpy", "-o", str(out)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["synth", "--seconds", "60", "-o", str(out)])
    assert result.exit_code == 2
    assert list(tmp_path.glob("meow*")) == []


def test_synth_without_weights_exits_1(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(tmp_path / "empty"))
    result = runner.invoke(app, ["synth", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 1
    assert not (tmp_path / "x.wav").exists()


def test_catify_keeps_length_and_rhythm(tiny_synth_weights: Path, tmp_path: Path) -> None:
    voice = voice_like(1.5)
    source = tmp_path / "voice.wav"
    sf.write(source, voice, 16000)
    out = tmp_path / "cat.wav"
    result = runner.invoke(app, ["catify", str(source), "-o", str(out), "--mood", "sleepy"])
    assert result.exit_code == 0, result.output
    cat, rate = sf.read(out, dtype="float32")
    assert rate == 16000 and len(cat) == len(voice)
    assert out.with_suffix(".png").is_file()
    assert pearson(loudness_envelope(voice), loudness_envelope(cat)) > 0.7


def test_catify_rejects_non_audio(tiny_synth_weights: Path, tmp_path: Path) -> None:
    source = tmp_path / "notes.wav"
    source.write_text("not audio at all")
    result = runner.invoke(app, ["catify", str(source), "-o", str(tmp_path / "cat.wav")])
    assert result.exit_code == 2
    assert not (tmp_path / "cat.wav").exists()
