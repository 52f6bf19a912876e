"""Datasets from manifests, and seeded group splits that never put one group on two sides.

Every dataset folder in ``<shared>/data/`` has a ``manifest.csv`` (``path,label,group,duration_s,
sample_rate,source,…``); the running system's dataset export uses the same columns. Rows become
:class:`Clip` objects; :func:`build_task_dataset` maps them into a task's label set
(``ml.tasks``); :func:`group_split` splits by group, stratified by label as far as whole groups
allow, and :func:`write_split` / :func:`read_split` keep the split on disk so training and
evaluation see the same one.

Group ids are made global: ``ndcNNNN`` near-duplicate clusters are shared by naya and catsdogs on
purpose and are kept as they are; ids that already carry a namespace (``naya:…``, ``esc50:…``)
are kept; bare ids (a cat id, a speaker, an app uuid) get ``<dataset>:`` in front so two datasets'
"george"s never merge by accident.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ml.tasks import LabelSource, TaskSpec, get_task

SPLIT_NAMES = ("train", "val", "test")
_REPO_ROOT = Path(__file__).resolve().parents[1]


def default_shared_dir() -> Path:
    """``$MIAO_SHARED_DIR`` if set, else ``../shared`` beside the repository."""
    env = os.environ.get("MIAO_SHARED_DIR")
    return Path(env) if env else (_REPO_ROOT.parent / "shared").resolve()


def data_dir(shared_dir: str | Path | None = None) -> Path:
    """The folder that holds one sub-folder per dataset (``<shared>/data``)."""
    return Path(shared_dir or default_shared_dir()) / "data"


@dataclass(frozen=True)
class Clip:
    """One audio file with its task label and the group it must stay with."""

    path: Path
    label: str
    group: str
    dataset: str
    duration_s: float = float("nan")
    sample_rate: int = 0
    source_label: str = ""
    license: str = ""


def global_group(dataset: str, group: str) -> str:
    """Make a manifest group id unique across datasets (see the module docstring)."""
    group = group.strip()
    if not group:
        raise ValueError(f"{dataset}: empty group id")
    if group.startswith("ndc") or ":" in group:
        return group
    return f"{dataset}:{group}"


def list_datasets(shared_dir: str | Path | None = None) -> list[str]:
    """Names of the dataset folders that have a ``manifest.csv``."""
    root = data_dir(shared_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no shared data folder at {root} (set MIAO_SHARED_DIR)")
    return sorted(p.parent.name for p in root.glob("*/manifest.csv"))


def read_manifest_rows(csv_path: str | Path) -> list[dict[str, str]]:
    """The rows of a manifest (or export) CSV; checks the columns every consumer relies on."""
    csv_path = Path(csv_path)
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label", "group"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value not in (None, "") else 0
    except ValueError:
        return 0


def _row_clip(row: dict[str, str], base: Path, dataset: str, label: str) -> Clip:
    path = Path(row["path"])
    return Clip(
        path=path if path.is_absolute() else base / path,
        label=label,
        group=global_group(dataset, row["group"]),
        dataset=dataset,
        duration_s=_float(row.get("duration_s")),
        sample_rate=_int(row.get("sample_rate")),
        source_label=row["label"],
        license=row.get("license", ""),
    )


def clips_from_csv(csv_path: str | Path, dataset: str | None = None) -> list[Clip]:
    """Clips of a manifest or an export CSV, labels as written (paths relative to the CSV).

    ``dataset`` defaults to a ``dataset`` column when the CSV has one, else the folder name.
    """
    csv_path = Path(csv_path)
    base = csv_path.parent.resolve()
    rows = read_manifest_rows(csv_path)
    return [
        _row_clip(row, base, dataset or row.get("dataset") or base.name, row["label"])
        for row in rows
    ]


def manifest_clips(dataset: str, shared_dir: str | Path | None = None) -> list[Clip]:
    """Every row of one shared dataset, with its own (manifest) labels."""
    csv_path = data_dir(shared_dir) / dataset / "manifest.csv"
    if not csv_path.is_file():
        known = ", ".join(list_datasets(shared_dir))
        raise FileNotFoundError(
            f"no manifest for dataset {dataset!r} at {csv_path}; known: {known}"
        )
    return clips_from_csv(csv_path, dataset)


def _stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _cap_round_robin(rows: list[dict[str, str]], max_rows: int) -> list[dict[str, str]]:
    """Keep ``max_rows`` rows, one group at a time in a fixed hashed order (deterministic)."""
    by_group: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: _stable_key(r["path"])):
        by_group[row["group"]].append(row)
    queues = [by_group[g] for g in sorted(by_group, key=_stable_key)]
    kept: list[dict[str, str]] = []
    depth = 0
    while len(kept) < max_rows and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(kept) < max_rows:
                kept.append(queue[depth])
        depth += 1
    return kept


def source_clips(source: LabelSource, shared_dir: str | Path | None = None) -> list[Clip]:
    """The clips one :class:`LabelSource` contributes, labelled in the task's label set."""
    csv_path = data_dir(shared_dir) / source.dataset / "manifest.csv"
    rows = read_manifest_rows(csv_path)
    for column in source.where:
        if rows and column not in rows[0]:
            raise ValueError(f"{csv_path}: filter column {column!r} is not in the manifest")
    rows = [
        row
        for row in rows
        if row["label"] in source.labels
        and all(row[col] in allowed for col, allowed in source.where.items())
    ]
    if source.max_rows is not None and len(rows) > source.max_rows:
        rows = _cap_round_robin(rows, source.max_rows)
    base = csv_path.parent.resolve()
    return [_row_clip(row, base, source.dataset, source.labels[row["label"]]) for row in rows]


def build_task_dataset(
    task: str | TaskSpec,
    shared_dir: str | Path | None = None,
    *,
    extra: Iterable[Clip] = (),
) -> list[Clip]:
    """All clips of a task from the shared manifests, plus ``extra`` clips already in its labels.

    ``extra`` is for the running system's dataset export (:func:`clips_from_csv`): its rows are
    kept when their label is one of the task's labels. Order is deterministic.
    """
    spec = get_task(task) if isinstance(task, str) else task
    clips: list[Clip] = []
    for source in spec.sources:
        clips.extend(source_clips(source, shared_dir))
    clips.extend(clip for clip in extra if clip.label in spec.labels)
    unknown = {c.label for c in clips} - set(spec.labels)
    if unknown:
        raise ValueError(f"{spec.name}: labels outside the task's set: {sorted(unknown)}")
    return clips


@dataclass(frozen=True)
class TaskRows:
    """A manifest's rows in one task's labels, and what was left out, counted."""

    clips: list[Clip]
    dropped_labels: dict[str, int]
    """Rows whose label is not one of the task's, per label as written."""
    filtered: int
    """Rows left out by the shared dataset's filters (``as_dataset``)."""
    model_labelled: int
    """Rows whose label a model gave (``label_origin = model`` in the dataset export)."""


def task_clips_from_csv(
    csv_path: str | Path,
    task: str | TaskSpec,
    as_dataset: str | None = None,
    human_labels_only: bool = False,
) -> TaskRows:
    """A manifest's clips in a task's labels.

    Without ``as_dataset`` a row is kept when its label is one of the task's (the dataset
    export, or recordings labelled for the task). With it, the rows are read as more of that
    shared dataset: its labels map, and its filters apply, as when the task trains on it (new
    naya cats are ``cat`` for ``source``). ``human_labels_only`` leaves out the export's rows
    whose label a model gave: scoring a model on them would score it on its own answers.
    Paths are relative to the CSV.
    """
    spec = get_task(task) if isinstance(task, str) else task
    csv_path = Path(csv_path)
    rows = read_manifest_rows(csv_path)
    base = csv_path.parent.resolve()
    if as_dataset is None:
        mapping: Mapping[str, str] = {label: label for label in spec.labels}
        where: Mapping[str, tuple[str, ...]] = {}
        dataset = None
    else:
        sources = [s for s in spec.sources if s.dataset == as_dataset]
        if not sources:
            known = ", ".join(sorted({s.dataset for s in spec.sources}))
            raise ValueError(f"{spec.name} does not read {as_dataset!r}; it reads {known}")
        (source,) = sources
        mapping, where, dataset = source.labels, source.where, as_dataset
        for column in where:
            if rows and column not in rows[0]:
                raise ValueError(
                    f"{csv_path}: {spec.name} reads {as_dataset} rows by their {column!r} "
                    "column, which this manifest lacks"
                )
    kept: list[Clip] = []
    dropped: Counter[str] = Counter()
    filtered = model_labelled = 0
    for row in rows:
        if row["label"] not in mapping:
            dropped[row["label"]] += 1
        elif not all(row.get(c) in v for c, v in where.items()):
            filtered += 1
        elif human_labels_only and row.get("label_origin") == "model":
            model_labelled += 1
        else:
            name = dataset or row.get("dataset") or base.name
            kept.append(_row_clip(row, base, name, mapping[row["label"]]))
    return TaskRows(kept, dict(sorted(dropped.items())), filtered, model_labelled)


def class_counts(clips: Iterable[Clip]) -> dict[str, int]:
    """Clips per label, labels sorted."""
    counts = Counter(c.label for c in clips)
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class Split:
    """Train / validation / test clips; no group appears in two of them."""

    train: tuple[Clip, ...]
    val: tuple[Clip, ...]
    test: tuple[Clip, ...]
    seed: int | None = None

    def parts(self) -> dict[str, tuple[Clip, ...]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def groups(self, name: str) -> set[str]:
        return {c.group for c in self.parts()[name]}

    def counts(self) -> dict[str, dict[str, int]]:
        """Clips per label in each part."""
        return {name: class_counts(clips) for name, clips in self.parts().items()}

    def check_disjoint(self) -> None:
        """Raise if a group (or a file) is on two sides."""
        seen: dict[str, str] = {}
        paths: dict[Path, str] = {}
        for name, clips in self.parts().items():
            for clip in clips:
                other = seen.setdefault(clip.group, name)
                if other != name:
                    raise ValueError(f"group {clip.group!r} is in both {other} and {name}")
                other = paths.setdefault(clip.path, name)
                if other != name:
                    raise ValueError(f"file {clip.path} is in both {other} and {name}")


STRATA = ("label", "source_label")
"""What :func:`group_split` balances across the parts: the label alone, or the label and each
dataset's own finer label (``source_label``: a cat's situation, a noise's kind), so that a label
made of a few big recordings and many small ones (``other`` in ``source``: one room's silence,
two laughs, dozens of ESC-50 noises) does not fill its training share with the big ones."""


def stratum_of(clip: Clip, strata: str = "label") -> str:
    """The key :func:`group_split` balances for ``clip`` (see :data:`STRATA`)."""
    if strata == "label":
        return clip.label
    if strata == "source_label":
        return f"{clip.label}|{clip.dataset}|{clip.source_label}"
    raise ValueError(f"strata must be one of {STRATA}, not {strata!r}")


def group_split(
    clips: Sequence[Clip],
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    strata: str = "label",
) -> Split:
    """Split whole groups into train/val/test, stratified as far as groups allow.

    Groups are visited largest first (random order among groups of similar size, from
    ``seed``) and each goes to the part whose share of that group's strata (its labels, or its
    labels and source labels: :data:`STRATA`) is filled least, relative to the part's target
    fraction. Same clips + same seed give the same split.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    if strata not in STRATA:
        raise ValueError(f"strata must be one of {STRATA}, not {strata!r}")
    rng = random.Random(seed)
    by_group: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_group[clip.group].append(clip)
    stratum_totals = Counter(stratum_of(c, strata) for c in clips)
    total = max(len(clips), 1)

    names = sorted(by_group)
    rng.shuffle(names)
    names.sort(key=lambda g: -math.floor(math.log2(len(by_group[g]))))  # stable: keeps shuffle

    active = [i for i, f in enumerate(fractions) if f > 0]
    assigned: list[Counter[str]] = [Counter() for _ in SPLIT_NAMES]
    sizes = [0, 0, 0]
    parts: list[list[Clip]] = [[], [], []]
    for name in names:
        members = by_group[name]
        counts = Counter(stratum_of(c, strata) for c in members)
        order = active[:]
        rng.shuffle(order)  # random tie-break

        def fill(i: int, counts: Counter[str] = counts, n: int = len(members)) -> float:
            label_fill = sum(
                k * (assigned[i][lab] + k) / (fractions[i] * stratum_totals[lab])
                for lab, k in counts.items()
            ) / sum(counts.values())
            return label_fill + 0.1 * (sizes[i] + n) / (fractions[i] * total)

        best = min(order, key=fill)
        assigned[best].update(counts)
        sizes[best] += len(members)
        parts[best].extend(members)

    def ordered(part: list[Clip]) -> tuple[Clip, ...]:
        return tuple(sorted(part, key=lambda c: (c.dataset, str(c.path))))

    split = Split(ordered(parts[0]), ordered(parts[1]), ordered(parts[2]), seed=seed)
    split.check_disjoint()
    return split


_SPLIT_COLUMNS = (
    "split",
    "path",
    "label",
    "group",
    "dataset",
    "duration_s",
    "sample_rate",
    "source_label",
    "license",
)


def write_split(split: Split, path: str | Path, root: str | Path | None = None) -> Path:
    """Write the split as CSV (one row per clip); paths relative to ``root`` (default: shared dir).

    Written to a temporary file and renamed, so a failure leaves no half-written split.
    """
    path = Path(path)
    root = Path(root or default_shared_dir()).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_SPLIT_COLUMNS)
        for name, clips in split.parts().items():
            for c in clips:
                try:
                    shown = c.path.resolve().relative_to(root).as_posix()
                except ValueError:
                    shown = str(c.path)
                writer.writerow(
                    (
                        name,
                        shown,
                        c.label,
                        c.group,
                        c.dataset,
                        f"{c.duration_s:.3f}",
                        c.sample_rate,
                        c.source_label,
                        c.license,
                    )
                )
    tmp.replace(path)
    return path


def read_split(path: str | Path, root: str | Path | None = None) -> Split:
    """Read a split written by :func:`write_split` (relative paths resolved against ``root``)."""
    root = Path(root or default_shared_dir())
    parts: dict[str, list[Clip]] = {name: [] for name in SPLIT_NAMES}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["split"] not in parts:
                raise ValueError(f"{path}: unknown split {row['split']!r}")
            clip_path = Path(row["path"])
            parts[row["split"]].append(
                Clip(
                    path=clip_path if clip_path.is_absolute() else root / clip_path,
                    label=row["label"],
                    group=row["group"],
                    dataset=row["dataset"],
                    duration_s=_float(row["duration_s"]),
                    sample_rate=_int(row["sample_rate"]),
                    source_label=row["source_label"],
                    license=row["license"],
                )
            )
    split = Split(tuple(parts["train"]), tuple(parts["val"]), tuple(parts["test"]))
    split.check_disjoint()
    return split
