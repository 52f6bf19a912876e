"""Grouped k-fold cross-validation (``ml.crossval``): folds, report, card section, a tiny real run.

The fold tests use made-up clips (no audio is read); the last test cross-validates a tiny
mfcc_cnn on a few real cat-context clips from ``../shared`` (skipped when it is absent).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from ml.crossval import (
    CARD_HEADING,
    OutOfFold,
    add_card_section,
    compare_variants,
    describe_variant,
    fold_scores,
    format_table,
    group_weighted_report,
    make_folds,
    merge_reports,
    out_of_fold,
    parse_variant,
    run_cv,
    variant_config,
    weighted_fold_scores,
    write_folds,
)
from ml.data import Clip
from ml.evaluate import metrics


def _clips(groups_per_label: dict[str, int], clips_per_group: int = 2) -> list[Clip]:
    """Made-up clips: ``n`` groups per label, each group holding ``clips_per_group`` clips."""
    out = []
    for label, n in groups_per_label.items():
        for g in range(n):
            for j in range(clips_per_group):
                out.append(
                    Clip(
                        path=Path(f"/x/{label}/{g}-{j}.wav"),
                        label=label,
                        group=f"{label}{g}",
                        dataset="d",
                    )
                )
    return out


CLIPS = _clips({"a": 60, "b": 20, "c": 10})


def test_folds_never_share_a_group_and_cover_every_clip_once() -> None:
    folds = make_folds(CLIPS, 5, seed=3)
    assert len(folds) == 5
    held_out = [c.path for f in folds for c in f.val]
    assert sorted(held_out) == sorted(c.path for c in CLIPS)
    for fold in folds:
        assert not {c.group for c in fold.train} & {c.group for c in fold.val}
        assert len(fold.train) + len(fold.val) == len(CLIPS)
    groups_seen = Counter(g for f in folds for g in {c.group for c in f.val})
    assert set(groups_seen.values()) == {1}


def test_folds_are_stratified_as_far_as_groups_allow() -> None:
    for fold in make_folds(CLIPS, 5, seed=0):
        groups = Counter(c.label for c in fold.val)
        # 60, 20, 10 groups of 2 clips over 5 folds: 12, 4, 2 groups each (one group of slack)
        for label, expected in {"a": 12, "b": 4, "c": 2}.items():
            assert abs(groups[label] / 2 - expected) <= 1, (label, groups)


def test_folds_are_reproducible_from_the_seed_and_ignore_input_order() -> None:
    def key(folds: list) -> list[list[str]]:
        return [sorted(str(c.path) for c in f.val) for f in folds]

    first = key(make_folds(CLIPS, 5, seed=7))
    assert key(make_folds(list(reversed(CLIPS)), 5, seed=7)) == first
    assert key(make_folds(CLIPS, 5, seed=8)) != first


def test_too_few_groups_or_folds_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 5 groups"):
        make_folds(_clips({"a": 2, "b": 2}), 5, seed=0)
    with pytest.raises(ValueError, match="at least 2 folds"):
        make_folds(CLIPS, 1, seed=0)


def test_clips_that_share_a_group_with_the_test_part_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="test group"):
        run_cv("infant-cry", {}, tmp_path, clips=CLIPS[1:], test=CLIPS[:1], log=lambda _: None)


def test_folds_csv_lists_every_held_out_clip(tmp_path: Path) -> None:
    folds = make_folds(CLIPS, 3, seed=0)
    path = write_folds(folds, tmp_path / "folds.csv", root=Path("/x"))
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(CLIPS)
    assert {r["fold"] for r in rows} == {"0", "1", "2"}
    assert rows[0]["path"].count("/") == 1  # relative to the root


def test_variants_parse_into_train_configs_without_early_stopping() -> None:
    name, over = parse_variant("loss:arch=mfcc_cnn,balance=loss,epochs=7,mixup_alpha=0.1")
    assert name == "loss"
    assert over == {"arch": "mfcc_cnn", "balance": "loss", "epochs": 7, "mixup_alpha": 0.1}
    config = variant_config("infant-cry", {"epochs": 20, "threads": 1}, over)
    assert (config.epochs, config.patience, config.balance, config.lr) == (7, 7, "loss", 2e-3)
    name, over = parse_variant("wide:arch=mfcc_cnn,cnn_channels=[32,64,128],epochs=7")
    assert over == {"arch": "mfcc_cnn", "cnn_channels": [32, 64, 128], "epochs": 7}
    config = variant_config("dog-bark", {}, over)
    assert config.cnn_channels == [32, 64, 128]
    assert "CNN widths 32/64/128" in describe_variant({"config": asdict(config)})
    assert "widths" not in describe_variant({"config": asdict(variant_config("dog-bark", {}, {}))})
    for unbalanced in ("x:cnn_channels=[32,64", "x:cnn_channels=32],epochs=3"):
        with pytest.raises(ValueError, match=r"closes no|never closed"):
            parse_variant(unbalanced)
    with pytest.raises(ValueError, match="TrainConfig key"):
        parse_variant("x:bogus=1")
    with pytest.raises(ValueError, match="name"):
        parse_variant(":arch=ast")
    with pytest.raises(ValueError, match="balance"):
        variant_config("infant-cry", {}, {"balance": "magic"})


@pytest.mark.shared
def test_tiny_cv_run_on_real_clips_writes_a_full_report(tmp_path: Path, shared_dir: Path) -> None:
    out = tmp_path / "cv"
    report = run_cv(
        "cat-context",
        {"tiny": {"arch": "mfcc_cnn", "batch_size": 8, "epoch_size": 16, "window_frames": 100}},
        out,
        k=2,
        seed=1,
        max_clips_per_class=6,
        base={"epochs": 1, "warmup_epochs": 0, "threads": 1},
        shared_dir=shared_dir,
        cache_dir=tmp_path / "cache",
        progress=False,
        log=lambda _: None,
    )
    assert json.loads((out / "cv_report.json").read_text()) == report
    from ml.train import make_split

    test_paths = {str(c.path.resolve()) for c in make_split("cat-context", 0, shared_dir).test}
    folded = [r["path"] for r in csv.DictReader((out / "folds.csv").open())]
    assert len(folded) == 18
    assert not {str((shared_dir / p).resolve()) for p in folded} & test_paths
    assert report["n_clips"] == 18 and report["test_part_read"] is False
    variant = report["variants"]["tiny"]
    assert [f["fold"] for f in variant["per_fold"]] == [0, 1]
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        assert 0.0 <= variant[key]["mean"] <= 1.0 and variant[key]["sd"] >= 0.0
        assert key in report["majority"]
    assert variant["pooled"]["n"] == 18
    assert variant["config"]["patience"] == 1 and variant["config"]["seed"] == 1
    assert (out / "tiny" / "fold-0" / "last.safetensors").is_file()
    assert report["ranking"] == ["tiny"]

    # out-of-fold probabilities give back the labels the report scored, fold by fold
    scored = out_of_fold(out, "tiny", shared_dir, tmp_path / "cache")
    assert [(f.fold_seed, f.fold) for f in scored] == [(1, 0), (1, 1)]
    labels = ["brushing", "waiting_for_food", "isolation"]
    y_true = [y for f in scored for y in f.y_true]
    y_pred = [labels[i] for f in scored for i in f.probabilities.argmax(1)]
    assert metrics(y_true, y_pred, labels)["macro_f1"] == pytest.approx(
        variant["pooled"]["macro_f1"]
    )
    assert all(np.allclose(f.probabilities.sum(1), 1.0) for f in scored)
    assert sum(sum(f.train_counts.values()) for f in scored) == 18  # each clip trained on once
    with pytest.raises(ValueError, match="no variant 'other'"):
        out_of_fold(out, "other", shared_dir, tmp_path / "cache")
    tampered = json.loads((out / "cv_report.json").read_text())
    tampered["folds"][0]["n_val"] += 1
    (out / "cv_report.json").write_text(json.dumps(tampered))
    with pytest.raises(ValueError, match="fold 0 no longer holds the clips"):
        out_of_fold(out, "tiny", shared_dir, tmp_path / "cache")
    (out / "cv_report.json").write_text(json.dumps(report))

    # rescored with every clip its own group, the folds give back the recorded scores
    from dataclasses import replace

    unique = [
        replace(f, groups=tuple(f"{f.fold}-{i}" for i in range(len(f.y_true)))) for f in scored
    ]
    for again, recorded in zip(
        weighted_fold_scores(unique, labels), variant["per_fold"], strict=True
    ):
        assert again["macro_f1"] == pytest.approx(recorded["macro_f1"])
    weighted = group_weighted_report(out, shared_dir, tmp_path / "cache")
    assert weighted["group_weighted"] and "pooled" not in weighted["variants"]["tiny"]
    assert [f["fold"] for f in weighted["variants"]["tiny"]["per_fold"]] == [0, 1]

    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# card\n\n## Limits\n\nsmall.\n")
    add_card_section(card, report, "tiny", "a note")
    add_card_section(card, report, "tiny", "a note")  # replaces, does not repeat
    text = card.read_text()
    assert text.count(CARD_HEADING) == 1
    assert text.index(CARD_HEADING) < text.index("## Limits")
    assert "`tiny` **(shipped)**" in text and "majority class" in text and "a note" in text


def test_reports_merge_only_on_the_same_folds() -> None:
    def report(name: str, seed: int = 0, threads: int = 1) -> dict:
        score = {"mean": 0.5, "sd": 0.1}
        variant = {
            "macro_f1": score,
            "balanced_accuracy": score,
            "accuracy": score,
            "config": {"threads": threads},
        }
        folds = [{"fold": 0, "n_val": 3}]
        return {
            "task": "t",
            "k": 2,
            "seed": seed,
            "split_seed": 0,
            "n_clips": 6,
            "folds": folds,
            "variants": {name: variant},
        }

    merged = merge_reports([report("a"), report("b")])
    assert sorted(merged["variants"]) == ["a", "b"] and sorted(merged["ranking"]) == ["a", "b"]
    with pytest.raises(ValueError, match="seed"):
        merge_reports([report("a"), report("b", seed=1)])
    with pytest.raises(ValueError, match="two reports"):
        merge_reports([report("a"), report("a")])
    # the same folds on another thread count score differently: not one table
    with pytest.raises(ValueError, match=r"thread counts \[1, 2\]"):
        merge_reports([report("a"), report("b", threads=2)])


def _scored(seed: int, variants: dict[str, list[float]], task: str = "dog-bark") -> dict:
    """A CV report whose variants scored these bark F1 per fold (macro-F1 the same)."""

    def fold(i: int, f1: float) -> dict:
        return {
            "fold": i, "accuracy": f1, "macro_f1": f1, "balanced_accuracy": f1,
            "per_class_f1": {"bark": f1, "non_bark": 1.0},
        }  # fmt: skip

    def variant(scores: list[float]) -> dict:
        per_fold = [fold(i, f1) for i, f1 in enumerate(scores)]
        mean = {"mean": sum(scores) / len(scores), "sd": 0.0}
        pooled = {"macro_f1": 0.5, "balanced_accuracy": 0.5, "per_class_f1": {"bark": 0.25}}
        return {"per_fold": per_fold, "macro_f1": mean, "balanced_accuracy": mean,
                "accuracy": mean, "pooled": pooled}  # fmt: skip

    return {
        "task": task,
        "seed": seed,
        "variants": {name: variant(scores) for name, scores in variants.items()},
        "majority": variant([0.0] * len(next(iter(variants.values())))),
    }


def test_variants_compare_fold_by_fold_across_fold_seeds() -> None:
    reports = [
        _scored(0, {"recipe": [0.8, 0.9, 0.7], "new": [0.9, 0.9, 0.6]}),
        _scored(1, {"recipe": [0.5, 0.5, 0.5], "new": [0.6, 0.7, 0.5]}),
    ]
    result = compare_variants(reports, "recipe", "f1:bark")
    assert list(result) == ["new"]
    new = result["new"]
    assert (new["won"], new["lost"], new["tied"], new["folds"]) == (3, 1, 2, 6)
    assert new["mean"] == pytest.approx(4.2 / 6) and new["baseline_mean"] == pytest.approx(3.9 / 6)
    assert [row["seed"] for row in new["per_seed"]] == [0, 1]
    assert new["per_seed"][1]["mean"] == pytest.approx(0.6)
    assert new["per_seed"][1]["baseline"] == pytest.approx(0.5)
    # a variant run later into its own folder, on seed 1's folds: merged with that seed's report
    later = _scored(1, {"later": [0.5, 0.4, 0.5]})
    for report in (*reports, later):
        report.update(k=3, split_seed=0, n_clips=9, folds=[{"fold": i} for i in range(3)])
    both = compare_variants([*reports, later], "recipe", "f1:bark")
    assert list(both) == ["new", "later"] and both["new"] == new
    assert (both["later"]["won"], both["later"]["lost"], both["later"]["tied"]) == (0, 1, 2)
    assert [row["seed"] for row in both["later"]["per_seed"]] == [1]
    with pytest.raises(ValueError, match="no 'missing' variant"):
        compare_variants(reports, "missing")
    with pytest.raises(ValueError, match="f1:LABEL"):
        fold_scores(reports[0]["variants"]["new"], "f1:meow")
    assert fold_scores(reports[0]["variants"]["new"], "macro_f1") == [0.9, 0.9, 0.6]


def test_a_binary_task_table_shows_its_positive_label_f1() -> None:
    table = format_table(_scored(0, {"recipe": [0.8, 0.9, 0.7]}))
    header, _, recipe, majority = table.splitlines()
    assert header.endswith("| bark F1 (mean ± sd) | pooled bark F1 |")
    assert recipe.endswith("| 0.800 ± 0.100 | 0.250 |")
    assert majority.startswith("| majority class |") and majority.endswith(
        "| 0.000 ± 0.000 | 0.250 |"
    )
    plain = format_table(_scored(0, {"recipe": [0.8, 0.9, 0.7]}, task="cat-context"))
    assert "bark" not in plain and plain.splitlines()[0].endswith("pooled balanced acc. |")


def test_miao_cv_compare_reads_several_fold_seeds(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from miao.cli import app

    for seed, new in ((0, [0.9, 0.9, 0.6]), (1, [0.6, 0.7, 0.5])):
        folder = tmp_path / f"s{seed}"
        folder.mkdir()
        recipe = [0.8, 0.9, 0.7] if seed == 0 else [0.5, 0.5, 0.5]
        report = _scored(seed, {"recipe": recipe, "new": new})
        (folder / "cv_report.json").write_text(json.dumps(report))
    args = ["cv", "dog-bark", "--compare", "recipe", "--out", str(tmp_path / "s0")]
    result = CliRunner().invoke(app, [*args, "--include", str(tmp_path / "s1"), "--json"])
    assert result.exit_code == 0, result.output
    assert "new vs recipe (f1:bark): 0.700 vs 0.650 over 6 folds; won 3, lost 1, tied 2" in (
        " ".join(result.stderr.split())
    )
    assert json.loads(result.stdout)["new"]["won"] == 3
    missing = CliRunner().invoke(app, [*args, "--include", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert f"no{tmp_path / 'none' / 'cv_report.json'};run" in "".join(missing.stderr.split())


def _fold_with_one_room(fold: int) -> OutOfFold:
    """2 barks found; one room recording cut into 20 slices, all called bark; 18 other
    non-bark clips, each its own group, called right."""
    y = ("bark",) * 2 + ("non_bark",) * 38
    p_bark = np.array([0.9] * 2 + [0.8] * 20 + [0.1] * 18)
    groups = ("dog0", "dog1") + ("room",) * 20 + tuple(f"other{i}" for i in range(18))
    counts = {"bark": 10, "non_bark": 100}
    return OutOfFold(0, fold, y, np.stack([p_bark, 1 - p_bark], axis=1), counts, groups)


def test_weighted_fold_scores_count_each_group_once_and_feed_the_comparison() -> None:
    labels = ["bark", "non_bark"]
    weighted = weighted_fold_scores([_fold_with_one_room(0)], labels)
    per_clip = metrics(*_labels_of(_fold_with_one_room(0), labels), labels)
    # per clip: 2 barks against 20 false alarms; weighted: the room is one false alarm
    assert per_clip["per_class"]["bark"]["f1"] == pytest.approx(4 / 24)
    assert weighted[0]["per_class_f1"]["bark"] == pytest.approx(0.8)
    assert weighted[0]["n"] == 40  # counts stay counts of clips
    report = {"seed": 0, "variants": {}}
    for name, fold_list in (
        ("a", weighted),
        ("b", [{**weighted[0], "per_class_f1": {"bark": 0.5}}]),
    ):
        report["variants"][name] = {"per_fold": fold_list}
    result = compare_variants([report], "b", "f1:bark")
    assert (result["a"]["won"], result["a"]["mean"]) == (1, pytest.approx(0.8))
    ungrouped = OutOfFold(0, 1, ("bark",), np.array([[0.9, 0.1]]), {"bark": 1}, ())
    with pytest.raises(ValueError, match="no groups"):
        weighted_fold_scores([ungrouped], labels)


def _labels_of(fold: OutOfFold, labels: list[str]) -> tuple[list[str], list[str]]:
    return list(fold.y_true), [labels[i] for i in fold.probabilities.argmax(axis=1)]


def test_miao_cv_refuses_group_weighting_without_compare(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from miao.cli import app

    result = CliRunner().invoke(
        app, ["cv", "dog-bark", "--group-weighted", "--out", str(tmp_path / "cv")]
    )
    assert result.exit_code == 2 and "--group-weighted rescoring is for --compare" in result.stderr
    assert not (tmp_path / "cv").exists()
