"""``miao eval synth``: does generated audio sound like cats, in the asked mood, and varied?

Judged by the project's own shipped labellers (``ml.registry``): ``source`` says whether a clip
is a cat, ``cat-emotion`` which mood. Fixed seeds (0…n-1), so two runs on the same weights give
the same figures. Style transfer is judged on held-out speakers only (never trained on).
Diversity is the mean pairwise L1 distance between synthesis log-mels of different-seed clips of
one mood, beside the same distance between real naya test clips of those moods (first 2 s,
padded with silence), so "different seeds differ" has a yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.registry import WEIGHTS_FILE, Labeller, ModelNotFoundError, load_labeller
from ml.synth.corpus import HELD_OUT_SPEAKERS, load_cats, load_voices
from ml.synth.emotion import MOODS, mood_index
from ml.synth.mel import frames_for, log_mel, loudness_envelope, pearson
from ml.synth.pipeline import MeowSynthesiser, VoiceToCat
from ml.synth.prior import SILENT_FRAME

EVAL_MOODS = ("happy", "curious", "sleepy")
SECONDS = 2.0
VOCODED_PER_MOOD = 10
YAMNET_CAT_THRESHOLD = 0.2


def mel_distance(a: np.ndarray, b: np.ndarray, seconds: float = SECONDS) -> float:
    """Mean absolute difference of two clips' log-mels over the first ``seconds``."""
    frames = frames_for(round(seconds * 16000))

    def fixed(wave: np.ndarray) -> torch.Tensor:
        mel = log_mel(wave)[:, :frames]
        pad = frames - mel.shape[-1]
        return torch.nn.functional.pad(mel, (0, pad), value=float(SILENT_FRAME)) if pad else mel

    return float((fixed(a) - fixed(b)).abs().mean())


def mean_pairwise(waves: list[np.ndarray]) -> float:
    return float(np.mean([mel_distance(a, b) for a, b in combinations(waves, 2)]))


def source_controls(source: Any, cats: Any, lengths: list[int]) -> dict[str, float]:
    """How the ``source`` labeller treats things whose answer is known, beside the figures.

    Real cat clips cut to the style inputs' lengths (a cat that is short) and white noise of the
    generated clips' length (not a cat at all): if the first is rarely "cat" and the second
    often is, "called cat" measures clip length more than cat-likeness.
    """
    test = cats.indices("test")
    short = [cats.wave(int(i))[:n] for i, n in zip(test, lengths, strict=False)]
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 0.1, round(SECONDS * 16000)).astype(np.float32) for _ in range(10)]
    return {
        "short_real_cat_share": float(
            np.mean([p.label == "cat" for p in source.predict_many(short)])
        ),
        "noise_cat_share": float(np.mean([p.label == "cat" for p in source.predict_many(noise)])),
    }


def vocoded_real(
    synth: MeowSynthesiser,
    source: Any,
    real_by_mood: dict[str, list[np.ndarray]],
    tick: Callable[[str, int, int], None],
) -> dict[str, float]:
    """The WaveNet alone, judged: real test clips' own log-mels rendered by it, called cat?

    Separates the two halves of synthesis: if real contours, vocoded, are no longer cat, the
    WaveNet loses what the mel prior could give it. Each mood's first clips, with its vector.
    """
    chosen = [(mood, w) for mood, waves in real_by_mood.items() for w in waves[:VOCODED_PER_MOOD]]
    rendered = []
    for n, (mood, wave) in enumerate(chosen):
        emotion = synth.emotion_vector(mood, None)
        rendered.append(synth.vocode(log_mel(wave), emotion, len(wave), seed=n))
        tick("vocoding real clips", n + 1, len(chosen))
    originals = [wave for _, wave in chosen]
    return {
        "clips": len(chosen),
        "cat_share": float(np.mean([p.label == "cat" for p in source.predict_many(rendered)])),
        "original_cat_share": float(
            np.mean([p.label == "cat" for p in source.predict_many(originals)])
        ),
    }


def mood_pool(cats: Any, part: str, mood: str, n: int) -> list[int]:
    """The first ``n`` naya clips of ``mood`` in a split part (indices into ``cats``)."""
    label = mood_index(mood)
    return [int(i) for i in cats.indices(part) if cats.labels[i] == label][:n]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a share of ``n`` clips.

    30 clips a mood and 90 in all move a share by 0.03 and 0.011 a clip: a figure one clip under
    its target, or one that moves between machines by a clip, is read with this beside it.
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def three_mood_matches(predictions: list[Any], asked: list[str]) -> list[bool]:
    """Per clip: is the asked mood (display name or naya label) the one the ``cat-emotion``
    labeller finds likeliest among happy, curious and sleepy (chance: one in three)?"""
    three = [MOODS[mood_index(m)] for m in EVAL_MOODS]
    return [
        MOODS[mood_index(a)] == max(three, key=lambda lab, p=p: p.probabilities[lab])
        for a, p in zip(asked, predictions, strict=True)
    ]


def per_mood_shares(matches: list[bool], per_mood: int) -> dict[str, float]:
    """The share of matches per mood, for clips made ``per_mood`` at a time in EVAL_MOODS order."""
    return {
        mood: float(np.mean(matches[i * per_mood : (i + 1) * per_mood]))
        for i, mood in enumerate(EVAL_MOODS)
    }


def yamnet_cat_share(yamnet: Any, waves: list[np.ndarray]) -> float:
    """Share of clips where YAMNet's best cat class scores >= 0.2 and beats dog, baby cry, speech.

    An independent judge (AudioSet-trained, never saw this project's data); the threshold keeps
    white noise (cat score about 0.04) out. Real naya clips pass far from always (see the data
    README: a cat class reaches 0.3 on 39 % of them), so read it beside ``real_cat_share``.
    """
    wins = []
    for wave in waves:
        scores = yamnet.scores(wave).source_scores()
        others = max(v for k, v in scores.items() if k != "cat")
        wins.append(scores["cat"] >= max(YAMNET_CAT_THRESHOLD, others))
    return float(np.mean(wins))


SELECTION_FIRST_SEED = 1000
"""Seeds from here on are for choosing settings (scripts/contour_sweep.py and the like); the
evaluation's are 0 to ``per_mood - 1``, so a choice never sees the clips it is judged on."""


def judge_renderings(
    clips: list[np.ndarray],
    asked: list[str],
    source: Any,
    emotion: Any,
    yamnet: Any | None,
    per_mood: int,
) -> dict[str, Any]:
    """How ``miao eval synth``'s judges see one set of renderings of the three moods (``asked``
    in clip order, ``per_mood`` each): called cat, the ``source`` labels, mood match overall and
    per mood, and YAMNet's cat share where YAMNet is present."""
    labels = [p.label for p in source.predict_many(clips)]
    matches = three_mood_matches(emotion.predict_many(clips), asked)
    return {
        "cat_share": float(np.mean([label == "cat" for label in labels])),
        "source_labels": {k: labels.count(k) for k in sorted(set(labels))},
        "mood_match": float(np.mean(matches)),
        "mood_match_per_mood": per_mood_shares(matches, per_mood),
        "yamnet_cat_share": None if yamnet is None else yamnet_cat_share(yamnet, clips),
    }


def catify_all(
    style: VoiceToCat,
    voices: list[np.ndarray],
    strength: float | None = None,
    tick: Callable[[str, int, int], None] | None = None,
) -> tuple[list[np.ndarray], float]:
    """Style transfers of ``voices`` (moods cycling happy, curious, sleepy; seed = index) and
    rhythm kept: the mean Pearson r of input and output loudness envelopes."""
    outputs, rs = [], []
    for n, voice in enumerate(voices):
        out = style.catify(voice, mood=EVAL_MOODS[n % len(EVAL_MOODS)], seed=n, strength=strength)
        outputs.append(out.wave)
        rs.append(pearson(loudness_envelope(voice), loudness_envelope(out.wave)))
        if tick:
            tick("style transfer", n + 1, len(voices))
    return outputs, float(np.mean(rs))


def load_yamnet() -> Any | None:
    """The shared YAMNet model, or None where it (or a TFLite interpreter) is missing."""
    from ml.embeddings import Yamnet, YamnetUnavailableError

    try:
        return Yamnet()
    except (YamnetUnavailableError, OSError):
        return None


JUDGE_TASKS = ("source", "cat-emotion")


def _labeller(task: str) -> Any | None:
    try:
        return load_labeller(task)
    except ModelNotFoundError:
        return None


def load_judges(judges_dir: Path | None = None) -> dict[str, Labeller | None]:
    """The labellers that judge: the shipped ones (``None`` where one is missing), or those of a
    weights folder ``judges_dir`` (its ``source/`` and ``cat-emotion/``, both required), so a
    figure can be measured again by the judges of an earlier session. Loaded once per process
    (:func:`ml.registry.load_labeller`), so checking a folder first costs no second load."""
    if judges_dir is None:
        return {task: _labeller(task) for task in JUDGE_TASKS}
    missing = [t for t in JUDGE_TASKS if not (judges_dir / t / WEIGHTS_FILE).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"{judges_dir}: no {' or '.join(missing)} model to judge with "
            f"(expected {judges_dir}/<task>/{WEIGHTS_FILE})"
        )
    return {task: load_labeller(task, judges_dir) for task in JUDGE_TASKS}


def evaluate_synth(
    cache_dir: Path,
    per_mood: int = 30,
    transfers: int = 30,
    progress: Callable[[str, int, int], None] | None = None,
    judges_dir: Path | None = None,
) -> dict[str, Any]:
    """All figures of ``miao eval synth`` as one dict (``None`` where a labeller is missing).

    ``judges_dir``: judge with that weights folder's labellers instead of the shipped ones.
    """
    tick = progress or (lambda stage, done, total: None)
    judges = load_judges(judges_dir)
    source, emotion = judges["source"], judges["cat-emotion"]
    synth = MeowSynthesiser()
    style = VoiceToCat()
    report: dict[str, Any] = {
        "models": {
            "wavenet": synth.model_id,
            "emotion-encoder": synth.emotion_model_id,
            "style-gan": style.model_id,
        },
        "labellers": {
            name: lab.model_id
            for name, lab in (("source", source), ("cat-emotion", emotion))
            if lab
        },
        "missing_labellers": [
            name for name, lab in (("source", source), ("cat-emotion", emotion)) if lab is None
        ],
        "per_mood": per_mood,
        "transfers": transfers,
        "seconds": SECONDS,
    }

    generated: dict[str, list[np.ndarray]] = {}
    total = per_mood * len(EVAL_MOODS)
    for m, mood in enumerate(EVAL_MOODS):
        generated[mood] = []
        for seed in range(per_mood):
            generated[mood].append(synth.synthesize(mood, SECONDS, seed=seed).wave)
            tick("generating meows", m * per_mood + seed + 1, total)
    waves = [w for mood in EVAL_MOODS for w in generated[mood]]
    asked = [mood for mood in EVAL_MOODS for _ in generated[mood]]
    contour_waves: list[np.ndarray] = []  # the same contours by Griffin-Lim, if a judge needs them

    if source is not None:
        labels = [p.label for p in source.predict_many(waves)]
        report["cat_share"] = float(np.mean([label == "cat" for label in labels]))
        report["source_labels"] = {k: labels.count(k) for k in sorted(set(labels))}
    else:
        report["cat_share"] = None
    if emotion is not None:
        predictions = emotion.predict_many(waves)
        matches = three_mood_matches(predictions, asked)
        report["mood_match"] = float(np.mean(matches))
        report["mood_match_per_mood"] = per_mood_shares(matches, per_mood)
        report["mood_match_10_class"] = float(
            np.mean(
                [MOODS[mood_index(a)] == p.label for a, p in zip(asked, predictions, strict=True)]
            )
        )
        # Diagnostic: the same mel contours rendered by Griffin-Lim instead of the WaveNet.
        contour_waves = [
            synth.synthesize(mood, SECONDS, seed=seed, vocoder="griffin-lim").wave
            for mood in EVAL_MOODS
            for seed in range(per_mood)
        ]
        contour_matches = three_mood_matches(emotion.predict_many(contour_waves), asked)
        report["contour_griffin_lim"] = {
            "mood_match": float(np.mean(contour_matches)),
            "cat_share": None
            if source is None
            else float(np.mean([p.label == "cat" for p in source.predict_many(contour_waves)])),
        }
    else:
        report["mood_match"] = None

    tick("diversity", 0, 1)
    report["diversity"] = float(np.mean([mean_pairwise(generated[m]) for m in EVAL_MOODS]))
    cats = load_cats(cache_dir)
    real, real_waves = [], []
    real_by_mood: dict[str, list[np.ndarray]] = {}
    for mood in EVAL_MOODS:
        pool = mood_pool(cats, "test", mood, per_mood)
        real_by_mood[mood] = [cats.wave(i)[: round(SECONDS * 16000)] for i in pool]
        real_waves += real_by_mood[mood]
        real.append(mean_pairwise([cats.wave(i) for i in pool]))
    report["real_diversity"] = float(np.mean(real))
    tick("diversity", 1, 1)
    if source is not None:
        report["vocoded_real"] = vocoded_real(synth, source, real_by_mood, tick)

    voices = load_voices(cache_dir)
    held_out = voices.indices("test")
    chosen = np.random.default_rng(0).choice(
        held_out, size=min(transfers, len(held_out)), replace=False
    )
    inputs = [voices.wave(int(i)) for i in chosen]
    outputs, report["rhythm_r"] = catify_all(style, inputs, tick=tick)
    report["held_out_speakers"] = list(HELD_OUT_SPEAKERS)
    if source is not None:
        labels = [p.label for p in source.predict_many(outputs)]
        report["style_cat_share"] = float(np.mean([label == "cat" for label in labels]))
        report["style_source_labels"] = {k: labels.count(k) for k in sorted(set(labels))}
        report["style_input_cat_share"] = float(
            np.mean([p.label == "cat" for p in source.predict_many(inputs)])
        )
        report["controls"] = source_controls(source, cats, [len(w) for w in inputs])
    else:
        report["style_cat_share"] = None
    counted = {"cat_share": len(waves), "mood_match": len(waves), "style_cat_share": len(outputs)}
    report["intervals_95"] = {
        key: wilson_interval(round(report[key] * n), n)
        for key, n in counted.items()
        if report.get(key) is not None
    }
    yamnet = load_yamnet()
    if yamnet is not None:
        tick("YAMNet second opinion", 0, 1)
        report["yamnet"] = {
            "generated_cat_share": yamnet_cat_share(yamnet, waves),
            "contour_griffin_lim_cat_share": yamnet_cat_share(yamnet, contour_waves)
            if contour_waves
            else None,
            "real_cat_share": yamnet_cat_share(yamnet, real_waves),
            "style_cat_share": yamnet_cat_share(yamnet, outputs),
            "style_input_cat_share": yamnet_cat_share(yamnet, inputs),
        }
        tick("YAMNet second opinion", 1, 1)
    return report
