"""A tiny training run on a small real subset of ``../shared`` that really learns.

dog-bark with 30 clips per class and a 2-layer AST on 1 s windows: the training loss falls and
the model beats chance (balanced accuracy 0.5) on validation clips whose groups it never saw.
Then the evaluation report and the model card are written from that run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.data import read_split
from ml.train import TrainConfig, train

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> tuple[Path, object]:
    run_dir = tmp_path_factory.mktemp("run") / "ast"
    config = TrainConfig(
        task="dog-bark",
        arch="ast",
        epochs=6,
        batch_size=16,
        epoch_size=96,
        lr=1e-3,
        warmup_epochs=1,
        patience=6,
        mixup_alpha=0.0,
        window_frames=100,
        max_clips_per_class=30,
        ast_size={
            "layers": 2,
            "hidden": 64,
            "heads": 2,
            "patch": 16,
            "stride": 16,
            "max_length": 100,
            "dropout": 0.0,
        },
        threads=1,
    )
    cache = tmp_path_factory.mktemp("cache")
    result = train(config, run_dir, shared_dir=shared_dir, cache_dir=cache, progress=False)
    return cache, result


def test_loss_falls_and_it_beats_chance_on_held_out_groups(tiny_run: tuple[Path, object]) -> None:
    _, result = tiny_run
    history = result.history  # type: ignore[attr-defined]
    first, last = history[0]["train_loss"], min(h["train_loss"] for h in history[1:])
    assert last < first * 0.9, f"training loss did not fall: {[h['train_loss'] for h in history]}"
    assert result.val_balanced_accuracy > 0.65, history  # type: ignore[attr-defined]


def test_run_folder_is_complete_and_split_is_by_group(
    tiny_run: tuple[Path, object], shared_dir: Path
) -> None:
    _, result = tiny_run
    run_dir: Path = result.run_dir  # type: ignore[attr-defined]
    for name in ("split.csv", "config.json", "history.json", "model.safetensors", "checkpoint.pt"):
        assert (run_dir / name).is_file(), name
    split = read_split(run_dir / "split.csv", shared_dir)
    split.check_disjoint()
    assert not split.groups("train") & split.groups("test")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["front_end"]["band_limit_hz"] == 4000
    assert config["labels"] == ["bark", "non_bark"]


def test_evaluation_report_and_model_card(
    tiny_run: tuple[Path, object], shared_dir: Path, tmp_path: Path
) -> None:
    from ml.evaluate import evaluate_runs
    from ml.model_card import write_card
    from ml.registry import Labeller

    cache, result = tiny_run
    run_dir: Path = result.run_dir  # type: ignore[attr-defined]
    split = read_split(run_dir / "split.csv", shared_dir)
    labels = ["bark", "non_bark"]
    report = evaluate_runs(split, {"ast": run_dir}, labels, part="val", cache_dir=cache)
    ast, majority = report["models"]["ast"], report["models"]["majority"]
    assert set(ast) >= {"accuracy", "macro_f1", "balanced_accuracy", "per_class", "confusion"}
    assert majority["balanced_accuracy"] == pytest.approx(0.5)
    assert sum(map(sum, ast["confusion"])) == report["n_clips"]

    card = write_card("dog-bark", run_dir, split, report, None, tmp_path / "dog-bark")
    text = card.read_text()
    labeller = Labeller(card.parent)
    assert labeller.model_id in text and "majority class" in text
    assert (card.parent / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_card_says_how_the_shipped_run_was_chosen_and_drawn(
    tiny_run: tuple[Path, object], shared_dir: Path, tmp_path: Path
) -> None:
    """A run trained by ``miao cv --final`` (it has final.json) was chosen by cross-validation,
    and a run with ``balance=loss`` drew its epochs at natural frequencies: the card says so."""
    import shutil

    from ml.evaluate import evaluate_runs
    from ml.model_card import CV_CHOICE, DRAWS_WORDS, VAL_CHOICE, write_card

    def flat(text: str) -> str:
        return " ".join(text.split())

    cache, result = tiny_run
    run_dir = tmp_path / "mfcc_cnn"
    shutil.copytree(result.run_dir, run_dir)  # type: ignore[attr-defined]
    split = read_split(run_dir / "split.csv", shared_dir)
    runs = {"ast": run_dir, "mfcc_cnn": run_dir}  # the same weights twice: only the words matter
    report = evaluate_runs(split, runs, ["bark", "non_bark"], part="val", cache_dir=cache)
    plain = flat(
        write_card(
            "dog-bark", run_dir, split, report, None, tmp_path / "a", shipped="mfcc_cnn"
        ).read_text()
    )
    assert VAL_CHOICE in plain and CV_CHOICE not in plain and DRAWS_WORDS["sampler"] in plain

    config = json.loads((run_dir / "config.json").read_text())
    config["training"]["balance"] = "loss"
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "final.json").write_text("{}")
    text = flat(
        write_card(
            "dog-bark", run_dir, split, report, None, tmp_path / "b", shipped="mfcc_cnn"
        ).read_text()
    )
    assert CV_CHOICE in text and VAL_CHOICE not in text
    assert DRAWS_WORDS["loss"] in text and DRAWS_WORDS["sampler"] not in text


def test_an_ensemble_is_scored_and_carded_like_a_run(
    tiny_run: tuple[Path, object], shared_dir: Path, tmp_path: Path
) -> None:
    """An ensemble of the run with itself scores what the run scores (the mean of two equal
    softmaxes is that softmax), and its card names each member and how it stopped early."""
    import shutil

    from ml.ensemble import build_ensemble
    from ml.evaluate import evaluate_runs
    from ml.model_card import write_card
    from ml.registry import Labeller

    cache, result = tiny_run
    twin = tmp_path / "twin"
    shutil.copytree(result.run_dir, twin)  # type: ignore[attr-defined]
    folder = build_ensemble("dog-bark", [result.run_dir, twin], tmp_path / "ensemble")  # type: ignore[attr-defined]
    split = read_split(folder / "split.csv", shared_dir)
    runs = {"ast": result.run_dir, "ensemble": folder}  # type: ignore[attr-defined]
    report = evaluate_runs(split, runs, ["bark", "non_bark"], part="val", cache_dir=cache)
    assert report["models"]["ensemble"] == report["models"]["ast"]
    card = write_card("dog-bark", folder, split, report, None, tmp_path / "out", shipped="ensemble")
    text = " ".join(card.read_text().split())
    assert Labeller(card.parent).model_id in text
    assert "Ensemble (mean of its members) **(shipped)**" in text
    best = max(result.history, key=lambda h: h["val_macro_f1"])  # type: ignore[attr-defined]
    assert text.count(f"best epoch {best['epoch']} of {len(result.history)}") == 2  # type: ignore[attr-defined]
