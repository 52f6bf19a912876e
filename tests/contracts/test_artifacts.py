"""The committed contract artifacts must match a fresh solc-js compile of contracts/src.

A stale artifact means the Python client would deploy and call bytecode that the Foundry suite
never tested; the fix is `python -m backend.chain.build` and committing contracts/artifacts/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.chain import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is required to compile the contracts; run scripts/setup.sh")
    out = tmp_path_factory.mktemp("artifacts")
    build.write_artifacts(out)
    return out


@pytest.mark.parametrize("name", sorted(build.CONTRACTS))
def test_committed_artifact_matches_a_fresh_compile(fresh_dir: Path, name: str) -> None:
    committed_path = build.ARTIFACTS_DIR / f"{name}.json"
    assert committed_path.exists(), (
        f"{committed_path} is missing: run python -m backend.chain.build"
    )
    committed = json.loads(committed_path.read_text())
    fresh = json.loads((fresh_dir / f"{name}.json").read_text())
    hint = f"{name} artifact is stale: run `python -m backend.chain.build` and commit it"
    assert committed["abi"] == fresh["abi"], hint
    assert committed["bytecode"] == fresh["bytecode"], hint
    assert committed["deployedBytecode"] == fresh["deployedBytecode"], hint
    assert committed["sourceHash"] == fresh["sourceHash"], hint
    assert committed["compiler"] == fresh["compiler"], hint


def test_stale_artifact_is_detected(tmp_path: Path, fresh_dir: Path) -> None:
    """The check itself can fail: a changed ABI in the output directory is reported."""
    for path in fresh_dir.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    tampered = json.loads((tmp_path / "MeowNFT.json").read_text())
    tampered["abi"] = tampered["abi"][1:]
    (tmp_path / "MeowNFT.json").write_text(build.render(tampered))
    fresh = {path.stem: json.loads(path.read_text()) for path in sorted(fresh_dir.glob("*.json"))}
    assert build.stale_artifacts(tmp_path, fresh) == ["MeowNFT"]
    (tmp_path / "MeowNFT.json").unlink()
    assert build.stale_artifacts(tmp_path, fresh) == ["MeowNFT"]
    shutil.copy(fresh_dir / "MeowNFT.json", tmp_path / "MeowNFT.json")
    assert build.stale_artifacts(tmp_path, fresh) == []


def test_artifact_shape(fresh_dir: Path) -> None:
    artifact = json.loads((fresh_dir / "SoundRegistry.json").read_text())
    assert set(artifact) == {
        "contractName",
        "abi",
        "bytecode",
        "deployedBytecode",
        "compiler",
        "sourceHash",
    }
    assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 1000
    bytes.fromhex(artifact["bytecode"][2:])  # valid hex, no unlinked library placeholders
    functions = {item["name"] for item in artifact["abi"] if item["type"] == "function"}
    assert {"registerSound", "registerSoundFor", "setLabel", "registerModel"} <= functions
