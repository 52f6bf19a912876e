"""``TrainConfig.full_band``: a band-limited task can keep the whole 16 kHz band.

dog-bark and source band-limit everything to 4 kHz because their classes come from 8 kHz and
16 kHz datasets. A full-band model hears the upper band, and learns the band-limit as a
sound like any other from copies that go through the ``band-limit`` preset.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from ml.augment import AUG_PRESETS, WaveAugment
from ml.crossval import describe_variant, parse_variant, variant_config
from ml.train import TrainConfig
from tests.ml.tones import low_and_high_tones, power_near


def test_full_band_drops_the_tasks_band_limit_for_student_and_teacher() -> None:
    limited = TrainConfig(task="dog-bark", arch="mfcc_cnn")
    full = TrainConfig(task="dog-bark", arch="mfcc_cnn", full_band=True)
    assert limited.front_end.band_limit_hz == 4000
    assert limited.teacher_front_end.band_limit_hz == 4000
    assert full.front_end.band_limit_hz is None
    assert full.teacher_front_end.band_limit_hz is None
    assert full.front_end.tag != limited.front_end.tag  # their cached features never mix


def test_full_band_is_refused_where_the_task_has_no_band_limit() -> None:
    with pytest.raises(ValueError, match="not band-limited"):
        TrainConfig(task="cat-emotion", full_band=True)


def test_full_band_keeps_what_lies_above_4khz() -> None:
    wave = low_and_high_tones(1.0)
    full = TrainConfig(task="dog-bark", arch="mfcc_cnn", full_band=True).front_end
    limited = TrainConfig(task="dog-bark", arch="mfcc_cnn").front_end
    kept, cut = full.condition(wave), limited.condition(wave)
    assert power_near(kept, 6000) > 0.5 * power_near(wave, 6000)
    assert power_near(cut, 6000) < 1e-3 * power_near(wave, 6000)
    assert not np.allclose(full.features(wave), limited.features(wave))


def test_the_band_limit_preset_cuts_every_copy_above_4khz_and_nothing_else() -> None:
    wave = low_and_high_tones(1.0)
    augment = WaveAugment(config=AUG_PRESETS["band-limit"], seed=0)
    for _ in range(3):
        out = augment(wave)
        assert out.shape == wave.shape
        assert power_near(out, 6000) < 1e-3 * power_near(wave, 6000)
        # no gain, stretch or shift: the 1 kHz tone keeps its power
        assert power_near(out, 1000) == pytest.approx(power_near(wave, 1000), rel=0.05)


def test_a_cross_validation_variant_can_ask_for_the_whole_band() -> None:
    name, overrides = parse_variant(
        "fullband:arch=mfcc_cnn,full_band=true,aug_copies=1,aug_preset=band-limit"
    )
    config = variant_config("dog-bark", {}, overrides)
    assert name == "fullband"
    assert config.full_band is True and config.front_end.band_limit_hz is None
    words = describe_variant({"config": asdict(config)})
    assert "the whole 16 kHz band" in words
    assert "band-limit" in words
