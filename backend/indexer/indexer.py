"""The chain event indexer: contract events → database rows, one transaction per batch.

Each batch (a block range) is fetched from the node first, then written in ONE database
transaction that (1) claims the range by moving the checkpoint forward with a compare-and-set on
``next_block`` and (2) upserts the rows. Either both commit or neither does, so a crash at any
point loses nothing and duplicates nothing: a restart resumes at the committed checkpoint. Two
indexers racing on one database cannot both commit the same range (the second's claim matches no
row and it rolls back).

Only blocks at least ``confirmations`` below the head are read. The hash of the last indexed
block is kept; if the chain later disagrees, the reorganisation was deeper than the confirmation
depth and the indexer stops and says to rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import (
    ChainEventRow,
    GeneratedMeow,
    IndexerCheckpoint,
    Job,
    Label,
    Nft,
    RegisteredModel,
    Sound,
    SoundStatus,
)
from backend.indexer.handlers import ChainEventLike, apply_events

log = logging.getLogger(__name__)


class IndexerError(RuntimeError):
    """The indexer cannot go on safely; the message says what to do."""


class DeploymentMismatchError(IndexerError):
    """The database indexes another deployment (a restarted dev chain, say)."""


class ReorgError(IndexerError):
    """The chain no longer has the block the checkpoint was taken at."""


class CheckpointMovedError(IndexerError):
    """Another indexer committed this range first; this batch was rolled back."""


class DeploymentLike(Protocol):
    chain_id: int
    sound_registry: str
    meow_nft: str
    block_number: int


class EventSource(Protocol):
    """The chain as the indexer sees it (``Web3EventSource`` reads it through web3)."""

    def head(self) -> int: ...

    def block_hash(self, number: int) -> str: ...

    def events(self, from_block: int, to_block: int) -> list[ChainEventLike]: ...

    def token_uri(self, token_id: int, block_number: int) -> str: ...


class Web3EventSource:
    """Both contracts' events through ``backend.chain.events.fetch_events``."""

    def __init__(self, w3: Any, deployment: DeploymentLike) -> None:
        self.w3 = w3
        self.deployment = deployment
        self._nft: Any = None

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> str:
        return "0x" + bytes(self.w3.eth.get_block(number)["hash"]).hex()

    def events(self, from_block: int, to_block: int) -> list[ChainEventLike]:
        from backend.chain.events import fetch_events

        return list(fetch_events(self.w3, self.deployment, from_block, to_block))

    def token_uri(self, token_id: int, block_number: int) -> str:
        if self._nft is None:
            from backend.chain.artifacts import load_artifact

            self._nft = self.w3.eth.contract(
                address=self.deployment.meow_nft, abi=load_artifact("MeowNFT").abi
            )
        return str(self._nft.functions.tokenURI(token_id).call(block_identifier=block_number))


@dataclass(frozen=True)
class BatchResult:
    """One committed batch: blocks ``from_block..to_block`` inclusive."""

    from_block: int
    to_block: int
    events: int
    counts: dict[str, int] = field(default_factory=dict)
    newly_registered_recorded: tuple[str, ...] = ()

    @property
    def blocks(self) -> int:
        return self.to_block - self.from_block + 1


@dataclass(frozen=True)
class CatchUp:
    """What one ``run`` did: where it started, where it stopped, and each batch."""

    start_block: int
    target_block: int
    batches: list[BatchResult]

    @property
    def events(self) -> int:
        return sum(b.events for b in self.batches)


BeforeCommit = Callable[[Session, BatchResult], None]


@dataclass(frozen=True)
class CheckpointState:
    """Blocks below ``next_block`` are indexed; ``last_block_hash`` is block ``next_block - 1``."""

    id: int
    start_block: int
    next_block: int
    last_block_hash: str | None

    @classmethod
    def of(cls, row: IndexerCheckpoint) -> CheckpointState:
        return cls(row.id, row.start_block, row.next_block, row.last_block_hash)


class Indexer:
    """Indexes one deployment into one database.

    ``on_sound_registered(sound_id)`` runs after the commit of the batch in which a recorded
    (non-synthetic) sound first becomes registered in this database; the pipeline queues
    ``label_sound`` there. ``before_commit(session, batch)`` runs inside the batch transaction,
    after the rows are written (observability; the crash tests use it to stop mid-batch).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        source: EventSource,
        deployment: DeploymentLike,
        *,
        batch_size: int = 500,
        confirmations: int = 0,
        on_sound_registered: Callable[[str], None] | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if confirmations < 0:
            raise ValueError("confirmations must be 0 or more")
        self.sessions = sessions
        self.source = source
        self.deployment = deployment
        self.batch_size = batch_size
        self.confirmations = confirmations
        self.on_sound_registered = on_sound_registered
        self.before_commit = before_commit

    # --- checkpoint ---------------------------------------------------------------------------
    def _checkpoint_filter(self) -> Any:
        d = self.deployment
        return (
            (IndexerCheckpoint.chain_id == d.chain_id)
            & (IndexerCheckpoint.sound_registry == d.sound_registry)
            & (IndexerCheckpoint.meow_nft == d.meow_nft)
        )

    def checkpoint(self) -> CheckpointState:
        """This deployment's checkpoint, created at the deployment block on first use."""
        with self.sessions.begin() as session:
            row = session.execute(
                select(IndexerCheckpoint).where(self._checkpoint_filter())
            ).scalar_one_or_none()
            if row is not None:
                return CheckpointState.of(row)
            other = session.execute(select(IndexerCheckpoint).limit(1)).scalar_one_or_none()
            if other is not None or _has_chain_rows(session):
                where = (
                    f"chain {other.chain_id}, SoundRegistry {other.sound_registry}"
                    if other is not None
                    else "an unknown deployment"
                )
                raise DeploymentMismatchError(
                    f"the database indexes {where}, not chain {self.deployment.chain_id}, "
                    f"SoundRegistry {self.deployment.sound_registry}: run `miao index --rebuild` "
                    "to reset the chain-derived rows and index this deployment"
                )
            row = IndexerCheckpoint(
                chain_id=self.deployment.chain_id,
                sound_registry=self.deployment.sound_registry,
                meow_nft=self.deployment.meow_nft,
                start_block=self.deployment.block_number,
                next_block=self.deployment.block_number,
                last_block_hash=None,
            )
            session.add(row)
            session.flush()
            return CheckpointState.of(row)

    def target_block(self) -> int:
        """The newest block deep enough to index: head - confirmations."""
        return self.source.head() - self.confirmations

    # --- indexing -----------------------------------------------------------------------------
    def run(
        self,
        *,
        until_block: int | None = None,
        progress: Callable[[BatchResult], None] | None = None,
        stop: threading.Event | None = None,
    ) -> CatchUp:
        """Index from the checkpoint up to the confirmed head (or ``until_block``, if lower)."""
        checkpoint = self.checkpoint()
        start = checkpoint.next_block
        target = self.target_block()
        if until_block is not None:
            target = min(target, until_block)
        batches: list[BatchResult] = []
        next_block, last_hash = checkpoint.next_block, checkpoint.last_block_hash
        while next_block <= target and not (stop and stop.is_set()):
            self._check_no_reorg(next_block, last_hash)
            to_block = min(next_block + self.batch_size - 1, target)
            batch, last_hash = self._index_batch(checkpoint.id, next_block, to_block)
            batches.append(batch)
            next_block = to_block + 1
            if progress:
                progress(batch)
        return CatchUp(start_block=start, target_block=target, batches=batches)

    def _check_no_reorg(self, next_block: int, last_hash: str | None) -> None:
        if last_hash is None:
            return
        now = self.source.block_hash(next_block - 1)
        if now != last_hash:
            raise ReorgError(
                f"block {next_block - 1} is now {now}, but was {last_hash} when indexed: "
                "a reorganisation deeper than the confirmation depth. Raise "
                "MIAO_INDEX_CONFIRMATIONS and run `miao index --rebuild`."
            )

    def _index_batch(
        self, checkpoint_id: int, from_block: int, to_block: int
    ) -> tuple[BatchResult, str]:
        events = self.source.events(from_block, to_block)
        to_hash = self.source.block_hash(to_block)
        for event in events:
            if not from_block <= event.block_number <= to_block:
                raise IndexerError(f"event at block {event.block_number} outside the batch")
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(IndexerCheckpoint)
                .where(
                    IndexerCheckpoint.id == checkpoint_id,
                    IndexerCheckpoint.next_block == from_block,
                )
                .values(next_block=to_block + 1, last_block_hash=to_hash)
            )
            if claimed.rowcount != 1:
                raise CheckpointMovedError(
                    f"blocks {from_block}..{to_block}: the checkpoint moved (another indexer "
                    "is running on this database); nothing was written"
                )
            applied = apply_events(session, events, token_uri_reader=self.source.token_uri)
            batch = BatchResult(
                from_block=from_block,
                to_block=to_block,
                events=len(events),
                counts=applied.counts,
                newly_registered_recorded=tuple(applied.newly_registered_recorded),
            )
            if self.before_commit:
                self.before_commit(session, batch)
        self._notify(batch)
        return batch, to_hash

    def _notify(self, batch: BatchResult) -> None:
        if self.on_sound_registered is None:
            return
        for sound_id in batch.newly_registered_recorded:
            try:
                self.on_sound_registered(sound_id)
            except Exception:  # the rows are committed; a failed hook must not stop indexing
                log.exception("on_sound_registered(%s) failed", sound_id)

    def follow(
        self,
        poll_s: float,
        *,
        stop: threading.Event,
        progress: Callable[[BatchResult], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Keep indexing new confirmed blocks until ``stop`` is set.

        An unreachable node is waited out (reported through ``on_error``); an ``IndexerError``
        (reorg, other deployment, a racing indexer) ends the loop by raising.
        """
        from backend.chain.errors import ChainUnavailable

        while not stop.is_set():
            try:
                self.run(progress=progress, stop=stop)
            except ChainUnavailable as exc:
                if on_error:
                    on_error(exc)
            stop.wait(poll_s)

    # --- rebuild ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything read from the chain, in one transaction, keeping off-chain rows.

        Labels, NFTs, models, the event log and every checkpoint go. Sounds first seen on-chain
        go unless a job or a generated meow refers to them; the rest (uploads, generated
        sounds) go back to ``pinned``. Contributors stay (an address is not chain state).
        """
        with self.sessions.begin() as session:
            for model in (Label, Nft, ChainEventRow, IndexerCheckpoint):
                session.execute(delete(model))
            referenced = or_(
                exists().where(Job.sound_id == Sound.id),
                exists().where(GeneratedMeow.sound_id == Sound.id),
            )
            session.execute(
                delete(Sound).where(Sound.pinned_at.is_(None), ~referenced),
            )
            session.execute(
                update(Sound).values(
                    status=SoundStatus.PINNED,
                    registered_block=None,
                    registered_tx_hash=None,
                    registered_log_index=None,
                )
            )
            session.execute(delete(RegisteredModel))

    def rebuild(
        self,
        *,
        until_block: int | None = None,
        progress: Callable[[BatchResult], None] | None = None,
    ) -> CatchUp:
        """``reset`` then index from the deployment block: the index the chain alone implies."""
        self.reset()
        return self.run(until_block=until_block, progress=progress)


def _has_chain_rows(session: Session) -> bool:
    return (
        session.execute(select(ChainEventRow.id).limit(1)).first() is not None
        or session.execute(
            select(Sound.id).where(Sound.status == SoundStatus.REGISTERED).limit(1)
        ).first()
        is not None
    )
