"""``miao demo [FILE]``: the main job against the running stack (``miao dev``), step by step.

Sign in with a test wallet (EIP-4361), upload a cat recording (FILE, else a meow the project
synthesises itself), sign the EIP-712 registration with the wallet and have the API relay it,
then follow the job's server-sent events until the label is on-chain. Then generate a meow in a
mood with the WaveNet (pinned with its spectrogram and metadata, registered as synthetic), and
mint it as an NFT to the wallet. Each step prints its transaction hash or CID.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console(soft_wrap=True)  # hashes and CIDs stay on one line

EXIT_LABELLED, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 2


def demo(
    file: Path | None = typer.Argument(
        None,
        exists=True,
        dir_okay=False,
        help="A recording to upload (wav, flac, ogg, mp3, webm, m4a; 0.2-60 s). "
        "Default: a meow synthesised now (miao.samples).",
    ),
    kind: str = typer.Option("cat", help="What made the sound: cat, dog, infant, other."),
    api_url: str = typer.Option(
        None, help="The API (default: http://MIAO_API_HOST:MIAO_API_PORT)."
    ),
    wallet_key: str = typer.Option(
        None, help="The contributor's private key (default: anvil's dev account #2; local only)."
    ),
    timeout: float = typer.Option(180.0, help="Seconds to wait for each job."),
    mood: str = typer.Option("happy", help="The mood of the generated meow."),
    meow: bool = typer.Option(True, help="Also generate a meow and mint it (--no-meow skips)."),
) -> None:
    """Upload a recording and follow it to its on-chain label; generate a meow and mint it.

    Exit codes: 0 labelled on-chain (and the meow minted), 1 a job failed or was refused (the
    reason is printed), 2 the stack is not running or not healthy.
    """
    import secrets

    import httpx
    from eth_account import Account

    from backend.settings import ANVIL_KEYS, get_settings
    from miao.samples import meow_wav_bytes

    settings = get_settings()
    base = (api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    account = Account.from_key(wallet_key or ANVIL_KEYS[2])
    if file is not None:
        data, name = file.read_bytes(), file.name
    else:
        data, name = meow_wav_bytes(seconds=1.5, seed=secrets.randbelow(2**31)), "meow.wav"

    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            _check_health(http)
            token = _sign_in(http, account, settings.siwe_domain, settings.chain_id, base)
            auth = {"Authorization": f"Bearer {token}"}
            job_id = _upload_and_register(http, auth, account, data, name, kind)
            code, _ = _follow(base, job_id, timeout, "labelled")
            if code == EXIT_LABELLED and meow:
                code = _generate_and_mint(http, base, auth, mood, timeout)
    except httpx.TransportError as exc:
        console.print(f"[red]error:[/] no answer from the API at {base}: {exc}")
        console.print("start the stack first: [bold]miao dev[/] (or `make demo`)")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    raise typer.Exit(code)


def _fail(reply: Any, what: str, code: int = EXIT_FAILED) -> None:
    try:
        error = reply.json()["error"]
        detail = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        detail = reply.text[:300]
    console.print(f"[red]{what} failed[/] ({reply.status_code}) {detail}")
    raise typer.Exit(code)


def _check_health(http: Any) -> None:
    reply = http.get("/v1/health")
    if reply.status_code != 200:
        _fail(reply, "health check", EXIT_UNAVAILABLE)
    health = reply.json()
    down = {name: c["detail"] for name, c in health["checks"].items() if not c["ok"]}
    if down:
        for name, detail in down.items():
            console.print(f"[red]{name} is down:[/] {detail}")
        raise typer.Exit(EXIT_UNAVAILABLE)
    console.print(f"[green]✓[/] stack healthy: {', '.join(health['checks'])}")


def _sign_in(http: Any, account: Any, domain: str, chain_id: int, base: str) -> str:
    from datetime import UTC, datetime, timedelta

    from eth_account.messages import encode_defunct

    from backend.auth.siwe import SiweMessage, format_datetime

    nonce = http.get("/v1/auth/nonce")
    if nonce.status_code != 200:
        _fail(nonce, "getting a sign-in nonce", EXIT_UNAVAILABLE)
    now = datetime.now(UTC)
    text = SiweMessage(
        domain=domain,
        address=account.address,
        statement="Sign in to MIAO AI.",
        uri=f"{base}/v1/auth/verify",
        chain_id=chain_id,
        nonce=nonce.json()["nonce"],
        issued_at=format_datetime(now),
        expiration_time=format_datetime(now + timedelta(minutes=10)),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()
    reply = http.post("/v1/auth/verify", json={"message": text, "signature": signature})
    if reply.status_code != 200:
        _fail(reply, "sign-in")
    console.print(f"[green]✓[/] signed in (EIP-4361) as {account.address}")
    return str(reply.json()["token"])


def _upload_and_register(
    http: Any, auth: dict[str, str], account: Any, data: bytes, name: str, kind: str
) -> str:
    from backend.chain.eip712 import sign_typed_data

    reply = http.post(
        "/v1/sounds",
        files={"file": (name, data, "application/octet-stream")},
        data={"kind": kind, "contributor_label": "miao demo"},
        headers=auth,
    )
    if reply.status_code == 409:
        existing = reply.json()["error"]["details"][0]
        console.print(f"[yellow]already uploaded[/] as {existing['id']} (CID {existing['cid']})")
        if not existing.get("job_id"):
            raise typer.Exit(EXIT_FAILED)
        return str(existing["job_id"])
    if reply.status_code != 200:
        _fail(reply, "upload")
    body = reply.json()
    console.print(
        f"[green]✓[/] uploaded {len(data):,} bytes ({body['format']}, {body['duration_s']:.2f} s)"
        f"\n    sound id {body['sound_id']}\n    CID      {body['cid']}"
    )
    signature = "0x" + sign_typed_data(account.key.to_0x_hex(), body["typed_data"]).hex()
    console.print("[green]✓[/] signed the EIP-712 RegisterSound typed data with the wallet")
    done = http.post(
        body["register_url"],
        json={"signature": signature, "message": body["typed_data"]["message"]},
        headers=auth,
    )
    if done.status_code != 200:
        _fail(done, "relayed registration")
    console.print(f"[green]✓[/] registered on-chain (relayed)  tx {done.json()['tx_hash']}")
    return str(body["job_id"])


def _generate_and_mint(
    http: Any, base: str, auth: dict[str, str], mood: str, timeout: float
) -> int:
    import secrets

    reply = http.post(
        "/v1/meows",
        json={"mood": mood, "seconds": 1.5, "seed": secrets.randbelow(2**31)},
        headers=auth,
    )
    if reply.status_code != 202:
        _fail(reply, "generating a meow")
    code, made = _follow(base, reply.json()["job_id"], timeout, "registered")
    if code != EXIT_LABELLED:
        return code
    reply = http.post(f"/v1/meows/{made['meow_id']}/mint", json={"mode": "server"}, headers=auth)
    if reply.status_code != 202:
        _fail(reply, "minting the meow")
    code, minted = _follow(base, reply.json()["job_id"], timeout, "minted")
    if code != EXIT_LABELLED:
        return code
    token = http.get(f"/v1/nfts/{minted['token_id']}").json()
    console.print(
        f"[bold green]done:[/] MeowNFT #{minted['token_id']} owned by {token['owner']}, "
        f"token URI {token['token_uri']}"
    )
    return EXIT_LABELLED


def _follow(base: str, job_id: str, timeout: float, done: str) -> tuple[int, dict[str, Any]]:
    """Print the job's events until ``done`` (exit 0 and its data) or ``failed``."""
    import httpx

    console.print(f"following job {job_id} (server-sent events)")
    try:
        with (
            httpx.Client(base_url=base, timeout=httpx.Timeout(timeout)) as http,
            http.stream("GET", f"/v1/jobs/{job_id}/events") as reply,
            console.status("waiting for the worker…"),
        ):
            if reply.status_code != 200:
                reply.read()
                _fail(reply, "following the job")
            for event in _events(reply.iter_lines()):
                stage, data = event["data"]["stage"], event["data"]["data"]
                _show(stage, data)
                if stage == done:
                    return EXIT_LABELLED, data
                if stage == "failed":
                    return EXIT_FAILED, data
    except httpx.ReadTimeout:
        console.print(f"[red]no {done} after {timeout:g} s[/]: see var/logs/worker.log")
        return EXIT_FAILED, {}
    console.print("[red]the event stream ended before the job finished[/]")
    return EXIT_FAILED, {}


def _events(lines: Any) -> Any:
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


def _show(stage: str, data: dict[str, Any]) -> None:
    if stage == "received":
        what = f"{data['bytes']} bytes" if "bytes" in data else _request(data)
        console.print(f"  [cyan]received[/]  {what}")
    elif stage == "generating":
        console.print(f"  [cyan]generating[/] {100 * float(data.get('progress', 0)):.0f}%")
    elif stage == "pinned":
        if "cid" in data:
            console.print(f"  [cyan]pinned[/]    CID {data.get('cid')}")
        else:
            console.print(
                f"  [cyan]pinned[/]    audio {data['audio_cid']}\n"
                f"              spectrogram {data['image_cid']}\n"
                f"              metadata {data['metadata_cid']}"
            )
    elif stage == "registered":
        if "meow_id" in data:
            console.print(
                f"  [green]registered[/] synthetic sound {data['sound_id']}, model "
                f"{data['model_id'][:18]}…  tx {data['tx_hash']}"
            )
        else:
            console.print(f"  [cyan]registered[/] tx {data.get('tx_hash')}")
    elif stage == "labelling":
        console.print(f"  [cyan]labelling[/] models: {', '.join(data.get('tasks', []))}")
    elif stage == "labelled":
        for row in data["labels"]:
            console.print(
                f"  [green]labelled[/]  {row['task']}: [bold]{row['label']}[/] "
                f"({row['confidence_bps'] / 100:.1f}%)  model {row['model_id'][:18]}…  "
                f"tx {row['tx_hash']}"
            )
        if data.get("flagged"):
            console.print(f"  [yellow]flagged:[/] {data['flag_reason']}")
        for task, why in (data.get("skipped_tasks") or {}).items():
            console.print(f"  [yellow]skipped {task}:[/] {why}")
        console.print(f"[bold green]done:[/] {data['label']} is on-chain (tx {data['tx_hash']})")
    elif stage == "minted":
        console.print(f"  [green]minted[/]    token #{data['token_id']}  tx {data['tx_hash']}")
    elif stage == "failed":
        console.print(f"[red]failed:[/] {data.get('reason')}")


def _request(data: dict[str, Any]) -> str:
    if "meow_id" in data:
        return f"mint of meow {data['meow_id']} to {data['to']}"
    return f"{data.get('method')} meow, mood {data.get('mood')}, seed {data.get('seed')}"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
