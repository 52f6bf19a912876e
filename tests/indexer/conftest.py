"""The indexer tests' chain history: built once per session on the session anvil."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from backend.chain.client import connect
from backend.db.migrate import upgrade
from backend.db.session import make_engine, session_factory
from backend.indexer import Indexer, Web3EventSource
from tests.indexer.history import History, make_history


@pytest.fixture(scope="session")
def history(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> History:
    return make_history(anvil_url, tmp_path_factory.mktemp("history"))


MakeIndexer = Callable[..., Indexer]


@pytest.fixture
def make_indexer(anvil_url: str, history: History) -> Iterator[MakeIndexer]:
    """An ``Indexer`` of the history's deployment on a database URL (migrated here)."""
    w3 = connect(anvil_url)
    engines = []

    def build(url: str, *, migrate: bool = True, **kwargs: object) -> Indexer:
        if migrate:
            upgrade(url)
        engine = make_engine(url)
        engines.append(engine)
        return Indexer(
            session_factory(engine),
            Web3EventSource(w3, history.deployment),
            history.deployment,
            **kwargs,  # type: ignore[arg-type]
        )

    yield build
    for engine in engines:
        engine.dispose()
