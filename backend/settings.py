"""One typed settings object for every service, read from ``MIAO_*`` environment variables.

The defaults run the embedded local stack (``miao dev``): anvil on 8545, the IPFS node on 5001,
Redis on 6379, SQLite under ``var/``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# anvil's first three well-known development keys (mnemonic "test test ... junk"). Public, local only.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)

# Session-token key for the local stack only; the API warns when it runs with it.
DEV_SESSION_SECRET = "miao-dev-session-secret-change-me"


class Settings(BaseSettings):
    """Configuration shared by the API, the workers, the indexer and the CLI."""

    model_config = SettingsConfigDict(env_prefix="MIAO_", env_file=".env", extra="ignore")

    # where runtime state lives: SQLite file, deployment file, IPFS repo, logs
    var_dir: Path = REPO_ROOT / "var"
    shared_dir: Path = REPO_ROOT.parent / "shared"

    # chain
    chain_rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int = 31337
    deployment_file: Path | None = Field(
        default=None,
        description="JSON with the deployed contract addresses; default var/deployment.json",
    )
    deployer_key: str = ANVIL_KEYS[0]
    """Admin of both contracts; in the local stack also the relayer, labeller and minter."""
    receipt_timeout_s: float = 30.0
    nonce_store: Literal["machine", "redis"] = Field(
        default="machine",
        description="Where a signer's next nonce is kept: 'machine' (a locked file: every process "
        "on this machine) or 'redis' (MIAO_REDIS_URL: every machine or container sending from "
        "the same key, e.g. the API and the workers)",
    )
    relayer_key: str = ANVIL_KEYS[1]
    """Pays the gas of relayed registrations (``POST /v1/sounds/{id}/register``); no role needed."""
    labeller_key: str | None = Field(
        default=None,
        description="The worker's signer (LABELLER_ROLE + MODEL_ADMIN_ROLE); default the deployer",
    )
    minter_key: str | None = Field(
        default=None,
        description="Holds MINTER_ROLE + GENERATOR_ROLE: signs mint vouchers (API), sends server "
        "mints and synthetic registrations (worker); default the labeller's key",
    )
    voucher_ttl_s: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long a mint voucher stays redeemable"
    )
    registration_deadline_s: int = Field(
        default=3600, gt=0, description="How long a signed relayed registration stays valid"
    )

    # IPFS (Kubo RPC API)
    ipfs_api_url: str = "http://127.0.0.1:5001"
    ipfs_timeout_s: float = 10.0

    # Redis (Celery broker and results) and database
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///var/miao.db"
    )

    # chain event indexer (`miao index`)
    index_confirmations: int = Field(
        default=0, ge=0, description="Index only blocks at least this deep below the head"
    )
    index_batch_size: int = Field(default=500, ge=1, description="Blocks per batch/transaction")
    index_poll_s: float = Field(
        default=0.2,
        gt=0,
        description="--follow: seconds between polls (a registration waits for the next poll "
        "before its labelling is queued: 1.0 s cost ~0.5 s of upload-to-label latency)",
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    session_secret: str = Field(
        default=DEV_SESSION_SECRET,
        description="HMAC key for session tokens; the dev default is public (a warning is logged)",
    )
    session_ttl_s: int = Field(default=12 * 3600, gt=0, description="Session token lifetime")
    session_cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (turn on in prod)"
    )
    siwe_domain: str = Field(
        default="localhost:8000",
        description="EIP-4361 domain (RFC 3986 authority) a sign-in message must name",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated or JSON)",
    )
    max_upload_mb: int = Field(default=20, gt=0, description="Upload size limit")

    # the labelling pipeline (Celery on the Redis broker)
    task_visibility_timeout_s: float = Field(
        default=3600, gt=0, description="A task unacknowledged this long is redelivered"
    )
    requeue_after_s: float = Field(
        default=60, gt=0, description="A job registered but not labelled this long is re-queued"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @property
    def deployment_path(self) -> Path:
        return self.deployment_file or self.var_dir / "deployment.json"

    @property
    def labeller_signer_key(self) -> str:
        return self.labeller_key or self.deployer_key

    @property
    def minter_signer_key(self) -> str:
        return self.minter_key or self.labeller_signer_key

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'miao.db'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
