"""Ship the synthesis runs into ``ml/weights/{wavenet,emotion-encoder,style-gan}/`` with model cards.

Each folder gets ``model.safetensors`` (float32; only what inference needs: the style GAN ships
its voice-to-cat generator, not the discriminators or the cycle's way back), ``config.json``,
and ``MODEL_CARD.md`` whose id is the sha256 of those weights. Measured figures come from
``miao eval synth --json`` / ``miao bench synth --json`` reports when given; a card never
claims a number it was not handed.

    python -m ml.synth.ship [--eval var/reports/synth/report.json] [--bench var/reports/synth/bench.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.synth import checkpoint
from ml.synth.corpus import HELD_OUT_SPEAKERS
from ml.synth.emotion import EMOTION_DIM, MOODS, EmotionEncoder
from ml.synth.flow_prior import FlowPrior
from ml.synth.pipeline import EMOTION_DIR, STYLE_DIR, WAVENET_DIR, sampling_json
from ml.synth.prior import MelPrior
from ml.synth.style_gan import MelGenerator, StyleConfig
from ml.synth.wavenet import WaveNet
from ml.tasks import CAT_EMOTION

DATA_NOTE = (
    "naya (CatSound, Pandeya & Lee 2018): 2,508 web clips of cats in ten situations, 16 kHz "
    "(Vorbis q0). **No licence stated — internal research use only; do not redistribute "
    "generated audio commercially.** Split by the manifest group (near-duplicate clusters kept "
    "together), seed 0, 70/15/15: 1,760 train / 374 val / 374 test clips; only train is used "
    "for training."
)


def _save(state: dict[str, torch.Tensor], folder: Path, config: dict[str, Any]) -> str:
    """Weights + config.json; returns the model id (sha256 of the weights file).

    The sampling settings (``config["sampling"]``) also go into the weights file's header, so
    the id recorded on-chain covers how the model samples, not only its tensors.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().contiguous() for k, v in state.items()}
    metadata = {"sampling": sampling_json(config["sampling"])} if "sampling" in config else None
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata=metadata)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return sha256_file(folder / WEIGHTS_FILE)


def write_style_generator(style_run: Path, out_root: Path, style_strength: float) -> str:
    """The voice→cat generator of a ``train_style`` run as ``out_root/style-gan``; its id."""
    state = checkpoint.load(style_run / "checkpoint.pt")
    if state is None:
        raise FileNotFoundError(f"{style_run}: no checkpoint.pt of a train_style run")
    config = json.loads((style_run / "config.json").read_text())
    prefix = "voice_to_cat."
    generator = {k[len(prefix) :]: v for k, v in state["gan"].items() if k.startswith(prefix)}
    return _save(
        generator,
        out_root / STYLE_DIR,
        {"style": config["style"], "sampling": {"style_strength": style_strength}},
    )


def save_models(
    out_root: Path,
    wavenet: WaveNet,
    prior: MelPrior | FlowPrior,
    emotion: EmotionEncoder,
    style_generator: MelGenerator,
    style_config: StyleConfig,
    contour_guidance: float = 1.0,
    style_strength: float = 1.0,
) -> dict[str, str]:
    """Write the three weights folders (weights + config.json) from live models; returns ids."""
    ids = {
        "emotion-encoder": _save(
            emotion.state_dict(),
            out_root / EMOTION_DIR,
            {"emotion_dim": emotion.table.shape[1], "moods": list(MOODS)},
        )
    }
    combined = {f"wavenet.{k}": v for k, v in wavenet.state_dict().items()}
    combined |= {f"prior.{k}": v for k, v in prior.state_dict().items()}
    ids["wavenet"] = _save(
        combined,
        out_root / WAVENET_DIR,
        {"wavenet": wavenet.config.to_dict(), "prior": prior.config.to_dict(),
         "sampling": {"contour_guidance": contour_guidance},
         "emotion_encoder_id": ids["emotion-encoder"]},
    )  # fmt: skip
    ids["style-gan"] = _save(
        style_generator.state_dict(),
        out_root / STYLE_DIR,
        {"style": style_config.to_dict(), "sampling": {"style_strength": style_strength}},
    )
    return ids


def _history(run: Path) -> list[dict[str, Any]]:
    path = run / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _last(history: list[dict[str, Any]], key: str) -> Any:
    rows = [h for h in history if key in h]
    return rows[-1] if rows else {}


def _fmt(report: dict[str, Any], key: str, target: str) -> str:
    if key not in report:
        return f"| {key} | not measured | {target} |"
    value = report[key]
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    return f"| {key} | {shown} | {target} |"


def metric_rows(eval_report: dict[str, Any], bench_report: dict[str, Any]) -> list[str]:
    """The measured-figures table of the synthesis cards: header, then one row per figure.

    Rows 2-6 are the meow figures, 7-9 the style-transfer ones.
    """
    return [
        "| figure | value | target |",
        "|---|---|---|",
        _fmt(eval_report, "cat_share", ">= 0.90 (generated clips the `source` model calls cat)"),
        _fmt(eval_report, "mood_match", ">= 0.60 (cat-emotion agrees, among 3 moods; chance 0.33)"),
        _fmt(eval_report, "diversity", "mean pairwise log-mel distance, different seeds"),
        _fmt(eval_report, "real_diversity", "the same between real naya test clips"),
        _fmt(bench_report, "wavenet_rtf", "<= 1.0 (generation time / audio time, CPU)"),
        _fmt(eval_report, "style_cat_share", ">= 0.80 (held-out speakers, called cat)"),
        _fmt(eval_report, "rhythm_r", ">= 0.70 (loudness-envelope Pearson r, input vs output)"),
        _fmt(bench_report, "style_rtf", "<= 0.5"),
    ]


def measured_on(
    eval_report: dict[str, Any], bench_report: dict[str, Any], ids: dict[str, str], *names: str
) -> bool:
    """Figures count only for the exact weights they were measured on (the reports' ``models``)."""
    measured = {**eval_report.get("models", {}), **bench_report.get("models", {})}
    return all(measured.get(n) == ids.get(n) for n in names)


def figures_table(
    rows: list[str],
    eval_report: dict[str, Any],
    bench_report: dict[str, Any],
    ids: dict[str, str],
    *names: str,
) -> str:
    """A card's table of figures, or why it has none (no reports, or reports on other weights)."""
    if not (eval_report or bench_report):
        return "Not measured yet for these weights."
    if not measured_on(eval_report, bench_report, ids, *names):
        return "The eval/bench reports given were measured on other weights: not shown."
    return "\n".join(rows)


def labellers_line(eval_report: dict[str, Any]) -> str:
    """Which labellers judged the figures, as a card's sentence."""
    labellers = eval_report.get("labellers", {})
    if not labellers:
        return "No eval report was given to this card."
    return "Measured by `miao eval synth` with the shipped labellers " + ", ".join(
        f"`{k}` ({v[:12]}…)" for k, v in labellers.items()
    )


def eval_notes(eval_report: dict[str, Any]) -> str:
    """The controls and diagnostics of a ``miao eval synth`` report, as card prose."""
    controls = eval_report.get("controls", {})
    yamnet = eval_report.get("yamnet", {})
    contour = eval_report.get("contour_griffin_lim", {})
    per_mood = eval_report.get("mood_match_per_mood", {})
    caution = ""
    if controls:
        caution = (
            "**Controls** (what the `source` labeller says where the answer is known): real naya "
            "test clips cut to the held-out voices' lengths are called cat "
            f"{controls['short_real_cat_share']:.2f} of the time, 2 s of white noise "
            f"{controls['noise_cat_share']:.2f}."
        )
    if yamnet:
        caution += (
            " An independent judge, YAMNet (AudioSet; cat classes >= 0.2 and above its dog, "
            "baby-cry and speech classes), calls cat "
            f"{yamnet['generated_cat_share']:.2f} of the generated meows"
            + (
                f" ({yamnet['contour_griffin_lim_cat_share']:.2f} of their contours rendered by "
                "Griffin-Lim)"
                if yamnet.get("contour_griffin_lim_cat_share") is not None
                else ""
            )
            + ", "
            f"{yamnet['style_cat_share']:.2f} of the style transfers and "
            f"{yamnet['style_input_cat_share']:.2f} of their voice inputs, against "
            f"{yamnet['real_cat_share']:.2f} of real naya test clips (first 2 s)."
        )
    if per_mood:
        caution += (
            " Mood match per mood: "
            + ", ".join(f"{m} {v:.2f}" for m, v in per_mood.items())
            + (
                f"; the same mel contours rendered by Griffin-Lim instead of the WaveNet match "
                f"{contour['mood_match']:.2f}"
                + (
                    f" and are called cat {contour['cat_share']:.2f} of the time"
                    if contour.get("cat_share") is not None
                    else ""
                )
                if contour
                else ""
            )
            + "."
        )

    vocoded = eval_report.get("vocoded_real")
    if vocoded:
        caution += (
            f" The WaveNet alone: the own log-mels of {vocoded['clips']} real naya test clips "
            f"(happy, curious, sleepy), rendered by it, are called cat {vocoded['cat_share']:.2f} "
            f"of the time; the originals {vocoded['original_cat_share']:.2f}."
        )
    return caution


def ship(
    wavenet_run: Path,
    style_run: Path,
    out_root: Path,
    eval_report: dict[str, Any],
    bench_report: dict[str, Any],
    style_note: str = "",
    contour_guidance: float = 1.0,
    contour_temperature: float = 0.6,
    vocoder_note: str = "",
    training_note: str = "",
    style_strength: float = 1.0,
) -> dict[str, str]:
    """Save the trained runs as shipped weights and write their model cards; returns the ids.

    ``contour_guidance`` / ``contour_temperature`` become the mel prior's sampling defaults in
    the WaveNet's config; ``vocoder_note`` is a measured finding for the card's limits and
    ``training_note`` how this run was chosen.
    """
    ids: dict[str, str] = {}
    metrics = metric_rows(eval_report, bench_report)

    def same_weights(*names: str) -> bool:
        return measured_on(eval_report, bench_report, ids, *names)

    def table(rows: list[str], *names: str) -> str:
        return figures_table(rows, eval_report, bench_report, ids, *names)

    caution = eval_notes(eval_report)

    measured_with = labellers_line(eval_report)

    # WaveNet + mel prior + emotion encoder (one run).
    if (wavenet_run / "checkpoint.pt").is_file():
        state = checkpoint.load(wavenet_run / "checkpoint.pt")
        assert state is not None
        config = json.loads((wavenet_run / "config.json").read_text())
        history = _history(wavenet_run)
        val = _last(history, "val_wavenet_ce")
        emotion_state = state["emotion"]
        ids["emotion-encoder"] = _save(
            emotion_state,
            out_root / EMOTION_DIR,
            {"emotion_dim": EMOTION_DIM, "moods": list(MOODS)},
        )
        combined = {f"wavenet.{k}": v for k, v in state["wavenet"].items()}
        combined |= {f"prior.{k}": v for k, v in state["prior"].items()}
        ids["wavenet"] = _save(
            combined,
            out_root / WAVENET_DIR,
            {"wavenet": config["wavenet"], "prior": config["prior"],
             "sampling": {"contour_guidance": contour_guidance,
                          "contour_temperature": contour_temperature},
             "emotion_encoder_id": ids["emotion-encoder"]},
        )  # fmt: skip
        wn = config["wavenet"]
        args = config["args"]
        where = str(args.get("device", "cpu"))
        where = "one GPU (bfloat16 autocast)" if where.startswith("cuda") else "one CPU thread"
        rate = f"lr {args['lr']}" + (
            f" cosine-decayed to {args['lr_floor']}" if args.get("lr_floor") else ""
        )
        training = (
            f"{state['step']} steps, {state['seconds'] / 60:.0f} wall-clock minutes on {where} "
            f"(Adam, {rate}, {args['wave_batch']} x {args.get('wave_crop', 4000) / 16000:g} s "
            f"audio crops + {args['mel_batch']} x 2 s mel crops per step; "
            f"{args.get('drop_emotion', 0.0):g} of the prior's crops without a mood, for "
            f"guidance). Last validation (val groups): WaveNet cross-entropy "
            f"{val.get('val_wavenet_ce', float('nan')):.3f} nats/sample (uniform = 5.545), "
            f"mel-prior NLL {val.get('val_prior_nll', float('nan')):.3f}."
        )
        (
            out_root / WAVENET_DIR / "MODEL_CARD.md"
        ).write_text(f"""# wavenet — emotion-conditioned meow synthesiser (model card)

**Model id** (sha256 of `model.safetensors`, recorded on-chain with every generated sound):
`{ids["wavenet"]}`

**What it does.** Generates a new cat vocalisation of a chosen mood (`miao synth --mood happy`).
Two parts in one weights file, both needed to reproduce a sound from a seed:

- `prior.*` — a mel prior: an autoregressive GRU ({config["prior"]["hidden"]} units) over 80-band
  log-mel frames (100 per second), conditioned on the emotion vector, with a Tacotron-style
  pre-net whose dropout stays on when sampling, and a diagonal-Gaussian output sampled at a
  temperature (default {contour_temperature:g}) with mood guidance {contour_guidance:g} (the mean
  moved away from the same GRU's mood-less prediction; 1 = none); both settings are stored in
  the weights file's header, so the model id covers them. It decides the contour: when the cat
  calls, the pitch and timbre.
- `wavenet.*` — a WaveNet: {wn["stacks"]} stacks x {wn["layers_per_stack"]} dilated causal
  convolutions (kernel 2, dilations 1…128, receptive field {sum(2**i for i in range(wn["layers_per_stack"])) * wn["stacks"] + 1}
  samples), gated tanh·sigmoid units, residual ({wn["residual"]}) and skip ({wn["skip"]}) channels,
  8-bit µ-law softmax output (256 classes) at 16 kHz. Local conditioning: the log-mel frames
  through a 3-tap conv; global conditioning: the emotion vector
  (emotion encoder `{ids["emotion-encoder"][:16]}…`), added to every layer's gate input.
  Generated one sample at a time with cached per-layer queues (`ml/synth/generate.py`, numba),
  which the tests check against the full convolution, sample for sample.

## Data and split

{DATA_NOTE}

## Training

`python -m ml.synth.train_wavenet` (WaveNet, mel prior and emotion encoder trained jointly, one
loss): {training}

{training_note}

## Measured

{measured_with}

{table(metrics[:7], "wavenet", "emotion-encoder")}

{caution if same_weights("wavenet", "emotion-encoder") else ""}

## Limits

Small by design (it must run in real time on 2 CPU cores) and trained for minutes, where a
WaveNet vocoder usually gets days of GPU time. The WaveNet is the weak part: it renders the
contour's loudness and spectral envelope as shaped noise, without the harmonics of a real call,
so the `source` labeller mostly hears "other", not cat. Mood match comes from the textures that
need no harmonics (curious: quiet rustle, sleepy: purr-like pulses); happy, a harmonic call, is
the mood it misses. {vocoder_note} The mel prior is a
small GRU with a diagonal Gaussian per frame: its contours are smoother and less varied than
real calls. Moods are the naya
authors' situation labels, not observed emotions. Non-commercial data (see above).
""")
        ref_acc = val.get("val_reference_acc")
        (out_root / EMOTION_DIR / "MODEL_CARD.md").write_text(f"""# emotion-encoder — model card

**Model id** (sha256 of `model.safetensors`): `{ids["emotion-encoder"]}`

**What it does.** Maps a mood to the {EMOTION_DIM}-dim vector that conditions synthesis.
`table` holds one learned row per naya situation ({", ".join(f"{m} ({CAT_EMOTION.display(m)})" for m in MOODS)}),
trained jointly with the WaveNet and the mel prior (their losses reach it). `reference.*` is a
small log-mel CNN (3 conv layers, mean+max pooling) trained in the same run as a mood classifier;
for a reference recording, the vector is its predicted mood distribution times the table, so
"in the mood of this recording" is the generator's own mix of the mood vectors.

## Data and split

{DATA_NOTE}

## Metrics

Reference-encoder accuracy on 16 fixed 2 s crops of validation clips (10 moods, chance 0.10):
{f"{ref_acc:.3f}" if isinstance(ref_acc, float) else "not measured"} — a small, noisy figure; the project's `cat-emotion` classifier is the
real mood model. The table is judged through the generator (`mood_match` in the WaveNet card).

## Limits

Ten situation labels from web clips, read by the dataset authors, with label noise; the
reference path is a weak classifier. Non-commercial data.
""")

    if (style_run / "checkpoint.pt").is_file():
        config = json.loads((style_run / "config.json").read_text())
        history = _history(style_run)
        last = _last(history, "cycle")
        ids["style-gan"] = write_style_generator(style_run, out_root, style_strength)
        (
            out_root / STYLE_DIR / "MODEL_CARD.md"
        ).write_text(f"""# style-gan — voice-to-cat generator (model card)

**Model id** (sha256 of `model.safetensors`): `{ids["style-gan"]}`

**What it does.** `miao catify IN.wav -o OUT.wav [--mood M]`: a human voice in, a cat-like sound
of the same length out, keeping the input's rhythm.

## Model

CycleGAN-VC-style, on 80-band log-mel (10 ms frames): a 1-D conv generator
({config["style"]["channels"]} channels, {len(config["style"]["dilations"])} residual gated blocks with
instance norm, dilations {config["style"]["dilations"]}, "same" padding so the frame count is kept),
conditioned on a mood distribution. Shipped: the voice→cat generator only. Trained with its
cat→voice twin and two PatchGAN discriminators (the cat one a projection discriminator on the
mood): LSGAN adversarial losses, cycle L1 (weight {config["args"].get("cycle_weight", 10.0)}),
identity L1 (5 for the first {config["args"]["identity_steps"]} steps, then
{config["args"].get("identity_after", 1.0)}). {style_note}

**Rhythm is kept by construction, not only by training:** after the generator, each output
frame is shifted so its summed mel power equals the input frame's (`reapply_envelope`), so
onsets and the loudness envelope are the input's. **Vocoder: Griffin-Lim** (32 fast iterations,
phase estimated, not modelled) by default; `--vocoder wavenet` uses the mel-conditioned WaveNet
instead (much slower, and the WaveNet was trained on cats only).

## Data and split

Unpaired. Voice: speech-fsdd (spoken digits, 6 male English speakers, 8 kHz, CC BY-SA 4.0);
speakers {", ".join(HELD_OUT_SPEAKERS)} are held out (never trained on) and are what the
evaluation transfers; the other 4 speakers' 2,000 clips train it. Cat: {DATA_NOTE}

## Training

`python -m ml.synth.train_style`: {state["step"]} steps of 8 + 8 random 0.64 s crops,
{state["seconds"] / 60:.0f} wall-clock minutes of one training thread. Last losses (smoothed): cycle
{last.get("cycle", float("nan")):.3f}, identity {last.get("identity", float("nan")):.3f}, adversarial
{last.get("adv", float("nan")):.3f}, discriminator {last.get("d", float("nan")):.3f}.

## Measured

{measured_with}

{table(metrics[:2] + metrics[7:], "style-gan", "emotion-encoder")}

{caution if same_weights("style-gan", "emotion-encoder") else ""}

## Limits

Voices here are six men saying digits at 8 kHz: nothing above 4 kHz came in, so the generator
invents the upper band; women's, children's and sung voices, and other languages, were never
seen. Rhythm figures are high partly because the envelope is re-applied by construction.
Griffin-Lim adds a phasey, metallic quality. Non-commercial cat data.
""")
    return ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wavenet-run", type=Path, default=Path("var/runs/synth/wavenet"))
    parser.add_argument("--style-run", type=Path, default=Path("var/runs/synth/style"))
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--eval", type=Path, default=None, help="miao eval synth --json output")
    parser.add_argument("--bench", type=Path, default=None, help="miao bench synth --json output")
    parser.add_argument("--style-note", default="", help="extra training history for the card")
    parser.add_argument(
        "--contour-guidance",
        type=float,
        default=1.0,
        help="the mel prior's mood guidance shipped as its default",
    )
    parser.add_argument(
        "--contour-temperature",
        type=float,
        default=0.6,
        help="the mel prior's sampling temperature shipped as its default",
    )
    parser.add_argument(
        "--vocoder-note", default="", help="a measured vocoder finding for the card"
    )
    parser.add_argument("--training-note", default="", help="how the run was chosen, for the card")
    parser.add_argument(
        "--style-strength", type=float, default=1.0, help="voice-to-cat strength shipped as default"
    )
    args = parser.parse_args(argv)
    eval_report = json.loads(args.eval.read_text()) if args.eval else {}
    bench_report = json.loads(args.bench.read_text()) if args.bench else {}
    ids = ship(
        args.wavenet_run, args.style_run, args.out, eval_report, bench_report, args.style_note,
        args.contour_guidance, args.contour_temperature, args.vocoder_note, args.training_note,
        args.style_strength,
    )  # fmt: skip
    for name, model_id in ids.items():
        print(f"{name}: {model_id}")


if __name__ == "__main__":
    main()
