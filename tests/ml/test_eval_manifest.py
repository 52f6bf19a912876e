"""``miao eval TASK --manifest``: a model scored on recordings outside its split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from miao.cli import app
from ml.data import default_shared_dir, task_clips_from_csv

SR = 16000


def _manifest(folder: Path, rows: list[tuple[str, str, str]], extra: dict | None = None) -> Path:
    """A manifest CSV of (path, label, group) rows, paths relative to it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.csv"
    columns = ["path", "label", "group", *(extra or {})]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([*row, *(extra or {}).values()])
    return path


def _clips(folder: Path, n: int) -> list[str]:
    """``n`` short real-format files: tones and noise, 1.5 s at 16 kHz."""
    rng = np.random.default_rng(0)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        t = np.arange(round(1.5 * SR)) / SR
        wave = 0.3 * np.sin(2 * np.pi * (300 + 150 * i) * t) + 0.05 * rng.standard_normal(t.size)
        name = f"audio/clip{i}.flac"
        sf.write(folder / name, wave.astype(np.float32), SR)
        names.append(name)
    return names


def test_rows_are_kept_by_the_tasks_labels_or_read_as_a_shared_dataset(tmp_path: Path) -> None:
    csv_path = _manifest(
        tmp_path, [("a.wav", "bark", "g1"), ("b.wav", "non_bark", "g2"), ("c.wav", "meow", "g3")]
    )
    rows = task_clips_from_csv(csv_path, "dog-bark")
    assert [(c.label, c.path) for c in rows.clips] == [
        ("bark", tmp_path / "a.wav"),
        ("non_bark", tmp_path / "b.wav"),
    ]
    assert rows.dropped_labels == {"meow": 1} and rows.filtered == 0

    # read as more catsdogs, a dog is a bark and a cat is not
    csv_path = _manifest(tmp_path, [("a.wav", "dog", "x"), ("b.wav", "cat", "y")])
    rows = task_clips_from_csv(csv_path, "dog-bark", as_dataset="catsdogs")
    assert [c.label for c in rows.clips] == ["bark", "non_bark"] and not rows.dropped_labels
    assert rows.clips[0].group == "catsdogs:x"  # the dataset's group namespace, as in training
    with pytest.raises(ValueError, match="does not read 'naya'"):
        task_clips_from_csv(csv_path, "infant-cry", as_dataset="naya")
    # naya rows feed source only without their copies of catsdogs clips: the column must be there
    with pytest.raises(ValueError, match="cross_dataset_overlap"):
        task_clips_from_csv(csv_path, "source", as_dataset="naya")
    csv_path = _manifest(
        tmp_path / "n", [("a.wav", "happy", "c1")], extra={"cross_dataset_overlap": "yes"}
    )
    rows = task_clips_from_csv(csv_path, "source", as_dataset="naya")
    assert rows.clips == [] and rows.dropped_labels == {} and rows.filtered == 1

    # the dataset export: a label a model gave is not a person's, and is left out on request
    csv_path = _manifest(
        tmp_path / "e", [("a.wav", "happy", "0xab")], extra={"label_origin": "model"}
    )
    assert len(task_clips_from_csv(csv_path, "cat-emotion").clips) == 1
    rows = task_clips_from_csv(csv_path, "cat-emotion", human_labels_only=True)
    assert rows.clips == [] and rows.model_labelled == 1


def test_the_shipped_model_is_scored_on_new_recordings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIAO_VAR_DIR", str(tmp_path / "var"))
    names = _clips(tmp_path / "data", 3)
    rows = [(names[0], "non_bark", "a"), (names[1], "non_bark", "b"), (names[2], "bark", "c")]
    csv_path = _manifest(tmp_path / "data", [*rows, (names[0], "purr", "a")])
    out = tmp_path / "report"
    args = ["eval", "dog-bark", "--manifest", str(csv_path), "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["n_clips"] == 3 and report["dropped_labels"] == {"purr": 1}
    assert report["class_counts"] == {"bark": 1, "non_bark": 2}
    assert set(report["models"]) == {"majority", "mfcc_cnn"}
    assert report["macro_f1_over"] == ["bark", "non_bark"]
    assert report["left_out_seen"] == 0  # new files: nothing the model trained on
    shared = (default_shared_dir() / "data").is_dir()
    assert report["seen_checked"] is shared
    assert report["majority_fitted_on"] == ("training part" if shared else "these clips")
    mfcc = report["models"]["mfcc_cnn"]
    assert sum(map(sum, mfcc["confusion"])) == 3
    assert mfcc["accuracy"] == pytest.approx(np.trace(mfcc["confusion"]) / 3)
    assert len(report["model_id"]) == 64
    assert (out / "report-manifest.json").is_file() and (out / "confusion-manifest.png").is_file()


def test_a_manifest_with_nothing_to_score_or_an_unreadable_clip_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIAO_VAR_DIR", str(tmp_path / "var"))
    csv_path = _manifest(tmp_path / "a", [("x.wav", "meow", "g")])
    result = CliRunner().invoke(app, ["eval", "dog-bark", "--manifest", str(csv_path)])
    assert result.exit_code == 2
    assert "no row has a label of dog-bark" in " ".join(result.output.split())

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    csv_path = _manifest(tmp_path / "b", [("broken.wav", "bark", "g")])
    out = tmp_path / "report"
    args = ["eval", "dog-bark", "--manifest", str(csv_path), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "broken.wav" in " ".join(result.output.split())
    assert not out.exists()  # no report from a run that did not finish

    result = CliRunner().invoke(app, ["eval", "dog-bark", "--as-dataset", "catsdogs"])
    assert result.exit_code == 2 and "--manifest" in result.output


@pytest.mark.shared
def test_clips_the_model_learnt_on_are_left_out(shared_dir: Path, tmp_path: Path) -> None:
    """naya read as source's cats: only the clips of the shipped model's test part are scored."""
    from ml.registry import WEIGHTS_DIR
    from ml.train import model_split

    test_part = model_split(WEIGHTS_DIR / "source", shared_dir).test
    naya_test = sum(c.dataset == "naya" for c in test_part)
    manifest = shared_dir / "data" / "naya" / "manifest.csv"
    args = ["eval", "source", "--manifest", str(manifest), "--as-dataset", "naya"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["n_clips"] == naya_test > 300
    assert report["left_out_seen"] > 1500 and report["filtered"] > 0
    assert report["class_counts"]["cat"] == naya_test
    assert report["models"]["mfcc_cnn"]["per_class"]["cat"]["recall"] > 0.9
