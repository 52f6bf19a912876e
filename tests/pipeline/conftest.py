"""The pipeline's world for one test module: fresh contracts with a labeller account and a minter
account, a migrated database, test labellers beside the shipped synthesis models, and settings
pointing at the session's real anvil, IPFS node and Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_contracts
from backend.chain.dev_accounts import dev_key
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import SoundRegistry
from backend.chain.roles import GENERATOR_ROLE, LABELLER_ROLE, MINTER_ROLE, MODEL_ADMIN_ROLE
from backend.db.migrate import upgrade
from backend.settings import ANVIL_KEYS, REPO_ROOT, Settings
from tests.fixtures.api import TEST_DOMAIN
from tests.pipeline.stack import PipelineStack
from tests.pipeline.support import make_labellers

LABELLER_KEY = dev_key(6)
MINTER_KEY = dev_key(7)
SYNTHESIS_MODELS = ("wavenet", "emotion-encoder", "style-gan")


@pytest.fixture(scope="session")
def test_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny test labellers, and links to the shipped synthesis models (real, and fast enough)."""
    root = make_labellers(tmp_path_factory.mktemp("weights"))
    for name in SYNTHESIS_MODELS:
        (root / name).symlink_to(REPO_ROOT / "ml" / "weights" / name, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def pipeline_deployment(
    admin_client: ChainClient, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Deployment, Path]:
    """Contracts of this module only (other tests' sounds never reach its indexer), with the
    worker's labeller account holding LABELLER_ROLE and MODEL_ADMIN_ROLE, and its minter account
    GENERATOR_ROLE, MODEL_ADMIN_ROLE and MINTER_ROLE."""
    deployment = deploy_contracts(admin_client)
    registry = SoundRegistry(admin_client, deployment.sound_registry)
    labeller = Account.from_key(LABELLER_KEY).address
    registry.grant_role(LABELLER_ROLE, labeller)
    registry.grant_role(MODEL_ADMIN_ROLE, labeller)
    minter = Account.from_key(MINTER_KEY).address
    registry.grant_role(GENERATOR_ROLE, minter)
    registry.grant_role(MODEL_ADMIN_ROLE, minter)
    MeowNFT(admin_client, deployment.meow_nft).grant_role(MINTER_ROLE, minter)
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
        minter_key=MINTER_KEY,
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


@pytest.fixture(scope="module")
def stack(
    pipeline_settings: Settings, test_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineStack]:
    """The API, indexer, worker and Redis as processes, for one test module."""
    running = PipelineStack(
        pipeline_settings, test_weights_dir, tmp_path_factory.mktemp("stack-logs")
    )
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture
def http(stack: PipelineStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client
