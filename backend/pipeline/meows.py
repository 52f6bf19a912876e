"""Reading generated meows and their NFTs back: what was made, by whom, and where it went.

A meow is a ``generated_meows`` row joined to its synthetic sound; its NFTs are the indexed
``MeowMinted`` tokens whose source sound is the meow's sound (the worker writes a server mint's
token straight from its receipt; a redeemed voucher appears once the indexer reads it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from web3 import Web3

from backend.db.models import GeneratedMeow, Nft, Sound, SoundStatus
from backend.pipeline.meow_metadata import ipfs_uri


class MeowNotFound(LookupError):
    """No generated meow with that id."""


class NftNotFound(LookupError):
    """No token with that id."""


@dataclass(frozen=True)
class NftView:
    token_id: int
    owner: str
    minted_to: str
    source_sound_id: str
    token_uri: str
    voucher_id: str
    """The redeemed voucher (decimal), ``"0"`` for a server mint."""
    minted_tx_hash: str
    minted_block: int
    meow_id: str | None


@dataclass(frozen=True)
class MeowView:
    id: str
    method: str
    mood: str | None
    seed: int | None
    model_id: str
    sound_id: str
    audio_cid: str
    image_cid: str | None
    metadata_cid: str | None
    token_uri: str | None
    creator: str
    job_id: str | None
    source_sound_id: str | None
    duration_s: float | None
    registered: bool
    registered_tx_hash: str | None
    created_at: str
    mint_mode: str | None
    mint_job_id: str | None
    tokens: list[NftView]

    def result(self) -> dict[str, Any]:
        """The generation job's result shape (for a request that found this meow made already)."""
        return {
            "meow_id": self.id,
            "sound_id": self.sound_id,
            "audio_cid": self.audio_cid,
            "image_cid": self.image_cid,
            "metadata_cid": self.metadata_cid,
            "token_uri": self.token_uri,
            "tx_hash": self.registered_tx_hash,
            "model_id": self.model_id,
            "mood": self.mood,
            "seed": self.seed,
            "method": self.method,
            "source_sound_id": self.source_sound_id,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nft_view(nft: Nft, meow_id: str | None) -> NftView:
    return NftView(
        token_id=int(nft.token_id),
        owner=nft.owner,
        minted_to=nft.minted_to,
        source_sound_id=nft.source_sound_id,
        token_uri=nft.token_uri,
        voucher_id=nft.voucher_id,
        minted_tx_hash=nft.minted_tx_hash,
        minted_block=int(nft.minted_block),
        meow_id=meow_id,
    )


def _tokens_of(session: Session, sound_ids: list[str]) -> dict[str, list[Nft]]:
    """The NFTs minted from each of these sounds, in token order (one query for a page)."""
    tokens: dict[str, list[Nft]] = {sid: [] for sid in sound_ids}
    if sound_ids:
        query = select(Nft).where(Nft.source_sound_id.in_(sound_ids)).order_by(Nft.token_id)
        for nft in session.execute(query).scalars():
            tokens[nft.source_sound_id].append(nft)
    return tokens


def _meow_view(meow: GeneratedMeow, sound: Sound, nfts: list[Nft]) -> MeowView:
    return MeowView(
        id=meow.id,
        method=meow.method,
        mood=meow.mood,
        seed=meow.seed,
        model_id=meow.model_id,
        sound_id=meow.sound_id,
        audio_cid=sound.cid,
        image_cid=meow.spectrogram_cid,
        metadata_cid=meow.metadata_cid,
        token_uri=ipfs_uri(meow.metadata_cid) if meow.metadata_cid else None,
        creator=sound.contributor_address,
        job_id=meow.job_id,
        source_sound_id=meow.source_sound_id,
        duration_s=sound.duration_s,
        registered=sound.status is SoundStatus.REGISTERED,
        registered_tx_hash=sound.registered_tx_hash,
        created_at=meow.created_at.isoformat() if meow.created_at else "",
        mint_mode=meow.mint_mode,
        mint_job_id=meow.mint_job_id,
        tokens=[_nft_view(n, meow.id) for n in nfts],
    )


def get_meow(session: Session, meow_id: str) -> MeowView:
    row = session.execute(
        select(GeneratedMeow, Sound)
        .join(Sound, Sound.id == GeneratedMeow.sound_id)
        .where(GeneratedMeow.id == meow_id)
    ).first()
    if row is None:
        raise MeowNotFound(f"no generated meow {meow_id}")
    meow, sound = row
    return _meow_view(meow, sound, _tokens_of(session, [meow.sound_id])[meow.sound_id])


def list_meows(session: Session, *, creator: str | None, offset: int, limit: int) -> list[MeowView]:
    """Meows, newest first, optionally only one creator's."""
    query = select(GeneratedMeow, Sound).join(Sound, Sound.id == GeneratedMeow.sound_id)
    if creator:
        query = query.where(Sound.contributor_address == Web3.to_checksum_address(creator))
    query = query.order_by(GeneratedMeow.created_at.desc(), GeneratedMeow.id)
    rows = session.execute(query.offset(offset).limit(limit)).all()
    tokens = _tokens_of(session, [meow.sound_id for meow, _ in rows])
    return [_meow_view(meow, sound, tokens[meow.sound_id]) for meow, sound in rows]


def meow_ids_for_sounds(session: Session, sound_ids: list[str]) -> dict[str, str]:
    """The meow id of each of these sound ids that is a generated meow."""
    if not sound_ids:
        return {}
    rows = session.execute(
        select(GeneratedMeow.sound_id, GeneratedMeow.id).where(
            GeneratedMeow.sound_id.in_(sound_ids)
        )
    ).all()
    return {sound_id: meow_id for sound_id, meow_id in rows}


def get_nft(session: Session, token_id: int) -> NftView:
    nft = session.get(Nft, token_id)
    if nft is None:
        raise NftNotFound(f"no indexed token {token_id}")
    return _nft_view(
        nft, meow_ids_for_sounds(session, [nft.source_sound_id]).get(nft.source_sound_id)
    )


def list_nfts(session: Session, *, owner: str | None, offset: int, limit: int) -> list[NftView]:
    """Indexed tokens, newest first, optionally only one owner's."""
    query = select(Nft)
    if owner:
        query = query.where(Nft.owner == Web3.to_checksum_address(owner))
    nfts = list(
        session.execute(query.order_by(Nft.token_id.desc()).offset(offset).limit(limit)).scalars()
    )
    meows = meow_ids_for_sounds(session, [n.source_sound_id for n in nfts])
    return [_nft_view(n, meows.get(n.source_sound_id)) for n in nfts]


def is_known_cid(session: Session, cid: str) -> bool:
    """Whether ``cid`` is a sound's audio or a meow's spectrogram or metadata."""
    if session.execute(select(Sound.id).where(Sound.cid == cid).limit(1)).first():
        return True
    meow = select(GeneratedMeow.id).where(
        or_(GeneratedMeow.spectrogram_cid == cid, GeneratedMeow.metadata_cid == cid)
    )
    return session.execute(meow.limit(1)).first() is not None
