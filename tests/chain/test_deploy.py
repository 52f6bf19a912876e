"""Deploying and the deployment file the backend reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_and_save
from backend.chain.errors import ChainError
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import SoundRegistry
from backend.chain.roles import GENERATOR_ROLE, LABELLER_ROLE, MINTER_ROLE, MODEL_ADMIN_ROLE
from backend.settings import ANVIL_KEYS, Settings

pytestmark = pytest.mark.chain


def test_deploy_and_save_writes_a_loadable_file(anvil_url: str, tmp_path: Path) -> None:
    settings = Settings(chain_rpc_url=anvil_url, var_dir=tmp_path, deployer_key=ANVIL_KEYS[1])
    deployment = deploy_and_save(settings)

    assert Deployment.load(settings.deployment_path) == deployment
    assert deployment.chain_id == 31337
    assert set(deployment.addresses()) == {"SoundRegistry", "MeowNFT"}

    client = ChainClient(anvil_url, ANVIL_KEYS[1])
    registry = SoundRegistry(client, deployment.sound_registry)
    for role in (LABELLER_ROLE, MODEL_ADMIN_ROLE, GENERATOR_ROLE, b"\x00" * 32):
        assert registry.has_role(role, deployment.deployer)
    assert MeowNFT(client, deployment.meow_nft).has_role(MINTER_ROLE, deployment.deployer)
    assert client.w3.eth.get_code(deployment.meow_nft) != b""


def test_wrong_chain_id_is_refused_and_writes_nothing(anvil_url: str, tmp_path: Path) -> None:
    settings = Settings(chain_rpc_url=anvil_url, var_dir=tmp_path, chain_id=1)
    with pytest.raises(ChainError, match="chain id 31337"):
        deploy_and_save(settings)
    assert not settings.deployment_path.exists()


def test_missing_or_bad_deployment_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="miao deploy"):
        Deployment.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"chain_id": 1}')
    with pytest.raises(ValueError, match="not a deployment file"):
        Deployment.load(tmp_path / "bad.json")


def test_reuse_existing_keeps_a_live_deployment_and_redeploys_a_stale_one(
    anvil_url: str, tmp_path: Path
) -> None:
    settings = Settings(chain_rpc_url=anvil_url, var_dir=tmp_path, deployer_key=ANVIL_KEYS[1])
    first = deploy_and_save(settings)
    assert deploy_and_save(settings, reuse_existing=True) == first

    # a file naming addresses without code (another chain's deployment) is not reused
    stale = Deployment(
        chain_id=first.chain_id,
        sound_registry="0x" + "11" * 20,
        meow_nft="0x" + "22" * 20,
        deployer=first.deployer,
        block_number=0,
    )
    stale.save(settings.deployment_path)
    fresh = deploy_and_save(settings, reuse_existing=True)
    assert fresh.sound_registry not in (stale.sound_registry, first.sound_registry)
    assert Deployment.load(settings.deployment_path) == fresh
