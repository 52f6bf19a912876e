"""Compile the contracts with solc-js and write the committed artifacts under contracts/artifacts/.

The artifacts (ABI + bytecode) are committed so the Python side needs no compiler at run time;
``--check`` (and tests/contracts/test_artifacts.py) catch artifacts that no longer match the
sources. Output is deterministic: same sources, same compiler, same bytes.

    python -m backend.chain.build            # compile and write contracts/artifacts/*.json
    python -m backend.chain.build --check    # exit 1 if the committed artifacts are stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
SOLC_SHIM = CONTRACTS_DIR / "scripts" / "solc-shim.js"

# The contracts that get an artifact, by source file under contracts/src/.
CONTRACTS: dict[str, str] = {
    "SoundRegistry": "src/SoundRegistry.sol",
    "MeowNFT": "src/MeowNFT.sol",
}

# Kept in step with contracts/foundry.toml so forge's gas figures match the deployed bytecode.
COMPILER_SETTINGS: dict[str, Any] = {
    "evmVersion": "prague",
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 10_000},
    "metadata": {"bytecodeHash": "ipfs"},
}


class CompileError(RuntimeError):
    """solc reported errors, or could not be run."""


def _standard_json_input() -> dict[str, Any]:
    sources = {
        f"contracts/{rel}": {"content": (CONTRACTS_DIR / rel).read_text(encoding="utf-8")}
        for rel in CONTRACTS.values()
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            **COMPILER_SETTINGS,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def _run_solc(standard_input: dict[str, Any]) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            ["node", str(SOLC_SHIM), "--standard-json", "--base-path", str(REPO_ROOT)],
            input=json.dumps(standard_input),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CompileError("node is not installed; run scripts/setup.sh") from exc
    if proc.returncode != 0:
        raise CompileError(f"solc-js failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    return output


def _source_hash(standard_input: dict[str, Any], output: dict[str, Any]) -> str:
    """sha256 over every source unit the compile read (our files and the OpenZeppelin imports)."""
    digests = {}
    for name in sorted(output.get("sources", {})):
        if name in standard_input["sources"]:
            content = standard_input["sources"][name]["content"]
        else:  # resolved by solc-shim.js: from the repository root, else node_modules
            path = REPO_ROOT / name
            if not path.exists():
                path = REPO_ROOT / "node_modules" / name
            content = path.read_text(encoding="utf-8")
        digests[name] = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode("utf-8")).hexdigest()


def _solc_version() -> str:
    proc = subprocess.run(
        ["node", str(SOLC_SHIM), "--version"], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip().splitlines()[-1].removeprefix("Version: ")


def compile_artifacts() -> dict[str, dict[str, Any]]:
    """Compile every contract in ``CONTRACTS`` and return its artifact, by contract name."""
    standard_input = _standard_json_input()
    output = _run_solc(standard_input)
    source_hash = _source_hash(standard_input, output)
    version = _solc_version()
    artifacts = {}
    for name, rel in CONTRACTS.items():
        compiled = output["contracts"][f"contracts/{rel}"][name]
        artifacts[name] = {
            "contractName": name,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            "compiler": {"version": version, "settings": COMPILER_SETTINGS},
            "sourceHash": source_hash,
        }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The exact text written for an artifact (stable key order, trailing newline)."""
    return json.dumps(artifact, indent=2, sort_keys=False) + "\n"


def write_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Compile and write ``<name>.json`` for each contract into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in compile_artifacts().items():
        path = out_dir / f"{name}.json"
        path.write_text(render(artifact), encoding="utf-8")
        written.append(path)
    return written


def stale_artifacts(
    out_dir: Path = ARTIFACTS_DIR, fresh: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Names of contracts whose artifact in ``out_dir`` differs from ``fresh`` (by default a new
    compile), or is missing."""
    stale = []
    for name, artifact in (fresh if fresh is not None else compile_artifacts()).items():
        path = out_dir / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(artifact):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.chain.build",
        description="Compile the contracts with solc-js into contracts/artifacts/*.json.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed artifacts differ from a fresh compile",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_artifacts()
            if stale:
                print(
                    f"stale contract artifacts: {', '.join(stale)} differ from a fresh compile "
                    "of contracts/src; run `python -m backend.chain.build` and commit "
                    "contracts/artifacts/",
                    file=sys.stderr,
                )
                return 1
            print(f"contract artifacts are up to date ({', '.join(CONTRACTS)})")
            return 0
        for path in write_artifacts():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    except CompileError as exc:
        print(f"compile failed:\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
