"""Train the voice-to-cat GAN unpaired: speech-fsdd (4 speakers) ↔ naya cats (train groups).

LSGAN adversarial losses, cycle L1 (weight 10) both ways and identity L1 (weight 5 for the first
``--identity-steps`` steps, then 1), on random 0.64 s log-mel crops; crops of near-silence are
redrawn. The held-out speakers (``ml.synth.corpus.HELD_OUT_SPEAKERS``) are never read here.
Resumable and time-boxed like the WaveNet run.

    python -m ml.synth.train_style --minutes 40 --run var/runs/synth/style
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ml.synth import checkpoint
from ml.synth.corpus import Corpus, load_cats, load_voices
from ml.synth.emotion import MOODS
from ml.synth.mel import bands_below, frame_log_energy, log_mel, warp_bands
from ml.synth.prior import SILENT_FRAME
from ml.synth.style_gan import StyleConfig, StyleGAN

CROP = 64


def mels_of(corpus: Corpus, indices: np.ndarray) -> list[torch.Tensor]:
    return [log_mel(corpus.wave(int(i))) for i in indices]


def crops(
    mels: list[torch.Tensor], rng: np.random.Generator, size: int
) -> tuple[torch.Tensor, np.ndarray]:
    """``size`` random CROP-frame crops (padded with silence), preferring ones with sound."""
    out, chosen = [], rng.integers(0, len(mels), size)
    for i in chosen:
        mel = mels[int(i)]
        best, best_energy = None, -np.inf
        for _ in range(3):
            start = int(rng.integers(0, max(1, mel.shape[-1] - CROP)))
            m = mel[:, start : start + CROP]
            energy = float(frame_log_energy(m).max())
            if energy > best_energy:
                best, best_energy = m, energy
        assert best is not None
        if best.shape[-1] < CROP:
            pad = CROP - best.shape[-1]
            left = int(rng.integers(0, pad + 1))
            best = F.pad(best, (left, pad - left), value=float(SILENT_FRAME))
        out.append(best)
    return torch.stack(out), chosen


def voice_indices(voices: Corpus, skipped: set[str]) -> np.ndarray:
    """The training speakers' clips, less those of ``skipped`` speakers; an unknown name is an
    error (a typo must not silently train on the speaker meant for validation)."""
    train = voices.indices("train")
    speakers = voices.speakers(train)
    unknown = skipped - set(speakers.tolist())
    if unknown:
        raise SystemExit(
            f"error: --skip-speakers {', '.join(sorted(unknown))}: not a training speaker "
            f"({', '.join(sorted(set(speakers.tolist())))})"
        )
    return train[~np.isin(speakers, sorted(skipped))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("var/runs/synth/style"))
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--identity-steps", type=int, default=400)
    parser.add_argument("--identity-after", type=float, default=1.0, help="weight after those")
    parser.add_argument("--cycle-weight", type=float, default=10.0)
    parser.add_argument("--save-every", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--voice-warp",
        type=float,
        default=0.0,
        help="stretch each voice crop's bands below 4 kHz by a random factor in 1 +- this "
        "(vocal tract length perturbation: more speakers than the corpus has); 0: off",
    )
    parser.add_argument(
        "--skip-speakers",
        default="",
        help="comma-separated training speakers never read (kept back to validate on)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.voice_warp < 0.5:
        parser.error(f"--voice-warp must be in [0, 0.5), got {args.voice_warp}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    cats, voices = load_cats(args.cache), load_voices(args.cache)
    cat_train = cats.indices("train")
    cat_mels = mels_of(cats, cat_train)
    cat_moods = torch.eye(len(MOODS))[cats.labels[cat_train]]
    skipped = {name for name in args.skip_speakers.split(",") if name}
    voice_train = voice_indices(voices, skipped)
    voice_mels = mels_of(voices, voice_train)
    voice_top = bands_below(4000.0)  # speech-fsdd is 8 kHz: nothing above 4 kHz to move
    print(f"{len(cat_mels)} cat clips, {len(voice_mels)} voice clips", flush=True)

    cfg = StyleConfig()
    gan = StyleGAN(cfg)
    gens = [*gan.voice_to_cat.parameters(), *gan.cat_to_voice.parameters()]
    discs = [*gan.disc_cat.parameters(), *gan.disc_voice.parameters()]
    opt_g = torch.optim.Adam(gens, lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discs, lr=args.lr / 2, betas=(0.5, 0.999))
    rng = np.random.default_rng(args.seed)
    step, spent = 0, 0.0
    ckpt_path = args.run / "checkpoint.pt"
    state = checkpoint.load(ckpt_path)
    if state is not None:
        gan.load_state_dict(state["gan"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng = checkpoint.restore_rng(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step, spent = state["step"], state["seconds"]
        print(f"resumed at step {step}", flush=True)
    args.run.mkdir(parents=True, exist_ok=True)
    (args.run / "config.json").write_text(
        json.dumps({"style": cfg.to_dict(), "args": vars(args)}, indent=2, default=str)
    )
    log = checkpoint.TrainLog(args.run)

    def save() -> None:
        checkpoint.save(ckpt_path, {
            "gan": gan.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "rng": checkpoint.rng_state(rng), "torch_rng": torch.get_rng_state(),
            "step": step, "seconds": spent,
        })  # fmt: skip

    began, last_save, base_spent = time.monotonic(), time.monotonic(), spent
    running: dict[str, float] = {}
    while spent < args.minutes * 60:
        voice, _ = crops(voice_mels, rng, args.batch)
        if args.voice_warp:
            factors = 1 + args.voice_warp * rng.uniform(-1, 1, args.batch)
            warped = [
                warp_bands(v, float(f), voice_top) for v, f in zip(voice, factors, strict=True)
            ]
            voice = torch.stack(warped)
        cat, chosen = crops(cat_mels, rng, args.batch)
        cat_mood = cat_moods[chosen]
        want_mood = torch.eye(len(MOODS))[rng.integers(0, len(MOODS), args.batch)]

        fake_cat = gan.voice_to_cat(voice, want_mood)
        fake_voice = gan.cat_to_voice(cat)
        # Discriminators.
        d_loss = (
            (gan.disc_cat(cat, cat_mood) - 1).square().mean()
            + gan.disc_cat(fake_cat.detach(), want_mood).square().mean()
            + (gan.disc_voice(voice) - 1).square().mean()
            + gan.disc_voice(fake_voice.detach()).square().mean()
        ) / 2
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # Generators.
        adv = (gan.disc_cat(fake_cat, want_mood) - 1).square().mean() + (
            gan.disc_voice(fake_voice) - 1
        ).square().mean()
        cycle = F.l1_loss(gan.cat_to_voice(fake_cat), voice) + F.l1_loss(
            gan.voice_to_cat(fake_voice, cat_mood), cat
        )
        identity = F.l1_loss(gan.voice_to_cat(cat, cat_mood), cat) + F.l1_loss(
            gan.cat_to_voice(voice), voice
        )
        id_weight = 5.0 if step < args.identity_steps else args.identity_after
        g_loss = adv + args.cycle_weight * cycle + id_weight * identity
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        step += 1
        spent = base_spent + time.monotonic() - began
        for k, v in (("d", d_loss), ("adv", adv), ("cycle", cycle), ("identity", identity)):
            running[k] = 0.95 * running.get(k, v.item()) + 0.05 * v.item()
        if step % 50 == 0:
            log.write(step=step, minutes=spent / 60, **running)
        if time.monotonic() - last_save > args.save_every:
            save()
            last_save = time.monotonic()
    save()
    print("done", flush=True)


if __name__ == "__main__":
    main()
