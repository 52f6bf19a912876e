"""Train the flow-matching mel prior on naya's train part, beside the shipped WaveNet.

The shipped emotion encoder is loaded and frozen: the WaveNet was trained with its mood vectors,
so the new prior must be conditioned on the same ones to be paired with that WaveNet. 2 s
log-mel crops of the train groups (short clips padded with silence, as the GRU prior had them),
AdamW, a cosine learning rate over the time box, an exponential moving average of the weights
(what is sampled from), validation loss on the val groups. Resumable and time-boxed, like
:mod:`ml.synth.train_wavenet`.

    python -m ml.synth.train_flow_prior --minutes 30 --threads 2 --run var/runs/synth/flow-prior
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ml.synth import checkpoint
from ml.synth.corpus import load_cats
from ml.synth.flow_prior import TIME_SAMPLING, FlowPrior, FlowPriorConfig
from ml.synth.pipeline import load_emotion_encoder
from ml.synth.train_wavenet import CROP_PARTS, MelBank, mel_batch
from ml.weight_average import WeightAverage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("var/runs/synth/flow-prior"))
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda …")
    parser.add_argument("--config", type=json.loads, default={}, help="FlowPriorConfig overrides")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-floor", type=float, default=5e-5)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--drop-emotion", type=float, default=0.1)
    parser.add_argument("--time-sampling", choices=TIME_SAMPLING, default="uniform")
    parser.add_argument("--save-every", type=float, default=120.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    corpus = load_cats(args.cache, progress=True, parts=CROP_PARTS)
    bank = MelBank(corpus)
    train, val = corpus.indices("train"), corpus.indices("val")
    emotion, emotion_id = load_emotion_encoder()
    emotion.requires_grad_(False)
    cfg = FlowPriorConfig.from_dict(args.config)
    prior = FlowPrior(cfg).to(device)
    average = WeightAverage(prior, args.ema)
    ema = average.model  # what is validated, saved and shipped
    optimiser = torch.optim.AdamW(prior.parameters(), lr=args.lr, weight_decay=0.01)
    rng = np.random.default_rng(args.seed)
    step, spent = 0, 0.0
    ckpt_path = args.run / "checkpoint.pt"
    state = checkpoint.load(ckpt_path)
    if state is not None:
        prior.load_state_dict(state["prior"])
        ema.load_state_dict(state["ema"])
        average.updates = state["step"]
        optimiser.load_state_dict(state["optimiser"])
        rng = checkpoint.restore_rng(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step, spent = state["step"], state["seconds"]
        print(f"resumed at step {step} ({spent / 60:.1f} min spent)", flush=True)
    args.run.mkdir(parents=True, exist_ok=True)
    (args.run / "config.json").write_text(
        json.dumps(
            {"flow_prior": cfg.to_dict(), "emotion_encoder_id": emotion_id, "args": vars(args)},
            indent=2,
            default=str,
        )
    )
    log = checkpoint.TrainLog(args.run)
    val_rng = np.random.default_rng(1234)
    val_batches = [mel_batch(corpus, bank, val, val_rng, 32, cfg.frames) for _ in range(4)]

    def validate() -> float:
        torch.manual_seed(99)  # the same noise and flow times every time: comparable numbers
        with torch.no_grad():
            losses = [
                ema.loss(m.to(device), emotion.from_moods(y).to(device), 0.0).item()
                for m, y in val_batches
            ]
        return float(np.mean(losses))

    def save() -> None:
        checkpoint.save(ckpt_path, {
            "prior": prior.state_dict(), "ema": ema.state_dict(),
            "optimiser": optimiser.state_dict(), "rng": checkpoint.rng_state(rng),
            "torch_rng": torch.get_rng_state(), "config": cfg.to_dict(),
            "emotion_encoder_id": emotion_id, "step": step, "seconds": spent,
        })  # fmt: skip

    began, last_save = time.monotonic(), time.monotonic()
    base_spent, running = spent, None
    while spent < args.minutes * 60:
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, spent / (args.minutes * 60))))
        for group in optimiser.param_groups:
            group["lr"] = args.lr_floor + (args.lr - args.lr_floor) * cosine
        mels, moods = mel_batch(corpus, bank, train, rng, args.batch, cfg.frames)
        loss = prior.loss(
            mels.to(device),
            emotion.from_moods(moods).to(device),
            args.drop_emotion,
            args.time_sampling,
        )
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimiser.step()
        average.update(prior)
        step += 1
        spent = base_spent + time.monotonic() - began
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            log.write(step=step, minutes=spent / 60, flow_loss=running)
        if time.monotonic() - last_save > args.save_every:
            log.write(step=step, minutes=spent / 60, val_flow_loss=validate())
            save()
            last_save = time.monotonic()
    log.write(step=step, minutes=spent / 60, val_flow_loss=validate())
    save()
    print("done", flush=True)


if __name__ == "__main__":
    main()
