"""``label_sound`` called directly on the real chain, IPFS node and database: the on-chain labels are
what ``ml.registry`` says for the same bytes, once per (sound, model) however often it runs; a
disagreeing source is flagged, a rejected transaction fails the job with the reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from backend.chain.client import connect
from backend.chain.deploy import Deployment
from backend.chain.registry import SoundRegistry
from backend.chain.roles import LABELLER_ROLE
from backend.db.session import session_factory
from backend.indexer import Indexer, Web3EventSource
from backend.pipeline.jobs import get_job
from backend.pipeline.labelling import LabellingContext, LabellingFailed, label_sound
from backend.pipeline.requeue import stalled_sound_ids
from backend.pipeline.sounds import get_sound
from backend.settings import Settings
from miao.samples import meow_wav_bytes
from ml.registry import label_file
from tests.pipeline.conftest import LABELLER_KEY
from tests.pipeline.support import make_labellers, register, sign_registration, signed_in, upload

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]


@pytest.fixture
def client(pipeline_settings: Settings, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(pipeline_settings)


@pytest.fixture
def weights(monkeypatch: pytest.MonkeyPatch, test_weights_dir: Path) -> Path:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(test_weights_dir))
    return test_weights_dir


@pytest.fixture
def ctx(pipeline_settings: Settings) -> LabellingContext:
    return LabellingContext.from_settings(pipeline_settings)


def _index(settings: Settings, deployment: Deployment) -> None:
    Indexer(
        session_factory(settings.db_url),
        Web3EventSource(connect(settings.chain_rpc_url), deployment),
        deployment,
    ).run()


def _registered_sound(
    client: TestClient,
    account: LocalAccount,
    data: bytes,
    settings: Settings,
    deployment: Deployment,
    kind: str = "cat",
) -> tuple[str, str]:
    """Upload, register relayed, index: (sound id, job id) of a sound ready for labelling."""
    auth = signed_in(client, account)
    body = upload(client, auth, data, kind=kind).json()
    reply = register(client, auth, body["sound_id"], sign_registration(account, body["typed_data"]))
    assert reply.status_code == 200, reply.text
    _index(settings, deployment)
    return body["sound_id"], body["job_id"]


def _label_set_logs(ctx: LabellingContext, sound_id: str, model_id: str) -> int:
    return len(ctx.recorder.registry_events("LabelSet", sound_id, model_id))


def test_labels_on_chain_are_what_the_models_say_and_a_rerun_adds_none(
    client: TestClient,
    ctx: LabellingContext,
    weights: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
) -> None:
    data = meow_wav_bytes(seed=201)
    sound_id, job_id = _registered_sound(
        client, alice, data, pipeline_settings, pipeline_deployment[0]
    )

    outcome = label_sound(ctx, sound_id)
    expected = [label_file(data)[0], label_file(data, task="cat-emotion")[0]]
    assert [(w.task, w.label) for w in outcome.labels] == [(p.task, p.label) for p in expected]
    for written, prediction in zip(outcome.labels, expected, strict=True):
        assert written.model_id == "0x" + prediction.model_id and written.written_now
        on_chain = pipeline_registry.label(sound_id, written.model_id)
        assert on_chain is not None
        assert on_chain.label_index == written.label_index
        assert on_chain.confidence_bps == round(prediction.probabilities[prediction.label] * 10_000)
        assert on_chain.labeller == Account.from_key(LABELLER_KEY).address
        assert pipeline_registry.model(written.model_id) is not None

    with session_factory(pipeline_settings.db_url)() as session:
        job = get_job(session, job_id)
        sound = get_sound(session, sound_id)
    assert [e.stage.value for e in job.events] == [
        "received",
        "pinned",
        "registered",
        "labelling",
        "labelled",
    ]
    assert job.events[-1].data["tx_hash"] == outcome.main.tx_hash
    assert job.events[-1].data["label"] == outcome.main.label
    # the database has the labels (from the receipts) before any indexer run
    assert {(lbl.model_id, lbl.tx_hash) for lbl in sound.labels} == {
        (w.model_id, w.tx_hash) for w in outcome.labels
    }

    again = label_sound(ctx, sound_id)  # a redelivered task: the job is done, nothing is sent
    assert [w.tx_hash for w in again.labels] == [w.tx_hash for w in outcome.labels]
    # even with the job's record lost, the chain is checked first: still one label per model
    with session_factory(pipeline_settings.db_url).begin() as session:
        from backend.db.models import Job, JobStage

        session.get(Job, job_id).stage = JobStage.LABELLING  # type: ignore[union-attr]
    rerun = label_sound(ctx, sound_id)
    assert not any(w.written_now for w in rerun.labels)
    assert [w.tx_hash for w in rerun.labels] == [w.tx_hash for w in outcome.labels]
    for written in outcome.labels:
        assert _label_set_logs(ctx, sound_id, written.model_id) == 1


def test_a_cat_the_source_model_hears_as_a_dog_is_labelled_and_flagged(
    client: TestClient,
    ctx: LabellingContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(make_labellers(tmp_path, source_bias="dog")))
    data = meow_wav_bytes(seed=202)
    sound_id, job_id = _registered_sound(
        client, alice, data, pipeline_settings, pipeline_deployment[0]
    )
    outcome = label_sound(ctx, sound_id)
    assert outcome.flagged and outcome.flag_reason == "declared cat, but the source model hears dog"
    assert (outcome.labels[0].task, outcome.labels[0].label) == ("source", "dog")
    assert outcome.main.task == "cat-emotion"  # still labelled as what it was declared
    assert pipeline_registry.label(sound_id, outcome.main.model_id) is not None
    with session_factory(pipeline_settings.db_url)() as session:
        result = get_job(session, job_id).result
    assert result is not None and result["flagged"] is True


def test_without_the_kinds_task_weights_it_is_labelled_by_source_alone(
    client: TestClient,
    ctx: LabellingContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    alice: LocalAccount,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(make_labellers(tmp_path, ("source",))))
    sound_id, _ = _registered_sound(
        client,
        alice,
        meow_wav_bytes(seed=203),
        pipeline_settings,
        pipeline_deployment[0],
        kind="dog",
    )
    outcome = label_sound(ctx, sound_id)
    assert [w.task for w in outcome.labels] == ["source"]
    assert outcome.skipped_tasks == {"dog-bark": "no shipped weights for this task"}


def test_without_a_source_model_the_job_fails_clearly(
    client: TestClient,
    ctx: LabellingContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    alice: LocalAccount,
) -> None:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(tmp_path))
    sound_id, job_id = _registered_sound(
        client, alice, meow_wav_bytes(seed=204), pipeline_settings, pipeline_deployment[0]
    )
    with pytest.raises(LabellingFailed, match="no shipped `source` model"):
        label_sound(ctx, sound_id)
    with session_factory(pipeline_settings.db_url)() as session:
        job = get_job(session, job_id)
    assert job.stage.value == "failed" and "no shipped `source` model" in (job.error or "")


@pytest.fixture
def labeller_without_role(pipeline_registry: SoundRegistry) -> Iterator[None]:
    labeller = Account.from_key(LABELLER_KEY).address
    pipeline_registry.revoke_role(LABELLER_ROLE, labeller)
    yield
    pipeline_registry.grant_role(LABELLER_ROLE, labeller)


def test_a_chain_that_rejects_the_label_fails_the_job_with_the_reason(
    client: TestClient,
    ctx: LabellingContext,
    weights: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    pipeline_registry: SoundRegistry,
    alice: LocalAccount,
    labeller_without_role: None,
) -> None:
    sound_id, job_id = _registered_sound(
        client, alice, meow_wav_bytes(seed=205), pipeline_settings, pipeline_deployment[0]
    )
    with pytest.raises(LabellingFailed, match="AccessControlUnauthorizedAccount"):
        label_sound(ctx, sound_id)
    with session_factory(pipeline_settings.db_url)() as session:
        job = get_job(session, job_id)
    assert job.stage.value == "failed"
    assert job.events[-1].stage.value == "failed"
    assert "the chain rejected the transaction" in job.events[-1].data["reason"]
    assert "AccessControlUnauthorizedAccount" in (job.error or "")


def test_stalled_registered_sounds_are_found_for_requeueing(
    client: TestClient,
    ctx: LabellingContext,
    weights: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    alice: LocalAccount,
) -> None:
    waiting, _ = _registered_sound(
        client, alice, meow_wav_bytes(seed=206), pipeline_settings, pipeline_deployment[0]
    )
    done, _ = _registered_sound(
        client, alice, meow_wav_bytes(seed=207), pipeline_settings, pipeline_deployment[0]
    )
    label_sound(ctx, done)
    sessions = session_factory(pipeline_settings.db_url)
    with sessions() as session:
        stalled = stalled_sound_ids(session, older_than_s=0)
        not_yet = stalled_sound_ids(session, older_than_s=3600)
    assert waiting in stalled and done not in stalled
    assert waiting not in not_yet
