"""Typed calls to ``SoundRegistry``: sounds, models and labels, direct and relayed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

from web3 import Web3

from backend.chain.client import ChainClient, TxResult
from backend.chain.eip712 import Eip712Domain, register_sound_typed_data
from backend.chain.values import hex0x, to_bytes32

ZERO_ADDRESS = "0x" + "00" * 20


class Kind(IntEnum):
    """What made a sound; the values are Solidity's ``SoundRegistry.Kind``."""

    CAT = 0
    DOG = 1
    INFANT = 2
    OTHER = 3


@dataclass(frozen=True)
class Sound:
    sound_id: str
    """The content digest, ``0x`` hex."""
    contributor: str
    kind: Kind
    synthetic: bool
    registered_at: int
    """Block timestamp."""


@dataclass(frozen=True)
class Model:
    model_id: str
    """sha256 of the weights file, ``0x`` hex."""
    label_count: int


@dataclass(frozen=True)
class Label:
    sound_id: str
    model_id: str
    label_index: int
    confidence_bps: int
    labelled_at: int
    labeller: str


class SoundRegistry:
    """``SoundRegistry`` at ``address``, sending as ``client``'s account."""

    name = "SoundRegistry"

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.contract(self.name, self.address)

    def as_signer(self, client: ChainClient) -> SoundRegistry:
        """The same contract, sending from another account."""
        return SoundRegistry(client, self.address)

    # --- writes ------------------------------------------------------------------------------
    def register_sound(
        self, digest: bytes | str, kind: Kind | int, cid: str, contributor_label: str = ""
    ) -> TxResult:
        """Register a recorded sound as the caller (who pays the gas)."""
        fn = self.contract.functions.registerSound(
            to_bytes32(digest), int(kind), cid, contributor_label
        )
        return self.client.transact(fn)

    def register_sound_for(
        self,
        contributor: str,
        digest: bytes | str,
        kind: Kind | int,
        cid: str,
        contributor_label: str,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Relay a contributor's signed registration; this client's account pays the gas."""
        fn = self.contract.functions.registerSoundFor(
            Web3.to_checksum_address(contributor),
            to_bytes32(digest),
            int(kind),
            cid,
            contributor_label,
            deadline,
            bytes(signature),
        )
        return self.client.transact(fn)

    def register_synthetic(
        self,
        contributor: str,
        digest: bytes | str,
        kind: Kind | int,
        cid: str,
        model_id: bytes | str,
    ) -> TxResult:
        """Register a sound a registered model generated (``GENERATOR_ROLE``)."""
        fn = self.contract.functions.registerSynthetic(
            Web3.to_checksum_address(contributor),
            to_bytes32(digest),
            int(kind),
            cid,
            to_bytes32(model_id),
        )
        return self.client.transact(fn)

    def register_model(
        self, model_id: bytes | str, name: str, task: str, label_names: Sequence[str]
    ) -> TxResult:
        """Register a model by the sha256 of its weights (``MODEL_ADMIN_ROLE``)."""
        fn = self.contract.functions.registerModel(
            to_bytes32(model_id), name, task, list(label_names)
        )
        return self.client.transact(fn)

    def set_label(
        self, sound_id: bytes | str, model_id: bytes | str, label_index: int, confidence_bps: int
    ) -> TxResult:
        """Write a model's label for a sound, once per (sound, model) (``LABELLER_ROLE``)."""
        fn = self.contract.functions.setLabel(
            to_bytes32(sound_id), to_bytes32(model_id), label_index, confidence_bps
        )
        return self.client.transact(fn)

    def grant_role(self, role: bytes, account: str) -> TxResult:
        """Give ``account`` a role (the role's admin only: ``DEFAULT_ADMIN_ROLE`` here)."""
        fn = self.contract.functions.grantRole(role, Web3.to_checksum_address(account))
        return self.client.transact(fn)

    def revoke_role(self, role: bytes, account: str) -> TxResult:
        fn = self.contract.functions.revokeRole(role, Web3.to_checksum_address(account))
        return self.client.transact(fn)

    # --- relayed registration: what the contributor signs --------------------------------------
    @cached_property
    def domain(self) -> Eip712Domain:
        return Eip712Domain.read(self.contract)

    def register_sound_typed_data(
        self,
        contributor: str,
        digest: bytes | str,
        kind: Kind | int,
        cid: str,
        contributor_label: str,
        deadline: int,
        nonce: int | None = None,
    ) -> dict[str, Any]:
        """EIP-712 typed data for ``eth_signTypedData_v4``, at the contributor's current nonce."""
        return register_sound_typed_data(
            self.domain,
            contributor=contributor,
            digest=digest,
            kind=int(kind),
            cid=cid,
            contributor_label=contributor_label,
            nonce=self.nonce(contributor) if nonce is None else nonce,
            deadline=deadline,
        )

    # --- views -------------------------------------------------------------------------------
    def sound(self, sound_id: bytes | str) -> Sound | None:
        """The registered sound, or None."""
        digest = to_bytes32(sound_id)
        contributor, kind, synthetic, registered_at = self.client.call(
            self.contract.functions.sounds(digest)
        )
        if registered_at == 0:
            return None
        return Sound(hex0x(digest), contributor, Kind(kind), synthetic, registered_at)

    def model(self, model_id: bytes | str) -> Model | None:
        """The registered model, or None."""
        mid = to_bytes32(model_id)
        registered, label_count = self.client.call(self.contract.functions.models(mid))
        return Model(hex0x(mid), label_count) if registered else None

    def label(self, sound_id: bytes | str, model_id: bytes | str) -> Label | None:
        """The label ``model_id`` gave ``sound_id``, or None."""
        sid, mid = to_bytes32(sound_id), to_bytes32(model_id)
        is_set, index, confidence, labelled_at, labeller = self.client.call(
            self.contract.functions.labels(sid, mid)
        )
        if not is_set:
            return None
        return Label(hex0x(sid), hex0x(mid), index, confidence, labelled_at, labeller)

    def nonce(self, contributor: str) -> int:
        """The nonce the contributor's next relayed registration must be signed with."""
        return self.client.call(
            self.contract.functions.nonces(Web3.to_checksum_address(contributor))
        )

    def has_role(self, role: bytes, account: str) -> bool:
        return self.client.call(
            self.contract.functions.hasRole(role, Web3.to_checksum_address(account))
        )

    def hash_register_sound(
        self,
        contributor: str,
        digest: bytes | str,
        kind: Kind | int,
        cid: str,
        contributor_label: str,
        nonce: int,
        deadline: int,
    ) -> bytes:
        """The contract's own EIP-712 digest for a registration (to cross-check signers)."""
        return bytes(
            self.client.call(
                self.contract.functions.hashRegisterSound(
                    Web3.to_checksum_address(contributor),
                    to_bytes32(digest),
                    int(kind),
                    cid,
                    contributor_label,
                    nonce,
                    deadline,
                )
            )
        )
