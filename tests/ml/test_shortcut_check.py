"""``scripts/ml_shortcut_check.py``'s band-limited probe: each clip as an 8 kHz recording holds it.

A model that keeps the whole 16 kHz band must still call a bark recorded at 8 kHz a bark; the
probe gives it such clips. It must take away the upper band and nothing else.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from ml.audio import SAMPLE_RATE

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ml_shortcut_check.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ml_shortcut_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _power_near(wave: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    return float(spectrum[np.abs(np.fft.rfftfreq(len(wave), 1 / SAMPLE_RATE) - hz) < 20].sum())


def test_the_probe_removes_the_upper_band_and_keeps_the_rest() -> None:
    script = _script()
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    wave = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(
        np.float32
    )
    limited = script.band_limited(wave)
    assert limited.shape == wave.shape
    assert _power_near(limited, 6000) < 1e-4 * _power_near(wave, 6000)
    assert _power_near(limited, 1000) == pytest.approx(_power_near(wave, 1000), rel=0.02)
