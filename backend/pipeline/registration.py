"""Relayed registration: the typed data a contributor's wallet signs, and sending it on-chain.

The contributor signs EIP-712 ``RegisterSound`` (digest, kind, CID, label, their contract nonce,
a deadline); the relayer account submits ``registerSoundFor`` and pays the gas. Only the uploader
may register an upload, and the signature is checked here before any gas is spent. The indexer,
not this module, marks the sound registered and queues its labelling, so a sound registered
straight from a wallet takes the same road.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.eip712 import recover_signer
from backend.chain.errors import InvalidSigner, SignatureExpired, SoundAlreadyRegistered
from backend.chain.registry import SoundRegistry
from backend.db.models import JobStage, Sound, SoundStatus
from backend.pipeline.jobs import Notify, advance_and_notify, upload_job_for_sound
from backend.pipeline.sounds import SoundNotFound, normalize_sound_id
from backend.settings import Settings


class RegistrationRefused(Exception):
    """The registration cannot go ahead; ``status``/``code`` say how the API answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class RelayedRegistration:
    sound_id: str
    job_id: str | None
    tx_hash: str
    block_number: int
    contributor: str


class Registrar:
    """``SoundRegistry`` as the relayer sees it."""

    def __init__(self, registry: SoundRegistry, deadline_s: int) -> None:
        self.registry = registry
        self.deadline_s = deadline_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Registrar:
        client = ChainClient.from_settings(settings, settings.relayer_key)
        deployment = Deployment.load(settings.deployment_path)
        return cls(
            SoundRegistry(client, deployment.sound_registry), settings.registration_deadline_s
        )

    def typed_data(
        self,
        contributor: str,
        sound_id: str,
        kind_value: int,
        cid: str,
        contributor_label: str,
        *,
        deadline: int | None = None,
        nonce: int | None = None,
    ) -> dict[str, Any]:
        """``RegisterSound`` typed data at the contributor's current contract nonce."""
        return self.registry.register_sound_typed_data(
            contributor,
            sound_id,
            kind_value,
            cid,
            contributor_label,
            deadline=deadline if deadline is not None else int(time.time()) + self.deadline_s,
            nonce=nonce,
        )


def _load_owned_sound(session: Session, sound_id: str, caller: str) -> Sound:
    sound = session.get(Sound, sound_id)
    if sound is None:
        raise SoundNotFound(f"no sound {sound_id}")
    if sound.contributor_address.lower() != caller.lower():
        raise RegistrationRefused(
            403, "not_your_sound", f"sound {sound_id} was uploaded by another address"
        )
    return sound


def registration_typed_data(
    sessions: sessionmaker[Session], registrar: Registrar, sound_id: str, caller: str
) -> dict[str, Any]:
    """Fresh typed data for an upload (after the deadline passed or the nonce moved on)."""
    sound_id = normalize_sound_id(sound_id)
    with sessions() as session:
        sound = _load_owned_sound(session, sound_id, caller)
        if sound.status is SoundStatus.REGISTERED:
            raise RegistrationRefused(409, "already_registered", f"{sound_id} is registered")
        return registrar.typed_data(
            sound.contributor_address,
            sound.id,
            sound.kind.chain_value,
            sound.cid,
            sound.contributor_label,
        )


def register_relayed(
    sessions: sessionmaker[Session],
    registrar: Registrar,
    sound_id: str,
    caller: str,
    typed_message: dict[str, Any] | None,
    signature: str,
    *,
    notify: Notify | None = None,
) -> RelayedRegistration:
    """Submit the uploader's signed registration; the job moves to ``registered``.

    ``typed_message`` is the ``message`` of the typed data that was signed (its nonce and
    deadline); without it the upload's stored nonce and deadline are used.
    """
    sound_id = normalize_sound_id(sound_id)
    with sessions() as session:
        sound = _load_owned_sound(session, sound_id, caller)
        job = upload_job_for_sound(session, sound_id)
        stored = ((job.result or {}).get("registration") or {}) if job else {}
        contributor, kind_value = sound.contributor_address, sound.kind.chain_value
        cid, label, job_id = sound.cid, sound.contributor_label, job and job.id
    if sound.status is SoundStatus.REGISTERED:
        raise RegistrationRefused(409, "already_registered", f"{sound_id} is registered already")
    message = typed_message or stored
    try:
        nonce, deadline = int(message["nonce"]), int(message["deadline"])
    except (KeyError, TypeError, ValueError):
        raise RegistrationRefused(
            422, "missing_deadline", "send the signed typed data's nonce and deadline"
        ) from None
    typed = registrar.typed_data(
        contributor, sound_id, kind_value, cid, label, deadline=deadline, nonce=nonce
    )
    try:
        signer = recover_signer(typed, signature)
    except Exception as exc:  # malformed hex, wrong length, s out of range
        raise RegistrationRefused(422, "bad_signature", f"unreadable signature: {exc}") from None
    if Web3.to_checksum_address(signer) != Web3.to_checksum_address(contributor):
        raise RegistrationRefused(
            422,
            "bad_signature",
            f"the signature is by {signer}, not the uploader {contributor} "
            "(sign exactly the typed data the upload returned)",
        )
    if registrar.registry.sound(sound_id) is not None:  # the index may lag the chain
        raise RegistrationRefused(
            409, "already_registered", f"{sound_id} is registered on-chain already"
        )
    try:
        tx = registrar.registry.register_sound_for(
            contributor,
            sound_id,
            kind_value,
            cid,
            label,
            deadline,
            bytes.fromhex(signature.removeprefix("0x")),
        )
    except SoundAlreadyRegistered:
        raise RegistrationRefused(
            409, "already_registered", f"{sound_id} is registered on-chain already"
        ) from None
    except SignatureExpired:
        raise RegistrationRefused(
            422,
            "signature_expired",
            f"the signature's deadline {deadline} has passed: get fresh typed data from "
            f"GET /v1/sounds/{sound_id}/registration and sign again",
        ) from None
    except InvalidSigner:
        raise RegistrationRefused(
            422,
            "stale_signature",
            f"nonce {nonce} was used by another registration: get fresh typed data from "
            f"GET /v1/sounds/{sound_id}/registration and sign again",
        ) from None
    if job_id:
        advance_and_notify(
            sessions,
            job_id,
            JobStage.REGISTERED,
            {"tx_hash": tx.tx_hash, "block_number": tx.block_number, "relayed": True},
            notify=notify,
        )
    return RelayedRegistration(sound_id, job_id, tx.tx_hash, tx.block_number, contributor)
