"""Train the meow synthesiser: WaveNet, mel prior and emotion encoder together, on naya's train part.

One loss per step, one optimiser: the WaveNet's µ-law cross-entropy on random 0.25 s crops (given
the true log-mel and the mood's emotion vector), the mel prior's Gaussian NLL on random 2 s
log-mel crops (given the mood's emotion vector), and the reference encoder's mood cross-entropy on
the same crops. The mood table gets gradients from both generators: it is trained jointly with
them. Resumable (``checkpoint.pt``), time-boxed (``--minutes``), one thread by default. On a GPU
(``--device cuda``) the WaveNet runs in bfloat16 autocast with larger batches and longer crops;
the learning rate follows a cosine over the time box (``--lr-floor``).

    python -m ml.synth.train_wavenet --minutes 45 --run var/runs/synth/wavenet
    python -m ml.synth.train_wavenet --device cuda --wave-batch 32 --wave-crop 8000 --minutes 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ml.registry import WEIGHTS_FILE
from ml.synth import checkpoint
from ml.synth.corpus import Corpus, load_cats
from ml.synth.emotion import EmotionEncoder
from ml.synth.excitation import training_excitation
from ml.synth.flow_prior import FlowPrior
from ml.synth.mel import HOP, log_mel, mu_law_encode
from ml.synth.pipeline import build_prior, prefixed
from ml.synth.prior import SILENT_FRAME, MelPrior, PriorConfig
from ml.synth.wavenet import START_CLASS, WaveNet, WaveNetConfig

WAVE_CROP = 4000
PRIOR_FRAMES = 200
CROP_PARTS = ("train", "val")  # training never decodes the test clips


class MelBank:
    """Each clip's synthesis log-mel (and excitation), computed on first use and kept (float16)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.mels: dict[int, torch.Tensor] = {}
        self.excitations: dict[int, torch.Tensor] = {}

    def __getitem__(self, i: int) -> torch.Tensor:
        if i not in self.mels:
            self.mels[i] = log_mel(self.corpus.wave(i)).half()
        return self.mels[i].float()

    def excitation(self, i: int, channels: int) -> torch.Tensor:
        """``[channels, samples]`` of the whole clip, at the phase of its own fundamental.

        Generation gets the same form from the mel alone (:func:`ml.synth.excitation.excitation`);
        see :func:`ml.synth.excitation.training_excitation` for why training aligns the phase.
        """
        if i not in self.excitations:
            self.excitations[i] = training_excitation(self.corpus.wave(i), self[i], channels).half()
        return self.excitations[i].float()


class WaveBatch(NamedTuple):
    prev: torch.Tensor  # [B, T] the class before each sample
    target: torch.Tensor  # [B, T]
    mel: torch.Tensor  # [B, N_MELS, T / HOP]
    moods: torch.Tensor  # [B]
    excitation: torch.Tensor | None  # [B, channels, T], or None for a model without it

    def to(self, device: torch.device) -> WaveBatch:
        return WaveBatch(*(None if t is None else t.to(device) for t in self))


def wave_batch(
    corpus: Corpus,
    bank: MelBank,
    pool: np.ndarray,
    rng: np.random.Generator,
    size: int,
    crop: int = WAVE_CROP,
    excitation_channels: int = 0,
) -> WaveBatch:
    """Hop-aligned random crops of ``size`` clips from ``pool`` (zero-padded past a clip's end)."""
    if crop % HOP:
        raise ValueError(f"crop must be a multiple of {HOP} samples, got {crop}")
    prevs, targets, mels, moods, excitations = [], [], [], [], []
    frames = crop // HOP
    for i in rng.choice(pool, size):
        wave, mel = corpus.wave(int(i)), bank[int(i)]
        hops = max(1, (len(wave) - crop) // HOP)
        start = int(rng.integers(0, hops)) * HOP
        segment = np.zeros(crop, dtype=np.float32)
        piece = wave[start : start + crop]
        segment[: len(piece)] = piece
        target = torch.as_tensor(mu_law_encode(segment))
        first = int(mu_law_encode(wave[start - 1 : start])[0]) if start > 0 else START_CLASS
        prev = torch.cat([torch.tensor([first]), target[:-1]])
        m = mel[:, start // HOP : start // HOP + frames]
        if m.shape[-1] < frames:
            m = F.pad(m, (0, frames - m.shape[-1]), value=float(SILENT_FRAME))
        prevs.append(prev)
        targets.append(target)
        mels.append(m)
        moods.append(int(corpus.labels[i]))
        if excitation_channels:
            e = bank.excitation(int(i), excitation_channels)[:, start : start + crop]
            excitations.append(F.pad(e, (0, crop - e.shape[-1])))
    return WaveBatch(
        torch.stack(prevs),
        torch.stack(targets),
        torch.stack(mels),
        torch.tensor(moods),
        torch.stack(excitations) if excitation_channels else None,
    )


def mel_batch(
    corpus: Corpus,
    bank: MelBank,
    pool: np.ndarray,
    rng: np.random.Generator,
    size: int,
    frames: int = PRIOR_FRAMES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mel crops [B, 80, frames] padded with silence, moods [B])."""
    mels, moods = [], []
    for i in rng.choice(pool, size):
        mel = bank[int(i)]
        start = int(rng.integers(0, max(1, mel.shape[-1] - frames)))
        m = mel[:, start : start + frames]
        if m.shape[-1] < frames:
            m = F.pad(m, (0, frames - m.shape[-1]), value=float(SILENT_FRAME))
        mels.append(m)
        moods.append(int(corpus.labels[i]))
    return torch.stack(mels), torch.tensor(moods)


def learning_rate(
    peak: float, floor: float | None, warmup: int, step: int, fraction: float
) -> float:
    """The rate at ``step``, ``fraction`` of the time box gone: cosine from ``peak`` to ``floor``
    over the box (flat without a floor), times a linear warm-up over the first ``warmup`` steps.
    """
    lr = peak
    if floor is not None:
        lr = floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, fraction)))
    if step < warmup:
        lr *= (step + 1) / warmup
    return lr


def shipped_start(
    root: Path, overrides: dict[str, Any]
) -> tuple[WaveNet, MelPrior | FlowPrior, EmotionEncoder]:
    """The shipped synthesiser under ``root`` as a starting point for more training.

    ``overrides`` change the WaveNet's config; weights the shipped model lacks (the excitation
    input) keep their initial values, which leave the network's output as it was. The prior
    comes as shipped, of either kind (a flow prior can only be carried along, frozen).
    """
    folder = root / "wavenet"
    config = json.loads((folder / "config.json").read_text())
    state = load_file(str(folder / WEIGHTS_FILE))
    shipped_channels = int(config["wavenet"].get("excitation", 0))
    if shipped_channels and overrides.get("excitation", shipped_channels) != shipped_channels:
        raise ValueError(
            f"{folder}: the shipped WaveNet has {shipped_channels} excitation channels; "
            "fine-tuning keeps them"
        )
    wavenet = WaveNet(WaveNetConfig.from_dict({**config["wavenet"], **overrides}))
    missing, unexpected = wavenet.load_state_dict(
        prefixed(state, "wavenet."),
        strict=False,
    )
    if unexpected or any(not k.startswith("cond_excitation.") for k in missing):
        raise ValueError(
            f"{folder}: weights do not fit: missing {missing}, unexpected {unexpected}"
        )
    prior = build_prior(config["prior"])
    prior.load_state_dict(prefixed(state, "prior."))
    emotion = EmotionEncoder()
    emotion.load_state_dict(load_file(str(root / "emotion-encoder" / WEIGHTS_FILE)))
    return wavenet, prior, emotion


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("var/runs/synth/wavenet"))
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="also stop after this many steps in all (a run that must not depend on speed)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 …")
    parser.add_argument(
        "--wavenet",
        type=json.loads,
        default={},
        help="WaveNetConfig overrides as JSON, e.g. '{\"stacks\": 3}'",
    )
    parser.add_argument(
        "--prior",
        type=json.loads,
        default={},
        help="PriorConfig overrides as JSON, e.g. '{\"hidden\": 512}'",
    )
    parser.add_argument("--wave-batch", type=int, default=4)
    parser.add_argument("--wave-crop", type=int, default=WAVE_CROP, help="samples per crop")
    parser.add_argument("--mel-batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--lr-floor",
        type=float,
        default=None,
        help="cosine-decay the rate to this by the end of --minutes",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        help="steps over which the rate rises linearly from 0 (Adam's first steps move every "
        "weight by about the rate: fine-tuning a trained model wants this)",
    )
    parser.add_argument(
        "--drop-emotion",
        type=float,
        default=0.0,
        help="share of prior crops trained without a mood (for guidance)",
    )
    parser.add_argument("--save-every", type=float, default=120.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="a weights folder (ml/weights): start from its shipped WaveNet, prior and emotion "
        "encoder; --wavenet overrides add to its config (new weights, such as excitation, "
        "start at zero)",
    )
    parser.add_argument(
        "--freeze",
        default="",
        help="comma-separated parts not to train: prior, emotion (their losses are skipped)",
    )
    args = parser.parse_args(argv)
    frozen = {part for part in args.freeze.split(",") if part}
    if frozen - {"prior", "emotion"}:
        parser.error(f"--freeze takes prior and/or emotion, not {sorted(frozen)}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no CUDA device here")
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )

    if args.init_from is not None:
        try:
            wavenet, prior, emotion = shipped_start(args.init_from, args.wavenet)
        except ValueError as exc:
            parser.error(str(exc))
        wcfg, pcfg = wavenet.config, prior.config
    else:
        wcfg, pcfg = WaveNetConfig(**args.wavenet), PriorConfig(**args.prior)
        wavenet, prior, emotion = WaveNet(wcfg), MelPrior(pcfg), EmotionEncoder()
    if isinstance(prior, FlowPrior) and "prior" not in frozen:
        parser.error(
            "the shipped mel prior is a flow prior: train it with python -m "
            "ml.synth.train_flow_prior, and give --freeze prior here"
        )
    prior.requires_grad_("prior" not in frozen)
    emotion.requires_grad_("emotion" not in frozen)
    # The models (and any refusal) before the corpus: decoding it is the slow part of start-up.
    corpus = load_cats(args.cache, progress=True, parts=CROP_PARTS)
    bank = MelBank(corpus)
    train = corpus.indices("train")
    val = corpus.indices("val")
    wavenet, prior, emotion = wavenet.to(device), prior.to(device), emotion.to(device)
    params = [p for m in (wavenet, prior, emotion) for p in m.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=args.lr)
    rng = np.random.default_rng(args.seed)
    step, spent = 0, 0.0
    ckpt_path = args.run / "checkpoint.pt"
    state = checkpoint.load(ckpt_path)
    if state is not None:
        wavenet.load_state_dict(state["wavenet"])
        prior.load_state_dict(state["prior"])
        emotion.load_state_dict(state["emotion"])
        optimiser.load_state_dict(state["optimiser"])
        rng = checkpoint.restore_rng(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step, spent = state["step"], state["seconds"]
        print(f"resumed at step {step} ({spent / 60:.1f} min spent)", flush=True)
    (args.run / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (args.run / "config.json").write_text(
        json.dumps({"wavenet": wcfg.to_dict(), "prior": pcfg.to_dict(), "args": vars(args)},
                   indent=2, default=str)
    )  # fmt: skip
    log = checkpoint.TrainLog(args.run)
    val_rng = np.random.default_rng(1234)
    channels = wcfg.excitation
    val_wave = wave_batch(corpus, bank, val, val_rng, 8, excitation_channels=channels).to(device)
    val_mel = [t.to(device) for t in mel_batch(corpus, bank, val, val_rng, 16)]

    def validate() -> dict[str, float]:
        wavenet.eval(), prior.eval(), emotion.eval()
        with torch.no_grad():
            e = emotion.from_moods(val_wave.moods)
            with autocast:
                logits = wavenet(val_wave.prev, val_wave.mel, e, val_wave.excitation)
            w = F.cross_entropy(logits.float(), val_wave.target).item()
            mels, moods = val_mel
            acc = (emotion.reference(mels).argmax(-1) == moods).float().mean().item()
            report = {"val_wavenet_ce": w, "val_reference_acc": acc}
            if "prior" not in frozen:  # a frozen prior may be a flow prior, with another loss
                report["val_prior_nll"] = prior.loss(mels, emotion.from_moods(moods)).item()
        wavenet.train(), prior.train(), emotion.train()
        return report

    def save() -> None:
        checkpoint.save(ckpt_path, {
            "wavenet": wavenet.state_dict(), "prior": prior.state_dict(),
            "emotion": emotion.state_dict(), "optimiser": optimiser.state_dict(),
            "rng": checkpoint.rng_state(rng), "torch_rng": torch.get_rng_state(),
            "device": str(device), "config": {"wavenet": wcfg.to_dict(), "prior": pcfg.to_dict()},
            "step": step, "seconds": spent,
        })  # fmt: skip

    began, last_save = time.monotonic(), time.monotonic()
    base_spent = spent
    running: dict[str, float] = {}
    while spent < args.minutes * 60 and (args.max_steps is None or step < args.max_steps):
        lr = learning_rate(args.lr, args.lr_floor, args.warmup, step, spent / (args.minutes * 60))
        for group in optimiser.param_groups:
            group["lr"] = lr
        batch = wave_batch(corpus, bank, train, rng, args.wave_batch, args.wave_crop, channels).to(
            device
        )
        with autocast:
            logits = wavenet(
                batch.prev, batch.mel, emotion.from_moods(batch.moods), batch.excitation
            )
        wave_loss = F.cross_entropy(logits.float(), batch.target)
        loss, prior_loss, ref_loss = wave_loss, torch.zeros(()), torch.zeros(())
        if frozen != {"prior", "emotion"}:
            mels, mel_moods = (
                t.to(device) for t in mel_batch(corpus, bank, train, rng, args.mel_batch)
            )
            if "prior" not in frozen:
                prior_loss = prior.loss(mels, emotion.from_moods(mel_moods), args.drop_emotion)
            if "emotion" not in frozen:
                ref_loss = F.cross_entropy(emotion.reference(mels), mel_moods)
            loss = wave_loss + prior_loss + ref_loss
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        step += 1
        spent = base_spent + time.monotonic() - began
        for k, v in (("wavenet_ce", wave_loss), ("prior_nll", prior_loss), ("ref_ce", ref_loss)):
            running[k] = 0.98 * running.get(k, v.item()) + 0.02 * v.item()
        if step % 50 == 0:
            log.write(step=step, minutes=spent / 60, **running)
        if time.monotonic() - last_save > args.save_every:
            log.write(step=step, minutes=spent / 60, **validate())
            save()
            last_save = time.monotonic()
    log.write(step=step, minutes=spent / 60, **validate())
    save()
    print("done", flush=True)


if __name__ == "__main__":
    main()
