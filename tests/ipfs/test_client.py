"""The IPFS client against the session's real node, plus the faults a real node cannot produce.

Real: add/pin/cat/stat round trips, idempotent retries (requests counted on the wire), a missing
CID, a closed port and a node that accepts but never answers. Fake, and named so: a node that
returns wrong bytes, and one that stores content under a different CID.
"""

from __future__ import annotations

import asyncio
import pickle
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from backend.ipfs.cid import Cid
from backend.ipfs.client import IpfsClient
from backend.ipfs.errors import (
    IpfsError,
    IpfsIntegrityError,
    IpfsNotFound,
    IpfsTimeout,
    IpfsUnavailable,
)
from backend.ipfs.unixfs import cid_of_bytes
from miao.stack import free_port

T = TypeVar("T")


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    return asyncio.run(main())


def clip(seed: int, size: int = 600_000) -> bytes:
    """Random bytes: a fresh seed is content the node has never seen."""
    return random.Random(seed).randbytes(size)


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport, counting RPC commands as they go out on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.commands[request.url.path.removeprefix("/api/v0/")] += 1
        return await super().handle_async_request(request)


# -- real node ----------------------------------------------------------------------------------

needs_node = pytest.mark.ipfs


@needs_node
def test_add_pin_cat_stat_unpin_round_trip(ipfs_api_url: str) -> None:
    data = clip(101)

    async def scenario() -> None:
        async with IpfsClient(ipfs_api_url, timeout_s=5) as ipfs:
            assert (await ipfs.version()).strip()
            cid = await ipfs.add(data)
            assert cid == cid_of_bytes(data)
            assert (cid.version, cid.codec_name) == (1, "dag-pb")  # 600 kB: three raw leaves
            assert await ipfs.is_pinned(cid)
            assert await ipfs.cat(cid) == data
            stat = await ipfs.stat(cid)
            assert (stat.cid, stat.size, stat.type) == (cid, len(data), "file")
            assert stat.cumulative_size > len(data)
            assert await ipfs.unpin(cid) is True
            assert not await ipfs.is_pinned(cid)
            assert await ipfs.unpin(cid) is False  # unpinning twice is harmless
            await ipfs.pin(cid)  # blocks are still local
            assert await ipfs.is_pinned(cid)

    run(scenario)


@needs_node
def test_small_clip_is_one_raw_block(ipfs_api_url: str) -> None:
    data = clip(102, 1000)

    async def scenario() -> None:
        async with IpfsClient(ipfs_api_url, timeout_s=5) as ipfs:
            cid = await ipfs.add(data)
            assert cid.codec_name == "raw"
            assert await ipfs.cat(cid) == data

    run(scenario)


@needs_node
def test_add_file_and_cat_to_path(ipfs_api_url: str, tmp_path: Path) -> None:
    source = tmp_path / "meow.wav"
    source.write_bytes(clip(103, 1 << 20))
    dest = tmp_path / "out" / "copy.wav"

    async def scenario() -> Cid:
        async with IpfsClient(ipfs_api_url, timeout_s=5) as ipfs:
            cid = await ipfs.add_file(source)
            await ipfs.cat_to_path(cid, dest)
            return cid

    cid = run(scenario)
    assert cid == cid_of_bytes(source.read_bytes())
    assert dest.read_bytes() == source.read_bytes()
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left behind


@needs_node
def test_adding_twice_uploads_once_and_pins_once(ipfs_api_url: str) -> None:
    data = clip(104)
    wire = CountingTransport()

    async def scenario() -> tuple[Cid, Cid]:
        async with IpfsClient(ipfs_api_url, timeout_s=5, transport=wire) as ipfs:
            return await ipfs.add(data), await ipfs.add(data)

    first, second = run(scenario)
    assert first == second
    assert wire.commands["add"] == 1
    assert wire.commands["pin/ls"] == 2  # each add asked first
    pins = httpx.post(f"{ipfs_api_url}/api/v0/pin/ls", params={"type": "recursive"}).json()
    assert sum(Cid.parse(key) == first for key in pins["Keys"]) == 1


@needs_node
def test_retry_after_a_lost_answer_uploads_nothing(ipfs_api_url: str) -> None:
    """The first attempt reached the node, but its answer was lost: the retry finds the pin."""
    data = clip(105)
    lost = httpx.post(
        f"{ipfs_api_url}/api/v0/add",
        params={"cid-version": "1", "raw-leaves": "true", "pin": "true"},
        files={"file": ("blob", data)},
    )
    assert lost.status_code == 200
    wire = CountingTransport()

    async def retry() -> Cid:
        async with IpfsClient(ipfs_api_url, timeout_s=5, transport=wire) as ipfs:
            return await ipfs.add(data)

    assert run(retry) == cid_of_bytes(data)
    assert wire.commands["add"] == 0
    assert wire.commands["pin/ls"] == 1


@needs_node
def test_missing_cid_is_not_found_within_the_timeout(ipfs_api_url: str) -> None:
    missing = cid_of_bytes(clip(106, 5000))  # never added anywhere
    timeout_s = 1.0

    async def attempt(call: str) -> None:
        async with IpfsClient(ipfs_api_url, timeout_s=timeout_s) as ipfs:
            await getattr(ipfs, call)(missing)

    for call in ("cat", "stat", "pin"):
        started = time.monotonic()
        with pytest.raises(IpfsNotFound):
            run(lambda call=call: attempt(call))
        assert time.monotonic() - started < timeout_s + 1.5, call
    assert not run(lambda: _is_pinned(ipfs_api_url, missing))


async def _is_pinned(url: str, cid: Cid) -> bool:
    async with IpfsClient(url, timeout_s=1.0) as ipfs:
        return await ipfs.is_pinned(cid)


# -- a node that is down or hung (real faults) ---------------------------------------------------


def test_closed_port_is_unavailable_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    async def attempt() -> None:
        async with IpfsClient(url, timeout_s=5) as ipfs:
            await ipfs.add(b"meow")

    started = time.monotonic()
    with pytest.raises(IpfsUnavailable, match="cannot reach the IPFS node"):
        run(attempt)
    assert time.monotonic() - started < 5


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real TCP server that accepts connections and never answers: a hung node."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_hung_node_times_out_instead_of_hanging(silent_server: str) -> None:
    timeout_s = 0.5

    async def attempt() -> None:
        async with IpfsClient(silent_server, timeout_s=timeout_s) as ipfs:
            await ipfs.cat(cid_of_bytes(b"meow"))

    started = time.monotonic()
    with pytest.raises(IpfsTimeout, match="no answer"):
        run(attempt)
    elapsed = time.monotonic() - started
    assert timeout_s < elapsed < timeout_s + 4


# -- faults a real node cannot produce (fakes, named so) ------------------------------------------


class FakeNodeReturningWrongBytes(httpx.MockTransport):
    """Answers every ``cat`` with the bytes it was given, whatever was asked."""

    def __init__(self, answer: bytes) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/api/v0/cat"
            return httpx.Response(200, content=answer)

        super().__init__(handler)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d[:-1] + bytes([d[-1] ^ 1]),  # one bit flipped
        lambda d: d[:-1],  # truncated
        lambda d: d + b"\0",  # one byte extra
        lambda d: b"",  # nothing
    ],
    ids=["bit-flip", "truncated", "extra-byte", "empty"],
)
@pytest.mark.parametrize("size", [1000, 600_000], ids=["raw-block", "dag-pb-tree"])
def test_wrong_bytes_raise_integrity_error(
    tamper: Callable[[bytes], bytes], size: int, tmp_path: Path
) -> None:
    data = clip(107, size)
    cid = cid_of_bytes(data)
    fake = FakeNodeReturningWrongBytes(tamper(data))

    async def read() -> None:
        async with IpfsClient("http://fake-node", transport=fake) as ipfs:
            await ipfs.cat(cid)

    async def read_to_file() -> None:
        async with IpfsClient("http://fake-node", transport=fake) as ipfs:
            await ipfs.cat_to_path(cid, tmp_path / "clip.wav")

    with pytest.raises(IpfsIntegrityError, match="do not hash to it"):
        run(read)
    with pytest.raises(IpfsIntegrityError):
        run(read_to_file)
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_right_bytes_from_the_fake_pass(tmp_path: Path) -> None:
    """The check above fails for the tampering, not for the fake: untampered bytes pass."""
    data = clip(108, 600_000)

    async def read() -> bytes:
        async with IpfsClient("http://fake-node", transport=FakeNodeReturningWrongBytes(data)) as x:
            return await x.cat(cid_of_bytes(data))

    assert run(read) == data


def test_node_storing_under_another_cid_is_an_integrity_error() -> None:
    """FakeNodeStoringUnderAnotherCid: add answers a CID that is not the content's."""
    other = cid_of_bytes(b"not the clip")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        command = request.url.path.removeprefix("/api/v0/")
        seen.append(command)
        if command == "pin/ls":
            return httpx.Response(500, json={"Message": "path is not pinned", "Code": 0})
        if command == "add":
            return httpx.Response(200, json={"Name": "blob", "Hash": str(other), "Size": 9})
        if command == "pin/rm":
            assert request.url.params["arg"] == str(other)
            return httpx.Response(200, json={"Pins": [str(other)]})
        return httpx.Response(404)

    async def add() -> None:
        async with IpfsClient("http://fake-node", transport=httpx.MockTransport(handler)) as ipfs:
            await ipfs.add(b"the clip")

    with pytest.raises(IpfsIntegrityError, match="node stored"):
        run(add)
    assert seen == ["pin/ls", "add", "pin/rm"]  # the stray pin was removed


def test_errors_pickle_for_celery() -> None:
    for error in (IpfsError, IpfsUnavailable, IpfsTimeout, IpfsNotFound, IpfsIntegrityError):
        restored = pickle.loads(pickle.dumps(error("message")))
        assert type(restored) is error and str(restored) == "message"
    assert issubclass(IpfsTimeout, IpfsUnavailable)
