"""The pipeline's world for one test module: fresh contracts with a labeller account, a migrated
database, test labellers, and settings pointing at the session's real anvil, IPFS node and Redis."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_contracts
from backend.chain.dev_accounts import dev_key
from backend.chain.registry import SoundRegistry
from backend.chain.roles import LABELLER_ROLE, MODEL_ADMIN_ROLE
from backend.db.migrate import upgrade
from backend.settings import ANVIL_KEYS, Settings
from tests.fixtures.api import TEST_DOMAIN
from tests.pipeline.support import make_labellers

LABELLER_KEY = dev_key(6)


@pytest.fixture(scope="session")
def test_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_labellers(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def pipeline_deployment(
    admin_client: ChainClient, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Deployment, Path]:
    """Contracts of this module only (other tests' sounds never reach its indexer), with the
    worker's labeller account holding LABELLER_ROLE and MODEL_ADMIN_ROLE."""
    deployment = deploy_contracts(admin_client)
    registry = SoundRegistry(admin_client, deployment.sound_registry)
    labeller = Account.from_key(LABELLER_KEY).address
    registry.grant_role(LABELLER_ROLE, labeller)
    registry.grant_role(MODEL_ADMIN_ROLE, labeller)
    path = tmp_path_factory.mktemp("deployment") / "deployment.json"
    deployment.save(path)
    return deployment, path


@pytest.fixture(scope="module")
def pipeline_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'miao.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def pipeline_settings(
    anvil_url: str,
    ipfs_api_url: str,
    redis_url: str,
    var_dir: Path,
    pipeline_deployment: tuple[Deployment, Path],
    pipeline_db_url: str,
) -> Settings:
    return Settings(
        var_dir=var_dir,
        chain_rpc_url=anvil_url,
        ipfs_api_url=ipfs_api_url,
        redis_url=redis_url,
        database_url=pipeline_db_url,
        deployment_file=pipeline_deployment[1],
        relayer_key=ANVIL_KEYS[1],
        labeller_key=LABELLER_KEY,
        siwe_domain=TEST_DOMAIN,
        session_secret=secrets.token_hex(32),
        receipt_timeout_s=15,
        max_upload_mb=2,
    )


@pytest.fixture(scope="module")
def pipeline_registry(
    admin_client: ChainClient, pipeline_deployment: tuple[Deployment, Path]
) -> SoundRegistry:
    """The module's SoundRegistry, as the admin (for reads and role changes)."""
    return SoundRegistry(admin_client, pipeline_deployment[0].sound_registry)


@pytest.fixture
def alice() -> LocalAccount:
    return Account.from_key(dev_key(4))


@pytest.fixture
def bob() -> LocalAccount:
    return Account.from_key(dev_key(5))
