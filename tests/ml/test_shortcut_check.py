"""``scripts/ml_shortcut_check.py``'s band-limited probe: each clip as an 8 kHz recording holds it.

A model that keeps the whole 16 kHz band must still call a bark recorded at 8 kHz a bark; the
probe gives it such clips. It must take away the upper band and nothing else.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.ml.scripts import load_script
from tests.ml.tones import low_and_high_tones, power_near


def _script() -> ModuleType:
    return load_script("ml_shortcut_check")


def test_the_probe_removes_the_upper_band_and_keeps_the_rest() -> None:
    script = _script()
    wave = low_and_high_tones(2.0)
    limited = script.band_limited(wave)
    assert limited.shape == wave.shape
    assert power_near(limited, 6000) < 1e-4 * power_near(wave, 6000)
    assert power_near(limited, 1000) == pytest.approx(power_near(wave, 1000), rel=0.02)
