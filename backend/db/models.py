"""The database schema: a fast, rebuildable index of the chain plus the backend's own work state.

Two kinds of rows live here:

- **chain-derived** rows (``models``, ``labels``, ``nfts``, ``chain_events``, and the chain columns
  of ``sounds``) are written only by the indexer from contract events. ``miao index --rebuild``
  resets them and replays the chain, and the result equals the incrementally built one.
- **off-chain** rows (``jobs``, ``job_events``, ``generated_meows``, ``contributors`` met at
  sign-in, and the upload columns of ``sounds``) are the backend's own record and survive a rebuild.

Chain ids are stored as they travel in events: ``0x``-prefixed lowercase hex for ``bytes32``
(66 characters) and EIP-55 checksum strings for addresses (42 characters). Natural keys (sound id =
content digest, model id = weights digest, token id) are primary keys, and unique constraints make
a second row for the same fact impossible, so every indexer write can be an idempotent upsert.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations name the same objects on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH_LEN = 66  # "0x" + 64 hex digits: bytes32 ids, transaction and block hashes
ADDRESS_LEN = 42  # "0x" + 40 hex digits, EIP-55 checksum
CID_LEN = 128  # CIDv1 base32 of a sha2-256 multihash is 59 characters; room for other bases


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the member *values*."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class SoundKind(enum.StrEnum):
    """The contract's ``Kind`` enum; the on-chain ``uint8`` is the member's position."""

    CAT = "cat"
    DOG = "dog"
    INFANT = "infant"
    OTHER = "other"

    @classmethod
    def from_chain(cls, value: int) -> SoundKind:
        members = list(cls)
        if not 0 <= value < len(members):
            raise ValueError(f"unknown on-chain sound kind {value}")
        return members[value]

    @property
    def chain_value(self) -> int:
        return list(type(self)).index(self)


class SoundStatus(enum.StrEnum):
    """A sound row exists from upload (``pinned``) until the indexer sees it on-chain."""

    PINNED = "pinned"
    REGISTERED = "registered"


class JobStage(enum.StrEnum):
    """Stages a job streams over SSE (uploads: received → pinned → registered → labelling →
    labelled; generated meows: received → generating → pinned → registered → minted)."""

    RECEIVED = "received"
    GENERATING = "generating"
    PINNED = "pinned"
    REGISTERED = "registered"
    LABELLING = "labelling"
    LABELLED = "labelled"
    MINTED = "minted"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    UPLOAD = "upload"
    MEOW = "meow"
    STYLE_TRANSFER = "style_transfer"
    MINT = "mint"


class Contributor(Base):
    """A wallet that contributed a sound (from a ``SoundRegistered`` event or a sign-in)."""

    __tablename__ = "contributors"

    address: Mapped[str] = mapped_column(String(ADDRESS_LEN), primary_key=True)
    created_at: Mapped[datetime] = _created_at()

    sounds: Mapped[list[Sound]] = relationship(back_populates="contributor", viewonly=True)


class Sound(Base):
    """A sound, keyed by its content digest (``soundId = sha256(bytes)`` on-chain).

    The upload creates the row as ``pinned``; the indexer completes it as ``registered`` from the
    ``SoundRegistered`` event, or creates it there when the sound was registered elsewhere.
    """

    __tablename__ = "sounds"

    id: Mapped[str] = mapped_column(String(HASH_LEN), primary_key=True)
    cid: Mapped[str] = mapped_column(String(CID_LEN))
    kind: Mapped[SoundKind] = mapped_column(_enum(SoundKind, "sound_kind"), index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    contributor_address: Mapped[str] = mapped_column(ForeignKey("contributors.address"), index=True)
    contributor_label: Mapped[str] = mapped_column(Text, default="")
    # the generating model of a synthetic sound; no foreign key, because the backend pins a
    # generated sound before the indexer has necessarily seen its model's registration
    generator_model_id: Mapped[str | None] = mapped_column(String(HASH_LEN), index=True)
    status: Mapped[SoundStatus] = mapped_column(
        _enum(SoundStatus, "sound_status"), default=SoundStatus.PINNED, index=True
    )

    # upload side (off-chain): null for a sound first seen on-chain
    pinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None]
    media_type: Mapped[str | None] = mapped_column(String(64))

    # chain side: where the SoundRegistered event is
    registered_block: Mapped[int | None] = mapped_column(BigInteger)
    registered_tx_hash: Mapped[str | None] = mapped_column(String(HASH_LEN))
    registered_log_index: Mapped[int | None] = mapped_column(Integer)

    created_at: Mapped[datetime] = _created_at()

    contributor: Mapped[Contributor] = relationship(back_populates="sounds")
    labels: Mapped[list[Label]] = relationship(back_populates="sound", viewonly=True)


class RegisteredModel(Base):
    """An ML model registered on-chain; its id is the sha256 of its weights file."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(HASH_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    task: Mapped[str] = mapped_column(Text, index=True)
    label_names: Mapped[list[str]]
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    registered_log_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class Label(Base):
    """A model's label for a sound, from ``LabelSet``: at most one per (sound, model)."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("sound_id", "model_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sound_id: Mapped[str] = mapped_column(ForeignKey("sounds.id"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    label_index: Mapped[int] = mapped_column(Integer)
    label_name: Mapped[str] = mapped_column(Text, index=True)
    confidence_bps: Mapped[int] = mapped_column(Integer)
    labeller: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    log_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()

    sound: Mapped[Sound] = relationship(back_populates="labels")
    model: Mapped[RegisteredModel] = relationship()


class Nft(Base):
    """A MeowNFT token, from ``MeowMinted``; ``owner`` follows ``Transfer`` events.

    ``owner_block``/``owner_log_index`` are the position of the event that set ``owner``, so an
    older transfer applied late never overwrites a newer owner.
    """

    __tablename__ = "nfts"

    token_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    minted_to: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    source_sound_id: Mapped[str] = mapped_column(String(HASH_LEN), index=True)
    token_uri: Mapped[str] = mapped_column(Text)
    # uint256 as decimal text (portable beyond 64 bits); "0" for a direct mint
    voucher_id: Mapped[str] = mapped_column(String(78))
    minted_block: Mapped[int] = mapped_column(BigInteger)
    minted_tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    minted_log_index: Mapped[int] = mapped_column(Integer)
    owner_block: Mapped[int] = mapped_column(BigInteger)
    owner_log_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class GeneratedMeow(Base):
    """A meow made by synthesis or style transfer; its audio is a (synthetic) sound row."""

    __tablename__ = "generated_meows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    sound_id: Mapped[str] = mapped_column(ForeignKey("sounds.id"), unique=True)
    method: Mapped[str] = mapped_column(String(32))  # "wavenet" | "style_transfer"
    model_id: Mapped[str] = mapped_column(String(HASH_LEN))
    mood: Mapped[str | None] = mapped_column(String(32))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    source_sound_id: Mapped[str | None] = mapped_column(String(HASH_LEN))
    spectrogram_cid: Mapped[str | None] = mapped_column(String(CID_LEN))
    metadata_cid: Mapped[str | None] = mapped_column(String(CID_LEN), unique=True)
    # how the meow is being minted, claimed once: "server" or "voucher" (one NFT per meow)
    mint_mode: Mapped[str | None] = mapped_column(String(16))
    mint_job_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = _created_at()

    sound: Mapped[Sound] = relationship()
    job: Mapped[Job | None] = relationship()


class Job(Base):
    """Background work a person waits on (an upload, a generation, a mint); streamed over SSE."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    stage: Mapped[JobStage] = mapped_column(_enum(JobStage, "job_stage"), index=True)
    owner_address: Mapped[str | None] = mapped_column(String(ADDRESS_LEN), index=True)
    sound_id: Mapped[str | None] = mapped_column(ForeignKey("sounds.id"), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    sound: Mapped[Sound | None] = relationship()
    events: Mapped[list[JobEvent]] = relationship(
        back_populates="job", order_by="JobEvent.seq", viewonly=True
    )


class JobEvent(Base):
    """One stage change or progress report of a job; ``id`` orders events for SSE resumption."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[JobStage] = mapped_column(_enum(JobStage, "job_event_stage"))
    data: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = _created_at()

    job: Mapped[Job] = relationship(back_populates="events")


class ChainEventRow(Base):
    """Every indexed contract event as it came (role events included): the audit trail."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("block_hash", "log_index"),
        Index("ix_chain_events_position", "block_number", "log_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN), index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    args: Mapped[dict[str, Any]]


class IndexerCheckpoint(Base):
    """How far the indexer got, per deployment: blocks below ``next_block`` are in the database.

    ``last_block_hash`` is the hash of block ``next_block - 1``; a mismatch later means a
    reorganisation deeper than the confirmation depth.
    """

    __tablename__ = "indexer_checkpoints"
    __table_args__ = (UniqueConstraint("chain_id", "sound_registry", "meow_nft"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sound_registry: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    meow_nft: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    start_block: Mapped[int] = mapped_column(BigInteger)
    next_block: Mapped[int] = mapped_column(BigInteger)
    last_block_hash: Mapped[str | None] = mapped_column(String(HASH_LEN))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# Tables whose rows come only from chain events: reset by ``--rebuild``.
CHAIN_DERIVED_TABLES = ("labels", "nfts", "chain_events", "models", "indexer_checkpoints")
