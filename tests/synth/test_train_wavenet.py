"""The synthesis training command: a few real steps on naya, config overrides, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.synth import checkpoint
from ml.synth.corpus import load_cats
from ml.synth.train_wavenet import MelBank, main, wave_batch


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
