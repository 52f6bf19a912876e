"""Turn one contract event into database rows, as idempotent upserts.

Every handler can run twice for the same event and leave the same rows: rows are keyed by their
natural ids (sound id, model id, (sound, model), token id, (block hash, log index)) and written with
``INSERT … ON CONFLICT``. NFT owners only move forward in chain order, so a replayed old ``Transfer``
never undoes a newer one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from backend.db.models import (
    ChainEventRow,
    Contributor,
    Label,
    Nft,
    RegisteredModel,
    Sound,
    SoundKind,
    SoundStatus,
)

log = logging.getLogger(__name__)

ZERO_BYTES32 = "0x" + "00" * 32
ZERO_ADDRESS = "0x" + "00" * 20

TokenUriReader = Callable[[int, int], str]
"""(token id, block number) -> the token URI at the end of that block."""


class ChainEventLike(Protocol):
    """The fields of ``backend.chain.events.ChainEvent`` the indexer reads."""

    contract: str
    name: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: dict[str, Any]


class IndexerConsistencyError(RuntimeError):
    """An event refers to something the chain must have created earlier but the index lacks."""


@dataclass
class AppliedEvents:
    """What one batch wrote: event counts by name, and sounds that became registered."""

    counts: dict[str, int] = field(default_factory=dict)
    newly_registered_recorded: list[str] = field(default_factory=list)

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, model: type[Any], key: tuple[str, ...], update_cols: tuple[str, ...]
) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE/NOTHING``, built once per shape (values bind at
    execution, so the compiled form is cached too)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(f"no upsert for database dialect {dialect!r}")
    stmt = insert(model.__table__)
    if update_cols:
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in update_cols}
        )
    return stmt.on_conflict_do_nothing(index_elements=list(key))


def _upsert(
    session: Session,
    model: type[Any],
    values: dict[str, Any] | list[dict[str, Any]],
    key: list[str],
    update_cols: list[str],
) -> None:
    """Insert ``values`` (one row, or many at once), or update/skip rows whose ``key`` exists."""
    dialect = session.get_bind().dialect.name
    session.execute(_upsert_statement(dialect, model, tuple(key), tuple(update_cols)), values)


def _bytes32(value: str) -> str:
    return value.lower()


def record_events(session: Session, events: list[ChainEventLike]) -> None:
    """The audit-trail rows, once per (block hash, log index), in one statement."""
    if not events:
        return
    rows = [
        {
            "contract": e.contract,
            "name": e.name,
            "block_number": e.block_number,
            "block_hash": e.block_hash,
            "tx_hash": e.tx_hash,
            "log_index": e.log_index,
            "args": e.args,
        }
        for e in events
    ]
    _upsert(session, ChainEventRow, rows, key=["block_hash", "log_index"], update_cols=[])


def on_sound_registered(session: Session, event: ChainEventLike, applied: AppliedEvents) -> None:
    """Create the sound, or complete the row the upload made (``pinned`` → ``registered``)."""
    args = event.args
    sound_id = _bytes32(args["soundId"])
    model_id = _bytes32(args["modelId"])
    synthetic = bool(args["synthetic"])
    before = session.execute(select(Sound.status).where(Sound.id == sound_id)).scalar_one_or_none()
    _upsert(session, Contributor, {"address": args["contributor"]}, ["address"], [])
    chain_cols = {
        "cid": args["cid"],
        "kind": SoundKind.from_chain(int(args["kind"])),
        "synthetic": synthetic,
        "contributor_address": args["contributor"],
        "contributor_label": args["contributorLabel"],
        "generator_model_id": None if model_id == ZERO_BYTES32 else model_id,
        "status": SoundStatus.REGISTERED,
        "registered_block": event.block_number,
        "registered_tx_hash": event.tx_hash,
        "registered_log_index": event.log_index,
    }
    _upsert(session, Sound, {"id": sound_id, **chain_cols}, ["id"], list(chain_cols))
    if before != SoundStatus.REGISTERED and not synthetic:
        applied.newly_registered_recorded.append(sound_id)


def on_model_registered(session: Session, event: ChainEventLike, _: AppliedEvents) -> None:
    args = event.args
    cols = {
        "name": args["name"],
        "task": args["task"],
        "label_names": list(args["labelNames"]),
        "registered_block": event.block_number,
        "registered_tx_hash": event.tx_hash,
        "registered_log_index": event.log_index,
    }
    _upsert(session, RegisteredModel, {"id": _bytes32(args["modelId"]), **cols}, ["id"], list(cols))


def on_label_set(session: Session, event: ChainEventLike, _: AppliedEvents) -> None:
    args = event.args
    sound_id, model_id = _bytes32(args["soundId"]), _bytes32(args["modelId"])
    label_names = session.execute(
        select(RegisteredModel.label_names).where(RegisteredModel.id == model_id)
    ).scalar_one_or_none()
    if label_names is None:
        raise IndexerConsistencyError(
            f"LabelSet at block {event.block_number} names model {model_id}, "
            "which the index has no ModelRegistered for"
        )
    index = int(args["labelIndex"])
    cols = {
        "label_index": index,
        "label_name": label_names[index],
        "confidence_bps": int(args["confidenceBps"]),
        "labeller": args["labeller"],
        "block_number": event.block_number,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
    }
    _upsert(
        session,
        Label,
        {"sound_id": sound_id, "model_id": model_id, **cols},
        ["sound_id", "model_id"],
        list(cols),
    )


def on_meow_minted(session: Session, event: ChainEventLike, _: AppliedEvents) -> None:
    """The token row; the owner is set here only when the row is new (later transfers own it)."""
    args = event.args
    mint_cols = {
        "minted_to": args["to"],
        "source_sound_id": _bytes32(args["sourceSoundId"]),
        "token_uri": args["tokenURI"],
        "voucher_id": str(int(args["voucherId"])),
        "minted_block": event.block_number,
        "minted_tx_hash": event.tx_hash,
        "minted_log_index": event.log_index,
    }
    _upsert(
        session,
        Nft,
        {
            "token_id": int(args["tokenId"]),
            "owner": args["to"],
            "owner_block": event.block_number,
            "owner_log_index": event.log_index,
            **mint_cols,
        },
        ["token_id"],
        list(mint_cols),
    )


def on_transfer(session: Session, event: ChainEventLike, _: AppliedEvents) -> None:
    """Move ownership forward; a mint's ``Transfer`` from 0x0 is left to ``MeowMinted``."""
    args = event.args
    if args["from"] == ZERO_ADDRESS:
        return
    token_id = int(args["tokenId"])
    b, i = event.block_number, event.log_index
    result = session.execute(
        update(Nft)
        .where(
            Nft.token_id == token_id,
            or_(Nft.owner_block < b, and_(Nft.owner_block == b, Nft.owner_log_index < i)),
        )
        .values(owner=args["to"], owner_block=b, owner_log_index=i)
    )
    exists = select(Nft.token_id).where(Nft.token_id == token_id)
    if result.rowcount == 0 and session.execute(exists).first() is None:
        raise IndexerConsistencyError(
            f"Transfer of token {token_id} at block {b}, but no MeowMinted was indexed for it"
        )


def on_metadata_update(
    session: Session, event: ChainEventLike, reader: TokenUriReader | None
) -> None:
    """``setTokenURI`` (ERC-4906): the event has no URI, so read it at the event's block."""
    token_id = int(event.args.get("_tokenId", event.args.get("tokenId")))
    minted_tx = session.execute(
        select(Nft.minted_tx_hash).where(Nft.token_id == token_id)
    ).scalar_one_or_none()
    if minted_tx is None or minted_tx == event.tx_hash or reader is None:
        return  # the mint's own MetadataUpdate: MeowMinted carried the URI
    uri = reader(token_id, event.block_number)
    session.execute(update(Nft).where(Nft.token_id == token_id).values(token_uri=uri))


Handler = Callable[[Session, ChainEventLike, AppliedEvents], None]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("SoundRegistry", "SoundRegistered"): on_sound_registered,
    ("SoundRegistry", "ModelRegistered"): on_model_registered,
    ("SoundRegistry", "LabelSet"): on_label_set,
    ("MeowNFT", "MeowMinted"): on_meow_minted,
    ("MeowNFT", "Transfer"): on_transfer,
}


def apply_events(
    session: Session,
    events: list[ChainEventLike],
    *,
    token_uri_reader: TokenUriReader | None = None,
) -> AppliedEvents:
    """Write ``events`` (in chain order) into ``session``'s open transaction; commits nothing."""
    applied = AppliedEvents()
    record_events(session, events)
    for event in events:
        if (event.contract, event.name) == ("MeowNFT", "MetadataUpdate"):
            on_metadata_update(session, event, token_uri_reader)
        else:
            handler = HANDLERS.get((event.contract, event.name))
            if handler is not None:
                handler(session, event, applied)
        applied.count(event.name)
    return applied
