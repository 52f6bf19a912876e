"""The flow-matching mel prior: it learns, it samples reproducibly, and it loads as shipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.synth import checkpoint
from ml.synth.emotion import EmotionEncoder
from ml.synth.flow_prior import FlowPrior, FlowPriorConfig
from ml.synth.mel import N_MELS
from ml.synth.pipeline import MeowSynthesiser, build_prior
from ml.synth.prior import MelPrior
from ml.synth.ship import save_models
from ml.synth.ship_flow import ship_flow
from ml.synth.style_gan import MelGenerator
from ml.synth.train_flow_prior import main as train_flow_prior
from ml.synth.train_wavenet import main as train_wavenet
from tests.fixtures.synth import TINY_STYLE, TINY_WAVENET

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_FLOW = FlowPriorConfig(widths=(16, 24), blocks=1, emotion_dim=4, embed=16, frames=20)


def two_moods(frames: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """A toy data set with structure to learn: mood 0 is a low band, mood 1 a high band."""
    mel = torch.full((2, N_MELS, frames), -2.0)
    mel[0, 5:15], mel[1, 60:70] = 2.0, 2.0
    return mel, torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])


def trained(time_sampling: str, steps: int = 300) -> tuple[FlowPrior, list[float]]:
    torch.manual_seed(0)
    prior = FlowPrior(TINY_FLOW)
    mel, emotion = two_moods()
    optimiser = torch.optim.Adam(prior.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = prior.loss(mel, emotion, drop_emotion=0.0, time_sampling=time_sampling)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return prior.eval(), losses


def mood_wins(prior: FlowPrior, seeds: int = 6) -> int:
    """Contours (of 2 x ``seeds``) whose own mood's band is the louder one."""
    _, emotion = two_moods()
    wins = 0
    for seed in range(seeds):
        low, high = (prior.sample(emotion[m], 20, seed=seed) for m in (0, 1))
        assert low.shape == (N_MELS, 20)
        wins += int(low[5:15].mean() > low[60:70].mean() + 1.0)
        wins += int(high[60:70].mean() > high[5:15].mean() + 1.0)
    return wins


def test_it_learns_two_moods_and_samples_each() -> None:
    prior, losses = trained("uniform")
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert mood_wins(prior) >= 11  # each mood's contour has its own band loud


def test_logit_normal_times_starve_the_mood() -> None:
    """Why the default is uniform: trained on mid-path times only, the mood is ignored.

    The loss falls as far (the data is learnt), but contours follow the seed, not the mood.
    """
    prior, losses = trained("logit-normal")
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert mood_wins(prior) < 11  # uniform times reach 11 of 12 on the same data and seeds
    with pytest.raises(ValueError, match="time_sampling"):
        prior.loss(*two_moods(), time_sampling="cosine")


def test_sampling_is_seeded_and_guidance_moves_it() -> None:
    torch.manual_seed(0)
    prior = FlowPrior(TINY_FLOW).eval()
    with torch.no_grad():  # the output layer starts at zero: give it something to say
        prior.out.weight.normal_(0.0, 0.1)
    emotion = torch.randn(4)
    base = prior.sample(emotion, 30, seed=3, steps=4)
    assert base.shape == (N_MELS, 30)  # not a multiple of the U-Net's 2: padded, then cut
    assert torch.equal(prior.sample(emotion, 30, seed=3, steps=4), base)
    assert not torch.equal(prior.sample(emotion, 30, seed=4, steps=4), base)
    assert not torch.allclose(prior.sample(emotion, 30, seed=3, steps=4, guidance=3.0), base)


def test_build_prior_by_kind() -> None:
    assert isinstance(build_prior(TINY_FLOW.to_dict()), FlowPrior)
    assert isinstance(build_prior({"hidden": 16, "prenet": 8, "emotion_dim": 4}), MelPrior)
    with pytest.raises(ValueError, match="unknown mel prior kind"):
        build_prior({"kind": "diffusion"})


def test_a_synthesiser_with_a_flow_prior_loads_and_generates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml.synth.wavenet import WaveNet

    torch.manual_seed(0)
    save_models(
        tmp_path, WaveNet(TINY_WAVENET), FlowPrior(TINY_FLOW), EmotionEncoder(dim=4),
        MelGenerator(TINY_STYLE, conditioned=True), TINY_STYLE, contour_guidance=2.0,
    )  # fmt: skip
    synth = MeowSynthesiser(tmp_path)
    assert isinstance(synth.prior, FlowPrior)
    a = synth.synthesize("happy", 0.2, seed=5)
    assert a.wave.shape == (3200,)
    assert np.array_equal(synth.synthesize("happy", 0.2, seed=5).wave, a.wave)
    assert not np.array_equal(synth.synthesize("happy", 0.2, seed=6).wave, a.wave)


def test_trained_against_the_shipped_encoder_and_shipped_with_an_excited_wavenet(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both training commands on real naya crops, then ship_flow: the result loads and runs."""
    root = tmp_path / "weights"
    for name in ("wavenet", "emotion-encoder"):
        shutil.copytree(WEIGHTS_DIR / name, root / name)
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(root))
    cache = tmp_path / "cache"
    flow_run, wavenet_run = tmp_path / "flow", tmp_path / "wavenet"
    flow_args = [
        "--run", str(flow_run), "--cache", str(cache), "--minutes", "0.02", "--batch", "2",
        "--threads", "1", "--config", json.dumps({"widths": [16, 24], "blocks": 1, "embed": 16}),
    ]  # fmt: skip
    train_flow_prior(flow_args)
    state = checkpoint.load(flow_run / "checkpoint.pt")
    assert state is not None and state["step"] >= 1
    assert state["emotion_encoder_id"] == sha256_file(root / "emotion-encoder" / WEIGHTS_FILE)
    first = state["step"]
    train_flow_prior([*flow_args[:5], "0.04", *flow_args[6:]])  # resumes
    assert checkpoint.load(flow_run / "checkpoint.pt")["step"] > first  # type: ignore[index]

    shipped_emotion = EmotionEncoder()
    shipped_emotion.load_state_dict(load_file(str(root / "emotion-encoder" / WEIGHTS_FILE)))
    train_wavenet([
        "--run", str(wavenet_run), "--cache", str(cache), "--minutes", "5", "--max-steps", "3",
        "--wave-batch", "2", "--wave-crop", "1600", "--init-from", str(root),
        "--wavenet", '{"excitation": 4}', "--freeze", "prior,emotion", "--save-every", "600",
    ])  # fmt: skip
    # The shipped prior is a flow prior: the WaveNet command carries it, frozen, and refuses
    # to train it (it has its own command).
    assert json.loads((root / "wavenet" / "config.json").read_text())["prior"]["kind"] == "flow"
    with pytest.raises(SystemExit):
        train_wavenet(["--run", str(tmp_path / "x"), "--init-from", str(root)])
    tuned = checkpoint.load(wavenet_run / "checkpoint.pt")
    assert tuned is not None and tuned["config"]["wavenet"]["excitation"] == 4
    assert tuned["step"] == 3  # --max-steps, not the clock, ended it
    for k, v in shipped_emotion.state_dict().items():  # frozen: the shipped encoder, unchanged
        assert torch.equal(tuned["emotion"][k], v)
    # The excitation input trained on: from the shipped weights, or from zeros where the shipped
    # WaveNet has none.
    before = load_file(str(root / "wavenet" / WEIGHTS_FILE)).get(
        "wavenet.cond_excitation.weight", torch.zeros(1536, 4)
    )
    assert not torch.equal(tuned["wavenet"]["cond_excitation.weight"], before)

    sampling = {"contour_guidance": 2.0, "contour_temperature": 1.0, "contour_steps": 3.0}
    model_id = ship_flow(flow_run, [wavenet_run], root, {}, {}, sampling, "test note")
    assert model_id == sha256_file(root / "wavenet" / WEIGHTS_FILE)
    card = (root / "wavenet" / "MODEL_CARD.md").read_text()
    assert model_id in card and "test note" in card and "Not measured" in card
    synth = MeowSynthesiser(root)
    assert isinstance(synth.prior, FlowPrior) and synth.wavenet.config.excitation == 4
    assert synth.contour_steps == 3
    result = synth.synthesize("sleepy", 0.1, seed=1)
    assert result.model_id == model_id and np.isfinite(result.wave).all()
    # Fine-tuning what was just shipped keeps its excitation channels.
    with pytest.raises(SystemExit) as exit_info:
        train_wavenet([
            "--run", str(tmp_path / "y"), "--init-from", str(root), "--freeze", "prior,emotion",
            "--wavenet", '{"excitation": 2}',
        ])  # fmt: skip
    assert exit_info.value.code == 2 and not (tmp_path / "y").exists()


def test_train_wavenet_rejects_unknown_parts_to_freeze(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        train_wavenet(["--run", str(tmp_path), "--freeze", "wavenet"])
