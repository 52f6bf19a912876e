"""Run the indexer and stop it inside a batch transaction, rows written, not committed.

``python -m tests.indexer.crash_midbatch DB_URL RPC_URL DEPLOYMENT_FILE BATCH_SIZE UNTIL PAUSE_AT``
commits ``PAUSE_AT`` batches, writes the next one, prints ``IN-TRANSACTION <from> <to> <rows>``
(``rows`` = event rows visible inside the open transaction) and waits there for the test to
SIGKILL it: a real process death with a transaction open, not a simulated one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.chain.client import connect
from backend.chain.deploy import Deployment
from backend.db.models import ChainEventRow
from backend.db.session import session_factory
from backend.indexer import BatchResult, Indexer, Web3EventSource


def main() -> None:
    db_url, rpc_url, deployment_file = sys.argv[1:4]
    batch_size, until, pause_at = map(int, sys.argv[4:7])
    deployment = Deployment.load(Path(deployment_file))
    committed = 0

    def pause_inside_transaction(session: Session, batch: BatchResult) -> None:
        nonlocal committed
        if committed == pause_at:
            rows = session.scalar(select(func.count()).select_from(ChainEventRow))
            print(f"IN-TRANSACTION {batch.from_block} {batch.to_block} {rows}", flush=True)
            while True:
                time.sleep(60)
        committed += 1

    Indexer(
        session_factory(db_url),
        Web3EventSource(connect(rpc_url), deployment),
        deployment,
        batch_size=batch_size,
        before_commit=pause_inside_transaction,
    ).run(until_block=until)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main()
