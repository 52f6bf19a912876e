"""An async client for the Kubo RPC API that trusts nothing it cannot check.

- Every add is addressed locally first: the node's CID must equal the local one (decoded), and a
  retry finds the content already pinned and uploads nothing.
- Every read is verified: the bytes must rebuild the CID asked for, else ``IpfsIntegrityError``.
- Every call has a deadline twice over: the node's own ``timeout`` argument (so a missing CID comes
  back as ``IpfsNotFound`` instead of hanging, as ``cat`` otherwise does) and httpx's timeouts a
  little longer (so a node that hangs or is down raises ``IpfsUnavailable``/``IpfsTimeout``).

It speaks the RPC subset that Kubo and the js-ipfs daemon of the local stack share.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Self

import httpx

from backend.ipfs.cid import Cid, CidError
from backend.ipfs.errors import (
    IpfsError,
    IpfsIntegrityError,
    IpfsNotFound,
    IpfsTimeout,
    IpfsUnavailable,
)
from backend.ipfs.unixfs import CHUNK_SIZE, ContentVerifier, cid_of_bytes, cid_of_file
from backend.settings import Settings

# The layout cid_of_bytes reproduces; passed explicitly so a node's own defaults cannot change it.
ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
    "pin": "true",
}
# Payloads above this are hashed in a worker thread (about 4 ms of sha256 at ~1 GB/s).
_HASH_INLINE_MAX = 4 << 20
# How much longer the client waits than the node's own deadline, so the node's answer wins.
_CLIENT_GRACE_S = 2.0
# Node error texts that mean "this content is not (reachable) here".
_NOT_FOUND_HINTS = (
    "timed out",
    "deadline exceeded",
    "not found",
    "could not resolve",
    "no link named",
    "is not pinned",
    "not pinned",
)


@dataclass(frozen=True, slots=True)
class IpfsStat:
    """What the node reports about a file: its CID, file bytes and bytes of all its blocks."""

    cid: Cid
    size: int
    cumulative_size: int
    type: str


class IpfsClient:
    """One connection pool to one node; use as ``async with IpfsClient(url) as ipfs: ...``."""

    def __init__(
        self,
        api_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            base_url=f"{self.api_url}/api/v0/",
            timeout=httpx.Timeout(timeout_s + _CLIENT_GRACE_S, connect=timeout_s),
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> IpfsClient:
        """A client for ``settings.ipfs_api_url`` with ``settings.ipfs_timeout_s``."""
        return cls(settings.ipfs_api_url, timeout_s=settings.ipfs_timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- node ---------------------------------------------------------------------------------

    async def version(self) -> str:
        """The node's version string; doubles as a liveness check."""
        return str((await self._call_json("version"))["Version"])

    # -- writing ------------------------------------------------------------------------------

    async def add(self, data: bytes) -> Cid:
        """Pin ``data`` and return its CIDv1; nothing is uploaded when it is already pinned."""
        if len(data) > _HASH_INLINE_MAX:  # keep the event loop free while hashing big payloads
            local = await asyncio.to_thread(cid_of_bytes, data)
        else:
            local = cid_of_bytes(data)
        if await self.is_pinned(local):
            return local
        return await self._add(("file", ("blob", data, "application/octet-stream")), local)

    async def add_file(self, path: Path | str) -> Cid:
        """Pin the file at ``path`` (streamed, not read into memory); idempotent like ``add``."""
        local = await asyncio.to_thread(cid_of_file, path)
        if await self.is_pinned(local):
            return local
        with open(path, "rb") as file:
            return await self._add(
                ("file", (Path(path).name, file, "application/octet-stream")), local
            )

    async def pin(self, cid: Cid) -> None:
        """Pin content the node already has (or can find within the timeout)."""
        body = await self._call_json("pin/add", {"arg": str(cid)})
        if not any(_same(p, cid) for p in body.get("Pins", [])):
            raise IpfsIntegrityError(f"pin/add of {cid} answered {body.get('Pins')!r}")

    async def unpin(self, cid: Cid) -> bool:
        """Remove the recursive pin; False when it was not pinned (so retries are harmless)."""
        try:
            await self._call_json("pin/rm", {"arg": str(cid)})
        except IpfsNotFound:
            return False
        return True

    async def is_pinned(self, cid: Cid) -> bool:
        """True when ``cid`` is pinned recursively (the way ``add`` pins)."""
        try:
            body = await self._call_json("pin/ls", {"arg": str(cid), "type": "recursive"})
        except IpfsNotFound:
            return False
        return any(_same(key, cid) for key in body.get("Keys", {}))

    # -- reading ------------------------------------------------------------------------------

    async def cat(self, cid: Cid, *, max_bytes: int | None = None) -> bytes:
        """The file ``cid`` names, verified against it; ``IpfsNotFound`` if the node lacks it."""
        out = bytearray()
        async for chunk in self._verified_stream(cid, max_bytes=max_bytes):
            out += chunk
        return bytes(out)

    async def cat_to_path(self, cid: Cid, dest: Path | str) -> Path:
        """Stream the file to ``dest``; it appears there only once verified (no partial file)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as tmp:
                async for chunk in self._verified_stream(cid):
                    tmp.write(chunk)
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return dest

    async def stat(self, cid: Cid) -> IpfsStat:
        """Sizes of the file ``cid`` names, from the node (``files/stat`` on ``/ipfs/<cid>``)."""
        body = await self._call_json("files/stat", {"arg": f"/ipfs/{cid}"})
        if not _same(body.get("Hash", ""), cid):
            raise IpfsIntegrityError(f"files/stat of {cid} answered for {body.get('Hash')!r}")
        return IpfsStat(cid, int(body["Size"]), int(body["CumulativeSize"]), str(body["Type"]))

    # -- plumbing -----------------------------------------------------------------------------

    async def _add(
        self, file_field: tuple[str, tuple[str, bytes | BinaryIO, str]], local: Cid
    ) -> Cid:
        # No node-side timeout here: an add takes as long as its upload, and httpx still bounds
        # every connect, write and read.
        async with self._request("add", ADD_PARAMS, files=[file_field], node_timeout=False) as resp:
            lines = [line async for line in resp.aiter_lines() if line.strip()]
        try:
            answered = Cid.parse(json.loads(lines[-1])["Hash"])
        except (IndexError, KeyError, ValueError, CidError) as exc:
            raise IpfsError(f"unexpected add answer {lines[-1:]!r}: {exc}") from None
        if answered != local:
            await self.unpin(answered)  # leave no pin on content we did not mean to store
            raise IpfsIntegrityError(f"node stored {answered!r}, locally computed {local!r}")
        return local

    async def _verified_stream(
        self, cid: Cid, *, max_bytes: int | None = None
    ) -> AsyncIterator[bytes]:
        verifier = ContentVerifier(cid)
        async with self._request("cat", {"arg": str(cid)}) as resp:
            async for chunk in resp.aiter_bytes():
                verifier.update(chunk)
                if max_bytes is not None and verifier.size > max_bytes:
                    raise IpfsError(f"{cid} is larger than the {max_bytes} bytes allowed")
                yield chunk
        if not verifier.matches():
            raise IpfsIntegrityError(f"the {verifier.size} bytes read for {cid} do not hash to it")

    async def _call_json(self, command: str, params: dict[str, str] | None = None) -> Any:
        async with self._request(command, params or {}) as resp:
            body = await resp.aread()
        try:
            return json.loads(body)
        except ValueError:
            raise IpfsError(f"{command}: the node answered non-JSON {body[:200]!r}") from None

    @asynccontextmanager
    async def _request(
        self,
        command: str,
        params: dict[str, str],
        *,
        files: list[Any] | None = None,
        node_timeout: bool = True,
    ) -> AsyncIterator[httpx.Response]:
        """POST one RPC command and yield the streaming response, errors mapped to our types."""
        if node_timeout:
            params = {**params, "timeout": f"{int(self.timeout_s * 1000)}ms"}
        try:
            async with self._http.stream("POST", command, params=params, files=files) as resp:
                if resp.status_code >= 400:
                    raise _node_error(command, resp.status_code, await resp.aread())
                yield resp
        except httpx.TimeoutException as exc:
            raise IpfsTimeout(
                f"{command}: no answer from the IPFS node at {self.api_url} "
                f"within {self.timeout_s + _CLIENT_GRACE_S:g}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise IpfsUnavailable(
                f"{command}: cannot reach the IPFS node at {self.api_url}: {exc or type(exc).__name__}"
            ) from None


def _same(text: str, cid: Cid) -> bool:
    try:
        return Cid.parse(text) == cid
    except CidError:
        return False


def _node_error(command: str, status: int, body: bytes) -> IpfsError:
    try:
        message = str(json.loads(body).get("Message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode(errors="replace")
    text = f"{command}: the node answered {status}: {message}"
    if status == 500 and any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
        return IpfsNotFound(text)
    return IpfsError(text)
