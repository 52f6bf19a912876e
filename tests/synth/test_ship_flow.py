"""``ml.synth.ship_flow`` re-shipping a part: what is kept is kept byte for byte, card included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.synth import checkpoint
from ml.synth.pipeline import prefixed, shipped_sampling
from ml.synth.ship_flow import PRIOR_PARAGRAPH, ship_flow


def _copy_shipped(root: Path) -> dict[str, float]:
    for name in ("wavenet", "emotion-encoder"):
        shutil.copytree(WEIGHTS_DIR / name, root / name)
    config = json.loads((root / "wavenet" / "config.json").read_text())
    return shipped_sampling(root / "wavenet", config)


def _prior_paragraph(card: str) -> str:
    start = card.index(PRIOR_PARAGRAPH)
    return card[start : card.index("\n\n", start)]


def test_nothing_new_reproduces_the_shipped_weights_and_keeps_the_prior_paragraph(
    tmp_path: Path,
) -> None:
    sampling = _copy_shipped(tmp_path)
    shipped_card = (WEIGHTS_DIR / "wavenet" / "MODEL_CARD.md").read_text()
    model_id = ship_flow(None, None, tmp_path, {}, {}, sampling)
    assert model_id == sha256_file(WEIGHTS_DIR / "wavenet" / WEIGHTS_FILE)
    card = (tmp_path / "wavenet" / "MODEL_CARD.md").read_text()
    assert _prior_paragraph(card) == _prior_paragraph(shipped_card)
    assert "The WaveNet is the one shipped before, unchanged." in card


def test_a_gpu_fine_tuned_wavenet_ships_beside_the_kept_prior(tmp_path: Path) -> None:
    sampling = _copy_shipped(tmp_path)
    shipped = load_file(str(tmp_path / "wavenet" / WEIGHTS_FILE))
    wavenet = {k: v + 0.01 for k, v in prefixed(shipped, "wavenet.").items()}
    config = json.loads((tmp_path / "wavenet" / "config.json").read_text())
    run = tmp_path / "run"
    checkpoint.save(run / "checkpoint.pt", {
        "wavenet": wavenet, "config": {"wavenet": config["wavenet"]}, "step": 3746,
        "seconds": 450.0,
    })  # fmt: skip
    args = {"init_from": "ml/weights", "freeze": "prior,emotion", "wavenet": {}, "wave_batch": 32,
            "wave_crop": 8000, "threads": 4, "lr": 5e-4, "lr_floor": 5e-5, "warmup": 300,
            "device": "cuda"}  # fmt: skip
    (run / "config.json").write_text(json.dumps({"args": args}))
    (run / "history.jsonl").write_text(json.dumps({"step": 3746, "val_wavenet_ce": 3.2}) + "\n")

    model_id = ship_flow(None, run, tmp_path, {}, {}, sampling)
    state = load_file(str(tmp_path / "wavenet" / WEIGHTS_FILE))
    for key, value in prefixed(shipped, "prior.").items():
        assert torch.equal(state[f"prior.{key}"], value)  # the prior, as shipped
    for key, value in wavenet.items():
        assert torch.equal(state[f"wavenet.{key}"], value)  # the WaveNet, from the run
    assert model_id == sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE)
    card = (tmp_path / "wavenet" / "MODEL_CARD.md").read_text()
    assert "3746 steps of 32 x 0.5 s crops, 7.5 minutes on one GPU (bfloat16 autocast)" in card
    assert "lr 0.0005 cosine-decayed to 5e-05 after a 300-step warm-up" in card
    assert "validation cross-entropy 3.200" in card


def test_a_card_without_the_prior_paragraph_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    sampling = _copy_shipped(tmp_path)
    card = tmp_path / "wavenet" / "MODEL_CARD.md"
    card.write_text(card.read_text().replace(PRIOR_PARAGRAPH, "The prior was trained"))
    before = sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="no paragraph on the prior"):
        ship_flow(None, None, tmp_path, {}, {}, sampling)
    assert sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE) == before
