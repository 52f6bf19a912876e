"""``miao bench pipeline``: upload-to-on-chain-label latency and ``/v1/analyze`` throughput.

Against a running stack (``--api-url``, e.g. ``miao dev``) or one it starts itself (anvil, the
IPFS node, Redis, contracts, SQLite, then the API, indexer and Celery worker as processes, via
``miao.pipeline_stack``). Each upload is a distinct synthetic 5 s clip, uploaded as a "cat",
signed and registered relayed, then followed over SSE to ``labelled``: the time is from the start
of the upload to the ``labelled`` event. Then ``POST /v1/analyze`` is driven at a fixed
concurrency. Targets (issue 5, two CPU cores): label p50 <= 1.0 s, p95 <= 2.0 s, analyze
>= 50 requests/s at concurrency 8.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from miao.commands.bench import percentile

console = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 2


def _sign_in(http: Any, account: Any, domain: str, chain_id: int) -> dict[str, str]:
    from datetime import UTC, datetime, timedelta

    from eth_account.messages import encode_defunct

    from backend.auth.siwe import SiweMessage, format_datetime

    nonce = http.get("/v1/auth/nonce").raise_for_status().json()["nonce"]
    now = datetime.now(UTC)
    text = SiweMessage(
        domain=domain,
        address=account.address,
        statement="Sign in to MIAO AI.",
        uri=f"{http.base_url}v1/auth/verify",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=format_datetime(now),
        expiration_time=format_datetime(now + timedelta(hours=1)),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()
    reply = http.post("/v1/auth/verify", json={"message": text, "signature": signature})
    if reply.status_code != 200:
        raise RuntimeError(f"sign-in failed ({reply.status_code}): {reply.text[:300]}")
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def _follow_to_label(base_url: str, job_id: str, timeout_s: float) -> dict[str, Any]:
    """Read the job's SSE stream until ``labelled``: each stage's arrival time (perf_counter)
    under ``arrived``; ``error`` when the job failed or the stream ended early."""
    import httpx

    arrived: dict[str, float] = {}
    try:
        with (
            httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s)) as http,
            http.stream("GET", f"/v1/jobs/{job_id}/events") as reply,
        ):
            if reply.status_code != 200:
                return {"error": f"events of job {job_id}: {reply.status_code}"}
            for line in reply.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                arrived[event["stage"]] = time.perf_counter()
                if event["stage"] == "labelled":
                    return {"arrived": arrived}
                if event["stage"] == "failed":
                    return {"error": f"job {job_id} failed: {event['data'].get('reason')}"}
    except httpx.HTTPError as exc:
        return {"error": f"events of job {job_id}: {exc}"}
    return {"error": f"the event stream of job {job_id} ended before labelled"}


def measure_labelling(
    base_url: str, clips: list[bytes], wallet_key: str, domain: str, chain_id: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Upload, register relayed and follow each clip to its on-chain label, one after another."""
    import httpx
    from eth_account import Account
    from rich.progress import Progress

    from backend.chain.eip712 import sign_typed_data

    account = Account.from_key(wallet_key)
    totals: list[float] = []
    parts: dict[str, list[float]] = {"upload": [], "register": [], "to_queue": [], "labelling": []}
    with httpx.Client(base_url=base_url, timeout=60) as http, Progress(console=console) as bar:
        auth = _sign_in(http, account, domain, chain_id)
        task = bar.add_task("uploads to on-chain label", total=len(clips))
        for data in clips:
            started = time.perf_counter()
            reply = http.post(
                "/v1/sounds",
                files={"file": ("clip.wav", data, "audio/wav")},
                data={"kind": "cat", "contributor_label": "miao bench pipeline"},
                headers=auth,
            )
            if reply.status_code != 200:
                raise RuntimeError(f"upload failed ({reply.status_code}): {reply.text[:300]}")
            body = reply.json()
            uploaded = time.perf_counter()
            with ThreadPoolExecutor(1) as pool:  # follow from now on, so no arrival is late
                followed = pool.submit(_follow_to_label, base_url, body["job_id"], 120.0)
                signature = (
                    "0x" + sign_typed_data(account.key.to_0x_hex(), body["typed_data"]).hex()
                )
                done = http.post(body["register_url"], json={"signature": signature}, headers=auth)
                registered = time.perf_counter()
                if done.status_code != 200:
                    raise RuntimeError(
                        f"registration failed ({done.status_code}): {done.text[:300]}"
                    )
                outcome = followed.result()
            if "error" in outcome:
                raise RuntimeError(outcome["error"])
            arrived = outcome["arrived"]
            totals.append(arrived["labelled"] - started)
            parts["upload"].append(uploaded - started)
            parts["register"].append(registered - uploaded)
            # the indexer sees the registration and queues it; the worker labels on-chain
            parts["to_queue"].append(arrived["labelling"] - registered)
            parts["labelling"].append(arrived["labelled"] - arrived["labelling"])
            bar.advance(task)
    return totals, parts


def measure_analyze(
    base_url: str, clips: list[bytes], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    """Requests per second of ``POST /v1/analyze`` at ``concurrency``, and each latency."""
    import asyncio

    import httpx

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:

            async def one(i: int) -> None:
                data = clips[i % len(clips)]
                t0 = time.perf_counter()
                reply = await http.post(
                    "/v1/analyze", files={"file": ("clip.wav", data, "audio/wav")}
                )
                if reply.status_code != 200:
                    raise RuntimeError(f"analyze failed ({reply.status_code}): {reply.text[:300]}")
                latencies.append(time.perf_counter() - t0)

            for i in range(min(concurrency, requests)):  # warm-up: models loaded, pools open
                await one(i)
            latencies.clear()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(requests):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    await one(queue.get_nowait())

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return requests / (time.perf_counter() - started), latencies

    return asyncio.run(run())


def bench_pipeline(
    api_url: str = typer.Option(
        None, help="A running stack's API (e.g. `miao dev`); default: start a fresh stack."
    ),
    uploads: int = typer.Option(50, min=1, help="Sequential uploads followed to their label."),
    clip_seconds: float = typer.Option(5.0, min=0.5, max=60, help="Seconds per clip."),
    analyze_requests: int = typer.Option(400, min=1, help="POST /v1/analyze requests."),
    concurrency: int = typer.Option(8, min=1, help="Concurrent /v1/analyze requests."),
    weights_dir: Path = typer.Option(
        None,
        file_okay=False,
        help="Labellers for a started stack (MIAO_WEIGHTS_DIR layout); default the shipped ones.",
    ),
    index_poll: float = typer.Option(
        None, min=0.01, help="Started stack: indexer poll seconds (default MIAO_INDEX_POLL_S)."
    ),
    wallet_key: str = typer.Option(
        None, help="The uploader's key (default: anvil's dev account #2; local only)."
    ),
    keep_logs: Path = typer.Option(None, help="Started stack: keep its folder (logs) here."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time uploads to their on-chain label (p50, p95) and /v1/analyze throughput.

    Exit codes: 0 measured, 1 an upload or analysis failed (the reason is printed), 2 no stack.
    """
    import httpx

    from backend.settings import ANVIL_KEYS, get_settings
    from miao.commands.bench_label import synthetic_clips
    from miao.stack import StackError
    from ml.registry import WEIGHTS_FILE
    from ml.registry import weights_dir as default_weights_dir

    settings = get_settings()
    wallet_key = wallet_key or ANVIL_KEYS[2]
    clips = synthetic_clips(uploads, seconds=clip_seconds, seed=time.time_ns() % 2**32)
    with ExitStack() as cleanup:
        if api_url:
            base, domain, chain_id, stack_name = (
                api_url.rstrip("/"),
                settings.siwe_domain,
                settings.chain_id,
                api_url,
            )
            models = "the running stack's"
        else:
            weights = weights_dir or default_weights_dir()
            if not (weights / "source" / WEIGHTS_FILE).is_file():
                console.print(
                    f"[red]error:[/] no source model in {weights}: ship the models or pass "
                    "--weights-dir (a folder of <task>/config.json + model.safetensors)"
                )
                raise typer.Exit(EXIT_UNAVAILABLE)
            models = str(weights)
            try:
                base, stack = _start_stack(cleanup, weights, index_poll, keep_logs)
            except StackError as exc:
                console.print(f"[red]error:[/] could not start the stack: {exc}")
                raise typer.Exit(EXIT_UNAVAILABLE) from None
            domain, chain_id, stack_name = (
                stack.settings.siwe_domain,
                stack.settings.chain_id,
                "started",
            )
        try:
            httpx.get(f"{base}/v1/health", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            console.print(f"[red]error:[/] no healthy API at {base}: {exc}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
        try:
            totals, parts = measure_labelling(base, clips, wallet_key, domain, chain_id)
            console.print(f"analyze: {analyze_requests} requests at concurrency {concurrency}")
            rps, latencies = measure_analyze(base, clips, analyze_requests, concurrency)
        except (RuntimeError, httpx.HTTPError) as exc:
            console.print(f"[red]failed:[/] {exc}")
            raise typer.Exit(EXIT_FAILED) from None

    result = {
        "label_p50_s": round(statistics.median(totals), 3),
        "label_p95_s": round(percentile(totals, 95), 3),
        "analyze_rps": round(rps, 1),
        "analyze_p50_s": round(statistics.median(latencies), 3),
        "uploads": uploads,
        "clip_seconds": clip_seconds,
        "analyze_requests": analyze_requests,
        "concurrency": concurrency,
        "stack": stack_name,
        "weights": models,
        "label_parts_p50_s": {k: round(statistics.median(v), 3) for k, v in parts.items()},
        "targets": {"label_p50_s": "<= 1.0", "label_p95_s": "<= 2.0", "analyze_rps": ">= 50"},
    }
    if json_output:
        typer.echo(json.dumps(result))
        return
    p = result["label_parts_p50_s"]
    typer.echo(
        f"pipeline ({stack_name} stack, {uploads} uploads of {clip_seconds:g} s clips)\n"
        f"  upload to on-chain label: p50 {result['label_p50_s']} s (target <= 1.0), "
        f"p95 {result['label_p95_s']} s (target <= 2.0)\n"
        f"    p50 parts: upload {p['upload']} s, relayed registration {p['register']} s, "
        f"registered->queued {p['to_queue']} s, worker labelling {p['labelling']} s\n"
        f"  /v1/analyze at concurrency {concurrency}: {result['analyze_rps']} requests/s "
        f"(target >= 50), p50 {result['analyze_p50_s']} s"
    )


def _start_stack(
    cleanup: ExitStack, weights: Path, index_poll: float | None, keep: Path | None
) -> tuple[str, Any]:
    from backend.settings import get_settings
    from miao.pipeline_stack import PipelineStack, start_chain_and_storage

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        folder = keep
    else:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="miao-bench-")))
    console.print(f"starting a stack in {folder} (anvil, IPFS, Redis, API, indexer, worker)…")
    settings, services = start_chain_and_storage(folder)
    for proc in services:
        cleanup.callback(proc.stop)
    stack = PipelineStack(
        settings,
        weights,
        folder / "logs",
        index_poll_s=index_poll or get_settings().index_poll_s,
    )
    cleanup.callback(stack.stop)
    stack.start()
    return stack.base_url, stack


def register(bench_app: typer.Typer) -> None:
    bench_app.command("pipeline")(bench_pipeline)
