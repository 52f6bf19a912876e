"""``python -m miao.indexer_health``: is the indexer keeping up? (docker-compose's healthcheck)

Healthy when the database holds this deployment's indexer checkpoint and it is at most
``--max-lag`` blocks (plus the confirmation depth) behind the chain's head. Exit 0 healthy,
1 behind or not started, 2 the chain, the database or the deployment file cannot be read.
"""

from __future__ import annotations

import argparse
import sys


def lag_blocks() -> int:
    """Blocks between the chain's head and the last block the indexer has in the database."""
    from sqlalchemy import select

    from backend.chain.client import connect
    from backend.chain.deploy import Deployment
    from backend.db.models import IndexerCheckpoint
    from backend.db.session import session_factory
    from backend.settings import get_settings

    settings = get_settings()
    deployment = Deployment.load(settings.deployment_path)
    head = connect(settings.chain_rpc_url).eth.block_number
    with session_factory(settings.db_url)() as session:
        next_block = session.execute(
            select(IndexerCheckpoint.next_block).where(
                (IndexerCheckpoint.chain_id == deployment.chain_id)
                & (IndexerCheckpoint.sound_registry == deployment.sound_registry)
                & (IndexerCheckpoint.meow_nft == deployment.meow_nft)
            )
        ).scalar_one_or_none()
    if next_block is None:
        raise LookupError("no indexer checkpoint for this deployment yet")
    return max(0, head - (next_block - 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lag", type=int, default=20, help="Blocks behind the head allowed")
    args = parser.parse_args(argv)
    from backend.settings import get_settings

    try:
        lag = lag_blocks()
    except LookupError as exc:
        print(f"unhealthy: {exc}")
        return 1
    except Exception as exc:  # chain, database or deployment file unreadable
        print(f"unhealthy: {type(exc).__name__}: {exc}")
        return 2
    allowed = args.max_lag + get_settings().index_confirmations
    if lag > allowed:
        print(f"unhealthy: {lag} blocks behind the head (at most {allowed})")
        return 1
    print(f"healthy: {lag} blocks behind the head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
