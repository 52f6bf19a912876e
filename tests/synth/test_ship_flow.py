"""``ml.synth.ship_flow`` re-shipping a part: what is kept is kept byte for byte, card included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.synth import checkpoint
from ml.synth.pipeline import prefixed, shipped_sampling
from ml.synth.ship_flow import PRIOR_PARAGRAPH, main, ship_flow


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
    model_id = ship_flow(None, [], tmp_path, {}, {}, sampling)
    assert model_id == sha256_file(WEIGHTS_DIR / "wavenet" / WEIGHTS_FILE)
    card = (tmp_path / "wavenet" / "MODEL_CARD.md").read_text()
    assert _prior_paragraph(card) == _prior_paragraph(shipped_card)
    assert "The WaveNet is the one shipped before, unchanged." in card


def _run(
    folder: Path, wavenet: dict[str, torch.Tensor], config: dict[str, Any], **args: Any
) -> Path:
    """A fine-tuning run's files as ``train_wavenet`` leaves them (the checkpoint slimmed)."""
    checkpoint.save(folder / "checkpoint.pt", {
        "wavenet": wavenet, "config": {"wavenet": config}, "step": args.pop("step"),
        "seconds": args.pop("seconds"),
    })  # fmt: skip
    val = args.pop("val", 3.2)
    defaults = {"init_from": "ml/weights", "freeze": "prior,emotion", "wavenet": {},
                "wave_batch": 32, "wave_crop": 8000, "threads": 4, "device": "cuda"}  # fmt: skip
    (folder / "config.json").write_text(json.dumps({"args": defaults | args}))
    (folder / "history.jsonl").write_text(json.dumps({"step": 1, "val_wavenet_ce": val}) + "\n")
    return folder


def test_gpu_fine_tuned_stages_ship_beside_the_kept_prior(tmp_path: Path) -> None:
    sampling = _copy_shipped(tmp_path)
    shipped = load_file(str(tmp_path / "wavenet" / WEIGHTS_FILE))
    config = json.loads((tmp_path / "wavenet" / "config.json").read_text())["wavenet"]
    first = {k: v + 0.01 for k, v in prefixed(shipped, "wavenet.").items()}
    last = {k: v + 0.02 for k, v in first.items()}
    stage1 = _run(tmp_path / "s1", first, config, step=3746, seconds=450.0, lr=1e-3,
                  lr_floor=1e-4, warmup=300, val=3.175)  # fmt: skip
    stage2 = _run(tmp_path / "s2", last, config, step=2607, seconds=222.0, lr=1e-3,
                  lr_floor=1e-4, warmup=100, val=3.143)  # fmt: skip

    model_id = ship_flow(None, [stage1, stage2], tmp_path, {}, {}, sampling)
    state = load_file(str(tmp_path / "wavenet" / WEIGHTS_FILE))
    for key, value in prefixed(shipped, "prior.").items():
        assert torch.equal(state[f"prior.{key}"], value)  # the prior, as shipped
    for key, value in last.items():
        assert torch.equal(state[f"wavenet.{key}"], value)  # the WaveNet, from the last stage
    assert model_id == sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE)
    card = " ".join((tmp_path / "wavenet" / "MODEL_CARD.md").read_text().split())
    assert (
        "The WaveNet was fine-tuned from the one shipped before: `python -m "
        "ml.synth.train_wavenet --init-from ml/weights --freeze prior,emotion` (WaveNet "
        "overrides {}), 3746 steps of 32 x 0.5 s crops, 7.5 minutes on one GPU (bfloat16 "
        "autocast), lr 0.001 cosine-decayed to 0.0001 after a 300-step warm-up. Last "
        "validation cross-entropy 3.175" in card
    )
    assert "It was then trained further, with those weights in the folder" in card
    assert "2607 steps" in card and "3.7 minutes" in card and "3.143" in card


def test_a_later_stage_with_another_config_is_refused(tmp_path: Path) -> None:
    sampling = _copy_shipped(tmp_path)
    shipped = load_file(str(tmp_path / "wavenet" / WEIGHTS_FILE))
    config = json.loads((tmp_path / "wavenet" / "config.json").read_text())["wavenet"]
    wavenet = prefixed(shipped, "wavenet.")
    stage1 = _run(tmp_path / "s1", wavenet, config, step=1, seconds=1.0, lr=1e-3)
    stage2 = _run(tmp_path / "s2", wavenet, config | {"skip": config["skip"] * 2}, step=1, seconds=1.0,
                  lr=1e-3)  # fmt: skip
    before = sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="later stages must keep"):
        ship_flow(None, [stage1, stage2], tmp_path, {}, {}, sampling)
    assert sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE) == before


def test_a_card_without_the_prior_paragraph_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    sampling = _copy_shipped(tmp_path)
    card = tmp_path / "wavenet" / "MODEL_CARD.md"
    card.write_text(card.read_text().replace(PRIOR_PARAGRAPH, "The prior was trained"))
    before = sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="no paragraph on the prior"):
        ship_flow(None, [], tmp_path, {}, {}, sampling)
    assert sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE) == before


def test_the_command_keeps_the_shipped_sampling_unless_told_and_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sampling = _copy_shipped(tmp_path)
    main(["--out", str(tmp_path)])  # nothing new, no sampling given: the same model
    assert sha256_file(tmp_path / "wavenet" / WEIGHTS_FILE) == sha256_file(
        WEIGHTS_DIR / "wavenet" / WEIGHTS_FILE
    )
    main(["--out", str(tmp_path), "--contour-guidance", str(sampling["contour_guidance"] + 1)])
    config = json.loads((tmp_path / "wavenet" / "config.json").read_text())
    assert config["sampling"] == sampling | {"contour_guidance": sampling["contour_guidance"] + 1}
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--wavenet-run", str(tmp_path / "absent")])
    assert exit_info.value.code == 2
    assert "no checkpoint.pt" in capsys.readouterr().err
