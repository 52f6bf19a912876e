"""Compute a file's CID locally, exactly as ``ipfs add`` builds it, without a node.

Kubo's defaults: fixed 256 KiB chunks, a balanced DAG of dag-pb nodes with at most 174 links each,
UnixFS ``File`` data in every node, sha2-256. ``add --cid-version=1 --raw-leaves`` stores chunks as
raw blocks; plain ``add`` (CIDv0) wraps each chunk in a dag-pb UnixFS leaf. Knowing the CID before
talking to the node is what makes retries idempotent and every read verifiable.

The DAG is built incrementally (``UnixfsHasher.update``), so a file of any size is hashed in constant
memory; each chunk is hashed once, in place, so throughput is close to plain sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.ipfs.cid import DAG_PB, RAW, SHA2_256, Cid, encode_varint

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
_UNIXFS_FILE = 2
_READ_SIZE = 4 * CHUNK_SIZE


@dataclass(frozen=True, slots=True)
class _Child:
    """A node as its parent sees it: link target, Tsize (bytes of the subtree), file bytes."""

    cid: Cid
    tsize: int
    filesize: int


def _field(tag: int, payload: bytes) -> bytes:
    """A protobuf length-delimited field: ``tag`` is the pre-shifted key byte."""
    return bytes((tag,)) + encode_varint(len(payload)) + payload


def _interior_block(children: list[_Child]) -> bytes:
    """A dag-pb node (links, then UnixFS data) over ``children``, as go/js-unixfs encode it."""
    filesize = sum(c.filesize for c in children)
    unixfs = bytearray(b"\x08\x02\x18" + encode_varint(filesize))  # Type=File, filesize
    for child in children:
        unixfs += b"\x20" + encode_varint(child.filesize)  # blocksizes (repeated, not packed)
    parts = [
        # PBLink: Hash, Name = "" (always written by both implementations), Tsize
        _field(
            0x12, _field(0x0A, child.cid.to_bytes()) + b"\x12\x00\x18" + encode_varint(child.tsize)
        )
        for child in children
    ]
    parts.append(_field(0x0A, bytes(unixfs)))
    return b"".join(parts)


class UnixfsHasher:
    """Feed a file's bytes with ``update``; ``finalize`` returns the CID ``ipfs add`` would print.

    ``cid_version=1`` uses raw leaves (like ``--cid-version=1``, which implies ``--raw-leaves``);
    ``cid_version=0`` uses dag-pb UnixFS leaves (plain ``add``).
    """

    def __init__(self, *, cid_version: int = 1, raw_leaves: bool | None = None) -> None:
        if cid_version not in (0, 1):
            raise ValueError("cid_version must be 0 or 1")
        self.cid_version = cid_version
        self.raw_leaves = (cid_version == 1) if raw_leaves is None else raw_leaves
        if self.raw_leaves and cid_version == 0:
            raise ValueError("raw leaves need CIDv1")
        self._pending = bytearray()
        # _levels[0] holds leaves, _levels[k] nodes of depth k; a level is closed into a parent
        # only when one more entry arrives for it, which reproduces Kubo's balanced layout.
        self._levels: list[list[_Child]] = [[]]
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._done:
            raise RuntimeError("update() after finalize()")
        view = memoryview(data).cast("B")
        self._size += len(view)
        if self._pending:
            take = min(CHUNK_SIZE - len(self._pending), len(view))
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) < CHUNK_SIZE:
                return
            self._leaf(memoryview(self._pending))
            self._pending = bytearray()
        end = len(view) - len(view) % CHUNK_SIZE
        for start in range(0, end, CHUNK_SIZE):
            self._leaf(view[start : start + CHUNK_SIZE])
        self._pending += view[end:]

    def finalize(self) -> Cid:
        """The root CID. The hasher cannot be fed after this."""
        if self._done:
            raise RuntimeError("finalize() called twice")
        self._done = True
        if self._pending or self._size == 0:
            self._leaf(memoryview(self._pending))
            self._pending = bytearray()
        depth = 0
        while depth < len(self._levels) - 1:
            if self._levels[depth]:
                self._push(depth + 1, self._close(depth))
            depth += 1
        top = self._levels[-1]
        return top[0].cid if len(top) == 1 else self._close(len(self._levels) - 1).cid

    def _leaf(self, chunk: memoryview) -> None:
        size = len(chunk)
        if self.raw_leaves:
            cid = Cid.from_digest(hashlib.sha256(chunk).digest(), codec=RAW)
            self._push(0, _Child(cid, size, size))
            return
        # dag-pb node with only Data = UnixFS{Type: File, Data: chunk, filesize}; hashed in place.
        # An empty file's leaf has no Data field at all (as Kubo and js-ipfs write it).
        data_field = b"\x12" + encode_varint(size) if size else b""
        unixfs_len = 2 + len(data_field) + size + 1 + len(encode_varint(size))
        head = b"\x0a" + encode_varint(unixfs_len) + b"\x08\x02" + data_field
        tail = b"\x18" + encode_varint(size)
        digest = hashlib.sha256(head)
        digest.update(chunk)
        digest.update(tail)
        cid = Cid.from_digest(digest.digest(), codec=DAG_PB, version=self.cid_version)
        self._push(0, _Child(cid, len(head) + size + len(tail), size))

    def _push(self, depth: int, child: _Child) -> None:
        if depth == len(self._levels):
            self._levels.append([])
        if len(self._levels[depth]) == MAX_LINKS:
            self._push(depth + 1, self._close(depth))
        self._levels[depth].append(child)

    def _close(self, depth: int) -> _Child:
        children, self._levels[depth] = self._levels[depth], []
        block = _interior_block(children)
        cid = Cid.from_digest(
            hashlib.sha256(block).digest(), codec=DAG_PB, version=self.cid_version
        )
        return _Child(
            cid, len(block) + sum(c.tsize for c in children), sum(c.filesize for c in children)
        )


def cid_of_bytes(data: bytes | bytearray | memoryview, *, cid_version: int = 1) -> Cid:
    """The CID ``ipfs add`` gives ``data`` (CIDv1 raw leaves, or CIDv0)."""
    hasher = UnixfsHasher(cid_version=cid_version)
    hasher.update(data)
    return hasher.finalize()


def cid_of_file(
    path: Path | str,
    *,
    cid_version: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> Cid:
    """The CID ``ipfs add FILE`` gives, read in constant memory; ``on_progress(bytes_read)``."""
    hasher = UnixfsHasher(cid_version=cid_version)
    buffer = bytearray(_READ_SIZE)
    view = memoryview(buffer)
    with open(path, "rb") as file:
        while count := file.readinto(buffer):
            hasher.update(view[:count])
            if on_progress is not None:
                on_progress(count)
    return hasher.finalize()


class ContentVerifier:
    """Hash bytes as they stream in; ``matches`` says whether they are the file ``cid`` names.

    A raw CID is one block; a CIDv0 has dag-pb leaves; a CIDv1 dag-pb root is checked both with raw
    leaves (what this project adds) and with dag-pb leaves (``add --cid-version=1 --raw-leaves=false``).
    """

    def __init__(self, cid: Cid) -> None:
        self.cid = cid
        self.size = 0
        self._raw = hashlib.sha256() if cid.codec == RAW else None
        self._trees: list[UnixfsHasher] = []
        if cid.codec == DAG_PB:
            layouts = [False] if cid.version == 0 else [True, False]
            self._trees = [UnixfsHasher(cid_version=cid.version, raw_leaves=r) for r in layouts]

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if self._raw is not None:
            self._raw.update(data)
        for tree in self._trees:
            tree.update(data)

    def matches(self) -> bool:
        if self._raw is not None:
            return self.cid.hash_code == SHA2_256 and self._raw.digest() == self.cid.digest
        return any(tree.finalize() == self.cid for tree in self._trees)


def content_matches(cid: Cid, data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` is exactly the file ``cid`` names."""
    verifier = ContentVerifier(cid)
    verifier.update(data)
    return verifier.matches()
