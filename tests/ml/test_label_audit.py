"""``scripts/yamnet_label_audit.py``: which rows YAMNet hears as another kind of sound."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.ml.scripts import load_script


def _script() -> ModuleType:
    return load_script("yamnet_label_audit")


def test_a_row_is_flagged_only_when_the_other_kind_is_strong_and_its_own_weak() -> None:
    audit = _script()
    row = audit.RowEvidence
    rows = [
        row("dog_in_a_cat_row", against=0.9, own=0.1, against_windows=0.7),
        row("cat_and_dog_together", against=0.9, own=0.9, against_windows=0.4),
        row("a_quiet_cat", against=0.2, own=0.1, against_windows=0.0),
        row("at_the_threshold", against=0.8, own=0.34, against_windows=0.1),
    ]
    flagged = [r.path for r in rows if audit.is_flagged(r, threshold=0.8, own_below=0.35)]
    assert flagged == ["dog_in_a_cat_row", "at_the_threshold"]
    assert audit.flagged_share(rows, 0.8, 0.35) == 0.5
    assert audit.flagged_share([], 0.8, 0.35) == 0.0


def test_an_unknown_kind_is_refused_before_any_audio_is_read(tmp_path: Path) -> None:
    audit = _script()
    with pytest.raises(SystemExit) as exit_info:
        audit.main(["--manifest", str(tmp_path / "m.csv"), "--label", "cat", "--against", "bird"])
    assert exit_info.value.code == 2


def test_a_missing_manifest_or_label_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = _script()
    missing = ["--manifest", str(tmp_path / "none.csv"), "--label", "cat", "--against", "dog"]
    assert audit.main(missing) == 2
    assert "none.csv" in capsys.readouterr().err
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label,group\na.flac,dog,g1\n")
    no_cats = ["--manifest", str(manifest), "--label", "cat", "--against", "dog"]
    assert audit.main(no_cats) == 2
    assert "no rows labelled 'cat'" in capsys.readouterr().err


@pytest.mark.shared
def test_a_bark_filed_as_a_cat_is_flagged_and_a_meow_is_not(
    tmp_path: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (shared_dir / "models" / "yamnet" / "yamnet.tflite").is_file():
        pytest.skip("no YAMNet model in ../shared")
    catsdogs = shared_dir / "data" / "catsdogs"
    # YAMNet hears dog_barking_10 as dog 0.98, cat 0.00, and cat_5 as cat 1.00
    shutil.copy(catsdogs / "dogs" / "dog_barking_10.flac", tmp_path / "a.flac")
    shutil.copy(catsdogs / "cats" / "cat_5.flac", tmp_path / "b.flac")
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "group"])
        writer.writerows([["a.flac", "cat", "g1"], ["b.flac", "cat", "g2"]])
    report = tmp_path / "audit.json"
    manifest = str(tmp_path / "manifest.csv")
    args = ["--manifest", manifest, "--label", "cat", "--against", "dog", "--json", str(report)]
    code = _script().main(args)
    assert code == 0
    out = capsys.readouterr().out
    assert "1 of 2 'cat' rows flagged" in out and "a.flac" in out and "b.flac" not in out
    assert '"flagged_share": 0.5' in report.read_text()
