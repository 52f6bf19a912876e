"""Write what a transaction did into the database straight from its receipt.

The worker applies the ``ModelRegistered``/``LabelSet`` logs of its own receipts with the indexer's
handlers (idempotent upserts keyed by the same natural ids), so a label is in the dataset the
moment its transaction is mined; the indexer, arriving later, writes the same rows again.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eth_utils import event_abi_to_log_topic
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from backend.chain.artifacts import load_artifact
from backend.chain.deploy import Deployment
from backend.chain.errors import ModelAlreadyRegistered
from backend.chain.events import ChainEvent, decode_log, event_table
from backend.chain.registry import SoundRegistry
from backend.chain.values import to_bytes32
from backend.db.models import RegisteredModel
from backend.indexer import apply_events


class ChainRecorder:
    """Decodes receipts and logs of one deployment and applies them to the database."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment

    @cached_property
    def _table(self) -> Any:
        return event_table(self.w3, self.deployment)

    @cached_property
    def _topics(self) -> dict[str, bytes]:
        return {
            abi["name"]: event_abi_to_log_topic(abi)
            for contract in ("SoundRegistry", "MeowNFT")
            for abi in load_artifact(contract).items("event")
        }

    def receipt_events(self, receipt: Any) -> list[ChainEvent]:
        events = [decode_log(log, self._table) for log in receipt["logs"]]
        return [e for e in events if e is not None]

    def registry_events(self, name: str, *indexed: str) -> list[ChainEvent]:
        """``SoundRegistry`` events ``name`` whose first indexed arguments are ``indexed``."""
        topics: list[Any] = [self._topics[name], *(to_bytes32(value) for value in indexed)]
        return self._logs(self.deployment.sound_registry, topics)

    def minted_from(self, source_sound_id: str) -> list[ChainEvent]:
        """``MeowMinted`` events of tokens minted from ``source_sound_id`` (its third topic)."""
        topics = [self._topics["MeowMinted"], None, None, to_bytes32(source_sound_id)]
        return self._logs(self.deployment.meow_nft, topics)

    def _logs(self, address: str, topics: list[Any]) -> list[ChainEvent]:
        logs = self.w3.eth.get_logs(
            {
                "address": address,
                "fromBlock": self.deployment.block_number,
                "toBlock": "latest",
                "topics": topics,
            }
        )
        events = [decode_log(log, self._table) for log in logs]
        return [e for e in events if e is not None]

    def apply(self, sessions: sessionmaker[Session], events: list[ChainEvent]) -> None:
        if not events:
            return
        with sessions.begin() as session:
            apply_events(session, events)  # type: ignore[arg-type]

    def ensure_model(
        self,
        sessions: sessionmaker[Session],
        registry: SoundRegistry,
        model_id: str,
        name: str,
        task: str,
        label_names: list[str],
    ) -> bool:
        """Register a model on-chain unless it is there (a racing registration is tolerated), and
        make sure its ``models`` row exists; True when this call registered it."""
        registered_now = False
        if registry.model(model_id) is None:
            try:
                tx = registry.register_model(model_id, name, task, label_names)
            except ModelAlreadyRegistered:
                pass
            else:
                self.apply(sessions, self.receipt_events(tx.receipt))
                registered_now = True
        self.ensure_model_row(sessions, model_id)
        return registered_now

    def ensure_model_row(self, sessions: sessionmaker[Session], model_id: str) -> None:
        """The ``models`` row of an on-chain model, from its ``ModelRegistered`` event if the
        indexer has not written it yet (a ``LabelSet`` row needs it)."""
        with sessions() as session:
            known = session.execute(
                select(RegisteredModel.id).where(RegisteredModel.id == model_id)
            ).first()
        if known is None:
            self.apply(sessions, self.registry_events("ModelRegistered", model_id))
