"""``scripts/ml_shortcut_check.py``'s band-limited probe: each clip as an 8 kHz recording holds it.

A model that keeps the whole 16 kHz band must still call a bark recorded at 8 kHz a bark; the
probe gives it such clips. It must take away the upper band and nothing else.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.ml.tones import low_and_high_tones, power_near

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ml_shortcut_check.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ml_shortcut_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_probe_removes_the_upper_band_and_keeps_the_rest() -> None:
    script = _script()
    wave = low_and_high_tones(2.0)
    limited = script.band_limited(wave)
    assert limited.shape == wave.shape
    assert power_near(limited, 6000) < 1e-4 * power_near(wave, 6000)
    assert power_near(limited, 1000) == pytest.approx(power_near(wave, 1000), rel=0.02)
