"""``miao synth``: a new meow in a mood (emotion-conditioned WaveNet), and ``miao eval synth``.

Writes the audio (16-bit WAV, 16 kHz) and a spectrogram PNG beside it (same name, ``.png``).
Exit codes: 0 written, 1 no shipped synthesis model, 2 bad input (unknown mood, bad length,
unreadable reference clip). Nothing is written unless generation succeeded.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def write_outputs(wave: object, out: Path, title: str) -> Path:
    """Write ``out`` (WAV) and its spectrogram PNG atomically; returns the PNG path."""
    import numpy as np
    import soundfile as sf

    from ml.features import spectrogram_png

    wave = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    png = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_wav, tmp_png = out.with_name(out.name + ".part"), png.with_name(png.name + ".part")
    try:
        sf.write(tmp_wav, wave, 16000, format="WAV", subtype="PCM_16")
        tmp_png.write_bytes(spectrogram_png(wave, title=title))
        tmp_wav.replace(out)
        tmp_png.replace(png)
    finally:
        tmp_wav.unlink(missing_ok=True)
        tmp_png.unlink(missing_ok=True)
    return png


def synth(
    mood: str = typer.Option(
        "happy", help="happy, curious, sleepy, angry, … (naya label or display name)."
    ),
    seconds: float = typer.Option(2.0, help="Length of the meow (0.1 to 10 s)."),
    seed: int = typer.Option(0, help="Same seed + same weights = same audio."),
    out: Path = typer.Option(..., "-o", "--out", help="Output WAV; the PNG goes beside it."),
    temperature: float = typer.Option(1.0, help="WaveNet sampling temperature (> 0)."),
    contour_temperature: float = typer.Option(
        None,
        help="Mel prior sampling temperature: the scale of the noise a contour starts from "
        "(flow prior) or of each frame's draw (GRU prior); default: the model's.",
    ),
    contour_guidance: float = typer.Option(
        None, help="Mood guidance of the mel prior (1 = none; default: the model's)."
    ),
    reference: Path = typer.Option(
        None, help="Generate in the mood of this recording instead of --mood."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print what was made as JSON."),
) -> None:
    """Generate a meow in a mood with the emotion-conditioned WaveNet; write WAV + spectrogram."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ml.audio import AudioError, load_audio
    from ml.registry import ModelNotFoundError
    from ml.synth.pipeline import MeowSynthesiser

    torch.set_num_threads(2)
    ref_wave = None
    if reference is not None:
        try:
            ref_wave = load_audio(reference, max_seconds=10.0)
        except (AudioError, FileNotFoundError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    try:
        synthesiser = MeowSynthesiser()
    except ModelNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} samples"),
        TimeRemainingColumn(),
        console=console,
        transient=json_output,
    ) as progress:
        task = progress.add_task("synth", total=max(1, round(seconds * 16000)))
        try:
            result = synthesiser.synthesize(
                mood=None if ref_wave is not None else mood,
                seconds=seconds,
                seed=seed,
                temperature=temperature,
                contour_temperature=contour_temperature,
                contour_guidance=contour_guidance,
                reference=ref_wave,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    png = write_outputs(result.wave, out, f"{result.mood} meow, seed {seed}")
    info = {
        "audio": str(out),
        "spectrogram": str(png),
        "mood": result.mood,
        "seconds": seconds,
        "seed": seed,
        "temperature": temperature,
        "model_id": result.model_id,
        "emotion_model_id": result.emotion_model_id,
    }
    if json_output:
        typer.echo(json.dumps(info))
    else:
        console.print(f"wrote {out} and {png} (model {result.model_id[:12]}…)")


def eval_synth(
    out: Path | None = None, json_output: bool = False, judges: Path | None = None
) -> None:
    """``miao eval synth``: figures of the shipped synthesis models (see ml.synth.eval_synth)."""
    import torch
    from rich.progress import Progress

    from backend.settings import get_settings
    from ml.registry import ModelNotFoundError
    from ml.synth.eval_synth import evaluate_synth, load_judges

    if judges is not None:
        try:
            load_judges(judges)  # a wrong folder is bad input: say so before minutes of work
        except (ModelNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/] --judges: {exc}")
            raise typer.Exit(2) from None
    torch.set_num_threads(2)
    settings = get_settings()
    with Progress(console=console, transient=True) as progress:
        bars: dict[str, int] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        try:
            report = evaluate_synth(settings.var_dir / "cache", progress=tick, judges_dir=judges)
        except ModelNotFoundError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    folder = out or settings.var_dir / "reports" / "synth"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    if json_output:
        typer.echo(json.dumps(report))
        return
    for name in report["missing_labellers"]:
        console.print(f"[yellow]no shipped {name!r} labeller: its figures are not measured[/]")

    def shown(key: str) -> str:
        value = report.get(key)
        if value is None:
            return "not measured"
        interval = report.get("intervals_95", {}).get(key)
        return f"{value:.3f}" + (
            "" if interval is None else f" [{interval[0]:.2f}-{interval[1]:.2f}]"
        )

    rows = [
        ("cat_share", "generated clips called cat by `source`", ">= 0.90"),
        ("mood_match", "cat-emotion agrees (happy/curious/sleepy)", ">= 0.60 (chance 0.33)"),
        ("style_cat_share", "style transfers called cat", ">= 0.80"),
        ("rhythm_r", "loudness-envelope Pearson r, in vs out", ">= 0.70"),
        ("diversity", "mean pairwise log-mel L1, different seeds", ""),
        ("real_diversity", "the same between real naya test clips", ""),
    ]
    typer.echo("(shares with their 95% Wilson interval over the clips judged)")
    for key, what, target in rows:
        typer.echo(f"{key:16} {shown(key):>24}  {what} {target}")
    contour = report.get("contour_griffin_lim")
    if contour:
        typer.echo(
            "diagnostic, the same mel contours through Griffin-Lim (not the WaveNet): mood_match "
            f"{contour['mood_match']:.3f}"
        )
    vocoded = report.get("vocoded_real")
    if vocoded:
        typer.echo(
            f"diagnostic, {vocoded['clips']} real test clips' own log-mels rendered by the WaveNet: "
            f"called cat {vocoded['cat_share']:.2f} (the originals {vocoded['original_cat_share']:.2f})"
        )
    yamnet = report.get("yamnet")
    if yamnet:
        typer.echo(
            "YAMNet (cat classes beat dog/baby-cry/speech): generated "
            f"{yamnet['generated_cat_share']:.2f}, real naya test clips {yamnet['real_cat_share']:.2f}, "
            f"style transfers {yamnet['style_cat_share']:.2f}, their voice inputs "
            f"{yamnet['style_input_cat_share']:.2f}"
        )
    controls = report.get("controls", {})
    if controls:
        typer.echo(
            "controls for the `source` labeller: real cat clips cut to the voices' lengths called "
            f"cat {controls['short_real_cat_share']:.2f}; 2 s white noise called cat "
            f"{controls['noise_cat_share']:.2f}; the raw voices called cat "
            f"{report.get('style_input_cat_share', float('nan')):.2f}"
        )


def register(app: typer.Typer) -> None:
    from miao.commands import eval as eval_command

    eval_command.EVALUATORS["synth"] = eval_synth
    app.command("synth")(synth)
