"""The chain event indexer: the database as an index rebuilt from contract events.

``Indexer`` (batches, checkpoint, one transaction per batch, confirmations, rebuild) lives in
``backend.indexer.indexer``; the per-event row writers in ``backend.indexer.handlers``.
"""

from backend.indexer.handlers import IndexerConsistencyError, apply_events
from backend.indexer.indexer import (
    BatchResult,
    CatchUp,
    CheckpointMovedError,
    DeploymentMismatchError,
    Indexer,
    IndexerError,
    ReorgError,
    Web3EventSource,
)

__all__ = [
    "BatchResult",
    "CatchUp",
    "CheckpointMovedError",
    "DeploymentMismatchError",
    "Indexer",
    "IndexerConsistencyError",
    "IndexerError",
    "ReorgError",
    "Web3EventSource",
    "apply_events",
]
