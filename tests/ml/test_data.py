"""Manifests into task datasets, and group splits that never leak a group."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ml.data import (
    Clip,
    Split,
    build_task_dataset,
    clips_from_csv,
    global_group,
    group_split,
    list_datasets,
    manifest_clips,
    read_manifest_rows,
    read_split,
    write_split,
)
from ml.tasks import TASKS, get_task


def synthetic_clips(groups: int = 60, seed: int = 0) -> list[Clip]:
    """Groups of uneven size whose labels are mostly, not always, one per group."""
    import random

    rng = random.Random(seed)
    clips = []
    for g in range(groups):
        main = ("a", "b", "c")[g % 3] if g % 7 else "d"
        for i in range(rng.randint(1, 12)):
            label = main if rng.random() > 0.1 else "a"
            clips.append(Clip(Path(f"/x/g{g}_{i}.wav"), label, f"ds:g{g}", "ds", 1.0, 16000))
    return clips


def test_group_split_never_puts_a_group_on_two_sides() -> None:
    clips = synthetic_clips()
    for seed in range(5):
        split = group_split(clips, seed=seed)
        train, val, test = (split.groups(n) for n in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
        assert sorted(map(str, (c.path for p in split.parts().values() for c in p))) == sorted(
            str(c.path) for c in clips
        )


def test_group_split_is_seeded_and_roughly_proportional() -> None:
    clips = synthetic_clips()
    assert group_split(clips, seed=3) == group_split(list(reversed(clips)), seed=3)
    assert group_split(clips, seed=3) != group_split(clips, seed=4)
    split = group_split(clips, fractions=(0.6, 0.2, 0.2), seed=1)
    total = len(clips)
    assert len(split.train) / total == pytest.approx(0.6, abs=0.08)
    for part in (split.val, split.test):
        assert len(part) / total == pytest.approx(0.2, abs=0.08)
        assert {"a", "b", "c", "d"} <= {c.label for c in part}  # stratified as groups allow


def _big_and_small_groups() -> list[Clip]:
    """One label made of two big recordings (kind "room", "laugh") and many small ones ("esc"),
    beside a second label of small groups: the shape of ``source``'s ``other``."""
    clips = [
        Clip(Path(f"/x/room{i}.wav"), "other", "ds:room", "ds", source_label="room")
        for i in range(100)
    ]
    clips += [
        Clip(Path(f"/x/laugh{i}.wav"), "other", "ds:laugh", "ds", source_label="laugh")
        for i in range(80)
    ]
    clips += [
        Clip(Path(f"/x/esc{g}_{i}.wav"), "other", f"ds:esc{g}", "ds", source_label="esc")
        for g in range(40)
        for i in range(2)
    ]
    clips += [
        Clip(Path(f"/x/cat{g}.wav"), "cat", f"ds:cat{g}", "ds", source_label="cat")
        for g in range(200)
    ]
    return clips


def test_group_split_can_balance_each_datasets_own_labels() -> None:
    clips = _big_and_small_groups()
    esc = sum(c.source_label == "esc" for c in clips)

    def esc_share(split: Split, part: str) -> float:
        return sum(c.source_label == "esc" for c in split.parts()[part]) / esc

    for seed in range(3):
        by_label = group_split(clips, seed=seed)
        by_source = group_split(clips, seed=seed, strata="source_label")
        # by label, the two big recordings fill other's training share and the small ones
        # are pushed out of training
        assert esc_share(by_label, "train") < 0.4
        assert esc_share(by_source, "train") == pytest.approx(0.7, abs=0.08)
        assert esc_share(by_source, "test") == pytest.approx(0.15, abs=0.08)
        by_source.check_disjoint()
    with pytest.raises(ValueError, match="strata must be one of"):
        group_split(clips, strata="speaker")


@pytest.mark.shared
def test_a_dataset_can_be_kept_out_of_the_split(shared_dir: Path) -> None:
    from ml.train import TrainConfig, make_split

    split = make_split("source", 0, shared_dir, leave_out=["catmeows"])
    everything = make_split("source", 0, shared_dir)
    kept = [c for part in split.parts().values() for c in part]
    assert not any(c.dataset == "catmeows" for c in kept)
    assert len(kept) == sum(
        c.dataset != "catmeows" for part in everything.parts().values() for c in part
    )
    with pytest.raises(ValueError, match="does not read naya"):
        TrainConfig(task="infant-cry", leave_out_datasets=["naya"])


def test_runs_record_what_their_split_balanced() -> None:
    from ml.train import TrainConfig

    assert TrainConfig(task="source").split_strata == "label"  # what every shipped model used
    assert TrainConfig(task="source", split_strata="source_label").split_strata == "source_label"
    with pytest.raises(ValueError, match="split_strata"):
        TrainConfig(task="source", split_strata="group")


def test_group_split_checks_fractions() -> None:
    with pytest.raises(ValueError, match="fractions"):
        group_split(synthetic_clips(), fractions=(0.5, 0.3, 0.3))
    split = group_split(synthetic_clips(), fractions=(0.8, 0.2, 0.0))
    assert split.test == () and split.val


def test_split_round_trips_through_csv(tmp_path: Path) -> None:
    split = group_split(synthetic_clips(), seed=2)
    path = write_split(split, tmp_path / "splits" / "s.csv", root="/x")
    assert "g0_0.wav" in path.read_text() and "/x/" not in path.read_text()
    back = read_split(path, root="/x")
    assert (back.train, back.val, back.test) == (split.train, split.val, split.test)


def test_read_split_refuses_a_leaking_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "split,path,label,group,dataset,duration_s,sample_rate,source_label,license\n"
        "train,a.wav,x,g1,ds,1,16000,x,\n"
        "test,b.wav,x,g1,ds,1,16000,x,\n"
    )
    with pytest.raises(ValueError, match="g1"):
        read_split(path, root=tmp_path)


def test_export_csv_reads_like_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    csv_path = tmp_path / "export" / "manifest.csv"
    csv_path.write_text("path,label,group,duration_s\nsounds/1.ogg,cat,0xabc,2.5\n")
    (clip,) = clips_from_csv(csv_path)
    assert clip.path == (tmp_path / "export" / "sounds" / "1.ogg").resolve()
    assert (clip.group, clip.dataset, clip.duration_s) == ("export:0xabc", "export", 2.5)
    csv_path.write_text("path,label\nx.ogg,cat\n")
    with pytest.raises(ValueError, match="group"):
        clips_from_csv(csv_path)


def test_global_group_namespaces_bare_ids_only() -> None:
    assert global_group("speech-fsdd", "george") == "speech-fsdd:george"
    assert global_group("naya", "ndc0042") == "ndc0042"
    assert global_group("noise_other", "esc50:1234") == "esc50:1234"


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="cat-emotion"):
        get_task("cat-mood")


@pytest.mark.shared
def test_every_manifest_reads_and_files_exist(shared_dir: Path) -> None:
    datasets = list_datasets(shared_dir)
    assert {"catmeows", "catsdogs", "naya", "donateacry", "noise_other", "speech-fsdd"} <= set(
        datasets
    )
    for name in datasets:
        clips = manifest_clips(name, shared_dir)
        assert clips, name
        assert all(c.path.is_file() for c in clips[:: max(1, len(clips) // 50)])


@pytest.mark.shared
def test_naya_and_catsdogs_copies_share_groups(shared_dir: Path) -> None:
    naya = manifest_clips("naya", shared_dir)
    catsdogs_groups = {c.group for c in manifest_clips("catsdogs", shared_dir)}
    shared_groups = {c.group for c in naya} & catsdogs_groups
    assert len(shared_groups) >= 50 and all(g.startswith("ndc") for g in shared_groups)
    # A split of both datasets together keeps every shared cluster on one side.
    both = build_task_dataset("source", shared_dir) + naya
    split = group_split(both, seed=0)
    for group in shared_groups:
        assert sum(group in split.groups(n) for n in ("train", "val", "test")) == 1


@pytest.mark.shared
@pytest.mark.parametrize("task", list(TASKS))
def test_task_datasets_use_the_task_labels(shared_dir: Path, task: str) -> None:
    spec = get_task(task)
    clips = build_task_dataset(spec, shared_dir)
    counts = Counter(c.label for c in clips)
    assert set(counts) == set(spec.labels)
    assert clips == build_task_dataset(spec, shared_dir)  # deterministic
    split = group_split(clips, seed=0)
    split.check_disjoint()
    assert set(Counter(c.label for c in split.train)) == set(spec.labels)


@pytest.mark.shared
def test_task_sources_follow_the_declared_rules(shared_dir: Path) -> None:
    source = build_task_dataset("source", shared_dir)
    by_label = Counter(c.label for c in source)
    assert by_label["human_speech"] == 600  # capped, round-robin over the 6 speakers
    speakers = Counter(c.group for c in source if c.label == "human_speech")
    assert len(speakers) == 6 and max(speakers.values()) - min(speakers.values()) <= 1
    naya_copies = {
        (shared_dir / "data" / "naya" / row["path"]).resolve()
        for row in read_manifest_rows(shared_dir / "data" / "naya" / "manifest.csv")
        if row["cross_dataset_overlap"] == "yes"
    }
    assert len(naya_copies) > 50
    assert not naya_copies & {c.path for c in source}  # the catsdogs copy stands for them
    infant = build_task_dataset("infant-cry", shared_dir)
    assert all("/curated/" in str(c.path) for c in infant)
    bark = build_task_dataset("dog-bark", shared_dir)
    assert {c.source_label for c in bark if c.label == "bark"} == {"dog"}
    assert "dog" not in {c.source_label for c in bark if c.label == "non_bark"}


def test_the_train_command_keeps_one_split_per_run_folder(tmp_path: Path) -> None:
    """Runs of one folder share its split.csv, so a run asking for a split balanced otherwise is
    refused before it trains, instead of silently reusing the folder's split."""
    import json

    from typer.testing import CliRunner

    from miao.cli import app

    base = tmp_path / "runs"
    (base / "mfcc_cnn").mkdir(parents=True)
    (base / "split.csv").write_text("split,path,label,group,dataset\n")
    (base / "mfcc_cnn" / "config.json").write_text(json.dumps({"training": {"seed": 0}}))
    args = ["train", "source", "--arch", "yamnet_dnn", "--out", str(base)]
    result = CliRunner().invoke(app, [*args, "--split-strata", "source_label"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "'split_strata': 'label'" in said and "'split_strata': 'source_label'" in said
    result = CliRunner().invoke(app, [*args, "--leave-out-dataset", "catmeows"])
    assert result.exit_code == 2 and "'leave_out_datasets': ['catmeows']" in " ".join(
        result.output.split()
    )
    result = CliRunner().invoke(app, ["train", "source", "--arch", "ast", "--clip-mean"])
    assert result.exit_code == 2 and "--clip-mean is for --arch mfcc_cnn" in result.output
    assert sorted(p.name for p in base.iterdir()) == ["mfcc_cnn", "split.csv"]
