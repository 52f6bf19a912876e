"""Resumable training state: one ``checkpoint.pt`` per run, replaced atomically.

A stopped run (killed, out of time) resumes from its last checkpoint with the same optimiser
state, step count and data RNG, so CPU minutes already spent are never lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


class TrainLog:
    """Appends one JSON line per report to ``history.jsonl`` and prints it (for the log file)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "history.jsonl"
        run_dir.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()

    def write(self, **values: Any) -> None:
        row = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in values.items()}
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


def restore_rng(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng
