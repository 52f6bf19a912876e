"""Compiled contract artifacts (ABI + bytecode) committed under ``contracts/artifacts``.

Read once per process: every client, decoder and test shares the same parsed ABI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from backend.settings import REPO_ROOT

ARTIFACTS_DIR = REPO_ROOT / "contracts" / "artifacts"

CONTRACT_NAMES = ("SoundRegistry", "MeowNFT")


class ArtifactMissing(FileNotFoundError):
    """The compiled artifact is not there: the contracts have not been built."""


@dataclass(frozen=True)
class Artifact:
    """The parts of a compiled contract that the chain client uses."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    """Creation code, ``0x``-prefixed."""
    deployed_bytecode: str
    """Runtime code, ``0x``-prefixed (immutables left as zeros)."""

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The ABI entries of one type: ``"function"``, ``"event"``, ``"error"``."""
        return [item for item in self.abi if item.get("type") == kind]


def _hex(code: object) -> str:
    if isinstance(code, dict):  # forge/solc style {"object": "0x..."}
        code = code.get("object", "")
    text = str(code or "")
    return text if text.startswith("0x") else "0x" + text


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """The artifact ``<directory>/<name>.json`` (keys ``abi``, ``bytecode``, ``deployedBytecode``)."""
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissing(
            f"{path} is missing: build the contracts first (`make contracts`)."
        ) from None
    return Artifact(
        name=name,
        abi=raw["abi"],
        bytecode=_hex(raw.get("bytecode")),
        deployed_bytecode=_hex(raw.get("deployedBytecode")),
    )
