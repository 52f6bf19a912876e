"""``miao cid`` prints the CID the running node gives the same file, at every size that matters.

The sizes straddle the 256 KiB chunk boundary and the 174-links-per-node boundary (one tree level
more), for CIDv1 raw leaves (``add --cid-version=1 --raw-leaves``) and CIDv0 (plain ``add``).
CIDs are compared decoded: the node answers in base58btc, ``miao cid`` prints base32.
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from backend.ipfs.cid import Cid
from backend.ipfs.unixfs import CHUNK_SIZE, MAX_LINKS
from miao.cli import app

pytestmark = pytest.mark.ipfs

SIZES = {
    "0B": 0,
    "12B": 12,
    "1000B": 1000,
    "256KiB": CHUNK_SIZE,
    "256KiB+1": CHUNK_SIZE + 1,
    "1MiB": 1 << 20,
    "5MiB": 5 << 20,
    "174chunks": MAX_LINKS * CHUNK_SIZE,
    "174chunks+1": MAX_LINKS * CHUNK_SIZE + 1,
    "175chunks+7": (MAX_LINKS + 1) * CHUNK_SIZE + 7,
}
# What the node is asked for each CID kind: the same options `ipfs add` takes on the command line.
NODE_ADD = {
    "v1": {"cid-version": "1", "raw-leaves": "true", "pin": "false"},
    "v0": {"pin": "false"},
}


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file per size, random bytes (so no two chunks are alike and order matters)."""
    folder = tmp_path_factory.mktemp("cid-sizes")
    files = {}
    for name, size in SIZES.items():
        path = folder / f"{name}.bin"
        path.write_bytes(random.Random(size).randbytes(size))
        files[name] = path
    return files


@pytest.fixture(scope="module")
def printed_cids(sample_files: dict[str, Path]) -> dict[tuple[str, str], str]:
    """What `miao cid` prints, per (size name, kind): the CLI is run once per kind on all files."""
    runner = CliRunner()
    printed = {}
    for kind, flags in (("v1", []), ("v0", ["--v0"])):
        paths = [str(p) for p in sample_files.values()]
        result = runner.invoke(app, ["cid", *flags, *paths])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == len(paths)
        for name, line in zip(sample_files, lines, strict=True):
            cid_text, path = line.split(" ", 1)
            assert path == str(sample_files[name])
            printed[name, kind] = cid_text
    return printed


@pytest.mark.parametrize("kind", ["v1", "v0"])
@pytest.mark.parametrize("name", list(SIZES))
def test_miao_cid_equals_the_nodes_cid(
    name: str,
    kind: str,
    sample_files: dict[str, Path],
    printed_cids: dict[tuple[str, str], str],
    ipfs_api_url: str,
) -> None:
    path = sample_files[name]
    with path.open("rb") as file, httpx.Client(timeout=120) as http:
        resp = http.post(
            f"{ipfs_api_url}/api/v0/add", params=NODE_ADD[kind], files={"file": (path.name, file)}
        )
    resp.raise_for_status()
    node_cid = Cid.parse(resp.json()["Hash"])
    ours = Cid.parse(printed_cids[name, kind])
    assert ours == node_cid, f"{name} {kind}: miao cid {ours!r}, node {node_cid!r}"
    assert ours.version == (1 if kind == "v1" else 0)
    if kind == "v1":
        assert printed_cids[name, kind].startswith("b")  # base32, as the command promises


def test_miao_cid_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    present = tmp_path / "present.bin"
    present.write_bytes(b"meow")
    result = CliRunner().invoke(app, ["cid", str(present), str(tmp_path / "absent.wav")])
    assert result.exit_code == 2
    assert "absent.wav: no such file" in result.stderr
    assert result.stdout == ""  # nothing half-printed
