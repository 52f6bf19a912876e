"""Ship a flow-matching mel prior (and optionally a retrained WaveNet) as ``ml/weights/wavenet``.

The flow prior (:mod:`ml.synth.train_flow_prior`) and an excitation WaveNet fine-tuned from the
shipped one (``python -m ml.synth.train_wavenet --init-from ml/weights --freeze prior,emotion``)
are trained against the shipped emotion encoder, which stays as it is. This writes them into
one weights file (``wavenet.*`` + ``prior.*``), with their sampling settings in its header,
and rewrites the model card from the runs' histories and the eval/bench reports it is handed.

    python -m ml.synth.ship_flow --flow-run var/runs/synth/flow-a \\
        --wavenet-run var/runs/synth/wavenet-excited --eval report.json --bench bench.json
    python -m ml.synth.ship_flow --wavenet-run var/runs/synth/gpu/exc    # keeps the shipped prior
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.synth import checkpoint
from ml.synth.flow_prior import DEFAULT_STEPS, FlowPriorConfig
from ml.synth.pipeline import EMOTION_DIR, WAVENET_DIR, prefixed, shipped_sampling
from ml.synth.ship import (
    DATA_NOTE,
    _history,
    _last,
    _save,
    eval_notes,
    figures_table,
    labellers_line,
    measured_on,
    metric_rows,
)


def _stage_sentence(run: Path, state: dict[str, Any], emotion_id: str, first: bool) -> str:
    """How one fine-tuning run trained the WaveNet, for the card."""
    args = json.loads((run / "config.json").read_text())["args"]
    if "emotion" not in str(args.get("freeze", "")):
        raise ValueError(f"{run} trained the emotion encoder: it no longer fits {emotion_id}")
    val = _last(_history(run), "val_wavenet_ce")
    device = str(args.get("device", "cpu"))
    where = (
        "one GPU (bfloat16 autocast)"
        if device.startswith("cuda")
        else f"{args['threads']} CPU threads"
    )
    schedule = f"lr {args['lr']}"
    if args.get("lr_floor") is not None:
        schedule += f" cosine-decayed to {args['lr_floor']}"
    if args.get("warmup"):
        schedule += f" after a {args['warmup']}-step warm-up"
    opening = (
        "The WaveNet was fine-tuned from the one shipped before"
        if first
        else "It was then trained further, with those weights in the folder `--init-from` names"
    )
    return (
        f"{opening}: `python -m ml.synth.train_wavenet --init-from {args['init_from']} "
        f"--freeze {args['freeze']}` (WaveNet overrides {json.dumps(args['wavenet'])}), "
        f"{state['step']} steps of {args['wave_batch']} x {args['wave_crop'] / 16000:g} s "
        f"crops, {state['seconds'] / 60:.1f} minutes on {where}, {schedule}. Last validation "
        f"cross-entropy {val.get('val_wavenet_ce', float('nan')):.3f} nats/sample "
        "(uniform = 5.545)."
    )


def _wavenet_part(
    wavenet_runs: list[Path], out_root: Path, emotion_id: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any], str]:
    """(WaveNet tensors, its config, how it was trained): from the last of the runs, each a stage
    fine-tuned from the one before (the first from the shipped WaveNet); no runs, as shipped."""
    if not wavenet_runs:
        folder = out_root / WAVENET_DIR
        state = load_file(str(folder / WEIGHTS_FILE))
        config = json.loads((folder / "config.json").read_text())
        return (
            prefixed(state, "wavenet."),
            config["wavenet"],
            "The WaveNet is the one shipped before, unchanged.",
        )
    sentences, configs = [], []
    for n, run in enumerate(wavenet_runs):
        state = checkpoint.load(run / "checkpoint.pt")
        if state is None:
            raise FileNotFoundError(f"no checkpoint.pt in {run}")
        configs.append(state["config"]["wavenet"])
        sentences.append(_stage_sentence(run, state, emotion_id, first=n == 0))
    if any(c != configs[-1] for c in configs):
        raise ValueError("later stages must keep the WaveNet's config: they train its weights on")
    return state["wavenet"], configs[-1], " ".join(sentences)


NEW_PRIOR_SAMPLING = {"contour_guidance": 2.0, "contour_temperature": 1.0,
                      "contour_steps": float(DEFAULT_STEPS)}  # fmt: skip
"""Sampling a newly trained flow prior ships with unless told otherwise (a kept one keeps its own)."""

PRIOR_PARAGRAPH = "The prior: `python -m ml.synth.train_flow_prior`"
"""How the card's paragraph on the prior's training begins (a kept prior keeps that paragraph)."""


def _prior_part(
    flow_run: Path | None, out_root: Path, emotion_id: str
) -> tuple[dict[str, torch.Tensor], FlowPriorConfig, str]:
    """(prior tensors, its config, the card's paragraph on its training): from the run, else kept.

    A kept prior is the shipped one, with the paragraph its card already gives: re-shipping the
    WaveNet alone must not lose how the prior was trained.
    """
    if flow_run is None:
        folder = out_root / WAVENET_DIR
        config = json.loads((folder / "config.json").read_text())
        if config.get("prior", {}).get("kind") != "flow":
            raise ValueError(f"{folder} holds no flow prior to keep: give --flow-run")
        if config.get("emotion_encoder_id") != emotion_id:
            raise ValueError(f"{folder}'s prior was trained with another emotion encoder")
        card = (folder / "MODEL_CARD.md").read_text()
        start = card.find(PRIOR_PARAGRAPH)
        if start < 0:
            raise ValueError(f"{folder}/MODEL_CARD.md has no paragraph on the prior's training")
        end = card.find("\n\n", start)
        return (
            prefixed(load_file(str(folder / WEIGHTS_FILE)), "prior."),
            FlowPriorConfig.from_dict(config["prior"]),
            card[start : end if end >= 0 else None],
        )
    state = checkpoint.load(flow_run / "checkpoint.pt")
    if state is None:
        raise FileNotFoundError(f"no checkpoint.pt in {flow_run}")
    if state["emotion_encoder_id"] != emotion_id:
        raise ValueError(
            f"{flow_run} was trained with emotion encoder {state['emotion_encoder_id'][:12]}…, "
            f"but {emotion_id[:12]}… is shipped"
        )
    flow_args = json.loads((flow_run / "config.json").read_text())["args"]
    val = _last(_history(flow_run), "val_flow_loss")
    paragraph = f"""{PRIOR_PARAGRAPH} with the shipped emotion encoder frozen (the
WaveNet was trained with its mood vectors): {state["step"]} steps of {flow_args["batch"]} x 2 s
log-mel crops of the train groups (short clips padded with silence), AdamW lr {flow_args["lr"]}
cosine-decayed to {flow_args["lr_floor"]}, {flow_args["drop_emotion"]:g} of the crops without a
mood (for guidance), EMA {flow_args["ema"]} of the weights (what ships),
{state["seconds"] / 60:.0f} minutes on {flow_args["threads"]} CPU threads. Last validation flow
loss (val groups, fixed noise) {val.get("val_flow_loss", float("nan")):.3f}."""
    return state["ema"], FlowPriorConfig.from_dict(state["config"]), paragraph


def ship_flow(
    flow_run: Path | None,
    wavenet_runs: list[Path],
    out_root: Path,
    eval_report: dict[str, Any],
    bench_report: dict[str, Any],
    sampling: dict[str, float],
    selection_note: str = "",
) -> str:
    """Write the weights, config and card; returns the new model id.

    ``flow_run`` None keeps the shipped flow prior; no ``wavenet_runs`` keeps the shipped WaveNet.
    """
    emotion_id = sha256_file(out_root / EMOTION_DIR / WEIGHTS_FILE)
    prior, flow_config, prior_paragraph = _prior_part(flow_run, out_root, emotion_id)
    wavenet, wavenet_config, wavenet_sentence = _wavenet_part(wavenet_runs, out_root, emotion_id)
    combined = {f"wavenet.{k}": v for k, v in wavenet.items()}
    combined |= {f"prior.{k}": v for k, v in prior.items()}
    model_id = _save(
        combined,
        out_root / WAVENET_DIR,
        {"wavenet": wavenet_config, "prior": flow_config.to_dict(), "sampling": sampling,
         "emotion_encoder_id": emotion_id},
    )  # fmt: skip
    parameters = sum(v.numel() for v in prior.values())
    ids = {"wavenet": model_id}
    same = measured_on(eval_report, bench_report, ids, "wavenet")
    rows = metric_rows(eval_report, bench_report)[:7]
    figures = figures_table(rows, eval_report, bench_report, ids, "wavenet")
    excitation = int(wavenet_config.get("excitation", 0))
    (
        out_root / WAVENET_DIR / "MODEL_CARD.md"
    ).write_text(f"""# wavenet — emotion-conditioned meow synthesiser (model card)

**Model id** (sha256 of `model.safetensors`, recorded on-chain with every generated sound):
`{model_id}`

**What it does.** Generates a new cat vocalisation of a chosen mood (`miao synth --mood happy`).
Two parts in one weights file, both needed to reproduce a sound from a seed:

- `prior.*` — the mel prior, a flow-matching model ({parameters / 1e6:.1f} M parameters): a 1-D
  U-Net over time ({len(flow_config.widths)} levels, {flow_config.widths} channels,
  {flow_config.blocks} residual blocks a level, the 80 log-mel bands as input channels) that
  learns the velocity of a rectified flow from Gaussian noise to real 2 s naya log-mels, given
  the emotion vector and the flow time. A contour is made from seeded noise (temperature
  {sampling["contour_temperature"]:g}) in {int(sampling["contour_steps"])} Euler steps, with
  classifier-free mood guidance {sampling["contour_guidance"]:g} (1 = none). These settings are
  in the weights file's header, so the model id covers them. It decides the contour: when the
  cat calls, its pitch and timbre. It replaced the GRU prior shipped before, whose free-running
  contours had drifted into stationary noise (see "How it was chosen" below).
- `wavenet.*` — a WaveNet: {wavenet_config["stacks"]} stacks x {wavenet_config["layers_per_stack"]}
  dilated causal convolutions (kernel 2), gated tanh·sigmoid units, residual
  ({wavenet_config["residual"]}) and skip ({wavenet_config["skip"]}) channels, 8-bit µ-law softmax
  output at 16 kHz. Local conditioning: the log-mel frames through a 3-tap conv
  {
        f"and a harmonic excitation ({excitation} sines at the pitch read off the log-mel, "
        "`ml/synth/excitation.py`)"
        if excitation
        else ""
    }; global conditioning: the emotion vector
  (emotion encoder `{emotion_id[:16]}…`). Generated one sample at a time with cached per-layer
  queues (`ml/synth/generate.py`, numba), checked against the full convolution in the tests.

## Data and split

{DATA_NOTE}

## Training

{prior_paragraph}

{wavenet_sentence}

## How it was chosen, and what it replaced

{selection_note or "No selection note was given."}

## Measured

{labellers_line(eval_report) if same else ""}

{figures}

{eval_notes(eval_report) if same else ""}

## Limits

Small by design (it must run in real time on 2 CPU cores) and trained for minutes. **Read
`cat_share` with its controls**: the `source` labeller learnt naya's recording channel as well
as its cats, and calls noise-like contours with naya's spectral colour cat; YAMNet, an
independent judge, is far stricter (figures above). Listen before you trust a number: the
contours are blurrier and less harmonic than real calls, and the WaveNet still renders part of
what harmonic structure there is as noise (the controls above compare real clips with their own
log-mels through it). Moods are the naya authors' situation labels, not observed emotions.
Non-commercial data (see above).
""")
    return model_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow-run", type=Path, default=None, help="default: keep the shipped")
    parser.add_argument(
        "--wavenet-run",
        type=Path,
        action="append",
        default=[],
        help="a WaveNet fine-tuning run; again for each later stage, in order (the weights are "
        "the last's); default: keep the shipped",
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--eval", type=Path, default=None, help="miao eval synth --json output")
    parser.add_argument("--bench", type=Path, default=None, help="miao bench synth --json output")
    for name, kind in (("guidance", float), ("temperature", float), ("steps", int)):
        default = kind(NEW_PRIOR_SAMPLING[f"contour_{name}"])
        parser.add_argument(
            f"--contour-{name}",
            type=kind,
            default=None,
            help=f"default: as shipped when the prior is kept, else {default}",
        )
    parser.add_argument("--selection-note", default="", help="how the settings were chosen")
    args = parser.parse_args(argv)
    try:
        sampling = _sampling(args)
        model_id = ship_flow(
            args.flow_run,
            args.wavenet_run,
            args.out,
            json.loads(args.eval.read_text()) if args.eval else {},
            json.loads(args.bench.read_text()) if args.bench else {},
            sampling,
            args.selection_note,
        )
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    print(f"wavenet: {model_id}")


def _sampling(args: argparse.Namespace) -> dict[str, float]:
    """The sampling settings to ship: those given, the rest as shipped when the prior is kept
    (a re-ship must not quietly resample), else the flow prior's defaults."""
    if args.flow_run is None:
        folder = args.out / WAVENET_DIR
        base = shipped_sampling(folder, json.loads((folder / "config.json").read_text()))
    else:
        base = NEW_PRIOR_SAMPLING
    given = {key: getattr(args, key) for key in NEW_PRIOR_SAMPLING}
    return {k: float(v if v is not None else base[k]) for k, v in given.items()}


if __name__ == "__main__":
    main()
