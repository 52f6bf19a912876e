"""Deploy both contracts and record where they are: the file the backend, worker and indexer read."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from backend.chain.client import ChainClient
from backend.chain.errors import ChainError
from backend.settings import Settings


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live. ``block_number`` is where an indexer starts reading events."""

    chain_id: int
    sound_registry: str
    meow_nft: str
    deployer: str
    block_number: int

    def addresses(self) -> dict[str, str]:
        """Contract name -> address."""
        return {"SoundRegistry": self.sound_registry, "MeowNFT": self.meow_nft}

    def save(self, path: Path) -> None:
        """Write the JSON file atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read a file written by ``save``; a missing or malformed file says how to make one."""
        try:
            raw = json.loads(Path(path).read_text())
            return cls(
                chain_id=int(raw["chain_id"]),
                sound_registry=Web3.to_checksum_address(raw["sound_registry"]),
                meow_nft=Web3.to_checksum_address(raw["meow_nft"]),
                deployer=Web3.to_checksum_address(raw["deployer"]),
                block_number=int(raw["block_number"]),
            )
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path} is missing: deploy the contracts first (`miao dev` or `miao deploy`)."
            ) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a deployment file: {exc}") from None


def deploy_contracts(client: ChainClient) -> Deployment:
    """Deploy ``SoundRegistry`` and ``MeowNFT`` from ``client``'s account, which gets every role."""
    registry, first = client.deploy("SoundRegistry")
    nft, _ = client.deploy("MeowNFT")
    return Deployment(
        chain_id=client.chain_id,
        sound_registry=registry,
        meow_nft=nft,
        deployer=client.address,
        block_number=first.block_number,
    )


def existing_deployment(client: ChainClient, path: Path) -> Deployment | None:
    """The deployment in ``path`` if both its contracts have code on ``client``'s chain."""
    try:
        deployment = Deployment.load(path)
    except (FileNotFoundError, ValueError):
        return None
    if deployment.chain_id != client.chain_id:
        return None
    for address in deployment.addresses().values():
        if not client.w3.eth.get_code(Web3.to_checksum_address(address)):
            return None
    return deployment


def deploy_and_save(settings: Settings, *, reuse_existing: bool = False) -> Deployment:
    """Deploy to ``settings.chain_rpc_url`` with the deployer key; write ``deployment_path``.

    With ``reuse_existing`` a deployment file whose contracts are on this chain is kept as it is
    (docker-compose's one-shot ``migrate`` service restarts without redeploying).
    """
    client = ChainClient.from_settings(settings)
    if client.chain_id != settings.chain_id:
        raise ChainError(
            f"the node at {settings.chain_rpc_url} has chain id {client.chain_id}, "
            f"but MIAO_CHAIN_ID is {settings.chain_id}: refusing to deploy to the wrong chain."
        )
    if reuse_existing and (found := existing_deployment(client, settings.deployment_path)):
        return found
    deployment = deploy_contracts(client)
    deployment.save(settings.deployment_path)
    return deployment
