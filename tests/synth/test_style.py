"""Voice-to-cat: frame counts, the envelope re-application, and the emotion encoder's two paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.synth.emotion import MOODS, EmotionEncoder, mood_index
from ml.synth.mel import (
    frame_log_energy,
    frames_for,
    griffin_lim,
    log_mel,
    loudness_envelope,
    peak_normalise,
    pearson,
    reapply_envelope,
)
from ml.synth.style_gan import MelGenerator, PatchDiscriminator
from tests.fixtures.synth import TINY_STYLE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("frames", [10, 17, 64, 131])  # catify takes >= 0.1 s = 10 frames
def test_generator_keeps_the_frame_count(frames: int) -> None:
    gen = MelGenerator(TINY_STYLE, conditioned=True).eval()
    moods = torch.eye(len(MOODS))[:2]
    out = gen(torch.randn(2, 80, frames), moods)
    assert out.shape == (2, 80, frames)
    assert PatchDiscriminator(TINY_STYLE, conditioned=True)(out, moods).shape[0] == 2


def test_conditioned_generator_needs_and_uses_the_mood() -> None:
    gen = MelGenerator(TINY_STYLE, conditioned=True).eval()
    mel = torch.randn(1, 80, 20)
    with pytest.raises(ValueError, match="mood"):
        gen(mel)
    eye = torch.eye(len(MOODS))
    assert not torch.allclose(gen(mel, eye[:1]), gen(mel, eye[1:2]))


def test_reapply_envelope_sets_each_frames_energy_to_the_inputs() -> None:
    torch.manual_seed(0)
    mel_in, mel_out = torch.randn(80, 50), torch.randn(80, 50) * 2 - 1
    fixed = reapply_envelope(mel_out, mel_in)
    assert torch.allclose(frame_log_energy(fixed), frame_log_energy(mel_in), atol=1e-4)
    # Only a per-frame shift: the spectral shape (differences between bands) is the output's.
    assert torch.allclose(fixed - fixed[0], mel_out - mel_out[0], atol=1e-5)
    with pytest.raises(ValueError, match="shapes"):
        reapply_envelope(mel_out[:, :10], mel_in)


def test_envelope_survives_griffin_lim() -> None:
    """A bursty input's loudness envelope comes back through mel → Griffin-Lim."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    bursts = (np.sin(2 * np.pi * 3 * t) > 0.3).astype(np.float32)
    voice = (rng.normal(0, 0.3, t.size) * bursts).astype(np.float32)
    mel = log_mel(voice)
    assert mel.shape[-1] == frames_for(len(voice))
    other = reapply_envelope(torch.randn_like(mel) * 0.3, mel)  # a different spectrum
    out = griffin_lim(other, len(voice), iterations=8)
    assert len(out) == len(voice)
    assert pearson(loudness_envelope(voice), loudness_envelope(out)) > 0.9


def test_emotion_encoder_moods_and_reference() -> None:
    torch.manual_seed(0)
    encoder = EmotionEncoder(dim=4).eval()
    assert torch.equal(encoder.encode(mood="curious"), encoder.table[MOODS.index("hunting_mind")])
    assert torch.equal(encoder.encode(mood="resting"), encoder.encode(mood="sleepy"))
    wave = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    with torch.no_grad():
        p = encoder.reference_distribution(wave).clone()
        assert p.shape == (len(MOODS),) and torch.isclose(p.sum(), torch.tensor(1.0))
        assert torch.allclose(encoder.encode(reference=wave), p @ encoder.table, atol=1e-6)
    with pytest.raises(ValueError, match="unknown mood"):
        mood_index("grumpy")
    with pytest.raises(ValueError, match="exactly one"):
        encoder.encode()


def test_style_strength_scales_the_generators_change(tiny_synth_weights) -> None:  # type: ignore[no-untyped-def]
    """strength s: voice + s x (generated - voice), then the voice's frame energies re-applied."""
    from ml.synth.pipeline import VoiceToCat

    model = VoiceToCat(tiny_synth_weights)
    wave = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    mel_in, plain = model.cat_mel(wave, "happy", strength=1.0)
    mood = torch.zeros(len(MOODS))
    mood[mood_index("happy")] = 1.0
    with torch.inference_mode():
        generated = model.generator(mel_in[None], mood[None])[0]
    assert torch.allclose(plain, reapply_envelope(generated, mel_in), atol=1e-5)
    _, strong = model.cat_mel(wave, "happy", strength=3.0)
    assert torch.allclose(
        strong, reapply_envelope(mel_in + 3 * (generated - mel_in), mel_in), atol=1e-4
    )
    _, none = model.cat_mel(wave, "happy", strength=0.0)
    assert torch.allclose(none, mel_in, atol=1e-4)  # strength 0 gives the voice back
    with pytest.raises(ValueError, match="strength"):
        model.cat_mel(wave, "happy", strength=-1.0)


def test_sampling_settings_are_part_of_the_model_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Sampling settings live in the weights file: changing one changes the id; editing only
    config.json is refused (the id on-chain would no longer name how the sound was made)."""
    import json

    from ml.registry import WEIGHTS_FILE, sha256_file
    from ml.synth.pipeline import STYLE_DIR, VoiceToCat
    from ml.synth.prior import MelPrior
    from ml.synth.ship import save_models
    from ml.synth.wavenet import WaveNet
    from tests.fixtures.synth import TINY_PRIOR, TINY_WAVENET

    def ship(root, strength: float):  # type: ignore[no-untyped-def]
        torch.manual_seed(0)
        parts = (WaveNet(TINY_WAVENET), MelPrior(TINY_PRIOR), EmotionEncoder(dim=4))
        generator = MelGenerator(TINY_STYLE, conditioned=True)
        save_models(root, *parts, generator, TINY_STYLE, style_strength=strength)
        return sha256_file(root / STYLE_DIR / WEIGHTS_FILE)

    assert ship(tmp_path / "a", 1.0) != ship(tmp_path / "b", 3.0)
    assert VoiceToCat(tmp_path / "b").strength == 3.0
    config_path = tmp_path / "b" / STYLE_DIR / "config.json"
    config = json.loads(config_path.read_text())
    config["sampling"]["style_strength"] = 5.0
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="re-ship"):
        VoiceToCat(tmp_path / "b")


def test_wavenet_vocoding_is_the_synthesisers_loaded_once(tiny_synth_weights) -> None:  # type: ignore[no-untyped-def]
    """``vocoder="wavenet"`` renders the cat log-mel with the shipped WaveNet, seeded, and loads
    that synthesiser once per VoiceToCat, not once per transfer."""
    from ml.synth.pipeline import MeowSynthesiser, VoiceToCat

    model = VoiceToCat(tiny_synth_weights)
    voice = np.random.default_rng(0).normal(0, 0.1, 1600).astype(np.float32)
    first = model.catify(voice, "happy", vocoder="wavenet", seed=3)
    loaded = model.wavenet_vocoder
    again = model.catify(voice, "happy", vocoder="wavenet", seed=3)
    assert model.wavenet_vocoder is loaded
    assert first.wave.shape == voice.shape and np.array_equal(first.wave, again.wave)
    _, mel = model.cat_mel(voice, "happy")
    synth = MeowSynthesiser(tiny_synth_weights)
    expected = synth.vocode(mel, synth.emotion.encode(mood="happy"), len(voice), 3)
    assert np.allclose(first.wave, peak_normalise(expected))
