"""``miao bench label``: labeller throughput, single-clip latency and peak memory on 5 s clips.

The clips are synthetic (harmonic sweeps in noise, encoded as 16-bit WAV bytes in memory), so the
benchmark needs nothing from ``../shared``. Every timing includes decoding and features, not just
the model. Targets (issue 4, two CPU cores): >= 50 clips/s, p50 <= 50 ms, peak RSS <= 1 GB.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time

import typer
from rich.console import Console

console = Console(stderr=True)


def synthetic_clips(n: int, seconds: float = 5.0, seed: int = 0) -> list[bytes]:
    """``n`` WAV files (bytes): a random harmonic sweep plus noise, 16 kHz mono."""
    import numpy as np

    from ml.audio import encode_wav

    rng = np.random.default_rng(seed)
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    clips = []
    for _ in range(n):
        f0 = rng.uniform(200, 900) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        wave = sum(np.sin(k * phase) / k for k in range(1, 5)) * 0.2
        wave = wave * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t) ** 2)
        wave = wave + rng.normal(0, 0.01, t.size)
        clips.append(encode_wav(wave, rate))
    return clips


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def bench_label(
    task: str = typer.Option("source", help="Which shipped labeller to measure."),
    clips: int = typer.Option(200, min=10, help="Clips for the throughput run."),
    batch: int = typer.Option(16, min=1, help="Clips per model call in the throughput run."),
    latency_runs: int = typer.Option(50, min=5, help="Single-clip runs for the latency p50."),
    threads: int = typer.Option(
        1,
        min=1,
        help="torch CPU threads. 1 by default: on a busy 2-core machine a 2-thread pool spends "
        "its time waiting for the other core (p50 ~8x worse measured here).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Measure clips/s (decode + features + model), p50 latency of one clip and peak RSS."""
    import torch

    from ml.audio import load_audio
    from ml.registry import ModelNotFoundError, load_labeller

    torch.set_num_threads(threads)
    try:
        labeller = load_labeller(task)
    except (ModelNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    data = synthetic_clips(clips)
    labeller.predict(load_audio(data[0]))  # warm-up: first call allocates

    started = time.perf_counter()
    for i in range(0, len(data), batch):
        labeller.predict_many([load_audio(b) for b in data[i : i + batch]])
    throughput = len(data) / (time.perf_counter() - started)

    latencies = []
    for b in data[:latency_runs]:
        t0 = time.perf_counter()
        labeller.predict(load_audio(b))
        latencies.append((time.perf_counter() - t0) * 1000)
    result = {
        "task": task,
        "model_id": labeller.model_id,
        "clip_seconds": 5.0,
        "threads": threads,
        "clips_per_s": round(throughput, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "targets": {"clips_per_s": ">= 50", "p50_ms": "<= 50", "peak_rss_mb": "<= 1024"},
    }
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(
            f"labeller {task} ({labeller.model_id[:12]}), 5 s clips, {threads} threads\n"
            f"  throughput (decode + features + model): {result['clips_per_s']} clips/s "
            f"(target >= 50)\n"
            f"  single-clip latency p50: {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
            f"(target p50 <= 50)\n"
            f"  peak RSS: {result['peak_rss_mb']} MB (target <= 1024)"
        )


def register(bench_app: typer.Typer) -> None:
    bench_app.command("label")(bench_label)
