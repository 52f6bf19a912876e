"""The client's own guarantees: nonces under concurrency, receipts, failures, an absent node."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_account import Account

from backend.chain import client as client_module
from backend.chain.client import ChainClient, TxResult
from backend.chain.dev_accounts import dev_key
from backend.chain.errors import (
    ChainUnavailable,
    NonceStoreUnavailable,
    SoundAlreadyRegistered,
    TransactionTimeout,
)
from backend.chain.registry import Kind, SoundRegistry
from backend.chain.values import hex0x
from miao.stack import free_port, start_anvil

pytestmark = pytest.mark.chain

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_twenty_concurrent_transactions_land_with_distinct_nonces(
    registry: SoundRegistry, admin_client: ChainClient
) -> None:
    """20 threads send from one account at the same instant; every one is mined."""
    sender = admin_client.with_key(dev_key(6))
    as_sender = registry.as_signer(sender)
    digests = [os.urandom(32) for _ in range(20)]
    first_nonce = admin_client.w3.eth.get_transaction_count(sender.address, "pending")
    start = threading.Barrier(len(digests))

    def register(digest: bytes) -> TxResult:
        start.wait()
        return as_sender.register_sound(digest, Kind.CAT, CID)

    with ThreadPoolExecutor(len(digests)) as pool:
        results = list(pool.map(register, digests))

    nonces = sorted(admin_client.w3.eth.get_transaction(r.tx_hash)["nonce"] for r in results)
    assert nonces == list(range(first_nonce, first_nonce + 20))
    assert len({r.tx_hash for r in results}) == 20
    for digest in digests:
        sound = registry.sound(digest)
        assert sound is not None and sound.contributor == sender.address


def test_nonce_resyncs_after_the_account_is_used_elsewhere(admin_client: ChainClient) -> None:
    """Another process spends the next nonce; the client's send fails once, re-reads, lands."""
    client = admin_client.with_key(dev_key(7))
    client.transfer(admin_client.address, 1)  # the client's counter is now primed
    w3 = client.w3
    outside = Account.sign_transaction(
        {
            "to": admin_client.address,
            "value": 1,
            "gas": 21_000,
            "nonce": w3.eth.get_transaction_count(client.address, "pending"),
            "chainId": client.chain_id,
            **client.fees(),
        },
        dev_key(7),
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(outside.raw_transaction))

    result = client.transfer(admin_client.address, 2)

    assert (
        w3.eth.get_transaction(result.tx_hash)["nonce"]
        == w3.eth.get_transaction(outside.hash)["nonce"] + 1
    )


def test_failed_receipt_is_resimulated_to_name_the_error(
    registry: SoundRegistry, user_client: ChainClient, new_digest: bytes
) -> None:
    """A transaction sent without estimation (fixed gas) is mined, fails, and is explained."""
    as_user = registry.as_signer(user_client)
    as_user.register_sound(new_digest, Kind.CAT, CID)
    duplicate = registry.contract.functions.registerSound(new_digest, int(Kind.CAT), CID, "")

    with pytest.raises(SoundAlreadyRegistered) as exc:
        user_client.transact(duplicate, gas=200_000)

    assert exc.value.named_args == {"soundId": hex0x(new_digest)}
    assert exc.value.tx_hash is not None
    assert user_client.w3.eth.get_transaction_receipt(exc.value.tx_hash)["status"] == 0


@pytest.fixture
def unmined_anvil(tmp_path: Path) -> Iterator[str]:
    """A throw-away anvil that stops mining: transactions stay pending."""
    port = free_port()
    proc = start_anvil("127.0.0.1", port, tmp_path)
    url = f"http://127.0.0.1:{port}"
    ChainClient(url, dev_key(0)).w3.provider.make_request("evm_setAutomine", [False])
    yield url
    proc.stop()


def test_receipt_timeout(unmined_anvil: str) -> None:
    client = ChainClient(unmined_anvil, dev_key(0), receipt_timeout_s=0.5)

    with pytest.raises(TransactionTimeout) as exc:
        client.transfer(dev_key_address(1), 10)

    assert exc.value.timeout_s == 0.5
    client.w3.provider.make_request("evm_mine", [])
    mined = client.wait_for_receipt(exc.value.tx_hash)  # it was sent; mined later, found later
    assert mined.tx_hash == exc.value.tx_hash


def dev_key_address(index: int) -> str:
    return Account.from_key(dev_key(index)).address


def test_unreachable_node_raises_chain_unavailable_fast() -> None:
    client = ChainClient(f"http://127.0.0.1:{free_port()}", dev_key(0))
    began = time.monotonic()
    with pytest.raises(ChainUnavailable):
        client.block_number()
    with pytest.raises(ChainUnavailable):
        client.transfer(dev_key_address(1), 1)
    assert time.monotonic() - began < 10  # a hang guard (no long retry/backoff), not a benchmark


def _send_transfers(
    rpc_url: str,
    key: str,
    to: str,
    count: int,
    start: object,
    machine_dir: str | None = None,
    nonce_store: str | None = None,
) -> list[str]:
    """One worker process: its own client (its own in-process nonce counter), ``count`` sends.

    ``machine_dir``: the process's temp folder, where file nonce counters live; a folder of its
    own stands for another machine, whose files this one cannot see.
    """
    if machine_dir is not None:
        import tempfile

        os.environ["TMPDIR"] = machine_dir
        tempfile.tempdir = None  # re-read TMPDIR
    client = ChainClient(rpc_url, key, nonce_store=nonce_store)
    start.wait()  # type: ignore[attr-defined]
    return [client.transfer(to, 1).tx_hash for _ in range(count)]


def test_processes_sharing_a_signer_do_not_clash(admin_client: ChainClient) -> None:
    """Celery prefork workers are processes sending from one key: their sends are serialised
    across processes on the machine, so none is refused for a nonce another one took."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    sender = admin_client.with_key(dev_key(9))
    first = admin_client.w3.eth.get_transaction_count(sender.address, "pending")
    start = context.Manager().Barrier(3)
    with context.Pool(3) as pool:
        jobs = [
            pool.apply_async(
                _send_transfers, (admin_client.rpc_url, dev_key(9), admin_client.address, 12, start)
            )
            for _ in range(3)
        ]
        hashes = [h for job in jobs for h in job.get(timeout=120)]
    nonces = sorted(admin_client.w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(first, first + 36))


def _funded(admin_client: ChainClient, index: int) -> ChainClient:
    """Dev account ``index`` (beyond anvil's ten funded ones: no other test sends from it), funded."""
    client = admin_client.with_key(dev_key(index))
    admin_client.transfer(client.address, 10**18)
    return client


def test_machines_sharing_a_signer_through_redis_do_not_clash(
    admin_client: ChainClient, redis_url: str, tmp_path: Path
) -> None:
    """The API and worker containers, or several worker hosts, send from one key: with the
    counter in Redis their sends are serialised although no file lock is shared. (Each process
    here has its own temp folder, as a machine would; with ``nonce_store=None`` the same run is
    refused "nonce too low" within a few sends.)"""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    sender = _funded(admin_client, 20)
    first = admin_client.w3.eth.get_transaction_count(sender.address, "pending")
    start = context.Manager().Barrier(3)
    machines = [tmp_path / f"machine-{i}" for i in range(3)]
    for folder in machines:
        folder.mkdir()
    with context.Pool(3) as pool:
        jobs = [
            pool.apply_async(
                _send_transfers,
                (admin_client.rpc_url, dev_key(20), admin_client.address, 12, start),
                {"machine_dir": str(folder), "nonce_store": redis_url},
            )
            for folder in machines
        ]
        hashes = [h for job in jobs for h in job.get(timeout=120)]
    nonces = sorted(admin_client.w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(first, first + 36))
    assert [path for folder in machines for path in folder.iterdir()] == []  # no counter file


def test_a_held_redis_nonce_lock_times_out_before_anything_is_sent(
    admin_client: ChainClient, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender that died holding the lock blocks the key until the lock expires; a send meanwhile
    fails as ``NonceStoreUnavailable`` (a ``ChainUnavailable``: retry later) and sends nothing."""
    import redis

    client = ChainClient(_funded(admin_client, 21).rpc_url, dev_key(21), nonce_store=redis_url)
    counter = client._nonces
    assert isinstance(counter, client_module._RedisNonceCounter)
    monkeypatch.setattr(client_module._RedisNonceCounter, "LOCK_TTL_S", 0.5)
    before = admin_client.w3.eth.get_transaction_count(client.address, "pending")
    other = redis.Redis.from_url(redis_url).lock(f"{counter.key}:lock", timeout=30)
    assert other.acquire(blocking=False)
    try:
        with pytest.raises(NonceStoreUnavailable):
            client.transfer(admin_client.address, 1)
    finally:
        other.release()
    assert admin_client.w3.eth.get_transaction_count(client.address, "pending") == before
    client.transfer(admin_client.address, 1)  # the lock is free again: sends go through
    assert admin_client.w3.eth.get_transaction_count(client.address, "pending") == before + 1


def test_an_unreachable_nonce_store_is_a_chain_unavailable_error(admin_client: ChainClient) -> None:
    with pytest.raises(NonceStoreUnavailable) as exc:
        ChainClient(
            admin_client.rpc_url, dev_key(5), nonce_store=f"redis://127.0.0.1:{free_port()}/0"
        )
    assert isinstance(exc.value, ChainUnavailable)


def test_settings_choose_where_nonces_are_kept(admin_client: ChainClient, redis_url: str) -> None:
    from pydantic import ValidationError

    from backend.settings import Settings

    base = {"chain_rpc_url": admin_client.rpc_url, "redis_url": redis_url}
    machine = ChainClient.from_settings(Settings(**base), dev_key(23))
    shared = ChainClient.from_settings(Settings(**base, nonce_store="redis"), dev_key(23))
    assert isinstance(machine._nonces, client_module._FileNonceCounter)
    assert isinstance(shared._nonces, client_module._RedisNonceCounter)
    assert isinstance(shared.with_key(dev_key(24))._nonces, client_module._RedisNonceCounter)
    with pytest.raises(ValidationError):
        Settings(**base, nonce_store="cluster")


def test_a_send_that_went_out_is_not_reported_failed_when_the_counter_cannot_advance(
    admin_client: ChainClient, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis failing between the node's acceptance and the counter's advance cannot be timed for
    real, so a named fake (``advance_fails``) stands in for it. The send is reported as sent
    (an error would make the caller send it twice) and the next send recovers the nonce."""
    client = ChainClient(_funded(admin_client, 25).rpc_url, dev_key(25), nonce_store=redis_url)
    before = admin_client.w3.eth.get_transaction_count(client.address, "pending")

    def advance_fails(used: int, tx_hash: str) -> None:
        raise NonceStoreUnavailable("fake: Redis went away after the send")

    with monkeypatch.context() as patch:
        patch.setattr(client._nonces, "advance", advance_fails)
        first = client.transfer(admin_client.address, 1)
    second = client.transfer(admin_client.address, 1)  # stale counter: the node's count wins
    nonces = [admin_client.w3.eth.get_transaction(r.tx_hash)["nonce"] for r in (first, second)]
    assert nonces == [before, before + 1]


def test_a_chain_restarted_on_the_same_url_is_followed(tmp_path: Path) -> None:
    """A long-lived process outlives its node: the fresh chain starts every account at nonce 0.
    Sending with the old counter's nonce would only queue the transaction behind a gap (no
    receipt, and a mint that could land much later); the client sees the node does not know its
    last send and takes the node's count."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    node = start_anvil("127.0.0.1", port, tmp_path / "first")
    try:
        client = ChainClient(url, dev_key(0), receipt_timeout_s=5)
        for _ in range(3):
            client.transfer(dev_key_address(1), 1)
    finally:
        node.stop()
    node = start_anvil("127.0.0.1", port, tmp_path / "second")
    try:
        result = client.transfer(dev_key_address(1), 1)
        assert client.w3.eth.get_transaction(result.tx_hash)["nonce"] == 0
        assert client.transfer(dev_key_address(1), 1).receipt["status"] == 1
    finally:
        node.stop()


def test_a_node_behind_its_own_pool_does_not_rewind_the_counter(
    admin_client: ChainClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a load balancer one backend may count fewer pending sends than another that took
    them. One anvil cannot lag behind itself, so a named fake (``lagging_count``) answers one
    less than the truth; the client knows its last send is known and keeps its own counter."""
    client = _funded(admin_client, 26)
    client.transfer(admin_client.address, 1)
    w3 = client.w3
    true_count = w3.eth.get_transaction_count

    def lagging_count(address: str, block: str = "latest") -> int:
        return true_count(address, block) - 1  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(w3.eth, "get_transaction_count", lagging_count)
        result = client.transfer(admin_client.address, 1)
    assert w3.eth.get_transaction(result.tx_hash)["nonce"] == true_count(client.address) - 1
