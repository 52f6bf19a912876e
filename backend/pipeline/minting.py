"""Minting a generated meow as a MeowNFT: by the server (``MINTER_ROLE``) or by a voucher.

One meow makes one token. Its creator picks the way once (``generated_meows.mint_mode`` is
claimed with a conditional ``UPDATE``, which serialises two racing requests in SQLite and
PostgreSQL alike):

- ``server``: a ``mint`` job; the worker sends ``mint(to, ipfs://<metadata>, soundId)`` and the job
  ends at ``minted`` with the token id. A failed job may be retried; a live or finished one is a
  conflict.
- ``voucher``: an EIP-712 voucher signed with the minter key, which the recipient redeems from their
  own wallet and pays for. Its id is derived from the meow's sound id, so however many vouchers
  are issued (another recipient, a later deadline), the contract lets exactly one be redeemed.

The worker looks for an earlier direct mint of the same sound before sending, so a redelivered
mint task finishes its job rather than minting twice.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from backend.chain.eip712 import Voucher
from backend.chain.meow_nft import MeowNFT, SignedVoucher
from backend.db.models import GeneratedMeow, Job, JobKind, JobStage
from backend.pipeline.generation import GenerationContext
from backend.pipeline.jobs import Notify, create_job, get_job, send_or_fail
from backend.pipeline.meows import MeowView, get_meow
from backend.pipeline.queue import TaskQueue

SERVER = "server"
VOUCHER = "voucher"
_VOUCHER_TAG = b"miao:meow-voucher:"


class MintRefused(Exception):
    """A mint request the API refuses (``status``/``code`` say how; ``details`` what exists)."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []


class MintFailed(Exception):
    """A mint job that cannot succeed (the task marks its job ``failed`` with this reason)."""


def voucher_id_for(sound_id: str) -> int:
    """The one voucher id of a meow: ``sha256(tag || soundId)`` as a uint256 (never 0)."""
    digest = hashlib.sha256(_VOUCHER_TAG + bytes.fromhex(sound_id.removeprefix("0x"))).digest()
    return int.from_bytes(digest, "big") or 1


def _mintable(session: Session, meow_id: str, caller: str) -> MeowView:
    view = get_meow(session, meow_id)
    if view.creator != caller:
        raise MintRefused(403, "not_creator", f"only the meow's creator {view.creator} mints it")
    if not view.registered or not view.metadata_cid:
        raise MintRefused(
            409, "not_registered", "the meow is not on-chain yet: wait for its job's `registered`"
        )
    if view.tokens:
        tokens = [{"token_id": t.token_id, "owner": t.owner} for t in view.tokens]
        raise MintRefused(409, "already_minted", "this meow is minted already", tokens)
    return view


def _claim(session: Session, meow_id: str, mode: str) -> None:
    """Take ``mode`` for the meow, or 409 when it is minted the other way."""
    claimed = session.execute(
        update(GeneratedMeow)
        .where(
            GeneratedMeow.id == meow_id,
            or_(GeneratedMeow.mint_mode.is_(None), GeneratedMeow.mint_mode == mode),
        )
        .values(mint_mode=mode)
    ).rowcount
    if claimed != 1:
        other = VOUCHER if mode == SERVER else SERVER
        raise MintRefused(
            409, "mint_mode_taken", f"this meow is being minted by {other}; one meow, one token"
        )


def request_server_mint(
    sessions: sessionmaker[Session],
    queue: TaskQueue,
    *,
    meow_id: str,
    caller: str,
    to: str,
    notify: Notify | None = None,
) -> str:
    """Queue a server mint of the meow to ``to``; returns the mint job's id."""
    caller, to = Web3.to_checksum_address(caller), Web3.to_checksum_address(to)
    with sessions.begin() as session:
        _mintable(session, meow_id, caller)
        _claim(session, meow_id, SERVER)
        meow = session.get(GeneratedMeow, meow_id)
        assert meow is not None
        if meow.mint_job_id is not None:
            job = session.get(Job, meow.mint_job_id)
            if job is not None and job.stage is not JobStage.FAILED:
                raise MintRefused(
                    409,
                    "already_minting",
                    f"mint job {job.id} is {job.stage.value}",
                    [{"job_id": job.id, "stage": job.stage.value}],
                )
        job_id = create_job(
            session,
            kind=JobKind.MINT,
            owner=caller,
            sound_id=meow.sound_id,
            stages=[(JobStage.RECEIVED, {"meow_id": meow_id, "to": to})],
        ).id
        meow.mint_job_id = job_id
    send_or_fail(sessions, job_id, queue.enqueue_mint, notify)
    return job_id


@dataclass(frozen=True)
class IssuedVoucher:
    signed: SignedVoucher
    contract: str


def issue_voucher(
    sessions: sessionmaker[Session],
    nft: MeowNFT,
    *,
    meow_id: str,
    caller: str,
    to: str,
    ttl_s: int,
) -> IssuedVoucher:
    """Sign the meow's voucher for ``to`` (who redeems it from their own wallet)."""
    caller, to = Web3.to_checksum_address(caller), Web3.to_checksum_address(to)
    with sessions.begin() as session:
        view = _mintable(session, meow_id, caller)
        _claim(session, meow_id, VOUCHER)
    voucher_id = voucher_id_for(view.sound_id)
    if nft.voucher_redeemed(voucher_id):
        raise MintRefused(409, "already_minted", "this meow's voucher was redeemed already")
    voucher = Voucher(
        recipient=to,
        token_uri=str(view.token_uri),
        source_sound_id=bytes.fromhex(view.sound_id.removeprefix("0x")),
        voucher_id=voucher_id,
        deadline=int(time.time()) + ttl_s,
    )
    return IssuedVoucher(nft.sign_voucher(voucher), nft.address)


# --- the worker side ---------------------------------------------------------------------------


def run_mint(ctx: GenerationContext, job_id: str) -> dict[str, Any]:
    """Send the server mint of a ``mint`` job once, record the token, end the job at ``minted``."""
    with ctx.sessions() as session:
        job = get_job(session, job_id)
        if job.kind is not JobKind.MINT:
            raise MintFailed(f"job {job_id} is not a mint job")
        if job.stage is JobStage.MINTED and job.result:
            return job.result
        if job.stage is JobStage.FAILED:
            raise MintFailed(job.error or "the job failed")
        params = job.events[0].data
        meow = get_meow(session, str(params["meow_id"]))
    to = Web3.to_checksum_address(str(params["to"]))
    if not meow.token_uri:
        raise MintFailed(f"meow {meow.id} has no metadata to mint")
    earlier = [e for e in ctx.recorder.minted_from(meow.sound_id) if int(e.args["voucherId"]) == 0]
    if earlier:  # sent before a crash or redelivery: finish with that token
        ctx.recorder.apply(ctx.sessions, earlier)
        token_id, tx_hash = int(earlier[0].args["tokenId"]), earlier[0].tx_hash
    else:
        minted = ctx.nft.mint(to, meow.token_uri, meow.sound_id)
        ctx.recorder.apply(ctx.sessions, ctx.recorder.receipt_events(minted.tx.receipt))
        token_id, tx_hash = minted.token_id, minted.tx.tx_hash
    result = {
        "meow_id": meow.id,
        "token_id": token_id,
        "tx_hash": tx_hash,
        "token_uri": meow.token_uri,
        "owner": to,
        "contract": ctx.nft.address,
    }
    ctx.advance(job_id, JobStage.MINTED, result, result=result)
    return result
