"""Read both contracts' events over a block range, decoded to plain values, in log order.

The database indexer is built on ``fetch_events``: it must be deterministic (sorted by block and
log index) and its values JSON-friendly (``0x`` hex for bytes, checksummed addresses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3

from backend.chain.artifacts import load_artifact
from backend.chain.deploy import Deployment
from backend.chain.values import plain_value

DEFAULT_CHUNK_BLOCKS = 2_000
"""Blocks per ``eth_getLogs`` call: hosted nodes cap ranges (often 2k-10k blocks)."""


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log. ``contract`` is ``"SoundRegistry"`` or ``"MeowNFT"``."""

    contract: str
    name: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: dict[str, Any]


EventTable = dict[tuple[str, bytes], tuple[str, dict[str, Any], Any]]


def event_table(w3: Web3, deployment: Deployment) -> EventTable:
    """(address, topic0) -> (contract name, event ABI, web3 event decoder). The same event in
    both contracts (``RoleGranted``) is told apart by address."""
    table: EventTable = {}
    for contract_name, address in deployment.addresses().items():
        contract = w3.eth.contract(address=address, abi=load_artifact(contract_name).abi)
        for abi in load_artifact(contract_name).items("event"):
            if not abi.get("anonymous"):
                decoder = contract.events[abi["name"]]()
                table[(address, event_abi_to_log_topic(abi))] = (contract_name, abi, decoder)
    return table


def decode_log(log: Any, table: EventTable) -> ChainEvent | None:
    """A ``ChainEvent`` for one raw log, or None for a log of an event neither ABI declares."""
    if not log["topics"]:
        return None
    key = (Web3.to_checksum_address(log["address"]), bytes(HexBytes(log["topics"][0])))
    found = table.get(key)
    if found is None:
        return None
    contract, abi, decoder = found
    decoded = decoder.process_log(log)
    args = {
        item["name"]: plain_value(
            item["type"], decoded["args"][item["name"]], item.get("components", ())
        )
        for item in abi["inputs"]
    }
    return ChainEvent(
        contract=contract,
        name=abi["name"],
        block_number=int(log["blockNumber"]),
        block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
        tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
        log_index=int(log["logIndex"]),
        args=args,
    )


def fetch_events(
    w3: Web3,
    deployment: Deployment,
    from_block: int,
    to_block: int,
    *,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
) -> list[ChainEvent]:
    """Every event of both contracts in ``[from_block, to_block]`` (inclusive), sorted by
    (block_number, log_index)."""
    if from_block < 0:
        raise ValueError(f"from_block must be >= 0, got {from_block}")
    table = event_table(w3, deployment)
    addresses = list(deployment.addresses().values())
    events: list[ChainEvent] = []
    start = from_block
    while start <= to_block:
        end = min(start + chunk_blocks - 1, to_block)
        logs = w3.eth.get_logs({"address": addresses, "fromBlock": start, "toBlock": end})
        for log in logs:
            event = decode_log(log, table)
            if event is not None:
                events.append(event)
        start = end + 1
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return events
