"""The five labelling tasks: their fixed label sets and which manifest rows feed each one.

A task's label set never changes once a model ships (the on-chain label is an index into it and
a name), so it lives here, declared, not inferred from data. Each :class:`LabelSource` says which
rows of one dataset's ``manifest.csv`` a task takes (``where``: column → allowed values), how
their manifest labels map to task labels, and an optional deterministic cap (``max_rows``).
Everything is plain data so a model card can print exactly what its model was trained on.

Caveats that hold for every task built from ``../shared/data``:

- 8 kHz sources (catmeows, donateacry, speech-fsdd) have nothing above 4 kHz after resampling.
  In ``source`` and ``dog-bark`` the classes come from different datasets, so the band-limit can
  stand in for the class; train with a random 4 kHz lowpass (``ml.augment``) and check it.
- naya and catsdogs share near-duplicate clusters: the same ``ndcNNNN`` group id appears in both
  manifests, so a group split keeps the copies together. Tasks that take cats from both drop
  naya's copies (``cross_dataset_overlap = yes``) to avoid counting one recording twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NAYA_LABELS = (
    "angry",
    "defence",
    "fighting",
    "happy",
    "hunting_mind",
    "mating",
    "mother_call",
    "paining",
    "resting",
    "warning",
)
CATMEOWS_LABELS = ("brushing", "isolation", "waiting_for_food")
INFANT_CRY_LABELS = ("hungry", "belly_pain", "burping", "discomfort", "tired")
NOISE_NON_CRY = ("silence", "noise", "baby_laugh")
NOISE_ALL = (*NOISE_NON_CRY, "baby_cry")
DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class LabelSource:
    """Rows of one dataset's manifest that feed a task, and how their labels map.

    ``where`` keeps only rows whose column holds one of the listed values; ``max_rows`` keeps
    at most that many rows, taken round-robin over groups in a fixed order (no seed needed), so
    a large homogeneous set (e.g. 3,000 spoken digits) cannot swamp a class.
    """

    dataset: str
    labels: Mapping[str, str]
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_rows: int | None = None
    note: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """A labelling task: its label order (= model output order) and its training rows."""

    name: str
    labels: tuple[str, ...]
    sources: tuple[LabelSource, ...]
    description: str
    display_names: Mapping[str, str]
    positive_label: str | None = None  # the class whose F1 is the headline (binary tasks)

    def display(self, label: str) -> str:
        """The name users see for a label (e.g. ``hunting_mind`` → ``curious``)."""
        return self.display_names.get(label, label)

    def index(self, label: str) -> int:
        return self.labels.index(label)


def _same(labels: tuple[str, ...]) -> dict[str, str]:
    return {label: label for label in labels}


def _all_to(labels: tuple[str, ...], target: str) -> dict[str, str]:
    return dict.fromkeys(labels, target)


_NAYA_WITHOUT_KAGGLE_COPIES = {"cross_dataset_overlap": ("no",)}
_DONATEACRY_CURATED = {"curated": ("yes",)}

SOURCE = TaskSpec(
    name="source",
    labels=("cat", "dog", "infant_cry", "human_speech", "other"),
    description=(
        "What made the sound. Routes an upload to the task that fits it, and flags a 'cat' upload "
        "that is not a cat. cat = catsdogs cats + naya (without its copies of catsdogs clips) + "
        "catmeows; dog = catsdogs dogs (barking only); infant_cry = curated donateacry + "
        "noise_other baby_cry; human_speech = spoken digits of 6 male speakers (speech-fsdd, capped "
        "at 600 rows); other = noise_other silence (one room), ESC-50 noise and baby laughter. "
        "'other' is narrow: music, traffic, other animals are not in it."
    ),
    sources=(
        LabelSource("catsdogs", {"cat": "cat", "dog": "dog"}),
        LabelSource("naya", _all_to(NAYA_LABELS, "cat"), where=_NAYA_WITHOUT_KAGGLE_COPIES),
        LabelSource("catmeows", _all_to(CATMEOWS_LABELS, "cat")),
        LabelSource(
            "donateacry",
            _all_to(INFANT_CRY_LABELS, "infant_cry"),
            where=_DONATEACRY_CURATED,
            note="uncurated uploads are often not cries (the cleaning removed non-cries by ear)",
        ),
        LabelSource(
            "noise_other",
            {"baby_cry": "infant_cry", **_all_to(NOISE_NON_CRY, "other")},
        ),
        LabelSource("speech-fsdd", _all_to(DIGITS, "human_speech"), max_rows=600),
    ),
    display_names={
        "cat": "cat",
        "dog": "dog",
        "infant_cry": "infant cry",
        "human_speech": "human speech",
        "other": "other sound",
    },
)

CAT_EMOTION = TaskSpec(
    name="cat-emotion",
    labels=NAYA_LABELS,
    description=(
        "The situation a cat vocalization came from, shown to users as a mood. Labels are the "
        "NAYA/CatSound authors' reading of web clips, not observed emotions; 15 near-duplicate "
        "clusters carry two labels (label noise)."
    ),
    sources=(LabelSource("naya", _same(NAYA_LABELS)),),
    display_names={
        "angry": "angry",
        "defence": "defensive",
        "fighting": "fighting",
        "happy": "happy",
        "hunting_mind": "curious",
        "mating": "amorous",
        "mother_call": "motherly",
        "paining": "in pain",
        "resting": "sleepy",
        "warning": "warning",
    },
)

CAT_CONTEXT = TaskSpec(
    name="cat-context",
    labels=("brushing", "waiting_for_food", "isolation"),
    description=(
        "The context a meow was emitted in (CatMeows: 17 cats here, split by cat). All of "
        "catmeows is used: single meows, the longer sequences and the non-meow vocalizations "
        "(their label is still the context). Cat identity and context are confounded."
    ),
    sources=(LabelSource("catmeows", _same(CATMEOWS_LABELS)),),
    display_names={
        "brushing": "being brushed",
        "waiting_for_food": "waiting for food",
        "isolation": "alone somewhere new",
    },
)

DOG_BARK = TaskSpec(
    name="dog-bark",
    labels=("bark", "non_bark"),
    description=(
        "Is this a dog bark? bark = every catsdogs dog clip (all of them bark). The shared data "
        "holds no dog sound that is not a bark (no whines, growls or howls), so non_bark is, "
        "honestly, 'not a bark': catsdogs cats, naya cats (capped at 250, without the catsdogs "
        "copies), all of noise_other (room ambience, ESC-50 noise, baby laughter and cries) and "
        "spoken digits (capped at 150). It cannot tell a barking dog from a whining one."
    ),
    sources=(
        LabelSource("catsdogs", {"dog": "bark", "cat": "non_bark"}),
        LabelSource(
            "naya",
            _all_to(NAYA_LABELS, "non_bark"),
            where=_NAYA_WITHOUT_KAGGLE_COPIES,
            max_rows=250,
        ),
        LabelSource("noise_other", _all_to(NOISE_ALL, "non_bark")),
        LabelSource("speech-fsdd", _all_to(DIGITS, "non_bark"), max_rows=150),
    ),
    display_names={"bark": "barking", "non_bark": "not barking"},
    positive_label="bark",
)

INFANT_CRY = TaskSpec(
    name="infant-cry",
    labels=INFANT_CRY_LABELS,
    description=(
        "The reason a parent gave for an infant's cry (Donate-a-Cry, curated recordings only; "
        "uncurated uploads are often not cries). Labels are parents' guesses; hungry is 84 % of "
        "the rows, so report macro-F1 and balanced accuracy."
    ),
    sources=(LabelSource("donateacry", _same(INFANT_CRY_LABELS), where=_DONATEACRY_CURATED),),
    display_names={
        "hungry": "hungry",
        "belly_pain": "belly pain",
        "burping": "needs to burp",
        "discomfort": "uncomfortable",
        "tired": "tired",
    },
)

TASKS: dict[str, TaskSpec] = {
    task.name: task for task in (SOURCE, CAT_EMOTION, CAT_CONTEXT, DOG_BARK, INFANT_CRY)
}

SOURCE_ROUTES: dict[str, str] = {
    "cat": "cat-emotion",
    "dog": "dog-bark",
    "infant_cry": "infant-cry",
}
"""Which task labels a sound next, given its ``source`` label (others stop at ``source``)."""


def get_task(name: str) -> TaskSpec:
    """The task called ``name``; a clear error lists the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
