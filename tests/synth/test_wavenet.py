"""WaveNet: µ-law, the cached fast generator against the full convolution, seeds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ml.synth.generate import FastGenerator
from ml.synth.mel import QUANT_LEVELS, log_mel, mu_law_decode, mu_law_encode
from ml.synth.wavenet import WaveNet, generate_naive
from tests.fixtures.synth import TINY_WAVENET

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mu_law_round_trip() -> None:
    classes = np.arange(QUANT_LEVELS)
    assert np.array_equal(mu_law_encode(mu_law_decode(classes)), classes)
    wave = np.linspace(-1, 1, 2001)
    back = mu_law_decode(mu_law_encode(wave))
    # 8-bit µ-law: fine steps near zero, coarse (about 0.03) near full scale.
    assert np.max(np.abs(back - wave)) < 0.035
    small = np.linspace(-0.01, 0.01, 201)
    assert np.max(np.abs(mu_law_decode(mu_law_encode(small)) - small)) < 0.0005
    assert torch.equal(mu_law_encode(torch.from_numpy(wave)), torch.from_numpy(mu_law_encode(wave)))


@pytest.fixture(params=[0, 2], ids=["plain", "excited"])
def tiny_wavenet(request: pytest.FixtureRequest) -> WaveNet:
    """The tiny WaveNet without and with harmonic excitation (every test runs on both)."""
    torch.manual_seed(1)
    model = WaveNet(replace(TINY_WAVENET, excitation=request.param)).eval()
    with torch.no_grad():  # larger weights than at init: peakier, more varied distributions
        for p in model.parameters():
            p.mul_(3.0)
        if request.param:  # the excitation input starts at zero: give it weight to matter
            model.cond_excitation.weight.normal_(0.0, 3.0)
    return model


def harmonic_mel(samples: int, f0: float = 440.0) -> torch.Tensor:
    """The synthesis log-mel of a harmonic tone: voiced throughout, so excitation is not zero."""
    t = np.arange(samples) / 16000
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8)) * 0.3
    return log_mel(tone.astype(np.float32))


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fast_generator_equals_full_convolution(tiny_wavenet: WaveNet, temperature: float) -> None:
    """The cached-queue generator draws exactly the naive generator's samples (same seed)."""
    samples = 560  # 3.5 conditioning frames, several times the receptive field (16)
    mel, emotion = harmonic_mel(samples), torch.randn(4)
    naive = generate_naive(tiny_wavenet, mel, emotion, samples, seed=5, temperature=temperature)
    fast = FastGenerator(tiny_wavenet).generate(mel, emotion, samples, 5, temperature)
    assert len(set(naive.tolist())) > 20  # a non-trivial sequence, not one repeated class
    assert np.array_equal(fast, naive)


def test_fast_generator_follows_its_conditioning(tiny_wavenet: WaveNet) -> None:
    gen = FastGenerator(tiny_wavenet)
    mel, emotion = torch.randn(80, 4), torch.randn(4)
    base = gen.generate(mel, emotion, 600, seed=3)
    assert np.array_equal(gen.generate(mel, emotion, 600, seed=3), base)
    assert not np.array_equal(gen.generate(mel, emotion, 600, seed=4), base)
    assert not np.array_equal(gen.generate(mel, -emotion, 600, seed=3), base)
    assert not np.array_equal(gen.generate(mel + 1.0, emotion, 600, seed=3), base)


def test_excitation_changes_what_an_excited_wavenet_draws() -> None:
    """The excitation input is used by both generators, and only where the mel is voiced."""
    torch.manual_seed(1)
    model = WaveNet(replace(TINY_WAVENET, excitation=2)).eval()
    emotion = torch.randn(4)
    voiced, unvoiced = harmonic_mel(560), torch.full((80, 4), -3.0)
    before = FastGenerator(model)
    plain = [before.generate(m, emotion, 560, seed=2) for m in (voiced, unvoiced)]
    with torch.no_grad():
        model.cond_excitation.weight.normal_(0.0, 3.0)
    after = FastGenerator(model)
    excited = [after.generate(m, emotion, 560, seed=2) for m in (voiced, unvoiced)]
    assert not np.array_equal(excited[0], plain[0])
    assert np.array_equal(excited[1], plain[1])  # silence has no pitch: nothing to excite
    assert np.array_equal(excited[0], generate_naive(model, voiced, emotion, 560, seed=2))


def test_fast_generator_rejects_bad_requests(tiny_wavenet: WaveNet) -> None:
    gen = FastGenerator(tiny_wavenet)
    with pytest.raises(ValueError, match="frames"):
        gen.generate(torch.randn(80, 2), torch.randn(4), 400, seed=0)
    with pytest.raises(ValueError, match="temperature"):
        gen.generate(torch.randn(80, 3), torch.randn(4), 400, seed=0, temperature=0.0)


def test_training_forward_is_causal(tiny_wavenet: WaveNet) -> None:
    """Changing input t never changes the logits before t (the convolutions are causal)."""
    prev = torch.randint(0, 256, (1, 300))
    mel, emotion = torch.randn(1, 80, 2), torch.randn(1, 4)
    changed = prev.clone()
    changed[0, 200] = (changed[0, 200] + 77) % 256
    with torch.no_grad():
        a, b = tiny_wavenet(prev, mel, emotion), tiny_wavenet(changed, mel, emotion)
    assert torch.equal(a[..., :200], b[..., :200])
    assert not torch.allclose(a[..., 200], b[..., 200])


def test_prior_sampler_steps_the_trained_network() -> None:
    """The numpy sampler is the GRU of ``forward``: with no dropout and no noise they agree."""
    from dataclasses import replace

    from ml.synth.prior import MelPrior
    from tests.fixtures.synth import TINY_PRIOR

    torch.manual_seed(0)
    prior = MelPrior(replace(TINY_PRIOR, dropout=0.0)).eval()
    emotion = torch.randn(TINY_PRIOR.emotion_dim)
    contour = prior.sample(emotion, 30, seed=1, temperature=0.0)
    with torch.no_grad():
        mean, _ = prior(contour[None], emotion[None])
    assert torch.allclose(mean[0].T, contour, atol=1e-5)
    noisy = MelPrior(TINY_PRIOR).eval()
    assert torch.equal(noisy.sample(emotion, 30, seed=2), noisy.sample(emotion, 30, seed=2))
    assert not torch.equal(noisy.sample(emotion, 30, seed=2), noisy.sample(emotion, 30, seed=3))


def test_prior_guidance_extrapolates_from_the_unconditional_model() -> None:
    """Guided sampling = unconditional mean + g x (mood mean - unconditional mean), per frame."""
    from dataclasses import replace

    from ml.synth.prior import MelPrior
    from tests.fixtures.synth import TINY_PRIOR

    torch.manual_seed(0)
    prior = MelPrior(replace(TINY_PRIOR, dropout=0.0)).eval()
    emotion = torch.randn(TINY_PRIOR.emotion_dim)
    contour = prior.sample(emotion, 30, seed=1, temperature=0.0, guidance=2.5)
    with torch.no_grad():
        mood_mean, _ = prior(contour[None], emotion[None])
        any_mean, _ = prior(contour[None], torch.zeros(1, TINY_PRIOR.emotion_dim))
    expected = any_mean + 2.5 * (mood_mean - any_mean)
    assert torch.allclose(expected[0].T, contour, atol=1e-4)
    assert not torch.allclose(contour, prior.sample(emotion, 30, seed=1, temperature=0.0))


def test_mel_filters_equal_librosa() -> None:
    """The written-out Slaney filterbank is librosa's (synthesis training runs without librosa)."""
    librosa = pytest.importorskip("librosa")
    from ml.synth.mel import N_FFT, N_MELS, mel_filters

    expected = librosa.filters.mel(sr=16000, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=8000.0)
    np.testing.assert_allclose(mel_filters().numpy(), expected, atol=1e-7)
