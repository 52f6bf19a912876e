"""Ensembles: one folder, one id, the members' probabilities averaged; mismatched members refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from miao.cli import app
from ml.ensemble import EnsembleMismatch, build_ensemble
from ml.model_card import _ensemble_section
from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, Labeller, load_members, sha256_file
from ml.tasks import TASKS


def _plain(task: str) -> bool:
    config = json.loads((WEIGHTS_DIR / task / "config.json").read_text())
    return config["model"]["arch"] != "ensemble" and "label_prior" not in config


SINGLE = [task for task in TASKS if _plain(task)]
TASK, OTHER = SINGLE[:2]  # shipped single models without a label prior: copies are the members
SPLIT = b"path,label,group,part\nnaya/a.ogg,happy,naya:a,train\n"


def _meow(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 500 + 300 * rng.random() + 200 * np.sin(np.pi * t / seconds)
    wave = np.sin(2 * np.pi * np.cumsum(f0) / 16000) * np.hanning(t.size) * 0.3
    return (wave + rng.normal(0, 0.01, t.size)).astype(np.float32)


def _member(tmp_path: Path, name: str, perturb: float = 0.0, task: str = TASK) -> Path:
    """A copy of the shipped model of ``task`` (its weights nudged by ``perturb``), with a split."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(WEIGHTS_DIR / task / "config.json", folder / "config.json")
    tensors = load_file(str(WEIGHTS_DIR / task / WEIGHTS_FILE))
    if perturb:
        gen = torch.Generator().manual_seed(1)
        tensors = {
            k: v + perturb * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
            for k, v in tensors.items()
        }
    save_file(tensors, str(folder / WEIGHTS_FILE))
    (folder / "split.csv").write_bytes(SPLIT)
    return folder


def test_the_ensemble_labels_with_the_mean_of_its_members(tmp_path: Path) -> None:
    first, second = _member(tmp_path, "a"), _member(tmp_path, "b", perturb=0.05)
    folder = build_ensemble(TASK, [first, second], tmp_path / "ensemble")
    waves = [_meow(1.5, seed) for seed in range(4)]
    alone = [Labeller(m).predict_many(waves) for m in (first, second)]
    together = Labeller(folder).predict_many(waves)
    disagree = 0
    for a, b, both in zip(*alone, together, strict=True):
        for label, p in both.probabilities.items():
            mean = (a.probabilities[label] + b.probabilities[label]) / 2
            assert p == pytest.approx(mean, abs=1e-5)
        disagree += a.probabilities != b.probabilities
    assert disagree == len(waves)  # the nudged member really is another model
    assert together[0].model_id == sha256_file(folder / WEIGHTS_FILE)
    assert together[0].model_id not in {sha256_file(m / WEIGHTS_FILE) for m in (first, second)}
    assert (folder / "split.csv").read_bytes() == SPLIT
    assert Labeller(folder).arch == "ensemble(mfcc_cnn+mfcc_cnn)"
    assert Labeller(first).arch == "mfcc_cnn"


def test_the_folder_records_each_member_and_the_card_describes_them(tmp_path: Path) -> None:
    members = [_member(tmp_path, "a"), _member(tmp_path, "b", perturb=0.05)]
    folder = build_ensemble(TASK, members, tmp_path / "ensemble")
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["arch"] == "ensemble"
    ids = [entry["weights_id"] for entry in config["members"]]
    assert ids == [sha256_file(m / WEIGHTS_FILE) for m in members]
    section = _ensemble_section(config, 1.2)
    assert "An ensemble of 2 models" in section
    assert all(f"`{i[:12]}…`" in section for i in ids)
    assert "**Member 1: MFCC + VGG-style CNN**" in section
    assert section.count("one member of this ensemble") == 2


def test_stray_or_missing_tensors_are_refused(tmp_path: Path) -> None:
    folder = build_ensemble(TASK, [_member(tmp_path, "a"), _member(tmp_path, "b")], tmp_path / "e")
    tensors = load_file(str(folder / WEIGHTS_FILE))
    save_file({**tensors, "members.2.extra": torch.zeros(1)}, str(folder / WEIGHTS_FILE))
    with pytest.raises(ValueError, match="tensors of no member"):
        load_members(folder)
    first = next(k for k in tensors if k.startswith("members.1.") and k.endswith(".weight"))
    save_file({k: v for k, v in tensors.items() if k != first}, str(folder / WEIGHTS_FILE))
    with pytest.raises(RuntimeError, match="Missing key"):
        load_members(folder)


@pytest.mark.parametrize("fault", ["other task", "other split", "other split seed", "alone"])
def test_members_that_do_not_fit_together_are_refused(tmp_path: Path, fault: str) -> None:
    first, second = _member(tmp_path, "a"), _member(tmp_path, "b")
    members = [first, second]
    if fault == "other task":
        members = [first, _member(tmp_path, "c", task=OTHER)]
    elif fault == "other split":
        (second / "split.csv").write_bytes(SPLIT + b"naya/b.ogg,angry,naya:b,val\n")
    elif fault == "other split seed":
        config = json.loads((second / "config.json").read_text())
        config["training"]["split_seed"] = 7
        (second / "config.json").write_text(json.dumps(config))
    else:
        members = [first]
    out = tmp_path / "ensemble"
    with pytest.raises(EnsembleMismatch):
        build_ensemble(TASK, members, out)
    assert not (out / WEIGHTS_FILE).exists()  # nothing half-written


def test_cli_writes_an_ensemble_and_exits_2_on_a_mismatch(tmp_path: Path) -> None:
    first, second = _member(tmp_path, "a"), _member(tmp_path, "b")
    out = tmp_path / "ensemble"
    runner = CliRunner()
    ok = runner.invoke(app, ["ensemble", TASK, str(first), str(second), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert (out / WEIGHTS_FILE).is_file()
    other = _member(tmp_path, "c", task=OTHER)
    bad = runner.invoke(
        app, ["ensemble", TASK, str(first), str(other), "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2
    assert f"not {TASK!r}" in bad.output


def test_an_ensemble_is_not_a_member(tmp_path: Path) -> None:
    first, second = _member(tmp_path, "a"), _member(tmp_path, "b")
    folder = build_ensemble(TASK, [first, second], tmp_path / "ensemble")
    with pytest.raises(EnsembleMismatch, match="ensemble already"):
        build_ensemble(TASK, [folder, first], tmp_path / "nested")
