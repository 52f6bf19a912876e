"""Ship a trained run into ``ml/weights/<task>/`` with its model card, metrics and confusion PNG.

The card is generated from the evaluation report so that what it claims is what was measured:
the data (task sources and licences), the split (groups and clips per part), the group-held-out
test metrics of the AST beside the majority, MFCC-CNN and YAMNet-DNN baselines, and the limits.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from ml.augment import AUG_PRESETS, BAND_LIMIT_HZ
from ml.data import Split
from ml.evaluate import confusion_png, write_report
from ml.registry import ENSEMBLE_ARCH, WEIGHTS_FILE, sha256_file
from ml.tasks import get_task
from ml.train import best_epoch

TARGETS: dict[str, list[tuple[str, str, float]]] = {
    # (metric key, label, minimum) per task, from issue 4.
    "source": [("accuracy", "accuracy", 0.95)],
    "cat-emotion": [("macro_f1", "macro-F1", 0.75)],
    "cat-context": [("macro_f1", "macro-F1", 0.60)],
    "dog-bark": [("f1:bark", "bark F1", 0.95)],
    "infant-cry": [
        ("macro_f1", "macro-F1", 0.40),
        ("balanced_accuracy", "balanced accuracy", 0.45),
    ],
}

VAL_CHOICE = (
    "because it scored higher on the validation split (the choice was made on validation, "
    "before the test split was read)"
)
CV_CHOICE = (
    "because it scored higher in grouped cross-validation on the train + validation parts "
    "(see Cross-validation below; the choice was made before the test split was read)"
)
DRAWS_WORDS = {
    "sampler": "class-balanced draws per epoch",
    "loss": "draws per epoch at most (one shuffled pass when the training part is smaller: "
    "natural class frequencies, class-weighted loss)",
    "none": "draws per epoch at most (one shuffled pass when the training part is smaller: "
    "natural class frequencies, plain loss, no class balancing)",
}
"""How a run's epochs drew clips, by its ``balance`` setting."""
AUG_PRESET_WORDS = {
    "default": "time stretch, pitch shift, gain, background noise from noise_other without "
    "the validation/test recordings",
    "phone": "through a random narrowband phone codec at 8 kHz: GSM, Speex, IMA-ADPCM or µ-law",
    "device": f"a random seven-band EQ of up to ±{AUG_PRESETS['device'].eq_gain_db:g} dB a band, "
    "another device's frequency response, then a random narrowband phone codec at 8 kHz: GSM, "
    "Speex, IMA-ADPCM or µ-law",
    "band-limit": f"band-limited to {BAND_LIMIT_HZ:g} Hz, as an 8 kHz recording is",
}
"""What a run's cached augmented copies went through, by ``aug_preset`` (``ml.augment``)."""

_MODEL_NAMES = {
    "ensemble": "Ensemble (mean of its members)",
    "ast": "AST",
    "mfcc_cnn": "MFCC + VGG-style CNN",
    "yamnet_dnn": "YAMNet scores + DNN",
    "majority": "majority class",
}


def metric_value(result: dict[str, Any], key: str) -> float:
    if key.startswith("f1:"):
        return float(result["per_class"][key[3:]]["f1"])
    return float(result[key])


def _rows_table(rows: list[tuple[str, dict[str, Any]]], task: str) -> str:
    """A markdown table of (shown name, result) rows, with the task's per-class target columns."""
    extra = [(k, label) for k, label, _ in TARGETS.get(task, []) if k.startswith("f1:")]
    head = "| model | accuracy | macro-F1 | balanced accuracy |" + "".join(
        f" {label} |" for _, label in extra
    )
    lines = [head, "|---" * (4 + len(extra)) + "|"]
    for shown, r in rows:
        row = f"| {shown} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
        row += f"{r['balanced_accuracy']:.3f} |"
        row += "".join(f" {metric_value(r, k):.3f} |" for k, _ in extra)
        lines.append(row)
    return "\n".join(lines)


def _table(report: dict[str, Any], task: str, shipped: str) -> str:
    rows = [
        (_MODEL_NAMES[name] + (" **(shipped)**" if name == shipped else ""), report["models"][name])
        for name in ("ensemble", "ast", "mfcc_cnn", "yamnet_dnn", "majority")
        if name in report["models"]
    ]
    return _rows_table(rows, task)


def earlier_rows(
    previous: dict[str, Any], report: dict[str, Any], model_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """Rows of a task's previous ``metrics.json`` worth keeping beside a new report.

    Only when it scored the same test split (same clips, groups and labels): the model it
    shipped (unless that is ``model_id``, the one being shipped now), its own earlier rows, and
    any model the new report lacks, such as an AST whose run is gone. An earlier AST stays even
    beside a new one (they were trained differently), unless it scored exactly what the new
    report's AST scored: that is the same run again. Keyed by the row's name on the card.
    """
    same = all(previous.get(k) == report.get(k) for k in ("n_clips", "n_groups", "class_counts"))
    if not same or previous.get("part") != "test":
        return {}
    rows: dict[str, dict[str, Any]] = dict(previous.get("earlier", {}))
    shipped = previous.get("shipped")
    for name, result in previous.get("models", {}).items():
        if name == "majority" or name not in _MODEL_NAMES:
            continue
        if name == shipped:
            if previous.get("model_id") != model_id:
                rows[f"{_MODEL_NAMES[name]}, shipped before (id {previous['model_id'][:8]}…)"] = (
                    result
                )
        elif report["models"].get(name) == result:
            continue  # the same run, scored again
        elif name == "ast" or name not in report["models"]:
            _keep_run(rows, _MODEL_NAMES[name], result)
    return rows


def _keep_run(rows: dict[str, dict[str, Any]], model_name: str, result: dict[str, Any]) -> None:
    """Add a lost run's row; a second earlier run of the same model gets its own numbered row."""
    base = f"{model_name}, earlier run (weights not kept)"
    if rows.get(base, result) == result:
        rows[base] = result
        return
    number = 2
    while (key := f"{model_name}, earlier run no. {number} (weights not kept)") in rows:
        if rows[key] == result:
            return
        number += 1
    rows[key] = result


def _per_class(result: dict[str, Any]) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, m in result["per_class"].items():
        lines.append(
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['support']} |"
        )
    return "\n".join(lines)


def _describe(
    config: dict[str, Any],
    shipped: str,
    compared_with_ast: bool = True,
    by_cv: bool = False,
    member: bool = False,
) -> str:
    """What the model is (``member``: one model of an ensemble, which needs no why)."""
    model = config["model"]
    distill = float(config.get("training", {}).get("distill_weight") or 0.0)
    teacher = _teacher(model, distill, shipped)
    if shipped == "ast":
        size = model["size"]
        pre = config.get("pretrained")
        start = (
            "fine-tuned from this project's own self-supervised encoder (`miao pretrain`: "
            f"{pre['mask_ratio']:.0%} of the log-mel patches blanked and rebuilt, {pre['epochs']} "
            f"epochs on {pre['clips']} unlabelled clips without this task's validation and test "
            f"groups; encoder {str(pre['encoder_id'])[:12]}…; no outside pretrained weights)"
            if pre
            else "trained from scratch (no pretrained AST weights can be had here)"
        )
        return (
            f"`transformers` `ASTForAudioClassification` {start}: "
            f"{size['layers']} layers, hidden {size['hidden']}, "
            f"{size['heads']} heads, 16x16 patches with stride {size['stride']} (no overlap), on "
            "AST log-mel features (128 bins, 25 ms / 10 ms, AudioSet normalisation)." + teacher
        )
    why = (
        "one member of this ensemble"
        if member
        else f"shipped instead of the AST {CV_CHOICE if by_cv else VAL_CHOICE}"
        if compared_with_ast
        else "shipped without an AST beside it: no AST was trained with this split and these "
        "training settings, so the main table below has no AST row"
    )
    return (
        f"The MFCC + VGG-style CNN baseline (channels {model.get('channels')}), {why}; 40 MFCCs "
        "(25 ms / 10 ms), standardised with training-set statistics."
        + teacher
        + _donor(config)
        + _training_heads(config)
    )


def _teacher(model: dict[str, Any], distill: float, shipped: str) -> str:
    """What the YAMNet teacher taught: a second head beside the labels, or (a student, trained
    with ``--labels-from-teacher``) everything the convolutions learnt; "" without distillation."""
    if not distill:
        return ""
    pooled = "mean and max of its 521 AudioSet classes, on the same band-limited audio"
    if model.get("labels_from_teacher"):
        return (
            " A student of YAMNet (`--labels-from-teacher`): its convolutions learnt only to "
            f"predict the teacher's pooled clip scores ({pooled}; loss weight {distill:g}), and "
            f"the labels are read from those predicted scores by a perceptron "
            f"({model.get('label_hidden')} hidden units) behind a stop-gradient, so the label "
            "loss never shaped what the CNN listens for. The teacher ran in training only."
        )
    head = "a head on the AST's distillation token" if shipped == "ast" else "a second head"
    return (
        f" Distilled from YAMNet: {head} learnt the teacher's pooled clip scores ({pooled}) with "
        f"loss weight {distill:g}; the teacher ran in training only, and labelling uses the first "
        "head alone."
    )


# Training-only heads a CNN may have learnt beside its labels: config key -> what the card says.
TRAINING_HEADS: dict[str, str] = {
    "setup_adversary": (
        " Trained against a recording-setup adversary (loss weight {weight:g}, `ml/domain.py`): "
        "a head behind a gradient reversal learnt to name the dataset a clip came from, among "
        "the datasets that hold the clip's own label, pushing the CNN towards features in which "
        "they look alike; that head ran in training only."
    ),
    "sound_kind_weight": (
        " Trained with an auxiliary head (loss weight {weight:g}, `ml/sound_kind.py`) that named "
        "what made each clip (its label in the source task: cat, dog, infant_cry, human_speech, "
        "other), so the embedding keeps the kinds of sound a label lumps together; that head ran "
        "in training only."
    ),
}


def _training_heads(config: dict[str, Any]) -> str:
    """The training-only heads (``--setup-adversary``, ``--sound-kind``) a CNN had, if any."""
    training = config.get("training", {})
    return "".join(
        words.format(weight=float(training[key]))
        for key, words in TRAINING_HEADS.items()
        if float(training.get(key) or 0.0)
    )


def _donor(config: dict[str, Any]) -> str:
    """Where a CNN's convolutions started, when another task's model gave them (``--init-from``)."""
    pre = config.get("pretrained") or {}
    if "donor_model_id" not in pre:
        return ""
    scale = float(config.get("training", {}).get("features_lr_scale", 1.0))
    how = (
        "frozen"
        if scale == 0
        else "fine-tuned with the rest"
        if scale == 1
        else f"fine-tuned at {scale:g} x the learning rate"
    )
    return (
        f" Its convolutions started from the `{pre['donor_task']}` CNN "
        f"({str(pre['donor_model_id'])[:12]}…, `miao train --init-from`, `ml/transfer.py`) and "
        f"were {how}; the head started fresh."
    )


def _windows_and_front_end(config: dict[str, Any], weights_mb: float | None) -> str:
    """How a model cuts a clip into windows and conditions the wave (and its size, if given)."""
    front = config["front_end"]
    band = (
        f"band-limited to {front['band_limit_hz']} Hz by a round trip through "
        f"{2 * front['band_limit_hz']} Hz (so 8 kHz and 16 kHz sources look alike)"
        if front.get("band_limit_hz")
        else "full band"
    )
    size = "" if weights_mb is None else f" Weights: {weights_mb:.1f} MB (float32)."
    return (
        f"Windows of {config['input']['window_frames']} frames (10 ms each) taken\n"
        f"{config['input']['hop_frames']} frames apart (the last aligned to the clip's end); "
        f"a clip's\nprediction is the mean softmax over its windows.{size}\n"
        f"Front end: mono 16 kHz (soxr), {band}."
    )


def _training_line(training: dict[str, Any], best: dict[str, Any] | None) -> str:
    """The training recipe, and where early stopping found the best epoch (when recorded)."""
    draws = DRAWS_WORDS.get(training.get("balance", "sampler"), DRAWS_WORDS["sampler"])
    stop = (
        f"best epoch\n{best['epoch']} of {best['epochs_run']}: val macro-F1 "
        f"{best['val_macro_f1']:.3f}, balanced accuracy\n{best['val_balanced_accuracy']:.3f}"
        if best
        else "its training history was not kept with it"
    )
    return (
        f"Training: AdamW lr {training['lr']}, weight decay {training['weight_decay']}, batch "
        f"{training['batch_size']},\n{training['epoch_size'] or 'one pass of'} {draws}, "
        f"SpecAugment, mixup (alpha\n{training['mixup_alpha']}), random window crops; "
        f"{_averaged(training)}early "
        f"stopping on validation macro-F1 ({stop}); seed {training['seed']}, split seed "
        f"{training['split_seed']}.{_length_guard(training)}"
    )


def _averaged(training: dict[str, Any]) -> str:
    """The clause on a moving average of the weights (``--weight-ema``), if one was kept."""
    decay = float(training.get("weight_ema") or 0.0)
    if not decay:
        return ""
    return (
        f"an exponential moving average of the weights (decay {decay:g} per step) is what was "
        "validated and saved, not the last step's weights; "
    )


def _ensemble_section(config: dict[str, Any], weights_mb: float) -> str:
    """The Model section of an ensemble: how it combines, then each member as its own card would."""
    lines = [
        f"An ensemble of {len(config['members'])} models trained on the same split, shipped "
        f"{VAL_CHOICE}: a clip's prediction is the {config['model']['combine']}. Every "
        f"member's weights are in `model.safetensors` under `members.<i>.` ({weights_mb:.1f} MB "
        "in all, float32), so the id above names all of them.",
    ]
    for index, entry in enumerate(config["members"]):
        arch = entry["model"]["arch"]
        lines += [
            "",
            f"**Member {index}: {_MODEL_NAMES.get(arch, arch)}** (weights id "
            f"`{entry['weights_id'][:12]}…`, from `{entry['folder']}`).",
            _describe(entry, arch, member=True),
            _windows_and_front_end(entry, None),
            _training_line(entry["training"], entry.get("best")),
        ]
    return "\n".join(lines)


def _length_guard(training: dict[str, Any]) -> str:
    """The sentence on the training-time guards against the length/padding shortcut, if used."""
    crop_p = training.get("crop_p") or 0.0
    negatives = training.get("synthetic_negatives") or 0
    gain = training.get("gain_db") or 0.0
    copies = training.get("aug_copies") or 0
    if not (crop_p or negatives or gain or copies or training.get("fill") == "tile"):
        return ""
    parts = []
    fill = training.get("fill") or "pad"
    if fill == "tile":
        parts.append(
            "a clip shorter than a window is repeated until the window is full (in training "
            "and at inference), never padded, so no window shows how long its clip was"
        )
    if crop_p:
        parts.append(
            f"{crop_p:.0%} of draws cut to a random length (0.25 s to one window, the loudest "
            f"of three starts) and {'repeated' if fill == 'tile' else 'padded'} like any short "
            "clip, the same for every class"
        )
    if gain:
        parts.append(f"level jitter of ±{gain:g} dB")
    if copies:
        what = AUG_PRESET_WORDS[training.get("aug_preset") or "default"]
        parts.append(
            f"{copies} cached waveform-augmented cop{'y' if copies == 1 else 'ies'} per training "
            f"clip ({what})"
        )
    if negatives:
        parts.append(
            f"{negatives} synthetic negatives (white/pink/brown noise, digital silence, "
            f"near-silence, pure tones, mains hum; 0.3-6 s) as a "
            f"{training.get('synthetic_share', 0.35):.0%} share of the negative label's draws"
        )
    return (
        "\nAgainst the length/padding shortcut (a model that labels by clip length): "
        + "; ".join(parts)
        + ". Check: `scripts/ml_shortcut_check.py`."
    )


def split_balance(config: dict[str, Any]) -> str:
    """What the model's split balanced across its parts (``TrainConfig.split_strata``; runs
    that record none were balanced by label)."""
    strata = (config.get("training") or {}).get("split_strata") or "label"
    if strata == "source_label":
        return (
            "by label and by each dataset's own label (a cat's situation, a noise's kind), so "
            "that a label made of a few big recordings and many small ones has its small ones "
            "in every part"
        )
    return "by label"


def left_out_sentence(config: dict[str, Any]) -> str:
    """The datasets kept out of the split (``TrainConfig.leave_out_datasets``), as a sentence."""
    left_out = (config.get("training") or {}).get("leave_out_datasets") or []
    if not left_out:
        return ""
    return (
        f" Kept out of the split altogether, to measure the model on recordings of a setup it "
        f"never heard: {', '.join(left_out)}."
    )


def targets_met(report: dict[str, Any], task: str, shipped: str = "ast") -> list[str]:
    model = report["models"][shipped]
    out = []
    for key, label, minimum in TARGETS.get(task, []):
        value = metric_value(model, key)
        verdict = "met" if value >= minimum else "NOT met"
        out.append(f"- {label} >= {minimum:.2f}: {value:.3f} — **{verdict}**")
    return out


NOTES_HEADING = "## Notes (kept when the model is shipped again)"


def kept_notes(card: str) -> str:
    """The body of a card's notes section (written by hand), or "" when it has none."""
    start = card.find(NOTES_HEADING)
    if start < 0:
        return ""
    body = card[start + len(NOTES_HEADING) :]
    end = body.find("\n## ")
    return (body if end < 0 else body[:end]).strip()


def _notes_section(previous_card: str, notes: str) -> str:
    kept = "\n\n".join(part for part in (kept_notes(previous_card), notes.strip()) if part)
    return f"{NOTES_HEADING}\n\n{kept}\n\n" if kept else ""


def write_card(
    task: str,
    run_dir: Path,
    split: Split,
    report: dict[str, Any],
    val_report: dict[str, Any] | None,
    out_dir: Path,
    limits: str = "",
    shipped: str = "ast",
    notes: str = "",
) -> Path:
    """Copy the ``shipped`` run's weights and config into ``out_dir``; write card, metrics, PNG.

    ``shipped`` names the run in ``report["models"]`` whose weights ``run_dir`` holds (the AST
    by design; a baseline only when it won on validation — the card says which and why).
    A ``metrics.json`` already in ``out_dir`` (the model shipped before) lends the card its rows
    that still compare (:func:`earlier_rows`) before it is replaced. So does its card: the
    section under :data:`NOTES_HEADING` (what people wrote by hand: how a compared run was
    trained, say) is carried over, with ``notes`` appended.
    """
    spec = get_task(task)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous_path = out_dir / "metrics.json"
    previous = json.loads(previous_path.read_text()) if previous_path.is_file() else {}
    card_path = out_dir / "MODEL_CARD.md"
    notes_section = _notes_section(card_path.read_text() if card_path.is_file() else "", notes)
    shutil.copyfile(run_dir / WEIGHTS_FILE, out_dir / WEIGHTS_FILE)
    config = json.loads((run_dir / "config.json").read_text())
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    model_id = sha256_file(out_dir / WEIGHTS_FILE)
    report = {**report, "model_id": model_id, "shipped": shipped}
    earlier = earlier_rows(previous, report, model_id)
    if earlier:
        report["earlier"] = earlier
    write_report(report, out_dir / "metrics.json")
    confusion_png(
        report["models"][shipped],
        out_dir / "confusion.png",
        f"{task}: {_MODEL_NAMES[shipped]} on the test split",
    )
    weights_mb = (out_dir / WEIGHTS_FILE).stat().st_size / 1e6
    if config["model"].get("arch") == ENSEMBLE_ARCH:
        model_section = _ensemble_section(config, weights_mb)
    else:
        best = best_epoch(run_dir)
        if best is None:
            raise FileNotFoundError(f"{run_dir} has no history.json: not a training run")
        model_section = "\n".join(
            (
                _describe(
                    config, shipped, "ast" in report["models"], (run_dir / "final.json").is_file()
                ),
                _windows_and_front_end(config, weights_mb),
                "",
                _training_line(config["training"], best),
            )
        )
    balanced = split_balance(config)
    licences = Counter(c.license for c in (*split.train, *split.val, *split.test))
    datasets = Counter(c.dataset for c in (*split.train, *split.val, *split.test))
    parts = []
    for name, clips in split.parts().items():
        counts = Counter(c.label for c in clips)
        shown = ", ".join(f"{label} {counts.get(label, 0)}" for label in spec.labels)
        parts.append(f"| {name} | {len(clips)} | {len({c.group for c in clips})} | {shown} |")
    card = f"""# {task} — model card

**Model id** (sha256 of `model.safetensors`, the id recorded on-chain): `{model_id}`

**What it does.** {spec.description}

Labels (fixed order = output order): {", ".join(f"`{x}`" for x in spec.labels)}.

## Model

{model_section}

## Data

Datasets (clips): {", ".join(f"{d} {n}" for d, n in sorted(datasets.items()))}.
Licences of the data (clips): {"; ".join(f"{lic} ({n})" for lic, n in licences.most_common())}.
Some sources are non-commercial or of unknown licence: the weights inherit those limits — check
before any public or commercial use.

## Split

By the manifest `group` column (cat, app install, speaker, near-duplicate cluster, source
recording) — no group is on two sides; balanced across the parts {balanced}, as far as whole
groups allow. Seeded and written to `split.csv` of the training run.{left_out_sentence(config)}

| part | clips | groups | per label |
|---|---|---|---|
{chr(10).join(parts)}

## Group-held-out test metrics (measured once, at the end)

{_table(report, task, shipped)}

{"" if not earlier else "Scored earlier on the same test split, for comparison:" + chr(10) * 2 + _rows_table(list(earlier.items()), task) + chr(10) * 2}Targets from issue 4 (shipped model):
{chr(10).join(targets_met(report, task, shipped))}

Per class (shipped model):

{_per_class(report["models"][shipped])}

Confusion matrix: `confusion.png`. All numbers: `metrics.json`.
{"" if val_report is None else chr(10) + "Validation (used for early stopping and choices), for comparison:" + chr(10) * 2 + _table(val_report, task, shipped) + chr(10)}
{notes_section}## Limits

{limits or "Small test split: a few groups decide the numbers; expect wide error bars."}
The held-out recordings kept back from `../shared` (other cats, families, clips) will say more.
"""
    card_path.write_text(card)
    return card_path
