"""A train_style run's generator, written as a weights folder that VoiceToCat loads."""

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
from ml.synth.pipeline import EMOTION_DIR, STYLE_DIR, VoiceToCat
from ml.synth.ship import write_style_generator
from ml.synth.style_gan import StyleConfig, StyleGAN


def test_a_runs_voice_to_cat_generator_becomes_a_loadable_folder(tmp_path: Path) -> None:
    run, root = tmp_path / "run", tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        write_style_generator(run, root, 3.0)
    config = StyleConfig()
    torch.manual_seed(0)
    gan = StyleGAN(config)
    checkpoint.save(run / "checkpoint.pt", {"gan": gan.state_dict()})
    (run / "config.json").write_text(json.dumps({"style": config.to_dict(), "args": {}}))

    model_id = write_style_generator(run, root, 3.0)
    written = load_file(root / STYLE_DIR / WEIGHTS_FILE)
    expected = gan.voice_to_cat.state_dict()
    assert set(written) == set(expected)
    assert all(torch.equal(written[k], expected[k]) for k in expected)
    assert model_id == sha256_file(root / STYLE_DIR / WEIGHTS_FILE)

    shutil.copytree(WEIGHTS_DIR / EMOTION_DIR, root / EMOTION_DIR)
    style = VoiceToCat(root)
    assert style.model_id == model_id and style.strength == 3.0
    voice = np.sin(np.linspace(0, 400 * np.pi, 8000)).astype(np.float32) * 0.3
    _, cat = style.cat_mel(voice, mood="happy")
    assert torch.isfinite(cat).all()
