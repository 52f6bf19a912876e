"""Dependencies of the pipeline routes: the database, IPFS, the relayer and job notifications.

Long-lived clients (the relayer's chain client, the Redis publisher) are made on first use and
kept on ``app.state``, so an API started before the contracts are deployed still serves the rest.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from backend.api.deps import RedisDep, SettingsDep
from backend.api.errors import ApiError
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.meow_nft import MeowNFT
from backend.db.session import session_factory
from backend.ipfs.client import IpfsClient
from backend.pipeline.jobs import Notify, redis_notifier
from backend.pipeline.queue import TaskQueue
from backend.pipeline.registration import Registrar

_lock = threading.Lock()


def get_sessions(settings: SettingsDep) -> sessionmaker[Session]:
    return session_factory(settings.db_url)


async def get_ipfs(settings: SettingsDep) -> AsyncIterator[IpfsClient]:
    async with IpfsClient.from_settings(settings) as ipfs:
        yield ipfs


def get_registrar(request: Request, settings: SettingsDep) -> Registrar:
    with _lock:
        registrar = getattr(request.app.state, "registrar", None)
        if registrar is None:
            try:
                registrar = Registrar.from_settings(settings)
            except (FileNotFoundError, ValueError) as exc:
                raise ApiError(503, "not_deployed", str(exc)) from None
            request.app.state.registrar = registrar
        return registrar


def get_deployment(settings: SettingsDep) -> Deployment:
    try:
        return Deployment.load(settings.deployment_path)
    except (FileNotFoundError, ValueError) as exc:
        raise ApiError(503, "not_deployed", str(exc)) from None


def get_minter_nft(request: Request, settings: SettingsDep) -> MeowNFT:
    """``MeowNFT`` signing as the minter key: vouchers are signed here, never sent."""
    with _lock:
        nft = getattr(request.app.state, "minter_nft", None)
        if nft is None:
            deployment = get_deployment(settings)
            client = ChainClient.from_settings(settings, settings.minter_signer_key)
            nft = request.app.state.minter_nft = MeowNFT(client, deployment.meow_nft)
        return nft


def get_task_queue(request: Request, settings: SettingsDep) -> TaskQueue:
    with _lock:
        queue = getattr(request.app.state, "task_queue", None)
        if queue is None:
            queue = request.app.state.task_queue = TaskQueue(settings)
        return queue


def get_notify(request: Request, settings: SettingsDep) -> Notify:
    with _lock:
        notify = getattr(request.app.state, "job_notify", None)
        if notify is None:
            notify = request.app.state.job_notify = redis_notifier(settings.redis_url)
        return notify


async def require_redis(redis: RedisDep) -> None:
    """New work needs the queue: a Redis that does not answer is a 503 before anything is stored."""
    await redis.ping()


SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
IpfsDep = Annotated[IpfsClient, Depends(get_ipfs)]
RegistrarDep = Annotated[Registrar, Depends(get_registrar)]
NotifyDep = Annotated[Notify, Depends(get_notify)]
RedisUp = Annotated[None, Depends(require_redis)]
DeploymentDep = Annotated[Deployment, Depends(get_deployment)]
MinterNftDep = Annotated[MeowNFT, Depends(get_minter_nft)]
TaskQueueDep = Annotated[TaskQueue, Depends(get_task_queue)]
