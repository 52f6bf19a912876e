"""``miao demo [FILE]``: the main job against the running stack (``miao dev``), step by step.

Sign in with a test wallet (EIP-4361), upload a cat recording (FILE, else a meow the project
synthesises itself), sign the EIP-712 registration with the wallet and have the API relay it,
then follow the job's server-sent events until the label is on-chain. Each step prints its
transaction hash or CID.
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
    timeout: float = typer.Option(180.0, help="Seconds to wait for the on-chain label."),
) -> None:
    """Upload a recording and follow it to its on-chain label.

    Exit codes: 0 labelled on-chain, 1 the job failed or was refused (the reason is printed),
    2 the stack is not running or not healthy.
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
        code = _follow(base, job_id, timeout)
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


def _follow(base: str, job_id: str, timeout: float) -> int:
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
                code = _show(event)
                if code is not None:
                    return code
    except httpx.ReadTimeout:
        console.print(f"[red]no label after {timeout:g} s[/]: see var/logs/worker.log")
        return EXIT_FAILED
    console.print("[red]the event stream ended before the job finished[/]")
    return EXIT_FAILED


def _events(lines: Any) -> Any:
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


def _show(event: dict[str, Any]) -> int | None:
    stage, data = event["data"]["stage"], event["data"]["data"]
    if stage == "received":
        console.print(f"  [cyan]received[/]  {data.get('bytes', '?')} bytes")
    elif stage == "pinned":
        console.print(f"  [cyan]pinned[/]    CID {data.get('cid')}")
    elif stage == "registered":
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
        return EXIT_LABELLED
    elif stage == "failed":
        console.print(f"[red]failed:[/] {data.get('reason')}")
        return EXIT_FAILED
    return None


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
