"""``miao bench synth``: real-time factors (generation time / audio time) of synthesis on the CPU.

``wavenet_rtf``: a whole ``miao synth`` generation (mel prior + WaveNet, cached fast generator)
of ``--seconds`` of audio, median of ``--repeats`` seeds, after one warm-up (numba compiles on
first use). ``style_rtf``: a whole ``catify`` (log-mel, GAN, envelope, Griffin-Lim) of a
synthetic voice-like signal of the same length. ``naive_wavenet_rtf`` (``--naive-samples``): the
full-convolution generator on a short stretch, to show what the queues save. Targets: WaveNet
<= 1.0, style <= 0.5 (issue 6, two CPU cores).
"""

from __future__ import annotations

import json
import os
import statistics
import time

import typer
from rich.console import Console

console = Console(stderr=True)


def voice_like(seconds: float, seed: int = 0) -> object:
    """A vowel-like test signal: a 110-160 Hz glottal pulse train, formant-filtered, in syllables."""
    import numpy as np
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 50 * np.sin(2 * np.pi * 1.3 * t) ** 2
    pulses = (np.diff(np.floor(np.cumsum(f0) / rate), prepend=0) > 0).astype(np.float64)
    wave = pulses
    for formant, bandwidth in ((700, 110), (1200, 120), (2500, 160)):
        r = np.exp(-np.pi * bandwidth / rate)
        theta = 2 * np.pi * formant / rate
        wave = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], wave)
    wave = wave / np.max(np.abs(wave))
    syllables = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.5
    wave = wave * syllables + rng.normal(0, 0.002, t.size)
    return (0.8 * wave / np.max(np.abs(wave))).astype(np.float32)


def bench_synth(
    seconds: float = typer.Option(2.0, help="Audio length per run."),
    repeats: int = typer.Option(3, help="Runs per figure (the median is reported)."),
    threads: int = typer.Option(2, help="torch threads (the fast generator itself is one thread)."),
    naive_samples: int = typer.Option(
        0, help="Also time the naive full-convolution generator on this many samples (slow)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Measure the synthesis real-time factors on this machine."""
    import torch

    from ml.registry import ModelNotFoundError
    from ml.synth.pipeline import MeowSynthesiser, VoiceToCat
    from ml.synth.wavenet import generate_naive

    torch.set_num_threads(threads)
    try:
        synth, style = MeowSynthesiser(), VoiceToCat()
    except ModelNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    synth.synthesize("happy", 0.2, seed=999)  # warm-up: numba compiles (or loads its cache)
    wavenet, generator_only = [], []
    for seed in range(repeats):
        started = time.perf_counter()
        result = synth.synthesize("happy", seconds, seed=seed)
        wavenet.append((time.perf_counter() - started) / seconds)
        e = synth.emotion.encode(mood="happy")
        mel = synth.contour(e, -(-len(result.wave) // 160), seed)
        started = time.perf_counter()
        synth.generator.generate(mel, e, len(result.wave), seed)
        generator_only.append((time.perf_counter() - started) / seconds)
    voice = voice_like(seconds)
    style.catify(voice[:1600])
    style_runs = []
    for seed in range(repeats):
        started = time.perf_counter()
        style.catify(voice, seed=seed)
        style_runs.append((time.perf_counter() - started) / seconds)
    figures: dict[str, object] = {
        "wavenet_rtf": round(statistics.median(wavenet), 4),
        "wavenet_generator_only_rtf": round(statistics.median(generator_only), 4),
        "style_rtf": round(statistics.median(style_runs), 4),
        "seconds": seconds,
        "repeats": repeats,
        "threads": threads,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "models": {
            "wavenet": synth.model_id,
            "emotion-encoder": synth.emotion_model_id,
            "style-gan": style.model_id,
        },
    }
    if naive_samples > 0:
        e = synth.emotion.encode(mood="happy")
        mel = synth.contour(e, -(-naive_samples // 160), 0)
        started = time.perf_counter()
        generate_naive(synth.wavenet, mel, e, naive_samples, seed=0)
        figures["naive_wavenet_rtf"] = round(
            (time.perf_counter() - started) / (naive_samples / 16000), 2
        )
    if json_output:
        typer.echo(json.dumps(figures))
        return
    typer.echo(f"wavenet_rtf  {figures['wavenet_rtf']:.3f}  (target <= 1.0; prior + WaveNet)")
    typer.echo(f"  generator only {figures['wavenet_generator_only_rtf']:.3f}")
    typer.echo(f"style_rtf    {figures['style_rtf']:.3f}  (target <= 0.5; GAN + Griffin-Lim)")
    if "naive_wavenet_rtf" in figures:
        typer.echo(f"naive WaveNet {figures['naive_wavenet_rtf']:.1f}  ({naive_samples} samples)")
    typer.echo(f"(1-min load average {figures['load_average_1min']} on {figures['cpus']} CPUs)")


def register(bench_app: typer.Typer) -> None:
    bench_app.command("synth")(bench_synth)
