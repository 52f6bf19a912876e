"""The indexer against real transactions on anvil, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.chain.client import ChainClient, connect
from backend.chain.deploy import deploy_contracts
from backend.chain.dev_accounts import dev_key
from backend.db.models import (
    ChainEventRow,
    Contributor,
    IndexerCheckpoint,
    Label,
    Nft,
    RegisteredModel,
    Sound,
    SoundKind,
    SoundStatus,
)
from backend.db.session import make_engine, session_factory
from backend.indexer import (
    BatchResult,
    DeploymentMismatchError,
    Indexer,
    ReorgError,
    Web3EventSource,
)
from tests.fixtures.db import MakeDbUrl
from tests.indexer.conftest import MakeIndexer
from tests.indexer.history import EMOTION_LABELS, SOURCE_LABELS, History, fake_cid
from tests.indexer.snapshot import row_counts, snapshot

pytestmark = pytest.mark.chain


class CrashAfterWritingRowsBeforeCommit(Exception):
    """A fault injected inside the batch transaction, after its rows are written."""


def _session(url: str) -> Session:
    return Session(make_engine(url))


def test_indexes_the_history(db_url: str, make_indexer: MakeIndexer, history: History) -> None:
    indexer = make_indexer(db_url, batch_size=4)
    result = indexer.run(until_block=history.end_block)
    assert result.start_block == history.deployment.block_number
    assert result.target_block == history.end_block
    assert len(result.batches) > 3

    with _session(db_url) as s:
        sounds = {x.id: x for x in s.scalars(select(Sound))}
        assert set(sounds) == {
            *history.direct_sounds,
            *history.relayed_sounds,
            history.synthetic_sound,
        }
        a1 = sounds[history.direct_sounds[0]]
        assert (a1.contributor_address, a1.kind, a1.contributor_label) == (
            history.contributor_a,
            SoundKind.CAT,
            "kitchen",
        )
        assert a1.status is SoundStatus.REGISTERED and a1.cid == fake_cid("a1")
        # relayed: the contributor is the signer, not the relayer who paid the gas
        for sound_id in history.relayed_sounds:
            assert sounds[sound_id].contributor_address == history.contributor_b
        assert sounds[history.relayed_sounds[1]].kind is SoundKind.INFANT
        synthetic = sounds[history.synthetic_sound]
        assert synthetic.synthetic and synthetic.generator_model_id == history.emotion_model
        assert not a1.synthetic and a1.generator_model_id is None

        models = {m.id: m for m in s.scalars(select(RegisteredModel))}
        assert models[history.source_model].label_names == SOURCE_LABELS
        assert models[history.emotion_model].task == "cat-emotion"

        labels = {(x.sound_id, x.model_id): x for x in s.scalars(select(Label))}
        assert len(labels) == 6
        emotion = labels[(history.relayed_sounds[0], history.emotion_model)]
        assert (emotion.label_index, emotion.label_name, emotion.confidence_bps) == (
            2,
            EMOTION_LABELS[2],
            6_100,
        )
        late = labels[(history.relayed_sounds[1], history.source_model)]
        assert (late.label_name, late.labeller) == ("infant", history.contributor_a)

        nfts = {n.token_id: n for n in s.scalars(select(Nft))}
        assert set(nfts) == {1, 2}
        # token 1: minted to alice, then transferred to bob
        assert (nfts[1].minted_to, nfts[1].owner) == (history.contributor_a, history.contributor_b)
        assert nfts[1].voucher_id == "0" and nfts[1].source_sound_id == history.synthetic_sound
        # token 2: redeemed from a voucher (id past 64 bits), then its URI replaced
        assert nfts[2].voucher_id == str(2**200 + 12345)
        assert nfts[2].token_uri == "ipfs://" + fake_cid("meta2-v2")

        contributors = set(s.scalars(select(Contributor.address)))
        assert contributors == {history.contributor_a, history.contributor_b}
        names = dict(
            s.execute(select(ChainEventRow.name, func.count()).group_by(ChainEventRow.name)).all()
        )
        assert names["SoundRegistered"] == 5 and names["LabelSet"] == 6
        assert names["RoleGranted"] >= 1 and names["MetadataUpdate"] == 3


def test_running_twice_over_the_same_range_duplicates_nothing(
    db_url: str, make_indexer: MakeIndexer, history: History
) -> None:
    indexer = make_indexer(db_url, batch_size=3)
    indexer.run(until_block=history.end_block)
    first = snapshot(db_url)
    # rewind the checkpoint (rows stay): every event is applied a second time
    with _session(db_url) as s:
        s.execute(
            update(IndexerCheckpoint).values(
                next_block=history.deployment.block_number, last_block_hash=None
            )
        )
        s.commit()
    again = indexer.run(until_block=history.end_block)
    assert again.events == sum(row_counts(first).values()) - sum(
        n for t, n in row_counts(first).items() if t != "chain_events"
    )
    assert snapshot(db_url) == first


def test_rebuild_equals_incremental(
    make_db_url: MakeDbUrl, make_indexer: MakeIndexer, history: History
) -> None:
    incremental_url = make_db_url()
    incremental = make_indexer(incremental_url, batch_size=2)
    start = history.deployment.block_number
    # catch up in several runs that stop at arbitrary blocks, as a live indexer would
    for stop_at in (start, start + 5, start + 6, start + 13, history.end_block):
        incremental.run(until_block=stop_at)
    incremental_rows = snapshot(incremental_url)

    fresh_url = make_db_url()
    make_indexer(fresh_url, batch_size=1000).rebuild(until_block=history.end_block)
    assert snapshot(fresh_url) == incremental_rows

    # and a rebuild in place, over the incremental database, gives the same again
    incremental.rebuild(until_block=history.end_block)
    assert snapshot(incremental_url) == incremental_rows
    assert row_counts(incremental_rows)["labels"] == 6


def test_confirmation_depth_is_respected(
    db_url: str, make_indexer: MakeIndexer, history: History, anvil_url: str
) -> None:
    w3 = connect(anvil_url)
    head = w3.eth.block_number
    depth = head - history.end_block + 4  # the history's last 4 blocks are too shallow
    indexer = make_indexer(db_url, batch_size=3, confirmations=depth)
    result = indexer.run()
    assert result.target_block == history.end_block - 4
    with _session(db_url) as s:
        assert s.scalar(select(IndexerCheckpoint.next_block)) == history.end_block - 3
        indexed_to = s.scalar(select(func.max(ChainEventRow.block_number)))
        assert indexed_to is not None and indexed_to <= history.end_block - 4
        # the last label (the history's last block) is not there yet
        assert s.get(Sound, history.relayed_sounds[1]) is not None
        assert s.scalar(select(Label).where(Label.sound_id == history.relayed_sounds[1])) is None
    w3.provider.make_request("anvil_mine", [hex(4)])  # type: ignore[arg-type]
    indexer.run()
    with _session(db_url) as s:
        assert s.scalar(select(Label).where(Label.sound_id == history.relayed_sounds[1]))


def test_upload_row_is_completed_and_hook_fires_once_per_new_recorded_sound(
    db_url: str, make_indexer: MakeIndexer, history: History
) -> None:
    indexer = make_indexer(db_url, batch_size=5)
    uploaded = history.relayed_sounds[0]
    with _session(db_url) as s:  # what the upload wrote: pinned, not yet on-chain
        s.add(Contributor(address=history.contributor_b))
        s.add(
            Sound(
                id=uploaded,
                cid=fake_cid(uploaded),
                kind=SoundKind.CAT,
                contributor_address=history.contributor_b,
                contributor_label="garden",
                pinned_at=datetime.now(UTC),
                size_bytes=123_456,
                duration_s=2.5,
                media_type="audio/wav",
            )
        )
        s.commit()
    seen: list[str] = []
    indexer.on_sound_registered = seen.append
    indexer.run(until_block=history.end_block)
    assert sorted(seen) == sorted([*history.direct_sounds, *history.relayed_sounds])
    with _session(db_url) as s:
        row = s.get(Sound, uploaded)
        assert row is not None and row.status is SoundStatus.REGISTERED
        assert (row.size_bytes, row.duration_s, row.media_type) == (123_456, 2.5, "audio/wav")
        assert row.registered_block is not None
    # a second pass over the same range registers nothing new, so the hook stays quiet
    seen.clear()
    with _session(db_url) as s:
        s.execute(
            update(IndexerCheckpoint).values(
                next_block=history.deployment.block_number, last_block_hash=None
            )
        )
        s.commit()
    indexer.run(until_block=history.end_block)
    assert seen == []
    # a rebuild keeps the upload's own columns and puts the chain's back
    indexer.rebuild(until_block=history.end_block)
    with _session(db_url) as s:
        row = s.get(Sound, uploaded)
        assert row is not None and row.status is SoundStatus.REGISTERED
        assert row.size_bytes == 123_456


def test_crash_inside_the_transaction_loses_and_duplicates_nothing(
    make_db_url: MakeDbUrl, make_indexer: MakeIndexer, history: History
) -> None:
    reference_url = make_db_url()
    make_indexer(reference_url, batch_size=1000).run(until_block=history.end_block)
    reference = snapshot(reference_url)

    url = make_db_url()
    committed: list[BatchResult] = []

    def crash_on_fourth_batch(session: Session, batch: BatchResult) -> None:
        if len(committed) == 3:
            written = session.scalar(select(func.count()).select_from(ChainEventRow))
            assert written and written > 0  # rows are in the open transaction
            raise CrashAfterWritingRowsBeforeCommit(f"blocks {batch.from_block}..")
        committed.append(batch)

    crashing = make_indexer(url, batch_size=3, before_commit=crash_on_fourth_batch)
    with pytest.raises(CrashAfterWritingRowsBeforeCommit):
        crashing.run(until_block=history.end_block)

    # exactly the three committed batches are in the database
    partial_url = make_db_url()
    make_indexer(partial_url, batch_size=1000).run(until_block=committed[-1].to_block)
    assert snapshot(url) == snapshot(partial_url)

    make_indexer(url, batch_size=3).run(until_block=history.end_block)
    assert snapshot(url) == reference


def test_another_deployment_needs_a_rebuild(
    db_url: str, make_indexer: MakeIndexer, history: History, anvil_url: str
) -> None:
    make_indexer(db_url).run(until_block=history.end_block)
    other = deploy_contracts(ChainClient(anvil_url, dev_key(0)))
    engine = make_engine(db_url)
    try:
        indexer = Indexer(
            session_factory(engine), Web3EventSource(connect(anvil_url), other), other
        )
        with pytest.raises(DeploymentMismatchError, match="--rebuild"):
            indexer.run()
        indexer.rebuild()
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Sound)) == 0
            assert s.scalar(select(func.count()).select_from(IndexerCheckpoint)) == 1
    finally:
        engine.dispose()


def test_a_changed_block_under_the_checkpoint_stops_the_indexer(
    db_url: str, make_indexer: MakeIndexer, history: History
) -> None:
    """The stored hash of the last indexed block is checked before every batch."""
    indexer = make_indexer(db_url, batch_size=4)
    indexer.run(until_block=history.end_block - 2)
    before = snapshot(db_url)
    with _session(db_url) as s:
        s.execute(update(IndexerCheckpoint).values(last_block_hash="0x" + "00" * 32))
        s.commit()
    with pytest.raises(ReorgError, match="--rebuild"):
        indexer.run(until_block=history.end_block)
    after = snapshot(db_url)
    assert after["chain_events"] == before["chain_events"]
