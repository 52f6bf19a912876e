"""Label prior: the reweighting, how τ is chosen, and a prior written into a model folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from ml.calibrate import CARD_START, card_section, choose_strength, choose_strength_cv, write_prior
from ml.crossval import OutOfFold
from ml.ensemble import EnsembleMismatch, build_ensemble
from ml.label_prior import LOG_WEIGHT_KEY, log_weight, reweighted
from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, Labeller, sha256_file

LABELS = ["cat", "dog"]
COUNTS = {"cat": 90, "dog": 10}


def _meow(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(24000) / 16000
    wave = np.sin(2 * np.pi * (500 + 200 * rng.random()) * t) * np.hanning(t.size) * 0.3
    return (wave + rng.normal(0, 0.02, t.size)).astype(np.float32)


def test_reweighting_keeps_rows_distributions_and_strength_zero_is_the_model() -> None:
    probs = np.array([[0.4, 0.6], [0.9, 0.1]])
    assert np.allclose(reweighted(probs, log_weight(COUNTS, LABELS, 0.0)), probs)
    moved = reweighted(probs, log_weight(COUNTS, LABELS, 1.0))
    assert np.allclose(moved.sum(1), 1)
    # 0.4·0.9 against 0.6·0.1: the full prior turns the first clip to cat
    assert moved[0].argmax() == 0 and moved[0, 0] == pytest.approx(0.36 / 0.42)


def test_a_label_without_training_clips_or_a_negative_strength_is_refused() -> None:
    with pytest.raises(ValueError, match="no training clips"):
        log_weight({"cat": 5}, LABELS, 0.5)
    with pytest.raises(ValueError, match="strength"):
        log_weight(COUNTS, LABELS, -1)


def _imbalanced_validation() -> tuple[list[str], np.ndarray]:
    """90 cats, 10 dogs; a balanced-trained model that sends a third of the cats to dog."""
    rng = np.random.default_rng(0)
    y = ["cat"] * 90 + ["dog"] * 10
    p_dog = np.concatenate([rng.uniform(0.05, 0.7, 90), rng.uniform(0.8, 0.95, 10)])
    return y, np.stack([1 - p_dog, p_dog], axis=1)


def test_strength_is_chosen_on_validation_and_a_margin_keeps_the_model_as_trained() -> None:
    y, probs = _imbalanced_validation()
    choice = choose_strength(y, probs, COUNTS, LABELS, metric="accuracy", min_gain=0.0)
    by_strength = {row["strength"]: row for row in choice.table}
    assert choice.strength > 0
    assert by_strength[choice.strength]["accuracy"] > by_strength[0.0]["accuracy"]
    assert (
        choice.strength
        == max(choice.table, key=lambda r: (r["accuracy"], -r["strength"]))["strength"]
    )
    assert choose_strength(y, probs, COUNTS, LABELS, "accuracy", min_gain=1.0).strength == 0.0
    with pytest.raises(ValueError, match="metric"):
        choose_strength(y, probs, COUNTS, LABELS, metric="auc")


def _folds(dog_scores_per_seed: dict[int, float]) -> list[OutOfFold]:
    """Two folds per fold seed of the imbalanced clips; ``dog_scores_per_seed`` lifts the cats'
    dog probability in that seed (a higher lift: the prior helps more there)."""
    y, probs = _imbalanced_validation()
    out = []
    for seed, lift in dog_scores_per_seed.items():
        p_dog = np.clip(probs[:, 1] + np.where(np.array(y) == "cat", lift, 0.0), 0.0, 0.99)
        shifted = np.stack([1 - p_dog, p_dog], axis=1)
        for fold, rows in enumerate((slice(0, 50), slice(50, 100))):
            part = list(range(100))[rows]
            out.append(OutOfFold(seed, fold, tuple(y[i] for i in part), shifted[part], COUNTS))
    return out


def test_strength_from_cross_validation_must_win_pooled_and_on_most_fold_seeds() -> None:
    choice = choose_strength_cv(_folds({0: 0.0, 1: 0.1, 2: 0.2}), LABELS, "f1:dog", 0.0)
    by_strength = {row["strength"]: row for row in choice.table}
    assert choice.strength > 0
    assert by_strength[choice.strength]["f1:dog"] > by_strength[0.0]["f1:dog"]
    assert set(by_strength[0.0]["per_fold_seed"]) == {"0", "1", "2"}
    # the pooled score is over all 300 out-of-fold predictions of the three fold seeds
    assert all(row["f1:dog"] == pytest.approx(_pooled_f1(row["strength"])) for row in choice.table)
    assert choose_strength_cv(_folds({0: 0.0}), LABELS, "f1:dog", 1.0).strength == 0.0
    with pytest.raises(ValueError, match="f1:LABEL"):
        choose_strength_cv(_folds({0: 0.0}), LABELS, "f1:cow")


def test_a_larger_strength_that_wins_in_one_fold_seed_of_three_is_not_taken() -> None:
    """Seed 0's clips are well calibrated; only seed 2's need the prior. A pooled gain that one
    seed makes must not move the choice."""
    folds = _folds({0: -0.3, 1: -0.3, 2: 0.3})
    table = choose_strength_cv(folds, LABELS, "f1:dog", 0.0).table
    gains = {row["strength"]: row for row in table}
    assert any(
        gains[s]["f1:dog"] > gains[0.0]["f1:dog"]
        and sum(gains[s]["per_fold_seed"][k] > gains[0.0]["per_fold_seed"][k] for k in "012") < 2
        for s in gains
        if s > 0
    )
    assert choose_strength_cv(folds, LABELS, "f1:dog", 0.0).strength == 0.0


def _pooled_f1(strength: float) -> float:
    from ml.calibrate import _scored

    folds = _folds({0: 0.0, 1: 0.1, 2: 0.2})
    y = [label for f in folds for label in f.y_true]
    probs = np.concatenate([f.probabilities for f in folds])
    return _scored(y, probs, LABELS, log_weight(COUNTS, LABELS, strength))["per_class"]["dog"]["f1"]


def test_a_card_names_cross_validation_and_the_positive_label_f1() -> None:
    row = {"accuracy": 0.9, "macro_f1": 0.8, "balanced_accuracy": 0.85, "f1:dog": 0.7}
    record = {
        "task": "dog-bark", "labels": LABELS, "train_counts": COUNTS, "strength": 0.5,
        "chosen_by": "cross-validation f1:dog (out-of-fold, variant recipe, 15 folds of fold "
        "seeds 0, 1, 2)", "metric": "f1:dog", "min_gain": 0.02, "n_val": 300, "n_test": 20,
        "validation": [{"strength": 0.0, **row}, {"strength": 0.5, **row, "f1:dog": 0.75}],
        "test_without": {"strength": 0.0, **row}, "test_with": {"strength": 0.5, **row},
        "test_confusion_without": [[9, 1], [1, 9]], "test_confusion_with": [[10, 0], [2, 8]],
        "cv": {"dirs": ["var/cv/a", "var/cv/b"], "variant": "recipe"},
    }  # fmt: skip
    text = card_section(record)
    assert (
        "| τ | out-of-fold accuracy | out-of-fold macro-F1 | out-of-fold balanced acc. | "
        "out-of-fold dog F1 |" in text
    )
    assert "| 0.5 | 0.900 | 0.800 | 0.850 | 0.750 |" in text
    assert (
        "300 out-of-fold predictions; a larger τ had to win by more than 0.02 and on most" in text
    )
    assert "dog F1 0.700 → **0.700**" in text
    assert "--cv-variant recipe --cv var/cv/a --cv var/cv/b`" in text
    record["cv"] |= {"group_weighted": True}
    assert "--cv var/cv/b --group-weighted`" in card_section(record)


def _copy(task: str, tmp_path: Path) -> Path:
    folder = tmp_path / task
    shutil.copytree(WEIGHTS_DIR / task, folder)
    state = load_file(str(folder / WEIGHTS_FILE))
    if LOG_WEIGHT_KEY in state:  # start from the network alone
        del state[LOG_WEIGHT_KEY]
        save_file(state, str(folder / WEIGHTS_FILE))
        config = json.loads((folder / "config.json").read_text())
        config.pop("label_prior", None)
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _record(labels: list[str], strength: float) -> dict:
    counts = {label: 10 * (i + 1) for i, label in enumerate(labels)}
    row = {"strength": strength, "accuracy": 0.5, "macro_f1": 0.5, "balanced_accuracy": 0.5}
    return {
        "task": "dog-bark", "labels": labels, "split_seed": 0, "train_counts": counts,
        "chosen_by": "validation macro_f1", "min_gain": 0.01, "strength": strength,
        "log_weight": log_weight(counts, labels, strength).tolist(), "validation": [row],
        "test_without": row, "test_with": row, "n_val": 1, "n_test": 1,
        "test_confusion_without": [[1] * len(labels)] * len(labels),
        "test_confusion_with": [[1] * len(labels)] * len(labels),
    }  # fmt: skip


def test_a_written_prior_labels_with_the_reweighted_mean_and_changes_the_id(
    tmp_path: Path,
) -> None:
    folder = _copy("dog-bark", tmp_path)
    plain = Labeller(folder)
    waves = [_meow(seed) for seed in range(4)]
    before = np.array([list(p.probabilities.values()) for p in plain.predict_many(waves)])
    record = _record(plain.labels, 1.0)

    new_id = write_prior(folder, record)

    assert new_id == sha256_file(folder / WEIGHTS_FILE) != plain.model_id
    adjusted = Labeller(folder)
    after = np.array([list(p.probabilities.values()) for p in adjusted.predict_many(waves)])
    expected = reweighted(before, np.array(record["log_weight"]))
    assert np.allclose(after, expected, atol=1e-5)
    assert all(p.model_id == new_id for p in adjusted.predict_many(waves))
    card = (folder / "MODEL_CARD.md").read_text()
    assert new_id in card and plain.model_id not in card and card.count(CARD_START) == 1
    assert json.loads((folder / "metrics.json").read_text())["model_id"] == new_id
    assert json.loads((folder / "config.json").read_text())["label_prior"]["strength"] == 1.0

    # written again, the section is replaced, not added; τ = 0 removes the prior and the section
    write_prior(folder, _record(plain.labels, 0.5))
    card = (folder / "MODEL_CARD.md").read_text()
    assert card.count(CARD_START) == 1
    write_prior(folder, _record(plain.labels, 0.5))
    assert (folder / "MODEL_CARD.md").read_text() == card  # the same prior again: the same card
    plain_id = write_prior(folder, _record(plain.labels, 0.0))
    assert LOG_WEIGHT_KEY not in load_file(str(folder / WEIGHTS_FILE))
    assert CARD_START not in (folder / "MODEL_CARD.md").read_text()
    assert plain_id in (folder / "MODEL_CARD.md").read_text()
    assert "label_prior" not in json.loads((folder / "config.json").read_text())


def test_a_model_with_a_prior_is_not_an_ensemble_member(tmp_path: Path) -> None:
    folder = _copy("dog-bark", tmp_path)
    write_prior(folder, _record(Labeller(folder).labels, 0.5))
    other = _copy("dog-bark", tmp_path / "b")
    for f in (folder, other):
        (f / "split.csv").write_text("path,label,group,part\n")
    with pytest.raises(EnsembleMismatch, match="label prior"):
        build_ensemble("dog-bark", [other, folder], tmp_path / "ensemble")


def test_fit_rebuilds_the_models_split_and_scores_what_its_card_reports(
    shared_dir: Path, tmp_path: Path
) -> None:
    from ml.calibrate import STRENGTHS, fit_prior

    folder = WEIGHTS_DIR / "dog-bark"
    record = fit_prior(folder, "dog-bark", "macro_f1", tmp_path / "cache", shared_dir)
    shipped = json.loads((folder / "metrics.json").read_text())
    assert record["n_test"] == shipped["n_clips"]
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        assert record["test_without"][key] == pytest.approx(shipped["models"]["mfcc_cnn"][key])
    assert [row["strength"] for row in record["validation"]] == sorted(STRENGTHS)
    assert record["strength"] in STRENGTHS
    with pytest.raises(ValueError, match="not 'source'"):
        fit_prior(folder, "source", "macro_f1", tmp_path / "cache", shared_dir)
    # without test: the same choice from the same table, and nothing a card could be written from
    blind = fit_prior(
        folder, "dog-bark", "macro_f1", tmp_path / "cache", shared_dir, score_test=False
    )
    assert blind["validation"] == record["validation"]
    assert blind["strength"] == record["strength"]
    assert not {"test_with", "test_without", "n_test"} & set(blind)
    with pytest.raises(ValueError, match="without the test figures"):
        write_prior(_copy("dog-bark", tmp_path), blind)


def test_the_command_refuses_an_unknown_task_or_metric_with_exit_2() -> None:
    from typer.testing import CliRunner

    from miao.cli import app

    runner = CliRunner()
    unknown = runner.invoke(app, ["label-prior", "parrot"])
    assert unknown.exit_code == 2 and "parrot" in unknown.stderr
    metric = runner.invoke(app, ["label-prior", "dog-bark", "--metric", "auc"])
    assert metric.exit_code == 2 and "--metric" in metric.stderr
    cow = runner.invoke(app, ["label-prior", "dog-bark", "--metric", "f1:cow"])
    assert cow.exit_code == 2 and "f1:LABEL" in cow.stderr
    lone = runner.invoke(app, ["label-prior", "dog-bark", "--cv", "var/cv/x"])
    assert lone.exit_code == 2 and "--cv and --cv-variant go together" in lone.stderr
    blind = runner.invoke(app, ["label-prior", "dog-bark", "--no-test", "--write"])
    assert blind.exit_code == 2 and "--write needs the test figures" in blind.stderr
    weighted = runner.invoke(app, ["label-prior", "dog-bark", "--group-weighted"])
    assert weighted.exit_code == 2 and "--group-weighted is for --cv" in weighted.stderr


def _one_room_fold() -> OutOfFold:
    """10 dogs and 10 cats, each its own group, all called right; and one room recording cut
    into 20 slices (group ``room``) that a balanced-trained model calls dog at 0.6."""
    y = ["dog"] * 10 + ["cat"] * 10 + ["cat"] * 20
    p_dog = np.array([0.9] * 10 + [0.1] * 10 + [0.6] * 20)
    groups = tuple(f"dog{i}" for i in range(10)) + tuple(f"cat{i}" for i in range(10))
    groups += ("room",) * 20
    return OutOfFold(0, 0, tuple(y), np.stack([1 - p_dog, p_dog], axis=1), COUNTS, groups)


def test_group_weights_count_every_group_once() -> None:
    from ml.crossval import group_weights

    assert np.allclose(group_weights(["a", "a", "a", "b"]), [1 / 3, 1 / 3, 1 / 3, 1])
    assert group_weights(["room"] * 20).sum() == pytest.approx(1.0)


def test_weighted_metrics_weigh_the_scores_and_keep_the_counts() -> None:
    from ml.evaluate import metrics

    y, pred = ["dog", "cat", "cat", "cat"], ["dog", "dog", "dog", "cat"]
    plain = metrics(y, pred, LABELS)
    weighted = metrics(y, pred, LABELS, sample_weight=[1.0, 0.5, 0.5, 1.0])
    assert plain["accuracy"] == pytest.approx(0.5)
    assert weighted["accuracy"] == pytest.approx(2 / 3)  # (1 + 1) of 3
    assert weighted["per_class"]["dog"]["precision"] == pytest.approx(0.5)  # 1 of 1 + 0.5 + 0.5
    assert weighted["per_class"]["cat"]["support"] == plain["per_class"]["cat"]["support"] == 3
    assert weighted["confusion"] == plain["confusion"]


def test_a_group_weighted_choice_counts_a_sliced_recording_once() -> None:
    """Per clip, the room's 20 false alarms halve dog F1 and the prior looks worth taking;
    counted once, they cost one false alarm and the prior gains under the margin."""
    fold = _one_room_fold()
    plain = choose_strength_cv([fold], LABELS, "f1:dog", min_gain=0.1)
    weighted = choose_strength_cv([fold], LABELS, "f1:dog", min_gain=0.1, group_weighted=True)
    by_plain = {row["strength"]: row["f1:dog"] for row in plain.table}
    by_weighted = {row["strength"]: row["f1:dog"] for row in weighted.table}
    assert by_plain[0.0] == pytest.approx(0.5)  # 10 found, 20 false alarms
    assert by_weighted[0.0] == pytest.approx(20 / 21)  # 10 found, one room
    assert by_plain[0.25] == by_weighted[0.25] == pytest.approx(1.0)
    assert plain.strength > 0 and weighted.strength == 0.0


def test_a_group_weighted_choice_needs_every_clips_group() -> None:
    fold = _one_room_fold()
    blind = OutOfFold(0, 0, fold.y_true, fold.probabilities, COUNTS)
    with pytest.raises(ValueError, match="group"):
        choose_strength_cv([blind], LABELS, "f1:dog", group_weighted=True)
