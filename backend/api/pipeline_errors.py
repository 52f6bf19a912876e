"""How the pipeline's exceptions answer: status, code and message in the one error format."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from backend.api.errors import error_json, map_error
from backend.chain.errors import (
    ChainError,
    ChainUnavailable,
    NonceStoreUnavailable,
    TransactionTimeout,
)
from backend.ipfs.errors import IpfsError, IpfsUnavailable
from backend.pipeline.generation import GenerationRefused
from backend.pipeline.jobs import JobNotFound
from backend.pipeline.meows import MeowNotFound, NftNotFound
from backend.pipeline.minting import MintRefused
from backend.pipeline.queue import QueueUnavailable
from backend.pipeline.registration import RegistrationRefused
from backend.pipeline.sounds import InvalidSoundId, SoundNotFound
from backend.pipeline.uploads import DuplicateSound, UploadRejected


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadRejected | RegistrationRefused | GenerationRefused)
    return error_json(exc.status, exc.code, exc.message)


async def _mint_refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MintRefused)
    return error_json(exc.status, exc.code, exc.message, details=exc.details or None)


async def _duplicate(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateSound)
    return error_json(409, "duplicate_sound", str(exc), details=[exc.existing.as_dict()])


def install_pipeline_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UploadRejected, _refused)
    app.add_exception_handler(RegistrationRefused, _refused)
    app.add_exception_handler(DuplicateSound, _duplicate)
    app.add_exception_handler(GenerationRefused, _refused)
    app.add_exception_handler(MintRefused, _mint_refused)
    map_error(app, MeowNotFound, 404, "meow_not_found")
    map_error(app, NftNotFound, 404, "nft_not_found")
    map_error(app, SoundNotFound, 404, "sound_not_found")
    map_error(app, JobNotFound, 404, "job_not_found")
    map_error(app, InvalidSoundId, 422, "invalid_sound_id")
    map_error(app, IpfsUnavailable, 503, "ipfs_unavailable")
    map_error(app, IpfsError, 502, "ipfs_error")
    map_error(app, NonceStoreUnavailable, 503, "nonce_store_unavailable")
    map_error(app, ChainUnavailable, 503, "chain_unavailable")
    map_error(app, TransactionTimeout, 504, "chain_timeout")
    map_error(app, ChainError, 502, "chain_error")
    map_error(app, QueueUnavailable, 503, "queue_unavailable")
