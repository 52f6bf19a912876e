"""``miao deploy``: deploy both contracts to a running chain and write the deployment file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True)


def deploy(
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="JSON-RPC URL (default: MIAO_CHAIN_RPC_URL)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Deployment file (default: MIAO_DEPLOYMENT_FILE or var/deployment.json).",
    ),
    if_missing: bool = typer.Option(
        False,
        "--if-missing",
        help="Keep the deployment file's contracts when their code is on this chain.",
    ),
) -> None:
    """Deploy SoundRegistry and MeowNFT with MIAO_DEPLOYER_KEY (which gets every role)."""
    from backend.chain.deploy import deploy_and_save
    from backend.chain.errors import ChainError, ChainUnavailable
    from backend.settings import get_settings

    update: dict[str, object] = {}
    if rpc_url:
        update["chain_rpc_url"] = rpc_url
    if out:
        update["deployment_file"] = out
    settings = get_settings().model_copy(update=update)
    try:
        with err.status(f"deploying to {settings.chain_rpc_url}"):
            deployment = deploy_and_save(settings, reuse_existing=if_missing)
    except ChainUnavailable:
        err.print(
            f"[red]error:[/] no chain answers at {settings.chain_rpc_url}: start one "
            "(`miao dev`) or set MIAO_CHAIN_RPC_URL / --rpc-url."
        )
        raise typer.Exit(2) from None
    except ChainError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    err.print(
        f"[green]deployed[/] on chain {deployment.chain_id} at block {deployment.block_number}"
    )
    for name, address in deployment.addresses().items():
        typer.echo(f"{name:<14} {address}")
    err.print(f"addresses written to {settings.deployment_path}")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
