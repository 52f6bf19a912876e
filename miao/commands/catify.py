"""``miao catify IN -o OUT``: turn a voice into a cat-like sound that keeps its rhythm (GAN).

The voice-to-cat generator works on log-mel; the input's frame energies are re-applied to its
output (so onsets and the loudness envelope are the input's), and Griffin-Lim makes the audio
(``--vocoder wavenet`` uses the mel-conditioned WaveNet instead: slower). Writes a 16-bit WAV and
a spectrogram PNG beside it. Exit codes: 0 written, 1 no shipped model, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def catify(
    source: Path = typer.Argument(..., help="The voice recording (wav, flac, ogg, mp3, …)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output WAV; the PNG goes beside it."),
    mood: str = typer.Option("happy", help="The cat's mood (happy, curious, sleepy, …)."),
    reference: Path = typer.Option(None, help="Take the mood from this cat recording instead."),
    vocoder: str = typer.Option("griffin-lim", help="griffin-lim (fast) or wavenet (slow)."),
    seed: int = typer.Option(0, help="Seed of the vocoder's random start."),
    strength: float = typer.Option(
        None,
        help="How far from the voice, 0-10 (1 = the generator's output; default: the model's).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print what was made as JSON."),
) -> None:
    """Voice in, cat out: same length, same rhythm, a cat-like timbre."""
    import torch

    from miao.commands.synth import write_outputs
    from ml.audio import AudioError, load_audio
    from ml.registry import ModelNotFoundError
    from ml.synth.pipeline import MAX_SECONDS, VoiceToCat

    torch.set_num_threads(2)
    try:
        wave = load_audio(source)
        ref_wave = None if reference is None else load_audio(reference, max_seconds=MAX_SECONDS)
    except (AudioError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        model = VoiceToCat()
    except ModelNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    with console.status(f"catifying {source.name} ({len(wave) / 16000:.1f} s)"):
        try:
            result = model.catify(
                wave,
                mood=None if ref_wave is not None else mood,
                reference=ref_wave,
                vocoder=vocoder,
                seed=seed,
                strength=strength,
            )
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    png = write_outputs(result.wave, out, f"{source.name} as a {result.mood} cat")
    info = {
        "audio": str(out),
        "spectrogram": str(png),
        "mood": result.mood,
        "vocoder": vocoder,
        "style_strength": result.extra["style_strength"],
        "model_id": result.model_id,
        "emotion_model_id": result.emotion_model_id,
    }
    if json_output:
        typer.echo(json.dumps(info))
    else:
        console.print(f"wrote {out} and {png} (model {result.model_id[:12]}…)")


def register(app: typer.Typer) -> None:
    app.command("catify")(catify)
