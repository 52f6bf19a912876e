"""``choose_by_validation``: what ``miao eval --ship-arch best-val`` ships."""

from __future__ import annotations

import pytest

from ml.evaluate import choose_by_validation

# cat-emotion's validation macro-F1 on 2026-11-29: the ensemble won by 0.008 at 2.5x the cost
CAT_EMOTION = {"ast": 0.757, "mfcc_cnn": 0.799, "ensemble": 0.807}


def test_without_a_margin_the_best_on_validation_ships() -> None:
    assert choose_by_validation(CAT_EMOTION) == "ensemble"
    assert choose_by_validation({"ast": 0.70, "mfcc_cnn": 0.60}) == "ast"


def test_a_gain_within_the_margin_keeps_the_cheaper_run() -> None:
    assert choose_by_validation(CAT_EMOTION, min_gain=0.01) == "mfcc_cnn"
    # a dearer run that clears the margin still wins
    assert choose_by_validation({"mfcc_cnn": 0.60, "ast": 0.65}, min_gain=0.01) == "ast"


def test_the_margin_is_measured_from_the_choice_so_far() -> None:
    # the ensemble clears the margin over the CNN, but not over the AST that already cleared it
    scores = {"mfcc_cnn": 0.60, "ast": 0.70, "ensemble": 0.705}
    assert choose_by_validation(scores, min_gain=0.02) == "ast"


def test_a_tie_keeps_the_cheaper_run() -> None:
    assert choose_by_validation({"mfcc_cnn": 0.8, "ensemble": 0.8}) == "mfcc_cnn"


def test_nothing_shippable_or_a_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing shippable"):
        choose_by_validation({"yamnet_dnn": 0.9})
    with pytest.raises(ValueError, match="min_gain"):
        choose_by_validation(CAT_EMOTION, min_gain=-0.1)
