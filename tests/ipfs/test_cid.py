"""CIDs without a node: text forms decode to one value, the hasher streams, bad input is refused.

The agreement with a real node, size by size, is in ``test_cid_matches_node.py``; the vectors here
are CIDs Kubo prints for well-known content, so a layout bug shows up even without a node.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.ipfs.cid import DAG_PB, RAW, Cid, CidError, b58decode, b58encode
from backend.ipfs.unixfs import CHUNK_SIZE, UnixfsHasher, cid_of_bytes, content_matches

# `printf 'hello world\n' | ipfs add [--cid-version=1]` and `ipfs add` of an empty file, per Kubo.
HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
HELLO_V1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
EMPTY_V0 = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
EMPTY_V1 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_known_kubo_cids() -> None:
    assert str(cid_of_bytes(HELLO)) == HELLO_V1
    assert str(cid_of_bytes(HELLO, cid_version=0)) == HELLO_V0
    assert str(cid_of_bytes(b"")) == EMPTY_V1
    assert str(cid_of_bytes(b"", cid_version=0)) == EMPTY_V0


def test_one_cid_in_every_base_decodes_to_one_value() -> None:
    cid = Cid.parse(HELLO_V1)
    forms = [
        HELLO_V1,
        HELLO_V1.upper(),
        "z" + b58encode(cid.to_bytes()),  # how js-ipfs answers
        "f" + cid.to_bytes().hex(),
        f"/ipfs/{HELLO_V1}",
    ]
    assert {Cid.parse(form) for form in forms} == {cid}
    assert (cid.version, cid.codec, cid.hash_code, len(cid.digest)) == (1, RAW, 0x12, 32)


def test_v0_and_its_v1_form_are_different_cids_of_the_same_block() -> None:
    v0 = Cid.parse(HELLO_V0)
    assert (v0.version, v0.codec) == (0, DAG_PB)
    assert v0.to_v1() != v0
    assert v0.to_v1().multihash == v0.multihash
    assert Cid.parse(v0.to_v1().base32()) == v0.to_v1()
    assert Cid.from_bytes(v0.to_bytes()) == v0


@pytest.mark.parametrize(
    "text",
    ["", "Qm123", "bafy!!!", "x" + HELLO_V1[1:], HELLO_V1[:-4], "z0OIl", "f0012zz"],
)
def test_malformed_cids_are_refused(text: str) -> None:
    with pytest.raises(CidError):
        Cid.parse(text)


@given(st.binary(max_size=64))
def test_base58_round_trips(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=25, deadline=None)
@given(
    size=st.sampled_from([0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5]),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
    version=st.sampled_from([0, 1]),
)
def test_streaming_in_any_pieces_equals_one_shot(size: int, cuts: list[int], version: int) -> None:
    data = random.Random(size).randbytes(size)
    hasher = UnixfsHasher(cid_version=version)
    for piece in _pieces(data, cuts):
        hasher.update(piece)
    assert hasher.size == size
    assert hasher.finalize() == cid_of_bytes(data, cid_version=version)


def test_multi_chunk_root_is_dag_pb_and_differs_by_layout() -> None:
    data = random.Random(7).randbytes(CHUNK_SIZE + 1)
    v1, v0 = cid_of_bytes(data), cid_of_bytes(data, cid_version=0)
    assert (v1.version, v1.codec) == (1, DAG_PB)
    assert (v0.version, v0.codec) == (0, DAG_PB)
    assert v0.to_v1() != v1  # raw leaves change the tree, not just the CID's text


def test_content_matches_only_the_exact_bytes() -> None:
    data = random.Random(3).randbytes(2 * CHUNK_SIZE + 10)
    for version in (0, 1):
        cid = cid_of_bytes(data, cid_version=version)
        assert content_matches(cid, data)
        assert not content_matches(cid, data[:-1])
        assert not content_matches(cid, data[:-1] + b"\0")
    assert content_matches(Cid.parse(HELLO_V1), HELLO)
    assert not content_matches(Cid.parse(HELLO_V1), b"hello world!")


def test_v1_root_with_dag_pb_leaves_is_verified_too() -> None:
    data = random.Random(5).randbytes(CHUNK_SIZE + 3)
    hasher = UnixfsHasher(cid_version=1, raw_leaves=False)
    hasher.update(data)
    assert content_matches(hasher.finalize(), data)


def test_hasher_refuses_misuse() -> None:
    hasher = UnixfsHasher()
    hasher.finalize()
    with pytest.raises(RuntimeError):
        hasher.update(b"x")
    with pytest.raises(ValueError):
        UnixfsHasher(cid_version=0, raw_leaves=True)
