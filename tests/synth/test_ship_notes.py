"""The synthesis cards' prose from a ``miao eval synth`` report: what is given is said."""

from __future__ import annotations

from ml.synth.ship import eval_notes, metric_rows

YAMNET = {
    "generated_cat_share": 0.0,
    "style_cat_share": 0.1,
    "style_input_cat_share": 0.0,
    "real_cat_share": 0.36,
}


def test_notes_name_the_yamnet_share_of_griffin_lim_contours_when_measured() -> None:
    with_contours = eval_notes({"yamnet": {**YAMNET, "contour_griffin_lim_cat_share": 0.25}})
    assert "0.00 of the generated meows (0.25 of their contours rendered by Griffin-Lim)" in (
        with_contours
    )
    older = eval_notes({"yamnet": YAMNET})  # reports made before that figure existed
    assert "0.00 of the generated meows, 0.10 of the style transfers" in older
    assert "Griffin-Lim)" not in older


def test_metric_rows_say_not_measured_for_missing_figures() -> None:
    rows = metric_rows({"cat_share": 0.5}, {})
    assert rows[2].startswith("| cat_share | 0.500 |")
    assert "| wavenet_rtf | not measured |" in rows[6]
