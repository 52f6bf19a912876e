"""Small parts of ``miao eval synth`` that need no models."""

from __future__ import annotations

import pytest

from ml.synth.eval_synth import wilson_interval


def test_wilson_interval_matches_textbook_values_and_is_symmetric() -> None:
    # Wilson 95% intervals: 5 of 10 -> (0.237, 0.763), 0 of 10 -> (0, 0.278)
    assert wilson_interval(5, 10) == pytest.approx((0.237, 0.763), abs=0.001)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.278), abs=0.001)
    lo, hi = wilson_interval(53, 90)
    assert lo < 53 / 90 < hi
    assert wilson_interval(37, 90) == pytest.approx((1 - hi, 1 - lo), abs=0.001)


def test_wilson_interval_refuses_impossible_counts() -> None:
    for successes, n in ((1, 0), (-1, 10), (11, 10)):
        with pytest.raises(ValueError):
            wilson_interval(successes, n)
