"""``miao bench gas``: receipt ``gasUsed`` of each on-chain operation, beside its target.

Deploys fresh contracts (on its own anvil unless ``--rpc-url``), then sends every operation twice
from the same accounts. The second send is the steady state reported (and in ``--json``); the
first also pays one-off storage writes (a contributor's first relayed registration turns its
nonce slot from zero, a recipient's first token its balance slot) and is shown beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)

# A CIDv1 (base32, raw leaves) as the IPFS layer produces: 59 characters.
BENCH_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
BENCH_LABEL = "hungry"
BENCH_URI = "ipfs://" + BENCH_CID

TARGETS = {"register_direct": 80_000, "register_relayed": 80_000, "set_label": 60_000}
KEYS = ("register_direct", "register_relayed", "set_label", "mint", "redeem")
DESCRIPTIONS = {
    "register_direct": "registerSound",
    "register_relayed": "registerSoundFor",
    "set_label": "setLabel",
    "mint": "mint",
    "redeem": "redeem (voucher)",
}


@dataclass(frozen=True)
class GasFigures:
    """Per operation: gasUsed of the first and of the second (steady-state) send."""

    first: dict[str, int]
    steady: dict[str, int]

    def missed_targets(self) -> list[str]:
        return [key for key, limit in TARGETS.items() if self.steady[key] > limit]


def measure_gas(rpc_url: str, admin_key: str) -> GasFigures:
    """Deploy fresh contracts at ``rpc_url`` and measure every operation twice."""
    from backend.chain.client import ChainClient
    from backend.chain.deploy import deploy_contracts
    from backend.chain.dev_accounts import dev_key
    from backend.chain.eip712 import Voucher
    from backend.chain.meow_nft import MeowNFT
    from backend.chain.registry import Kind, SoundRegistry

    admin = ChainClient(rpc_url, admin_key)  # also the relayer, labeller and minter, as in dev
    direct_user = admin.with_key(dev_key(1))
    signing_user = admin.with_key(dev_key(2))
    redeeming_user = admin.with_key(dev_key(3))
    deployment = deploy_contracts(admin)
    registry = SoundRegistry(admin, deployment.sound_registry)
    nft = MeowNFT(admin, deployment.meow_nft)
    model_id = os.urandom(32)
    registry.register_model(model_id, "bench-model", "classify-kind", ["cat", "dog", "infant"])

    runs: dict[str, list[int]] = {key: [] for key in KEYS}
    for _ in range(2):
        digest = os.urandom(32)
        runs["register_direct"].append(
            registry.as_signer(direct_user)
            .register_sound(digest, Kind.CAT, BENCH_CID, BENCH_LABEL)
            .gas_used
        )
        relayed = os.urandom(32)
        deadline = int(admin.w3.eth.get_block("latest")["timestamp"]) + 3600
        typed = registry.register_sound_typed_data(
            signing_user.address, relayed, Kind.CAT, BENCH_CID, BENCH_LABEL, deadline
        )
        runs["register_relayed"].append(
            registry.register_sound_for(
                signing_user.address,
                relayed,
                Kind.CAT,
                BENCH_CID,
                BENCH_LABEL,
                deadline,
                signing_user.sign_typed_data(typed),
            ).gas_used
        )
        runs["set_label"].append(registry.set_label(digest, model_id, 0, 9_250).gas_used)
        runs["mint"].append(nft.mint(direct_user.address, BENCH_URI, digest).tx.gas_used)
        voucher = Voucher(
            redeeming_user.address, BENCH_URI, relayed, int.from_bytes(os.urandom(16)) + 1, deadline
        )
        signed = nft.sign_voucher(voucher)
        runs["redeem"].append(
            nft.as_signer(redeeming_user).redeem(voucher, signed.signature).tx.gas_used
        )
    return GasFigures(
        first={k: v[0] for k, v in runs.items()}, steady={k: v[1] for k, v in runs.items()}
    )


def _table(figures: GasFigures) -> Table:
    table = Table(title="gas per operation (receipt gasUsed)")
    table.add_column("key")
    table.add_column("call", style="dim")
    table.add_column("steady", justify="right")
    table.add_column("first", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="center")
    for key in KEYS:
        limit = TARGETS.get(key)
        steady = figures.steady[key]
        verdict = "" if limit is None else ("[green]ok[/]" if steady <= limit else "[red]over[/]")
        table.add_row(
            key,
            DESCRIPTIONS[key],
            f"{steady:,}",
            f"{figures.first[key]:,}",
            f"<= {limit:,}" if limit else "-",
            verdict,
        )
    return table


def gas(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (steady state)."),
    rpc_url: str | None = typer.Option(
        None,
        "--rpc-url",
        help="Measure on this dev chain (anvil's funded accounts) instead of a fresh anvil.",
    ),
) -> None:
    """Gas of register (direct, relayed), setLabel, mint and redeem; exit 1 if over a target."""
    from backend.chain.errors import ChainError
    from backend.settings import get_settings
    from miao.stack import StackError, chain_or_throwaway_anvil

    try:
        with err.status("measuring gas") as status:
            if rpc_url is None:
                status.update("starting anvil")
            with chain_or_throwaway_anvil(rpc_url, "miao-bench-gas-") as url:
                status.update(f"deploying and sending on {url}")
                figures = measure_gas(url, get_settings().deployer_key)
    except (StackError, ChainError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    if json_out:
        typer.echo(json.dumps(figures.steady))
    else:
        Console().print(_table(figures))
        Console().print(
            f"[dim]CID of {len(BENCH_CID)} chars, contributor label {BENCH_LABEL!r}. steady = the "
            "second send from the same accounts; first = the first, which also turns storage "
            "from zero (relayed: the contributor's nonce; mint/redeem: balance and counters).[/]"
        )
    missed = figures.missed_targets()
    if missed:
        err.print(f"[red]over target:[/] {', '.join(missed)}")
        raise typer.Exit(1)


def register(bench_app: typer.Typer) -> None:
    bench_app.command("gas")(gas)
