"""``miao dataset pull`` against the real stack: the API's export over HTTP (uvicorn), the files
from the real IPFS node. Every file verified (CID and digest), a manifest ``ml.data`` reads and a
task dataset takes, a second pull fetches nothing, a damaged file is fetched again, and a sound
whose bytes do not match its digest fails the pull with a non-zero exit and the list."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.api.app import create_app
from backend.chain.client import connect
from backend.chain.deploy import Deployment
from backend.db.models import Sound
from backend.db.session import session_factory
from backend.indexer import Indexer, Web3EventSource
from backend.ipfs.client import IpfsClient
from backend.ipfs.unixfs import cid_of_bytes
from backend.pipeline.labelling import LabellingContext, label_sound
from backend.settings import Settings
from miao.dataset_pull import MANIFEST_COLUMNS, pull_dataset, read_export
from miao.samples import meow_wav_bytes
from miao.stack import free_port, port_is_open
from ml.data import build_task_dataset, clips_from_csv
from ml.registry import label_file
from ml.tasks import get_task
from tests.pipeline.support import register, sign_registration, signed_in, upload

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]


@pytest.fixture(scope="module")
def module_weights(test_weights_dir: Path) -> Iterator[Path]:
    previous = os.environ.get("MIAO_WEIGHTS_DIR")
    os.environ["MIAO_WEIGHTS_DIR"] = str(test_weights_dir)
    yield test_weights_dir
    if previous is None:
        os.environ.pop("MIAO_WEIGHTS_DIR", None)
    else:
        os.environ["MIAO_WEIGHTS_DIR"] = previous


@pytest.fixture(scope="module")
def api_url(pipeline_settings: Settings) -> Iterator[str]:
    """The real app served over HTTP by uvicorn (in a thread of this process)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pipeline_settings), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = 100
    while not port_is_open("127.0.0.1", port) and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def labelled(
    module_weights: Path,
    pipeline_settings: Settings,
    pipeline_deployment: tuple[Deployment, Path],
    make_module_client: Callable[[], TestClient],
) -> dict[str, bytes]:
    """Three sounds on-chain with their labels: two cats of one contributor, a dog of another."""
    from eth_account import Account

    from backend.chain.dev_accounts import dev_key

    client = make_module_client()
    ctx = LabellingContext.from_settings(pipeline_settings)
    uploads = [(dev_key(4), "cat", 501), (dev_key(4), "cat", 502), (dev_key(5), "dog", 503)]
    sounds: dict[str, bytes] = {}
    for key, kind, seed in uploads:
        account: LocalAccount = Account.from_key(key)
        data = meow_wav_bytes(seconds=1.0, seed=seed)
        auth = signed_in(client, account)
        body = upload(client, auth, data, kind=kind).json()
        done = register(
            client, auth, body["sound_id"], sign_registration(account, body["typed_data"])
        )
        assert done.status_code == 200, done.text
        sounds[body["sound_id"]] = data
    Indexer(
        session_factory(pipeline_settings.db_url),
        Web3EventSource(connect(pipeline_settings.chain_rpc_url), pipeline_deployment[0]),
        pipeline_deployment[0],
    ).run()
    for sound_id in sounds:
        label_sound(ctx, sound_id)
    return sounds


@pytest.fixture(scope="module")
def make_module_client(pipeline_settings: Settings) -> Iterator[Callable[[], TestClient]]:
    opened: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(create_app(pipeline_settings)).__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _pull_cli(
    api_url: str, ipfs_url: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "miao", "dataset", "pull", "--api-url", api_url),
            *("--ipfs-url", ipfs_url, "--out", str(out), *extra),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_pull_writes_verified_audio_and_an_ml_manifest(
    labelled: dict[str, bytes], api_url: str, ipfs_api_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "pulled"
    run = _pull_cli(api_url, ipfs_api_url, out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 verified (3 fetched, 0 already there)" in run.stderr

    rows = _rows(out)
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    by_sound: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_sound.setdefault(row["digest"], []).append(row)
    assert set(by_sound) == set(labelled)
    for digest, data in labelled.items():
        (path,) = {row["path"] for row in by_sound[digest]}
        assert (out / path).read_bytes() == data
        assert path == f"audio/{digest[2:]}.wav"
        expected = label_file(data)  # what the models said, hence what is on-chain
        tasks = {row["task"]: row for row in by_sound[digest]}
        source = tasks["source"]
        kind = source["kind"]
        assert source["label"] == {"cat": "cat", "dog": "dog"}[kind]
        assert source["label_origin"] == "contributor"
        assert source["model_label"] == expected[0].label
        follow = {"cat": "cat-emotion", "dog": "dog-bark"}[kind]
        assert tasks[follow]["label"] == label_file(data, task=follow)[0].label
        assert tasks[follow]["label_origin"] == "model"
        assert tasks[follow]["tx_hash"].startswith("0x")
        assert source["cid"] == str(cid_of_bytes(data))
        assert float(source["duration_s"]) == pytest.approx(1.0, abs=1e-3)
        assert source["sample_rate"] == "16000"
    groups = {row["digest"]: row["group"] for row in rows}
    assert len(set(groups.values())) == 2  # one group per contributor

    # what `miao train --extra-manifest` does with it: ml.data reads it, a task keeps its rows
    clips = clips_from_csv(out / "manifest.csv")
    assert all(clip.path.is_file() for clip in clips)
    crowd_only = dataclasses.replace(get_task("cat-emotion"), sources=())
    cat_emotion = build_task_dataset(crowd_only, extra=clips)
    assert len(cat_emotion) == 2 and all(c.dataset == "miao" for c in cat_emotion)
    source_task = build_task_dataset(
        dataclasses.replace(get_task("source"), sources=()), extra=clips
    )
    assert sorted(c.label for c in source_task) == ["cat", "cat", "dog"]


def test_a_second_pull_resumes_and_a_damaged_file_is_fetched_again(
    labelled: dict[str, bytes], api_url: str, ipfs_api_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "pulled"
    assert _pull_cli(api_url, ipfs_api_url, out).returncode == 0
    digest = sorted(labelled)[0]
    damaged = out / "audio" / f"{digest[2:]}.wav"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    run = _pull_cli(api_url, ipfs_api_url, out)
    assert run.returncode == 0, run.stderr
    assert "3 verified (1 fetched, 2 already there)" in run.stderr
    assert damaged.read_bytes() == labelled[digest]


def test_bytes_that_do_not_match_the_digest_fail_the_pull(
    labelled: dict[str, bytes],
    api_url: str,
    ipfs_api_url: str,
    pipeline_settings: Settings,
    tmp_path: Path,
) -> None:
    """A database whose CID for a sound names other content (pinned, so the node serves it)."""
    victim = sorted(labelled)[1]
    other = meow_wav_bytes(seconds=1.0, seed=599)

    async def pin() -> str:
        async with IpfsClient.from_settings(pipeline_settings) as ipfs:
            return str(await ipfs.add(other))

    wrong_cid = asyncio.run(pin())
    sessions = session_factory(pipeline_settings.db_url)
    with sessions.begin() as session:
        right_cid = session.get(Sound, victim).cid  # type: ignore[union-attr]
        session.execute(update(Sound).where(Sound.id == victim).values(cid=wrong_cid))
    try:
        out = tmp_path / "pulled"
        run = _pull_cli(api_url, ipfs_api_url, out)
    finally:
        with sessions.begin() as session:
            session.execute(update(Sound).where(Sound.id == victim).values(cid=right_cid))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed" in run.stderr and victim in run.stderr and "integrity" in run.stderr
    assert {row["digest"] for row in _rows(out)} == set(labelled) - {victim}
    assert not list((out / "audio").glob(f"{victim[2:]}.*"))


class FakeNodeReturningWrongBytes(httpx.AsyncBaseTransport):
    """An IPFS node that answers every ``cat`` with other bytes (a real node cannot be made to)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"RIFF" + bytes(2000))


def test_a_node_serving_wrong_bytes_is_an_integrity_failure(
    labelled: dict[str, bytes], api_url: str, tmp_path: Path
) -> None:
    with httpx.Client(base_url=api_url) as http:
        records = read_export(http)

    async def pull() -> Any:
        async with IpfsClient("http://fake-node", transport=FakeNodeReturningWrongBytes()) as ipfs:
            return await pull_dataset(records, ipfs, tmp_path)

    result = asyncio.run(pull())
    assert not result.sounds and len(result.failures) == len(labelled)
    assert all(f.reason.startswith("integrity:") for f in result.failures)
    assert _rows(tmp_path) == []
    assert not [p for p in (tmp_path / "audio").iterdir()]


def test_no_api_exits_2(ipfs_api_url: str, tmp_path: Path) -> None:
    run = _pull_cli(f"http://127.0.0.1:{free_port()}", ipfs_api_url, tmp_path)
    assert run.returncode == 2 and "no answer from the API" in run.stderr
    assert not (tmp_path / "manifest.csv").exists()


def test_the_export_filters_are_passed_on(labelled: dict[str, bytes], api_url: str) -> None:
    with httpx.Client(base_url=api_url) as http:
        records = read_export(http, {"kind": "dog"})
    dog = list(labelled)[2]
    assert [r["digest"] for r in records] == [dog]
