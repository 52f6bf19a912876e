"""Rows a new model card keeps from the task's previous metrics (same test split only)."""

from __future__ import annotations

from typing import Any

from ml.model_card import earlier_rows, left_out_sentence, split_balance


def _result(acc: float) -> dict[str, Any]:
    return {"accuracy": acc, "macro_f1": acc - 0.1, "balanced_accuracy": acc - 0.05}


def _report(models: dict[str, Any], n_clips: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "part": "test",
        "n_clips": n_clips,
        "n_groups": 8,
        "class_counts": {"a": 6, "b": 4},
        "models": models,
        **extra,
    }


def test_previous_shipped_model_and_lost_runs_are_kept_for_the_same_split() -> None:
    previous = _report(
        {"majority": _result(0.6), "ast": _result(0.5), "mfcc_cnn": _result(0.7)},
        model_id="4452a5d8" + "0" * 56,
        shipped="mfcc_cnn",
    )
    new = _report({"majority": _result(0.6), "mfcc_cnn": _result(0.8)})
    rows = earlier_rows(previous, new)
    assert rows == {
        "AST, earlier run (weights not kept)": _result(0.5),
        "MFCC + VGG-style CNN, shipped before (id 4452a5d8…)": _result(0.7),
    }


def test_another_split_keeps_nothing() -> None:
    previous = _report({"ast": _result(0.5)}, model_id="0" * 64, shipped="ast")
    assert earlier_rows(previous, _report({}, n_clips=11)) == {}
    assert earlier_rows({}, _report({})) == {}
    assert earlier_rows({**previous, "part": "val"}, _report({})) == {}


SHIPPED_ID = "5fea2adc" + "0" * 56


def _after_an_ast_was_lost(models: dict[str, Any], lost_ast: float) -> dict[str, Any]:
    """A previous report: the CNN ``SHIPPED_ID`` shipped, an AST run scored before it kept."""
    return _report(
        models,
        model_id=SHIPPED_ID,
        shipped="mfcc_cnn",
        earlier={"AST, earlier run (weights not kept)": _result(lost_ast)},
    )


def test_a_reship_keeps_the_earlier_rows_and_not_itself() -> None:
    previous = _after_an_ast_was_lost(
        {"majority": _result(0.6), "mfcc_cnn": _result(0.8), "yamnet_dnn": _result(0.7)}, 0.5
    )
    new = _report({"ast": _result(0.65), "mfcc_cnn": _result(0.8), "yamnet_dnn": _result(0.7)})
    assert earlier_rows(previous, new, model_id=SHIPPED_ID) == {
        "AST, earlier run (weights not kept)": _result(0.5)
    }
    other = earlier_rows(previous, new, model_id="f" * 64)
    assert "MFCC + VGG-style CNN, shipped before (id 5fea2adc…)" in other


def test_the_same_run_scored_again_does_not_push_out_the_earlier_ast() -> None:
    previous = _after_an_ast_was_lost({"ast": _result(0.65), "mfcc_cnn": _result(0.8)}, 0.5)
    again = _report({"ast": _result(0.65), "mfcc_cnn": _result(0.8)})
    assert earlier_rows(previous, again, model_id=SHIPPED_ID) == {
        "AST, earlier run (weights not kept)": _result(0.5)
    }


def test_a_second_lost_ast_gets_its_own_row_beside_the_first() -> None:
    previous = _after_an_ast_was_lost({"ast": _result(0.73), "mfcc_cnn": _result(0.8)}, 0.59)
    new = _report({"mfcc_cnn": _result(0.85)})
    rows = earlier_rows(previous, new, model_id="f" * 64)
    assert rows["AST, earlier run (weights not kept)"] == _result(0.59)
    assert rows["AST, earlier run no. 2 (weights not kept)"] == _result(0.73)
    again = earlier_rows({**previous, "earlier": rows}, new, model_id="f" * 64)
    assert again == rows  # shipping once more adds no third copy


def test_an_ast_card_says_whether_it_started_from_the_projects_own_encoder() -> None:
    from ml.model_card import _describe

    size = {"layers": 4, "hidden": 192, "heads": 3, "stride": 16}
    scratch = _describe({"model": {"size": size}, "training": {}}, "ast")
    assert "trained from scratch" in scratch and "miao pretrain" not in scratch
    pre = {"mask_ratio": 0.5, "epochs": 60, "clips": 3448, "encoder_id": "ab" * 32}
    tuned = _describe({"model": {"size": size}, "training": {}, "pretrained": pre}, "ast")
    assert "trained from scratch" not in tuned
    assert "50% of the log-mel patches" in tuned and "60 epochs on 3448" in tuned
    assert "abababababab…" in tuned


def test_a_cnn_card_and_a_cv_variant_name_the_donor_of_their_convolutions() -> None:
    from ml.crossval import describe_variant
    from ml.model_card import _describe

    model = {"model": {"channels": [16, 32, 64]}, "training": {}}
    assert "started from" not in _describe(model, "mfcc_cnn")
    pre = {"donor_task": "cat-emotion", "donor_model_id": "cd" * 32, "tensors": 18}
    moved = _describe({**model, "pretrained": pre}, "mfcc_cnn")
    assert "`cat-emotion` CNN (cdcdcdcdcdcd…" in moved and "fine-tuned with the rest" in moved
    frozen = {"model": model["model"], "training": {"features_lr_scale": 0.0}, "pretrained": pre}
    assert "were frozen" in _describe(frozen, "mfcc_cnn")
    distilled = {"model": model["model"], "training": {"distill_weight": 10.0}}
    assert "labelling uses the first head alone" in _describe(distilled, "mfcc_cnn")
    lft = {"model": {**model["model"], "labels_from_teacher": True, "label_hidden": 256}}
    student_card = _describe({**distilled, **lft}, "mfcc_cnn")
    assert "first head alone" not in student_card
    assert "A student of YAMNet" in student_card and "(256 hidden units)" in student_card
    base = {
        "arch": "mfcc_cnn", "epoch_size": 384, "balance": "sampler", "epochs": 12,
        "window_frames": 200, "lr": 0.002, "mixup_alpha": 0.3, "aug_copies": 0, "crop_p": 0.0,
        "gain_db": 0.0,
    }  # fmt: skip
    assert "convolutions from" not in describe_variant({"config": base})
    variant = describe_variant({"config": {**base, "init_from": "ml/weights/cat-emotion"}})
    assert variant.endswith("convolutions from ml/weights/cat-emotion")
    against = describe_variant({"config": {**base, "setup_adversary": 0.5}})
    assert against.endswith(", setup adversary 0.5") and "adversary" not in describe_variant(
        {"config": base}
    )
    phone = describe_variant({"config": {**base, "aug_copies": 1, "aug_preset": "phone"}})
    assert "aug_copies 1 (phone), crop_p" in phone
    guarded = describe_variant({"config": {**base, "fill": "tile", "synthetic_negatives": 150}})
    assert guarded.endswith(
        ", short clips tiled, 150 synthetic negatives (35% of the negative label's draws)"
    )
    few = {**base, "synthetic_negatives": 150, "synthetic_share": 0.1}
    assert "150 synthetic negatives (10% of" in describe_variant({"config": few})
    assert "tiled" not in describe_variant({"config": {**base, "fill": "pad"}})
    kinds = describe_variant({"config": {**base, "sound_kind_weight": 1}})
    assert kinds.endswith(", sound-kind head 1") and "sound-kind" not in describe_variant(
        {"config": base}
    )
    student = describe_variant(
        {"config": {**base, "distill_weight": 10, "labels_from_teacher": True}}
    )
    assert student.endswith(", distilled from YAMNet 10, labels from the distilled scores")
    assert "distilled" not in describe_variant({"config": base})
    averaged = describe_variant({"config": {**base, "weight_ema": 0.997}})
    assert averaged.endswith(", weight EMA 0.997") and "EMA" not in describe_variant(
        {"config": base}
    )


def test_a_cnn_card_names_its_setup_adversary_and_what_its_copies_went_through() -> None:
    from ml.model_card import _describe, _length_guard

    model = {"model": {"channels": [16, 32, 64]}, "training": {}}
    assert "adversary" not in _describe(model, "mfcc_cnn")
    against = _describe({**model, "training": {"setup_adversary": 1.0}}, "mfcc_cnn")
    assert "recording-setup adversary (loss weight 1" in against
    assert "auxiliary head" not in against
    both = _describe(
        {**model, "training": {"setup_adversary": 0.5, "sound_kind_weight": 2.0}}, "mfcc_cnn"
    )
    assert "adversary (loss weight 0.5" in both and "auxiliary head (loss weight 2," in both
    phone = _length_guard({"aug_copies": 1, "aug_preset": "phone"})
    assert "phone codec" in phone and "time stretch" not in phone
    default = _length_guard({"aug_copies": 2, "aug_preset": "default"})
    assert "2 cached waveform-augmented copies" in default and "time stretch" in default
    device = _length_guard({"aug_copies": 1, "aug_preset": "device"})
    assert "seven-band EQ" in device and "phone codec" in device


def test_every_augmentation_preset_has_words_for_the_card() -> None:
    from ml.augment import AUG_PRESETS
    from ml.model_card import AUG_PRESET_WORDS

    assert set(AUG_PRESET_WORDS) == set(AUG_PRESETS)


def test_the_training_line_says_when_the_weights_average_was_shipped() -> None:
    from ml.model_card import _training_line

    training = {
        "lr": 0.002, "weight_decay": 0.05, "batch_size": 32, "epoch_size": 2048,
        "mixup_alpha": 0.3, "seed": 0, "split_seed": 0,
    }  # fmt: skip
    assert "moving average" not in _training_line(training, None)
    line = _training_line({**training, "weight_ema": 0.997}, None)
    assert "moving average of the weights (decay 0.997 per step)" in line


def test_hand_written_notes_survive_a_reship() -> None:
    from ml.model_card import NOTES_HEADING, _notes_section, kept_notes

    card = (
        "# x\n\n## Group-held-out test metrics\n\n| a |\n\n"
        f"{NOTES_HEADING}\n\nThe AST row was trained for 30 epochs.\n\n## Limits\n\nSmall.\n"
    )
    assert kept_notes(card) == "The AST row was trained for 30 epochs."
    assert kept_notes("# x\n\n## Limits\n") == ""
    again = _notes_section(card, "Re-shipped with more epochs.")
    assert again.startswith(NOTES_HEADING)
    assert "trained for 30 epochs.\n\nRe-shipped with more epochs." in again
    assert "Limits" not in again
    assert _notes_section("# x\n\n## Limits\n", "") == ""


def test_the_card_says_what_the_split_balanced() -> None:
    assert split_balance({"training": {"split_strata": "label"}}) == "by label"
    assert split_balance({"training": {}}) == "by label"  # runs from before the field
    assert "each dataset's own label" in split_balance(
        {"training": {"split_strata": "source_label"}}
    )


def test_the_card_names_the_datasets_kept_out_of_the_split() -> None:
    assert left_out_sentence({"training": {}}) == ""
    said = left_out_sentence({"training": {"leave_out_datasets": ["catmeows"]}})
    assert said.startswith(" Kept out") and said.endswith("catmeows.")
