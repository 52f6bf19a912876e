"""EDA measures what it says on signals whose answers are known, and ``miao eda`` runs end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from miao.cli import app
from ml.eda import _stft_power, analyze_dataset, harmonic_count, recommend_band

SR = 16000


def harmonic_tone(f0: float, harmonics: int, seconds: float = 1.5, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    wave = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, harmonics + 1))
    return np.asarray(wave, dtype=np.float32)


@pytest.mark.parametrize(("f0", "harmonics"), [(440.0, 5), (300.0, 10), (900.0, 3)])
def test_harmonic_count_on_known_tones(f0: float, harmonics: int) -> None:
    count, voiced = harmonic_count(_stft_power(harmonic_tone(f0, harmonics)), SR / 2)
    assert count == pytest.approx(harmonics, abs=0.3)
    assert voiced > 0.9


def test_harmonics_stop_at_the_native_nyquist() -> None:
    tone = harmonic_tone(500.0, 12)  # harmonics up to 6 kHz
    assert harmonic_count(_stft_power(tone), 4000)[0] == pytest.approx(7, abs=0.3)


def test_white_noise_is_mostly_unvoiced() -> None:
    noise = (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    _, voiced = harmonic_count(_stft_power(noise), SR / 2)
    assert voiced < 0.2


def test_recommend_band_spans_classes_and_drops_useless_sides() -> None:
    (low, high), why = recommend_band([(420.0, 2100.0), (700.0, 3310.0)], nyquist_hz=8000)
    assert (low, high) == (400.0, 3400.0) and "400" in why
    (low, high), _ = recommend_band([(30.0, 7900.0)], nyquist_hz=8000)
    assert (low, high) == (None, None)


@pytest.fixture
def toy_shared(tmp_path: Path) -> Path:
    """A two-class dataset in a shared-folder layout: low tones at 8 kHz, high tones at 16 kHz."""
    folder = tmp_path / "shared" / "data" / "toy"
    (folder / "audio").mkdir(parents=True)
    rows = []
    for i in range(3):
        low = harmonic_tone(300.0 + 10 * i, 6, sr=8000)
        sf.write(folder / "audio" / f"low{i}.flac", low, 8000)
        rows.append((f"audio/low{i}.flac", "low", f"g{i}", f"{len(low) / 8000:.3f}", 8000))
        high = harmonic_tone(2000.0 + 50 * i, 1, seconds=0.8 + 0.2 * i)
        sf.write(folder / "audio" / f"high{i}.flac", high, SR)
        rows.append((f"audio/high{i}.flac", "high", f"h{i}", f"{len(high) / SR:.3f}", SR))
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "label", "group", "duration_s", "sample_rate"))
        writer.writerows(rows)
    return tmp_path / "shared"


def test_analyze_dataset_reports_per_class(toy_shared: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = analyze_dataset(
        "toy", tmp_path / "out", toy_shared, on_progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (6, 6)
    by_label = {c.label: c for c in report.classes}
    low, high = by_label["low"], by_label["high"]
    assert low.sample_rates == {"8000": 3} and high.sample_rates == {"16000": 3}
    assert high.duration_s["min"] == pytest.approx(0.8) and high.duration_s["max"] == pytest.approx(
        1.2
    )
    assert low.dominant_hz["median"] == pytest.approx(310, abs=10)
    assert high.dominant_hz["median"] == pytest.approx(2050, abs=10)
    assert low.harmonics["mean"] == pytest.approx(6, abs=0.5)
    assert high.harmonics["mean"] == 0  # a pure tone has no 2nd or 3rd harmonic: unvoiced
    # 0.3-amplitude sine: RMS 0.212 = -13.5 dBFS.
    assert high.rms_db["mean"] == pytest.approx(-13.5, abs=0.3)
    assert low.energy_band_hz[0] < 320 and high.energy_band_hz[1] > 2000
    lo, hi = report.recommended_band_hz
    assert lo is not None and lo <= 300 and hi is not None and 2100 <= hi < 3900
    written = json.loads((tmp_path / "out" / "eda.json").read_text())
    assert written["recommended_band_hz"] == [lo, hi]
    for name in ("spectra.png", "mel_low.png", "mel_high.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"


def test_miao_eda_command(toy_shared: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["eda", "toy", "--shared-dir", str(toy_shared), "--out", str(tmp_path / "eda")]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["dataset"] == "toy" and payload["clips"] == 6
    assert (tmp_path / "eda" / "toy" / "eda.json").is_file()
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "recommended bandpass" in table.stdout
    missing = runner.invoke(app, ["eda", "nope", "--shared-dir", str(toy_shared)])
    assert missing.exit_code == 1 and "unknown dataset" in missing.output
