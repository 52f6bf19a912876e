"""``miao bench label``: labeller throughput, single-clip latency and peak memory on 5 s clips.

The clips are synthetic (harmonic sweeps in noise, encoded as 16-bit WAV bytes in memory), so the
benchmark needs nothing from ``../shared``. Every timing includes decoding and features, not just
the model. Targets (issue 4, two CPU cores): >= 50 clips/s, p50 <= 50 ms, peak RSS <= 1 GB.

``--route cat`` measures what the worker runs per upload of a declared kind: ``source``, then the
task that kind routes to (``cat-emotion``), on each clip decoded once.
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
    route: str | None = typer.Option(
        None,
        help="A declared kind (cat, dog, infant_cry): label each clip with source and then the "
        "task that kind routes to, as the worker does per upload. Not with --task.",
    ),
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
    from ml.tasks import SOURCE_ROUTES

    torch.set_num_threads(threads)
    routes = ", ".join(SOURCE_ROUTES)
    if route is not None and route not in SOURCE_ROUTES:
        console.print(f"[red]error:[/] unknown --route {route!r}: one of {routes}")
        raise typer.Exit(2)
    if route is not None and task != "source":
        console.print(f"[red]error:[/] --route labels with source first: not with --task {task}")
        raise typer.Exit(2)
    tasks = [task] if route is None else ["source", SOURCE_ROUTES[route]]
    try:
        labellers = [load_labeller(t) for t in tasks]
    except (ModelNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    data = synthetic_clips(clips)
    for labeller in labellers:
        labeller.predict(load_audio(data[0]))  # warm-up: first call allocates

    started = time.perf_counter()
    for i in range(0, len(data), batch):
        waves = [load_audio(b) for b in data[i : i + batch]]
        for labeller in labellers:
            labeller.predict_many(waves)
    throughput = len(data) / (time.perf_counter() - started)

    latencies = []
    for b in data[:latency_runs]:
        t0 = time.perf_counter()
        wave = load_audio(b)
        for labeller in labellers:
            labeller.predict(wave)
        latencies.append((time.perf_counter() - t0) * 1000)
    name = " + ".join(tasks)
    result = {
        "task": name,
        "tasks": tasks,
        "model_id": labellers[0].model_id if len(labellers) == 1 else None,
        "model_ids": {t: lab.model_id for t, lab in zip(tasks, labellers, strict=True)},
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
            f"labeller {name} ({', '.join(lab.model_id[:12] for lab in labellers)}), 5 s clips, "
            f"{threads} threads\n"
            f"  throughput (decode + features + model): {result['clips_per_s']} clips/s "
            f"(target >= 50)\n"
            f"  single-clip latency p50: {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
            f"(target p50 <= 50)\n"
            f"  peak RSS: {result['peak_rss_mb']} MB (target <= 1024)"
        )


def register(bench_app: typer.Typer) -> None:
    bench_app.command("label")(bench_label)
