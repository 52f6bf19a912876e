"""``miao eval synth --judges DIR``: the figures judged by another weights folder's labellers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from miao.cli import app
from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, ModelNotFoundError, sha256_file
from ml.synth.eval_synth import load_judges

runner = CliRunner()


def _judges_folder(root: Path, source_from: str = "source") -> Path:
    for task, origin in (("source", source_from), ("cat-emotion", "cat-emotion")):
        (root / task).mkdir(parents=True)
        for name in (WEIGHTS_FILE, "config.json"):
            shutil.copy(WEIGHTS_DIR / origin / name, root / task / name)
    return root


def test_the_judges_come_from_the_folder_given(tmp_path: Path) -> None:
    judges = load_judges(_judges_folder(tmp_path / "judges"))
    for task, judge in judges.items():
        assert judge is not None and judge.task == task
        assert judge.model_id == sha256_file(WEIGHTS_DIR / task / WEIGHTS_FILE)
        assert judge.folder == tmp_path / "judges" / task


def test_a_folder_without_both_judges_or_with_the_wrong_one_is_refused(tmp_path: Path) -> None:
    half = tmp_path / "half"
    (half / "source").mkdir(parents=True)
    with pytest.raises(ModelNotFoundError, match="source or cat-emotion"):
        load_judges(half)
    swapped = _judges_folder(tmp_path / "swapped", source_from="cat-emotion")
    with pytest.raises(ValueError, match="holds a 'cat-emotion' model, not 'source'"):
        load_judges(swapped)


def test_the_cli_refuses_bad_judges_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "synth", "--judges", str(tmp_path)])
    assert result.exit_code == 2
    assert "--judges" in result.output and "no source or cat-emotion model" in result.output
    other = runner.invoke(app, ["eval", "source", "--judges", str(tmp_path)])
    assert other.exit_code == 2 and "goes with `miao eval synth`" in other.output
