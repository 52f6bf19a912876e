"""The synthesis training command: a few real steps on naya, config overrides, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.synth import checkpoint
from ml.synth.corpus import load_cats
from ml.synth.train_wavenet import MelBank, learning_rate, main, wave_batch


def test_short_run_saves_a_resumable_checkpoint_with_its_config(
    shared_dir: Path, tmp_path: Path
) -> None:
    run, cache = tmp_path / "run", tmp_path / "cache"
    args = [
        "--run", str(run), "--cache", str(cache), "--minutes", "0.02", "--save-every", "600",
        "--wave-batch", "2", "--wave-crop", "1600", "--mel-batch", "2", "--lr-floor", "1e-4",
        "--drop-emotion", "0.5",
        "--wavenet", '{"stacks": 1, "layers_per_stack": 3, "residual": 8, "gate": 8, '
                     '"skip": 8, "out_hidden": 8, "cond_channels": 8}',
        "--prior", '{"hidden": 16, "prenet": 8}',
    ]  # fmt: skip
    main(args)
    state = checkpoint.load(run / "checkpoint.pt")
    assert state is not None and state["step"] >= 1
    assert state["config"]["wavenet"]["residual"] == 8
    assert state["config"]["prior"]["hidden"] == 16
    assert state["wavenet"]["embed.weight"].shape == (256, 8)
    saved = json.loads((run / "config.json").read_text())
    assert saved["args"]["wave_crop"] == 1600 and saved["args"]["device"] == "cpu"
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert torch.isfinite(torch.tensor(rows[-1]["val_wavenet_ce"]))
    # Only the parts training uses were decoded; the run resumes where it stopped.
    assert [p.name for p in cache.iterdir()] == ["synth-naya-train-val.npz"]
    first = state["step"]
    main([*args[:5], "0.04", *args[6:]])
    assert checkpoint.load(run / "checkpoint.pt")["step"] > first  # type: ignore[index]


def test_crop_must_be_whole_hops(shared_dir: Path, tmp_path: Path) -> None:
    corpus = load_cats(tmp_path, parts=("val",))
    with pytest.raises(ValueError, match="multiple of 160"):
        wave_batch(
            corpus, MelBank(corpus), corpus.indices("val"), np.random.default_rng(0), 1, 1000
        )


def test_learning_rate_warms_up_then_follows_the_cosine_to_its_floor() -> None:
    assert learning_rate(1e-3, None, 0, step=0, fraction=0.5) == 1e-3  # flat, as before
    assert learning_rate(1e-3, 1e-4, 0, step=0, fraction=0.0) == pytest.approx(1e-3)
    assert learning_rate(1e-3, 1e-4, 0, step=9, fraction=0.5) == pytest.approx(5.5e-4)
    assert learning_rate(1e-3, 1e-4, 0, step=9, fraction=1.0) == pytest.approx(1e-4)
    assert learning_rate(1e-3, 1e-4, 0, step=9, fraction=1.7) == pytest.approx(1e-4)
    # Warm-up: linear from 1/warmup of the scheduled rate, full from step `warmup` on.
    ramp = [learning_rate(1e-3, None, 4, step=s, fraction=0.0) for s in range(6)]
    assert ramp == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert learning_rate(1e-3, 1e-4, 10, step=4, fraction=0.5) == pytest.approx(5.5e-4 * 0.5)
